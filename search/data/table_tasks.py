"""Task types over one table of the user's own data (what the Python API's estimators
search on): ``table_regression``, ``table_binary_classification`` and
``table_multiclass_classification``.

The table is an .npz file with ``X`` (rows x columns, float) and ``y`` (one value per row:
the target, or the class index 0..K-1).  Each task is a random split of the rows, seeded
by the task's data seed (a permutation from numpy's PCG64 generator: the first
``num_valid_examples`` rows validate, the next ``num_train_examples`` train), so the search,
select and final tasks are different splits of the same data, as the paper's tasks are
different draws of one distribution.  Features are standardised with the ``x_mean`` and
``x_scale`` options (lists, one number per column) and, for regression, the target with
``y_mean`` and ``y_scale``: the estimator fits them on all the rows given to ``fit`` and an
export applies the same numbers, so the algorithm sees the same distribution after
the search as during it.  Unlike the reference's recipe there is no random projection: the
algorithm works on the columns themselves (``features`` must be the column count).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from azcompile.eval_type import ACCURACY, MULTICLASS, RMS_ERROR

from . import cache
from .datafiles import DatasetError, read_npz, regular_file
from .tasks import Task, TaskError

OPTIONS = frozenset({"path", "x_mean", "x_scale", "y_mean", "y_scale", "num_classes",
                     "feature_names", "z_limit"})
_PREPROCESSING = ("x_mean", "x_scale", "y_mean", "y_scale", "feature_names", "z_limit")
_KIND = {RMS_ERROR: "table_regression", ACCURACY: "table_binary_classification",
         MULTICLASS: "table_multiclass_classification"}


def _numbers(kind: str, options: dict, name: str, count: int | None) -> np.ndarray:
    value = options.get(name)
    arr = np.asarray(value if isinstance(value, list) else [value], dtype=object)
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
             for v in arr)
    if not ok or (count is not None and arr.size != count):
        size = f"{count} numbers" if count is not None else "a number"
        raise TaskError(f"{kind}: {name} must be {size} (one per column), got {value!r:.60}")
    return arr.astype(np.float64)


def _table(kind: str, path) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(path, str) or not path:
        raise TaskError(f"{kind}: the path option must name an .npz file with arrays X and y")
    file = Path(path)
    size = regular_file(file, "table", "path")
    stat = file.stat()

    def read():
        x, y = read_npz(file, size)
        if x.ndim != 2 or y.shape != (x.shape[0],) or x.dtype.kind not in "iuf" \
                or y.dtype.kind not in "iuf":
            raise DatasetError(f"{file}: X must be a 2-D numeric array and y hold one number "
                               f"per row, got {x.shape} and {y.shape}")
        x, y = x.astype(np.float64), y.astype(np.float64)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise DatasetError(f"{file}: X and y must be finite (no NaN or infinity)")
        return x, y

    return cache.SOURCES.get(("table", str(file.resolve()), stat.st_mtime_ns, size), read)


def preprocessing_of(spec) -> dict | None:
    """What an export of a program searched on this table must apply to raw data (the
    program's ``meta["preprocessing"]``), or None for tasks of other types.  ``feature_names``
    and ``z_limit`` (how far out an input may be before the export warns) are recorded by
    the estimator for the export only."""
    if spec.type not in _KIND.values():
        return None
    return {key: spec.options[key] for key in _PREPROCESSING if key in spec.options}


def split_rows(n_rows: int, n_train: int, n_valid: int, data_seed: int):
    """(train rows, valid rows) of one task: a permutation seeded by the data seed."""
    order = np.random.default_rng(data_seed).permutation(n_rows)
    return order[n_valid:n_valid + n_train], order[:n_valid]


def table_task(features, n_train, n_valid, data_seed, param_seed, epochs=1, eval_type=RMS_ERROR,
               **options) -> Task:
    kind = _KIND[eval_type]
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise TaskError(f"{kind}: unknown option(s) {unknown}; allowed: {sorted(OPTIONS)}")
    x, y = _table(kind, options.get("path"))
    if x.shape[1] != features:
        raise TaskError(f"{kind}: the table has {x.shape[1]} columns but features = {features}; "
                        "set features to the column count")
    if n_train + n_valid > x.shape[0]:
        raise TaskError(f"{kind}: {n_train} train + {n_valid} valid examples need more than the "
                        f"table's {x.shape[0]} rows; lower num_train_examples or "
                        "num_valid_examples")
    mean = _numbers(kind, options, "x_mean", features)
    scale = _numbers(kind, options, "x_scale", features)
    if np.any(scale <= 0):
        raise TaskError(f"{kind}: x_scale must be positive")
    z = (x - mean) / scale
    num_classes = 0
    if eval_type == RMS_ERROR:
        y_scale = _numbers(kind, options, "y_scale", None)[0]
        if y_scale <= 0:
            raise TaskError(f"{kind}: y_scale must be positive")
        target = (y - _numbers(kind, options, "y_mean", None)[0]) / y_scale
    else:
        target = _class_indices(kind, y, eval_type, options, features)
        num_classes = 0 if eval_type == ACCURACY else int(options["num_classes"])
    train, valid = split_rows(x.shape[0], n_train, n_valid, data_seed)
    name = f"{kind}-{Path(options['path']).stem}-split_{data_seed}"
    return Task(name, z[train], target[train], z[valid], target[valid], eval_type,
                num_classes=num_classes, epochs=epochs, data_seed=data_seed,
                param_seed=param_seed, info={"source": options["path"]})


def _class_indices(kind, y, eval_type, options, features) -> np.ndarray:
    classes = 2 if eval_type == ACCURACY else options.get("num_classes")
    most = 2 if eval_type == ACCURACY else features     # class scores: a feature-sized vector
    if not isinstance(classes, int) or isinstance(classes, bool) or not 2 <= classes <= most:
        raise TaskError(f"{kind}: num_classes must be an integer from 2 to features ({features}), "
                        f"got {classes!r:.40}")
    if np.any(y != np.round(y)) or y.min() < 0 or y.max() >= classes:
        raise DatasetError(f"{kind}: y must hold class indices 0..{classes - 1}")
    return y
