"""The depth-vs-width budget validator and the MLP factories."""

import keras
import keras_tuner as kt
import pytest
from keras import layers

from models.budget import BudgetError, MLPBudget, check_budget
from models.mlp import (
    BUDGETS,
    build_mlp,
    build_mlp_2c,
    build_mlp_2d,
    build_mlp_2e,
    build_mlp_hp,
    build_sample_model,
    split_budget,
)


@pytest.mark.parametrize(("factory", "key"), [(build_mlp_2c, "2C"), (build_mlp_2d, "2D"), (build_mlp_2e, "2E")])
def test_every_factory_passes_its_budget(factory, key):
    found = check_budget(factory(), BUDGETS[key])
    assert found.total_hidden_units <= BUDGETS[key].max_hidden_units
    assert found.hidden_layers >= BUDGETS[key].min_hidden_layers


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
    with pytest.raises(BudgetError, match="tanh"):
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


def test_search_space_default_candidate_is_in_budget():
    budget = MLPBudget(200, 2)
    model = build_mlp_hp(kt.HyperParameters(), budget)
    assert check_budget(model, budget).total_hidden_units == 200
