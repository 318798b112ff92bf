"""The depth-vs-width budget validator, the hand-picked settings, the MLP search space and its cost cap."""

import keras
import keras_tuner as kt
import pytest
from keras import layers

from models.budget import BudgetError, MLPBudget, check_budget
from models.mlp import (
    BUDGETS,
    COST_CAP_TFLOP,
    HAND_PICKED,
    CostError,
    build_mlp,
    build_mlp_hp,
    build_sample_model,
    settings_from_values,
    split_budget,
    training_tflop,
)

FIT_IMAGES = 55_000


@pytest.mark.parametrize("key", ["2C", "2D", "2E"])
def test_the_hand_picked_settings_are_a_point_of_the_search_space_within_budget_and_cap(key):
    # The search runs them as its first trial: every value must be one the space can hold.
    values = HAND_PICKED[key]
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    model = build_mlp_hp(hp, BUDGETS[key], FIT_IMAGES, COST_CAP_TFLOP[key])
    found = check_budget(model, BUDGETS[key])
    assert found.total_hidden_units == BUDGETS[key].max_hidden_units
    assert found.hidden_units == list(settings_from_values(values, BUDGETS[key])["hidden_units"])
    space = kt.HyperParameters()
    build_mlp_hp(space, BUDGETS[key], FIT_IMAGES)
    for hp_def in space.space:
        if isinstance(hp_def, kt.engine.hyperparameters.Choice):
            assert values[hp_def.name] in hp_def.values, hp_def.name
        else:
            assert hp_def.min_value <= values[hp_def.name] <= hp_def.max_value, hp_def.name


def test_the_cost_cap_refuses_a_configuration_before_it_trains():
    # 2E's funnel at 20 epochs is under its cap; at 40 epochs it would cost twice as much.
    values = dict(HAND_PICKED["2E"])
    settings = settings_from_values(values, BUDGETS["2E"])
    cost = training_tflop(settings["hidden_units"], 20, FIT_IMAGES)
    assert 4.0 < cost < COST_CAP_TFLOP["2E"]
    hp = kt.HyperParameters()
    for name, value in {**values, "epochs": 40}.items():
        hp.Fixed(name, value)
    with pytest.raises(CostError, match=r"8\.14 TFLOP; the cap is 5\.00"):
        build_mlp_hp(hp, BUDGETS["2E"], FIT_IMAGES, COST_CAP_TFLOP["2E"])


def test_sample_model_counts_20_units_in_2_layers():
    assert check_budget(build_sample_model(), BUDGETS["2D"]).hidden_units == [10, 10]


def test_over_budget_is_refused():
    with pytest.raises(BudgetError, match=r"101 hidden units \[101\]; the budget is 100"):
        check_budget(build_mlp([101]), BUDGETS["2C"])


def test_too_shallow_is_refused():
    with pytest.raises(BudgetError, match="at least 3"):
        check_budget(build_mlp([500, 500]), BUDGETS["2E"])


def test_forbidden_layer_is_refused():
    model = keras.Sequential([keras.Input((784,)), layers.Dense(50), layers.BatchNormalization(), layers.Dense(10)])
    with pytest.raises(BudgetError, match="BatchNormalization"):
        check_budget(model, BUDGETS["2C"])


def test_forbidden_activation_is_refused():
    model = keras.Sequential([keras.Input((784,)), layers.Dense(50, activation="tanh"), layers.Dense(10)])
    with pytest.raises(BudgetError, match="uses activation 'tanh'; only relu and softmax"):
        check_budget(model, BUDGETS["2C"])


def test_tanh_as_its_own_activation_layer_is_refused():
    # An Activation layer is allowed for relu and softmax, so its activation must be checked too.
    model = keras.Sequential([keras.Input((784,)), layers.Dense(50), layers.Activation("tanh"), layers.Dense(10)])
    with pytest.raises(BudgetError, match="uses activation 'tanh'"):
        check_budget(model, BUDGETS["2C"])
    allowed = keras.Sequential([keras.Input((784,)), layers.Dense(50), layers.Activation("relu"), layers.Dense(10)])
    assert check_budget(allowed, BUDGETS["2C"]).hidden_units == [50]


