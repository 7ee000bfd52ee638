"""The task-type registry: every type in one table, built from specs; no scikit-learn on import."""
import subprocess
import sys

import pytest
from data_helpers import BINARY, MULTI, fresh_cache  # noqa: F401

from azcompile.eval_type import ACCURACY, MULTICLASS, RMS_ERROR
from azcompile.search.data.dataset_tasks import projected_binary_task, projected_multiclass_task
from azcompile.search.data.registry import TASK_TYPES, task_type
from azcompile.search.data.registry import build_tasks
from azcompile.search.data.synthetic import linear_task
from azcompile.search.data.tasks import TaskError, TaskSpec


def test_task_types_are_registered_and_build_from_specs():
    assert TASK_TYPES[BINARY].build is projected_binary_task
    assert TASK_TYPES[MULTI].build is projected_multiclass_task
    specs = [TaskSpec(BINARY, 8, 100, 20, num_tasks=3, eval_type=ACCURACY,
                      options={"pairs": "search"}),
             TaskSpec(MULTI, 16, 500, 50, num_tasks=2, eval_type=MULTICLASS,
                      options={"classes": [0, 1, 2, 3]})]
    tasks = build_tasks(specs)
    assert [t.features for t in tasks] == [8, 8, 8, 16, 16]
    assert tasks[3].num_classes == 4 and set(tasks[3].y_train) == {0.0, 1.0, 2.0, 3.0}


def test_every_task_type_is_in_the_table_with_the_eval_types_it_allows():
    assert {name: t.eval_types for name, t in TASK_TYPES.items()} == {
        "scalar_linear_regression": (RMS_ERROR,), "scalar_2layer_nn_regression": (RMS_ERROR,),
        "unit_test_zeros": (), "unit_test_ones": (), "unit_test_increment": (),
        BINARY: (ACCURACY,), MULTI: (MULTICLASS,), "table_regression": (RMS_ERROR,),
        "table_binary_classification": (ACCURACY,),
        "table_multiclass_classification": (MULTICLASS,)}
    assert TASK_TYPES["scalar_linear_regression"].build is linear_task


def test_an_unknown_task_type_is_one_error_naming_the_known_ones():
    with pytest.raises(TaskError) as err:
        build_tasks([TaskSpec("scalar_cubic_regression", 4, 10, 10)])
    assert str(err.value) == ("unknown task type 'scalar_cubic_regression'; known: "
                              f"{sorted(TASK_TYPES)}")
    assert task_type("unit_test_ones") is TASK_TYPES["unit_test_ones"]


def test_scikit_learn_is_imported_when_a_dataset_task_is_built_not_before():
    # It costs about a second; the registry is read by every config, most never need it.
    code = ("import sys\n"
            "from azcompile.search.data.registry import task_type\n"
            "assert 'sklearn' not in sys.modules\n"
            f"task_type('projected_binary_classification').build(4, 50, 10, 0, 0, 1, {ACCURACY},\n"
            "    positive_class=0, negative_class=1)\n"
            "print('sklearn' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"
