"""The write-ups' models replayed beside ours (problems/replays.py): the models as the write-ups define
them, a network that never updates, replay runs kept and reused, and gaps judged against the spread."""

import numpy as np
import pytest
from keras import layers

from models.cnn import build_cnn_2023_final, build_starter_2023, build_starter_cnn


def test_the_replayed_models_have_the_write_ups_shapes():
    assert build_starter_2023().count_params() == 14_178  # the PyTorch notebook's count
    final = build_cnn_2023_final()
    assert sum(int(np.prod(w.shape)) for w in final.trainable_weights) == 12_874  # PyTorch counts no buffers
    # 2018 meaning of p: Keras 2.1.3 applied Dropout only when 0 < p < 1.
    dropouts = [sum(isinstance(x, layers.Dropout) for x in build_starter_cnn(p).layers) for p in (0.5, 1.0, 0.0)]
    assert dropouts == [2, 0, 0]


def test_the_2023_models_start_from_pytorchs_initialisation():
    model = build_starter_2023()
    hidden = model.layers[-2]  # Linear(200, 64): weights and biases uniform in +-1/sqrt(200)
    bound = 200**-0.5
    for weights in (hidden.kernel, hidden.bias):
        values = np.abs(np.asarray(weights))
        assert values.max() <= bound and values.max() > 0.9 * bound  # filled up to the bound, not Glorot's


