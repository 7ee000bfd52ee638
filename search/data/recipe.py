"""The reference's data recipe (``generate_datasets.py``, reference_spec §5.5).

Take the first ``examples_per_class`` examples of each chosen class, split stratified with
scikit-learn (``random_state`` = the projection seed), project with a Gaussian matrix drawn
after ``np.random.seed(seed)``, standardize with a scaler fitted on the projected training
split, and store as float32.  A task then uses the first ``num_train_examples`` /
``num_valid_examples`` of the prepared splits, as the reference reads the first examples of
its pre-generated files.  Prepared splits are kept in ``cache.PREPARED``; scikit-learn is
imported only when splits are prepared.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import cache
from .datafiles import MAX_ARRAY_BYTES, DatasetError, size_text
from .sources import Source

REFERENCE_EXAMPLES_PER_CLASS = 5000  # (8000 + 1000 + 1000) / 2


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
    return cache.PREPARED.get(key, lambda: prepare(src, class_ids, label_values, seed, features,
                                                   per_class, valid_fraction, test_fraction))

