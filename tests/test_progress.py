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
