"""Padding, Conv2D parameters, pooling (exact values), and the CNN constraint validator."""

import json

import keras
import numpy as np
import pytest
from keras import layers

from models.cnn import (
    ConstraintError,
    build_cnn_2018_final,
    build_cnn_final,
    build_starter_cnn,
    check_cnn_constraints,
)
from problems.convnets import (
    EXPECTED_AVERAGE,
    EXPECTED_MAX,
    POOL_INPUTS,
    border_effect,
    pool_matrices,
    relative_change,
    stacked_conv_sizes,
)


def test_padding_sizes():
    assert stacked_conv_sizes(14, "same") == [28] * 14
    assert stacked_conv_sizes(14, "valid") == list(range(26, 0, -2))  # 13 layers fit, the 14th does not


def test_zero_padding_border_effect():
    border = border_effect(6)
    assert border[0, 0] == pytest.approx(4 / 9) and border[0, 2] == pytest.approx(6 / 9)
    assert border[2, 2] == pytest.approx(1.0)


def test_conv_params_read_off_keras():
    from problems.convnets import run_conv_params

    result = run_conv_params(ctx=None)
    assert result["metrics"]["params"] == 608
    assert result["metrics"]["output_shape"] == [28, 28, 8]


def test_pooling_gives_exactly_the_expected_matrices():
    assert pool_matrices(POOL_INPUTS, "average").tolist() == EXPECTED_AVERAGE
    assert pool_matrices(POOL_INPUTS, "max").tolist() == EXPECTED_MAX


def test_relative_change():
    a = np.ones((2, 3, 3))
    assert relative_change(a, a) == 0.0
    assert relative_change(a, 2 * a) == pytest.approx(1.0)


def test_factories_meet_the_constraints():
    assert check_cnn_constraints(build_starter_cnn())["batchnorm_layers"] == 2
    assert build_cnn_2018_final().count_params() == 982_010  # the write-up's figure
    found = check_cnn_constraints(build_cnn_final(0.3))
    assert found["params"] < 1_000_000 and found["dropout_layers"] == 1 and found["batchnorm_layers"] == 3


def test_final_cnn_drops_out_before_the_classifier_only_unless_asked():
    names = [layer.name for layer in build_cnn_final(0.3).layers]
    assert [n for n in names if n.startswith("dropout")] == ["dropout_dense"]
    assert names.index("dropout_dense") == len(names) - 2  # right before Dense(10) softmax
    before = build_cnn_final(0.3, conv_dropout=True)
    assert [layer.name for layer in before.layers if isinstance(layer, layers.Dropout)] == [
        "dropout_conv0",
        "dropout_conv1",
        "dropout_dense",
    ]
    assert before.count_params() == build_cnn_final(0.3).count_params() == 422_314


def test_final_cnn_layouts_downsample_28_to_7_with_the_same_weights():
    strided, pooled = build_cnn_final(0.1), build_cnn_final(0.1, downsample="pool")
    convs = [layer for layer in strided.layers if isinstance(layer, layers.Conv2D)]
    assert "MaxPooling2D" not in [type(layer).__name__ for layer in strided.layers]
    assert [conv.strides for conv in convs] == [(2, 2), (2, 2)]
    assert [type(layer).__name__ for layer in pooled.layers].count("MaxPooling2D") == 2
    # Both reach the Flatten layer at 7x7x64, so they carry exactly the same parameters.
    for model in (strided, pooled):
        flat = next(layer for layer in model.layers if isinstance(layer, layers.Flatten))
        assert flat.output.shape == (None, 7 * 7 * 64)
    assert strided.count_params() == pooled.count_params() == 422_314
    with pytest.raises(ValueError, match="downsample must be one of"):
        build_cnn_final(0.1, downsample="avg")


def test_over_a_million_parameters_is_refused():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dense(1300),
            layers.BatchNormalization(),
            layers.Dropout(0.2),
            layers.Dense(10),
        ]
    )
    with pytest.raises(ConstraintError, match="1,038,710 parameters; the limit is fewer than 1,000,000"):
        check_cnn_constraints(model)


def test_missing_batchnorm_or_dropout_is_refused():
    no_bn = keras.Sequential(
        [keras.Input((28, 28, 1)), layers.Conv2D(4, 3), layers.Dropout(0.1), layers.Flatten(), layers.Dense(10)]
    )
    with pytest.raises(ConstraintError, match="no BatchNormalization layer"):
        check_cnn_constraints(no_bn)
    # p = 1.0 means "no Dropout layer" (Keras 2.1's behaviour), so such a model cannot be the final one.
    with pytest.raises(ConstraintError, match="no Dropout layer"):
        check_cnn_constraints(build_cnn_final(dropout=None))
    # A rate of 0 is the identity: it does not satisfy the Dropout rule either.
    with pytest.raises(ConstraintError, match="no Dropout layer with a rate above 0"):
        check_cnn_constraints(build_cnn_final(dropout=0.0))


