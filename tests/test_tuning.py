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


@pytest.mark.backends
def test_exhaustive_grid_visits_every_point_once(tiny_mnist_like_dir, tmp_path):
    # The 4E comparison relies on GridSearch with 12 trials covering the whole 12-point space.
    from tuning.compare import GRID_SIZE, make_tuner

    (x, y), _ = load_idx_dataset(tiny_mnist_like_dir)
    x, y = flatten(to_float(x)), one_hot(y, 10)
    tuner = make_tuner("GridSearch (exhaustive)", tmp_path, GRID_SIZE, epochs=1, seed=1)
    tuner.search(x[:200], y[:200], validation_data=(x[200:], y[200:]), epochs=1, verbose=0)
    points = {tuple(sorted(t.hyperparameters.values.items())) for t in tuner.oracle.trials.values()}
    assert len(tuner.oracle.trials) == GRID_SIZE and len(points) == GRID_SIZE


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


def test_rule_breaking_cnns_are_refused_as_failed_trials_and_the_search_goes_on(tiny_mnist_like_dir, tmp_path):
    import keras_tuner as kt

    from data_prep.mnist import load_idx_dataset
    from problems.cnn import prepare
    from tuning.cnn_search import CNNHyperModel

    train, val, _ = prepare(load_idx_dataset(tiny_mnist_like_dir), seed=1, test_as_validation=False)
    space = kt.HyperParameters()
    space.Choice("filters", [64])
    space.Choice("dense_units", [64, 256])  # 64/128 filters with a 256-unit Dense layer: 1.6M parameters
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
