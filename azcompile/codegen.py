"""Code generation: op-table rows and templates -> Python source for numba.

Two renderings of the same op semantics:

* the interpreter kernel: one ``if op == k`` branch per op, operands indexed by the runtime
  addresses ``a``, ``b``, ``o`` (written to ``azcompile/_interp_kernel.py``, checked by a test);
* a candidate kernel: the canonical program as straight-line code, one block per instruction
  with its addresses and constants as literals, under a comment showing the instruction.

Both define ``run_component(program, comp, registers, seed, call, F)`` and then embed the
evaluation driver, the text of ``azcompile/driver.py`` as it stands, which calls it.  Templates
hold the shape of the code; ``azcompile.notation`` renders each op row (targets ``INTERPRETER``
and ``CANDIDATE``); this module assembles the modules.  Only numbers and op-table text ever reach the
generated source (never strings from a program file).

``python -m azcompile.codegen`` rewrites the interpreter kernel after the op table changes.
"""
from __future__ import annotations

import string
import sys
from importlib import resources
from pathlib import Path

from . import notation
from . import ops as _ops

INTERP_KERNEL_PATH = Path(__file__).with_name("_interp_kernel.py")


def template_dir():
    """The templates of the tree this package was loaded from: ``azcompile/templates`` in an
    installed wheel, ``templates/`` next to the package in a source checkout.

    Looked up beside this file before asking the import system: an editable install of one
    checkout maps ``azcompile.templates`` to *its* folder, which another checkout (a git
    worktree, say) must not read.  ``None`` if neither exists (a zipped install).
    """
    here = Path(__file__).resolve().parent
    for folder in (here / "templates", here.parent / "templates"):
        if (folder / "candidate.py.tmpl").is_file():
            return folder
    return None


# Read as text, not imported: importing the driver on its own loads the interpreter kernel,
# which the generator must be able to rewrite even when it is out of date.
DRIVER_PATH = Path(__file__).with_name("driver.py")


def template(name: str) -> string.Template:
    """A template from the ``templates/`` folder (installed as ``azcompile.templates``)."""
    folder = template_dir()
    if folder is not None:
        return string.Template((folder / name).read_text(encoding="utf-8"))
    text = resources.files("azcompile.templates").joinpath(name).read_text(encoding="utf-8")
    return string.Template(text)


def indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


# ---- interpreter ----------------------------------------------------------------------------

def _interp_branch(op: _ops.Op) -> str:
    return notation.render(op, notation.INTERPRETER)


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
    return notation.tidy(template("interpreter.py.tmpl").substitute(DISPATCH=_dispatch(),
                                                                   DRIVER=driver_source()))


def write_interpreter(path: Path = INTERP_KERNEL_PATH) -> bool:
    """Regenerate the interpreter kernel; returns True if the file changed."""
    text = interpreter_source()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


# ---- compiled candidates --------------------------------------------------------------------

def _instruction_block(ins, stream_id: int, features: int) -> str:
    body = notation.render(ins, notation.CANDIDATE, features=features, stream=stream_id)
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
    return notation.tidy(template("candidate.py.tmpl").substitute(
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


def main(argv=None) -> int:
    changed = write_interpreter()
    print(f"{INTERP_KERNEL_PATH} {'rewritten' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
