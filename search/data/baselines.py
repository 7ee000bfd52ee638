"""The paper's hand-designed baselines as programs in our own IR, and their tuning.

Every baseline is a ``Program`` the same engine runs, so its accuracy is measured exactly as
an evolved program's fitness is (best validation accuracy over epochs, reference_spec §4):

* ``linear_regression`` / ``logistic_regression``: s1 = dot(v1, v0) + s4, trained by SGD on
  the squared error / the log-loss (one program: the task's eval type makes the difference).
* ``neural_net``: the reference's NEURAL_NET_ALGORITHM (2-layer ReLU net with biases,
  Gaussian init in Setup) from ``azcompile.reference_programs``, with its quirk of
  back-propagating through the already-updated output weights; the baseline tunes its
  learning rate.
* ``softmax_regression`` and ``softmax_neural_net``: the multi-class versions (class scores in
  v2, one-hot label in v1).

Learn sees the normalised prediction: for ACCURACY tasks the driver has already replaced s1 by
sigmoid(logit), and for MULTICLASS tasks v2[:K] by softmax(scores), so ``label - prediction``
is the log-loss gradient with respect to the logits.

``baseline_report`` tunes each baseline's learning rate by grid search (mean fitness on the
tuning tasks) and reports its accuracy on the evaluation tasks.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, NamedTuple, Sequence

import numpy as np

from azcompile import reference_programs
from azcompile.engine import run
from azcompile.eval_type import ACCURACY, MULTICLASS, RMS_ERROR
from azcompile.program import Instruction, Memory, Program, instructions

from .tasks import Task, TaskError

# 1e-4 .. 1 in half-decade steps.
DEFAULT_LR_GRID = tuple(float(10.0 ** e) for e in np.arange(-4.0, 0.01, 0.5))
DEFAULT_INIT_SCALE = 0.1   # the reference's NEURAL_NET_ALGORITHM init stdev


def _const(out: int, value: float):
    return ("SCALAR_CONST_SET_OP", 0, 0, out, (value, 0.0, 0.0, 0.0))


def _gaussian(op: str, out: int, stdev: float):
    return (op, 0, 0, out, (0.0, 0.0, stdev, 0.0))


def _linear_model(features: int, lr: float, name: str) -> Program:
    """Linear model with bias: s2 = lr, v1 = weights, s4 = bias, s3 = the scaled error."""
    setup = instructions([_const(2, lr)])
    predict = instructions([("VECTOR_INNER_PRODUCT_OP", 1, 0, 1),
                            ("SCALAR_SUM_OP", 1, 4, 1)])
    learn = instructions([("SCALAR_DIFF_OP", 0, 1, 3),          # s3 = y - p
                          ("SCALAR_PRODUCT_OP", 2, 3, 3),       # s3 = lr * (y - p)
                          ("SCALAR_VECTOR_PRODUCT_OP", 3, 0, 2),
                          ("VECTOR_SUM_OP", 1, 2, 1),           # w += lr (y - p) x
                          ("SCALAR_SUM_OP", 4, 3, 4)])          # b += lr (y - p)
    return Program(setup, predict, learn, memory=Memory(5, 3, 1, features),
                   meta={"baseline": name, "lr": lr})


def linear_regression(features: int, lr: float = 0.01, **_) -> Program:
    """SGD on the squared error (RMS_ERROR tasks: the prediction is used as it is)."""
    return _linear_model(features, lr, "linear_regression")


def logistic_regression(features: int, lr: float = 0.01, **_) -> Program:
    """SGD on the log-loss (ACCURACY tasks: Learn sees sigmoid(logit))."""
    return _linear_model(features, lr, "logistic_regression")


def neural_net(features: int, lr: float = 0.01, init_scale: float = DEFAULT_INIT_SCALE,
               **_) -> Program:
    """The reference's NEURAL_NET_ALGORITHM (reference_spec §3; ``reference_programs``),
    hidden width F, with ``lr`` and ``init_scale`` in place of its 0.01 and 0.1.

    m0 hidden weights, v1 hidden biases, v2 output weights, s2 output bias, s3 = lr;
    v3 pre-activation, v4 hidden activation, v5 stays 0 (ReLU = max(v3, v5))."""
    network = reference_programs.neural_net(Memory(5, 9, 2, features))
    setup = tuple(_with_hyperparameters(ins, lr, init_scale) for ins in network.setup)
    return replace(network, setup=setup,
                   meta={"baseline": "neural_net", "lr": lr, "init_scale": init_scale})


def _with_hyperparameters(ins: Instruction, lr: float, init_scale: float) -> Instruction:
    """A Setup instruction of the network with its learning rate or init stdev replaced."""
    if ins.op.name == "SCALAR_CONST_SET_OP":
        return replace(ins, data=(lr,) + ins.data[1:])
    if ins.op.name.endswith("_GAUSSIAN_SET_OP"):      # data: (unused, mean, stdev, unused)
        return replace(ins, data=ins.data[:2] + (init_scale,) + ins.data[3:])
    return ins


def softmax_regression(features: int, lr: float = 0.01, **_) -> Program:
    """Multi-class linear model: v2 = m0 v0 + v4; SGD on the cross-entropy.

    Rows K..F-1 of m0 score no class; Learn pulls their outputs towards 0, which never
    changes the argmax over the first K."""
    setup = instructions([_const(2, lr)])
    predict = instructions([("MATRIX_VECTOR_PRODUCT_OP", 0, 0, 2),
                            ("VECTOR_SUM_OP", 2, 4, 2)])
    learn = instructions([("VECTOR_DIFF_OP", 1, 2, 3),             # v3 = onehot - softmax
                          ("SCALAR_VECTOR_PRODUCT_OP", 2, 3, 3),
                          ("VECTOR_SUM_OP", 4, 3, 4),
                          ("VECTOR_OUTER_PRODUCT_OP", 3, 0, 1),
                          ("MATRIX_SUM_OP", 0, 1, 0)])
    return Program(setup, predict, learn, memory=Memory(3, 5, 2, features),
                   meta={"baseline": "softmax_regression", "lr": lr})


def softmax_neural_net(features: int, lr: float = 0.01, init_scale: float = DEFAULT_INIT_SCALE,
                       **_) -> Program:
    """Multi-class 2-layer ReLU net (hidden width F) with exact backprop.

    m0/v6 hidden weights/biases, m1/v7 output weights/biases, v3 pre-activation,
    v4 hidden activation, v5 stays 0, v8 output error, v9 hidden error, m2 scratch."""
    setup = instructions([_gaussian("MATRIX_GAUSSIAN_SET_OP", 0, init_scale),
                          _gaussian("MATRIX_GAUSSIAN_SET_OP", 1, init_scale),
                          _const(2, lr)])
    predict = instructions([("MATRIX_VECTOR_PRODUCT_OP", 0, 0, 3),
                            ("VECTOR_SUM_OP", 3, 6, 3),
                            ("VECTOR_MAX_OP", 3, 5, 4),
                            ("MATRIX_VECTOR_PRODUCT_OP", 1, 4, 2),
                            ("VECTOR_SUM_OP", 2, 7, 2)])
    learn = instructions([("VECTOR_DIFF_OP", 1, 2, 8),             # v8 = onehot - softmax
                          ("SCALAR_VECTOR_PRODUCT_OP", 2, 8, 8),
                          ("MATRIX_TRANSPOSE_OP", 1, 0, 2),         # back through the old m1
                          ("MATRIX_VECTOR_PRODUCT_OP", 2, 8, 9),
                          ("VECTOR_HEAVYSIDE_OP", 3, 0, 10),
                          ("VECTOR_PRODUCT_OP", 10, 9, 9),
                          ("VECTOR_SUM_OP", 7, 8, 7),
                          ("VECTOR_OUTER_PRODUCT_OP", 8, 4, 2),
                          ("MATRIX_SUM_OP", 1, 2, 1),
                          ("VECTOR_SUM_OP", 6, 9, 6),
                          ("VECTOR_OUTER_PRODUCT_OP", 9, 0, 2),
                          ("MATRIX_SUM_OP", 0, 2, 0)])
    return Program(setup, predict, learn, memory=Memory(3, 11, 3, features),
                   meta={"baseline": "softmax_neural_net", "lr": lr, "init_scale": init_scale})


@dataclass(frozen=True)
class Baseline:
    """A named program family: ``build(features, lr=...)`` and the eval types it solves."""

    name: str
    build: Callable[..., Program]
    eval_types: tuple


BASELINES = {
    "linear_regression": Baseline("linear_regression", linear_regression, (RMS_ERROR,)),
    "logistic_regression": Baseline("logistic_regression", logistic_regression, (ACCURACY,)),
    "neural_net": Baseline("neural_net", neural_net, (ACCURACY, RMS_ERROR)),
    "softmax_regression": Baseline("softmax_regression", softmax_regression, (MULTICLASS,)),
    "softmax_neural_net": Baseline("softmax_neural_net", softmax_neural_net, (MULTICLASS,)),
}


class BaselineRow(NamedTuple):
    name: str
    lr: float
    mean_accuracy: float
    per_task: tuple


def has_test_split(task: Task) -> bool:
    return task.x_test is not None and len(task.x_test) > 0


def score(program_for: Callable[[Task], Program], tasks: Sequence[Task], *, seed: int = 0,
          engine: str = "interp", split: str = "valid") -> list[float]:
    """Fitness of ``program_for(task)`` on each task (``split='test'`` scores the task's test
    examples instead of its validation examples)."""
    if split not in ("valid", "test"):
        raise TaskError(f"split must be 'valid' or 'test', got {split!r}")
    scores = []
    for i, task in enumerate(tasks):
        if split == "test" and not has_test_split(task):
            raise TaskError(f"task {task.name} has no test examples (only train and valid)")
        x_eval, y_eval = ((task.x_valid, task.y_valid) if split == "valid"
                          else (task.x_test, task.y_test))
        try:
            result = run(program_for(task), task.x_train, task.y_train, x_eval, y_eval,
                         eval_type=task.eval_type, num_classes=task.num_classes,
                         epochs=task.epochs, order=task.order, seed=seed + i, engine=engine)
        except ValueError as exc:   # a program that does not fit the task
            raise TaskError(f"task {task.name}: {exc}") from None
        scores.append(result.fitness)
    return scores


def evaluate(baseline: Baseline, lr: float, tasks: Sequence[Task], **kw) -> list[float]:
    """Fitness of the baseline with this learning rate on each task (see ``score``)."""
    return score(lambda task: baseline.build(task.features, lr=lr), tasks, **kw)


def tune_lr(baseline: Baseline, tasks: Sequence[Task], lrs=DEFAULT_LR_GRID,
            **kw) -> tuple[float, float]:
    """(best lr, its mean fitness) over the grid; ties go to the smaller learning rate."""
    best_lr, best = float(lrs[0]), -1.0
    for lr in sorted(lrs):
        mean = float(np.mean(evaluate(baseline, lr, tasks, **kw)))
        if mean > best:
            best_lr, best = float(lr), mean
    return best_lr, best


def _resolve(programs, eval_type: int) -> list[Baseline]:
    if programs is None:
        return [b for b in BASELINES.values() if eval_type in b.eval_types]
    if isinstance(programs, (str, Baseline)):
        programs = [programs]
    chosen = []
    for p in programs:
        if isinstance(p, Baseline):
            chosen.append(p)
        elif p in BASELINES:
            chosen.append(BASELINES[p])
        else:
            raise TaskError(f"unknown baseline {p!r}; known: {sorted(BASELINES)}")
    for b in chosen:
        if eval_type not in b.eval_types:
            fitting = [n for n, x in BASELINES.items() if eval_type in x.eval_types]
            raise TaskError(f"baseline {b.name} does not solve tasks of eval type {eval_type}; "
                            f"use one of {fitting}")
    return chosen


def _eval_type(tasks: Sequence[Task], role: str) -> int:
    if not tasks:
        raise TaskError(f"baseline_report needs at least one task for {role}")
    kinds = {t.eval_type for t in tasks}
    if len(kinds) != 1:
        raise TaskError(f"the {role} tasks mix eval types {sorted(kinds)}; report each kind "
                        "separately")
    return kinds.pop()


def baseline_report(tasks_for_tuning: Sequence[Task], tasks_for_eval: Sequence[Task],
                    programs=None, *, lrs=DEFAULT_LR_GRID, seed: int = 0,
                    engine: str = "interp", split: str = "valid") -> list[BaselineRow]:
    """Tune each baseline's learning rate on ``tasks_for_tuning``, then score it on
    ``tasks_for_eval``: one row (name, lr, mean accuracy, per-task accuracies) per baseline.

    ``programs``: baseline names or ``Baseline`` objects; default: every baseline for the
    tasks' eval type.  Accuracies are the engine's fitness (for RMS_ERROR tasks, the squashed
    error)."""
    kind = _eval_type(tasks_for_tuning, "tuning")
    if _eval_type(tasks_for_eval, "evaluation") != kind:
        raise TaskError("tuning and evaluation tasks must have the same eval type")
    rows = []
    for baseline in _resolve(programs, kind):
        lr, _ = tune_lr(baseline, tasks_for_tuning, lrs, seed=seed, engine=engine)
        scores = evaluate(baseline, lr, tasks_for_eval, seed=seed, engine=engine, split=split)
        rows.append(BaselineRow(baseline.name, lr, float(np.mean(scores)), tuple(scores)))
    return rows


def format_report(rows: Sequence[BaselineRow]) -> str:
    """The report as an aligned text table."""
    lines = [f"{'baseline':<22}{'lr':>10}{'mean':>9}{'min':>9}{'max':>9}  tasks"]
    for r in rows:
        lr = f"{r.lr:>10.4g}" if np.isfinite(r.lr) else f"{'-':>10}"   # a program: no lr
        lines.append(f"{r.name:<22}{lr}{r.mean_accuracy:>9.4f}{min(r.per_task):>9.4f}"
                     f"{max(r.per_task):>9.4f}  {len(r.per_task)}")
    return "\n".join(lines)
