"""Code generation: op-table rows and templates -> Python source for numba.

Two renderings of the same op semantics:

* the interpreter kernel: one ``if op == k`` branch per op, operands indexed by the runtime
  addresses ``a``, ``b``, ``o`` (written to ``azcompile/_interp_kernel.py``, checked by a test);
* a candidate kernel: the canonical program as straight-line code, one block per instruction
  with its addresses and constants as literals, under a comment showing the instruction.

Both define ``run_component(program, comp, registers, seed, call, F)`` and then embed the
evaluation driver, the text of ``azcompile/driver.py`` as it stands, which calls it.  Templates
hold the shape of the code; this module holds the decisions.  Only numbers and op-table text ever reach the
generated source (never strings from a program file).

``python -m azcompile.codegen`` rewrites the interpreter kernel after the op table changes.
"""
from __future__ import annotations

import re
import string
import sys
from importlib import resources
from pathlib import Path

from . import ops as _ops

INTERP_KERNEL_PATH = Path(__file__).with_name("_interp_kernel.py")
# Read as text, not imported: importing the driver on its own loads the interpreter kernel,
# which the generator must be able to rewrite even when it is out of date.
DRIVER_PATH = Path(__file__).with_name("driver.py")
_OPERAND = re.compile(r"\b([ABO])\b(\[([^\]]*)\])?")
_STORE = {"S": "s", "V": "v", "M": "m"}


def template(name: str) -> string.Template:
    """A template from the ``templates/`` folder (installed as ``azcompile.templates``)."""
    try:
        text = resources.files("azcompile.templates").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        # Running from a source checkout that was not installed.
        text = (Path(__file__).resolve().parent.parent / "templates" / name).read_text(encoding="utf-8")
    return string.Template(text)


def indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


def render_semantics(op: _ops.Op, addr: dict, data: dict, index, random_base: str | None) -> str:
    """Rewrite an op's loop template for one target.

    ``addr`` maps A/B/O to an address expression (``"a"`` or ``"3"``), ``data`` maps D0..D3 to
    expressions, ``index(expr)`` renders INDEX(f), ``random_base`` names the stream key.
    """
    kinds = {"A": op.in1, "B": op.in2, "O": op.out}

    def operand(match):
        name, _, subscript = match.groups()
        store = _STORE[kinds[name]]
        if subscript is None:
            return f"{store}[{addr[name]}]"
        return f"{store}[{addr[name]}, {subscript}]"

    def fill_data(t):
        return re.sub(r"\bD([0-3])\b", lambda mt: data["D" + mt.group(1)], t)

    text = op.loop
    # Random-op and INDEX arguments are split on commas, so they are rewritten while they are
    # still the table's plain names (D1, D2, i * F + j); the data expressions that replace
    # D0..D3 (``data[p, 1]``) contain commas themselves.
    if random_base is not None:
        text = re.sub(r"UNIFORM\(([^,]*), ([^,]*), ([^)]*)\)",
                      rf"uniform_at({random_base}, \3, \1, \2)", text)
        text = re.sub(r"GAUSSIAN\(([^,]*), ([^,]*), ([^)]*)\)",
                      rf"gaussian_at({random_base}, \3, \1, \2)", text)
    text = re.sub(r"INDEX\(([^)]*)\)", lambda mt: index(fill_data(mt.group(1))), text)
    text = fill_data(text)
    text = _OPERAND.sub(operand, text)
    text = text.replace("TV[", "tv[").replace("TM[", "tm[")
    return text


# ---- interpreter ----------------------------------------------------------------------------

def _interp_branch(op: _ops.Op) -> str:
    body = render_semantics(
        op, {"A": "a", "B": "b", "O": "o"},
        {f"D{k}": f"data[p, {k}]" for k in range(4)},
        lambda f: f"_index({f}, F)",
        "rb" if op.is_random else None)
    if op.is_random:
        body = "rb = stream_base(seed, stream[p], call)\n" + body
    return body


def _dispatch_tree(ops_: list) -> str:
    """A balanced binary search on the op id: about six compares per instruction."""
    if len(ops_) == 1:
        op = ops_[0]
        return f"# {op.name}\n" + _interp_branch(op)
    mid = len(ops_) // 2
    pivot = ops_[mid].id
    return (f"if op < {pivot}:\n" + indent(_dispatch_tree(ops_[:mid]), 4)
            + "\nelse:\n" + indent(_dispatch_tree(ops_[mid:]), 4))