def test_keras3_rate_one_drops_everything_which_is_why_p1_is_defined():
    # Keras 3.15 accepts rate 1.0 and zeroes every activation in training; Keras 2.1 skipped the layer.
    out = layers.Dropout(1.0)(np.ones((2, 3), dtype="float32"), training=True)
    assert np.all(np.asarray(out) == 0)


def test_sweep_repeats_give_mean_and_spread(tiny_mnist_like_dir, tmp_path):
    from data_prep.mnist import load_idx_dataset
    from models.cnn import HAND_PICKED
    from problems.cnn import prepare, sweep
    from problems.context import RunContext

    train, val, _ = prepare(load_idx_dataset(tiny_mnist_like_dir), seed=1, test_as_validation=False)
    ctx = RunContext("2018", "3D", seed=3, repeats=2, out_dir=tmp_path, tuner_dir=tmp_path / "runs", verbose=0)
    rows = sweep(ctx, train, val, [0.5, 1.0], epochs=1, values=HAND_PICKED)
    assert [r["p"] for r in rows] == [0.5, 1.0] and all(r["runs"] == 2 for r in rows)
    assert [r["dropout_layer"] for r in rows] == [True, False]
    # Two repeats are two seeds, so two different models: a spread of exactly 0 would mean one model twice.
    assert all(r["val_loss_std"] > 0 for r in rows)


@pytest.mark.parametrize(
    ("best_first", "expected"),
    [
        ([0.0, 1.0, 0.3, 0.1], 0.3),  # p = 0 and p = 1 score best but cannot be the final rate
        ([1.0, 0.9, 0.0, 0.5], 0.9),
        ([0.2, 0.0, 1.0], 0.2),
    ],
)
def test_the_final_dropout_rate_is_never_0_or_1(best_first, expected):
    from problems.cnn import choose_rate

    rows = [{"p": p, "val_accuracy": 0.99 - 0.01 * rank} for rank, p in enumerate(best_first)]
    assert choose_rate(rows) == expected
    with pytest.raises(ValueError):
        choose_rate([{"p": 0.0, "val_accuracy": 0.9}, {"p": 1.0, "val_accuracy": 0.95}])


def test_test_as_validation_uses_the_test_set(tiny_mnist_like_dir):
    from data_prep.mnist import load_idx_dataset
    from problems.cnn import prepare

    train, val, test = prepare(load_idx_dataset(tiny_mnist_like_dir), seed=1, test_as_validation=True)
    assert val is test and len(train[0]) == 300
    train, val, test = prepare(load_idx_dataset(tiny_mnist_like_dir), seed=1, test_as_validation=False)
    assert len(train[0]) + len(val[0]) == 300 and len(val[0]) == 30


@pytest.mark.backends
def test_cnn_problem_runs_end_to_end_into_a_fresh_output_folder_with_the_chosen_trials_values(
    tiny_mnist_like_dir, tmp_path
):
    """Regression: the sweep table was written before anything had created the report folder, so a
    run into a new --out failed after the whole sweep (the committed reports/ hid it). The model trains
    with the values of the trial the committed search chose and the sweep's rate."""
    import json

    from problems.cli import main
    from tuning.records import chosen_values

    out = tmp_path / "fresh" / "reports"
    args = ["--problem", "3D", "--epochs", "1", "--dataset-dir", str(tiny_mnist_like_dir), "--out", str(out)]
    assert main([*args, "--tuner-dir", str(tmp_path / "runs"), "--quiet"]) == 0
    folder = out / tiny_mnist_like_dir.name / "2018" / "3D"
    assert (folder / "tuning_trials.csv").read_text().count("\n") == 11  # header + p = 0.1 ... 1.0
    assert {"result.json", "dropout_sweep.png", "training_curves.png"} <= {p.name for p in folder.iterdir()}
    trial_id, values = chosen_values("3D")
    result = json.loads((folder / "result.json").read_text())
    used = result["hyperparameters"]
    assert used["search_trial"] == trial_id and used["search_dropout"] == values["dropout"]
    # Every value but the rate, which the dropout sweep chooses (as the problem asks).
    assert used["dropout"] == result["metrics"]["chosen_dropout"]
    assert {k: used[k] for k in values if k != "dropout"} == {k: v for k, v in values.items() if k != "dropout"}


