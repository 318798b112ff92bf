"""The numpy input pipeline: shuffled batches with per-image pixel shifts, for any Keras backend.

JAX has no tf.data of its own: Keras turns every tf.data batch into numpy before handing it to JAX,
so the TensorFlow ops only add a second runtime's threads and copies. Here each epoch draws its order
and every image's move at once in numpy, and each batch is gathered and moved as Keras asks for it.
"""

from __future__ import annotations

import math

import keras
import numpy as np


def draw_offsets(n: int, shift: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) whole-pixel moves in -shift..shift: a uniform draw rounded, as ``training.random_shift`` does."""
    return np.rint(rng.uniform(-shift, shift, (n, 2))).astype(np.intp)


def shift_images(images: np.ndarray, moves: np.ndarray, shift: int | None = None) -> np.ndarray:
    """Move each image (n, h, w[, c]) by its own ``moves`` row (rows, columns), zero fill; ``shift``
    (the largest move allowed) sizes the padding, else it is read off ``moves``."""
    n, h, w = images.shape[:3]
    shift = int(np.abs(moves).max(initial=0)) if shift is None else shift
    pad = [(0, 0), (shift, shift), (shift, shift)] + [(0, 0)] * (images.ndim - 3)
    padded = np.pad(images, pad)
    rows = (moves[:, :1, None] + shift) + np.arange(h)[None, :, None]  # (n, h, 1): padded rows each image keeps
    cols = (moves[:, 1:, None] + shift) + np.arange(w)[None, None, :]  # (n, 1, w)
    return padded[np.arange(n)[:, None, None], rows, cols]


class ShiftedBatches(keras.utils.PyDataset):
    """Batches of (x, y) over one shuffled, optionally shifted copy of the data per epoch.

    Args:
        x: images, flattened (n, h*w) or not (n, h, w, 1).
        y: labels (one-hot).
        batch_size: rows per batch; the last batch of an epoch may be smaller.
        seed: seeds the permutation and the shifts; every epoch draws new ones, and a seeded run
            repeats them exactly.
        shift: largest move in pixels (0: none).
        shuffle: a new order every epoch.
        image_shape: (h, w) of flattened images.
    """

    def __init__(self, x, y, batch_size: int, seed: int, shift: int = 0, shuffle: bool = True, image_shape=(28, 28)):
        super().__init__()
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.batch_size, self.shift, self.shuffle = batch_size, shift, shuffle
        self.image_shape = tuple(image_shape)
        self.rng = np.random.default_rng(seed)
        self._prepare_epoch()

    def _prepare_epoch(self) -> None:
        # The epoch's order and moves are drawn at once; each batch is cut and moved when Keras asks
        # for it, which on JAX overlaps with the step still running (JAX dispatches asynchronously).
        self.order = self.rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        self.moves = draw_offsets(len(self.x), self.shift, self.rng) if self.shift else None

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int):
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        rows = self.order[part]
        x = self.x[rows]
        if self.moves is not None:
            images = x.reshape(-1, *self.image_shape) if x.ndim == 2 else x
            x = shift_images(images, self.moves[part], self.shift).reshape(x.shape)
        return x, self.y[rows]

    def on_epoch_end(self) -> None:
        self._prepare_epoch()
