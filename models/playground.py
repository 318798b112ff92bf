"""The TensorFlow Playground's network as a Keras model, and its training rule.

The Playground (github.com/tensorflow/playground, ``src/nn.ts``) builds a fully connected network
with ``networkShape`` hidden layers and one tanh output; every ``Link`` starts at
``Math.random() - 0.5`` and every node's bias at 0.1 (``initZero`` sets both to 0, after the weight
has been drawn: the draw happens in the field initialiser). It trains with plain SGD on
1/2 (output - label)^2: each point's gradients are accumulated, and after every ``batchSize`` points
each parameter steps by the learning rate times their *mean*. The points are visited in the data's
fixed order every epoch, and points left over at the end of an epoch wait for the next one.

Everything here runs in float64 (JavaScript's numbers), and the whole multi-epoch loop is one
XLA-compiled ``tf.function`` over the model's own variables, so 4000 epochs take seconds.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
from keras import layers

from data_prep.playground import SeedRandom
from training.backend import import_tensorflow

tf = import_tensorflow()  # quietly: on JAX this module is the only one here that needs TensorFlow

DTYPE = "float64"  # JavaScript numbers are doubles; float32 would drift from the Playground's run
LEARNING_RATE = 0.03
BATCH_SIZE = 10
HIDDEN = (4, 2)
ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear")
MIN_HISTORY = 4096  # rows of the per-epoch record buffer (see PlaygroundSGD.train)


def playground_weights(sizes, init: str = "random", rng: SeedRandom | None = None) -> list[np.ndarray]:
    """Initial [kernel, bias, ...] for layer sizes ``sizes`` (inputs first), in nn.ts's draw order.

    ``buildNetwork`` walks layers, then each node of the layer, then each node of the previous
    layer, drawing one weight per link: so a Keras kernel (inputs, units) fills column by column.

    Args:
        sizes: e.g. (2, 4, 2, 1).
        init: 'random' (weights uniform in [-0.5, 0.5), biases 0.1) or 'zero' (everything 0).
        rng: the generator to draw from; with 'zero' it may be None (when given, it is still drawn
            from, as the Playground does, so later draws stay in step).

    Returns:
        Arrays in ``model.get_weights()`` order.
    """
    if init not in ("random", "zero"):
        raise ValueError(f"init must be 'random' or 'zero', not {init!r}")
    if init == "random" and rng is None:
        raise ValueError("random initialisation needs the seeded generator (rng)")
    weights = []
    for fan_in, units in zip(sizes[:-1], sizes[1:], strict=True):
        kernel = np.zeros((fan_in, units))
        for i in range(units):
            for j in range(fan_in):
                drawn = rng.random() - 0.5 if rng is not None else 0.0
                kernel[j, i] = drawn if init == "random" else 0.0
        weights += [kernel, np.full(units, 0.1 if init == "random" else 0.0)]
    return weights


def build_playground_model(
    hidden=HIDDEN,
    activation: str = "relu",
    init: str = "random",
    rng: SeedRandom | None = None,
    num_inputs: int = 2,
    name: str = "playground",
) -> keras.Model:
    """The Playground network: inputs (x1, x2), Dense hidden layers, Dense(1, tanh), float64.

    Args:
        hidden: widths of the hidden layers (the course: 4 and 2).
        activation: of the hidden units: 'relu', 'sigmoid', 'tanh' or 'linear'.
        init: 'random' or 'zero' (see ``playground_weights``).
        rng: the seeded generator, positioned after the data's draws (``PlaygroundData.rng``).
        num_inputs: features (the course used x1 and x2 only).
        name: the model's name.

    Returns:
        An uncompiled functional model with layers 'hidden_1', 'hidden_2', ... and 'output'; train it
        with ``PlaygroundSGD``.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, not {activation!r}")
    inputs = keras.Input((num_inputs,), dtype=DTYPE, name="x1_x2")
    h = inputs
    for k, units in enumerate(hidden, start=1):
        h = layers.Dense(units, activation=activation, dtype=DTYPE, name=f"hidden_{k}")(h)
    outputs = layers.Dense(1, activation="tanh", dtype=DTYPE, name="output")(h)
    model = keras.Model(inputs, outputs, name=name)
    model.set_weights(playground_weights((num_inputs, *hidden, 1), init, rng))
    return model


