"""Export: one evolved program as a standalone, readable Python module.

The module needs numpy only (the ``jit`` flavour adds numba) and reproduces the engine's
predictions bit for bit.  How it is made:

1. In the IR: dead code is removed (``liveness``) and every register gets a role.  The driver
   writes the features and the label and reads the prediction; registers that a component
   reads before writing them carry values across calls and live in the caller's ``state``
   (the weights); everything else is a temporary local.  Each register gets a name by role.
2. Each component becomes a function of the registers it reads, returning the state
   registers it writes.  Instructions are rendered from the op table's ``numpy`` column (the
   ``jit`` flavour renders Predict and Learn from the ``loop`` column under numba), with the
   export's target rules: sums run left to right and scalar functions call the C library, as
   the engine does, so the last bits agree.
3. libcst simplifies the generated source: constants are propagated and folded (a scalar set
   only in Setup becomes a named module constant), copies are propagated, assignments nobody
   reads and helpers nobody calls are pruned, and registers are renamed.

Only numbers and op-table text reach the generated code.  Program files are validated on
load and the op of every instruction must be a row of the op table, else export refuses
with a ``ProgramError``.  Provenance text (a config named ``Anna's run #1``, say) is written
into the docstring with quotes, backslashes and unprintable characters as escapes, so it
reads back as given and can never end the docstring.
"""
from __future__ import annotations

import builtins
import json
import keyword
import math
import re
import types
from dataclasses import dataclass, field

import libcst as cst
import numpy as np

from . import __version__
from . import codegen, liveness, rng
from . import ops as _ops
from .program import (FEATURES_VECTOR, LABEL_SCALAR, LABEL_VECTOR, PREDICTION_SCALAR,
                      PREDICTION_VECTOR, Program, ProgramError)

S, V, M = _ops.SCALAR, _ops.VECTOR, _ops.MATRIX
COMPONENTS = ("setup", "predict", "learn")
EVAL_TYPES = {"rms_error": 1, "accuracy": 4, "multiclass": 5}
NAME_MODES = ("auto", "raw")
_TASK_TEMPLATE = {"rms_error": "export_regression.py.tmpl", "accuracy": "export_binary.py.tmpl",
                  "multiclass": "export_multiclass.py.tmpl"}
_MAX_TEXT = 80
_PRODUCT_OPS = {"SCALAR_PRODUCT_OP": (0, 1), "SCALAR_VECTOR_PRODUCT_OP": (0,),
                "SCALAR_MATRIX_PRODUCT_OP": (0,)}

Reg = tuple  # (kind, address), e.g. ("V", 1)


class ExportError(ValueError):
    """An export option that cannot be used; the message names the option and the fix."""


# ---- provenance -------------------------------------------------------------------------------

