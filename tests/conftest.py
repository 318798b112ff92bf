"""Shared fixtures. Keras writes ~/.keras on import: point KERAS_HOME at a temporary folder first."""

import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_HOME", tempfile.mkdtemp(prefix="keras_home_"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from training.backend import DEFAULT_BACKEND  # noqa: E402  (after the path above; imports no keras)

# The suite runs on the project's default backend unless KERAS_BACKEND names another (the Makefile's
# second pass runs the tests marked `backends` on TensorFlow).
os.environ.setdefault("KERAS_BACKEND", DEFAULT_BACKEND)


def _data_dir() -> Path | None:
    value = os.environ.get("PS4_DATA_DIR")
    return Path(value) if value and Path(value, "mnist").is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data directory ($PS4_DATA_DIR, a folder holding mnist/; CI sets it)."""
    found = _data_dir()
    if found is None:
        pytest.skip("set PS4_DATA_DIR to a folder holding mnist/ for the real-data tests")
    return found


@pytest.fixture(scope="session")
def mnist(data_dir):
    from data_prep.mnist import load_mnist

    return load_mnist(data_dir)


def write_tiny_idx_set(folder, side: int, classes: int, n_train: int, n_test: int, seed: int, gz_labels: bool):
    """Write a learnable synthetic data set in MNIST's four-file IDX layout: noise, plus one bright
    row whose position encodes the label."""
    import numpy as np

    from data_prep.idx import write_idx

    rng = np.random.default_rng(seed)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, classes, n).astype("uint8")
        images = (rng.random((n, side, side)) * 50).astype("uint8")
        row = labels * (side - 2) // classes + 1
        images[np.arange(n), row, 2 : side - 2] = 255
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{stem}-labels-idx1-ubyte{'.gz' if gz_labels else ''}", labels)
    return folder


@pytest.fixture
def tiny_idx_dir(tmp_path):
    """200 train and 50 test 8x8 images, labels 0..2; label files uncompressed (both forms load)."""
    return write_tiny_idx_set(tmp_path, side=8, classes=3, n_train=200, n_test=50, seed=0, gz_labels=False)


@pytest.fixture
def tiny_mnist_like_dir(tmp_path):
    """300 train and 60 test 28x28 images, 10 classes: shaped like MNIST for the CNN and tuner tests."""
    return write_tiny_idx_set(tmp_path, side=28, classes=10, n_train=300, n_test=60, seed=1, gz_labels=True)