def hidden_layers(model: keras.Model) -> list:
    return [layer for layer in model.layers if layer.name.startswith("hidden_")]


_PROBES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its hidden-output model


def hidden_activations(model: keras.Model, x) -> list[np.ndarray]:
    """Each hidden layer's outputs on ``x``: a list of (n, units) arrays."""
    if model not in _PROBES:  # building a probe costs ~20 ms: keep one per model
        _PROBES[model] = keras.Model(model.input, [layer.output for layer in hidden_layers(model)])
    found = _PROBES[model](np.asarray(x, dtype=DTYPE))
    found = found if isinstance(found, list | tuple) else [found]
    return [np.asarray(a) for a in found]


def dead_units(model: keras.Model, x) -> list[np.ndarray]:
    """Per hidden layer, a boolean array: True for a unit whose output is 0 on every row of ``x``."""
    return [np.all(a == 0, axis=0) for a in hidden_activations(model, x)]


class PlaygroundSGD:
    """The Playground's training rule (nn.ts ``backProp`` + ``updateWeights``) for a Keras model.

    One call runs whole epochs inside one compiled TensorFlow loop: batch k of the endless stream
    x[0], x[1], ..., x[n-1], x[0], ... is points 10k..10k+9, so a batch may straddle two epochs
    exactly as the Playground's leftover accumulated gradients do. After each epoch the training
    and evaluation losses (mean of 1/2 (output - label)^2) and accuracies are recorded, as the
    Playground records its loss after each ``oneStep``.

    Args:
        model: a model from ``build_playground_model`` (its variables are updated in place).
        batch_size: points per update (the Playground's default 10).
        jit_compile: compile the loop with XLA (about 10x faster here on these tiny matrices).
    """

    def __init__(self, model: keras.Model, batch_size: int = BATCH_SIZE, jit_compile: bool = True):
        self.model = model
        self.batch_size = batch_size
        self.epochs_done = 0
        self._loop = tf.function(self._epochs, jit_compile=jit_compile)

    def _loss_and_accuracy(self, x, y):
        out = self.model(x)[:, 0]
        loss = tf.reduce_mean(0.5 * tf.square(out - y))  # the 1/2 halves the gradient of Keras' MSE
        acc = tf.reduce_mean(tf.cast(tf.where(out >= 0, 1.0, -1.0) == tf.cast(y, tf.float32), DTYPE))
        return loss, acc

    def _epochs(self, x, y, x_eval, y_eval, first_epoch, num_epochs, learning_rate, history):
        n, b = tf.shape(x)[0], self.batch_size
        variables = self.model.trainable_variables
        offsets = tf.range(b)

        def sgd_step(step):
            index = (step * b + offsets) % n
            xb, yb = tf.gather(x, index), tf.gather(y, index)
            with tf.GradientTape() as tape:
                loss, _ = self._loss_and_accuracy(xb, yb)  # batch mean = the Playground's mean of summed gradients
            grads = tape.gradient(loss, variables)
            for var, grad in zip(variables, grads, strict=True):
                var.assign_sub(learning_rate * grad)
            return (step + 1,)

        def one_epoch(k, history):
            epoch = first_epoch + k
            # Explicit while loops: XLA cannot compile tf.range with run-time bounds.
            tf.while_loop(lambda step: step < ((epoch + 1) * n) // b, sgd_step, ((epoch * n) // b,))
            row = tf.stack([*self._loss_and_accuracy(x, y), *self._loss_and_accuracy(x_eval, y_eval)])
            return k + 1, tf.tensor_scatter_nd_update(history, [[k]], row[None])

        _, history = tf.while_loop(lambda k, _: k < num_epochs, one_epoch, (tf.constant(0), history))
        return history

    def train(
        self,
        x,
        y,
        epochs: int,
        x_eval=None,
        y_eval=None,
        learning_rate: float = LEARNING_RATE,
        start_epoch: int | None = None,
    ) -> np.ndarray:
        """Run ``epochs`` more epochs over (x, y) in the given order; returns the per-epoch record.

        Args:
            x, y: training points (n, 2) and labels (n,) in visiting order.
            epochs: passes over x to run now.
            x_eval, y_eval: points scored after every epoch (default: the training points).
            learning_rate: the Playground's 0.03 by default.
            start_epoch: where in the point stream the first batch starts (default: after the epochs
                this trainer has already run); only matters when the batch size does not divide n.

        Returns:
            (epochs, 4) array: train loss, train accuracy, eval loss, eval accuracy after each epoch.
        """
        if epochs <= 0:
            return np.zeros((0, 4))
        x_eval, y_eval = (x, y) if x_eval is None else (x_eval, y_eval)
        if start_epoch is not None:
            self.epochs_done = start_epoch
        as_tensor = lambda a: tf.constant(np.asarray(a, dtype=DTYPE))  # noqa: E731
        # The history buffer's length is the only shape that varies with ``epochs``: pad it (to 4096,
        # or the next power of two) so that one compilation serves every chunk length.
        padded = max(MIN_HISTORY, 1 << int(epochs - 1).bit_length())
        history = self._loop(
            as_tensor(x),
            as_tensor(y),
            as_tensor(x_eval),
            as_tensor(y_eval),
            tf.constant(self.epochs_done),
            tf.constant(epochs),
            tf.constant(learning_rate, dtype=DTYPE),
            tf.zeros((padded, 4), dtype=DTYPE),
        )
        self.epochs_done += epochs
        return history.numpy()[:epochs]


# ----------------------------------------------------------------------------------------------
# Hand-set logic networks (2018 1C / 2023 1D-1E): 0/1 inputs, weights written by hand.

TRUTH_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")


def _hand_set(layer_specs, name: str) -> keras.Model:
    """A Sequential of Dense layers given as (activation, kernel, bias) triples."""
    model = keras.Sequential([keras.Input((2,))], name=name)
    for k, (activation, kernel, bias) in enumerate(layer_specs, start=1):
        kernel = np.asarray(kernel, dtype="float32")
        model.add(layers.Dense(kernel.shape[1], activation=activation, name=f"dense_{k}"))
        model.layers[-1].set_weights([kernel, np.asarray(bias, dtype="float32")])
    return model


def build_or_relu() -> keras.Model:
    """OR from one ReLU unit and no hidden layer: ReLU(x1 + x2) gives 0, 1, 1, 2 on 00, 01, 10, 11."""
    return _hand_set([("relu", [[1.0], [1.0]], [0.0])], "or_one_relu")


def build_or_exact() -> keras.Model:
    """OR with outputs exactly 0/1: ReLU(x1 + x2) - ReLU(x1 + x2 - 1), two hidden ReLUs, linear output."""
    return _hand_set([("relu", [[1.0, 1.0], [1.0, 1.0]], [0.0, -1.0]), (None, [[1.0], [-1.0]], [0.0])], "or_exact")


def build_xor_relu() -> keras.Model:
    """XOR with one hidden layer of two ReLUs: h1 = ReLU(x1 + x2) (OR-like), h2 = ReLU(x1 + x2 - 1) (AND),
    output ReLU(h1 - 2 h2): 0, 1, 1, 0."""
    return _hand_set([("relu", [[1.0, 1.0], [1.0, 1.0]], [0.0, -1.0]), ("relu", [[1.0], [-2.0]], [0.0])], "xor_relu")


def build_no_hidden_layer(learning_rate: float = 0.1) -> keras.Model:
    """Dense(1) straight from (x1, x2), compiled for mean squared error: a linear model, to be trained."""
    model = keras.Sequential([keras.Input((2,)), layers.Dense(1, name="dense_1")], name="no_hidden_layer")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model