def docstring_text(text: str) -> str:
    """``text`` as it may stand inside the module's triple-quoted docstring: printable
    characters as they are, except the double quote and the backslash; those and every
    other character (newlines, control and bidirectional-format characters) as Python
    escapes.  The docstring then reads back as ``text``, and nothing in it can end it."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1])   # \n, \x1b, \u202e, ...
    return "".join(out)


def _shorten(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _safe_text(value) -> str:
    """A provenance value as docstring text (see ``docstring_text``)."""
    return docstring_text(_plain_text(value))


def _plain_text(value) -> str:
    """A provenance value as one short line of text (not yet escaped)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, str):
        return _shorten(value)
    if isinstance(value, dict):
        # Flat entries only: nested detail stays in the run directory.
        parts = [f"{k}={_plain_text(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                 if not isinstance(v, (dict, list))]
        return _shorten(", ".join(parts), 2 * _MAX_TEXT)
    return _shorten(json.dumps(value, default=str))


@dataclass(frozen=True)
class Task:
    """What the exported driver must do around the program."""

    eval_type: str = "rms_error"
    num_classes: int = 0

    @property
    def mode(self) -> int:
        return liveness.VECTOR_TASK if self.eval_type == "multiclass" else liveness.SCALAR_TASK


def resolve_task(meta: dict, features: int, eval_type=None, num_classes=None) -> Task:
    """The eval type and class count: arguments first, then ``meta`` (or ``meta['task']``)."""
    task_meta = meta.get("task") if isinstance(meta.get("task"), dict) else {}
    chosen = eval_type if eval_type is not None else meta.get("eval_type", task_meta.get("eval_type"))
    if chosen is None:
        chosen = "rms_error"
    if isinstance(chosen, (int, np.integer)) and not isinstance(chosen, bool):
        chosen = {code: name for name, code in EVAL_TYPES.items()}.get(int(chosen), chosen)
    if not isinstance(chosen, str) or chosen.lower() not in EVAL_TYPES:
        raise ProgramError(f"eval type {str(chosen)[:40]!r} is not one of {sorted(EVAL_TYPES)}")
    chosen = chosen.lower()
    if chosen != "multiclass":
        return Task(chosen, 0)
    k = num_classes if num_classes is not None else meta.get("num_classes",
                                                              task_meta.get("num_classes"))
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 2 <= k <= features:
        raise ProgramError(f"a multiclass program needs num_classes between 2 and the feature "
                           f"size {features} (in meta or as an option), got {k!r:.40}")
    return Task(chosen, int(k))


_PROVENANCE_ROWS = (
    ("task", "task"), ("config_name", "config"), ("select_fitness", "select fitness"),
    ("final_fitness", "final fitness"), ("seed", "seed"), ("generation", "found at generation"),
    ("found_at_seconds", "found after (s)"),
)


def provenance_lines(meta: dict) -> list[str]:
    """``label: value`` lines for the known provenance keys; other keys are not written."""
    if not isinstance(meta, dict):
        raise ProgramError("provenance must be a dict")
    return [f"{label}: {_safe_text(meta[key])}" for key, label in _PROVENANCE_ROWS
            if key in meta]


# ---- the plan: roles and names, decided on the IR -----------------------------------------

@dataclass
class Plan:
    program: Program                 # dead code removed
    task: Task
    features: Reg
    label: Reg
    prediction: Reg
    exposed: dict                    # component -> registers read before written (in order)
    written: dict                    # component -> registers written (in order)
    state: list                      # registers kept in ``state`` (prediction first)
    sizes: dict                      # component -> instructions before dead-code removal
    names: dict = field(default_factory=dict)      # register -> Python name
    constants: dict = field(default_factory=dict)  # register -> float (module constants)
    zeros: set = field(default_factory=set)        # registers nothing writes: always 0
    streams: dict = field(default_factory=dict)    # (component, position) -> stream id

    def key(self, reg: Reg) -> str:
        """The register's key in ``state`` (the prediction keeps its role name)."""
        if reg == self.prediction:
            return "scores" if self.task.mode == liveness.VECTOR_TASK else "prediction"
        return self.names[reg]


def _raw(reg: Reg) -> str:
    return {S: "s", V: "v", M: "m"}[reg[0]] + str(reg[1])


def _reads(ins) -> list:
    op = ins.op
    regs = [(op.in1, ins.in1)] if op.in1 else []
    regs += [(op.in2, ins.in2)] if op.in2 else []
    if op.partial_write:
        regs.append((op.out, ins.out))
    return regs


def _writes(ins) -> list:
    return [(ins.op.out, ins.out)] if ins.op.out else []


def _scan(component) -> tuple[list, list]:
    """Registers read before written (upward-exposed) and registers written, in order."""
    exposed, written = [], []
    for ins in component:
        for reg in _reads(ins):
            if reg not in written and reg not in exposed:
                exposed.append(reg)
        for reg in _writes(ins):
            if reg not in written:
                written.append(reg)
    return exposed, written


def _sort_key(reg: Reg):
    return ("SVM".index(reg[0]), reg[1])


def make_plan(program: Program, task: Task, constants: dict | None = None) -> Plan:
    live = liveness.dead_code_eliminated(program, task.mode)
    vector = task.mode == liveness.VECTOR_TASK
    features = (V, FEATURES_VECTOR)
    label = (V, LABEL_VECTOR) if vector else (S, LABEL_SCALAR)
    prediction = (V, PREDICTION_VECTOR) if vector else (S, PREDICTION_SCALAR)
    exposed, written = {}, {}
    for name, comp in zip(COMPONENTS, live.components):
        exposed[name], written[name] = _scan(comp)
    constants = dict(constants or {})
    carried = (set(exposed["predict"]) | set(exposed["learn"])) - {features, label, prediction}
    zeros = carried - set().union(*written.values())
    state = [prediction] + sorted(carried - set(constants) - zeros, key=_sort_key)
    sizes = {name: len(comp) for name, comp in zip(COMPONENTS, program.components)}
    plan = Plan(live, task, features, label, prediction, exposed, written, state, sizes,
                constants=constants, zeros=zeros)
    stream = 0
    for name, comp in zip(COMPONENTS, live.components):
        for pos, ins in enumerate(comp):
            if ins.op.is_random:
                plan.streams[(name, pos)] = stream
                stream += 1
    return plan


def is_activation(plan: Plan, reg: Reg) -> bool:
    """State that Predict always writes before Learn reads it (e.g. a hidden layer)."""
    return (reg in plan.exposed["learn"] and reg in plan.written["predict"]
            and reg not in plan.exposed["predict"])


def constant_candidates(plan: Plan) -> list:
    """Scalars in ``state`` that only Setup writes: constants if Setup's value folds."""
    later = set(plan.written["predict"]) | set(plan.written["learn"])
    return [reg for reg in plan.state[1:] if reg[0] == S and reg not in later
            and reg in plan.written["setup"]]


def _uses(plan: Plan, reg: Reg):
    """(component, op name, input position) of every read of ``reg`` after Setup."""
    for name in ("predict", "learn"):
        for ins in plan.program.component(name):
            for pos, (kind, addr) in enumerate(((ins.op.in1, ins.in1), (ins.op.in2, ins.in2))):
                if kind is not None and (kind, addr) == reg:
                    yield name, ins.op.name, pos


def _is_learning_rate(plan: Plan, reg: Reg) -> bool:
    """A constant that only scales quantities inside Learn reads as a step size."""
    uses = list(_uses(plan, reg))
    return bool(uses) and all(comp == "learn" and pos in _PRODUCT_OPS.get(op, ())
                              for comp, op, pos in uses)


def assign_names(plan: Plan, mode: str) -> None:
    """Names by role (``auto``) or the raw addresses (``raw``)."""
    regs = {plan.features, plan.label, plan.prediction, *plan.constants, *plan.zeros}
    for comp in plan.program.components:
        for ins in comp:
            regs.update(_reads(ins))
            regs.update(_writes(ins))
    if mode == "raw":
        plan.names = {reg: _raw(reg) for reg in regs}
        return
    vector = plan.task.mode == liveness.VECTOR_TASK
    names = {plan.features: "x", plan.label: "y_onehot" if vector else "y",
             plan.prediction: "scores" if vector else "prediction"}
    groups: dict[str, list] = {}
    for reg in sorted(regs - set(names), key=_sort_key):
        if reg in plan.constants:
            role = "LEARNING_RATE" if _is_learning_rate(plan, reg) else "C"
        elif reg in plan.zeros:
            role = {S: "ZERO", V: "ZEROS", M: "ZERO_MATRIX"}[reg[0]]
        elif reg in plan.state and is_activation(plan, reg):
            role = {S: "a", V: "h", M: "H"}[reg[0]]
        elif reg in plan.state:
            role = {S: "b", V: "w", M: "W"}[reg[0]]
        else:
            role = {S: "t", V: "tv", M: "tm"}[reg[0]]
        groups.setdefault(role, []).append(reg)
    for role, members in groups.items():
        numbered = len(members) > 1 or role in ("t", "tv", "tm")
        sep = "_" if role.isupper() else ""
        for i, reg in enumerate(members, 1):
            names[reg] = f"{role}{sep}{i}" if numbered else role
    plan.names = names


# ---- rendering instructions --------------------------------------------------------------------

_NP_TO_HELPER = {"sum": "_sum", "dot": "_dot", "sin": "_sin", "cos": "_cos", "tan": "_tan",
                 "arcsin": "_arcsin", "arccos": "_arccos", "arctan": "_arctan", "exp": "_exp",
                 "log": "_log"}


def _literal(x: float) -> str:
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
    text = re.sub(r"\bD([0-3])\b", lambda m: _literal(ins.data[int(m.group(1))]), text)
    regs = {"A": (op.in1, ins.in1), "B": (op.in2, ins.in2), "O": (op.out, ins.out)}
    text = re.sub(r"\b([ABO])\b", lambda m: _raw(regs[m.group(1)]), text)
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
    """numpy-column expressions -> what the engine computes (see the helpers template)."""

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


def _numpy_statement(ins, features: int, stream) -> str:
    op = ins.op
    code = _fill(op.numpy, ins, features, stream, loop=False)
    scalar_only = op.out == S and op.in1 in (S, None) and op.in2 in (S, None)
    node = cst.parse_statement(code).visit(_TargetRules(scalar_only))
    return cst.Module([]).code_for_node(node).strip()


def _loop_block(ins, features: int, allocated: set) -> list[str]:
    """The op's element loops (jit flavour); outputs are written in place."""
    op = ins.op
    lines = []
    out = (op.out, ins.out)
    if op.out in (V, M) and _raw(out) not in allocated:
        shape = "N_FEATURES" if op.out == V else "(N_FEATURES, N_FEATURES)"
        lines.append(f"{_raw(out)} = np.zeros({shape})")
    if op.out in (V, M):
        allocated.add(_raw(out))
    code = _fill(op.loop, ins, features, None, loop=True)
    return lines + [f"# {ins.show()}"] + code.splitlines()


# ---- kernels -------------------------------------------------------------------------------

@dataclass
class Kernel:
    component: str
    params: list          # raw names, plus "seed" and "call" when random ops draw
    returns: list         # registers
    source: str
    jit: bool = False


def _zero(reg: Reg) -> str:
    return {S: "0.0", V: "np.zeros(N_FEATURES)", M: "np.zeros((N_FEATURES, N_FEATURES))"}[reg[0]]


def make_kernel(plan: Plan, component: str, jit: bool) -> Kernel | None:
    comp = plan.program.component(component)
    if not comp:
        return None
    features = plan.program.memory.features
    exposed = plan.exposed[component]
    random = any(ins.op.is_random for ins in comp)
    use_loops = jit and component != "setup" and not random
    params, body = [], []
    for reg in exposed:
        if component == "setup":
            body.append(f"{_raw(reg)} = {_zero(reg)}  # memory starts at 0")
        elif reg in plan.constants or reg in plan.zeros:
            continue  # a module constant, or 0
        elif reg == plan.label and component == "predict":
            body.append(f"{_raw(reg)} = {_zero(reg)}  # the label is 0 during Predict")
        else:
            params.append(_raw(reg))
    params.sort(key=lambda n: (n != _raw(plan.features), n != _raw(plan.label)))
    if random:
        params += ["seed", "call"]
    allocated = set(params) | {_raw(reg) for reg in exposed}
    if use_loops:
        scratch = {"TV": "_tv = np.zeros(N_FEATURES)", "TM": "_tm = np.zeros((N_FEATURES, N_FEATURES))"}
        body += [line for key, line in scratch.items() if any(key in ins.op.loop for ins in comp)]
    for pos, ins in enumerate(comp):
        if use_loops:
            body += _loop_block(ins, features, allocated)
        else:
            stream = plan.streams.get((component, pos))
            body.append(f"{_numpy_statement(ins, features, stream)}  # {ins.show()}")
    returns = [reg for reg in plan.state if reg in plan.written[component]]
    if not returns:
        return None  # e.g. a Setup that only sets module constants
    body.append("return " + ", ".join(_raw(r) for r in returns))
    doc = (f'"""{component.capitalize()}: {len(comp)} live instruction(s) of '
           f'{plan.sizes[component]}."""')
    decorator = '@njit(cache=True, error_model="numpy")\n' if use_loops else ""
    source = (f"{decorator}def _{component}({', '.join(params)}):\n    {doc}\n"
              + codegen.indent("\n".join(body), 4) + "\n")
    return Kernel(component, params, returns, source, use_loops)


# ---- libcst passes ------------------------------------------------------------------------

_FOLD_FUNCTIONS = {"np.divide", "np.sqrt", "np.square", "abs", "_sin", "_cos", "_tan", "_arcsin",
                   "_arccos", "_arctan", "_exp", "_log", "np.sin", "np.cos", "np.tan",
                   "np.arcsin", "np.arccos", "np.arctan", "np.exp", "np.log"}


def _name_of(node) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
        return f"{node.value.value}.{node.attr.value}"
    return None


def constant_value(node) -> float | None:
    """The number a literal node stands for (``-0.5``, ``math.inf``), else None."""
    if isinstance(node, (cst.Float, cst.Integer)):
        return float(node.evaluated_value)
    if isinstance(node, cst.Attribute) and _name_of(node) in ("math.inf", "math.nan"):
        return math.inf if node.attr.value == "inf" else math.nan
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = constant_value(node.expression)
        return None if inner is None else -inner
    return None


def _literal_node(x: float) -> cst.BaseExpression:
    return cst.parse_expression(_literal(x))


class _Names(cst.CSTVisitor):
    """Names read in a node (not attribute fields or keyword names)."""

    def __init__(self):
        super().__init__()
        self.found = []

    def visit_Name(self, node):
        self.found.append(node.value)

    def visit_Attribute(self, node):
        node.value.visit(self)
        return False

    def visit_Arg(self, node):
        node.value.visit(self)
        return False


def names_in(node) -> set:
    visitor = _Names()
    node.visit(visitor)
    return set(visitor.found)


class _Substitute(cst.CSTTransformer):
    def __init__(self, env: dict):
        super().__init__()
        self.env = env

    def visit_Attribute(self, node):
        return False

    def leave_Attribute(self, original, updated):
        return updated.with_changes(value=original.value.visit(self))

    def visit_Arg(self, node):
        return False

    def leave_Arg(self, original, updated):
        return updated.with_changes(value=original.value.visit(self))

    def leave_Name(self, original, updated):
        return self.env.get(updated.value, updated)


class _Fold(cst.CSTTransformer):
    """Evaluate scalar expressions of literals with the module's own helpers."""

    def __init__(self, namespace: dict, scalars: set):
        super().__init__()
        self.namespace = namespace
        self.scalars = scalars

    def _foldable(self, node) -> bool:
        if constant_value(node) is not None:
            return True
        if isinstance(node, cst.BinaryOperation):
            return (isinstance(node.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide))
                    and self._foldable(node.left) and self._foldable(node.right))
        if isinstance(node, cst.UnaryOperation):
            return isinstance(node.operator, cst.Minus) and self._foldable(node.expression)
        if isinstance(node, cst.Call):
            return (_name_of(node.func) in _FOLD_FUNCTIONS
                    and all(a.keyword is None and a.star == "" and self._foldable(a.value)
                            for a in node.args))
        if isinstance(node, cst.IfExp):
            return all(self._foldable(n) for n in (node.test, node.body, node.orelse))
        if isinstance(node, cst.Comparison):
            return self._foldable(node.left) and all(
                isinstance(c.operator, (cst.LessThan, cst.GreaterThan, cst.LessThanEqual,
                                        cst.GreaterThanEqual)) and self._foldable(c.comparator)
                for c in node.comparisons)
        return False

    def _evaluate(self, node):
        if constant_value(node) is not None or not self._foldable(node):
            return node
        code = cst.Module([]).code_for_node(node)
        with np.errstate(all="ignore"):
            value = eval(code, {"__builtins__": {"abs": abs}}, self.namespace)  # noqa: S307
        if isinstance(value, (bool, np.bool_)):
            return node  # a comparison: its IfExp folds instead
        return _literal_node(float(value))

    def leave_BinaryOperation(self, original, updated):
        updated = self._evaluate(updated)
        if isinstance(updated, cst.BinaryOperation):
            return _identity(updated, self.scalars)
        return updated

    def leave_UnaryOperation(self, original, updated):
        return self._evaluate(updated)

    def leave_Call(self, original, updated):
        updated = self._evaluate(updated)
        if (isinstance(updated, cst.Call) and _name_of(updated.func) == "np.divide"
                and constant_value(updated.args[1].value) == 1.0
                and _name_of(updated.args[0].value) in self.scalars):
            return updated.args[0].value  # x / 1 is x, bit for bit
        return updated

    def leave_IfExp(self, original, updated):
        updated = self._evaluate(updated)
        if isinstance(updated, cst.IfExp) and isinstance(updated.body, cst.Name) \
                and updated.body.deep_equals(updated.orelse):
            return updated.body  # minimum(a, a) is a
        return updated


