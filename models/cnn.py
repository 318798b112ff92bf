"""CNNs on MNIST (2018 3D, 2023 4F): the course's starter, the 2018 write-up's final model, ours.

The problem's constraints: fewer than 1,000,000 parameters, at least one Dropout and one
BatchNormalization layer; ``check_cnn_constraints`` refuses any model that breaks them.
"""

from __future__ import annotations

import keras
from keras import layers

from training import STEPS_PER_EXECUTION, adam

MAX_PARAMS = 1_000_000
# The problem's batch size and epochs (both editions).
BATCH_SIZE = 32
SWEEP_EPOCHS, FINAL_EPOCHS = 1, 10
# The settings picked by hand before the search (side-by-side runs and a 1-epoch dropout sweep): the
# search space's defaults and its first configuration, one of the two finalists. What ships is the
# search's choice, read from reports/2018/3D/search/search.json (problems/cnn.py).
HAND_PICKED = {
    "filters": 32,
    "dense_units": 128,
    "downsample": "stride",
    "conv_dropout": False,
    "dropout": 0.3,
    "learning_rate": 2e-3,
    "shift": 1,
    "rotation": 0,
    "zoom": 0.0,
}


class ConstraintError(ValueError):
    """A CNN breaks the problem's constraints; the message names the rule and the count found."""


def check_cnn_constraints(model: keras.Model, max_params: int = MAX_PARAMS) -> dict:
    """Refuse ``model`` unless it has fewer than ``max_params`` parameters, a Dropout layer that drops
    something (rate > 0) and a BatchNormalization layer. Returns the counts found, for the report."""
    params = model.count_params()
    kinds = [type(layer).__name__ for layer in model.layers]
    found = {
        "params": params,
        # Dropout(0.0) is the identity: it does not count as the problem's Dropout layer.
        "dropout_layers": sum(isinstance(layer, layers.Dropout) and layer.rate > 0 for layer in model.layers),
        "batchnorm_layers": kinds.count("BatchNormalization"),
    }
    if params >= max_params:
        raise ConstraintError(f"model '{model.name}' has {params:,} parameters; the limit is fewer than {max_params:,}")
    if not found["dropout_layers"]:
        raise ConstraintError(
            f"model '{model.name}' has no Dropout layer with a rate above 0; the problem asks for at least one"
        )
    if not found["batchnorm_layers"]:
        raise ConstraintError(
            f"model '{model.name}' has no BatchNormalization layer; the problem asks for at least one"
        )
    return found


def _compile(model: keras.Model, optimizer) -> keras.Model:
    model.compile(
        optimizer=optimizer,
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


def _dropout_2018(rate: float) -> list:
    """Dropout at ``rate`` as Keras 2.1.3 (the 2018 stack) applied it: only when 0 < rate < 1, so a
    rate of 1.0 meant no dropout at all (Keras 3's Dropout(1.0) would zero every activation)."""
    return [layers.Dropout(rate)] if 0 < rate < 1 else []


def build_starter_cnn(dropout: float = 0.2) -> keras.Model:
    """The course's 2018 starter: twice [Conv2D(8, 3x3, same), BN, ReLU, MaxPool 2x2, Dropout(p)],
    then Flatten, Dense(64) ReLU, Dense(10) softmax; Adam with Keras' defaults. p = 1.0 (or 0) builds
    no Dropout layer, as Keras 2.1.3 applied it (``_dropout_2018``)."""
    model = keras.Sequential(name="starter_cnn")
    model.add(keras.Input((28, 28, 1)))
    for _ in range(2):
        model.add(layers.Conv2D(8, 3, padding="same"))
        model.add(layers.BatchNormalization())
        model.add(layers.ReLU())
        model.add(layers.MaxPooling2D(2))
        for layer in _dropout_2018(dropout):
            model.add(layer)
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))
    return _compile(model, keras.optimizers.Adam())


# The 2023 edition ran PyTorch 1.13. Its layers start from PyTorch's default initialisation, which
# Keras can state exactly: weights uniform in +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5),
# i.e. VarianceScaling(1/3, fan_in, uniform)) and biases uniform in the same bounds.
TORCH_RMSPROP = {"learning_rate": 0.01, "rho": 0.99, "epsilon": 1e-8}  # torch.optim.RMSprop's defaults


def _torch_init(fan_in: int) -> dict:
    bound = fan_in**-0.5
    return {
        "kernel_initializer": keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
        "bias_initializer": keras.initializers.RandomUniform(-bound, bound),
    }


def _torch_conv(channels_in: int, channels_out: int, **kwargs) -> layers.Conv2D:
    return layers.Conv2D(channels_out, 3, **_torch_init(channels_in * 9), **kwargs)


def _torch_linear(features_in: int, features_out: int, **kwargs) -> layers.Dense:
    return layers.Dense(features_out, **_torch_init(features_in), **kwargs)


