"""The export's plan (azcompile/export/plan.py, dataflow.py, names.py): built once, never
changed, and holding every decision about registers: roles, names, constants, state and
the random streams."""
import dataclasses

import pytest

from azcompile import liveness, reference_programs
from azcompile.export import export_program
from azcompile.export import plan as plan_module
from azcompile.export.plan import build_plan
from azcompile.export.provenance import Task
from azcompile.program import Memory, Program, instructions
from tests.test_export import linear_regression

REGRESSION = Task("rms_error")


def neural_net() -> Program:
    return reference_programs.neural_net(Memory(5, 9, 2, 4))


def test_linear_regression_plan():
    plan = build_plan(linear_regression(), REGRESSION, "auto", jit=False)
    assert dict(plan.constants) == {("S", 2): 0.001}
    assert plan.state == (("S", 1), ("V", 1))   # the prediction first, then the weights
    assert dict(plan.names) == {("V", 0): "x", ("S", 0): "y", ("S", 1): "prediction",
                                ("S", 2): "LEARNING_RATE", ("S", 3): "t1", ("V", 1): "w",
                                ("V", 2): "tv1"}
    assert plan.roles[("V", 1)] == "state" and plan.roles[("S", 2)] == "constant"
    assert plan.key(("S", 1)) == "prediction" and plan.key(("V", 1)) == "w"


def test_neural_net_roles_activations_and_zeros():
    plan = build_plan(neural_net(), REGRESSION, "auto", jit=False)
    # The hidden layer: Predict writes it before Learn reads it.
    assert [plan.names[r] for r, role in sorted(plan.roles.items()) if role == "activation"] \
        == ["h1", "h2"]
    assert plan.zeros == {("V", 5)} and plan.names[("V", 5)] == "ZEROS"   # ReLU's 0 vector
    assert ("V", 5) in plan.module_level and ("V", 5) not in plan.state
    raw = build_plan(neural_net(), REGRESSION, "raw", jit=False)
    assert all(name == {"S": "s", "V": "v", "M": "m"}[reg[0]] + str(reg[1])
               for reg, name in raw.names.items())
    assert raw.roles == plan.roles and raw.state == plan.state


def test_multiclass_plan_names_the_scores():
    plan = build_plan(neural_net(), Task("multiclass", 3), "auto", jit=False)
    assert plan.vector_task and plan.key(plan.prediction) == "scores"
    assert plan.names[plan.label] == "y_onehot"


def test_the_plan_is_immutable():
    plan = build_plan(linear_regression(), REGRESSION, "auto", jit=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.names = {}
    for mapping in (plan.names, plan.roles, plan.constants, plan.exposed, plan.streams):
        with pytest.raises(TypeError):
            mapping[("S", 9)] = 0
    assert isinstance(plan.state, tuple) and isinstance(plan.zeros, frozenset)
    assert all(isinstance(v, tuple) for v in plan.exposed.values())


def test_an_export_builds_its_plan_once(monkeypatch):
    calls = []
    original = plan_module.analyse
    monkeypatch.setattr(plan_module, "analyse", lambda *a: calls.append(a) or original(*a))
    export_program(neural_net())
    assert len(calls) == 1


def test_streams_count_live_random_instructions_as_the_engine_does():
    """A dead random op takes no stream: the live one after it draws stream 0."""
    program = Program(
        setup=instructions([("VECTOR_GAUSSIAN_SET_OP", 0, 0, 3, (0.0, 0.0, 1.0)),   # dead
                            ("VECTOR_UNIFORM_SET_OP", 0, 0, 1, (0.0, -1.0, 1.0))]),
        predict=instructions([("VECTOR_INNER_PRODUCT_OP", 0, 1, 1),
                              ("SCALAR_GAUSSIAN_SET_OP", 0, 0, 2, (0.0, 0.0, 1.0)),
                              ("SCALAR_SUM_OP", 1, 2, 1)]),
        memory=Memory(4, 4, 1, 4))
    plan = build_plan(program, REGRESSION, "auto", jit=False)
    assert dict(plan.streams) == {("setup", 0): 0, ("predict", 1): 1}
    code, _, size = program.to_arrays()
    flags = liveness.live_instructions(code, size, 4, 4, liveness.SCALAR_TASK)
    ids = liveness.stream_ids(code, size, flags)
    assert (ids[0, 0], ids[0, 1], ids[1, 1]) == (-1, 0, 1)
    assert "_uniform_draws(seed, 0, call" in export_program(program)


def test_constants_need_a_value_known_at_export():
    """Setup's random scalar is state, not a constant; Setup's literal is a constant."""
    program = Program(
        setup=instructions([("SCALAR_UNIFORM_SET_OP", 0, 0, 2, (0.0, 0.0, 1.0)),
                            ("SCALAR_CONST_SET_OP", 0, 0, 3, (0.25,))]),
        predict=instructions([("SCALAR_PRODUCT_OP", 2, 3, 1)]),
        memory=Memory(4, 3, 1, 4))
    plan = build_plan(program, REGRESSION, "auto", jit=False)
    assert dict(plan.constants) == {("S", 3): 0.25}
    assert ("S", 2) in plan.state and plan.roles[("S", 2)] == "state"
    assert plan.names[("S", 3)] == "C"   # read by Predict: not a step size
