"""Training plumbing shared by the problems (``problems/``) and the searches (``tuning/``).

Seeding, the input pipelines (tf.data here, numpy in ``pipeline.py``; optional pixel shifts),
fitting and the optimizer every trained model uses; the backend in ``backend.py``; one
train-and-score path and its record in ``record.py``; files written whole in ``files.py``.
Nothing here imports ``problems`` or ``tuning``: they sit on top of it.
"""

from __future__ import annotations

import functools
import random
import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

# keras is imported inside the functions: importing it fixes the backend, which training.backend chooses
# first (importing training.backend runs this file).

# Determinism: keras.utils.set_random_seed alone gives bit-identical runs on TF CPU (measured on this
# stack); TF op determinism is left off because it changes the numbers and costs speed.
DETERMINISM = "keras.utils.set_random_seed (python, numpy, backend); TF op determinism off"

N_VALIDATION = 5000  # images carved from MNIST's 60,000 training images; the test set is scored once, at the end
MLP_BATCH_SIZE = 128  # the MLP searches; each budget's final batch size is in models/mlp.py SCHEDULES
# Batches per compiled TensorFlow call: at batch 32 Python and dispatch overhead is a large share of
# a step on 2 cores (measured in benchmarks/). Same numbers, fewer round trips.
STEPS_PER_EXECUTION = 64
EVAL_BATCH_SIZE = 1000  # scoring only: larger batches, same figures, a fraction of the calls


def validation_size(n_train: int) -> int:
    """``N_VALIDATION``, or a tenth of a smaller training set (the small ``--dataset-dir`` sets)."""
    return min(N_VALIDATION, n_train // 10)


def adam(learning_rate: float, decay_steps: int | None = None) -> keras.optimizers.Adam:
    """Adam at ``learning_rate``; with ``decay_steps`` the rate follows a cosine decay to 0 over them."""
    import keras

    lr = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps) if decay_steps else learning_rate
    return keras.optimizers.Adam(lr)


def tuner_seed(seed: int) -> int:
    """keras-tuner reads seed 0 as "no seed" (``seed or random...``): seed 0 becomes 1, so every search repeats."""
    return max(seed, 1)


def set_seed(seed: int) -> None:
    """Seed python, numpy and the backend; every run calls this before building a model."""
    import keras

    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    # What keras.utils.set_random_seed does, less importing TensorFlow (seconds) only to seed it in a
    # JAX process that may never use it; where TensorFlow is loaded, the branch above seeds it too.
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)  # recreated from the seed
    random.seed(seed)
    np.random.seed(seed)


def random_shift(images, shift: int, generator):
    """Move each image of a batch by its own whole-pixel offset in -shift..shift per axis, zero fill.

    ``images`` is (batch, h, w, channels). Two gathers on the zero-padded batch: about 20x cheaper
    here than Keras' RandomTranslation, whose projective warp cost as much as the CNN's own step
    (measured in benchmarks/). ``generator`` is a ``tf.random.Generator``: its state advances, so
    every epoch gets new offsets and a seeded run repeats them exactly.
    """
    import tensorflow as tf

    h, w = images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [shift, shift], [shift, shift], [0, 0]])
    # A uniform draw in [-shift, shift] rounded to whole pixels: the offsets RandomTranslation with
    # nearest interpolation gave (0 twice as likely as the end points), so the augmentation is unchanged.
    moves = tf.round(generator.uniform((tf.shape(images)[0], 2), -shift, shift))
    offsets = tf.cast(moves, tf.int32) + shift
    rows = offsets[:, :1] + tf.range(h)[None]  # (batch, h): the padded rows each image keeps
    cols = offsets[:, 1:] + tf.range(w)[None]
    out = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(out, cols, axis=2, batch_dims=1)


def warp_batch(images, inverse, moves):
    """``training.pipeline.warp_images`` in TensorFlow ops, for tf.data: each image (batch, h, w, 1)
    read at centre + inverse[i] (p - centre - moves[i]), bilinearly, zeros outside the image.

    The same arithmetic written twice on purpose: numpy (compiled by XLA on JAX, ``jax_warp``) for
    the JAX loader, TensorFlow ops for tf.data; a test holds the two equal."""
    import tensorflow as tf

    from training.pipeline import WARP_PAD, centred_grid

    h, w = images.shape[1], images.shape[2]
    pad, hp, wp = WARP_PAD, h + 2 * WARP_PAD, w + 2 * WARP_PAD
    n = tf.shape(images)[0]
    flat = tf.reshape(tf.pad(images[..., 0], [[0, 0], [pad, pad], [pad, pad]]), [-1])
    grid = tf.constant(centred_grid(h, w))
    dr, dc = grid[None, :, 0] - moves[:, :1], grid[None, :, 1] - moves[:, 1:]  # (batch, h w) each
    row = inverse[:, 0, :1] * dr + inverse[:, 0, 1:] * dc + ((h - 1) / 2 + pad)
    col = inverse[:, 1, :1] * dr + inverse[:, 1, 1:] * dc + ((w - 1) / 2 + pad)
    row = tf.clip_by_value(row, 0.0, hp - 1.001)  # into the zero border, as in numpy
    col = tf.clip_by_value(col, 0.0, wp - 1.001)
    r0, c0 = tf.floor(row), tf.floor(col)
    fr, fc = row - r0, col - c0
    at = (tf.range(n) * (hp * wp))[:, None] + tf.cast(r0, tf.int32) * wp + tf.cast(c0, tf.int32)
    left = tf.gather(flat, at)
    left += (tf.gather(flat, at + wp) - left) * fr
    right = tf.gather(flat, at + 1)
    right += (tf.gather(flat, at + wp + 1) - right) * fr
    return tf.reshape(left + (right - left) * fc, tf.shape(images))