def _identity(node: cst.BinaryOperation, scalars: set):
    """x * 1, x - 0.0 and x + -0.0 are x bit for bit (for scalars: arrays would alias)."""
    left, right = node.left, node.right
    lv, rv = constant_value(left), constant_value(right)
    if isinstance(node.operator, cst.Multiply):
        if rv == 1.0 and _name_of(left) in scalars:
            return left
        if lv == 1.0 and _name_of(right) in scalars:
            return right
    if isinstance(node.operator, cst.Subtract) and rv == 0.0 and math.copysign(1, rv) > 0 \
            and _name_of(left) in scalars:
        return left
    if isinstance(node.operator, cst.Add) and rv == 0.0 and math.copysign(1, rv) < 0 \
            and _name_of(left) in scalars:
        return left
    return node


def _kill(env: dict, name: str) -> None:
    env.pop(name, None)
    for key in [k for k, v in env.items() if name in names_in(v)]:
        del env[key]


def _propagate(statements, env: dict, fold: _Fold, scalars: set) -> list:
    """Forward pass: substitute known constants and copies, fold, record new facts."""
    out = []
    for stmt in statements:
        if isinstance(stmt, cst.For):
            assigned = _assigned_in(stmt)
            for name in assigned:
                _kill(env, name)
            out.append(stmt.visit(_Substitute(dict(env))))
            continue
        small = stmt.body[0]
        if isinstance(small, cst.Assign):
            value = small.value.visit(_Substitute(env)).visit(fold)
            target = small.targets[0].target
            if isinstance(target, cst.Name):
                _kill(env, target.value)
                if constant_value(value) is not None or (
                        target.value in scalars and _name_of(value) in scalars):
                    env[target.value] = value
            else:
                target = target.with_changes(slice=[
                    e.visit(_Substitute(env)).visit(fold) for e in target.slice])
            small = small.with_changes(targets=[small.targets[0].with_changes(target=target)],
                                       value=value)
        elif isinstance(small, cst.Return) and small.value is not None:
            small = small.with_changes(value=small.value.visit(_Substitute(env)))
        out.append(stmt.with_changes(body=[small]))
    return out


