"""The course's depth-vs-width rules, checked on any Keras model.

Rules (2018 section 2, 2023 section 3): the only layers allowed are Dense, ReLU, softmax and
Dropout; only hidden Dense units count towards the budget (not the output layer, activations or
Dropout); some problems also set a minimum number of hidden layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

ALLOWED_LAYERS = (
    keras.layers.InputLayer,
    keras.layers.Dense,
    keras.layers.ReLU,
    keras.layers.Softmax,
    keras.layers.Dropout,
    keras.layers.Activation,
)
ALLOWED_ACTIVATIONS = {"relu", "softmax", "linear"}


class BudgetError(ValueError):
    """A model breaks the problem's rules; the message says which rule and by how much."""


@dataclass(frozen=True)
class MLPBudget:
    """A depth-vs-width budget: at most ``max_hidden_units`` hidden Dense units in at least
    ``min_hidden_layers`` hidden Dense layers."""

    max_hidden_units: int
    min_hidden_layers: int = 1


@dataclass(frozen=True)
class BudgetReport:
    hidden_units: list[int]

    @property
    def total_hidden_units(self) -> int:
        return sum(self.hidden_units)

    @property
    def hidden_layers(self) -> int:
        return len(self.hidden_units)


def _activation_name(layer) -> str:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", str(act))


def inspect_mlp(model: keras.Model) -> BudgetReport:
    """Check the layer types and return the hidden Dense widths (every Dense but the last).

    Raises:
        BudgetError: a layer type or activation outside the course's list.
    """
    dense = []
    for layer in model.layers:
        if not isinstance(layer, ALLOWED_LAYERS):
            raise BudgetError(
                f"layer '{layer.name}' is a {type(layer).__name__}; only Dense, ReLU, softmax and Dropout "
                "layers are allowed in the depth-vs-width problems"
            )
        if isinstance(layer, (keras.layers.Dense, keras.layers.Activation)):
            name = _activation_name(layer)
            if name not in ALLOWED_ACTIVATIONS:
                raise BudgetError(f"layer '{layer.name}' uses activation '{name}'; only relu and softmax are allowed")
        if isinstance(layer, keras.layers.Dense):
            dense.append(layer.units)
    if not dense:
        raise BudgetError("the model has no Dense layer, so no output layer")
    return BudgetReport(hidden_units=dense[:-1])


def check_budget(model: keras.Model, budget: MLPBudget) -> BudgetReport:
    """Refuse ``model`` unless it obeys ``budget`` and the allowed-layer rule.

    Returns:
        The hidden widths found, for the report.

    Raises:
        BudgetError: naming the rule broken and the counts found.
    """
    found = inspect_mlp(model)
    if found.total_hidden_units > budget.max_hidden_units:
        raise BudgetError(
            f"model '{model.name}' has {found.total_hidden_units} hidden units {found.hidden_units}; "
            f"the budget is {budget.max_hidden_units}"
        )
    if found.hidden_layers < budget.min_hidden_layers:
        raise BudgetError(
            f"model '{model.name}' has {found.hidden_layers} hidden layer(s) {found.hidden_units}; "
            f"the problem asks for at least {budget.min_hidden_layers}"
        )
    return found