def _tiny(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    return x, y


@pytest.mark.parametrize("learning_rate", [0.0, 0.01])
def test_a_network_with_learning_rate_0_never_changes(learning_rate):
    """The 2023 write-up's sweep log is that of a network that never updates; learning rate 0 replays it."""
    x, y = _tiny()
    model = build_starter_2023(0.5, learning_rate=learning_rate)
    before = [np.asarray(w).copy() for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0).history
    changed = any(not np.array_equal(b, np.asarray(w)) for b, w in zip(before, model.trainable_weights, strict=True))
    assert changed == (learning_rate > 0) and np.isfinite(history["loss"][0])


def test_replay_runs_are_kept_per_seed_and_read_back_on_a_rerun(tmp_path, monkeypatch):
    from problems import replays
    from problems.context import RunContext

    ctx = RunContext("2023", "4F", seed=4, seeds=2, tuner_dir=tmp_path, verbose=0, threads=1)
    data = (_tiny(64, 1), _tiny(32, 2))
    starter = replays.STARTER["2023"]
    first = replays.run_replay(ctx, starter, data, epochs=1)
    assert first["seeds"] == [4, 5] and first["reused_seeds"] == [] and first["params"] == 14_178
    # Two seeds, two different networks: a spread of exactly 0 would mean one model twice.
    assert first["test_loss_std"] > 0 and len(first["per_seed"]) == 2

    def refuse(*args, **kwargs):
        raise AssertionError("a kept replay run was trained again")

    monkeypatch.setattr("training.record.train_and_score", refuse)
    again = replays.run_replay(ctx, starter, data, epochs=1)
    assert again["reused_seeds"] == [4, 5] and again["per_seed"] == first["per_seed"]
    # Another epoch count is another run: it is not read back.
    with pytest.raises(AssertionError, match="trained again"):
        replays.run_replay(ctx, starter, data, epochs=2)


def test_each_gap_is_judged_against_the_spread_of_the_run():
    from problems.replays import comparison_rows

    replay = {"model": "starter", "reported_test_accuracy": 0.9521, "seeds": [1, 2, 3],
              "test_accuracy": 0.9700, "test_accuracy_std": 0.0020}  # fmt: skip
    ours = {"seeds": [1, 2, 3], "test_accuracy": 0.9930, "test_accuracy_std": 0.0005}
    own, starter = comparison_rows([replay], ours, write_up=0.9921)
    assert own["replayed here"] == "" and "not replayable" in own["replay - reported"]
    assert own["ours - replay"].startswith("ours - reported: +0.0009, exceeds the seed spread (0.0005)")
    assert starter["replay - reported"] == "+0.0179, exceeds the seed spread (0.0020)"
    assert starter["replayed here"] == "0.9700 ± 0.0020 (3 seeds)"
    close = comparison_rows([{**replay, "test_accuracy": 0.9925}], ours, write_up=None)[1]
    assert close["ours - replay"] == "+0.0005, is within the seed spread (0.0020)"


def test_the_broken_sweep_note_names_the_never_updated_network_closest_to_the_write_up():
    from problems.replays import broken_sweep_note

    def sweep(accuracy, loss):
        return {"sweep": [{"p": p, "test_accuracy": accuracy, "train_loss": loss + p / 10} for p in (0.0, 0.5)]}

    note = broken_sweep_note(
        sweep(0.95, 0.3),
        {"starter never updated": sweep(0.10, 2.30), "final model never updated": sweep(0.11, 2.45)},
        reported_val={0.0: 0.13, 0.5: 0.10},
        reported_loss={0.0: 2.43, 0.5: 2.48},
    )
    assert "closest to the final model never updated" in note and "0.95-0.95" in note
    assert "ended at chance" not in note  # no per-seed runs kept: nothing is claimed about them


def test_the_broken_sweep_note_counts_the_trained_runs_that_ended_at_chance():
    """A trained sweep whose runs sometimes collapse (RMSprop at lr 0.01 does) is not the write-up's sweep,
    where every rate sat at chance: the note says how many of its runs collapsed, and where."""
    from problems.replays import broken_sweep_note

    def row(p, accuracies):
        runs = [{"seed": s, "test_accuracy": a, "train_loss": 2.303 if a < 0.2 else 0.5}
                for s, a in enumerate(accuracies, start=1)]  # fmt: skip
        return {"p": p, "test_accuracy": sum(accuracies) / 3, "train_loss": 1.0, "runs": runs}

    trained = {"sweep": [row(0.1, [0.1135, 0.95, 0.96]), row(0.5, [0.93, 0.94, 0.92])]}
    frozen = {"starter never updated": {"sweep": [{"p": 0.1, "test_accuracy": 0.1, "train_loss": 2.31}]}}
    note = broken_sweep_note(trained, frozen, reported_val={0.1: 0.08}, reported_loss={0.1: 2.4})
    assert "1 of its 6 runs ended at chance (p = 0.1 seed 1: test accuracy 0.11-0.11, training loss 2.30-2.30)" in note
    healthy = {"sweep": [row(0.5, [0.93, 0.94, 0.92])]}
    assert "none of its 3 runs ended at chance" in broken_sweep_note(healthy, frozen, {0.1: 0.08}, {0.1: 2.4})


def test_the_report_shows_the_comparison_table():
    from problems.report import render_report

    table = [{"model": "starter", "reported": 0.9521, "replayed here": "0.9700 ± 0.0020 (3 seeds)"}]
    result = {"id": "4F", "edition": "2023", "title": "CNN", "seed": 1, "metrics": {"against the write-ups": table}}
    report = render_report(result)
    assert "## against the write-ups" in report and "| starter | 0.9521 | 0.9700 ± 0.0020 (3 seeds) |" in report


@pytest.fixture
def as_if_mnist(monkeypatch):
    """A --dataset-dir run treated as MNIST, so that a tiny MNIST-shaped set exercises the replays."""
    from problems.context import RunContext

    monkeypatch.setattr(RunContext, "on_write_up_data", property(lambda self: True))


def _result(out, data_dir, edition, pid):
    import json

    return json.loads((out / data_dir.name / edition / pid / "result.json").read_text())


def test_a_cnn_run_with_replays_reports_each_model_beside_ours(tiny_mnist_like_dir, tmp_path, monkeypatch, as_if_mnist):
    from problems import cnn
    from problems.cli import main

    monkeypatch.setitem(cnn.SWEEPS, "2018", [0.5])  # one rate: the wiring, not the sweep, is under test
    args = ["--problem", "3D", "--epochs", "1", "--dataset-dir", str(tiny_mnist_like_dir), "--replays"]
    assert main([*args, "--out", str(tmp_path / "o"), "--tuner-dir", str(tmp_path / "runs"), "--quiet"]) == 0
    result = _result(tmp_path / "o", tiny_mnist_like_dir, "2018", "3D")
    assert [r["key"] for r in result["replays"]] == ["starter_2018", "final_2018", "starter_2018_sweep"]
    assert [row["p"] for row in result["replays"][2]["sweep"]] == [0.5]
    assert [run["seed"] for run in result["replays"][2]["sweep"][0]["runs"]] == [1]  # each run's figures kept
    table = result["metrics"]["against the write-ups"]
    assert [row["reported"] for row in table] == [0.9873, None, 0.9889]
    assert all(row["ours"] == table[0]["ours"] for row in table)
    assert result["metrics"]["replayed sweep: starter"][0]["p"] == 0.5


def test_the_2023_replays_add_the_never_updated_sweeps_and_explain_the_write_ups(monkeypatch):
    """How replay_problem assembles 2023 (the runs themselves are stubbed: they are tested above)."""
    from problems import replays
    from problems.context import RunContext
    from problems.registry import lookup

    def fake_sweep(ctx, replay, rates, data, epochs, learning_rate=None):
        loss = 2.30 if replay.key == "starter_2023" else 2.45
        rows = [{"p": p, "test_accuracy": 0.1, "test_accuracy_std": 0.01, "test_loss": loss, "train_loss": loss,
                 "train_accuracy": 0.1} for p in rates]  # fmt: skip
        return {"key": f"{replay.key}_lr{learning_rate}_sweep", "model": replay.model, "sweep": rows, "reused_runs": 0}

    def fake_replay(ctx, replay, data, epochs):
        return {"key": replay.key, "model": replay.model, "reported_test_accuracy": replay.reported,
                "test_accuracy": 0.95, "test_accuracy_std": 0.002, "seeds": [1, 2, 3], "reused_seeds": []}  # fmt: skip

    monkeypatch.setattr(replays, "replay_data", lambda ctx: None)
    monkeypatch.setattr(replays, "run_sweep", fake_sweep)
    monkeypatch.setattr(replays, "run_replay", fake_replay)
    ctx = RunContext("2023", "4F", seeds=3, repeats=3)
    ours = {"test_accuracy": 0.994, "test_accuracy_std": 0.0003, "seeds": [1, 2, 3]}
    found = replays.replay_problem(ctx, ours, lookup("2023", "4F").reported["2023"], [0.0, 0.5], None)
    assert list(found["sweeps"]) == ["starter", "2023 starter never updated", "2023 final model never updated"]
    assert len(found["replays"]) == 5 and len(found["tables"]["against the write-ups"]) == 3
    (why,) = [n for n in found["notes"] if n.startswith("Why")]
    assert "closest to the 2023 final model never updated" in why  # 2.45 is nearer the reported 2.33-2.54


def test_an_mlp_run_replays_the_course_sample_under_its_seeds(tiny_mnist_like_dir, tmp_path, as_if_mnist):
    from problems.cli import main

    args = ["--problem", "2C", "--epochs", "1", "--seeds", "2", "--dataset-dir", str(tiny_mnist_like_dir)]
    assert main([*args, "--out", str(tmp_path / "o"), "--tuner-dir", str(tmp_path / "runs"), "--quiet"]) == 0
    result = _result(tmp_path / "o", tiny_mnist_like_dir, "2018", "2C")
    (sample,) = result["replays"]
    assert sample["key"] == "course_sample" and sample["seeds"] == [1, 2] and len(sample["per_seed"]) == 2
    own, replayed = result["metrics"]["against the write-ups"]
    assert own["reported"] == 0.9785 and replayed["replayed here"].endswith("(2 seeds)")