def _assigned_in(node) -> set:
    found = set()

    class Visitor(cst.CSTVisitor):
        def visit_AssignTarget(self, n):
            if isinstance(n.target, cst.Name):
                found.add(n.target.value)

        def visit_AugAssign(self, n):
            if isinstance(n.target, cst.Name):
                found.add(n.target.value)

        def visit_For(self, n):
            if isinstance(n.target, cst.Name):
                found.add(n.target.value)

    node.visit(Visitor())
    return found


def _prune(statements) -> list:
    """Backward pass: drop assignments to names nothing reads later."""
    live, kept = set(), []
    for stmt in reversed(statements):
        if isinstance(stmt, cst.For):
            live |= names_in(stmt)
            kept.append(stmt)
            continue
        small = stmt.body[0]
        if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name):
            name = small.targets[0].target.value
            if name not in live:
                continue
            live.discard(name)
            live |= names_in(small.value)
        else:
            live |= names_in(small)
        kept.append(stmt)
    return kept[::-1]


def simplify_function(func: cst.FunctionDef, env: dict, fold: _Fold, scalars: set):
    """Propagate, fold and prune inside one generated component function."""
    body = list(func.body.body)
    doc, body = ([body[0]], body[1:]) if _is_docstring(body[0]) else ([], body)
    for _ in range(2):  # identities found in the first round expose new copies
        body = _prune(_propagate(body, dict(env), fold, scalars))
    return func.with_changes(body=func.body.with_changes(body=doc + body))


