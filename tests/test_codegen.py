"""Code generation: the checked-in interpreter kernel is what the generator writes, and
candidate modules are readable, complete and carry nothing but numbers from a program."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from azcompile import codegen, ops
from azcompile.liveness import canonical
from azcompile.program import Instruction, Memory, Program, instructions

MARKER = "ZZ_META_MARKER_7f3a"


def every_op_program(features=4):
    """One instruction of every op (its inputs read what earlier ones wrote)."""
    mem = Memory(6, 5, 3, features)
    rows = []
    for op in ops.OPS:
        data = {ops.NO_DATA: (0, 0, 0, 0), ops.SCALAR_CONST: (0.375, 0, 0, 0),
                ops.VECTOR_CONST: (0, 0.6, -1.25, 0), ops.MATRIX_CONST: (0, 0.3, 0.9, 2.5),
                ops.GAUSSIAN: (0, 0.5, 0.25, 0), ops.UNIFORM: (0, -0.5, 0.5, 0)}[op.data]
        out = {"S": 2 + op.id % 4, "V": 1 + op.id % 4, "M": op.id % 3}.get(op.out, 0)
        in1 = {"S": 3, "V": 2, "M": 1}.get(op.in1, 0)
        in2 = {"S": 4, "V": 0, "M": 2}.get(op.in2, 0)
        rows.append(Instruction(op, in1, in2, out, data))
    meta = {"note": MARKER + '"""; import os; os.system("echo pwned")  #', "task": MARKER}
    return Program(setup=rows[:22], predict=rows[22:44], learn=rows[44:], memory=mem, meta=meta)


def test_checked_in_interpreter_is_generated():
    """After an op-table or template edit, run ``python -m azcompile.codegen``."""
    assert codegen.INTERP_KERNEL_PATH.read_text(encoding="utf-8") == codegen.interpreter_source()


def test_checked_in_compiled_driver_is_generated():
    """After a driver or template edit, run ``python -m azcompile.codegen``."""
    assert (codegen.COMPILED_DRIVER_PATH.read_text(encoding="utf-8")
            == codegen.compiled_driver_source())


def test_op_set_interpreter_has_only_its_ops_and_a_constant_feature_size():
    """A search's interpreter: NO_OP and the config's ops, in id order, F built in, and the
    entry point the search calls through a pointer."""
    chosen = {ops.lookup(n).id for n in ("VECTOR_SUM_OP", "SCALAR_CONST_SET_OP", "SCALAR_DIFF_OP")}
    text = codegen.op_set_interpreter_source(chosen, 7)
    branches = [int(i) for i in re.findall(r"^\s+(?:if|elif) op == (\d+):", text, flags=re.M)]
    assert branches == sorted(chosen | {0})
    assert "\nF = 7\n" in text
    tree = ast.parse(text)
    entry = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "evaluate"]
    assert len(entry) == 1 and [a.arg for a in entry[0].args.args] == [
        "program", "task", "run", "registers", "record"]
    # Another op set or feature size is another text (and so another cached module).
    assert codegen.op_set_interpreter_source(chosen, 8) != text
    assert codegen.op_set_interpreter_source(chosen | {1}, 7) != text


def test_write_interpreter_reports_changes(tmp_path):
    path = tmp_path / "kernel.py"
    assert codegen.write_interpreter(path) is True
    assert codegen.write_interpreter(path) is False
    assert path.read_text() == codegen.interpreter_source()


def test_interpreter_has_one_branch_per_op_in_id_order():
    text = codegen.interpreter_source()
    branches = re.findall(r"^\s+(?:if|elif) op == (\d+):  # (\w+)$", text, flags=re.M)
    assert [(int(i), name) for i, name in branches] == [(op.id, op.name) for op in ops.OPS]
    ast.parse(text)


@pytest.mark.parametrize("op", [o for o in ops.OPS if o.is_random], ids=lambda o: o.name)
def test_random_op_arguments(op):
    """uniform_at / gaussian_at(base, element, first parameter, second parameter): the
    element index comes second in both renderings (a comma inside ``data[p, 1]`` once
    shifted the arguments)."""
    interp = codegen._interp_branch(op)
    call = re.search(r"(uniform_at|gaussian_at)\((.*)\)", interp).group(2)
    assert call.split(", ", 1)[1].startswith(("0,", "i,", "i * F + j,"))
    assert call.endswith("data[p, 1], data[p, 2]")
    ins = Instruction(op, 0, 0, 1 if op.out != "M" else 0, (0, 0.5, 0.25, 0))
    block = codegen._instruction_block(ins, 3, 4)
    call = re.search(r"(uniform_at|gaussian_at)\((.*)\)", block).group(2)
    assert call.startswith("rb, ") and call.endswith("0.5, 0.25")
    assert "stream_base(seed, 3, call)" in block


