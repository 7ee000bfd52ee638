"""The dataset task types: ``projected_binary_classification`` and
``projected_multiclass_classification``, from a task spec's options to a ``Task``.

The options name a source (``sources``), the classes (``pairs`` for binary tasks) and the
recipe's sizes and seeds (``recipe``); each is checked here, a bad one being one ``TaskError``
line naming it.  ``registry`` lists these builders with the other task types.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from azcompile.eval_type import ACCURACY, MULTICLASS

from . import pairs as _pairs
from .datafiles import DatasetError
from .recipe import REFERENCE_EXAMPLES_PER_CLASS, Prepared, prepared
from .sources import Source, load_source
from .tasks import Task, TaskError

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
class _SharedOptions:
    """The source and recipe options both dataset task types take, checked."""

    src: Source
    per_class: int | None
    valid_fraction: float
    test_fraction: float
    min_seed: int
    max_seed: int


def _shared_options(kind, options, default_test_fraction, default_max_seed) -> _SharedOptions:
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
    return _SharedOptions(src, per_class, valid_fraction, test_fraction, min_seed, max_seed)


def _check_sizes(kind, features, n_train, n_valid) -> None:
    for name, value in (("features_size", features), ("num_train_examples", n_train),
                        ("num_valid_examples", n_valid)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise TaskError(f"{kind}: {name} must be an integer >= 1, got {value!r}")


def _task_from(prep: Prepared, n_train, n_valid, origin, name, **fields) -> Task:
    """The task of the first ``n_train`` / ``n_valid`` prepared examples; ``fields`` are the
    rest of Task's (eval_type, num_classes, epochs, seeds, info)."""
    have_train, have_valid = len(prep.y_train), len(prep.y_valid)
    if n_train > have_train or n_valid > have_valid:
        raise DatasetError(
            f"{origin}: too few examples: asked for {n_train} train / {n_valid} valid but {name} "
            f"has {have_train} / {have_valid} after the split; lower num_train_examples / "
            "num_valid_examples, or raise examples_per_class or valid_fraction")
    return Task(name, prep.x_train[:n_train], prep.y_train[:n_train], prep.x_valid[:n_valid],
                prep.y_valid[:n_valid], x_test=prep.x_test, y_test=prep.y_test, **fields)


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
    shared = _shared_options(kind, options, default_test_fraction=0.1, default_max_seed=10)
    src = shared.src
    if pos is None:
        candidates = _pairs.candidate_pairs(kind, choice, held_out, src.classes)
        pos, neg, seed = _pairs.choose_pair(data_seed, candidates, shared.min_seed,
                                            shared.max_seed)
    else:
        seed = _pairs.fixed_seed(data_seed, shared.min_seed, shared.max_seed)
    prep = prepared(src, (pos, neg), (1, 0), seed, features, shared.per_class,
                    shared.valid_fraction, shared.test_fraction)
    name = f"binary_{src.name}-pos_{pos}-neg_{neg}-dim_{features}-seed_{seed}"
    info = {"dataset": src.name, "positive_class": pos, "negative_class": neg,
            "projection_seed": seed, "source": src.origin}
    return _task_from(prep, n_train, n_valid, src.origin, name, eval_type=ACCURACY,
                      num_classes=0, epochs=epochs, data_seed=data_seed, param_seed=param_seed,
                      info=info)


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
    shared = _shared_options(kind, options, default_test_fraction=0.0, default_max_seed=1000)
    src = shared.src
    classes = _classes_option(kind, options.get("classes"), src)
    if features < len(classes):
        raise DatasetError(f"{kind}: features_size {features} < {len(classes)} classes; class "
                           "scores live in a vector of features_size entries, so raise "
                           "features_size or choose fewer classes with the classes option")
    seed = _pairs.fixed_seed(data_seed, shared.min_seed, shared.max_seed)
    prep = prepared(src, classes, range(len(classes)), seed, features, shared.per_class,
                    shared.valid_fraction, shared.test_fraction)
    name = f"multiclass_{src.name}-k_{len(classes)}-dim_{features}-seed_{seed}"
    info = {"dataset": src.name, "classes": list(classes), "projection_seed": seed,
            "source": src.origin}
    return _task_from(prep, n_train, n_valid, src.origin, name, eval_type=MULTICLASS,
                      num_classes=len(classes), epochs=epochs, data_seed=data_seed,
                      param_seed=param_seed, info=info)


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

