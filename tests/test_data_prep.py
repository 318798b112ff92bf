"""The MNIST loader, the generic IDX reader and the preparation helpers."""

import gzip
import shutil

import numpy as np
import pytest

from data_prep import DataError, resolve_data_dir
from data_prep.idx import read_idx, write_idx
from data_prep.mnist import MNIST_FILES, flatten, load_idx_dataset, load_mnist, one_hot, to_float, validation_split


def test_real_mnist_matches_keras_layout(mnist):
    # Same shapes, dtypes and label counts as keras.datasets.mnist.load_data() (SOURCE.md).
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]


def _copy_mnist(data_dir, tmp_path):
    target = tmp_path / "mnist"
    target.mkdir()
    for name in MNIST_FILES:
        shutil.copy(data_dir / "mnist" / name, target / name)
    return target


def test_corrupted_copy_is_refused_naming_the_file(data_dir, tmp_path):
    # One flipped byte in the labels file must fail the checksum, with the file's name in the message.
    folder = _copy_mnist(data_dir, tmp_path)
    victim = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(victim.read_bytes())
    raw[100] ^= 0xFF
    victim.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz is corrupt: sha256"):
        load_mnist(tmp_path)


def test_missing_file_is_refused(data_dir, tmp_path):
    folder = _copy_mnist(data_dir, tmp_path)
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz is missing"):
        load_mnist(folder)


def test_offline_fallback_says_what_to_do(monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataError, match="PS4_DATA_DIR"):
        load_mnist(None)


@pytest.mark.parametrize("name", ["a-idx3-ubyte.gz", "a-idx3-ubyte"])
def test_idx_round_trip(tmp_path, name):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.uint8 and np.array_equal(back, array)


def test_idx_size_mismatch_is_refused(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    write_idx(path, np.zeros((4, 5, 5), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError, match="header says shape"):
        read_idx(path)


def test_idx_bad_magic_and_bad_gzip(tmp_path):
    (tmp_path / "plain").write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x00")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "plain")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02ab")[:-5])
    with pytest.raises(DataError, match="cannot decompress"):
        read_idx(tmp_path / "bad.gz")


def test_generic_idx_dataset(tiny_idx_dir):
    (x_train, y_train), (x_test, y_test) = load_idx_dataset(tiny_idx_dir)
    assert x_train.shape == (200, 8, 8) and y_train.shape == (200,) and x_test.shape == (50, 8, 8)
    assert set(np.unique(y_test)) <= {0, 1, 2}


def test_generic_idx_dataset_label_count_mismatch(tiny_idx_dir):
    write_idx(tiny_idx_dir / "t10k-labels-idx1-ubyte", np.zeros(49, dtype=np.uint8))
    with pytest.raises(DataError, match="50 test images but 49 labels"):
        load_idx_dataset(tiny_idx_dir)


def test_resolve_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("PS4_DATA_DIR", raising=False)
    assert resolve_data_dir(None) is None
    monkeypatch.setenv("PS4_DATA_DIR", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path
    with pytest.raises(DataError, match="does not exist"):
        resolve_data_dir(tmp_path / "nowhere")


def test_helpers():
    x = np.array([[[0, 255], [128, 1]]], dtype=np.uint8)
    flat = flatten(to_float(x))
    assert flat.dtype == np.float32 and flat.shape == (1, 4)
    assert flat[0].tolist() == pytest.approx([0.0, 1.0, 128 / 255, 1 / 255])  # row-major
    assert one_hot(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    (a, _), (b, _) = validation_split(np.arange(10), np.arange(10), 3, seed=5)
    assert len(b) == 3 and sorted(np.concatenate([a, b]).tolist()) == list(range(10))
    (_, _), (b2, _) = validation_split(np.arange(10), np.arange(10), 3, seed=5)
    assert np.array_equal(b, b2)