def test_the_cnn_search_space_holds_the_hand_made_choices_and_refuses_costly_layouts(monkeypatch):
    import keras_tuner as kt

    import tuning.cnn_search as cnn_search
    from models.cnn import HAND_PICKED, build_cnn_hp
    from tuning.cnn_search import CNNHyperModel

    # The defaults are today's final model: strided convolutions, Dropout before the classifier only.
    space = kt.HyperParameters()
    build_cnn_hp(space)
    assert {"downsample", "conv_dropout", "filters", "dense_units", "dropout", "learning_rate"} <= set(space.values)
    assert space.values["downsample"] == "stride" and space.values["conv_dropout"] is False
    augmentation = ("shift", "rotation", "zoom")  # the fit's
    assert space.values == {k: v for k, v in HAND_PICKED.items() if k not in augmentation}
    assert CNNHyperModel.augmentation(space) == {k: HAND_PICKED[k] for k in augmentation}
    assert space.values["rotation"] == 0 and space.values["zoom"] == 0.0  # hand-picked: shift only
    small_pooled = kt.HyperParameters()
    small_pooled.Fixed("downsample", "pool")
    small_pooled.Fixed("filters", 16)
    small_pooled.Fixed("conv_dropout", True)
    assert sum(isinstance(layer, layers.Dropout) for layer in build_cnn_hp(small_pooled).layers) == 3
    # The cost cap judges the layout's measured step time, not its multiply-adds: a pooled layout with
    # fewer multiply-adds than the hand-picked one is refused when it measured slower.
    pooled = {**HAND_PICKED, "filters": 16, "dense_units": 64, "downsample": "pool"}
    costs = {"32/128 stride conv_dropout=False": 1.0, "16/64 pool conv_dropout=False": 1.53}
    monkeypatch.setattr(cnn_search, "layout_costs", lambda backend: costs)
    hypermodel = CNNHyperModel((28, 28, 1), 10, decay_steps=10, seed=1, batch_size=32)
    assert hypermodel.feasible(HAND_PICKED) and not hypermodel.feasible(pooled)
    hp = kt.HyperParameters()
    hp.values.update(pooled)
    with pytest.raises(kt.errors.FailedTrialError, match="1.53x the hand-picked model's step time.*cap is 1.1x"):
        hypermodel.build(hp)
    with pytest.raises(ConstraintError, match="no measured step time"):  # a layout the table lacks
        cnn_search.check_step_cost({**HAND_PICKED, "filters": 48}, "jax")
    monkeypatch.setattr(cnn_search, "MAX_STEP_RATIO", 2.0)  # the cap is read when a trial is judged
    assert hypermodel.feasible(pooled)


def test_the_cnn_search_project_is_keyed_by_its_space(monkeypatch):
    """A widened space (the warp's rotation and zoom) or another cost cap never resumes old trials."""
    import tuning.cnn_search as cnn_search

    hypermodel = cnn_search.CNNHyperModel((28, 28, 1), 10, decay_steps=10, seed=1, batch_size=32)
    key = cnn_search.space_key(hypermodel)
    assert key == cnn_search.space_key(cnn_search.CNNHyperModel((28, 28, 1), 10, 10, seed=2, batch_size=32))
    monkeypatch.setattr(cnn_search, "ZOOMS", [0.0, 0.1])
    assert cnn_search.space_key(hypermodel) != key
    monkeypatch.undo()
    monkeypatch.setattr(cnn_search, "MAX_STEP_RATIO", 1.2)
    assert cnn_search.space_key(hypermodel) != key


def test_the_committed_layout_costs_cover_the_search_space_on_both_backends():
    import itertools

    from models.cnn import DOWNSAMPLING, HAND_PICKED, HP_DENSE_UNITS, HP_FILTERS, build_cnn_from_values
    from training.backend import BACKENDS
    from tuning.cnn_search import HAND_PICKED_LAYOUT, LAYOUT_COST, MAX_STEP_RATIO, layout_costs, layout_key

    table = json.loads(LAYOUT_COST.read_text())
    under_limit = set()
    for f, d, s, c in itertools.product(HP_FILTERS, HP_DENSE_UNITS, DOWNSAMPLING, (False, True)):
        values = {**HAND_PICKED, "filters": f, "dense_units": d, "downsample": s, "conv_dropout": c}
        if build_cnn_from_values(values).count_params() < 1_000_000:
            under_limit.add(layout_key(values))
    for backend in BACKENDS:
        assert table[backend]["reference"] == HAND_PICKED_LAYOUT and table[backend]["cap"] == MAX_STEP_RATIO
        assert set(table[backend]["layouts"]) == under_limit, backend
        costs = layout_costs(backend)
        assert 0.8 < costs[HAND_PICKED_LAYOUT] < 1.2  # timed against itself
        # An untimed layout is ruled out by a timed one over the cap.
        for key, row in table[backend]["layouts"].items():
            if "over_cap_as" in row:
                assert costs[row["over_cap_as"]] > MAX_STEP_RATIO, key


