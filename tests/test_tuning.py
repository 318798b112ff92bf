"""The keras-tuner search: a loud failure when no trial succeeds, budgets respected, resumable."""

from types import SimpleNamespace

import pytest

from data_prep.mnist import flatten, load_idx_dataset, one_hot, to_float
from models.budget import MLPBudget
from tuning.common import TuningError, ensure_success


def _fake_tuner(*statuses):
    trials = {
        str(i): SimpleNamespace(status=s, score=0.5 if s == "COMPLETED" else None) for i, s in enumerate(statuses)
    }
    return SimpleNamespace(oracle=SimpleNamespace(trials=trials), project_dir="/tmp/project")


def test_a_search_where_every_trial_failed_is_refused():
    # keras-tuner's search() returns normally when every trial fails (e.g. without tensorboard).
    with pytest.raises(TuningError, match="no successful trial.*FAILED.*tensorboard"):
        ensure_success(_fake_tuner("FAILED", "FAILED"))
    with pytest.raises(TuningError, match="no trials"):
        ensure_success(_fake_tuner())
    ensure_success(_fake_tuner("FAILED", "COMPLETED"))


@pytest.mark.backends
def test_tiny_search_respects_the_budget_starts_from_the_given_trial_and_resumes(tiny_idx_dir, tmp_path):
    from tuning.mlp_search import search_mlp

    (x, y), _ = load_idx_dataset(tiny_idx_dir)
    x, y = flatten(to_float(x)), one_hot(y, 3)
    train, val = (x[:160], y[:160]), (x[160:], y[160:])
    budget = MLPBudget(30, 2)
    first = dict(hidden_layers=3, shape="funnel", dropout_input=0.1, dropout=0.0, learning_rate=1e-3,
                 schedule="constant", shift=1, epochs=10, batch_size=128)  # fmt: skip
    kwargs = dict(train=train, val=val, seed=2, directory=tmp_path, trials=3, epochs=1, verbose=0, image_shape=(8, 8))
    table, search = search_mlp("T", budget, 1.0, first, **kwargs)
    assert search["oracle"] == "BayesianOptimization" and search["num_initial_points"] == 3
    assert len(table) == 3 and set(table["status"]) == {"COMPLETED"} and search["completed"] == 3
    hand = table[table["trial"] == search["hand_picked_trial_id"]].iloc[0]
    assert search["hand_picked_trial_id"] == "0" and hand["hidden_layers"] == 3 and hand["schedule"] == "constant"
    assert search["best_trial_id"] in set(table["trial"]) and search["trials_reused"] == 0
    # A rerun with the same settings reloads the finished search instead of training again, and says so.
    table_again, search_again = search_mlp("T", budget, 1.0, first, **kwargs)
    assert table_again["trial"].tolist() == table["trial"].tolist() and search_again["trials_reused"] == 3
    # A run killed while keras-tuner wrote oracle.json: the rerun moves the folder aside and starts over.
    (oracle_json,) = tmp_path.glob("mlp_T_*/oracle.json")
    oracle_json.write_text(oracle_json.read_text()[:40])
    table_fresh, _ = search_mlp("T", budget, 1.0, first, **kwargs)
    assert len(table_fresh) == 3 and set(table_fresh["status"]) == {"COMPLETED"}
    assert len(list(tmp_path.glob("mlp_T_*.unreadable-*"))) == 1
    # Trials scored under other kernels (backend, threads, oneDNN on JAX) are never resumed as these.
    _, search_other = search_mlp("T", budget, 1.0, first, **kwargs, numerics="jax_t1_onednn")
    assert search_other["trials_reused"] == 0 and search_other["completed"] == 3


@pytest.mark.backends
def test_each_oracle_searches_the_table_and_the_exhaustive_grid_finds_its_best(tmp_path):
    # 4E's oracles look their scores up in a table of learning curves (no training here).
    from tuning.compare import GRID_SIZE, point_key, points, run_oracle

    curves = {point_key(v): [0.5 + 0.01 * i, 0.6 + 0.01 * i, 0.7 + 0.01 * i] for i, v in enumerate(points())}
    best = max(max(c) for c in curves.values())
    # BayesianOptimization is left out: its Gaussian process takes a minute here, and the table is the same.
    names = ("GridSearch", "RandomSearch", "Hyperband")
    runs = {name: run_oracle(name, curves, seed=3, epochs=3, directory=tmp_path) for name in names}
    grid = runs["GridSearch"]
    assert grid["trials"] == GRID_SIZE == grid["points_tried"] and grid["epochs"] == 3 * GRID_SIZE
    assert grid["best_val_accuracy"] == best and grid["curve"][-1] == [3 * GRID_SIZE, best]
    assert grid["curve"][-1][1] == best and grid["curve"][-2][1] < best  # the best point is the grid's last
    for run in runs.values():
        spent = [s for s, _ in run["curve"]]
        found = [b for _, b in run["curve"]]
        assert spent == sorted(spent) and found == sorted(found) and run["best_val_accuracy"] <= best
    # Hyperband's first trials ask for fewer epochs than the table holds: their scores are read there.
    assert runs["Hyperband"]["curve"][0][0] < 3


