"""Short real-data training: accuracy far above chance, and the same seed gives the same numbers."""

import subprocess
import sys

import numpy as np
import pytest

from data_prep.mnist import flatten, one_hot, to_float
from models.mlp import build_mlp
from tests.conftest import REPO
from training import fit, make_dataset, set_seed

# A tiny training in a fresh interpreter, once per seed given: prints the final loss and a hash of every
# weight's bytes, one line a seed.
TRAIN_ONCE = """
import hashlib, sys
import numpy as np
from models.mlp import build_mlp
from training import fit, set_seed
rng = np.random.default_rng(0)  # the data is fixed; only the training seed varies
x = rng.random((256, 64), dtype=np.float32)
y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 256)]
for seed in map(int, sys.argv[1:]):
    set_seed(seed)
    model = build_mlp([16], dropout_input=0.1, dropout=0.2, input_dim=64, num_classes=4)
    history = fit(model, (x[:200], y[:200]), (x[200:], y[200:]), 2, 32, seed, shift=1, verbose=0, image_shape=(8, 8))
    digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()
    print(seed, repr(history.history["loss"][-1]), digest)
"""


def _slice(mnist, n_train=3000, n_test=1000):
    (x, y), (xt, yt) = mnist
    return (flatten(to_float(x[:n_train])), one_hot(y[:n_train])), (
        flatten(to_float(xt[:n_test])),
        one_hot(yt[:n_test]),
    )


def _train_once(mnist, seed, shift=0):
    train, test = _slice(mnist)
    set_seed(seed)
    model = build_mlp([100], dropout=0.1)
    fit(model, train, test, epochs=1, batch_size=64, seed=seed, shift=shift, verbose=0)
    return model.evaluate(*test, verbose=0)[1], model.get_weights()


@pytest.mark.backends
def test_one_epoch_on_3000_real_images_is_far_above_chance(mnist):
    accuracy, _ = _train_once(mnist, seed=3)
    assert accuracy > 0.80  # chance is 0.10


@pytest.mark.backends
def test_same_seed_same_numbers_different_seed_different(mnist):
    acc_a, w_a = _train_once(mnist, seed=7, shift=2)
    acc_b, w_b = _train_once(mnist, seed=7, shift=2)
    acc_c, w_c = _train_once(mnist, seed=8, shift=2)
    assert acc_a == acc_b and all(np.array_equal(a, b) for a, b in zip(w_a, w_b, strict=True))
    assert not all(np.array_equal(a, c) for a, c in zip(w_a, w_c, strict=True))


@pytest.mark.backends
def test_a_compiled_model_restarted_from_a_fresh_one_trains_to_the_fresh_ones_numbers():
    from training import restart_from

    rng = np.random.default_rng(0)
    x = rng.random((256, 64), dtype=np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 256)]
    train, val = (x[:200], y[:200]), (x[200:], y[200:])

    def fresh(seed, learning_rate):
        set_seed(seed)
        return build_mlp([16], dropout=0.2, learning_rate=learning_rate, input_dim=64, num_classes=4)

    def run(model, seed):
        history = fit(model, train, val, 2, 32, seed, verbose=0)
        return history.history["val_accuracy"] + history.history["loss"], model.get_weights()

    used = fresh(1, 1e-3)
    run(used, 1)  # trained: weights, optimizer state and dropout generator all moved on
    expected, expected_weights = run(fresh(2, 3e-3), 2)
    restart_from(used, fresh(2, 3e-3))
    got, got_weights = run(used, 2)
    assert got == expected and all(np.array_equal(a, b) for a, b in zip(got_weights, expected_weights, strict=True))
    assert float(used.optimizer.learning_rate) == pytest.approx(3e-3)