def _compile_torch(model: keras.Model, learning_rate: float) -> keras.Model:
    """PyTorch's cross-entropy on logits and ``optim.RMSprop`` with its defaults (Keras puts epsilon
    inside the square root, PyTorch outside: the two differ only where the squared-gradient average
    is below about 1e-8)."""
    model.compile(
        optimizer=keras.optimizers.RMSprop(**{**TORCH_RMSPROP, "learning_rate": learning_rate}),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


def build_starter_2023(dropout: float = 0.5, learning_rate: float = TORCH_RMSPROP["learning_rate"]) -> keras.Model:
    """The 2023 edition's starter, the course's PyTorch notebook: Conv2d(1, 8, 3), ReLU, MaxPool2d(2),
    Dropout(p), Conv2d(8, 8, 3), ReLU, MaxPool2d(2), Dropout(p), Flatten, Linear(200, 64), ReLU,
    Linear(64, 10) on logits; RMSprop with PyTorch's defaults (lr 0.01): 14,178 parameters. PyTorch's
    Dropout(0.0) is the identity, like Keras'. ``learning_rate`` 0 gives a network that never updates."""
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            _torch_conv(1, 8, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(dropout),
            _torch_conv(8, 8, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(dropout),
            layers.Flatten(),
            _torch_linear(200, 64, activation="relu"),
            _torch_linear(64, 10),
        ],
        name="starter_2023",
    )
    return _compile_torch(model, learning_rate)


def build_cnn_2023_final(dropout: float = 0.5, learning_rate: float = TORCH_RMSPROP["learning_rate"]) -> keras.Model:
    """The 2023 write-up's final model as its text describes it: two convolution layers with the
    channels doubling, then BatchNormalization and Dropout "in the transition" before one linear layer.
    Choices the text leaves open, taken from the starter it grew out of: 3x3 kernels without padding,
    ReLU and 2x2 max pooling after each convolution, channels 16 then 32, Dropout 0.5 (the starter's
    rate), RMSprop with PyTorch's defaults (``learning_rate`` 0: never updates): 12,874 trainable
    parameters (PyTorch's count), 12,938 with BatchNormalization's moving statistics (Keras')."""
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            _torch_conv(1, 16, activation="relu"),
            layers.MaxPooling2D(2),
            _torch_conv(16, 32, activation="relu"),
            layers.MaxPooling2D(2),
            layers.BatchNormalization(epsilon=1e-5, momentum=0.9),  # PyTorch's BatchNorm2d defaults
            layers.Dropout(dropout),
            layers.Flatten(),
            _torch_linear(800, 10),
        ],
        name="cnn_2023_final",
    )
    return _compile_torch(model, learning_rate)


def build_cnn_2018_final(dropout: float = 0.5) -> keras.Model:
    """One 2018 write-up's final model: Conv2D(50, 3x3, same) ReLU, MaxPool 2x2, Dropout(0.5),
    Flatten, Dense(100), BN, ReLU, Dense(10) softmax, RMSprop: 982,010 parameters, reported 0.9889."""
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(50, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(dropout),
            layers.Flatten(),
            layers.Dense(100),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Dense(10, activation="softmax"),
        ],
        name="cnn_2018_final",
    )
    return _compile(model, keras.optimizers.RMSprop())


def build_keras_io_convnet() -> keras.Model:
    """keras.io's "Simple MNIST convnet" (examples/vision/mnist_convnet.py): Conv2D(32) ReLU, MaxPool,
    Conv2D(64) ReLU, MaxPool, Flatten, Dropout(0.5), Dense(10) softmax, Adam; 34,826 parameters,
    trained there at batch 128 ("~99% test accuracy"). A speed and accuracy anchor for benchmarks/."""
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ],
        name="keras_io_convnet",
    )
    return _compile(model, keras.optimizers.Adam())


DOWNSAMPLING = ("stride", "pool")