def test_only_unreadable_state_moves_a_tuner_folder_aside(tmp_path):
    import json

    from models.budget import BudgetError
    from tuning.common import open_resumable

    project = tmp_path / "project"
    project.mkdir()

    def refuse():
        raise BudgetError("a refused model is not a damaged folder")

    # A budget refusal (a ValueError), or any other error, propagates and leaves the folder in place.
    for error in (refuse, lambda: int("x")):
        with pytest.raises(ValueError):
            open_resumable(error, project)
        assert project.is_dir() and not list(tmp_path.glob("project.unreadable-*"))
    # A truncated JSON file is moved aside and the tuner built again.
    attempts = []
    tuner = SimpleNamespace(oracle=SimpleNamespace(trials={}, ongoing_trials={}, _retry_queue=[]))

    def truncated_then_fine():
        attempts.append(1)
        if len(attempts) == 1:
            json.loads('{"trial_id": ')
        return tuner

    assert open_resumable(truncated_then_fine, project) is tuner
    assert not project.exists() and len(list(tmp_path.glob("project.unreadable-*"))) == 1


def test_a_trial_left_running_by_a_kill_is_queued_again():
    # A kill between keras-tuner's trial.json and oracle.json writes leaves a RUNNING trial that
    # Oracle.reload does not retry; requeue_interrupted queues it (finished and queued ones stay).
    from tuning.common import requeue_interrupted

    trials = {i: SimpleNamespace(status=s) for i, s in (("0", "COMPLETED"), ("1", "RUNNING"), ("2", "RUNNING"))}
    oracle = SimpleNamespace(trials=trials, ongoing_trials={}, _retry_queue=["2"])
    assert requeue_interrupted(oracle) == ["1"] and oracle._retry_queue == ["2", "1"]


def test_keras_tuner_state_written_while_killed_keeps_the_old_file(tmp_path, monkeypatch):
    # keras-tuner's own save_json opens with "w" first: a kill there left an empty oracle.json.
    import os

    import keras_tuner as kt

    import tuning.common  # noqa: F401  (installs the atomic writer)

    trial = kt.engine.trial.Trial(kt.HyperParameters(), trial_id="3", status="RUNNING")
    path = tmp_path / "trial.json"
    trial.save(str(path))
    before = path.read_bytes()
    trial.status = "COMPLETED"

    def killed(*args):
        raise KeyboardInterrupt("killed before the rename")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        trial.save(str(path))
    assert path.read_bytes() == before and kt.engine.trial.Trial.load(str(path)).status == "RUNNING"
    assert [p.name for p in tmp_path.iterdir()] == ["trial.json"]  # no temporary file left
    monkeypatch.undo()
    trial.save(str(path))
    assert kt.engine.trial.Trial.load(str(path)).status == "COMPLETED"


def test_mlp_search_leaves_its_random_phase_within_the_default_budget():
    from tuning.mlp_search import SEARCH_TRIALS, initial_points

    assert initial_points(SEARCH_TRIALS) == 13 < SEARCH_TRIALS
    assert initial_points(4) == 3 and initial_points(30) == 10


def test_best_so_far_follows_trial_order_and_skips_failures():
    import pandas as pd

    from tuning.common import best_so_far

    table = pd.DataFrame(
        {
            "trial": ["10", "2", "0", "1"],
            "status": ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"],
            "score": [0.9, 0.7, 0.5, None],
        }
    )
    rows = best_so_far(table)
    assert [r["trial"] for r in rows] == [0, 1, 2, 10]
    assert [r["best_so_far"] for r in rows] == [0.5, 0.5, 0.7, 0.9]