def test_shift_moves_pixels_but_keeps_shapes():
    x = np.zeros((4, 784), dtype="float32")
    x[:, 14 * 28 + 14] = 1.0  # one lit pixel in the middle
    y = np.eye(4, dtype="float32")
    set_seed(1)
    ((xb, yb),) = list(make_dataset(x, y, batch_size=4, seed=1, shift=2, shuffle=False))
    xb = xb.numpy()
    assert xb.shape == (4, 784) and np.array_equal(yb.numpy(), y)
    assert np.allclose(xb.sum(axis=1), 1.0)  # nothing lost: a 2-pixel shift keeps the centre pixel inside
    assert not np.array_equal(xb, x)  # at least one image moved


def _epochs_of_shifted(seed, epochs=2):
    x = np.zeros((6, 7, 7, 1), dtype="float32")
    x[:, 3, 3, 0] = 1.0  # one lit pixel in the middle of each image
    ds = make_dataset(x, np.arange(6), batch_size=6, seed=seed, shift=1, shuffle=False, image_shape=(7, 7))
    return [next(iter(ds))[0].numpy() for _ in range(epochs)]


def test_random_shift_moves_each_image_by_whole_pixels_and_new_offsets_each_epoch():
    first, second = _epochs_of_shifted(seed=5)
    for batch in (first, second):
        lit = np.argwhere(batch[..., 0] == 1.0)  # (image, row, col) of each lit pixel
        assert len(lit) == 6 and np.all(np.abs(lit[:, 1:] - 3) <= 1)  # moved by at most 1 pixel, nothing lost
        assert batch.sum() == 6.0
    assert not np.array_equal(first, second)  # a new draw each pass over the data
    again = _epochs_of_shifted(seed=5)
    assert all(np.array_equal(a, b) for a, b in zip([first, second], again, strict=True))  # same seed, same shifts


def _train_in_a_new_process(*seeds: int) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", TRAIN_ONCE, *map(str, seeds)], cwd=REPO, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip().splitlines()


@pytest.mark.backends
def test_same_seed_same_numbers_in_two_separate_processes():
    # Seeding must not depend on state a process happens to share (imports, earlier models, caches).
    first, second = _train_in_a_new_process(5, 6), _train_in_a_new_process(5, 6)
    assert first == second and len(first) == 2
    assert first[0].split()[1:] != first[1].split()[1:]  # and another seed gives other numbers


def _numpy_epochs_of_shifted(seed, epochs=2, flat=False):
    from training.pipeline import AugmentedBatches

    x = np.zeros((6, 7, 7, 1), dtype="float32")
    x[:, 3, 3, 0] = 1.0
    x = x.reshape(6, 49) if flat else x
    batches = AugmentedBatches(x, np.arange(6), batch_size=4, seed=seed, shift=1, image_shape=(7, 7))
    found = []
    for _ in range(epochs):
        parts = [batches[i] for i in range(len(batches))]
        found.append((np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])))
        batches.on_epoch_end()
    return found


def test_numpy_pipeline_shuffles_and_shifts_each_image_by_whole_pixels_new_draws_each_epoch():
    # The JAX backend's loader: the same augmentation as the tf.data one, drawn by numpy's generator.
    (first, labels_1), (second, labels_2) = _numpy_epochs_of_shifted(seed=5)
    for batch, labels in ((first, labels_1), (second, labels_2)):
        lit = np.argwhere(batch[..., 0] == 1.0)
        assert len(lit) == 6 and np.all(np.abs(lit[:, 1:] - 3) <= 1) and batch.sum() == 6.0
        assert sorted(labels) == list(range(6))  # every image once an epoch, in a shuffled order
    assert not np.array_equal(first, second) and not np.array_equal(labels_1, labels_2)
    again = _numpy_epochs_of_shifted(seed=5)
    assert np.array_equal(again[0][0], first) and np.array_equal(again[1][1], labels_2)  # same seed, same draws
    flat = _numpy_epochs_of_shifted(seed=5, flat=True)
    assert flat[0][0].shape == (6, 49) and np.array_equal(flat[0][0].reshape(6, 7, 7, 1), first)


