"""Where a task's examples come from: scikit-learn's digits, MNIST-format and CIFAR-10 files
in a local folder, or the user's own CSV / .npy / .npz files.

Sources (``dataset`` option):

* ``digits``: scikit-learn's bundled handwritten digits (1797 x 64, 10 classes); no download.
* ``mnist``, ``fashion_mnist``: the standard IDX files (``train-images-idx3-ubyte[.gz]`` ...)
  in a local folder (``data_dir``).
* ``cifar10``: the python-pickle batches (``cifar-10-batches-py``) or the binary version
  (``cifar-10-batches-bin``) in a local folder (``data_dir``).
* ``csv``, ``npy``, ``npz``: the user's own data (``path``; inferred from its suffix).

Files are read by ``datafiles``, which checks every declared size before allocating; this
module finds the files, checks what they hold (shapes, finite features of sane magnitude,
labels) and keeps loaded sources in ``cache.SOURCES``.  scikit-learn is imported only when
the digits are loaded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cache
from .datafiles import (DatasetError, check_class_count, empty_file, read_cifar_binary,
                        read_cifar_pickle, read_csv, read_idx, read_npy, read_npz, regular_file)
from .datafiles import class_ids as checked_class_ids

# Features beyond this magnitude overflow the projection and the scaler's sums of squares.
MAX_ABS_FEATURE = 1e100
MAX_EXAMPLES = 10 ** 8      # labels, row indices and splits are int64 arrays of this length

IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")
USER_FORMATS = ("csv", "npy", "npz")
DATASETS = IMAGE_DATASETS + USER_FORMATS

_MNIST_URLS = {
    "mnist": "http://yann.lecun.com/exdb/mnist/ (if that fails, the mirror "
             "https://ossci-datasets.s3.amazonaws.com/mnist/)",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ "
                     "(see https://github.com/zalandoresearch/fashion-mnist)",
}
_CIFAR_URL = ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (or cifar-10-binary.tar.gz; "
              "see https://www.cs.toronto.edu/~kriz/cifar.html)")


@dataclass
class Source:
    """Raw examples: ``x`` (n, d) pixels or features, ``y`` (n,) integer class ids."""

    name: str
    x: np.ndarray
    y: np.ndarray
    origin: str          # where the data came from, for messages
    key: tuple = ()      # identity in the caches (set by load_source)

    @property
    def classes(self) -> list[int]:
        return sorted(int(c) for c in np.unique(self.y))


def load_digits() -> Source:
    from sklearn.datasets import load_digits as _sk_digits   # on use: it costs about a second

    x, y = _sk_digits(return_X_y=True)
    return Source("digits", x, y.astype(np.int64), "scikit-learn's bundled digits")


# ---- IDX (MNIST, Fashion-MNIST) ----

_IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# Layouts users commonly have: the folder itself, a per-dataset folder, torchvision's raw folder.
_IDX_SUBDIRS = {"mnist": ("", "mnist", "MNIST/raw"),
                "fashion_mnist": ("", "fashion_mnist", "fashion-mnist", "FashionMNIST/raw")}


def _find_file(name: str, data_dir: Path, subdirs, variants, what: str, url: str) -> Path:
    looked = []
    for sub in subdirs:
        folder = data_dir / sub if sub else data_dir
        looked.append(str(folder))
        for candidate in variants:
            if (folder / candidate).is_file():
                return folder / candidate
    raise DatasetError(f"{what} file {name} not found; looked for {', '.join(variants)} in "
                       f"{'; '.join(looked)}. Download it from {url} and put it in {data_dir} "
                       "(gzip-compressed or not)")


def _idx_variants(name: str) -> tuple:
    dotted = name.replace("-idx", ".idx")   # some mirrors name the files train-images.idx3-ubyte
    return (name + ".gz", name, dotted + ".gz", dotted)


def load_idx_dataset(name: str, data_dir, split: str = "train") -> Source:
    data_dir = _need_dir(name, data_dir)
    img_name, lab_name = _IDX_NAMES[split]
    url = _MNIST_URLS[name]
    images = read_idx(_find_file(img_name, data_dir, _IDX_SUBDIRS[name], _idx_variants(img_name),
                                 name, url))
    labels = read_idx(_find_file(lab_name, data_dir, _IDX_SUBDIRS[name], _idx_variants(lab_name),
                                 name, url))
    origin = f"{name} ({split}) in {data_dir}"
    if images.ndim < 2 or labels.ndim != 1 or images.shape[0] == 0:
        raise DatasetError(f"{origin}: images must have rank >= 2 and labels rank 1, with at least "
                           f"one example, got shapes {images.shape} and {labels.shape}; are the "
                           "files swapped?")
    # Row-major flattening equals TFDS's flattening of (28, 28, 1) images.
    x = images.reshape(images.shape[0], -1)
    return _checked(Source(name, x, checked_class_ids(labels, origin), origin), num_classes=10)


# ---- CIFAR-10 ----

_CIFAR_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def _cifar_layout(data_dir: Path):
    """(folder, binary?) of the extracted batches, or a DatasetError naming what is missing."""
    for folder in (data_dir, data_dir / "cifar-10-batches-py", data_dir / "cifar-10-batches-bin"):
        if (folder / "data_batch_1").is_file():
            return folder, False
        if (folder / "data_batch_1.bin").is_file():
            return folder, True
    tarballs = [p.name for p in data_dir.glob("cifar-10-*.tar.gz")]
    hint = f" Found {tarballs[0]}: extract it with `tar xzf {tarballs[0]}`." if tarballs else ""
    raise DatasetError(f"cifar10 file data_batch_1 (or data_batch_1.bin) not found in {data_dir}, "
                       f"{data_dir / 'cifar-10-batches-py'} or {data_dir / 'cifar-10-batches-bin'}."
                       f"{hint} Download {_CIFAR_URL} and extract it into {data_dir}")


def load_cifar10(data_dir, split: str = "train") -> Source:
    data_dir = _need_dir("cifar10", data_dir)
    folder, binary = _cifar_layout(data_dir)
    xs, ys = [], []
    for name in _CIFAR_FILES[split]:
        path = folder / (name + ".bin" if binary else name)
        if not path.is_file():
            raise DatasetError(f"cifar10 file {path.name} not found in {folder}; the download is "
                               f"incomplete. Download {_CIFAR_URL} and extract it into {data_dir}")
        data, labels = read_cifar_binary(path) if binary else read_cifar_pickle(path, _CIFAR_URL)
        if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != data.shape[0]:
            raise DatasetError(f"{path}: expected data of shape (n, 3072) and n labels, got "
                               f"{data.shape} and {len(labels)} labels")
        xs.append(data)
        ys.append(labels)
    x = np.concatenate(xs)
    # Batches store each image channel by channel (R, G, B planes); TFDS, which the reference
    # used, flattens height x width x channel.  Reorder so a projection sees the same layout.
    x = x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(-1, 3072)
    return _checked(Source("cifar10", np.ascontiguousarray(x, dtype=np.uint8),
                           np.concatenate(ys).astype(np.int64), f"cifar10 ({split}) in {folder}"),
                    num_classes=10)


def _need_dir(name: str, data_dir) -> Path:
    if data_dir is None:
        raise DatasetError(f"dataset {name!r} is read from local files: set data_dir (--data-dir) "
                           "to the folder holding them, or use dataset = 'digits', which needs no "
                           "download")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DatasetError(f"data_dir {str(path)!r} for dataset {name!r} is not a folder; "
                           "point it at the folder holding the downloaded files")
    return path


# ---- user data ----

def _user_format(path: Path, dataset) -> str:
    fmt = dataset or path.suffix.lower().lstrip(".")
    if fmt not in USER_FORMATS:
        raise DatasetError(f"{path}: cannot tell the file format from the suffix {path.suffix!r}; "
                           f"use a .csv, .npy or .npz file or set dataset to one of {USER_FORMATS}")
    return fmt


def read_user_data(path, dataset=None, label_column=None, labels_path=None) -> Source:
    """A user's CSV, .npy pair or .npz file as a Source (features and integer class ids)."""
    path = Path(path).expanduser()
    size = regular_file(path, "data file", "path", empty_ok=True)
    fmt = _user_format(path, dataset)
    if size == 0:
        raise empty_file(path, "data file", "path")
    if fmt != "csv" and label_column is not None:
        raise DatasetError(f"label_column applies to CSV files only; {path.name} is {fmt}")
    if fmt != "npy" and labels_path is not None:
        raise DatasetError(f"labels_path applies to .npy features only; {path.name} is {fmt}")
    row_name = None
    if fmt == "csv":
        x, y, row_name = read_csv(path, size, label_column)
    elif fmt == "npz":
        x, y = read_npz(path, size)
    else:
        x, y = _read_npy_pair(path, size, labels_path)
    return _checked(Source(path.stem, x, checked_class_ids(y, path, row_name), str(path)))


