"""Linear networks predicting death_yn from the encoded COVID-19 features (2023 2C and 2D).

Loss: binary cross-entropy on the logit (``from_logits=True``). The label is yes/no, so the network's
one output is read as the log-odds of death: the network itself stays linear (no activation
anywhere, which 2D's argument needs), and the sigmoid lives only inside the loss. That makes 2C
logistic regression, whose scores are probabilities for ROC AUC and whose loss has a floor at the
base rate; MSE on 0/1 labels (``loss="mse"``) would be a linear-probability model whose outputs are
not probabilities. Accuracy thresholds the logit at 0 (probability 0.5).

Training (``fit_weighted``): the data come as distinct rows with counts (data_prep/covid.py), and
each epoch is one full-batch Adam step on the count-weighted mean loss, which is exactly the mean
loss over every training case: the same objective as training on the repeated rows, at a cost that
does not grow with the number of cases.

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
LEARNING_RATE = 0.01  # Adam, full batch: ~30 inputs; the loss settles within a few hundred steps at this rate
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


def fit_weighted(
    model: keras.Model, x: np.ndarray, y: np.ndarray, counts: np.ndarray, epochs: int, report_every: int = 0
) -> list[float]:
    """Full-batch training on distinct rows weighted by how many cases each stands for.

    Keras divides a batch's weighted loss sum by its number of rows, so the weights are the counts
    over their mean: the loss is then ``sum(count * loss) / sum(count)``, the mean over the cases,
    and one step here is one step on the repeated rows in a single batch (tests check both).

    Args:
        model: a compiled model.
        x, y: the distinct rows and their labels.
        counts: cases per row (class weights, if any, already multiplied in); rows with 0 are dropped.
        epochs: full-batch steps, each one pass over every case.
        report_every: print the loss every this many epochs (0: silent).

    Returns:
        The training loss per epoch (before each epoch's step, as Keras records it).
    """
    from training.backend import import_tensorflow

    tf = import_tensorflow()  # tf.data feeds any backend; imported quietly
    keep = counts > 0
    weights = (counts[keep] / counts[keep].mean()).astype("float32")
    # One tensor repeated: each epoch is one step over all rows, without numpy slicing per epoch.
    data = tf.data.Dataset.from_tensors((x[keep], y[keep].astype("float32"), weights)).repeat()
    callbacks = []
    if report_every:
        callbacks.append(
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: (
                    (epoch + 1) % report_every == 0 and print(f"  epoch {epoch + 1}/{epochs}: loss {logs['loss']:.5f}")
                )
            )
        )
    history = model.fit(data, epochs=epochs, steps_per_epoch=1, shuffle=False, verbose=0, callbacks=callbacks)
    return [float(v) for v in history.history["loss"]]