def test_batches_gathered_by_move_equal_each_image_moved_on_its_own():
    # The grouped gather (one copy per distinct move) against the plainest statement of a shift: pad
    # each image and cut its window; any order of images, moves up to 2, images with and without channels.
    from training.pipeline import draw_offsets, gather_shifted, pad_images

    rng = np.random.default_rng(3)
    for shape in ((40, 6, 7), (40, 6, 7, 1)):
        images = rng.random(shape).astype("float32")
        moves = draw_offsets(len(images), 2, rng)
        order = rng.permutation(len(images))[:25]
        expected = []
        for i, (dr, dc) in zip(order, moves[:25], strict=True):
            padded = np.pad(images[i], [(2, 2), (2, 2)] + [(0, 0)] * (images.ndim - 3))
            expected.append(padded[2 + dr : 2 + dr + 6, 2 + dc : 2 + dc + 7])
        assert len({tuple(m) for m in moves[:25]}) > 5  # several moves, so several groups
        assert np.array_equal(gather_shifted(pad_images(images, 2), order, moves[:25], 2), np.stack(expected))


def test_numpy_shift_moves_by_exactly_the_drawn_offsets():
    from training.pipeline import shift_images

    images = np.arange(2 * 5 * 5, dtype="float32").reshape(2, 5, 5)
    moved = shift_images(images, np.array([[1, 0], [0, -1]]))
    assert np.array_equal(moved[0, :4], images[0, 1:]) and np.all(moved[0, 4] == 0)  # rows taken one lower
    assert np.array_equal(moved[1, :, 1:], images[1, :, :4]) and np.all(moved[1, :, 0] == 0)


def test_warp_images_is_exact_for_the_identity_and_whole_pixel_moves_and_zero_outside():
    from training.pipeline import warp_images

    rng = np.random.default_rng(3)
    images = rng.random((5, 9, 9, 1)).astype("float32")
    identity, still = np.tile(np.eye(2, dtype="float32"), (5, 1, 1)), np.zeros((5, 2), "float32")
    assert np.array_equal(warp_images(images, identity, still), images)
    moved = warp_images(images, identity, np.tile([[1.0, 2.0]], (5, 1)).astype("float32"))  # down 1, right 2
    assert moved.dtype == np.float32 and np.array_equal(moved[:, 1:, 2:], images[:, :-1, :-2])
    assert not moved[:, :1].any() and not moved[:, :, :2].any()  # what moved in is zeros
    half = warp_images(images, identity, np.tile([[0.5, 0.0]], (5, 1)).astype("float32"))
    assert np.allclose(half[:, 1:], (images[:, 1:] + images[:, :-1]) / 2, atol=1e-6)  # bilinear between rows
    assert np.all(half[:, 0] == images[:, 0] / 2)  # half of the row above the image: zeros
    far = warp_images(images, identity, np.full((5, 2), 20.0, "float32"))
    assert not far.any()  # every read outside the image is a zero


def test_warp_images_turns_about_the_centre_and_a_seeded_draw_repeats():
    from training.pipeline import draw_warps, warp_images

    dot = np.zeros((1, 5, 5), "float32")
    dot[0, 0, 2] = 1.0  # top middle
    quarter = np.array([[[0.0, -1.0], [1.0, 0.0]]], "float32")  # output reads 90 degrees back
    turned = warp_images(dot, quarter, np.zeros((1, 2), "float32"))
    assert turned[0, 2, 4] == 1.0 and turned.sum() == 1.0  # now right middle
    first = draw_warps(50, 2, 15, 0.1, np.random.default_rng(7))
    again = draw_warps(50, 2, 15, 0.1, np.random.default_rng(7))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    inverse, moves = first
    scales = 1 / np.sqrt(np.abs(np.linalg.det(inverse)))
    assert np.all((0.9 - 1e-5 <= scales) & (scales <= 1.1 + 1e-5)) and np.abs(moves).max() <= 2
    turns = np.degrees(np.arctan2(inverse[:, 1, 0], inverse[:, 0, 0]))
    assert np.abs(turns).max() <= 15 + 1e-4 and np.abs(turns).max() > 5  # drawn, and within the bound