def build_cnn_final(
    dropout: float | None = 0.25,
    learning_rate: float = HAND_PICKED["learning_rate"],
    decay_steps: int | None = None,
    filters: tuple[int, int] = (32, 64),
    dense_units: int = 128,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
    downsample: str = "stride",
    conv_dropout: bool = False,
) -> keras.Model:
    """Our final model: two stages of [3x3 Conv2D with stride 2, BatchNormalization, ReLU] with
    channels doubling, 28x28 -> 14x14 -> 7x7, then Flatten, Dense(128), BatchNormalization, ReLU,
    Dropout(p), Dense(10) softmax (BatchNormalization and Dropout before the classifier, as in the
    2023 write-up's model): 422,314 parameters.

    Why strided convolutions: the layout before (``downsample="pool"``: a stride-1 convolution, then
    2x2 MaxPooling) spent most of a batch-32 step on full-resolution work that pooling then threw
    away. Why no Dropout in the convolution stages (``conv_dropout=True`` keeps them, the layout
    before): their random masks cost a large share of a step. Both were measured side by side
    (``benchmarks/speed.py`` parts ``cnn`` and ``conv_dropout``; figures in README, "Speed").

    Args:
        dropout: the swept rate p, used at every Dropout layer; None means no Dropout layer at all
            (how Keras 2.1 treated rate 1.0).
        conv_dropout: also Dropout(p) after each convolution stage.
        learning_rate: Adam's initial rate; with ``decay_steps`` it follows a cosine decay to 0.
        filters: channels of the two convolution stages.
        dense_units: width of the hidden Dense layer.
        downsample: "stride" (stride-2 convolutions) or "pool" (stride-1 convolution, then 2x2
            MaxPooling before BatchNormalization and ReLU, which commute with it), the layout before.

    Expected: test accuracy >= 0.993 after 10 epochs at batch size 32 (see reports/2018/3D).
    """
    if downsample not in DOWNSAMPLING:
        raise ValueError(f"downsample must be one of {DOWNSAMPLING}, got {downsample!r}")
    strides = 2 if downsample == "stride" else 1
    model = keras.Sequential(name="cnn_final")
    model.add(keras.Input(input_shape))
    for stage, width in enumerate(filters):
        # No conv bias: BatchNormalization's shift makes it redundant.
        model.add(layers.Conv2D(width, 3, strides=strides, padding="same", use_bias=False))
        if downsample == "pool":
            model.add(layers.MaxPooling2D(2))
        model.add(layers.BatchNormalization())
        model.add(layers.ReLU())
        if dropout is not None and conv_dropout:
            model.add(layers.Dropout(dropout, name=f"dropout_conv{stage}"))
    model.add(layers.Flatten())
    model.add(layers.Dense(dense_units, use_bias=False))
    model.add(layers.BatchNormalization())
    model.add(layers.ReLU())
    if dropout is not None:
        model.add(layers.Dropout(dropout, name="dropout_dense"))
    model.add(layers.Dense(num_classes, activation="softmax"))
    return _compile(model, adam(learning_rate, decay_steps))


# The --tune search space (tuning/cnn_search.py): every choice made by hand for the final model is in
# it (filters, Dense width, stride or pooling, Dropout before the classifier only or after each
# convolution stage too, the rate, Adam's rate, the augmentation: shift, rotation, zoom); 10 epochs at
# batch 32 stay fixed.
# Some widths break the parameter limit (for example 64/128 filters with a 256-unit Dense layer: 1.6M)
# and some layouts the search's cost cap (tuning/cnn_search.py); both are refused before they train.
HP_FILTERS = [16, 32, 48, 64]
HP_DENSE_UNITS = [64, 128, 256]
HP_DROPOUT = [0.1, 0.2, 0.3, 0.4, 0.5]  # explicit values: Dropout must drop something (rate > 0)


def build_cnn_from_values(
    values: dict,
    decay_steps: int | None = None,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
) -> keras.Model:
    """``build_cnn_final`` from a search trial's values (``HAND_PICKED``'s keys; ``shift``, ``rotation``
    and ``zoom`` are the input pipeline's). A ``dropout`` of None or >= 1 builds no Dropout layer (the
    2018 meaning of p = 1)."""
    dropout = values["dropout"]
    return build_cnn_final(
        dropout=None if dropout is None or dropout >= 1.0 else dropout,
        learning_rate=values["learning_rate"],
        decay_steps=decay_steps,
        filters=(values["filters"], 2 * values["filters"]),
        dense_units=values["dense_units"],
        input_shape=input_shape,
        num_classes=num_classes,
        downsample=values["downsample"],
        conv_dropout=values["conv_dropout"],
    )


def build_cnn_hp(
    hp,
    decay_steps: int | None = None,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
) -> keras.Model:
    """keras-tuner search space around ``build_cnn_final``: first-stage filters (the second doubles
    them), Dense width, downsampling (stride-2 convolutions or 2x2 pooling), where Dropout goes (before
    the classifier only, or after each convolution stage too), its rate, Adam's initial learning rate
    (log scale). The augmentation (shift, rotation, zoom) is tuned in the HyperModel's fit. Defaults
    are ``HAND_PICKED``.

    Raises:
        ConstraintError: the drawn model breaks the problem's rules; the search marks the trial failed
            before it trains (as it does a layout over its cost cap, ``tuning.cnn_search``).
    """
    default = HAND_PICKED
    values = {
        "filters": hp.Choice("filters", HP_FILTERS, default=default["filters"]),
        "dropout": hp.Choice("dropout", HP_DROPOUT, default=default["dropout"]),
        "learning_rate": hp.Float("learning_rate", 5e-4, 5e-3, sampling="log", default=default["learning_rate"]),
        "dense_units": hp.Choice("dense_units", HP_DENSE_UNITS, default=default["dense_units"]),
        "downsample": hp.Choice("downsample", list(DOWNSAMPLING), default=default["downsample"]),
        "conv_dropout": hp.Boolean("conv_dropout", default=default["conv_dropout"]),
    }
    model = build_cnn_from_values(values, decay_steps, input_shape, num_classes)
    check_cnn_constraints(model)
    return model
