"""Programs: the IR (Setup, Predict, Learn instruction lists), its array form and its JSON form.

The JSON form is pure data.  Loading a file never executes anything: every op must be a known
op name, every address an integer in range for its kind, every data field a finite number.
Anything else is rejected with a ``ProgramError`` that names the component, the position and
the field.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from . import notation
from . import ops as _ops
from .files import read_text_file

FORMAT_NAME = "azcompile.program"
FORMAT_VERSION = 1
COMPONENTS = ("setup", "predict", "learn")

# Reserved addresses (reference definitions.h).
LABEL_SCALAR = 0          # s0: label, 0 during Predict
PREDICTION_SCALAR = 1     # s1: prediction
FEATURES_VECTOR = 0       # v0: features
LABEL_VECTOR = 1          # v1: one-hot label (multi-class tasks)
PREDICTION_VECTOR = 2     # v2: class scores (multi-class tasks)
FIRST_OUT = {_ops.SCALAR: 1, _ops.VECTOR: 1, _ops.MATRIX: 0}
MAX_REGISTERS = 64        # liveness keeps one bit per register in a uint64


class ProgramError(ValueError):
    """A program (or program file) that is not valid; the message says where and why."""


@dataclass(frozen=True)
class Memory:
    """Memory sizes and feature size; the search space depends on all four."""

    scalars: int = 4
    vectors: int = 3
    matrices: int = 1
    features: int = 4

    def __post_init__(self):
        for name, low in (("scalars", 2), ("vectors", 1), ("matrices", 1), ("features", 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ProgramError(f"memory.{name} must be an integer >= {low}, got {value!r}")
        total = self.scalars + self.vectors + self.matrices
        if total > MAX_REGISTERS:
            # Liveness and the canonical form keep one bit per register in a uint64.
            raise ProgramError(f"memory has {total} registers (scalars + vectors + matrices); "
                               f"at most {MAX_REGISTERS} are supported")

    def count(self, kind: str) -> int:
        return {_ops.SCALAR: self.scalars, _ops.VECTOR: self.vectors, _ops.MATRIX: self.matrices}[kind]

    def as_dict(self) -> dict:
        return {"scalars": self.scalars, "vectors": self.vectors, "matrices": self.matrices,
                "features": self.features}


@dataclass(frozen=True)
class Instruction:
    """``out = op(in1, in2)`` with up to four numbers of data.

    ``data`` is (activation_data, float_data_0, float_data_1, float_data_2) as in the
    reference; the last three are float32 values (rounded on construction).
    """

    op: _ops.Op
    in1: int = 0
    in2: int = 0
    out: int = 0
    data: tuple = (0.0, 0.0, 0.0, 0.0)

    def __post_init__(self):
        d = tuple(float(x) for x in self.data) + (0.0,) * (4 - len(self.data))
        with np.errstate(over="ignore"):  # a float32 overflow is inf: validation reports it
            d = (d[0],) + tuple(float(np.float32(x)) for x in d[1:4])
        object.__setattr__(self, "data", d)

    @classmethod
    def make(cls, name, *, in1=0, in2=0, out=0, data=(0.0, 0.0, 0.0, 0.0)) -> "Instruction":
        return cls(_ops.lookup(name), in1, in2, out, data)

    def show(self) -> str:
        """The paper's notation, e.g. ``s3 = s0 - s1``."""
        return notation.render(self, notation.LISTING)

    def to_json(self) -> dict:
        row: dict[str, Any] = {"op": self.op.name}
        if self.op.in1 is not None:
            row["in1"] = self.in1
        if self.op.in2 is not None:
            row["in2"] = self.in2
        if self.op.out is not None:
            row["out"] = self.out
        if self.op.data != _ops.NO_DATA:
            row["data"] = list(self.data)
        return row


def show_instruction(op: _ops.Op, in1: int, in2: int, out: int, data: Sequence[float]) -> str:
    """The paper's notation of one instruction (``notation.LISTING``)."""
    return notation.render(Instruction(op, in1, in2, out, tuple(data)), notation.LISTING)


