"""Real data: image datasets and user files, turned into tasks by the reference's recipe.

Sources (``dataset`` option):

* ``digits``: scikit-learn's bundled handwritten digits (1797 x 64, 10 classes); no download.
* ``mnist``, ``fashion_mnist``: the standard IDX files (``train-images-idx3-ubyte[.gz]`` ...)
  in a local folder (``data_dir``).
* ``cifar10``: the python-pickle batches (``cifar-10-batches-py``) or the binary version
  (``cifar-10-batches-bin``) in a local folder (``data_dir``).
* ``csv``, ``npy``, ``npz``: the user's own data (``path``; inferred from its suffix).

The recipe is the reference's ``generate_datasets.py`` (reference_spec §5.5): take the first
``examples_per_class`` examples of each chosen class, split stratified with scikit-learn
(``random_state`` = the projection seed), project with a Gaussian matrix drawn after
``np.random.seed(seed)``, standardize with a scaler fitted on the projected training split,
and store as float32.  A task then uses the first ``num_train_examples`` / ``num_valid_examples``
of the prepared splits, as the reference reads the first examples of its pre-generated files.

Files are read by ``search.datafiles``, which checks every declared size before allocating;
this module checks what they hold (shapes, finite features of sane magnitude, labels) and applies
the recipe.

Importing this module registers the task types ``projected_binary_classification`` and
``projected_multiclass_classification`` in ``search.tasks.TASK_TYPES``.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from azcompile.engine import ACCURACY, MULTICLASS

from . import tasks as _tasks
from .datafiles import (MAX_ARRAY_BYTES, MAX_CLASSES, DatasetError, check_class_count,
                        empty_file, read_cifar_binary, read_cifar_pickle, read_csv, read_idx,
                        read_npy, read_npz, regular_file, size_text)
from .datafiles import class_ids as checked_class_ids
from .tasks import Task, TaskError

__all__ = ["DatasetError", "MAX_CLASSES", "read_idx"]   # re-exported from .datafiles

# Features beyond this magnitude overflow the projection and the scaler's sums of squares.
MAX_ABS_FEATURE = 1e100
MAX_EXAMPLES = 10 ** 8      # labels, row indices and splits are int64 arrays of this length

# --- constants of the reference ------------------------------------------------------------

PAIR_SEED_SALT = 856572777          # HashMix(856572777, data_seed) picks the class pair
REFERENCE_EXAMPLES_PER_CLASS = 5000  # (8000 + 1000 + 1000) / 2
# task.proto's recommendation for meta-validation / test (T_select); the other 36 are T_search.
RECOMMENDED_HELD_OUT_PAIRS = ((4, 6), (3, 5), (8, 9), (3, 8), (0, 9), (2, 9), (1, 8), (3, 6),
                              (0, 5))
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


# --- HashMix (definitions.h) -----------------------------------------------------------------

_M64 = (1 << 64) - 1
# Bob Jenkins' 64-bit mix as the reference's HashCombine runs it: four rounds; per round the
# shifts of its a step (right), b step (left) and c step (right).
_MIX_SHIFTS = ((43, 9, 8), (38, 23, 5), (35, 49, 11), (12, 18, 22))


def _hash_combine(seed: int, value: int) -> int:
    a, b, c = 0x9E3779B9, seed, value     # std::hash of an unsigned integer is the identity
    for sa, sb, sc in _MIX_SHIFTS:
        a = ((a - b - c) & _M64) ^ (c >> sa)
        b = ((b - c - a) & _M64) ^ ((a << sb) & _M64)
        c = ((c - a - b) & _M64) ^ (b >> sc)
    return c


def hash_mix(*numbers: int) -> int:
    """The reference's ``HashMix`` of uint32 numbers (start 42, fold in each, keep 32 bits)."""
    seed = 42
    for n in numbers:
        seed = _hash_combine(seed, int(n) & 0xFFFFFFFF)
    return seed & 0xFFFFFFFF


# --- sources -----------------------------------------------------------------------------------

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
    from sklearn.datasets import load_digits as _sk_digits

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


# --- loading with a cache --------------------------------------------------------------------

_SOURCES: OrderedDict = OrderedDict()
_MAX_SOURCES = 3           # raw CIFAR-10 alone is 150 MB: keep only the recent few
_PREPARED: OrderedDict = OrderedDict()
_MAX_PREPARED = 512        # a prepared 10k x 16 task is ~1.3 MB


def _lru_get(cache: OrderedDict, key, make, limit: int):
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = make()
    cache[key] = value
    while len(cache) > limit:
        cache.popitem(last=False)
    return value