def _is_docstring(stmt) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, cst.SimpleString))


class _Rename(_Substitute):
    def __init__(self, mapping: dict):
        super().__init__({k: cst.Name(v) for k, v in mapping.items()})


def returned_values(func: cst.FunctionDef) -> list:
    """The expressions a simplified function returns, in order."""
    last = func.body.body[-1]
    if not (isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[0], cst.Return)):
        return []
    value = last.body[0].value
    return [e.value for e in value.elements] if isinstance(value, cst.Tuple) else [value]


class _Uses(cst.CSTVisitor):
    """Names a top-level statement uses, not counting the name it defines."""

    def __init__(self):
        super().__init__()
        self.used = set()

    def visit_Name(self, node):
        self.used.add(node.value)

    def visit_FunctionDef(self, node):
        for part in (node.params, node.body, *node.decorators):
            part.visit(self)
        return False

    def visit_Assign(self, node):
        node.value.visit(self)
        for target in node.targets:
            if not isinstance(target.target, cst.Name):
                target.visit(self)
        return False

    def visit_Attribute(self, node):
        node.value.visit(self)
        return False


def _defined_name(stmt) -> str | None:
    """The private helper a top-level statement defines (``def _x`` or ``_X = ...``)."""
    name = None
    if isinstance(stmt, cst.FunctionDef):
        name = stmt.name.value
    elif isinstance(stmt, cst.SimpleStatementLine):
        small = stmt.body[0]
        if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name):
            name = small.targets[0].target.value
        elif isinstance(small, cst.Import) and small.names[0].name.value == "math":
            name = "math"
    if name and (name == "math" or (name.startswith("_") and not name.startswith("__"))):
        return name
    return None


