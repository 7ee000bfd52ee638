"""Every task type a config may name, in one table (its builder and the eval types it
allows), and ``build_tasks``, which expands task specs with them.

The synthetic types are the reference's generators (``synthetic``); the dataset types project
real data (``dataset_tasks``); the table types split one table of the user's data
(``table_tasks``, what the Python API's estimators search on).  Importing this module imports no scikit-learn: the dataset
builders import it only when a dataset task is built.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from azcompile.eval_type import ACCURACY, MULTICLASS, RMS_ERROR

from . import dataset_tasks, synthetic, table_tasks
from .tasks import DEFAULT_DATA_SEEDS, DEFAULT_PARAM_SEEDS, Task, TaskError, task_seeds


@dataclass(frozen=True)
class TaskType:
    """``build(features, n_train, n_valid, data_seed, param_seed, epochs, eval_type,
    **options)`` makes one task; ``eval_types`` are those it allows, the first being its
    natural one (empty: any, as for the unit-test types)."""

    build: Callable[..., Task]
    eval_types: tuple[int, ...] = ()


TASK_TYPES: dict[str, TaskType] = {
    "scalar_linear_regression": TaskType(synthetic.linear_task, (RMS_ERROR,)),
    "scalar_2layer_nn_regression": TaskType(synthetic.nonlinear_task, (RMS_ERROR,)),
    "unit_test_zeros": TaskType(synthetic.zeros_task),
    "unit_test_ones": TaskType(synthetic.ones_task),
    "unit_test_increment": TaskType(synthetic.increment_task),
    "projected_binary_classification": TaskType(dataset_tasks.projected_binary_task,
                                                (ACCURACY,)),
    "projected_multiclass_classification": TaskType(dataset_tasks.projected_multiclass_task,
                                                    (MULTICLASS,)),
    "table_regression": TaskType(table_tasks.table_task, (RMS_ERROR,)),
    "table_binary_classification": TaskType(table_tasks.table_task, (ACCURACY,)),
    "table_multiclass_classification": TaskType(table_tasks.table_task, (MULTICLASS,)),
}


def task_type(name: str) -> TaskType:
    """The task type called ``name``, or a TaskError listing the known ones."""
    found = TASK_TYPES.get(name)
    if found is None:
        raise TaskError(f"unknown task type {name!r}; known: {sorted(TASK_TYPES)}")
    return found


def build_tasks(specs) -> list[Task]:
    """Expand task specs into tasks, in spec order (each task gets its global index)."""
    tasks = []
    for spec in specs:
        builder = task_type(spec.type).build
        param = task_seeds(spec.param_seeds, DEFAULT_PARAM_SEEDS, spec.num_tasks)
        data = task_seeds(spec.data_seeds, DEFAULT_DATA_SEEDS, spec.num_tasks)
        for i in range(spec.num_tasks):
            tasks.append(builder(features=spec.features, n_train=spec.num_train_examples,
                                 n_valid=spec.num_valid_examples, data_seed=data[i],
                                 param_seed=param[i], epochs=spec.num_train_epochs,
                                 eval_type=spec.eval_type, **spec.options))
    return tasks