@pytest.mark.parametrize("features", [4, 6])
def test_candidate_source_is_readable_and_complete(features):
    prog = every_op_program(features)
    source = codegen.candidate_source(prog, 0x1234ABCD)
    tree = ast.parse(source)
    # The header names the hash and lists the program as the paper shows it.
    assert source.startswith('"""Compiled candidate 000000001234abcd.')
    assert prog.listing().strip().splitlines()[0] in source
    # Each component is a function whose body shows every instruction as a comment, in order.
    for name, comp in zip(("setup", "predict", "learn"), prog.components):
        body = re.search(rf"def {name}\(s, v, m, tv, tm, seed, call\):\n(.*?)\n\n\n", source,
                         flags=re.S).group(1)
        comments = re.findall(r"^    # (.*)$", body, flags=re.M)
        assert comments == [ins.show() for ins in comp]
    # Addresses and constants are literals; the feature size is baked in.
    assert f"\nF = {features}\n" in source
    assert re.search(r"^\s+[svm]\[\d+(, \d+)*\] = ", source, flags=re.M)
    assert "data[" not in source and "code[" not in source
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    # Only the components: the driver is compiled once for all (_compiled_driver.py).
    assert functions == {"setup", "predict", "learn", "components"}


def test_candidate_index_literals_follow_float32_rule():
    prog = Program(setup=instructions([
        ("VECTOR_CONST_SET_OP", 0, 0, 1, (0, float(np.float32(5 / 6)), 1.0, 0)),
        ("MATRIX_CONST_SET_OP", 0, 0, 0, (0, 1.0, 0.0, 2.0))]), memory=Memory(4, 3, 1, 6))
    source = codegen.candidate_source(prog, 1)
    assert "v[1, 5] = 1.0" in source          # float32(6 * 0.8333333) = 5.0
    assert "m[0, 5, 0] = 2.0" in source       # a fraction of 1.0 clamps to F - 1


def test_candidate_carries_no_text_from_the_program():
    prog = every_op_program()
    source = codegen.candidate_source(prog, 42)
    assert MARKER not in source and "pwned" not in source
    canon, h = canonical(prog)
    assert canon.meta == prog.meta                 # the meta travels with the program ...
    assert MARKER not in codegen.candidate_source(canon, h)   # ... but never into code
    # The only strings in a candidate are its docstrings, numba's options and the fixed
    # text of the driver module.
    strings = _strings(source) - _strings(codegen.driver_source(), with_docstrings=True)
    assert strings <= {"numpy", "always"}, strings


def _strings(source, with_docstrings=False):
    tree = ast.parse(source)
    docstrings = set() if with_docstrings else {
        id(n.body[0].value) for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.FunctionDef)) and n.body
        and isinstance(n.body[0], ast.Expr)}
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docstrings}


def test_non_finite_constants_are_refused():
    bad = Program(setup=(Instruction(ops.lookup("SCALAR_CONST_SET_OP"), 0, 0, 2,
                                     (float("inf"), 0, 0, 0)),))
    with pytest.raises(ValueError, match="non-finite"):
        codegen.candidate_source(bad, 1)


def test_empty_program():
    source = codegen.candidate_source(Program(), 0)
    ast.parse(source)
    assert source.count("    pass") >= 3


# ---- the driver: one real module, included unmodified ----------------------------------------

def test_kernels_include_the_driver_module_text_unmodified():
    driver = codegen.driver_source()
    assert driver == Path(codegen.__file__).with_name("driver.py").read_text(encoding="utf-8")
    interp = codegen.interpreter_source()
    op_set = codegen.op_set_interpreter_source({1, 2}, 4)
    for source in (interp, op_set, codegen.compiled_driver_source()):
        assert source.count(driver) == 1
        # The module's own run_component comes first: the driver's call resolves to it.
        assert source.index("def run_component(") < source.index(driver)
    assert "${" not in driver


def test_driver_has_one_run_component_call_site():
    """One call site keeps one copy of the inlined interpreter in the compiled driver."""
    calls = [node for node in ast.walk(ast.parse(codegen.driver_source()))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_component"]
    assert len(calls) == 1


def test_driver_imported_on_its_own_drives_the_interpreter():
    from azcompile import _interp_kernel, driver

    assert driver.run_component is _interp_kernel.run_component
    assert callable(driver.evaluate_task.py_func)
