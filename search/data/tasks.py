"""Tasks: the data a program is evaluated on.

A ``Task`` is plain arrays (train/valid features and labels, the epoch order) plus its eval
type.  ``TaskSpec`` mirrors the reference's ``TaskSpec`` proto, with the reference's seed
rules (``task_seeds``); ``registry.build_tasks`` expands specs into tasks with their types'
builders (``synthetic``, ``dataset_tasks``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from azcompile.eval_type import EvalType

# Seed offset of the reference's epoch shuffle (task_util.h).
EPOCH_ORDER_OFFSET = 3274582109
DEFAULT_PARAM_SEEDS = (1001, 1012, 1010, 1000, 1006, 1008, 1007, 1003)
DEFAULT_DATA_SEEDS = (11001, 11012, 11010, 11000, 11006, 11008, 11007, 11003)
UINT32 = 1 << 32


class TaskError(ValueError):
    """Task data or a task spec that cannot be used; the message names the problem."""


@dataclass
class Task:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    eval_type: int = int(EvalType.RMS_ERROR)
    num_classes: int = 0
    epochs: int = 1
    data_seed: int = 0
    param_seed: int = 0
    order: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.x_train = np.ascontiguousarray(self.x_train, dtype=np.float64)
        self.x_valid = np.ascontiguousarray(self.x_valid, dtype=np.float64)
        self.y_train = np.ascontiguousarray(self.y_train, dtype=np.float64)
        self.y_valid = np.ascontiguousarray(self.y_valid, dtype=np.float64)
        if self.order is None:
            self.order = epoch_order(len(self.y_train), self.epochs, self.data_seed)
        self.order = np.ascontiguousarray(self.order, dtype=np.int32)

    @property
    def features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_train(self) -> int:
        return self.x_train.shape[0]

    @property
    def n_valid(self) -> int:
        return self.x_valid.shape[0]

    @property
    def max_train_steps(self) -> int:
        return self.n_train * self.epochs


def epoch_order(n: int, epochs: int, data_seed: int) -> np.ndarray:
    """Training order over all epochs: epoch 0 in stored order, then a fresh shuffle of the
    running order per epoch (the reference shuffles cumulatively with its epoch RNG)."""
    rng = np.random.Generator(np.random.MT19937((data_seed + EPOCH_ORDER_OFFSET) % UINT32))
    current = np.arange(n, dtype=np.int32)
    parts = []
    for _ in range(max(epochs, 1)):
        parts.append(current.copy())
        rng.shuffle(current)
    return np.concatenate(parts) if parts else current


@dataclass
class TaskSpec:
    """One entry of a task collection (the reference's TaskSpec)."""

    type: str
    features: int
    num_train_examples: int
    num_valid_examples: int
    num_tasks: int = 1
    num_train_epochs: int = 1
    eval_type: int = int(EvalType.RMS_ERROR)
    data_seeds: tuple = ()
    param_seeds: tuple = ()
    options: dict = field(default_factory=dict)   # type-specific fields (dataset, classes, ...)


def task_seeds(explicit, defaults, count: int) -> list[int]:
    """The reference's rule: seed i is explicit[i] if given, else previous + 1; with no
    explicit seeds the default list is used the same way."""
    base = list(explicit) if explicit else list(defaults)
    seeds = []
    for i in range(count):
        seeds.append(base[i] if i < len(base) else (seeds[-1] + 1) % UINT32)
    return seeds


def randomized_seeds(rng_draw: Callable[[], int], specs) -> list[TaskSpec]:
    """``--randomize_task_seeds``: fresh param then data seeds per spec from ``rng_draw``."""
    out = []
    for spec in specs:
        params = tuple(1 + rng_draw() % (UINT32 - 2) for _ in range(spec.num_tasks))
        datas = tuple(1 + rng_draw() % (UINT32 - 2) for _ in range(spec.num_tasks))
        out.append(TaskSpec(**{**spec.__dict__, "param_seeds": params, "data_seeds": datas}))
    return out


def stack(tasks: list[Task]):
    """Tasks as padded arrays for the numba evaluator (all tasks share one feature size)."""
    if not tasks:
        raise TaskError("no tasks")
    F = tasks[0].features
    if any(t.features != F for t in tasks):
        raise TaskError("all tasks of one evaluation must have the same features_size")
    T = len(tasks)
    n_tr = max(t.n_train for t in tasks)
    n_va = max(t.n_valid for t in tasks)
    n_ord = max(len(t.order) for t in tasks)
    xtr = np.zeros((T, n_tr, F))
    ytr = np.zeros((T, n_tr))
    xva = np.zeros((T, n_va, F))
    yva = np.zeros((T, n_va))
    order = np.zeros((T, n_ord), dtype=np.int32)
    meta = np.zeros((T, 6), dtype=np.int64)  # n_unique, max_steps, n_valid, eval_type, K, epochs
    for i, t in enumerate(tasks):
        xtr[i, : t.n_train] = t.x_train
        ytr[i, : t.n_train] = t.y_train
        xva[i, : t.n_valid] = t.x_valid
        yva[i, : t.n_valid] = t.y_valid
        order[i, : len(t.order)] = t.order
        meta[i] = (t.n_train, len(t.order), t.n_valid, t.eval_type, t.num_classes, t.epochs)
    return {"xtr": xtr, "ytr": ytr, "xva": xva, "yva": yva, "order": order, "meta": meta}
