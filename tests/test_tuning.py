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


def test_tiny_search_respects_the_budget_and_resumes(tiny_idx_dir, tmp_path):
    from tuning.mlp_search import search_mlp

    (x, y), _ = load_idx_dataset(tiny_idx_dir)
    x, y = flatten(to_float(x)), one_hot(y, 3)
    train, val = (x[:160], y[:160]), (x[160:], y[160:])
    budget = MLPBudget(30, 2)
    kwargs = dict(train=train, val=val, seed=2, directory=tmp_path, trials=2, epochs=1, verbose=0, image_shape=(8, 8))
    settings, table = search_mlp("T", budget, **kwargs)
    assert sum(settings["hidden_units"]) == 30 and len(settings["hidden_units"]) >= 2
    assert len(table) == 2 and set(table["status"]) == {"COMPLETED"}
    # A rerun with the same settings reloads the finished search instead of training again.
    settings_again, table_again = search_mlp("T", budget, **kwargs)
    assert settings_again == settings and table_again["trial"].tolist() == table["trial"].tolist()
    # A run killed while keras-tuner wrote oracle.json: the rerun moves the folder aside and starts over.
    (oracle_json,) = tmp_path.glob("mlp_T_*/oracle.json")
    oracle_json.write_text(oracle_json.read_text()[:40])
    settings_fresh, table_fresh = search_mlp("T", budget, **kwargs)
    assert len(table_fresh) == 2 and set(table_fresh["status"]) == {"COMPLETED"}
    assert len(list(tmp_path.glob("mlp_T_*.unreadable-*"))) == 1


def test_exhaustive_grid_visits_every_point_once(tiny_mnist_like_dir, tmp_path):
    # The 4E comparison relies on GridSearch with 12 trials covering the whole 12-point space.
    from tuning.compare import GRID_SIZE, make_tuner

    (x, y), _ = load_idx_dataset(tiny_mnist_like_dir)
    x, y = flatten(to_float(x)), one_hot(y, 10)
    tuner = make_tuner("GridSearch (exhaustive)", tmp_path, GRID_SIZE, epochs=1, seed=1)
    tuner.search(x[:200], y[:200], validation_data=(x[200:], y[200:]), epochs=1, verbose=0)
    points = {tuple(sorted(t.hyperparameters.values.items())) for t in tuner.oracle.trials.values()}
    assert len(tuner.oracle.trials) == GRID_SIZE and len(points) == GRID_SIZE
