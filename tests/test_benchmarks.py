"""benchmarks/speed.py: FLOP counting, a real (tiny) race against the write-up model, and its tables."""

import json
from pathlib import Path

from benchmarks import speed


def test_forward_flops_counts_dense_and_conv_layers():
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    assert speed.forward_flops(model) == 2 * (3 * 3 * 1 * 4 * 8 * 8) + 2 * (8 * 8 * 4 * 10)


def test_race_on_a_slice_times_epochs_and_reports_ratios_to_the_writeup(mnist, tmp_path):
    from data_prep.mnist import one_hot, to_float

    (x, y), (xt, yt) = mnist
    train = (to_float(x[:1500])[..., None], one_hot(y[:1500]))
    test = (to_float(xt[:500])[..., None], one_hot(yt[:500]))
    ours = "ours (3D), project pipeline"
    rows = speed.run_race(train, test, seed=1, max_epochs=2, names=[speed.WRITEUP, ours])
    assert [r["model"] for r in rows] == [speed.WRITEUP, ours]
    for row in rows:
        assert 1 <= row["epochs_run"] <= 2 and row["seconds_per_epoch"] > 0
        assert [c["epoch"] for c in row["curve"]] == list(range(1, row["epochs_run"] + 1))
    # Far above chance (0.1) even on 1,500 images. (Ours is not checked: after 94 steps its
    # BatchNormalization's moving statistics, momentum 0.99, are still mostly their initial values.)
    assert rows[0]["final_test_accuracy"] > 0.5
    writeup = rows[0]
    for t in speed.THRESHOLDS:  # the reference's own ratio is 1 wherever it reached the threshold
        key = f"seconds_to_{t:.3f}"
        assert writeup[f"ratio_to_writeup_{t:.3f}"] == (1.0 if writeup[key] else None)
    text = speed.render({"date": "d", "seed": 1, "cpus": 2, "versions": {}, "race": rows})
    assert f"| {speed.WRITEUP} |" in text and "ratio_to_writeup_0.985" in text
    speed.plot({"race": rows, "levers": []}, tmp_path / "speed.png")
    assert (tmp_path / "speed.png").stat().st_size > 1000


def test_cnn_part_times_and_trains_both_layouts(mnist):
    from data_prep.mnist import one_hot, to_float

    (x, y), _ = mnist
    train = (to_float(x[:640])[..., None], one_hot(y[:640]))
    val = (to_float(x[640:840])[..., None], one_hot(y[640:840]))
    rows = speed.run_cnn_layouts(train, val, seed=1, steps=4, epochs=1, rounds=1)
    assert [r["layout"] for r in rows] == list(speed.CNN_LAYOUTS) == ["pool", "stride"]
    assert rows[0]["speed_up"] == 1.0 and all(r["ms_per_step"] > 0 and r["train_seconds"] > 0 for r in rows)
    assert all(r["params"] == 422_314 and 0 < r["val_accuracy"] <= 1 for r in rows)
    assert "| stride | 422314 |" in speed.render({"date": "d", "seed": 1, "cpus": 2, "versions": {}, "cnn": rows})


def test_conv_dropout_part_compares_both_variants_on_each_seed(mnist):
    from data_prep.mnist import one_hot, to_float

    (x, y), _ = mnist
    x, y = to_float(x[:700])[..., None], one_hot(y[:700])
    rows = speed.run_conv_dropout(x, y, seeds=(1, 2), steps=4, epochs=1, rounds=1)
    assert [(r["variant"], r["seed"]) for r in rows] == [
        (v, s) for s in (1, 2) for v in ("conv dropout (before)", "no conv dropout (now)")
    ]
    assert all(r["params"] == 422_314 and 0 < r["best_ms_per_step"] <= r["ms_per_step"] for r in rows)
    assert all(0 < r["val_accuracy"] <= 1 and r["train_seconds"] > 0 for r in rows)
    text = speed.render({"date": "d", "seed": 1, "cpus": 2, "versions": {}, "conv_dropout": rows})
    assert "| no conv dropout (now) | 2 | 422314 |" in text


