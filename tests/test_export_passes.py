"""The export's simplification passes (azcompile/export/passes/), one by one, on small
functions: what each may change, and what it must leave alone."""
import math

import libcst as cst
import pytest

from azcompile.export.passes import (ConstantFolding, Rename, hoist_learning_rate,
                                     prune_dead_assignments, prune_module, propagate,
                                     constant_value, simplify_source)


def body(source: str) -> list:
    return list(cst.parse_module(source).body)


def code(statements) -> str:
    return cst.Module(list(statements)).code


def function_code(func) -> str:
    return cst.Module([func]).code


@pytest.mark.parametrize("expression,folded", [
    ("0.5 * 0.5", 0.25), ("np.divide(1.0, 0.0)", math.inf), ("_exp(1000.0)", math.inf),
    ("np.divide(0.0, 0.0)", math.nan), ("_log(-1.0)", math.nan), ("-(2.0 - 3.0)", 1.0),
    ("abs(-2.0) if 1.0 < 2.0 else 3.0", 2.0), ("np.sqrt(4.0)", 2.0), ("_sin(math.inf)", math.nan)])
def test_folding_computes_what_the_module_would(expression, folded):
    node = cst.parse_expression(expression).visit(ConstantFolding(set()))
    value = constant_value(node)   # a literal now (-(2.0 - 3.0) reads --1.0: still 1.0)
    assert value == folded or (math.isnan(value) and math.isnan(folded)), expression


def test_folding_removes_identities_for_scalars_only():
    fold = ConstantFolding({"s1"})
    for expression, kept in (("s1 * 1.0", "s1"), ("1.0 * s1", "s1"), ("s1 - 0.0", "s1"),
                             ("s1 + -0.0", "s1"), ("np.divide(s1, 1.0)", "s1"),
                             ("s1 if s1 < s1 else s1", "s1"),
                             ("v1 * 1.0", "v1 * 1.0"),   # an array: x * 1 would alias it
                             ("s1 + 0.0", "s1 + 0.0")):  # -0.0 + 0.0 is 0.0: not exact
        node = cst.parse_expression(expression).visit(fold)
        assert cst.Module([]).code_for_node(node) == kept, expression


def test_propagation_substitutes_what_a_name_certainly_holds():
    statements = body("s2 = 0.5\ns3 = s2 * s2\ns4 = s1\ns1 = s0\ns5 = s4 + s3\nreturn s5\n")
    out = code(propagate(statements, {}, ConstantFolding({"s0", "s1", "s2", "s3", "s4", "s5"}),
                         {"s0", "s1", "s2", "s3", "s4", "s5"}))
    # s4 was a copy of s1; s1 is reassigned, so the copy is forgotten and s4 stays.
    assert out == "s2 = 0.5\ns3 = 0.25\ns4 = s1\ns1 = s0\ns5 = s4 + 0.25\nreturn s5\n"


def test_propagation_forgets_what_a_loop_assigns():
    statements = body("s2 = 1.5\nfor i in range(3):\n    s2 = s2 + 1.0\ns3 = s2\nreturn s3\n")
    out = code(propagate(statements, {}, ConstantFolding({"s2", "s3"}), {"s2", "s3"}))
    assert "s3 = s2\nreturn s2" in out and "s2 = 1.5 + 1.0" not in out


def test_dead_assignments_are_pruned_but_loops_and_element_writes_stay():
    statements = body("s2 = 1.0\ns3 = s0\ns2 = s3\nv1[0] = 2.0\nfor i in range(2):\n"
                      "    s4 = 1.0\nreturn s2, v1\n")
    assert code(prune_dead_assignments(statements)) == (
        "s3 = s0\ns2 = s3\nv1[0] = 2.0\nfor i in range(2):\n    s4 = 1.0\nreturn s2, v1\n")


def test_simplify_keeps_the_docstring_and_reaches_a_fixed_point():
    source = ('def _learn(s0, s1):\n    """Learn."""\n    s2 = 1.0\n    s3 = s0 * s2\n'
              '    s4 = s3 - s1\n    s5 = s4\n    return s5\n')
    func = simplify_source(source, {}, {f"s{i}" for i in range(6)})
    assert function_code(func) == 'def _learn(s0, s1):\n    """Learn."""\n    s4 = s0 - s1\n    return s4\n'


def test_rename_changes_names_of_values_only():
    node = cst.parse_module("s2 = np.zeros(s1)\nf(s1=s1)\n").visit(Rename({"s1": "b", "zeros": "z"}))
    assert node.code == "s2 = np.zeros(b)\nf(s1=b)\n"


def _learn(*factors) -> cst.FunctionDef:
    lines = "".join(f"    s{i + 2} = s0 * {f}\n" for i, f in enumerate(factors))
    return cst.parse_module(f"def _learn(s0):\n{lines}    return s2\n").body[0]


def test_one_step_size_becomes_learning_rate():
    func, line = hoist_learning_rate(_learn(0.01, 0.01, 1.0, -1.0), taken={"x"})
    assert line == "LEARNING_RATE = 0.01  # a constant Learn sets and multiplies by"
    assert function_code(func).count("* LEARNING_RATE") == 2 and "* 1.0" in function_code(func)


@pytest.mark.parametrize("factors,taken", [((0.01, 0.02), set()), ((0.01,), {"LEARNING_RATE"}),
                                           ((math.inf,), set()), ((), set())])
def test_no_learning_rate_when_it_would_be_ambiguous(factors, taken):
    func = _learn(*factors)
    assert hoist_learning_rate(func, taken) == (func, "")


def test_module_pruning_drops_unused_private_helpers_only():
    module = cst.parse_module(
        "import math\nimport numpy as np\n_A = 1\n_B = 2\n\n\ndef _used():\n    return _A\n\n\n"
        "def _unused():\n    return math.pi\n\n\ndef public():\n    return _used()\n")
    pruned = prune_module(module)
    assert pruned.code == ("import numpy as np\n_A = 1\n\n\ndef _used():\n    return _A\n\n\n"
                           "def public():\n    return _used()\n")
    assert prune_module(pruned).code == pruned.code
