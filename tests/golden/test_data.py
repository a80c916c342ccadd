"""Data loaders: fixed stratified splits, pixel scaling, and the MNIST IDX reader on small files."""

import gzip
import struct

import numpy as np
import pytest

from golden.data import (load_dataset, load_digits, load_idx_folder, load_mnist_subset, read_idx,
                         stratified_split, write_idx)


# -- splits --------------------------------------------------------------------------------------

def test_stratified_split_is_a_partition_with_class_proportions():
    y = np.repeat(np.arange(4), [40, 30, 20, 10])
    train, test = stratified_split(y, 25, seed=3)
    assert len(test) == 25 and len(train) == 75
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    exact = np.array([40, 30, 20, 10]) * 25 / 100
    assert np.abs(np.bincount(y[test], minlength=4) - exact).max() <= 0.5


def test_stratified_split_is_seeded():
    y = np.repeat(np.arange(3), 20)
    a = stratified_split(y, 12, seed=1)
    b = stratified_split(y, 12, seed=1)
    c = stratified_split(y, 12, seed=2)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("n_test", [0, 60, -1])
def test_stratified_split_rejects_bad_sizes(n_test):
    with pytest.raises(ValueError, match=f"n_test={n_test}"):
        stratified_split(np.zeros(60, int), n_test, seed=0)


# -- built-in data sets --------------------------------------------------------------------------

def test_digits_split_and_scaling():
    d = load_digits()
    assert d.x_train.shape == (1437, 64) and d.x_test.shape == (360, 64)
    assert d.x_train.min() >= 0.0 and d.x_train.max() == 1.0
    assert d.n_classes == 10 and d.n_features == 64
    counts = np.bincount(d.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    again = load_dataset("digits")
    assert np.array_equal(d.x_train, again.x_train) and np.array_equal(d.y_test, again.y_test)


def test_mnist_subset_split_and_scaling():
    d = load_mnist_subset()
    assert d.x_train.shape == (4000, 784) and d.x_test.shape == (1000, 784)
    assert np.bincount(d.y_test, minlength=10).tolist() == [100] * 10
    assert d.x_train.min() >= 0.0 and d.x_train.max() == 1.0
    # No sample is in both halves (the subset has no exact duplicate images).
    train_rows = {row.tobytes() for row in d.x_train}
    assert not any(row.tobytes() in train_rows for row in d.x_test)


def test_limit_keeps_a_prefix_and_names_it():
    d = load_digits().limit(100, 50)
    assert d.x_train.shape == (100, 64) and len(d.y_test) == 50
    assert d.name == "digits[:100]"
    assert d.summary()["n_train"] == 100


def test_load_dataset_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"data='cifar'"):
        load_dataset("cifar")


# -- IDX files -----------------------------------------------------------------------------------

def _idx_bytes(code, shape, payload: bytes) -> bytes:
    """An IDX file built by hand from the format description (independent of write_idx)."""
    return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", n) for n in shape) + payload


def test_read_idx_reads_a_hand_made_file(tmp_path):
    path = tmp_path / "a.idx"
    path.write_bytes(_idx_bytes(0x08, (2, 3), bytes([0, 1, 2, 253, 254, 255])))
    a = read_idx(path)
    assert a.dtype == np.uint8 and a.tolist() == [[0, 1, 2], [253, 254, 255]]
    path.write_bytes(_idx_bytes(0x0C, (2,), struct.pack(">ii", -5, 70000)))
    assert read_idx(path).tolist() == [-5, 70000]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_write_then_read_idx_round_trips(tmp_path, dtype, name):
    a = (np.arange(24).reshape(2, 3, 4) * 3 - (0 if dtype == np.uint8 else 20)).astype(dtype)
    write_idx(tmp_path / name, a)
    assert (tmp_path / name).read_bytes()[:2] == (b"\x1f\x8b" if name.endswith(".gz") else b"\0\0")
    b = read_idx(tmp_path / name)
    assert b.dtype == a.dtype and np.array_equal(a, b)


def _write_mnist(folder, n_train=6, n_test=4, *, gz=False, sep="-"):
    rng = np.random.default_rng(0)
    folder.mkdir(exist_ok=True)
    arrays = {}
    for stem, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 5, 4), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{stem}-images{sep}idx3-ubyte{suffix}", images)
        write_idx(folder / f"{stem}-labels{sep}idx1-ubyte{suffix}", labels)
        arrays[stem] = (images, labels)
    return arrays


@pytest.mark.parametrize("gz,sep", [(False, "-"), (True, "-"), (False, ".")])
def test_load_idx_folder(tmp_path, gz, sep):
    arrays = _write_mnist(tmp_path / "mnist", gz=gz, sep=sep)
    d = load_dataset(f"idx:{tmp_path / 'mnist'}")
    images, labels = arrays["train"]
    assert d.x_train.shape == (6, 20) and d.x_test.shape == (4, 20)
    assert np.allclose(d.x_train * 255.0, images.reshape(6, 20))
    assert d.y_train.dtype == np.int64 and d.y_train.tolist() == labels.tolist()
    assert d.x_test.max() <= 1.0


def test_idx_errors_name_the_path(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        load_idx_folder(tmp_path / "nowhere")
    folder = tmp_path / "m"
    _write_mnist(folder)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte: file not found"):
        load_idx_folder(folder)


@pytest.mark.parametrize("content,message", [
    (b"\x01\x02\x08\x01\0\0\0\x01\x00", "bad magic number"),
    (b"\0\0\x07\x01\0\0\0\x01\x00", "unknown IDX type code 0x07"),
    (b"\0\0\x08\x03\0\0", "truncated IDX header"),
    (b"\0\0\x08\x01\0\0\0\x05\x01\x02", "holds 2 bytes"),
    (b"\x1f\x8bnot really gzip", "corrupt gzip"),
])
def test_corrupt_idx_files_raise_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_idx_folder_checks_shapes(tmp_path):
    folder = tmp_path / "m"
    _write_mnist(folder)
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="expected 6 labels"):
        load_idx_folder(folder)
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(6, np.uint8))
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((6, 20), np.uint8))
    with pytest.raises(ValueError, match="expected uint8 images"):
        load_idx_folder(folder)


def test_gz_file_is_found_when_plain_is_missing(tmp_path):
    folder = tmp_path / "m"
    _write_mnist(folder)
    plain = folder / "train-images-idx3-ubyte"
    data = plain.read_bytes()
    plain.unlink()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(data))
    assert load_idx_folder(folder).x_train.shape == (6, 20)