def test_render_names_the_parts_kept_from_an_earlier_run():
    result = {"date": "new", "seed": 1, "cpus": 2, "versions": {}, "part_dates": {"cnn": "new", "levers": "old"}}
    assert "Parts kept from earlier runs (possibly another machine): levers old." in speed.render(result)
    result["part_dates"]["levers"] = "new"
    assert "Parts kept" not in speed.render(result)


def test_backends_part_measures_a_model_in_a_child_process_and_renders_its_table(data_dir):
    from benchmarks import backends

    found = backends._child("jax", 1, ["--model", "2C", "--steps", "4", "--rounds", "1"], str(data_dir))
    assert found["ms_per_step"] > 0 and found["best_ms_per_step"] <= found["ms_per_step"]
    row = {"model": "2C", "threads": 1, "tensorflow_ms": 2.0, "jax_ms": 1.0, "jax_over_tensorflow": 0.5}
    race = {"seconds_to_goal": 30.0, "epochs": 2, "curve": []}
    text = speed.render(
        {
            "date": "d",
            "seed": 1,
            "cpus": 2,
            "versions": {},
            "backends": {"steps": [row], "passes": 3, "steps_per_pass": 256, "race": {"jax": race}},
            "problem_all": {
                "2018": {
                    "date": "d",
                    "runs": [{"backend": "tensorflow", "wall_seconds": 600, "exit_status": 0, "goals_missed": 0}],
                    "default_backend": "jax",
                    "default_median_seconds": 500,
                    "default_largest_deviation": 0.05,
                    "ratio_to_tensorflow": 0.83,
                    "seeds_3_ratio_to_tensorflow": 1.4,
                }
            },
        }
    )
    assert "| 2C | 1 | 2.0 |" in text and "3D to 0.985 test accuracy on jax, one thread: 30.0 s" in text
    assert "ratio to TensorFlow 0.83" in text and "With --seeds 3: ratio to TensorFlow 1.4." in text


