"""Depth-vs-width MLPs on flattened MNIST (2018 2C-2E, 2023 3B-3D), and the course's sample model.

What ships is what a search chose: ``python main.py --problem <2C|2D|2E> --tune`` runs keras-tuner
over ``build_mlp_hp`` (``tuning/mlp_search.py``), compares its best trial with ``HAND_PICKED`` over 3
seeds on the validation split and records the chosen trial in ``reports/2018/<id>/search/search.json``;
every run without ``--tune`` trains with that trial's values (``tuning.records.chosen_values``,
turned into ``build_mlp`` arguments by ``settings_from_values``). The 2023 numbering (3B-3D) uses
the same budgets and the same records.
"""

from __future__ import annotations

import keras
from keras import layers

from models.budget import BudgetError, MLPBudget, check_budget
from training import STEPS_PER_EXECUTION, adam, steps_per_epoch
from training.pipeline import ROTATIONS, SHIFTS, ZOOMS  # the augmentation searched

BUDGETS = {
    "2C": MLPBudget(max_hidden_units=100, min_hidden_layers=1),
    "2D": MLPBudget(max_hidden_units=200, min_hidden_layers=2),
    "2E": MLPBudget(max_hidden_units=1000, min_hidden_layers=3),
}

# The settings picked by hand before the searches chose (one 12-trial random search for the widths,
# rates and shift, then epochs and batch size by side-by-side runs). Each search runs them as its
# first trial, so it weighs them like any other configuration.
_HAND_SHARED = dict(
    dropout_input=0.2,
    dropout=0.0,
    learning_rate=0.0027247749283643304,
    schedule="cosine",
    shift=2,
    rotation=0,
    zoom=0.0,
    shape="funnel",
)
HAND_PICKED = {
    "2C": dict(hidden_layers=1, epochs=40, batch_size=128, **_HAND_SHARED),
    "2D": dict(hidden_layers=2, epochs=20, batch_size=256, **_HAND_SHARED),
    "2E": dict(hidden_layers=3, epochs=20, batch_size=256, **_HAND_SHARED),
}

# The cost cap: a configuration whose training would cost more than this (estimated as
# 6 x weights x training images x epochs floating-point operations: forward and backward passes) is
# refused before it trains, like one over the unit budget. One core trains these MLPs at 50-80
# GFLOP/s here, so 2E's cap keeps a seed of its final training near 100 s and `--problem all` inside
# its time goal. 2C's and 2D's caps admit their equal-width layouts at the longest training (80
# epochs: 2.1 and 2.4 TFLOP), whose time is mostly per-step cost, not arithmetic.
COST_CAP_TFLOP = {"2C": 2.5, "2D": 2.5, "2E": 5.0}

# The searched values (besides the budget's depth range); every HAND_PICKED value is among them.
DROPOUT_INPUT = [0.0, 0.1, 0.2, 0.3]
DROPOUT_HIDDEN = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
LEARNING_RATE = (3e-4, 1e-2)  # log scale
SCHEDULES = ["cosine", "constant"]  # Adam's rate decays to 0 over the training, or stays
EPOCHS = [10, 20, 30, 40, 60, 80]
BATCH_SIZES = [128, 256]


class CostError(BudgetError):
    """A configuration would cost more to train than its budget's cap."""


