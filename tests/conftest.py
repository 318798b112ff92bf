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


def _data_dir() -> Path | None:
    value = os.environ.get("PS4_DATA_DIR")
    return Path(value) if value and Path(value, "mnist").is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data directory ($PS4_DATA_DIR, which CI sets to ../shared/data)."""
    found = _data_dir()
    if found is None:
        pytest.skip("set PS4_DATA_DIR to a folder holding mnist/ for the real-data tests")
    return found


@pytest.fixture(scope="session")
def mnist(data_dir):
    from data_prep.mnist import load_mnist

    return load_mnist(data_dir)


@pytest.fixture
def tiny_idx_dir(tmp_path):
    """A synthetic MNIST-format data set: 200 train and 50 test 8x8 images, labels 0..2."""
    import numpy as np

    from data_prep.idx import write_idx

    rng = np.random.default_rng(0)
    for stem, n in (("train", 200), ("t10k", 50)):
        labels = rng.integers(0, 3, n).astype("uint8")
        images = (rng.random((n, 8, 8)) * 60).astype("uint8")
        images[np.arange(n), labels, :] = 255  # the label's row lights up: learnable
        write_idx(tmp_path / f"{stem}-images-idx3-ubyte.gz", images)
        write_idx(tmp_path / f"{stem}-labels-idx1-ubyte", labels)
    return tmp_path


@pytest.fixture
def tiny_mnist_like_dir(tmp_path):
    """Synthetic 28x28 IDX set (300 train, 60 test, 10 classes): the label sets one bright row."""
    import numpy as np

    from data_prep.idx import write_idx

    rng = np.random.default_rng(1)
    for stem, n in (("train", 300), ("t10k", 60)):
        labels = rng.integers(0, 10, n).astype("uint8")
        images = (rng.random((n, 28, 28)) * 40).astype("uint8")
        images[np.arange(n), 2 * labels + 4, 4:24] = 255
        write_idx(tmp_path / f"{stem}-images-idx3-ubyte.gz", images)
        write_idx(tmp_path / f"{stem}-labels-idx1-ubyte.gz", labels)
    return tmp_path
