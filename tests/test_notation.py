"""The one renderer of op rows: every target reproduces what the renderers it replaced wrote.

``tests/data/notation_golden.json`` holds the output of codegen's, export's and program's own
renderers (made at b24af21 by tests/data/make_notation_golden.py) for every op, several
operand and data choices, and feature sizes 4 and 6.  One rule changed on purpose: the export
indexed a coordinate without the clamp (a fraction of -0.5 gave ``v[-2]``, NaN raised); it now
clamps like the interpreter and the candidate kernels.  Loaded programs never hold such
fractions (they must be in [0, 1]); the cases are checked against the clamp instead.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from azcompile import _interp_kernel, codegen, notation, ops
from azcompile.program import Instruction

sys.path.insert(0, str(Path(__file__).parent))
from test_codegen import every_op_program  # noqa: E402

GOLDEN = json.loads((Path(__file__).parent / "data" / "notation_golden.json").read_text())
EXPORT_KEYS = ("export_numpy", "export_fill_numpy", "export_fill_loop", "export_loop_new",
               "export_loop_allocated")


def _instruction(case) -> Instruction:
    return Instruction(ops.lookup(case["op"]), *case["operands"],
                       tuple(float(x) for x in case["data"]))


def _attempt(render):
    try:
        return render()
    except (ValueError, OverflowError) as exc:
        return {"error": type(exc).__name__}


def _out_name(ins) -> str:
    """The export's name of an instruction's output register, e.g. ``v2``."""
    return {"S": "s", "V": "v", "M": "m"}.get(ins.op.out, "") + str(ins.out)


def _renderings(ins, features, stream):
    """Each golden key -> how notation renders it now."""
    op = ins.op
    draws = stream if op.is_random else None
    out = {
        "show": lambda: notation.render(ins, notation.LISTING),
        # codegen puts the listing above the candidate's block
        "candidate": lambda: (f"# {ins.show()}\n"
                              + notation.render(ins, notation.CANDIDATE, features=features,
                                                stream=stream)),
        "export_numpy": lambda: notation.render(ins, notation.EXPORT_NUMPY, features=features,
                                                stream=draws),
    }
    if not op.is_random:
        out["export_fill_loop"] = lambda: notation.render(ins, notation.EXPORT_LOOP,
                                                          features=features)
        out["export_loop_new"] = lambda: notation.render_loop_block(ins, features, set())
        # the output already exists: no np.zeros line
        out["export_loop_allocated"] = lambda: notation.render_loop_block(
            ins, features, {_out_name(ins)})
    return {key: _attempt(render) for key, render in out.items()}


def _fractions_out_of_range(case) -> bool:
    if ops.lookup(case["op"]).data not in (ops.VECTOR_CONST, ops.MATRIX_CONST):
        return False
    return not all(0.0 <= float(x) <= 1.0 for x in case["data"][1:3])


@pytest.mark.parametrize("name", [op.name for op in ops.OPS])
def test_interpreter_branch_is_unchanged(name):
    assert notation.render(ops.lookup(name), notation.INTERPRETER) == GOLDEN["interp"][name]


@pytest.mark.parametrize("op", ops.OPS, ids=lambda o: o.name)
def test_every_target_reproduces_the_golden_file(op):
    cases = [c for c in GOLDEN["cases"] if c["op"] == op.name]
    assert cases
    for case in cases:
        ins = _instruction(case)
        got = _renderings(ins, case["features"], case["stream"])
        for key, value in got.items():
            if key in EXPORT_KEYS and _fractions_out_of_range(case):
                continue  # checked by test_export_clamps_coordinates_like_the_engine
            assert value == case[key], (key, case["data"], case["features"])


def test_export_clamps_coordinates_like_the_engine():
    """Where the old export rule left the array (or raised), the export now indexes the
    cell the engine writes: exactly what an in-range fraction for that cell renders."""
    checked = 0
    for case in GOLDEN["cases"]:
        if not _fractions_out_of_range(case):
            continue
        ins, features = _instruction(case), case["features"]
        data = list(ins.data)
        for k in (1, 2) if ins.op.data == ops.MATRIX_CONST else (1,):
            data[k] = notation.feature_index(data[k], features) / features
        twin = Instruction(ins.op, ins.in1, ins.in2, ins.out, tuple(data))
        for target in (notation.EXPORT_NUMPY, notation.EXPORT_LOOP):
            assert (notation.render(ins, target, features=features)
                    == notation.render(twin, target, features=features))
        checked += 1
    assert checked > 20


def test_export_literal_allows_non_finite_and_the_kernels_do_not():
    for text, expected in GOLDEN["export_literal"].items():
        assert notation.literal(float(text), non_finite=True) == expected
    for x in (math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError, match="non-finite"):
            notation.literal(x)
    assert notation.EXPORT_NUMPY.non_finite and notation.EXPORT_LOOP.non_finite
    assert not notation.CANDIDATE.non_finite


@pytest.mark.parametrize("features", [4, 6])
def test_candidate_module_is_unchanged(features):
    """The instructions' code is as before: the Setup, Predict and Learn functions (the
    golden text was made when a candidate module also held its own driver, so only these
    functions are compared)."""
    source = codegen.candidate_source(every_op_program(features), 0x1234ABCD)
    golden = GOLDEN["candidate_source"][str(features)]

    def components(text, end):
        start = text.rindex("@njit", 0, text.index("def setup("))
        return text[start:text.index(end)].rstrip()

    ours = components(source, "@njit(COMPONENT")
    assert ours == components(golden, "# ---- the evaluation loop")
    assert ours.count("# ") > 60     # every op's block, under its listing line


@pytest.mark.parametrize("fraction, features, cell", [
    (0.0, 4, 0), (0.6, 4, 2), (float(np.float32(5 / 6)), 6, 5), (0.999, 4, 3), (1.0, 4, 3),
    (1.5, 6, 5), (-0.1, 4, 0), (-0.5, 4, 0), (math.nan, 4, 0), (math.inf, 4, 3),
    (-math.inf, 4, 0), (3e38, 6, 5)])
def test_feature_index_clamps_and_the_kernel_runs_the_same_rule(fraction, features, cell):
    with np.errstate(over="ignore"):
        assert notation.feature_index(fraction, features) == cell
    assert _interp_kernel._index(fraction, features) == cell


def test_the_interpreter_jits_the_notation_rule():
    assert _interp_kernel._index.py_func is notation.feature_index


def test_targets_refuse_what_they_cannot_render():
    sum_op = ops.lookup("SCALAR_SUM_OP")
    with pytest.raises(TypeError, match="instruction"):
        notation.render(sum_op, notation.CANDIDATE)
    uniform = Instruction(ops.lookup("VECTOR_UNIFORM_SET_OP"), 0, 0, 1, (0, -1.0, 1.0, 0))
    with pytest.raises(ValueError, match="no random draws"):
        notation.render(uniform, notation.EXPORT_LOOP, features=4)
    const = Instruction(ops.lookup("VECTOR_CONST_SET_OP"), 0, 0, 1, (0, 0.5, 1.0, 0))
    with pytest.raises(ValueError, match="features="):
        notation.render(const, notation.CANDIDATE)
    bad = Instruction(ops.lookup("SCALAR_CONST_SET_OP"), 0, 0, 2, (math.inf, 0, 0, 0))
    with pytest.raises(ValueError, match="non-finite"):
        notation.render(bad, notation.CANDIDATE, features=4)


def test_tidy():
    assert notation.tidy("a  \n\n\n\n\nb\t\n\n") == "a\n\n\nb\n"


def test_templates_come_from_this_checkout():
    """An editable install of another checkout maps ``azcompile.templates`` to its own folder;
    code generation must read the templates beside the azcompile it runs (it read the other
    checkout's before)."""
    here = Path(codegen.__file__).resolve().parent.parent / "templates"
    assert codegen.template_dir() == here
    for name in ("interpreter.py.tmpl", "candidate.py.tmpl"):
        assert codegen.template(name).template == (here / name).read_text(encoding="utf-8")
