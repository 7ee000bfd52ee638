"""Instructions as statements of the exported module (the export target's rendering).

Entry points (all the rest of the package calls):

* ``numpy_statement(ins, features, stream)``: one instruction as one numpy statement;
* ``loop_block(ins, features, allocated)``: one instruction as element loops (``jit``);
* ``literal(x)``: a float as source text (``0.5``, ``-math.inf``, ``math.nan``);
* ``tidy(text)``: the final layout of the module text.

The text comes from the op table's ``numpy`` and ``loop`` columns, with the export's target
rules: sums run left to right and scalar functions call the C library, as the engine does,
so the last bits agree (see ``helpers``).  ``azcompile.notation`` is to take over the op
semantics; these four functions are the interface it replaces.
"""
from __future__ import annotations

import math
import re

import libcst as cst
import numpy as np

from .registers import M, S, V, raw_name

_NP_TO_HELPER = {"sum": "_sum", "dot": "_dot", "sin": "_sin", "cos": "_cos", "tan": "_tan",
                 "arcsin": "_arcsin", "arccos": "_arccos", "arctan": "_arctan", "exp": "_exp",
                 "log": "_log"}


def literal(x: float) -> str:
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "-math.inf"
    return repr(float(x))


def _index(features: int, fraction: float) -> str:
    """A coordinate stored as a fraction: floor(F * f) in float32, as the engine does."""
    k = int(np.float32(features) * np.float32(fraction))
    return str(min(k, features - 1))


def _fill(text: str, ins, features: int, stream: int | None, loop: bool) -> str:
    """The op's template with this instruction's registers, data and stream filled in."""
    op = ins.op
    text = re.sub(r"INDEX\(D([0-3])\)", lambda m: _index(features, ins.data[int(m.group(1))]), text)
    text = re.sub(r"\bD([0-3])\b", lambda m: literal(ins.data[int(m.group(1))]), text)
    regs = {"A": (op.in1, ins.in1), "B": (op.in2, ins.in2), "O": (op.out, ins.out)}
    text = re.sub(r"\b([ABO])\b", lambda m: raw_name(regs[m.group(1)]), text)
    text = re.sub(r"\bF\b", "N_FEATURES", text)
    if loop:
        text = re.sub(r"\bTV\b", "_tv", re.sub(r"\bTM\b", "_tm", text))
        return re.sub(r"\b([tq])\b", r"_\1", text)
    shapes = {"": "", "_V": ", (N_FEATURES,)", "_M": ", (N_FEATURES, N_FEATURES)"}

    def draw(m):
        kind, suffix, low, high = m.group(1), m.group(2) or "", m.group(3), m.group(4)
        return f"_{kind.lower()}_draws(seed, {stream}, call, {low}, {high}{shapes[suffix]})"

    return re.sub(r"(UNIFORM|GAUSSIAN)(_V|_M)?\(([^,]+), ([^,)]+)(?:, 0)?\)", draw, text)


class _TargetRules(cst.CSTTransformer):
    """numpy-column expressions -> what the engine computes (see ``helpers``)."""

    def __init__(self, scalar_division: bool):
        super().__init__()
        self.scalar_division = scalar_division

    def leave_Call(self, original, updated):
        func = updated.func
        if (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)
                and func.value.value == "np" and func.attr.value in _NP_TO_HELPER):
            return updated.with_changes(func=cst.Name(_NP_TO_HELPER[func.attr.value]))
        return updated

    def leave_BinaryOperation(self, original, updated):
        op = updated.operator
        if isinstance(op, cst.MatrixMultiply):
            return _call("_matmul", updated.left, updated.right)
        if isinstance(op, cst.Power) and isinstance(updated.right, cst.Integer) \
                and updated.right.value == "2":
            return _call("np.square", updated.left.with_changes(lpar=[], rpar=[]))
        if isinstance(op, cst.Divide) and self.scalar_division:
            # Python floats raise on x / 0; the engine gives inf or nan, as np.divide does.
            return _call("np.divide", updated.left, updated.right)
        return updated


def _call(name: str, *args) -> cst.Call:
    return cst.Call(func=cst.parse_expression(name), args=[cst.Arg(a) for a in args])


def numpy_statement(ins, features: int, stream) -> str:
    """The instruction as one statement on whole registers (``stream``: its random stream)."""
    op = ins.op
    code = _fill(op.numpy, ins, features, stream, loop=False)
    scalar_only = op.out == S and op.in1 in (S, None) and op.in2 in (S, None)
    node = cst.parse_statement(code).visit(_TargetRules(scalar_only))
    return cst.Module([]).code_for_node(node).strip()


def loop_block(ins, features: int, allocated: set) -> list[str]:
    """The op's element loops (jit flavour); outputs are written in place, so an output
    not yet in ``allocated`` (raw names) is allocated first and added to it."""
    op = ins.op
    lines = []
    out = (op.out, ins.out)
    if op.out in (V, M) and raw_name(out) not in allocated:
        shape = "N_FEATURES" if op.out == V else "(N_FEATURES, N_FEATURES)"
        lines.append(f"{raw_name(out)} = np.zeros({shape})")
    if op.out in (V, M):
        allocated.add(raw_name(out))
    code = _fill(op.loop, ins, features, None, loop=True)
    return lines + [f"# {ins.show()}"] + code.splitlines()


def tidy(text: str) -> str:
    """Trailing spaces stripped, at most two blank lines in a row, one final newline."""
    out = []
    for line in (line.rstrip() for line in text.splitlines()):
        if not line and len(out) >= 2 and not out[-1] and not out[-2]:
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"