def prune_module(module: cst.Module) -> cst.Module:
    """Drop private helpers (and ``import math``) that nothing reachable uses."""
    uses = []
    for stmt in module.body:
        visitor = _Uses()
        stmt.visit(visitor)
        uses.append(visitor.used)
    defined = [_defined_name(stmt) for stmt in module.body]
    needed = set().union(*(u for u, d in zip(uses, defined) if d is None))
    while True:
        grown = needed.union(*(u for u, d in zip(uses, defined) if d in needed))
        if grown == needed:
            break
        needed = grown
    body = [stmt for stmt, d in zip(module.body, defined) if d is None or d in needed]
    return module.with_changes(body=body)


# ---- assembling the module ------------------------------------------------------------------

def _helper_source() -> str:
    return codegen.template("export_helpers.py.tmpl").substitute(PY_RNG_SOURCE=rng.PY_RNG_SOURCE)


_NAMESPACE: dict = {}


def fold_namespace() -> dict:
    """The helpers exactly as the module defines them, for folding constants at export."""
    if not _NAMESPACE:
        namespace = {"np": np, "math": math}
        exec(compile(_helper_source(), "<export helpers>", "exec"), namespace)  # our own code
        exact = {name: namespace["_" + name] for name in
                 ("sin", "cos", "tan", "arcsin", "arccos", "arctan", "exp", "log")}
        namespace["np"] = types.SimpleNamespace(divide=np.divide, sqrt=np.sqrt,
                                                square=np.square, **exact)
        _NAMESPACE.update(namespace)
    return _NAMESPACE


def _scalars(plan: Plan) -> set:
    return {_raw(reg) for reg in plan.names if reg[0] == S}


def _simplify_kernel(plan: Plan, kernel: Kernel) -> cst.FunctionDef:
    env = {}
    if kernel.component != "setup":
        env = {_raw(reg): cst.Name(plan.names[reg]) for reg in (*plan.constants, *plan.zeros)}
        env.update({_raw(reg): cst.Float("0.0") for reg in plan.zeros if reg[0] == S})
    fold = _Fold(fold_namespace(), _scalars(plan))
    func = cst.parse_module(kernel.source).body[0]
    return simplify_function(func, env, fold, _scalars(plan))


def find_constants(plan: Plan, jit: bool) -> dict:
    """Scalars only Setup writes whose value folds to a number become module constants."""
    candidates = constant_candidates(plan)
    kernel = make_kernel(plan, "setup", jit)
    if not candidates or kernel is None:
        return {}
    values = dict(zip(kernel.returns, returned_values(_simplify_kernel(plan, kernel))))
    return {reg: constant_value(values[reg]) for reg in candidates
            if constant_value(values.get(reg)) is not None}


def _call_line(plan: Plan, kernel: Kernel) -> str:
    args = []
    for param in kernel.params:
        if param in ("seed", "call"):
            args.append(f'state["{param}"]')
        elif param == _raw(plan.features):
            args.append("x")
        elif param == _raw(plan.label) and kernel.component == "learn":
            args.append("y")
        else:
            reg = next(r for r in plan.state if _raw(r) == param)
            args.append(f'state["{plan.key(reg)}"]')
    call = f"_{kernel.component}({', '.join(args)})"
    targets = ", ".join(f'state["{plan.key(r)}"]' for r in kernel.returns)
    return f"{targets} = {call}" if targets else call


_NO_KERNEL = {"setup": "    # Setup writes nothing that later calls read (constants are module-level)",
              "predict": "    # Predict writes nothing: the prediction keeps its last value",
              "learn": "    # Learn writes nothing that later calls read"}


def _body(plan: Plan, kernel: Kernel | None, component: str) -> str:
    if kernel is None:
        return _NO_KERNEL[component]
    return f'    with np.errstate(all="ignore"):\n        {_call_line(plan, kernel)}'