def clear_cache() -> None:
    """Forget loaded sources and prepared tasks (e.g. after files changed on disk)."""
    _SOURCES.clear()
    _PREPARED.clear()


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
    src = _lru_get(_SOURCES, key, lambda: _load(dataset, data_dir, path, split, label_column,
                                                labels_path), _MAX_SOURCES)
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


# --- the recipe ------------------------------------------------------------------------------

@dataclass
class Prepared:
    """Projected, standardized, float32-rounded splits of one (dataset, classes, seed, F)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def select_classes(src: Source, class_ids, label_values, examples_per_class):
    """Rows of the first ``examples_per_class`` examples of each class, class by class (the
    reference's ``select_classes``), and their labels: class_ids[k] -> label_values[k]."""
    parts = []
    for cid, label in zip(class_ids, label_values):
        rows = np.flatnonzero(src.y == cid)
        if rows.size == 0:
            raise DatasetError(f"{src.origin}: class {cid} has no examples (classes present: "
                               f"{src.classes}); pick classes that exist in the data")
        parts.append((rows[:examples_per_class] if examples_per_class else rows, label))
    rows = np.concatenate([r for r, _ in parts])
    labels = np.concatenate([np.full(r.size, lab, dtype=np.int64) for r, lab in parts])
    return rows, labels


def split_sizes(n: int, valid_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    n_test = int(round(n * test_fraction))
    n_valid = int(round(n * valid_fraction))
    return n - n_valid - n_test, n_valid, n_test


def stratified_split(labels, seed: int, sizes, origin: str):
    """Row indices of (train, valid, test) by the reference's two stratified splits."""
    # scikit-learn is imported on use: it costs about a second, and most runs never need it.
    from sklearn.model_selection import train_test_split

    n_train, n_valid, n_test = sizes
    idx = np.arange(len(labels))
    try:
        if n_test > 0:
            idx, test = train_test_split(idx, train_size=n_train + n_valid, test_size=n_test,
                                         random_state=seed, stratify=labels)
        else:
            test = idx[:0]
        train, valid = train_test_split(idx, train_size=n_train, test_size=n_valid,
                                        random_state=seed, stratify=labels[idx])
    except ValueError as exc:
        raise DatasetError(f"{origin}: too few examples for a stratified split into "
                           f"{n_train}/{n_valid}/{n_test} ({exc}); use more examples_per_class or "
                           "larger valid_fraction / test_fraction") from None
    return train, valid, test


def projection_matrix(input_dim: int, features: int, seed: int) -> np.ndarray:
    """N(0, 1) matrix (input_dim x features): ``np.random.seed(seed); np.random.randn(...)``."""
    return np.random.RandomState(seed).standard_normal((input_dim, features))


def _check_projection_size(input_dim: int, features: int, origin: str) -> None:
    nbytes = input_dim * features * 8
    if nbytes > MAX_ARRAY_BYTES:
        raise DatasetError(f"{origin}: {input_dim} input features x features_size {features} make "
                           f"a {size_text(nbytes)} projection matrix, more than the limit of "
                           f"{size_text(MAX_ARRAY_BYTES)}; reduce the input features (e.g. "
                           "downsample images) or features_size")


def _project(x: np.ndarray, rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    # Chunks keep memory small for 50k CIFAR images (float64 copies would take 1.2 GB); rows
    # with very many features get fewer rows per chunk (about 256 MB of float64 at most).
    chunk = 4096 if x.shape[1] <= 8192 else max(1, (256 << 20) // (8 * x.shape[1]))
    out = np.empty((rows.size, matrix.shape[1]))
    for start in range(0, rows.size, chunk):
        part = rows[start:start + chunk]
        out[start:start + chunk] = x[part].astype(np.float64) @ matrix
    return out


def prepare(src: Source, class_ids, label_values, seed: int, features: int,
            examples_per_class=None, valid_fraction: float = 0.1,
            test_fraction: float = 0.1) -> Prepared:
    """The reference's preparation of the given classes, class_ids[k] labelled label_values[k]."""
    from sklearn.preprocessing import StandardScaler

    rows, labels = select_classes(src, class_ids, label_values, examples_per_class)
    sizes = split_sizes(rows.size, valid_fraction, test_fraction)
    train, valid, test = stratified_split(labels, seed, sizes, src.origin)
    _check_projection_size(src.x.shape[1], features, src.origin)
    matrix = projection_matrix(src.x.shape[1], features, seed)
    # Feature magnitudes were checked on loading; an overflow that still happens (e.g. a valid
    # example far outside the training spread) is reported below as one error, not as warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        projected = [_project(src.x, rows[part], matrix) for part in (train, valid, test)]
        scaler = StandardScaler().fit(projected[0])
        # The reference stores features as float32 and widens them on load.
        xs = [scaler.transform(p).astype(np.float32).astype(np.float64) if len(p) else p
              for p in projected]
    if not all(np.isfinite(p).all() for p in xs):
        raise DatasetError(f"{src.origin}: projected features overflowed to inf/NaN; rescale the "
                           "input features (e.g. to [0, 1]) before use")
    ys = [labels[part].astype(np.float64) for part in (train, valid, test)]
    return Prepared(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2])


def prepared(src: Source, class_ids, label_values, seed, features, per_class, valid_fraction,
             test_fraction) -> Prepared:
    """``prepare`` through the in-memory cache, keyed by everything the result depends on."""
    key = (src.key, tuple(class_ids), tuple(label_values), seed, features, per_class,
           valid_fraction, test_fraction)
    return _lru_get(_PREPARED, key, lambda: prepare(src, class_ids, label_values, seed, features,
                                                    per_class, valid_fraction, test_fraction),
                    _MAX_PREPARED)


# --- class pairs and seeds -------------------------------------------------------------------

def all_pairs(classes) -> list[tuple[int, int]]:
    return list(combinations(sorted(classes), 2))


def pair_split(classes=range(10), held_out=RECOMMENDED_HELD_OUT_PAIRS):
    """(search pairs, held-out pairs) of the classes: 36 / 9 for classes 0..9 and the
    recommended held-out set."""
    held = {tuple(sorted(p)) for p in held_out}
    pairs = all_pairs(classes)
    return [p for p in pairs if p not in held], [p for p in pairs if p in held]


def choose_pair(data_seed: int, candidates, min_seed: int, max_seed: int):
    """(positive, negative, projection seed) as the reference picks them when no classes are
    given: an MT19937 seeded with HashMix(856572777, data_seed) picks a candidate pair
    uniformly, then a seed in [min_seed, max_seed).  numpy draws the integers, not Abseil, so
    picks are distributed like the reference's, not identical to them."""
    rng = np.random.RandomState(hash_mix(PAIR_SEED_SALT, data_seed))
    pos, neg = candidates[rng.randint(len(candidates))]
    return pos, neg, int(rng.randint(min_seed, max_seed))


def fixed_seed(data_seed: int, min_seed: int, max_seed: int) -> int:
    return min_seed + data_seed % (max_seed - min_seed)


# --- task builders ---------------------------------------------------------------------------

_SOURCE_OPTIONS = {"dataset", "data_dir", "path", "labels_path", "label_column", "split"}
_RECIPE_OPTIONS = {"examples_per_class", "valid_fraction", "test_fraction",
                   "min_supported_data_seed", "max_supported_data_seed"}
BINARY_OPTIONS = frozenset(_SOURCE_OPTIONS | _RECIPE_OPTIONS |
                           {"positive_class", "negative_class", "held_out_pairs", "pairs"})
MULTICLASS_OPTIONS = frozenset(_SOURCE_OPTIONS | _RECIPE_OPTIONS | {"classes"})


def _check_options(kind: str, options: dict, allowed) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TaskError(f"{kind}: unknown option(s) {unknown}; allowed: {sorted(allowed)}")


def _int_option(kind, options, name, default, low=None):
    value = options.get(name, default)
    if value is None:
        return None
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not is_int or (low is not None and value < low):
        bound = f" >= {low}" if low is not None else ""
        raise TaskError(f"{kind}: {name} must be an integer{bound}, got {value!r}")
    return int(value)


def _fraction_option(kind, options, name, default):
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise TaskError(f"{kind}: {name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _pairs_option(kind, value, name) -> list[tuple[int, int]]:
    try:
        pairs = [tuple(sorted((int(a), int(b)))) for a, b in value]
        ok = all(isinstance(x, (int, np.integer)) and not isinstance(x, bool)
                 for p in value for x in p)
    except (TypeError, ValueError):
        ok = False
    if not ok or any(a == b for a, b in pairs):
        raise TaskError(f"{kind}: {name} must be a list of class pairs like [[4, 6], [3, 5]], got "
                        f"{value!r}")
    return pairs


@dataclass
class _Recipe:
    src: Source
    per_class: int | None
    valid_fraction: float
    test_fraction: float
    min_seed: int
    max_seed: int


def _recipe(kind, options, default_test_fraction, default_max_seed) -> _Recipe:
    source_args = {k: options.get(k) for k in ("dataset", "data_dir", "path", "label_column",
                                               "labels_path")}
    source_args["split"] = options.get("split", "train")
    src = load_source(**source_args)
    # The reference takes 5000 per class from MNIST and CIFAR-10; small data: everything.
    default_per_class = REFERENCE_EXAMPLES_PER_CLASS if src.name in ("mnist", "fashion_mnist",
                                                                     "cifar10") else None
    per_class = _int_option(kind, options, "examples_per_class", default_per_class, low=1)
    valid_fraction = _fraction_option(kind, options, "valid_fraction", 0.1)
    test_fraction = _fraction_option(kind, options, "test_fraction", default_test_fraction)
    if valid_fraction <= 0 or valid_fraction + test_fraction >= 1:
        raise TaskError(f"{kind}: need valid_fraction > 0 and valid_fraction + test_fraction < 1, "
                        f"got {valid_fraction} and {test_fraction}")
    min_seed = _int_option(kind, options, "min_supported_data_seed", 0, low=0)
    max_seed = _int_option(kind, options, "max_supported_data_seed", default_max_seed, low=1)
    if not min_seed < max_seed <= 2 ** 32:
        raise TaskError(f"{kind}: need min_supported_data_seed < max_supported_data_seed "
                        f"(<= 2**32), got {min_seed} and {max_seed}")
    return _Recipe(src, per_class, valid_fraction, test_fraction, min_seed, max_seed)


def _check_sizes(kind, features, n_train, n_valid) -> None:
    for name, value in (("features_size", features), ("num_train_examples", n_train),
                        ("num_valid_examples", n_valid)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise TaskError(f"{kind}: {name} must be an integer >= 1, got {value!r}")


def _task_from(prep: Prepared, name, n_train, n_valid, epochs, data_seed, param_seed, eval_type,
               num_classes, info, origin) -> Task:
    have_train, have_valid = len(prep.y_train), len(prep.y_valid)
    if n_train > have_train or n_valid > have_valid:
        raise DatasetError(
            f"{origin}: too few examples: asked for {n_train} train / {n_valid} valid but {name} "
            f"has {have_train} / {have_valid} after the split; lower num_train_examples / "
            "num_valid_examples, or raise examples_per_class or valid_fraction")
    return Task(name, prep.x_train[:n_train], prep.y_train[:n_train], prep.x_valid[:n_valid],
                prep.y_valid[:n_valid], eval_type, num_classes=num_classes, epochs=epochs,
                data_seed=data_seed, param_seed=param_seed, x_test=prep.x_test,
                y_test=prep.y_test, info=info)


def _pair_options(kind, options):
    """(pairs choice, held-out set), checked even when explicit classes make them unused."""
    choice = options.get("pairs", "all")
    if isinstance(choice, str):
        if choice not in ("all", "search", "held_out"):
            raise TaskError(f"{kind}: pairs must be 'all', 'search', 'held_out' or a list of "
                            f"pairs, got {choice!r}")
    else:
        choice = _pairs_option(kind, choice, "pairs")
    return choice, set(_pairs_option(kind, options.get("held_out_pairs", []), "held_out_pairs"))


def _binary_candidates(kind, choice, held_out, classes) -> list[tuple[int, int]]:
    # Pairs of the classes present only (at most MAX_CLASSES of them, checked on loading):
    # the number of pairs grows with the square of the class count.
    if choice == "all":
        pairs = all_pairs(classes)
    elif choice in ("search", "held_out"):
        search, held = pair_split(classes)
        pairs = search if choice == "search" else held
    else:
        pairs = choice
    present = set(classes)
    candidates = [p for p in pairs if p not in held_out and set(p) <= present]
    if not candidates:
        shown = classes if len(classes) <= 20 else f"{classes[:20]} and {len(classes) - 20} more"
        raise DatasetError(f"{kind}: no class pair left to choose from (pairs={choice!r:.200}, "
                           f"held_out_pairs={sorted(held_out)!s:.200}, classes present {shown}); "
                           "hold out fewer pairs")
    return candidates


def projected_binary_task(features, n_train, n_valid, data_seed, param_seed, epochs=1,
                          eval_type=ACCURACY, **options) -> Task:
    """``projected_binary_classification``: one class pair, labels positive -> 1, negative -> 0.

    Options: dataset, data_dir, path, labels_path, label_column, split (the source);
    positive_class and negative_class (both or neither), else a pair drawn from ``pairs``
    ('all', 'search', 'held_out' or a list) minus ``held_out_pairs``;
    min_supported_data_seed / max_supported_data_seed (projection seeds, default [0, 10));
    examples_per_class (default 5000 for MNIST, Fashion-MNIST, CIFAR-10, else all),
    valid_fraction (0.1), test_fraction (0.1).
    """
    kind = "projected_binary_classification"
    _check_options(kind, options, BINARY_OPTIONS)
    _check_sizes(kind, features, n_train, n_valid)
    if eval_type != ACCURACY:
        raise TaskError(f"{kind} needs eval_type = 'accuracy' (binary labels, sigmoid output)")
    choice, held_out = _pair_options(kind, options)
    pos = _int_option(kind, options, "positive_class", None, low=0)
    neg = _int_option(kind, options, "negative_class", None, low=0)
    if (pos is None) != (neg is None):
        raise TaskError(f"{kind}: give both positive_class and negative_class, or neither (then "
                        "a pair is drawn per data seed)")
    if pos is not None and pos == neg:
        raise TaskError(f"{kind}: positive_class and negative_class must differ, both are {pos}")
    recipe = _recipe(kind, options, 0.1, 10)
    src = recipe.src
    if pos is None:
        candidates = _binary_candidates(kind, choice, held_out, src.classes)
        pos, neg, seed = choose_pair(data_seed, candidates, recipe.min_seed, recipe.max_seed)
    else:
        seed = fixed_seed(data_seed, recipe.min_seed, recipe.max_seed)
    prep = prepared(src, (pos, neg), (1, 0), seed, features, recipe.per_class,
                    recipe.valid_fraction, recipe.test_fraction)
    name = f"binary_{src.name}-pos_{pos}-neg_{neg}-dim_{features}-seed_{seed}"
    info = {"dataset": src.name, "positive_class": pos, "negative_class": neg,
            "projection_seed": seed, "source": src.origin}
    return _task_from(prep, name, n_train, n_valid, epochs, data_seed, param_seed, ACCURACY, 0,
                      info, src.origin)


def projected_multiclass_task(features, n_train, n_valid, data_seed, param_seed, epochs=1,
                              eval_type=MULTICLASS, **options) -> Task:
    """``projected_multiclass_classification``: all classes (or ``classes``), labels 0..K-1 by
    position, projected and standardized like the binary tasks.

    Options: the source options; classes (default: every class present);
    min_supported_data_seed / max_supported_data_seed (default [0, 1000): the paper's 1000
    projections); examples_per_class, valid_fraction (0.1), test_fraction (0.0; the paper's
    45k / 5k CIFAR-10 split).  Needs features >= K: class scores live in a length-F vector.
    """
    kind = "projected_multiclass_classification"
    _check_options(kind, options, MULTICLASS_OPTIONS)
    _check_sizes(kind, features, n_train, n_valid)
    if eval_type != MULTICLASS:
        raise TaskError(f"{kind} needs eval_type = 'multiclass' (one-hot labels, softmax output)")
    recipe = _recipe(kind, options, 0.0, 1000)
    src = recipe.src
    classes = _classes_option(kind, options.get("classes"), src)
    if features < len(classes):
        raise DatasetError(f"{kind}: features_size {features} < {len(classes)} classes; class "
                           "scores live in a vector of features_size entries, so raise "
                           "features_size or choose fewer classes with the classes option")
    seed = fixed_seed(data_seed, recipe.min_seed, recipe.max_seed)
    prep = prepared(src, classes, range(len(classes)), seed, features, recipe.per_class,
                    recipe.valid_fraction, recipe.test_fraction)
    name = f"multiclass_{src.name}-k_{len(classes)}-dim_{features}-seed_{seed}"
    info = {"dataset": src.name, "classes": list(classes), "projection_seed": seed,
            "source": src.origin}
    return _task_from(prep, name, n_train, n_valid, epochs, data_seed, param_seed, MULTICLASS,
                      len(classes), info, src.origin)


def _classes_option(kind, value, src: Source) -> tuple[int, ...]:
    if value is None:
        return tuple(src.classes)
    if (not isinstance(value, (list, tuple)) or len(value) < 2
            or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in value)
            or len(set(value)) != len(value)):
        raise TaskError(f"{kind}: classes must be a list of at least two distinct class ids, got "
                        f"{value!r}")
    missing = sorted(set(int(c) for c in value) - set(src.classes))
    if missing:
        raise DatasetError(f"{src.origin}: labels out of range: classes {missing} have no examples "
                           f"(classes present: {src.classes})")
    return tuple(int(c) for c in value)


_tasks.TASK_TYPES["projected_binary_classification"] = projected_binary_task
_tasks.TASK_TYPES["projected_multiclass_classification"] = projected_multiclass_task
_tasks.TASK_EVAL_TYPES["projected_binary_classification"] = (ACCURACY,)
_tasks.TASK_EVAL_TYPES["projected_multiclass_classification"] = (MULTICLASS,)
