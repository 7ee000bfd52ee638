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
import textwrap
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


def _dispatch(op_ids=None) -> str:
    """One branch per op of ``op_ids`` (all ops if None); NO_OP's branch is always there."""
    chosen = [op for op in _ops.OPS if op_ids is None or op.id == 0 or op.id in op_ids]
    lines = []
    for k, op in enumerate(chosen):
        keyword = "if" if k == 0 else "elif"
        lines.append(f"{keyword} op == {op.id}:  # {op.name}")
        lines.append(indent(_interp_branch(op), 4))
    return indent("\n".join(lines), 8)


def driver_source() -> str:
    """The driver module's text, included unmodified after the module's ``run_component``."""
    return DRIVER_PATH.read_text(encoding="utf-8")


def interpreter_source(op_ids=None) -> str:
    """The interpreter for the ops ``op_ids`` (all ops if None), feature size a parameter."""
    return notation.tidy(template("interpreter.py.tmpl").substitute(DISPATCH=_dispatch(op_ids),
                                                                   DRIVER=driver_source()))


def op_set_interpreter_source(op_ids, features: int) -> str:
    """The interpreter a search uses: the branches of its config's ops only (compile time
    and dispatch shrink with the op set), the feature size built in, and the entry points
    ``evaluate`` (one task, ``kernel_pointer.EVALUATE``) and ``evaluate_tasks`` (a batch of
    tasks, ``kernel_pointer.EVALUATE_TASKS``: what the search calls)."""
    ids = sorted({int(i) for i in op_ids} | {0})
    names = textwrap.wrap(", ".join(_ops.OPS[i].name for i in ids), 88,
                          initial_indent="#   ", subsequent_indent="#   ")
    entry = template("interpreter_entry.py.tmpl").substitute(F=int(features),
                                                              OPS="\n".join(names))
    return interpreter_source(set(ids)) + "\n\n" + entry


def write_interpreter(path: Path = INTERP_KERNEL_PATH) -> bool:
    """Regenerate the interpreter kernel; returns True if the file changed."""
    return _write_if_changed(path, interpreter_source())


# ---- compiled candidates --------------------------------------------------------------------

COMPILED_DRIVER_PATH = Path(__file__).with_name("_compiled_driver.py")


def _instruction_block(ins, stream_id: int, features: int) -> str:
    body = notation.render(ins, notation.CANDIDATE, features=features, stream=stream_id)
    return f"# {ins.show()}\n{body}"


def candidate_source(program, program_hash: int) -> str:
    """Module source for one canonical program (all instructions live): its three components
    as straight-line functions and ``components``, their entry of the signature
    ``kernel_pointer.COMPONENT``.  The driver is compiled once for all candidates
    (``_compiled_driver.py``) and calls them through a pointer."""
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
            f'@njit(cache=True, error_model="numpy", inline="always")\n'
            f'def {name}(s, v, m, tv, tm, seed, call):\n'
            f'    """{name.capitalize()}: {len(comp)} instruction(s)."""\n'
            + indent(body, 4))
    listing = indent(program.listing(), 4)
    mem = program.memory
    return notation.tidy(template("candidate.py.tmpl").substitute(
        HASH=f"{program_hash:016x}", LISTING=listing, F=features, S=int(mem.scalars),
        V=int(mem.vectors), M=int(mem.matrices), FUNCTIONS="\n\n\n".join(functions)))


def compiled_driver_source() -> str:
    """The driver of every compiled candidate: ``drive(components, task, run, registers,
    record, F)``, the interpreter's driver with the candidate's components (a pointer) in
    place of the program."""
    return notation.tidy(template("compiled_driver.py.tmpl").substitute(DRIVER=driver_source()))


def _write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def write_compiled_driver(path: Path = COMPILED_DRIVER_PATH) -> bool:
    """Regenerate the compiled candidates' driver; returns True if the file changed."""
    return _write_if_changed(path, compiled_driver_source())


def main(argv=None) -> int:
    for path, write in ((INTERP_KERNEL_PATH, write_interpreter),
                        (COMPILED_DRIVER_PATH, write_compiled_driver)):
        print(f"{path} {'rewritten' if write() else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