def test_a_model_with_no_dense_layer_is_refused():
    model = keras.Sequential([keras.Input((784,)), layers.Dropout(0.2), layers.Softmax()])
    with pytest.raises(BudgetError, match="no Dense layer"):
        check_budget(model, BUDGETS["2C"])


def test_functional_model_with_separate_relu_layers():
    inputs = keras.Input((784,))
    x = layers.ReLU()(layers.Dense(60)(inputs))
    x = layers.Dropout(0.2)(x)
    outputs = layers.Softmax()(layers.Dense(10)(layers.ReLU()(layers.Dense(40)(x))))
    assert check_budget(keras.Model(inputs, outputs), BUDGETS["2D"]).hidden_units == [60, 40]


@pytest.mark.parametrize(("n", "shape"), [(1, "equal"), (3, "equal"), (3, "funnel"), (5, "funnel")])
def test_split_budget_spends_exactly_the_budget(n, shape):
    widths = split_budget(1000, n, shape)
    assert sum(widths) == 1000 and len(widths) == n and min(widths) > 0


@pytest.mark.parametrize("shape", ["equal", "funnel"])
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_every_search_space_depth_and_shape_spends_the_budget(depth, shape):
    hp = kt.HyperParameters()
    hp.Fixed("hidden_layers", depth)
    hp.Fixed("shape", shape)
    model = build_mlp_hp(hp, MLPBudget(200, 2), FIT_IMAGES)
    widths = [layer.units for layer in model.layers if isinstance(layer, layers.Dense)][:-1]
    assert widths == list(split_budget(200, depth, shape)) and sum(widths) == 200


def test_course_baseline_trains_once_per_seed_and_data_and_says_when_reused(monkeypatch, tmp_path):
    """The three budgets share one baseline row, kept as a file (the budgets may run in separate
    processes): a second call with the same seed, epochs and data reuses it and says so; another seed
    trains again; without a folder every call trains."""
    import numpy as np

    import problems.depth_width as dw

    built = []
    monkeypatch.setattr(dw, "build_sample_model", lambda: built.append(1) or build_sample_model())
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 784), dtype=np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]
    first = dw.course_baseline((x, y), (x[:16], y[:16]), (x[:16], y[:16]), seed=1, epochs=1, cache_dir=tmp_path)
    again = dw.course_baseline((x, y), (x[:16], y[:16]), (x[:16], y[:16]), seed=1, epochs=1, cache_dir=tmp_path)
    assert len(built) == 1 and not first.pop("reused") and again.pop("reused") and again == first
    dw.course_baseline((x, y), (x[:16], y[:16]), (x[:16], y[:16]), seed=2, epochs=1, cache_dir=tmp_path)
    assert len(built) == 2
    dw.course_baseline((x, y), (x[:16], y[:16]), (x[:16], y[:16]), seed=1, epochs=1)
    assert len(built) == 3


def test_the_search_space_key_changes_with_the_space_and_the_cap():
    # A rerun resumes the kept trials only under the same space: a widened one starts afresh.
    from tuning import mlp_search

    key = mlp_search.space_key(mlp_search.MLPHyperModel(BUDGETS["2D"], COST_CAP_TFLOP["2D"], FIT_IMAGES, 1))
    assert key == mlp_search.space_key(mlp_search.MLPHyperModel(BUDGETS["2D"], COST_CAP_TFLOP["2D"], FIT_IMAGES, 2))
    assert key != mlp_search.space_key(mlp_search.MLPHyperModel(BUDGETS["2D"], 2.0, FIT_IMAGES, 1))
    assert key != mlp_search.space_key(mlp_search.MLPHyperModel(BUDGETS["2C"], COST_CAP_TFLOP["2D"], FIT_IMAGES, 1))
