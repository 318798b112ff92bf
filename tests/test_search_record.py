"""What ships is what the search chose: the oracle's first trial and cost cap, the committed search
records, the finalists' choice, and a plain run training with exactly the chosen trial's values."""

import json

import keras_tuner as kt
import pytest

from models.mlp import BUDGETS, COST_CAP_TFLOP, HAND_PICKED, settings_from_values


@pytest.mark.parametrize("key", ["2C", "2D", "2E"])
def test_each_committed_search_ran_its_budget_and_names_a_chosen_trial_it_holds(key):
    import pandas as pd

    from tuning.records import SHIPPED_ROOT, read_search

    record = read_search(key)
    trials = pd.read_csv(SHIPPED_ROOT / key / "search" / "trials.csv", dtype={"trial": str})
    assert record["max_trials"] >= 40 and len(trials) >= 40
    assert record["num_initial_points"] < record["max_trials"]  # the Gaussian process proposed the rest
    chosen = trials[trials["trial"] == record["chosen_trial_id"]]
    assert len(chosen) == 1 and chosen["status"].item() == "COMPLETED"
    hand = trials[trials["trial"] == record["hand_picked_trial_id"]].iloc[0]
    # A search recorded before the space held rotation and zoom trained without them (0).
    assert all(hand.get(name, 0) == value for name, value in HAND_PICKED[key].items() if name != "learning_rate")
    assert all(f["trial"] in set(trials["trial"]) and len(f["per_seed"]) == 3 for f in record["finalists"])
    assert (trials["cost_tflop"] <= COST_CAP_TFLOP[key] + 1e-9).all()  # no configuration over the cap trained


def test_a_plain_run_trains_with_exactly_the_chosen_trials_values(tiny_idx_dir, tmp_path):
    from problems.cli import main
    from tuning.records import chosen_values

    trial_id, values = chosen_values("2C")
    settings = settings_from_values(values, BUDGETS["2C"])
    args = ["--problem", "2C", "--epochs", "1", "--jobs", "1", "--quiet", "--out", str(tmp_path / "out")]
    assert main([*args, "--dataset-dir", str(tiny_idx_dir)]) == 0
    result = json.loads((tmp_path / "out" / tiny_idx_dir.name / "2018" / "2C" / "result.json").read_text())
    used = result["hyperparameters"]
    assert used["search_trial"] == trial_id
    assert used["hidden_units"] == list(settings["hidden_units"])
    for name in ("dropout_input", "dropout", "learning_rate", "schedule", "batch_size", "shift"):
        assert used[name] == settings[name], name
    assert "Settings: trial " + trial_id in "\n".join(result["notes"])


def test_a_missing_search_record_is_a_clear_error(monkeypatch, tmp_path, tiny_idx_dir, capsys):
    import tuning.records as records
    from problems.cli import main

    monkeypatch.setattr(records, "SHIPPED_ROOT", tmp_path / "nothing")
    args = ["--problem", "2D", "--epochs", "1", "--jobs", "1", "--quiet", "--out", str(tmp_path / "out")]
    assert main([*args, "--dataset-dir", str(tiny_idx_dir)]) == 1
    err = capsys.readouterr().err
    assert "reports/2018/2D/search/search.json is missing" in err and "--problem 2D --tune" in err
    assert str(tmp_path) not in err  # names the project's file, not a path of this machine


def _oracle(first_values, feasible, tmp_path):
    from tuning.mlp_search import GuidedBayesianOracle

    space = kt.HyperParameters()
    space.Int("width", 1, 10)
    space.Choice("epochs", [10, 20, 40])
    oracle = GuidedBayesianOracle(
        objective=kt.Objective("score", "max"),
        max_trials=30,
        num_initial_points=3,
        seed=1,
        hyperparameters=space,
        first_values=first_values,
        feasible=feasible,
    )
    oracle._set_project_dir(str(tmp_path), "guided")
    return oracle


def test_the_oracle_starts_with_the_given_values_and_never_hands_out_one_over_the_cap(tmp_path):
    cap = lambda values: values["width"] * values["epochs"] <= 100  # noqa: E731
    oracle = _oracle({"width": 5, "epochs": 20}, cap, tmp_path)
    handed = []
    for _ in range(12):
        trial = oracle.create_trial("tuner0")
        handed.append(dict(trial.hyperparameters.values))
        # A score that rewards cost, so the Gaussian process would propose the refused corner.
        oracle.update_trial(trial.trial_id, {"score": trial.hyperparameters.values["width"] * 1.0})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    assert handed[0] == {"width": 5, "epochs": 20}
    assert all(cap(values) for values in handed), [v for v in handed if not cap(v)]
    assert len(handed) == 12


def test_the_hand_picked_finalist_ships_only_when_better_beyond_the_spread():
    from problems.search_choice import choose

    def finalist(trial, mean, std):
        return {"trial": trial, "val_accuracy_mean": mean, "val_accuracy_std": std, "per_seed": [{}] * 3}

    best, why = choose([finalist("07", 0.985, 0.001), finalist("00", 0.9855, 0.001)])
    assert best["trial"] == "07" and "within the seed spread (0.0010)" in why
    best, why = choose([finalist("07", 0.985, 0.001), finalist("00", 0.988, 0.001)])
    assert best["trial"] == "00" and "hand-picked settings ship" in why
    best, why = choose([finalist("00", 0.985, 0.001)])
    assert best["trial"] == "00" and "hand-picked" in why


def test_the_committed_cnn_search_ran_hyperband_at_the_final_epochs_from_the_hand_picked_model():
    import pandas as pd

    from models.cnn import FINAL_EPOCHS
    from models.cnn import HAND_PICKED as CNN_HAND_PICKED
    from tuning.records import SHIPPED_ROOT, read_search

    record = read_search("3D")
    trials = pd.read_csv(SHIPPED_ROOT / "3D" / "search" / "trials.csv", dtype={"trial": str})
    assert record["oracle"] == "Hyperband" and record["max_epochs"] == FINAL_EPOCHS and record["factor"] == 3
    assert len(trials) >= 40 and record["completed"] == (trials["status"] == "COMPLETED").sum()
    first = trials[trials["trial"] == record["hand_picked_trial_id"]].iloc[0]
    assert first["trial"] == trials["trial"].min() and first["tuner/round"] == 0
    for name, value in CNN_HAND_PICKED.items():
        # A search recorded before rotation and zoom were searched trained without them (0).
        assert first.get(name, 0) == (pytest.approx(value) if name == "learning_rate" else value), name
    chosen = trials[trials["trial"] == record["chosen_trial_id"]]
    assert len(chosen) == 1 and chosen["status"].item() == "COMPLETED"
    assert all(len(f["per_seed"]) == 3 for f in record["finalists"])