def _docstring(program: Program, plan: Plan, class_name: str, lines: list, chash: int,
               jit: bool) -> str:
    mem = program.memory
    roles = []
    described = {plan.features: "features", plan.label: "label", plan.prediction: "prediction"}
    for reg in sorted(plan.names, key=_sort_key):
        if reg in described:
            role = described[reg]
        elif reg in plan.constants:
            role = "constant, set in Setup"
        elif reg in plan.zeros:
            role = "always 0: nothing writes it"
        elif reg in plan.state and is_activation(plan, reg):
            role = "state: written by Predict, read by Learn"
        elif reg in plan.state:
            role = "state: kept across examples"
        else:
            role = "temporary"
        name = "0.0" if reg in plan.zeros and reg[0] == S else plan.names[reg]
        roles.append(f"    {name:<16} {_raw(reg):<5} {role}")
    listing = codegen.indent(program.listing(), 4)
    out_name = "scores" if plan.task.mode == liveness.VECTOR_TASK else "prediction"
    flavour = "numpy and numba (Predict and Learn are compiled)" if jit else "numpy only"
    head = [f"{class_name}: a learning algorithm evolved from scratch by AutoML-Zero.", ""]
    head += ["Provenance:"] + [f"    {line}" for line in lines]
    head += [f"    eval type: {plan.task.eval_type}"
             + (f" ({plan.task.num_classes} classes)" if plan.task.num_classes else ""),
             f"    canonical hash: {chash:016x}", ""]
    head += [f"Memory: {_count(mem.scalars, 'scalar')}, {_count(mem.vectors, 'vector')}, "
             f"{_count(mem.matrices, 'matrix', 'matrices')}; {mem.features} features.", "",
             "Registers (name, raw address, role):"] + roles
    head += ["", "The program as evolved (paper notation, dead code included):", "", listing, ""]
    head += ["Use:", "", "    state = setup(seed=0)", "    for x, y in zip(X_train, y_train):",
             "        train_step(state, x, y)", f"    {out_name} = predict(state, x_new)", "",
             f"or the estimator: {class_name}().fit(X_train, y_train).predict(X_new)", "",
             f"Generated by azcompile {__version__} (azc export); it needs {flavour}."]
    return '"""' + "\n".join(head).rstrip() + '\n"""'


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _constant_lines(plan: Plan) -> str:
    lines = [f"{plan.names[reg]} = {_literal(value)}  # {_raw(reg)}, set in Setup"
             for reg, value in sorted(plan.constants.items(), key=lambda kv: _sort_key(kv[0]))]
    lines += [f"{plan.names[reg]} = {_zero(reg)}  # {_raw(reg)}: nothing writes it"
              for reg in sorted(plan.zeros, key=_sort_key) if reg[0] != S]
    return "\n".join(lines)


class _StepSizes(cst.CSTTransformer):
    """Learn's own step size: a number (other than 0 and +-1) that Learn multiplies by.  When
    Learn uses exactly one such number, it becomes the module constant LEARNING_RATE (the
    same float, so the numbers do not change)."""

    NAME = "LEARNING_RATE"

    def __init__(self):
        self.values: set = set()
        self.replace: float | None = None

    def _factor(self, node) -> float | None:
        value = constant_value(node)
        if value is None or not math.isfinite(value) or value in (0.0, 1.0, -1.0):
            return None
        return value

    def visit_BinaryOperation(self, node):
        if isinstance(node.operator, cst.Multiply):
            for side in (node.left, node.right):
                value = self._factor(side)
                if value is not None:
                    self.values.add(repr(value))

    def leave_BinaryOperation(self, original, updated):
        if self.replace is None or not isinstance(updated.operator, cst.Multiply):
            return updated
        for field in ("left", "right"):
            if self._factor(getattr(updated, field)) == self.replace:
                updated = updated.with_changes(**{field: cst.Name(self.NAME)})
        return updated


def hoist_learning_rate(func: cst.FunctionDef, taken: set) -> tuple[cst.FunctionDef, str]:
    """(Learn with its single step size named, the constant's line) or (func, "")."""
    finder = _StepSizes()
    func.visit(finder)
    if len(finder.values) != 1 or _StepSizes.NAME in taken:
        return func, ""
    finder.replace = float(next(iter(finder.values)))
    line = f"{_StepSizes.NAME} = {_literal(finder.replace)}  # a constant Learn sets and multiplies by"
    return func.visit(finder), line


def _check_program(program: Program) -> None:
    if not isinstance(program, Program):
        raise ProgramError(f"export needs a Program, got {type(program).__name__}")
    for name in COMPONENTS:
        for pos, ins in enumerate(program.component(name)):
            op = ins.op
            if not (isinstance(op, _ops.Op) and 0 <= op.id < _ops.NUM_OPS and _ops.OPS[op.id] is op):
                raise ProgramError(f"{name}[{pos}]: its op is not a row of the op table; "
                                   "build instructions with Instruction.make or load them from JSON")
    program.validate()


_CLASS_NAME_HINT = "choose another, e.g. LinearLearner"


def _check_options(class_name: str, name_registers: str) -> None:
    why = None
    if not (isinstance(class_name, str) and class_name.isascii() and class_name.isidentifier()):
        why = "is not a Python identifier (ASCII letters, digits and _, not starting with a digit)"
    elif keyword.iskeyword(class_name) or keyword.issoftkeyword(class_name):
        why = "is a Python keyword"
    elif class_name.startswith("_"):
        why = "starts with _ (the module's private names do)"
    elif hasattr(builtins, class_name):
        why = "is a Python builtin the module may use"
    if why:
        raise ExportError(f"class name {str(class_name)[:40]!r} {why}; {_CLASS_NAME_HINT}")
    if name_registers not in NAME_MODES:
        raise ExportError(f"name_registers must be one of {NAME_MODES}, got {name_registers!r:.40}")