def _tiny_classification(n=64, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.random((n, 4)).astype("float32")
    y = np.eye(2, dtype="float32")[(x[:, 0] > 0.5).astype(int)]
    return (x[: n // 2], y[: n // 2]), (x[n // 2 :], y[n // 2 :])


@pytest.mark.backends
def test_dropout_sweep_runs_each_listed_rate_once_and_resumes_after_an_interruption(tmp_path):
    import keras

    from tuning.dropout_sweep import sweep_search

    train, val = _tiny_classification()
    rates = [0.0, 0.1, 0.5, 1.0]  # end points included (a Float grid would drop 1.0, keras-tuner #1001)
    fits = []

    def build(p):
        extra = [keras.layers.Dropout(p)] if p < 1.0 else []
        model = keras.Sequential([keras.Input((4,)), *extra, keras.layers.Dense(2, activation="softmax")])
        model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(model, seed, callbacks, interrupt_at=None):
        rate = next((layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)), 1.0)
        fits.append((rate, seed))
        if len(fits) == interrupt_at:  # the process dies in the middle of a trial
            raise KeyboardInterrupt
        model.fit(*train, epochs=1, verbose=0, callbacks=callbacks)

    kwargs = dict(val=val, repeats=2, seed=5, directory=tmp_path / "runs", project="sweep")
    with pytest.raises(KeyboardInterrupt):
        sweep_search(rates, build, lambda m, s, c: fit(m, s, c, interrupt_at=3), **kwargs)
    assert fits == [(0.0, 5), (0.0, 6), (0.1, 5)]  # rate 0.0 done (two executions), 0.1 interrupted
    fits.clear()
    rows = sweep_search(rates, build, fit, tensorboard=tmp_path / "tb", **kwargs)
    # The rerun retries the interrupted rate and goes on; the finished rate is not trained again.
    assert [f[0] for f in fits] == [0.1, 0.1, 0.5, 0.5, 1.0, 1.0]
    assert [r["p"] for r in rows] == rates and all(r["runs"] == 2 for r in rows)
    assert [r["dropout_layer"] for r in rows] == [True, True, True, False]
    assert all(0.0 <= r["val_accuracy"] <= 1.0 and r["val_accuracy_std"] >= 0.0 for r in rows)
    # One TensorBoard log per trial and execution, with the HParams dashboard's data.
    assert list((tmp_path / "tb").glob("*/execution1/**/events.out.tfevents.*"))


def test_rule_breaking_cnns_are_refused_as_failed_trials_and_the_search_goes_on(
    tiny_mnist_like_dir, tmp_path, monkeypatch
):
    import keras_tuner as kt

    import tuning.cnn_search
    from data_prep.mnist import load_idx_dataset
    from problems.cnn import prepare
    from tuning.cnn_search import CNNHyperModel

    train, val, _ = prepare(load_idx_dataset(tiny_mnist_like_dir), seed=1, test_as_validation=False)
    space = kt.HyperParameters()
    space.Choice("filters", [48])
    # 48/96 filters: with a 64-unit Dense layer under the cost cap (as this table says), with 256
    # units 1.2M parameters (over the limit).
    monkeypatch.setattr(tuning.cnn_search, "layout_costs", lambda backend: {"48/64 stride conv_dropout=False": 1.0})
    space.Choice("dense_units", [64, 256])
    space.Choice("shift", [0])
    space.Fixed("dropout", 0.3)
    space.Fixed("learning_rate", 2e-3)
    hypermodel = CNNHyperModel(train[0].shape[1:], 10, decay_steps=10, seed=1, batch_size=32)
    with pytest.raises(kt.errors.FailedTrialError, match="refused.*parameters"):
        hypermodel.build(_values(space, dense_units=256))
    tuner = kt.RandomSearch(  # only the Dense width varies: both widths get a trial
        hypermodel,
        objective="val_accuracy",
        hyperparameters=space,
        max_trials=2,
        directory=tmp_path,
        seed=1,
    )
    tuner.search(*train, validation_data=val, epochs=1, verbose=0)
    statuses = {t.hyperparameters.values["dense_units"]: t.status for t in tuner.oracle.trials.values()}
    assert statuses == {64: "COMPLETED", 256: "FAILED"}


def _values(space, **values):
    hp = space.copy()
    hp.values.update(values)
    return hp


def test_the_4e_summary_and_notes_are_read_off_the_curves(tmp_path):
    from problems.tuner_comparison import notes, plot_curves, summary_row

    def run(oracle, seed, curve):
        return {"oracle": oracle, "seed": seed, "trials": len(curve), "epochs": curve[-1][0], "curve": curve,
                "best_val_accuracy": curve[-1][1]}  # fmt: skip

    seeds = [{"seed": s, "grid_best": 0.95, "grid_best_point": "units 128", "table_seconds": 1.0} for s in (1, 2)]
    runs = []
    for s in (1, 2):
        runs.append(run("GridSearch", s, [[3 * k, 0.90 + 0.004 * k] for k in range(1, 13)][:-1] + [[36, 0.95]]))
        runs.append(run("RandomSearch", s, [[3, 0.93], [6, 0.95], [36, 0.95]]))
        runs.append(run("BayesianOptimization", s, [[3, 0.92], [12, 0.94 + 0.001 * s], [36, 0.94 + 0.001 * s]]))
        runs.append(run("Hyperband", s, [[1, 0.91], [33, 0.93]]))
    found = {"seeds": seeds, "runs": runs, "oracle_seconds": 2.0}
    rows = {
        r["oracle"]: r
        for r in (
            summary_row(n, found, 12) for n in ("GridSearch", "RandomSearch", "BayesianOptimization", "Hyperband")
        )
    }
    assert rows["GridSearch"]["reached_best"] == "2/2 seeds" and rows["GridSearch"]["epochs_to_best_median"] == 36
    assert rows["RandomSearch"]["epochs_to_best_median"] == 6 and rows["Hyperband"]["reached_best"] == "0/2 seeds"
    assert rows["GridSearch"]["best_at_budget_mean"] == pytest.approx(0.916)
    text = " ".join(notes(list(rows.values()), found, 12, 3))
    assert "a median 36 epochs" in text and "RandomSearch after 12 epochs: 0.9500" in text
    assert "exceeds the seed spread" in text  # Random's +0.034 against a spread of 0 (both seeds alike)
    assert plot_curves(found, 12, tmp_path / "c.png", "t") == "c.png" and (tmp_path / "c.png").stat().st_size > 1000
