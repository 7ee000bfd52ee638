"""The one eval-type enum: codes, config names, task modes, and the aliases derived from it."""
from __future__ import annotations

import pytest

from azcompile.eval_type import (ACCURACY, MULTICLASS, RMS_ERROR, EvalType, by_name,
                                  config_names)
from azcompile.liveness import SCALAR_TASK, VECTOR_TASK


def test_codes_are_the_reference_proto_values():
    assert [(e.name, int(e)) for e in EvalType] == [("RMS_ERROR", 1), ("ACCURACY", 4),
                                                      ("MULTICLASS", 5)]


def test_config_names_parse_to_their_member():
    assert config_names() == ["rms_error", "accuracy", "multiclass"]
    for name in config_names():
        assert EvalType.parse(name).config_name == name


@pytest.mark.parametrize("name", ["RMS_ERROR", "rms", "", "multi_class"])
def test_unknown_names_are_refused_with_the_known_ones(name):
    with pytest.raises(ValueError, match="rms_error"):
        EvalType.parse(name)


def test_only_multiclass_tasks_use_vector_registers():
    assert EvalType.MULTICLASS.task_mode == VECTOR_TASK
    assert EvalType.RMS_ERROR.task_mode == EvalType.ACCURACY.task_mode == SCALAR_TASK
    assert EvalType.of(5).task_mode == VECTOR_TASK and EvalType.of(1).task_mode == SCALAR_TASK


def test_unknown_codes_are_refused():
    with pytest.raises(ValueError, match="by value"):
        EvalType.of(2)
    with pytest.raises(ValueError, match="by value"):
        EvalType.of(0)


def test_the_plain_codes_follow_the_enum():
    assert by_name() == {"rms_error": 1, "accuracy": 4, "multiclass": 5}
    assert (RMS_ERROR, ACCURACY, MULTICLASS) == (1, 4, 5)
    assert all(type(code) is int for code in (RMS_ERROR, ACCURACY, MULTICLASS))