def test_the_cnn_search_starts_from_the_hand_picked_model(tiny_mnist_like_dir, tmp_path):
    from data_prep.mnist import load_idx_dataset
    from models.cnn import HAND_PICKED
    from problems.cnn import prepare
    from tuning.cnn_search import search_cnn

    train, val, _ = prepare(load_idx_dataset(tiny_mnist_like_dir), seed=1, test_as_validation=False)
    _, tuner, _ = search_cnn(train, val, 1, tmp_path, "guided", 32, trials=3, epochs=1, verbose=0)
    values = [tuner.oracle.trials[t].hyperparameters.values for t in sorted(tuner.oracle.trials)]
    first = {k: v for k, v in values[0].items() if not k.startswith("tuner/")}
    assert first == HAND_PICKED
    assert len(values) == 3 and all(v != values[0] for v in values[1:])  # then Hyperband's own draws


def test_the_cnn_search_never_hands_out_a_model_that_breaks_the_rules(tmp_path):
    # Refused trials block Hyperband's promotions (they never complete): the oracle draws again.
    import keras_tuner as kt

    from models.cnn import HAND_PICKED
    from tuning.cnn_search import CNNHyperModel, GuidedHyperbandOracle

    hypermodel = CNNHyperModel((28, 28, 1), 10, decay_steps=10, seed=1, batch_size=32)
    assert hypermodel.feasible(HAND_PICKED) and not hypermodel.feasible({**HAND_PICKED, "filters": 64})
    space = kt.HyperParameters()
    hypermodel.build(space)  # the space, as keras-tuner populates it
    oracle = GuidedHyperbandOracle(
        objective=kt.Objective("val_accuracy", "max"), max_epochs=10, factor=3, seed=1,
        hyperparameters=space, feasible=hypermodel.feasible,
    )  # fmt: skip
    oracle._set_project_dir(str(tmp_path), "guided")
    handed = []
    for _ in range(12):
        trial = oracle.create_trial("tuner0")
        handed.append({k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")})
        oracle.update_trial(trial.trial_id, {"val_accuracy": 0.5})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    assert handed[0] == {k: v for k, v in HAND_PICKED.items() if k not in ("shift", "rotation", "zoom")}  # build's
    assert all(hypermodel.feasible(values) for values in handed)
    plain = kt.oracles.HyperbandOracle(objective="val_accuracy", max_epochs=10, factor=3, seed=1, hyperparameters=space)
    draws = [plain._random_values() for _ in range(12)]
    assert not all(hypermodel.feasible(values) for values in draws)  # the space does hold refused models


@pytest.mark.parametrize("tune", [False, True])
def test_the_sweep_spreads_over_workers_except_after_a_search_in_the_same_run(monkeypatch, tune, tmp_path):
    # A worker replays the run from its start: after --tune's Hyperband search it would join that
    # search's oracle instead of the sweep's (found at budget: the sweep's trials got CNN values).
    import numpy as np

    import problems.cnn as cnn
    import tuning.dropout_sweep
    from models.cnn import HAND_PICKED

    seen = {}

    def fake_sweep_search(rates, **kwargs):
        seen.update(kwargs)
        return []

    monkeypatch.setattr(tuning.dropout_sweep, "sweep_search", fake_sweep_search)
    ctx = cnn.RunContext.__new__(cnn.RunContext)
    ctx.__dict__.update(
        edition="2018", problem_id="3D", seed=1, repeats=1, tuner_dir=tmp_path, tensorboard=None, verbose=0,
        worker_timeout=60, jobs=2, worker_argv=["main.py"], tune=tune,
    )  # fmt: skip
    split = (np.zeros((4, 28, 28, 1), "float32"), np.eye(10, dtype="float32")[:4])
    cnn.sweep(ctx, split, split, [0.1], 1, HAND_PICKED)
    assert seen["workers"] == (None if tune else (["main.py"], 2))


def test_the_cnn_trains_with_its_trials_augmentation_and_old_records_without_a_warp(monkeypatch, tmp_path):
    import problems.cnn as cnn
    from models.cnn import HAND_PICKED

    old = {k: v for k, v in HAND_PICKED.items() if k not in ("rotation", "zoom")}
    assert cnn.settings_of({**old, "tuner/epochs": 4}) == {**old, "rotation": 0, "zoom": 0.0}
    warped = cnn.settings_of({**old, "rotation": 10, "zoom": 0.05})
    assert (warped["rotation"], warped["zoom"]) == (10, 0.05)
    assert "rotation 10, zoom 0.05" in cnn.settings_summary(warped)
    assert "rotation" not in cnn.settings_summary(cnn.settings_of(old))
    seen = {}
    monkeypatch.setattr(cnn, "fit", lambda *args, **kwargs: seen.update(kwargs))
    images = np.zeros((4, 28, 28, 1), "float32")
    cnn._fit(None, (images, None), None, epochs=1, seed=1, verbose=0, values=warped)
    assert (seen["shift"], seen["rotation"], seen["zoom"]) == (HAND_PICKED["shift"], 10, 0.05)
