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