@dataclass(frozen=True)
class Program:
    """Three component functions over a fixed memory."""

    setup: tuple = ()
    predict: tuple = ()
    learn: tuple = ()
    memory: Memory = field(default_factory=Memory)
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        for name in COMPONENTS:
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def component(self, name: str) -> tuple:
        return getattr(self, name)

    @property
    def components(self) -> tuple:
        return (self.setup, self.predict, self.learn)

    def with_components(self, setup, predict, learn) -> "Program":
        return replace(self, setup=tuple(setup), predict=tuple(predict), learn=tuple(learn))

    def validate(self) -> "Program":
        for name in COMPONENTS:
            for pos, ins in enumerate(self.component(name)):
                _check_instruction(ins, self.memory, f"{name}[{pos}]")
        return self

    def listing(self) -> str:
        """The reference's ``ToReadable`` layout."""
        lines = []
        for title, comp in zip(("Setup", "Predict", "Learn"), self.components):
            lines.append(f"def {title}():")
            for ins in comp:
                lines.append("  " + ins.show())
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.listing()

    # --- JSON -----------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "memory": self.memory.as_dict(),
            **{name: [ins.to_json() for ins in self.component(name)] for name in COMPONENTS},
            "meta": self.meta,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, allow_nan=False)

    def save(self, path) -> None:
        from .jit_cache import atomic_write_text

        atomic_write_text(Path(path), self.dumps() + "\n")

    # --- arrays ---------------------------------------------------------------------------
    def to_arrays(self, capacity: int | None = None):
        """(code int32[3, L, 4], data float64[3, L, 4], size int32[3]); code rows are
        (op, in1, in2, out)."""
        sizes = [len(c) for c in self.components]
        cap = max(max(sizes), 1) if capacity is None else capacity
        if max(sizes) > cap:
            raise ProgramError(f"a component has {max(sizes)} instructions, more than capacity {cap}")
        code = np.zeros((3, cap, 4), dtype=np.int32)
        data = np.zeros((3, cap, 4), dtype=np.float64)
        for c, comp in enumerate(self.components):
            for i, ins in enumerate(comp):
                code[c, i] = (ins.op.id, ins.in1, ins.in2, ins.out)
                data[c, i] = ins.data
        return code, data, np.array(sizes, dtype=np.int32)

    @classmethod
    def from_arrays(cls, code, data, size, memory: Memory, meta=None) -> "Program":
        comps = []
        for c in range(3):
            comps.append(tuple(
                Instruction(_ops.OPS[int(code[c, i, 0])], int(code[c, i, 1]), int(code[c, i, 2]),
                            int(code[c, i, 3]), tuple(float(x) for x in data[c, i]))
                for i in range(int(size[c]))))
        return cls(*comps, memory=memory, meta=dict(meta or {}))


def _check_address(value, kind, memory: Memory, where: str, field_name: str, first: int):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise ProgramError(f"{where}: {field_name} must be an integer address, got {value!r}")
    count = memory.count(kind)
    if not first <= value < count:
        letter = {"S": "scalar", "V": "vector", "M": "matrix"}[kind]
        raise ProgramError(
            f"{where}: {field_name}={value} is out of range for a {letter} "
            f"(allowed {first}..{count - 1} with memory {memory.as_dict()})")


def _check_instruction(ins: Instruction, memory: Memory, where: str) -> None:
    op = ins.op
    for field_name, kind, first in (("in1", op.in1, 0), ("in2", op.in2, 0),
                                    ("out", op.out, FIRST_OUT.get(op.out, 0))):
        value = getattr(ins, field_name)
        if kind is None:
            if value != 0:
                raise ProgramError(f"{where}: {op.name} has no {field_name}, but it is {value}")
        else:
            _check_address(value, kind, memory, where, field_name, first)
    for x in ins.data:
        if not math.isfinite(x):
            raise ProgramError(f"{where}: data {list(ins.data)} must be finite numbers")
    if op.data == _ops.NO_DATA and any(ins.data):
        raise ProgramError(f"{where}: {op.name} takes no data, got {list(ins.data)}")
    fractions = {_ops.VECTOR_CONST: (1,), _ops.MATRIX_CONST: (1, 2)}.get(op.data, ())
    for k in fractions:
        if not 0.0 <= ins.data[k] <= 1.0:
            raise ProgramError(f"{where}: {op.name} index fraction data[{k}]={ins.data[k]!r} "
                               "must be in [0, 1]")


# --- loading ---------------------------------------------------------------------------------

def _parse_instruction(row, memory: Memory, where: str) -> Instruction:
    if not isinstance(row, dict):
        raise ProgramError(f"{where}: an instruction must be an object like "
                           f'{{"op": "SCALAR_SUM_OP", "in1": 2, "in2": 3, "out": 1}}, got {row!r:.60}')
    unknown = set(row) - {"op", "in1", "in2", "out", "data"}
    if unknown:
        raise ProgramError(f"{where}: unknown field(s) {sorted(unknown)}; "
                           "allowed: op, in1, in2, out, data")
    name = row.get("op")
    if not isinstance(name, str):
        raise ProgramError(f"{where}: 'op' must be an op name string, got {name!r:.60}")
    try:
        op = _ops.lookup(name)
    except KeyError:
        raise ProgramError(f"{where}: unknown op {name!r:.60}; run `azc ops` for the list") from None
    data = row.get("data", [0.0, 0.0, 0.0, 0.0])
    if (not isinstance(data, list) or len(data) > 4
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in data)):
        raise ProgramError(f"{where}: 'data' must be a list of up to 4 numbers, got {data!r:.60}")
    try:
        ins = Instruction(op, row.get("in1", 0), row.get("in2", 0), row.get("out", 0), tuple(data))
    except OverflowError:
        raise ProgramError(f"{where}: data {data!r:.60} must be finite numbers") from None
    for key in ("in1", "in2", "out"):
        value = row.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ProgramError(f"{where}: {key} must be an integer address, got {value!r:.60}")
    _check_instruction(ins, memory, where)
    return ins


