"""Linear networks predicting death_yn from the encoded COVID-19 features (2023 2C and 2D).

Loss: binary cross-entropy on the logit (``from_logits=True``). The label is yes/no, so the network's
one output is read as the log-odds of death: the network itself stays linear (no activation
anywhere, which 2D's argument needs), and the sigmoid lives only inside the loss. That makes 2C
logistic regression, whose scores are probabilities for ROC AUC and whose loss has a floor at the
base rate; MSE on 0/1 labels (``loss="mse"``) would be a linear-probability model whose outputs are
not probabilities. Accuracy thresholds the logit at 0 (probability 0.5).

Expected on the shipped extract (6 deaths in 5,322 cases): both models predict "No" for every test
case, like the constant predictor, so accuracy and balanced accuracy say nothing; ROC AUC shows
whether the scores rank deaths above survivors. 2D's loss is close to 2C's: its two Dense layers
compose to one linear map (``collapse_linear_2``).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

LOSSES = ("bce", "mse")
LEARNING_RATE = 0.01  # Adam; a few thousand samples and ~30 inputs converge within tens of epochs at this rate
HIDDEN_UNITS = 8  # 2D's hidden width: any width >= 1 gives the same function class (a rank-1 linear map here)


def _compile(model: keras.Model, loss: str, learning_rate: float) -> keras.Model:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if loss == "bce":
        loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        accuracy = keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")  # logit 0 = probability 0.5
    else:
        loss_fn = keras.losses.MeanSquaredError()
        accuracy = keras.metrics.BinaryAccuracy(threshold=0.5, name="accuracy")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss_fn, metrics=[accuracy])
    return model


def build_linear_1(n_features: int, loss: str = "bce", learning_rate: float = LEARNING_RATE) -> keras.Model:
    """2C: one Dense layer, no activation: ``logit = x @ W + b`` (n_features + 1 parameters).

    Args:
        n_features: width of the encoded input.
        loss: "bce" (binary cross-entropy on the logit; default, see the module docstring) or "mse".
        learning_rate: Adam's rate.
    """
    model = keras.Sequential([keras.Input((n_features,)), layers.Dense(1, name="out")], name="linear_1")
    return _compile(model, loss, learning_rate)


def build_linear_2(
    n_features: int, hidden_units: int = HIDDEN_UNITS, loss: str = "bce", learning_rate: float = LEARNING_RATE
) -> keras.Model:
    """2D: two Dense layers with no activation between: ``(x @ W1 + b1) @ W2 + b2``.

    Expected: a test loss close to 2C's, since the composition is the single linear map that
    ``collapse_linear_2`` computes.

    Args:
        n_features: width of the encoded input.
        hidden_units: width of the first Dense layer.
        loss: "bce" (default) or "mse".
        learning_rate: Adam's rate.
    """
    model = keras.Sequential(
        [keras.Input((n_features,)), layers.Dense(hidden_units, name="hidden"), layers.Dense(1, name="out")],
        name="linear_2",
    )
    return _compile(model, loss, learning_rate)


def collapse_linear_2(model: keras.Model) -> tuple[np.ndarray, np.ndarray]:
    """The one linear map a two-Dense-layer linear model computes: ``W = W1 @ W2``, ``b = b1 @ W2 + b2``.

    Works in float64, so comparing ``x @ W + b`` with the model's own float32 output measures only
    the model's rounding.

    Returns:
        (W, b): shapes (n_features, outputs) and (outputs,).
    """
    dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
    if len(dense) != 2 or any(layer.activation is not keras.activations.linear for layer in dense):
        raise ValueError(f"{model.name}: expected two Dense layers without activation")
    (w1, b1), (w2, b2) = (tuple(np.asarray(v, dtype="float64") for v in layer.get_weights()) for layer in dense)
    return w1 @ w2, b1 @ w2 + b2