def _dispatch() -> str:
    lines = []
    for k, op in enumerate(_ops.OPS):
        keyword = "if" if k == 0 else "elif"
        lines.append(f"{keyword} op == {op.id}:  # {op.name}")
        lines.append(indent(_interp_branch(op), 4))
    return indent("\n".join(lines), 8)


def driver_source() -> str:
    """The driver module's text, included unmodified after the module's ``run_component``."""
    return DRIVER_PATH.read_text(encoding="utf-8")


def interpreter_source() -> str:
    return _tidy(template("interpreter.py.tmpl").substitute(DISPATCH=_dispatch(),
                                                            DRIVER=driver_source()))


def write_interpreter(path: Path = INTERP_KERNEL_PATH) -> bool:
    """Regenerate the interpreter kernel; returns True if the file changed."""
    text = interpreter_source()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


# ---- compiled candidates --------------------------------------------------------------------

def _literal(x: float) -> str:
    text = repr(float(x))
    if text in ("inf", "-inf", "nan"):  # never produced by validated programs
        raise ValueError(f"non-finite constant {text} in a program")
    return text


def _instruction_block(ins, stream_id: int, features: int) -> str:
    op = ins.op

    def index(expr):
        value = float(expr)
        import numpy as np

        x = np.float32(features) * np.float32(value)
        # Clamped exactly like the interpreter's _index.
        if not x >= 0.0:
            return "0"
        if x >= features:
            return str(features - 1)
        return str(int(x))

    data = {f"D{k}": _literal(ins.data[k]) for k in range(4)}
    body = render_semantics(op, {"A": str(ins.in1), "B": str(ins.in2), "O": str(ins.out)},
                            data, index, "rb" if op.is_random else None)
    if op.is_random:
        body = f"rb = stream_base(seed, {stream_id}, call)\n" + body
    return f"# {ins.show()}\n{body}"


def candidate_source(program, program_hash: int) -> str:
    """Module source for one canonical program (all instructions live)."""
    features = program.memory.features
    functions = []
    stream = 0
    for name, comp in zip(("setup", "predict", "learn"), program.components):
        blocks = []
        for ins in comp:
            blocks.append(_instruction_block(ins, stream, features))
            stream += ins.op.is_random
        body = "\n".join(blocks) if blocks else "pass"
        functions.append(
            f'@njit(cache=True, error_model="numpy", inline="always")\ndef {name}(s, v, m, tv, tm, seed, call):\n'
            f'    """{name.capitalize()}: {len(comp)} instruction(s)."""\n'
            + indent(body, 4))
    functions.append(_CANDIDATE_RUN_COMPONENT)
    listing = indent(program.listing(), 4)
    return _tidy(template("candidate.py.tmpl").substitute(
        HASH=f"{program_hash:016x}", LISTING=listing, F=features,
        FUNCTIONS="\n\n\n".join(functions), DRIVER=driver_source()))


# The driver's entry into a compiled candidate: the program is built in (``program`` is None).
_CANDIDATE_RUN_COMPONENT = '''\
@njit(cache=True, error_model="numpy", inline="always")
def run_component(program, comp, registers, seed, call, F):
    """Run component ``comp`` (0 Setup, 1 Predict, 2 Learn) of the built-in program."""
    s, v, m = registers.scalars, registers.vectors, registers.matrices
    tv, tm = registers.vector_scratch, registers.matrix_scratch
    if comp == 0:
        setup(s, v, m, tv, tm, seed, call)
    elif comp == 1:
        predict(s, v, m, tv, tm, seed, call)
    else:
        learn(s, v, m, tv, tm, seed, call)'''


def _tidy(text: str) -> str:
    """Strip trailing spaces and collapse runs of blank lines left by substitution."""
    lines = [line.rstrip() for line in text.splitlines()]
    out = []
    for line in lines:
        if not line and len(out) >= 2 and not out[-1] and not out[-2]:
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


def main(argv=None) -> int:
    changed = write_interpreter()
    print(f"{INTERP_KERNEL_PATH} {'rewritten' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
