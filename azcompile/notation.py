"""The op notation and its one renderer: an op row (``loop``, ``numpy``, ``show``) -> text.

The notation is described in ``azcompile.ops``.  Every place that turns a row into code or
text goes through ``render`` with a ``Target``: a small description of how the target spells
operands, data, coordinates, random draws and scratch names (in the spirit of sympy's
printers).  The targets:

* ``INTERPRETER``: the interpreter kernel's branch for an op; operands are the runtime
  addresses ``a``, ``b``, ``o`` and data is read from ``data[p, k]``;
* ``CANDIDATE``: one instruction of a compiled candidate, addresses and constants as literals;
* ``EXPORT_NUMPY`` / ``EXPORT_LOOP``: one instruction of the exported module, vectorised
  (the ``numpy`` column) or as element loops for numba (the ``loop`` column);
* ``LISTING``: the paper's notation, as listings and ``Instruction.show()`` print it;
* ``JAX``: an op as one expression of its new output value (the ``numpy`` column, ``o``'s
  in-place writes as ``o.at[...].set``, conditionals as ``jnp.where``), for code without
  in-place writes (the search's differentiable relaxation); operands ``a``, ``b``, ``o``, data
  ``data[p, k]``, draws ``_uniform(key, low, high[, shape])`` as the caller defines them.

The literal rule (``literal``), the feature-index rule (``feature_index``) and the tidy rule
(``tidy``) exist only here.  Only numbers and op-table text ever reach rendered code.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import ops as _ops

_STORE = {_ops.SCALAR: "s", _ops.VECTOR: "v", _ops.MATRIX: "m", None: ""}

# One pass over a template.  Identifiers are consumed whole, so the A in ``ABS`` or the O in
# ``NoOp`` is never read as an operand; replacements are never scanned again.
_TOKEN = re.compile(
    r"\b(?:(?P<call>INDEX|UNIFORM|GAUSSIAN)(?P<shape>_V|_M)?\((?P<args>[^()]*)\)"
    r"|(?P<data>D[0-3])\b"
    r"|(?P<operand>[ABO])\b(?:\[(?P<sub>[^\]]*)\])?"
    r"|(?P<name>[A-Za-z_]\w*))")


@dataclass(frozen=True)
class Target:
    """How one target spells the notation."""

    name: str
    column: str                        # the op-row field rendered: "loop", "numpy" or "show"
    operand: str                       # a whole operand, e.g. "{store}[{addr}]" or "{store}{addr}"
    element: str                       # an element, e.g. "{store}[{addr}, {sub}]"
    runtime: bool = False              # addresses and data are read at run time (interpreter)
    renames: dict = field(default_factory=dict)   # notation name -> target name (F, TV, t, ...)
    draw: Optional[str] = None         # a random element: {kind} {stream} {element} {low} {high}
    draw_prologue: str = ""            # a line before an instruction that draws ({stream})
    shapes: dict = field(default_factory=dict)    # UNIFORM_V / _M suffix -> {shape} text
    non_finite: bool = False           # inf / nan constants allowed (the export folds them)
    digits: Optional[int] = None       # significant digits of numbers; None: exact repr
    vectorised_rules: bool = False     # apply the export's left-to-right / libm rules
    functional: bool = False           # the statement as an expression of the new output


INTERPRETER = Target(
    "interpreter", "loop", "{store}[{addr}]", "{store}[{addr}, {sub}]", runtime=True,
    renames={"TV": "tv", "TM": "tm"},
    draw="{kind}_at(rb, {element}, {low}, {high})",
    draw_prologue="rb = stream_base(seed, {stream}, call)\n")
CANDIDATE = Target(
    "candidate", "loop", "{store}[{addr}]", "{store}[{addr}, {sub}]",
    renames={"TV": "tv", "TM": "tm"},
    draw="{kind}_at(rb, {element}, {low}, {high})",
    draw_prologue="rb = stream_base(seed, {stream}, call)\n")
EXPORT_NUMPY = Target(
    "export-numpy", "numpy", "{store}{addr}", "{store}{addr}[{sub}]",
    renames={"F": "N_FEATURES"},
    draw="_{kind}_draws(seed, {stream}, call, {low}, {high}{shape})",
    shapes={"": "", "_V": ", (N_FEATURES,)", "_M": ", (N_FEATURES, N_FEATURES)"},
    non_finite=True, vectorised_rules=True)
EXPORT_LOOP = Target(
    "export-loop", "loop", "{store}{addr}", "{store}{addr}[{sub}]",
    renames={"F": "N_FEATURES", "TV": "_tv", "TM": "_tm", "t": "_t", "q": "_q"},
    non_finite=True)
LISTING = Target("listing", "show", "{store}{addr}", "{store}{addr}[{sub}]", digits=6)
JAX = Target(
    "jax", "numpy", "{addr}", "{addr}[{sub}]", runtime=True,
    draw="_{kind}(key, {low}, {high}{shape})", shapes={"": "", "_V": ", (F,)", "_M": ", (F, F)"},
    non_finite=True, functional=True)


# ---- the rules ----------------------------------------------------------------------------

def literal(x: float, non_finite: bool = False) -> str:
    """A number as Python source.  Validated programs hold finite numbers only; a target
    that folds constants (the export) may meet inf or nan and spells them through ``math``."""
    x = float(x)
    if math.isfinite(x):
        return repr(x)
    if not non_finite:
        raise ValueError(f"non-finite constant {x!r} in a program")
    if math.isnan(x):
        return "math.nan"
    return "math.inf" if x > 0 else "-math.inf"


def feature_index(fraction, features):
    """A coordinate stored as a fraction: floor(F * f) in float32, as the reference does.

    Plain Python that numba also compiles: the interpreter kernel jits this very function, and
    the candidate and export targets call it while rendering, so the rule exists once.
    """
    x = np.float32(features) * np.float32(fraction)
    # Fractions are in [0, 1]; clamping keeps any other value (or NaN) inside the array.
    if not x >= 0.0:
        return 0
    if x >= features:
        return features - 1
    return int(x)


def tidy(text: str) -> str:
    """Trailing spaces stripped, at most two blank lines in a row, one final newline."""
    out = []
    for line in (line.rstrip() for line in text.splitlines()):
        if not line and len(out) >= 2 and not out[-1] and not out[-2]:
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


# ---- rendering ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Binding:
    """What one rendering fills in: the op, its operand addresses and data, or run-time names."""

    op: _ops.Op
    addresses: dict          # "A" / "B" / "O" -> address text
    data: tuple              # four numbers, or None at run time
    features: Optional[int]
    stream: object           # stream id (or its run-time expression)


def _bind(subject, target: Target, features, stream) -> _Binding:
    if target.runtime:
        op = getattr(subject, "op", subject)
        return _Binding(op, {"A": "a", "B": "b", "O": "o"}, None, None, "stream[p]")
    if isinstance(subject, _ops.Op):
        raise TypeError(f"the {target.name} target renders an instruction, not an op")
    addresses = {"A": str(subject.in1), "B": str(subject.in2), "O": str(subject.out)}
    data = tuple(float(x) for x in subject.data)
    if target.digits is None and not target.non_finite:
        for x in data:  # refused even in unused fields: never produced by validated programs
            literal(x)
    return _Binding(subject.op, addresses, data, features, stream)


def _number(x: float, target: Target) -> str:
    if target.digits is not None:
        return f"{x:.{target.digits}g}"   # the reference's listing: 6 significant digits
    return literal(x, target.non_finite)


def _data(name: str, b: _Binding, target: Target) -> str:
    k = int(name[1])
    return f"data[p, {k}]" if b.data is None else _number(b.data[k], target)


def _index(arg: str, b: _Binding, target: Target) -> str:
    if b.data is None:
        return f"_index({_data(arg, b, target)}, F)"
    if not re.fullmatch(r"D[0-3]", arg):
        raise ValueError(f"INDEX takes a data field, got INDEX({arg})")
    if b.features is None:
        raise ValueError(f"the {target.name} target needs features= to index ({b.op.name})")
    with np.errstate(over="ignore", invalid="ignore"):  # huge or NaN fractions clamp
        return str(feature_index(b.data[int(arg[1])], b.features))


def _draw(kind: str, shape: str, args: list, b: _Binding, target: Target) -> str:
    if target.draw is None:
        raise ValueError(f"the {target.name} target has no random draws ({b.op.name})")
    low, high = args[0], args[1]
    element = args[2] if len(args) > 2 else "0"
    return target.draw.format(kind=kind.lower(), stream=b.stream, element=element, low=low,
                              high=high, shape=target.shapes.get(shape, ""))


def _fill(text: str, b: _Binding, target: Target) -> str:
    kinds = {"A": b.op.in1, "B": b.op.in2, "O": b.op.out}

    def token(m):
        if m["call"] == "INDEX":
            return _index(m["args"], b, target)
        if m["call"]:
            args = [_fill(arg, b, target) for arg in m["args"].split(", ")]
            return _draw(m["call"], m["shape"] or "", args, b, target)
        if m["data"]:
            return _data(m["data"], b, target)
        if m["operand"]:
            name = m["operand"]
            fields = {"store": _STORE[kinds[name]], "addr": b.addresses[name]}
            if m["sub"] is None:
                return target.operand.format(**fields)
            return target.element.format(sub=_fill(m["sub"], b, target), **fields)
        return target.renames.get(m["name"], m["name"])

    return _TOKEN.sub(token, text)


def render(subject, target: Target, *, features: int | None = None, stream=None) -> str:
    """The op row of ``subject`` in ``target``'s spelling.

    ``subject`` is an ``Instruction`` (anything with ``op``, ``in1``, ``in2``, ``out`` and
    ``data``), or an ``Op`` for the run-time ``INTERPRETER`` target.  ``features`` is needed
    where coordinates become literals; ``stream`` is a random instruction's stream id.
    """
    b = _bind(subject, target, features, stream)
    text = _fill(getattr(b.op, target.column), b, target)
    if b.op.is_random and target.draw_prologue:
        text = target.draw_prologue.format(stream=b.stream) + text
    if target.vectorised_rules:
        text = _vectorised_rules(text, _scalar_only(b.op))
    if target.functional:
        text = _functional_rules(text)
    return text


def render_loop_block(ins, features: int, allocated: set) -> list[str]:
    """An instruction as the export's element loops (``EXPORT_LOOP``), under its listing.

    The loops write outputs in place, so a vector or matrix output not yet in ``allocated``
    (names of existing arrays; updated here) is created first.
    """
    op = ins.op
    lines = []
    if op.out in (_ops.VECTOR, _ops.MATRIX):
        out = EXPORT_LOOP.operand.format(store=_STORE[op.out], addr=ins.out)
        if out not in allocated:
            shape = "N_FEATURES" if op.out == _ops.VECTOR else "(N_FEATURES, N_FEATURES)"
            lines.append(f"{out} = np.zeros({shape})")
        allocated.add(out)
    code = render(ins, EXPORT_LOOP, features=features)
    return lines + [f"# {render(ins, LISTING)}"] + code.splitlines()


# ---- the export's vectorised rules ---------------------------------------------------------
# The search engine adds from left to right and calls the C library's math functions; numpy
# adds pairwise and has its own vectorised exp, log, tan...  The exported module's helpers
# compute what the engine computes, so numpy calls become helper calls.

_NP_TO_HELPER = {"sum": "_sum", "dot": "_dot", "sin": "_sin", "cos": "_cos", "tan": "_tan",
                 "arcsin": "_arcsin", "arccos": "_arccos", "arctan": "_arctan", "exp": "_exp",
                 "log": "_log"}


def _scalar_only(op: _ops.Op) -> bool:
    scalar = (_ops.SCALAR, None)
    return op.out == _ops.SCALAR and op.in1 in scalar and op.in2 in scalar


def _vectorised_rules(code: str, scalar_division: bool) -> str:
    import libcst as cst  # local: the kernels import this module and never need libcst

    def call(name, *args):
        return cst.Call(func=cst.parse_expression(name), args=[cst.Arg(a) for a in args])

    class Rules(cst.CSTTransformer):
        def leave_Call(self, original, updated):
            func = updated.func
            if (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)
                    and func.value.value == "np" and func.attr.value in _NP_TO_HELPER):
                return updated.with_changes(func=cst.Name(_NP_TO_HELPER[func.attr.value]))
            return updated

        def leave_BinaryOperation(self, original, updated):
            op = updated.operator
            if isinstance(op, cst.MatrixMultiply):
                return call("_matmul", updated.left, updated.right)
            if isinstance(op, cst.Power) and isinstance(updated.right, cst.Integer) \
                    and updated.right.value == "2":
                return call("np.square", updated.left.with_changes(lpar=[], rpar=[]))
            if isinstance(op, cst.Divide) and scalar_division:
                # Python floats raise on x / 0; the engine gives inf or nan, as np.divide does.
                return call("np.divide", updated.left, updated.right)
            return updated

    node = cst.parse_statement(code).visit(Rules())
    return cst.Module([]).code_for_node(node).strip()


# ---- the functional rules (JAX) ------------------------------------------------------------
# Traced arrays have no in-place writes and no truth value: ``o = e`` becomes ``e``,
# ``o[i] = e`` becomes ``o.at[i].set(e)``, ``pass`` leaves ``o``, ``x if c else y`` becomes
# ``jnp.where(c, x, y)`` and numpy calls become jax.numpy calls.

def _functional_rules(code: str) -> str:
    import ast

    class Rules(ast.NodeTransformer):
        def visit_IfExp(self, node):
            self.generic_visit(node)
            return ast.Call(ast.Attribute(ast.Name("jnp", ast.Load()), "where", ast.Load()),
                            [node.test, node.body, node.orelse], [])

        def visit_Name(self, node):
            return ast.Name("jnp", ast.Load()) if node.id == "np" else node

    statement = ast.parse(code).body[0]
    if isinstance(statement, ast.Pass):
        return "o"
    if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
        raise ValueError(f"the jax target renders one assignment, got {code!r}")
    target, value = statement.targets[0], Rules().visit(statement.value)
    if isinstance(target, ast.Name):
        return ast.unparse(value)
    at = ast.Subscript(ast.Attribute(target.value, "at", ast.Load()), target.slice, ast.Load())
    return ast.unparse(ast.Call(ast.Attribute(at, "set", ast.Load()), [value], []))