def _read_npy_pair(path: Path, size: int, labels_path):
    if labels_path is None:
        raise DatasetError(f"{path}: .npy features need their labels in a second file; set "
                           "labels_path to the .npy holding one class id per row")
    labels_path = Path(labels_path).expanduser()
    labels_size = regular_file(labels_path, "labels file", "labels_path")
    return (read_npy(path, size, "features array"),
            read_npy(labels_path, labels_size, "labels array"))


# ---- checks every source passes ----

def _flat_features(src: Source) -> np.ndarray:
    x = src.x
    if x.ndim > 2 and x.shape[0] > 0:
        x = src.x = x.reshape(x.shape[0], -1)
    if x.ndim != 2 or x.shape[1] == 0 or x.shape[0] == 0:
        raise DatasetError(f"{src.origin}: features must be a 2-D array (examples x features) with "
                           f"at least one of each, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DatasetError(f"{src.origin}: features must be real numbers, got dtype {x.dtype}")
    return x


def _check_feature_values(x: np.ndarray, origin: str) -> None:
    """Finite and of a magnitude the projection and the scaler cannot overflow (checked here
    so that no numpy warning precedes the error)."""
    if x.dtype.kind != "f":
        return
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(x)
        if not finite.all():
            r, c = np.argwhere(~finite)[0]
            raise DatasetError(f"{origin}: features contain NaN or inf "
                               f"({int((~finite).sum())} values; first at row {r}, column {c}); "
                               "drop or impute those values")
        huge = np.abs(x) > MAX_ABS_FEATURE
        if huge.any():
            r, c = np.argwhere(huge)[0]
            raise DatasetError(f"{origin}: features as large as {x[r, c].item():.3g} (row {r}, "
                               f"column {c}; {int(huge.sum())} values beyond "
                               f"{MAX_ABS_FEATURE:.0e}) would overflow the projection; rescale "
                               "the features, e.g. to [0, 1], first")


def _checked(src: Source, num_classes: int | None = None) -> Source:
    """Shape, length, value and label checks shared by every source."""
    x = _flat_features(src)
    if x.shape[0] > MAX_EXAMPLES:
        raise DatasetError(f"{src.origin}: {x.shape[0]} examples, more than the limit of "
                           f"{MAX_EXAMPLES}; use a subsample (the reference uses 5000 per class)")
    if len(src.y) != x.shape[0]:
        raise DatasetError(f"{src.origin}: mismatched lengths: {x.shape[0]} feature rows but "
                           f"{len(src.y)} labels; each example needs exactly one label")
    _check_feature_values(x, src.origin)
    if num_classes is not None and (src.y.min() < 0 or src.y.max() >= num_classes):
        raise DatasetError(f"{src.origin}: labels out of range: found "
                           f"{src.y.min()}..{src.y.max()}, expected 0..{num_classes - 1}; the "
                           f"label file is corrupt or not {src.name}")
    classes = len(np.unique(src.y))
    check_class_count(classes, src.origin)
    if classes < 2:
        raise DatasetError(f"{src.origin}: one class only (label {src.classes[0]}); classification "
                           "needs examples of at least two classes")
    return src



# --- loading through the cache --------------------------------------------------------------

def _source_key(dataset, data_dir, path, split, label_column, labels_path):
    resolve = lambda p: None if p is None else str(Path(p).expanduser().resolve())  # noqa: E731
    return (dataset, resolve(data_dir), resolve(path), split, label_column, resolve(labels_path))


def _check_source_options(dataset, data_dir, path, split, label_column, labels_path) -> None:
    # Checked before they become cache keys: a list from a config file is not hashable.
    for name, value in (("dataset", dataset), ("split", split)):
        if value is not None and not isinstance(value, str):
            raise DatasetError(f"{name} must be a string, got {value!r}")
    for name, value in (("data_dir", data_dir), ("path", path), ("labels_path", labels_path)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise DatasetError(f"{name} must be a file system path, got {value!r}")
    if label_column is not None and (isinstance(label_column, bool)
                                     or not isinstance(label_column, (str, int))):
        raise DatasetError(f"label_column must be a column name or number, got {label_column!r}")


def load_source(dataset=None, data_dir=None, path=None, split="train", label_column=None,
                labels_path=None) -> Source:
    """Load (once) and check one data source; see the module docstring for the options."""
    _check_source_options(dataset, data_dir, path, split, label_column, labels_path)
    if dataset is None:
        dataset = "digits" if path is None else None
    if dataset is not None and dataset not in DATASETS:
        raise DatasetError(f"unknown dataset {dataset!r}; known: {list(DATASETS)} (user files via "
                           "path, format from the suffix)")
    if split not in _IDX_NAMES:
        raise DatasetError(f"split must be 'train' or 'test', got {split!r}")
    key = _source_key(dataset, data_dir, path, split, label_column, labels_path)
    src = cache.SOURCES.get(key, lambda: _load(dataset, data_dir, path, split, label_column,
                                               labels_path))
    src.key = key
    return src


def _load(dataset, data_dir, path, split, label_column, labels_path) -> Source:
    if dataset in IMAGE_DATASETS and path is not None:
        raise DatasetError(f"path is for user files; dataset {dataset!r} is read from data_dir")
    if dataset in IMAGE_DATASETS and (label_column is not None or labels_path is not None):
        raise DatasetError(f"label_column / labels_path are for user files, not dataset "
                           f"{dataset!r}")
    if dataset not in IMAGE_DATASETS and split != "train":
        raise DatasetError("split applies to the image datasets; split user data into files "
                           "yourself")
    if dataset == "digits":
        if split != "train":
            raise DatasetError("the digits dataset has no test split; use split = 'train'")
        return _checked(load_digits(), num_classes=10)
    if dataset in ("mnist", "fashion_mnist"):
        return load_idx_dataset(dataset, data_dir, split)
    if dataset == "cifar10":
        return load_cifar10(data_dir, split)
    if path is None:
        raise DatasetError(f"dataset {dataset!r} is a user file format: set path to the file")
    return read_user_data(path, dataset, label_column, labels_path)

