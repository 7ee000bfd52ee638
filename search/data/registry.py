"""Every task type a config may name, in one table: its builder and the eval types it allows.

The synthetic types are the reference's generators (``tasks``); the dataset types project
real data (``dataset_tasks``).  Importing this module imports no scikit-learn: the dataset
builders import it only when a dataset task is built.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from azcompile.engine import ACCURACY, MULTICLASS, RMS_ERROR

from . import dataset_tasks, tasks
from .tasks import Task, TaskError


@dataclass(frozen=True)
class TaskType:
    """``build(features, n_train, n_valid, data_seed, param_seed, epochs, eval_type,
    **options)`` makes one task; ``eval_types`` are those it allows, the first being its
    natural one (empty: any, as for the unit-test types)."""

    build: Callable[..., Task]
    eval_types: tuple[int, ...] = ()


TASK_TYPES: dict[str, TaskType] = {
    "scalar_linear_regression": TaskType(tasks.linear_task, (RMS_ERROR,)),
    "scalar_2layer_nn_regression": TaskType(tasks.nonlinear_task, (RMS_ERROR,)),
    "unit_test_zeros": TaskType(tasks.zeros_task),
    "unit_test_ones": TaskType(tasks.ones_task),
    "unit_test_increment": TaskType(tasks.increment_task),
    "projected_binary_classification": TaskType(dataset_tasks.projected_binary_task,
                                                (ACCURACY,)),
    "projected_multiclass_classification": TaskType(dataset_tasks.projected_multiclass_task,
                                                    (MULTICLASS,)),
}


def task_type(name: str) -> TaskType:
    """The task type called ``name``, or a TaskError listing the known ones."""
    found = TASK_TYPES.get(name)
    if found is None:
        raise TaskError(f"unknown task type {name!r}; known: {sorted(TASK_TYPES)}")
    return found