def build_mlp(
    hidden_units,
    dropout_input: float = 0.0,
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
    decay_steps: int | None = None,
    input_dim: int = 784,
    num_classes: int = 10,
    name: str = "mlp",
) -> keras.Model:
    """A ReLU MLP from the course's allowed layers: [Dropout] (Dense ReLU Dropout)* Dense softmax.

    Args:
        hidden_units: widths of the hidden Dense layers, input side first.
        dropout_input: dropout rate on the 784 pixels (0 adds no layer).
        dropout: dropout rate after each hidden layer (0 adds no layer).
        learning_rate: Adam's initial learning rate.
        decay_steps: if given, the rate follows a cosine decay to 0 over this many steps.
    """
    model = keras.Sequential(name=name)
    model.add(keras.Input((input_dim,)))
    if dropout_input:
        model.add(layers.Dropout(dropout_input))
    for units in hidden_units:
        model.add(layers.Dense(units, activation="relu"))
        if dropout:
            model.add(layers.Dropout(dropout))
    model.add(layers.Dense(num_classes, activation="softmax"))
    model.compile(
        optimizer=adam(learning_rate, decay_steps),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


def build_sample_model() -> keras.Model:
    """The course's deliberately poor sample: Dense(10) relu, Dropout(0.4), Dense(10) relu,
    Dense(1) softmax, mse, adadelta. A 1-unit softmax always outputs 1.0, so it cannot learn:
    the baseline row. Adadelta's rate is Keras 2.1's default, 1.0 (Keras 3 defaults to 0.001)."""
    model = keras.Sequential(
        [
            keras.Input((784,)),
            layers.Dense(10, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(10, activation="relu"),
            layers.Dense(1, activation="softmax"),
        ],
        name="course_sample",
    )
    model.compile(
        optimizer=keras.optimizers.Adadelta(1.0),
        loss="mse",
        # Categorical accuracy (the 1-unit output against one-hot labels), named as every model's accuracy.
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


def split_budget(total: int, n_layers: int, shape: str) -> tuple[int, ...]:
    """Spread ``total`` hidden units over ``n_layers``: 'equal' widths, or a 'funnel' (n, n-1, ..., 1)."""
    weights = [1] * n_layers if shape == "equal" else list(range(n_layers, 0, -1))
    widths = [total * w // sum(weights) for w in weights]
    widths[0] += total - sum(widths)  # rounding leftovers go to the widest layer
    return tuple(widths)


def settings_from_values(values: dict, budget: MLPBudget) -> dict:
    """A search trial's values (``build_mlp_hp``'s names) as the final training's settings:
    ``build_mlp`` arguments plus schedule, epochs, batch size and augmentation (a search recorded
    before rotation and zoom were searched trained without them: 0)."""
    return {
        "hidden_units": split_budget(budget.max_hidden_units, values["hidden_layers"], values["shape"]),
        "dropout_input": values["dropout_input"],
        "dropout": values["dropout"],
        "learning_rate": values["learning_rate"],
        "schedule": values["schedule"],
        "epochs": values["epochs"],
        "batch_size": values["batch_size"],
        "shift": values["shift"],
        "rotation": values.get("rotation", 0),
        "zoom": values.get("zoom", 0.0),
    }


def training_tflop(hidden_units, epochs: int, images: int, input_dim: int = 784, num_classes: int = 10) -> float:
    """Estimated training cost in TFLOP: 6 x weights x images x epochs (2 forward, 4 backward)."""
    widths = [input_dim, *hidden_units, num_classes]
    weights = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    return 6 * weights * images * epochs / 1e12


def check_cost(settings: dict, cap_tflop: float, images: int, input_dim: int = 784, num_classes: int = 10) -> float:
    """Refuse ``settings`` (CostError) if training them on ``images`` would cost more than ``cap_tflop``;
    returns the estimated cost."""
    cost = training_tflop(settings["hidden_units"], settings["epochs"], images, input_dim, num_classes)
    if cost > cap_tflop:
        raise CostError(
            f"{list(settings['hidden_units'])} for {settings['epochs']} epochs on {images:,} images would cost "
            f"{cost:.2f} TFLOP; the cap is {cap_tflop:.2f}"
        )
    return cost


def build_from_settings(
    settings: dict, fit_images: int, epochs: int | None = None, input_dim: int = 784, num_classes: int = 10, name="mlp"
) -> keras.Model:
    """The compiled MLP of ``settings`` (``settings_from_values``) for training on ``fit_images`` images
    for ``epochs`` (default the settings'): a cosine schedule decays to 0 over exactly that training."""
    epochs = epochs or settings["epochs"]
    decay = epochs * steps_per_epoch(fit_images, settings["batch_size"]) if settings["schedule"] == "cosine" else None
    return build_mlp(
        settings["hidden_units"],
        settings["dropout_input"],
        settings["dropout"],
        settings["learning_rate"],
        decay_steps=decay,
        input_dim=input_dim,
        num_classes=num_classes,
        name=name,
    )


def build_mlp_hp(
    hp,
    budget: MLPBudget,
    fit_images: int,
    cap_tflop: float | None = None,
    epochs: int | None = None,
    input_dim: int = 784,
    num_classes: int = 10,
) -> keras.Model:
    """keras-tuner search space inside ``budget``: depth and shape (how the units are spread), input and
    hidden dropout, Adam's rate and its schedule, the augmentation (pixel shift, rotation, zoom),
    epochs and batch size (all but the model's own read by ``tuning.mlp_search.MLPHyperModel.fit``).

    Every candidate spends the whole budget (extra units never hurt an MLP with dropout here), so the
    search is about how to spend it and how long to train. ``epochs`` overrides the drawn epochs
    (quick looks and tests). A drawn model over the budget (``BudgetError``) or over ``cap_tflop``
    (``CostError``) is refused before it trains.
    """
    values = {
        "hidden_layers": hp.Int("hidden_layers", budget.min_hidden_layers, budget.min_hidden_layers + 2),
        "shape": hp.Choice("shape", ["equal", "funnel"]),
        "dropout_input": hp.Choice("dropout_input", DROPOUT_INPUT),
        "dropout": hp.Choice("dropout", DROPOUT_HIDDEN),
        "learning_rate": hp.Float("learning_rate", *LEARNING_RATE, sampling="log"),
        "schedule": hp.Choice("schedule", SCHEDULES),
        "shift": hp.Choice("shift", SHIFTS),
        "rotation": hp.Choice("rotation", ROTATIONS),
        "zoom": hp.Choice("zoom", ZOOMS),
        "epochs": hp.Choice("epochs", EPOCHS),
        "batch_size": hp.Choice("batch_size", BATCH_SIZES),
    }
    settings = settings_from_values(values, budget)
    if cap_tflop is not None:
        check_cost(settings, cap_tflop, fit_images, input_dim, num_classes)
    model = build_from_settings(settings, fit_images, epochs, input_dim, num_classes)
    check_budget(model, budget)
    return model


# The 4E comparison's space: small enough to enumerate (3 x 2 x 2 = 12 points).
SMALL_SPACE = {"units": [32, 64, 128], "dropout": [0.0, 0.2], "learning_rate": [1e-3, 3e-3]}


def build_small_mlp(units: int, dropout: float, learning_rate: float) -> keras.Model:
    """One point of ``SMALL_SPACE``: one hidden layer of ``units``, its dropout, Adam at ``learning_rate``."""
    return build_mlp([units], dropout=dropout, learning_rate=learning_rate)


def build_small_mlp_hp(hp) -> keras.Model:
    """A deliberately small, fully enumerable search space (``SMALL_SPACE``) for comparing
    keras-tuner's oracles (2023 4E): one hidden layer's width, its dropout, Adam's learning rate."""
    return build_small_mlp(**{name: hp.Choice(name, values) for name, values in SMALL_SPACE.items()})