def export_program(program: Program, *, jit: bool = False, class_name: str = "EvolvedAlgorithm",
                   name_registers: str = "auto", provenance: dict | None = None,
                   eval_type=None, num_classes=None) -> str:
    """The source of a standalone module that runs ``program`` (see the module docstring).

    ``provenance`` defaults to ``program.meta``; the eval type (``rms_error``, ``accuracy``,
    ``multiclass``) and class count come from the arguments, else from the provenance.
    """
    _check_program(program)
    _check_options(class_name, name_registers)
    meta = dict(program.meta if provenance is None else provenance)
    lines = provenance_lines(meta)
    task = resolve_task(meta, program.memory.features, eval_type, num_classes)
    plan = make_plan(program, task)
    assign_names(plan, name_registers)
    plan = make_plan(program, task, find_constants(plan, jit))
    assign_names(plan, name_registers)
    kernels = {name: make_kernel(plan, name, jit) for name in COMPONENTS}
    rename = {_raw(reg): name for reg, name in plan.names.items()}
    functions, constants = [], _constant_lines(plan)
    for kernel in kernels.values():
        if kernel is not None:
            func = _simplify_kernel(plan, kernel).visit(_Rename(rename))
            if kernel.component == "learn" and name_registers == "auto":
                func, line = hoist_learning_rate(func, set(plan.names.values()))
                constants = "\n".join(x for x in (constants, line) if x)
            functions.append(cst.Module([]).code_for_node(func).strip() + "\n")
    task_text = codegen.template(_TASK_TEMPLATE[task.eval_type]).substitute(
        CLASS_NAME=class_name, NUM_CLASSES=task.num_classes)
    normalisation = {"rms_error": "nothing", "accuracy": "the sigmoid",
                     "multiclass": "the softmax"}[task.eval_type]
    text = codegen.template("export_module.py.tmpl").substitute(
        DOCSTRING=_docstring(program, plan, class_name, lines,
                             liveness.canonical_hash(program, task.mode), jit),
        JIT_IMPORT="from numba import njit\n" if any(k and k.jit for k in kernels.values()) else "",
        FEATURES=program.memory.features, CONSTANTS=constants,
        HELPERS=_helper_source(), KERNELS="\n\n".join(functions),
        STATE_ZEROS=", ".join(f'"{plan.key(reg)}": {_state_zero(reg)}' for reg in plan.state),
        SETUP_BODY=_body(plan, kernels["setup"], "setup"),
        PREDICT_BODY=_body(plan, kernels["predict"], "predict"),
        LEARN_BODY=_body(plan, kernels["learn"], "learn"),
        OUTPUT_NAME="class scores" if task.mode == liveness.VECTOR_TASK else "prediction",
        NORMALISATION=normalisation if task.eval_type != "rms_error" else "any normalisation",
        TASK=task_text)
    module = prune_module(cst.parse_module(text))
    _check_class_name_is_free(module, class_name)
    return _tidy(module.code)


def _module_names(module: cst.Module) -> list[tuple[str, str]]:
    """(name, what it is) for every name the module binds at its top level."""
    found = []
    for stmt in module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            found.append((stmt.name.value, "a function" if isinstance(stmt, cst.FunctionDef)
                          else "a class"))
            continue
        for small in getattr(stmt, "body", ()):
            if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    bound = alias.asname.name if alias.asname else alias.name
                    found.append((cst.Module([]).code_for_node(bound).split(".")[0],
                                  f"the import of {cst.Module([]).code_for_node(alias.name)}"))
            elif isinstance(small, (cst.Assign, cst.AnnAssign)):
                targets = small.targets if isinstance(small, cst.Assign) else [small]
                for target in targets:
                    if isinstance(target.target, cst.Name):
                        found.append((target.target.value, "a module constant"))
    return found


def _check_class_name_is_free(module: cst.Module, class_name: str) -> None:
    """The estimator class must not rebind a name the module defines (``np``, ``setup``,
    ``predict``, a constant...): the module would call the class instead."""
    others = [what for name, what in _module_names(module) if name == class_name]
    others.remove("a class")   # the estimator itself
    if others:
        raise ExportError(f"class name {class_name!r} is already {others[0]} in the exported "
                          f"module; {_CLASS_NAME_HINT}")


def _state_zero(reg: Reg) -> str:
    return {S: "np.float64(0.0)", V: "np.zeros(N_FEATURES)",
            M: "np.zeros((N_FEATURES, N_FEATURES))"}[reg[0]]


def _tidy(text: str) -> str:
    """Trailing spaces stripped, at most two blank lines in a row, one final newline."""
    out = []
    for line in (line.rstrip() for line in text.splitlines()):
        if not line and len(out) >= 2 and not out[-1] and not out[-2]:
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"