def random_warp(images, shift: float, rotation: float, zoom: float, generator):
    """Warp each image of a batch (batch, h, w, 1) by its own draw of ``training.pipeline.draw_warps``'
    law (turn in +-rotation degrees, scale in 1 +- zoom, move in +-shift pixels), from the
    ``tf.random.Generator`` ``generator``: every epoch new draws, a seeded run the same ones.

    Why TensorFlow ops: on TensorFlow the numpy warp comes through a PyDataset, whose batches Keras
    fetches in Python between steps; here tf.data warps the next batches while a step runs.
    """
    import tensorflow as tf

    n = tf.shape(images)[0]
    angle = generator.uniform((n,), -rotation, rotation) * (np.pi / 180)
    scale = generator.uniform((n,), 1 - zoom, 1 + zoom)
    moves = generator.uniform((n, 2), -shift, shift)
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    inverse = tf.stack([tf.stack([cos, -sin], -1), tf.stack([sin, cos], -1)], -2)
    return warp_batch(images, inverse, moves)


def make_dataset(
    x,
    y,
    batch_size: int,
    seed: int,
    shift: int = 0,
    shuffle: bool = True,
    image_shape=(28, 28),
    rotation: float = 0.0,
    zoom: float = 0.0,
):
    """A tf.data pipeline over images ``x``, flattened (n, h*w) or not (n, h, w, 1), and labels ``y``.

    With ``shift`` > 0 each training image is moved by up to ``shift`` whole pixels in each
    direction (``random_shift``); with ``rotation`` or ``zoom`` it is warped instead (``random_warp``,
    a continuous move of up to ``shift``). Flattened images are reshaped for it and flattened again:
    augmentation in the data pipeline, so the MLPs keep to the course's allowed layers.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if shift or rotation or zoom:
        h, w = image_shape
        generator = tf.random.Generator.from_seed(seed)
        batch_shape = (-1, *x.shape[1:])
        if rotation or zoom:
            move = functools.partial(random_warp, shift=shift, rotation=rotation, zoom=zoom, generator=generator)
        else:
            move = functools.partial(random_shift, shift=shift, generator=generator)
        ds = ds.map(lambda xb, yb: (tf.reshape(move(tf.reshape(xb, (-1, h, w, 1))), batch_shape), yb))
    return ds.prefetch(tf.data.AUTOTUNE)


def input_pipeline(
    train, batch_size: int, seed: int, shift: int = 0, image_shape=(28, 28), rotation: float = 0.0, zoom: float = 0.0
):
    """Shuffled training batches of ``train`` = (x, y), shifted or warped, from the backend's best
    loader: tf.data on TensorFlow (``make_dataset``), numpy on JAX (``training.pipeline``)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        return make_dataset(*train, batch_size, seed, shift, image_shape=image_shape, rotation=rotation, zoom=zoom)
    from training.pipeline import AugmentedBatches

    return AugmentedBatches(
        *train, batch_size=batch_size, seed=seed, shift=shift, image_shape=image_shape, rotation=rotation, zoom=zoom
    )


def fit(
    model,
    train,
    val,
    epochs: int,
    batch_size: int,
    seed: int,
    shift: int = 0,
    verbose: int = 2,
    callbacks=None,
    image_shape=(28, 28),
    rotation: float = 0.0,
    zoom: float = 0.0,
):
    """Fit ``model`` on ``train`` = (x, y), monitoring ``val`` = (x, y); returns the History.

    The batches come from tf.data on TensorFlow (the original setup, and the faster of the two there)
    and from numpy on JAX (``training.pipeline``: tf.data would add TensorFlow's runtime to a JAX
    process only to be converted to numpy batch by batch). Same augmentation, drawn by each one's
    seeded generator, so the two backends' numbers differ in their last digits.
    """
    ds = input_pipeline(train, batch_size, seed, shift, image_shape, rotation, zoom)
    return model.fit(
        ds,
        validation_data=val,
        validation_batch_size=EVAL_BATCH_SIZE,
        epochs=epochs,
        verbose=verbose,
        callbacks=callbacks or [],
        shuffle=False,
    )


def restart_from(compiled, fresh) -> None:
    """Give ``compiled`` (a compiled model of ``fresh``'s layout that has trained before) ``fresh``'s
    initial weights, random-generator states and learning rate, and a new optimizer state, so that
    fitting ``compiled`` is fitting ``fresh`` without compiling a train step again.

    Why: on JAX every new model compiles its train and test steps (about 12 s for 2023 4E's small
    MLPs here, against under a second of training), and building a model of a layout already built
    costs almost nothing; TensorFlow retraces per model too.
    """
    for target, source in zip(compiled.variables, fresh.variables, strict=True):
        target.assign(source.value)
    for variable in compiled.optimizer.variables:
        variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
    compiled.optimizer.learning_rate = float(fresh.optimizer.learning_rate)


def steps_per_epoch(n: int, batch_size: int) -> int:
    return int(np.ceil(n / batch_size))


def history_record(history: dict) -> dict:
    """Per-epoch curves as plain floats for result.json (the learning-rate column is left out)."""
    return {k: [float(v) for v in vals] for k, vals in history.items() if k != "learning_rate"}
