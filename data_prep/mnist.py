"""MNIST: the four original IDX files, checksummed, returned exactly as ``keras.datasets.mnist.load_data()``.

``load_mnist(data_dir)`` reads ``data_dir/mnist/*.gz`` and verifies each file's sha256 (the
published values, in ``MNIST_FILES`` below). ``load_idx_dataset(folder)`` reads any data set in the
same four-file layout, with header and size checks in place of checksums. With no data directory,
``load_mnist(None)`` falls back to Keras' own download, which needs internet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data_prep.errors import DataError
from data_prep.idx import read_idx
from data_prep.paths import sha256_of

# The four files, in the order load_data() returns them, with the sha256 of each .gz file.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
IDX_STEMS = list(MNIST_FILES)  # same names, with or without .gz, for any IDX data set
FIX_HINT = (
    "copy the four original MNIST IDX files (" + ", ".join(MNIST_FILES) + "; sha256 listed in "
    "data_prep/mnist.py) into {folder}, or unset --data-dir/$PS4_DATA_DIR to let Keras download MNIST"
)


def load_mnist(data_dir: str | Path | None):
    """Load real MNIST.

    Args:
        data_dir: a folder holding ``mnist/``, or the ``mnist/`` folder itself;
            None falls back to ``keras.datasets.mnist.load_data()`` (downloads; needs internet).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shape (60000, 28, 28), (60000,),
        (10000, 28, 28), (10000,), identical to Keras' own copy.

    Raises:
        DataError: a file is missing or its checksum does not match; offline with no data directory.
    """
    if data_dir is None:
        return _load_from_keras()
    folder = Path(data_dir)
    if (folder / "mnist").is_dir():
        folder = folder / "mnist"
    for name, expected in MNIST_FILES.items():
        path = folder / name
        if not path.is_file():
            raise DataError(f"MNIST file {path} is missing; " + FIX_HINT.format(folder=folder))
        actual = sha256_of(path)
        if actual != expected:
            raise DataError(
                f"MNIST file {path} is corrupt: sha256 {actual[:16]}... should be {expected[:16]}...; "
                + FIX_HINT.format(folder=folder)
            )
    return _read_four([folder / name for name in MNIST_FILES])


def idx_dataset_files(folder: str | Path) -> list[Path]:
    """The four IDX files of the data set in ``folder`` (``.gz`` or not), in load_data() order.

    Raises:
        DataError: the folder or one of the four files is missing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"--dataset-dir {folder} does not exist")
    files = []
    for stem in IDX_STEMS:
        gz, plain = folder / stem, folder / stem.removesuffix(".gz")
        if not (gz.is_file() or plain.is_file()):
            raise DataError(f"{folder}: missing {plain.name} (or {gz.name}); an IDX data set needs all four files")
        files.append(gz if gz.is_file() else plain)
    return files


def describe_idx_dataset(folder: str | Path, name: str) -> str:
    """A data set in IDX form by name and checksums, for reports (no path of this machine)."""
    sums = ", ".join(f"{path.name} {sha256_of(path)[:16]}" for path in idx_dataset_files(folder))
    return f"IDX data set '{name}' (--dataset-dir; header and size checks; sha256 prefixes: {sums})"


def load_idx_dataset(folder: str | Path):
    """Load any data set stored as MNIST's four IDX files (``.gz`` or not) in ``folder``.

    Header and size checks replace the checksums: images must be (n, rows, cols) uint8, labels (n,)
    with the same n, and train and test images the same size.
    """
    folder = Path(folder)
    (x_train, y_train), (x_test, y_test) = _read_four(idx_dataset_files(folder))
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 3 or y.ndim != 1 or x.dtype != np.uint8:
            raise DataError(f"{folder}: {name} images must be (n, rows, cols) uint8 and labels (n,)")
        if len(x) != len(y):
            raise DataError(f"{folder}: {len(x)} {name} images but {len(y)} labels")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"{folder}: train images {x_train.shape[1:]} and test images {x_test.shape[1:]} differ")
    return (x_train, y_train), (x_test, y_test)


def _read_four(paths: list[Path]):
    x_train, y_train, x_test, y_test = (read_idx(path) for path in paths)
    return (x_train, y_train), (x_test, y_test)


def _load_from_keras():
    import keras

    try:
        return keras.datasets.mnist.load_data()
    except Exception as err:  # Keras wraps every network failure differently
        raise DataError(
            f"no data directory given and Keras could not download MNIST ({type(err).__name__}: {err}). "
            "Offline, set PS4_DATA_DIR (or --data-dir) to a folder holding mnist/ with the four original MNIST "
            "IDX files (" + ", ".join(MNIST_FILES) + ")."
        ) from None


def to_float(x: np.ndarray) -> np.ndarray:
    """Pixels 0..255 to float32 0..1, as the course did (divide by 255)."""
    return x.astype("float32") / 255.0


def flatten(x: np.ndarray) -> np.ndarray:
    """(n, 28, 28) to (n, 784), row by row."""
    return x.reshape(len(x), -1)


def one_hot(y: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Integer labels to float32 one-hot rows, as categorical cross-entropy expects."""
    return np.eye(num_classes, dtype="float32")[y]


def validation_split(x: np.ndarray, y: np.ndarray, n_val: int, seed: int):
    """Carve a stratification-free random validation set of ``n_val`` rows from the training data.

    Returns ``(x_fit, y_fit), (x_val, y_val)``; the permutation depends only on ``seed``.
    """
    order = np.random.default_rng(seed).permutation(len(x))
    fit, val = order[n_val:], order[:n_val]
    return (x[fit], y[fit]), (x[val], y[val])
