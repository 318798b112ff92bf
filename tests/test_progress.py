"""The --problem all progress line: counts, and an estimate scaled by this run's pace."""

import json

from problems.progress import Progress, recorded_seconds


def test_recorded_seconds_reads_result_files_and_skips_unreadable(tmp_path):
    (tmp_path / "2C").mkdir()
    (tmp_path / "2C" / "result.json").write_text(json.dumps({"wall_seconds": 40.0}))
    (tmp_path / "2D").mkdir()
    (tmp_path / "2D" / "result.json").write_text("{truncated")
    assert recorded_seconds(tmp_path, ["2C", "2D", "2E"]) == {"2C": 40.0}


def test_estimate_follows_recorded_times_scaled_by_pace():
    progress = Progress(["a", "b", "c"], {"a": 10.0, "b": 20.0, "c": 30.0})
    assert progress.estimate_left(["a", "b", "c"]) == 60.0  # nothing done yet: the recorded times
    progress.finish("a", 20.0)  # this machine runs at half the recorded speed
    assert progress.estimate_left(["b", "c"]) == 100.0
    line = progress.line(1)
    assert line.startswith("[2/3] b |") and "2 to go, about 1:40 left" in line


def test_unrecorded_problem_counts_at_the_mean_and_no_record_gives_no_estimate():
    assert Progress(["a", "new"], {"a": 10.0}).estimate_left(["a", "new"]) == 20.0
    assert Progress(["a"], {}).estimate_left(["a"]) is None
    assert "left" not in Progress(["a"], {}).line(0)


def test_estimate_with_two_jobs_lays_the_rest_onto_the_first_free_slot():
    progress = Progress(["long", "a", "b", "c"], {"long": 100.0, "a": 30.0, "b": 30.0, "c": 30.0}, jobs=2)
    # Nothing run yet: "long" on one slot, a + b + c = 90 on the other; the schedule ends at 100.
    assert progress.estimate_left(["long", "a", "b", "c"]) == 100.0
    # 40 s into "long" with "a" done on time: long needs 60 more, b and c 60 on the other slot.
    progress.finish("a", 30.0)
    assert progress.estimate_left(["b", "c"], running={"long": 40.0}) == 60.0
    # Without a second job the same work runs one after the other.
    assert Progress(["long", "a"], {"long": 100.0, "a": 30.0}).estimate_left(["long", "a"]) == 130.0
    line = progress.line(2, running={"long": 40.0})
    assert line.startswith("[3/4] b |") and "2 to go, 1 running, about 1:00 left" in line
