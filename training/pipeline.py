"""The numpy input pipeline: shuffled batches with per-image pixel shifts or affine warps, for any
Keras backend.

JAX has no tf.data of its own: Keras turns every tf.data batch into numpy before handing it to JAX,
so the TensorFlow ops only add a second runtime's threads and copies. Here each epoch draws its order
and every image's move (or warp) at once in numpy, and each batch is gathered and moved as Keras asks
for it. Whole-pixel shifts are a gather of whole slices; an affine warp (rotation, zoom and a
continuous move) samples every pixel bilinearly.
"""

from __future__ import annotations

import functools
import math

import keras
import numpy as np

# The augmentation values the searches draw from (MLPs: ``models.mlp.build_mlp_hp``; CNN:
# ``tuning.cnn_search.CNNHyperModel``). Whole pixels of random translation of each training image;
# affine warps (``warp_images``): largest turn in degrees and largest change of scale, either above 0
# warping bilinearly with a continuous move of up to the shift.
SHIFTS = [0, 1, 2]
ROTATIONS = [0, 5, 10, 15]
ZOOMS = [0.0, 0.05, 0.1, 0.15]


def draw_offsets(n: int, shift: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) whole-pixel moves in -shift..shift: a uniform draw rounded, as ``training.random_shift`` does."""
    return np.rint(rng.uniform(-shift, shift, (n, 2))).astype(np.intp)


def pad_images(images: np.ndarray, shift: int) -> np.ndarray:
    """``images`` (n, h, w[, c]) with ``shift`` zero rows and columns on every side."""
    return np.pad(images, [(0, 0), (shift, shift), (shift, shift)] + [(0, 0)] * (images.ndim - 3))


def gather_shifted(padded: np.ndarray, index: np.ndarray, moves: np.ndarray, shift: int) -> np.ndarray:
    """Images ``padded[index]`` (padded by ``shift``), the i-th moved by ``moves[i]`` (rows, columns).

    One copy per distinct move (at most (2 shift + 1)^2), each a first-axis gather of whole slices:
    2-3x cheaper than indexing every pixel, CPU time that a JAX step's own threads can use instead.
    """
    h, w = padded.shape[1] - 2 * shift, padded.shape[2] - 2 * shift
    out = np.empty((len(index), h, w, *padded.shape[3:]), dtype=padded.dtype)
    side = 2 * shift + 1
    kind = (moves[:, 0] + shift) * side + (moves[:, 1] + shift)  # one number per distinct move
    by_kind = np.argsort(kind, kind="stable")
    ends = np.cumsum(np.bincount(kind, minlength=side * side))
    for k, at in enumerate(np.split(by_kind, ends[:-1])):
        if len(at):
            r, c = divmod(k, side)
            out[at] = padded[index[at], r : r + h, c : c + w]
    return out


def shift_images(images: np.ndarray, moves: np.ndarray, shift: int | None = None) -> np.ndarray:
    """Move each image (n, h, w[, c]) by its own ``moves`` row (rows, columns), zero fill; ``shift``
    (the largest move allowed) sizes the padding, else it is read off ``moves``."""
    shift = int(np.abs(moves).max(initial=0)) if shift is None else shift
    return gather_shifted(pad_images(images, shift), np.arange(len(images)), moves, shift)


def draw_warps(n: int, shift: float, rotation: float, zoom: float, rng: np.random.Generator):
    """(n, 2, 2) inverse linear maps and (n, 2) moves of ``n`` affine warps: a rotation in
    +-``rotation`` degrees, a scale in 1 +- ``zoom`` and a move in +-``shift`` pixels per axis, each
    uniform. The inverse map takes an output pixel back to where it reads the input."""
    angle = np.deg2rad(rng.uniform(-rotation, rotation, n))
    scale = rng.uniform(1 - zoom, 1 + zoom, n)
    moves = rng.uniform(-shift, shift, (n, 2))
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    inverse = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    return inverse.astype(np.float32), moves.astype(np.float32)


WARP_PAD = 2  # zero rows and columns around each image: every read outside it lands on zeros


@functools.cache
def centred_grid(h: int, w: int) -> np.ndarray:
    """(h w, 2) pixel coordinates less the image centre: the same for every batch, so made once."""
    centre = np.array([(h - 1) / 2, (w - 1) / 2], np.float32)
    grid = np.stack(np.mgrid[0:h, 0:w], -1).reshape(-1, 2).astype(np.float32) - centre
    grid.flags.writeable = False
    return grid


def warp_images(images, inverse, moves, image_shape=None, xp=np):
    """Each image (n, h, w[, 1]) turned and scaled about its centre by ``inverse[i]`` (``draw_warps``)
    and moved by ``moves[i]`` (rows, columns): output pixel p reads the input at
    centre + inverse (p - centre - move), bilinearly, with zeros outside the image. Flattened images
    (n, h w) need ``image_shape`` (h, w); the images come back in the shape they came in.

    ``xp`` is the array module: numpy, or ``jax.numpy`` under ``jax.jit`` (``jax_warp``), where XLA
    fuses the passes that numpy makes one array at a time.
    """
    n = images.shape[0]
    h, w = image_shape or images.shape[1:3]
    pad = WARP_PAD
    flat = xp.pad(images.reshape(n, h, w), ((0, 0), (pad, pad), (pad, pad))).reshape(-1)
    hp, wp = h + 2 * pad, w + 2 * pad
    centre = np.array([(h - 1) / 2, (w - 1) / 2], np.float32)
    grid = centred_grid(h, w)
    dr, dc = grid[None, :, 0] - moves[:, :1], grid[None, :, 1] - moves[:, 1:]  # (n, h w) each
    # Written out, the 2x2 products are 25x faster than einsum over (n, h w, 2) in numpy.
    row = inverse[:, 0, :1] * dr + inverse[:, 0, 1:] * dc + (centre[0] + pad)
    col = inverse[:, 1, :1] * dr + inverse[:, 1, 1:] * dc + (centre[1] + pad)
    # Clipped into the zero border, so a read far outside the image is a read of zeros.
    row = xp.clip(row, 0, hp - 1.001)
    col = xp.clip(col, 0, wp - 1.001)
    r0, c0 = xp.floor(row), xp.floor(col)
    fr, fc = row - r0, col - c0  # float32 throughout: float64 would double the cost
    # The flat index of each top-left neighbour; int32 holds any batch's (n x hp x wp < 2^31).
    at = (xp.arange(n, dtype=np.int32) * (hp * wp))[:, None] + r0.astype(np.int32) * wp + c0.astype(np.int32)
    left = xp.take(flat, at)
    left = left + (xp.take(flat, at + wp) - left) * fr  # down the left column, then the right one
    right = xp.take(flat, at + 1)
    right = right + (xp.take(flat, at + wp + 1) - right) * fr
    return (left + (right - left) * fc).reshape(images.shape).astype(images.dtype)


@functools.cache
def jax_warp():
    """``warp_images`` compiled by XLA, once per batch shape: XLA fuses the passes numpy makes one
    array at a time, so the warp costs a fraction of numpy's (``benchmarks/speed.py --only backends``), CPU
    time left to the training step and to a second process of ``--jobs 2``. Its pixels equal numpy's
    to float rounding."""
    import jax
    import jax.numpy as jnp

    # The shapes are static, so the batch comes back flattened or not inside the one compiled call:
    # an eager reshape of its result cost more than the warp itself.
    return jax.jit(functools.partial(warp_images, xp=jnp), static_argnames="image_shape")


class AugmentedBatches(keras.utils.PyDataset):
    """Batches of (x, y) over one shuffled, optionally shifted or warped copy of the data per epoch.

    Args:
        x: images, flattened (n, h*w) or not (n, h, w, 1).
        y: labels (one-hot).
        batch_size: rows per batch; the last batch of an epoch may be smaller.
        seed: seeds the permutation and the shifts; every epoch draws new ones, and a seeded run
            repeats them exactly.
        shift: largest move in pixels (0: none); whole pixels unless the images are also warped.
        shuffle: a new order every epoch.
        image_shape: (h, w) of flattened images.
        rotation, zoom: largest turn in degrees and largest change of scale (a fraction); either
            above 0 warps every image (``warp_images``) instead of shifting it by whole pixels.
    """

    def __init__(
        self,
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
        super().__init__()
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.batch_size, self.shift, self.shuffle = batch_size, shift, shuffle
        self.image_shape = tuple(image_shape)
        self.rotation, self.zoom = rotation, zoom
        self.warped = bool(rotation or zoom)
        # On JAX the warp is XLA's and its batches stay JAX arrays, which Keras' JAX trainer takes as they are.
        self.warp = jax_warp() if self.warped and keras.backend.backend() == "jax" else warp_images
        self.padded = None  # the images padded once, when they move: only the moves change
        if shift and not self.warped:
            self.padded = pad_images(self.x.reshape(-1, *self.image_shape) if self.x.ndim == 2 else self.x, shift)
        self.rng = np.random.default_rng(seed)
        self._prepare_epoch()

    def _prepare_epoch(self) -> None:
        # The epoch's order and moves are drawn at once; each batch is cut and moved when Keras asks
        # for it, which on JAX overlaps with the step still running (JAX dispatches asynchronously).
        self.order = self.rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        self.moves = self.warps = None
        if self.warped:
            self.warps = draw_warps(len(self.x), self.shift, self.rotation, self.zoom, self.rng)
        elif self.shift:
            self.moves = draw_offsets(len(self.x), self.shift, self.rng)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int):
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        rows = self.order[part]
        if self.warps is not None:
            x = self.warp(self.x[rows], self.warps[0][part], self.warps[1][part], image_shape=self.image_shape)
            return x, self.y[rows]
        if self.moves is None:
            return self.x[rows], self.y[rows]
        x = gather_shifted(self.padded, rows, self.moves[part], self.shift)
        return x.reshape((-1, *self.x.shape[1:])), self.y[rows]

    def on_epoch_end(self) -> None:
        self._prepare_epoch()