def test_problem_all_records_each_run_its_ratios_and_the_commit(monkeypatch, tmp_path):
    import subprocess
    from types import SimpleNamespace

    from benchmarks import backends

    walls = iter([10.0, 6.0, 5.0, 7.0, 12.0])  # TensorFlow, three default runs, then --seeds 3
    clock = {"now": 0.0}

    real_run = subprocess.run

    def fake_main(cmd, **kwargs):  # writes what main.py --problem all leaves in its --out folder
        if "--out" not in cmd:
            return real_run(cmd, **kwargs)  # git, for the commit
        out = Path(cmd[cmd.index("--out") + 1]) / "2018"
        (out / "run_all.json").write_text(json.dumps({"problems": [{"id": "2C", "wall_seconds": 1.0}]}))
        accuracy = 0.98 if "tensorflow" in cmd else 0.99  # under 2C's goal on TensorFlow
        metrics = {"test_accuracy": accuracy, "goal_test_accuracy": 0.982, "reached_goal": accuracy >= 0.982}
        (out / "2C").mkdir(exist_ok=True)
        (out / "2C" / "result.json").write_text(json.dumps({"metrics": metrics}))
        (out / "summary.md").write_text("| 2C | yes |\n| 2D | **no** |\n" if "3" in cmd else "| 2C | yes |\n")
        clock["now"] += next(walls)
        return SimpleNamespace(returncode=0)

    monkeypatch.setattr(subprocess, "run", fake_main)
    monkeypatch.setattr(backends.time, "perf_counter", lambda: clock["now"])
    found = backends.run_problem_all("2018", 3, None, tmp_path, keep=None, seeds=3)
    assert [(r["backend"], r["seeds"], r["wall_seconds"]) for r in found["runs"]] == [
        ("tensorflow", 1, 10.0),
        (backends.DEFAULT_BACKEND, 1, 6.0),
        (backends.DEFAULT_BACKEND, 1, 5.0),
        (backends.DEFAULT_BACKEND, 1, 7.0),
        (backends.DEFAULT_BACKEND, 3, 12.0),
    ]
    assert found["default_median_seconds"] == 6.0 and found["default_largest_deviation"] == round(1 / 6, 3)
    assert found["ratio_to_tensorflow"] == 0.6 and found["seeds_3_ratio_to_tensorflow"] == 1.2
    assert [r["targets_missed"] for r in found["runs"]] == [0, 0, 0, 0, 1]
    assert [r["goals_missed"] for r in found["runs"]] == [1, 0, 0, 0, 0]
    # (the other scored problems' reports are the committed ones, copied in to order the jobs)
    assert found["runs"][0]["scored"][0] == {"id": "2C", "test_accuracy": 0.98, "goal": 0.982, "reached_goal": False}
    assert found["git_commit"] and found["versions"]["keras"] and found["cpus"] >= 1 and "AVX-512" in found["cpu"]
    assert json.loads((tmp_path / "problem_all.json").read_text())["2018"] == found
    text = speed.render({"date": "d", "seed": 1, "cpus": 2, "versions": {}, "problem_all": {"2018": found}})
    assert f"commit {found['git_commit'][:7]}" in text and "| tensorflow | 1 | 10.0 | 0 | 0 | 1 | 2C 0.98, 2D" in text

    # --repeats 0: TensorFlow's one seed against the --seeds run alone, no median
    walls = iter([10.0, 13.0])
    alone = backends.run_problem_all("2018", 0, None, tmp_path, keep=None, seeds=3)
    assert [r["seeds"] for r in alone["runs"]] == [1, 3] and alone["seeds_3_ratio_to_tensorflow"] == 1.3
    assert "default_median_seconds" not in alone
    text = speed.render({"date": "d", "seed": 1, "cpus": 2, "versions": {}, "problem_all": {"2018": alone}})
    assert "With --seeds 3: ratio to TensorFlow 1.3." in text and "median" not in text


def test_cnn_layouts_leave_untimed_only_layouts_at_least_as_costly_as_one_over_the_cap():
    from benchmarks.cnn_layouts import dominated_by, layouts

    over = {"filters": 32, "dense_units": 64, "downsample": "stride", "conv_dropout": True}
    for costlier in ({"filters": 48}, {"dense_units": 128}, {"filters": 64, "dense_units": 256}):
        assert dominated_by({**over, **costlier}, [over]) == over
    for cheaper_or_other in ({"conv_dropout": False}, {"filters": 16, "dense_units": 256}, {"downsample": "pool"}):
        assert dominated_by({**over, **cheaper_or_other}, [over]) is None
    # Timed cheapest first: no layout is ruled out by one that comes after it.
    order = layouts()
    assert len(order) == 48 and order[0] == {
        "filters": 16,
        "dense_units": 64,
        "downsample": "stride",
        "conv_dropout": False,
    }
    assert all(dominated_by(a, [b]) is None or a == b for i, a in enumerate(order) for b in order[i + 1 :])


def test_backends_race_trains_the_shipped_cnn_with_its_augmentation(monkeypatch, data_dir):
    """The race feeds the shipped CNN's augmentation (a dict since the warp) to the pipeline."""
    from benchmarks import backends

    real_data = backends._data

    def sliced(model_id, data_dir, n=None):
        (x, y), (xt, yt) = real_data(model_id, data_dir, n=640)
        return (x, y), (xt[:200], yt[:200])

    monkeypatch.setattr(backends, "_data", sliced)
    monkeypatch.setattr(backends, "RACE_MAX_EPOCHS", 1)
    found = backends.measure_race(str(data_dir), seed=1)
    assert found["epochs"] == 1 and len(found["curve"]) == 1
    assert found["curve"][0]["train_seconds"] > 0 and 0.0 <= found["curve"][0]["test_accuracy"] <= 1.0