def _safe_meta(meta, where="meta"):
    """Provenance must be plain JSON data: numbers, strings, lists, objects."""
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ProgramError(f"{where} must be an object")

    def check(value, path):
        if isinstance(value, float) and not math.isfinite(value):
            raise ProgramError(f"{path}: non-finite number {value!r}; data must be finite")
        if isinstance(value, dict):
            for key, item in value.items():
                check(item, f"{path}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                check(item, f"{path}[{i}]")

    check(meta, where)
    return meta


def from_json(doc) -> Program:
    if not isinstance(doc, dict):
        raise ProgramError("a program file must hold a JSON object")
    if doc.get("format") != FORMAT_NAME:
        raise ProgramError(f"not a program file: 'format' must be {FORMAT_NAME!r} "
                           f"(got {doc.get('format')!r:.60})")
    version = doc.get("version")
    if version != FORMAT_VERSION:
        raise ProgramError(f"unsupported program file version {version!r:.20}; this azcompile "
                           f"reads version {FORMAT_VERSION}")
    allowed = {"format", "version", "memory", "meta", *COMPONENTS}
    unknown = set(doc) - allowed
    if unknown:
        raise ProgramError(f"unknown top-level field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    mem = doc.get("memory")
    # All four sizes: a missing one must not silently become a default the run never had.
    if not isinstance(mem, dict) or set(mem) != {"scalars", "vectors", "matrices", "features"}:
        raise ProgramError("'memory' must be an object with scalars, vectors, matrices, features")
    memory = Memory(**mem)
    comps = []
    for name in COMPONENTS:
        rows = doc.get(name, [])
        if not isinstance(rows, list):
            raise ProgramError(f"'{name}' must be a list of instructions")
        comps.append([_parse_instruction(r, memory, f"{name}[{i}]") for i, r in enumerate(rows)])
    return Program(*comps, memory=memory, meta=_safe_meta(doc.get("meta")))


MAX_FILE_BYTES = 64 << 20   # a program file of 3 x 1000 instructions is about 200 KB
MAX_DEPTH = 32              # program files nest 4 levels; meta a few more
MAX_INT_DIGITS = 640        # Python's smallest int-str limit: int() below it never fails


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ProgramError(f"an integer of {len(digits.lstrip('-'))} digits is too large for a "
                           f"program file (at most {MAX_INT_DIGITS} digits)")
    return int(digits)


def _children(value):
    if isinstance(value, dict):
        return value.values()
    return value if isinstance(value, list) else ()


def _check_depth(doc) -> None:
    """Nesting beyond MAX_DEPTH is refused here, iteratively: deeper values would exhaust the
    recursion limit in the validators, in ``show`` or when the program is saved again."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        for child in _children(value):
            if isinstance(child, (dict, list)):
                if depth >= MAX_DEPTH:
                    raise ProgramError(f"JSON nested more than {MAX_DEPTH} levels deep; a program "
                                       "file holds instructions and flat provenance")
                stack.append((child, depth + 1))


def loads(text: str) -> Program:
    try:
        # NaN / Infinity parse to floats here; validation rejects them with their location.
        doc = json.loads(text, parse_int=_parse_int)
    except ProgramError:
        raise
    except json.JSONDecodeError as exc:
        raise ProgramError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise ProgramError(f"not a readable program file: JSON nested more than {MAX_DEPTH} "
                           "levels deep") from None
    except (TypeError, ValueError) as exc:
        raise ProgramError(f"not a readable program file: {' '.join(str(exc).split())}") from None
    _check_depth(doc)
    return from_json(doc)


def load(path) -> Program:
    path = Path(path)
    text = read_text_file(path, kind="program file", limit=MAX_FILE_BYTES, error=ProgramError,
                          expected="give a PROGRAM.json file or a run directory")
    try:
        return loads(text)
    except ProgramError as exc:
        raise ProgramError(f"{path}: {exc}") from None


def instructions(rows: Iterable[tuple]) -> tuple:
    """Shorthand for tests: rows of (op name, in1, in2, out[, data])."""
    out = []
    for row in rows:
        name, in1, in2, o = row[:4]
        data = row[4] if len(row) > 4 else (0.0, 0.0, 0.0, 0.0)
        out.append(Instruction.make(name, in1=in1, in2=in2, out=o, data=data))
    return tuple(out)