def test_numpy_pipeline_warps_each_image_with_new_draws_each_epoch_and_repeats_with_its_seed():
    from training.pipeline import AugmentedBatches

    rng = np.random.default_rng(0)
    x, y = rng.random((10, 64)).astype("float32"), np.eye(10, dtype="float32")

    def epochs(seed):
        batches = AugmentedBatches(x, y, 4, seed, shift=1, image_shape=(8, 8), rotation=10, zoom=0.1)
        found = []
        for _ in range(2):
            found.append(np.concatenate([batches[i][0] for i in range(len(batches))]))
            batches.on_epoch_end()
        return found

    first, second = epochs(5)
    assert first.shape == (10, 64) and not np.array_equal(first, second)
    assert all(np.array_equal(a, b) for a, b in zip(epochs(5), (first, second), strict=True))
    assert not any(np.array_equal(row, original) for row in first for original in x)  # every image warped


def test_tensorflow_warp_computes_the_numpy_warp():
    # The two backends' pipelines must apply the same augmentation: same maps in, same pixels out.
    from training import warp_batch
    from training.pipeline import draw_warps, warp_images

    rng = np.random.default_rng(4)
    images = rng.random((6, 12, 10, 1)).astype("float32")
    inverse, moves = draw_warps(6, 2, 15, 0.15, rng)
    moves[0] = 30.0  # one image moved right out of the frame: zeros
    expected = warp_images(images, inverse, moves)
    got = warp_batch(images, inverse, moves).numpy()
    assert got.shape == images.shape and not got[0].any()
    assert np.allclose(got, expected, atol=1e-5)


def test_jax_warp_computes_the_numpy_warp_and_the_jax_pipeline_uses_it():
    # The JAX loader warps with XLA (training.pipeline.jax_warp): the same pixels as numpy's, to rounding.
    import keras

    from training.pipeline import AugmentedBatches, draw_warps, jax_warp, warp_images

    rng = np.random.default_rng(4)
    images = rng.random((6, 12, 10, 1)).astype("float32")
    inverse, moves = draw_warps(6, 2, 15, 0.15, rng)
    moves[0] = 30.0  # one image moved out of the frame: zeros
    got = np.asarray(jax_warp()(images, inverse, moves))
    assert got.shape == images.shape and got.dtype == np.float32 and not got[0].any()
    assert np.allclose(got, warp_images(images, inverse, moves), atol=1e-5)
    batches = AugmentedBatches(images.reshape(6, 120), np.arange(6), 4, 5, 1, image_shape=(12, 10), rotation=10)
    expected = warp_images if keras.backend.backend() != "jax" else jax_warp()
    assert batches.warp is expected and batches[0][0].shape == (4, 120)


def _epochs_of_warped(seed, epochs=2):
    rng = np.random.default_rng(0)
    x = rng.random((10, 64)).astype("float32")
    ds = make_dataset(
        x, np.arange(10), batch_size=4, seed=seed, shift=1, shuffle=False, image_shape=(8, 8), rotation=10, zoom=0.1
    )
    return x, [np.concatenate([xb.numpy() for xb, _ in ds]) for _ in range(epochs)]


def test_tf_data_warps_each_image_with_new_draws_each_epoch_and_repeats_with_its_seed():
    x, (first, second) = _epochs_of_warped(seed=5)
    assert first.shape == (10, 64) and not np.array_equal(first, second)
    assert not any(np.array_equal(row, original) for row in first for original in x)  # every image warped
    _, again = _epochs_of_warped(seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(again, (first, second), strict=True))
