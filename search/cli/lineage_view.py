"""``azc lineage``: the chain of improvements behind the best program, as text diffs.

``lineage.json`` (see ``search.lineage``) is read as untrusted data: every field is checked
and every kept program validated against the run's memory before liveness (a numba kernel)
sees it.  Liveness follows the run's task, so a multi-class Predict (it writes v2) is live.
"""
from __future__ import annotations

import difflib
import json
import math
from pathlib import Path

import numpy as np

from azcompile.eval_type import EvalType
from azcompile.liveness import dead_code_eliminated
from azcompile.ops import NUM_OPS
from azcompile.program import Program, ProgramError, load

from ..engine.mutator import MUTATION_LABELS, SAMPLED
from ..run import config as config_mod
from ..run.rundir import RunDirError

_KNOWN_MUTATIONS = set(MUTATION_LABELS.values())
_MAX_LINEAGE_BYTES = 512 * 2 ** 20


def _broken(path: Path, why: str) -> RunDirError:
    return RunDirError(f"{path} is not a lineage this version wrote ({why}); the run's other "
                       f"files are unaffected")


def read_lineage(run_dir: Path) -> dict:
    """``lineage.json`` as {"best": id, "chain": rows}, checked field by field."""
    path = run_dir / "lineage.json"
    if not path.exists():
        raise RunDirError(f"{run_dir} has no lineage.json yet (written when an experiment ends)")
    if not path.is_file():
        raise _broken(path, "not a file")
    try:
        if path.stat().st_size > _MAX_LINEAGE_BYTES:
            raise _broken(path, f"over {_MAX_LINEAGE_BYTES >> 20} MiB")
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise RunDirError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:   # not UTF-8, or not JSON (truncated, binary)
        raise _broken(path, f"{type(exc).__name__}: {str(exc)[:60]}") from None
    if not (isinstance(doc, dict) and _is_int(doc.get("best")) and isinstance(doc.get("chain"), list)):
        raise _broken(path, "no best id and chain list")
    for row in doc["chain"]:
        if not _row_ok(row):
            raise _broken(path, "a chain entry lacks an id, parent, mutation or fitness")
    return doc


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _row_ok(row) -> bool:
    return (isinstance(row, dict) and _is_int(row.get("id")) and _is_int(row.get("parent"))
            and isinstance(row.get("mutation"), str) and _is_number(row.get("fitness"))
            and _is_number(row.get("parent_fitness", 0.0)))


def _program(row: dict, memory, path: Path) -> Program | None:
    """The row's program, validated against the run's memory (or None if not kept)."""
    doc = row.get("program")
    if doc is None:
        return None
    try:
        code = np.array(doc["code"], dtype=np.int64)
        data = np.array(doc["data"], dtype=np.float64)
        size = np.array(doc["size"], dtype=np.int64)
        ok = (code.ndim == 3 and code.shape[0] == 3 and code.shape[2] == 4
              and data.shape == code.shape and size.shape == (3,)
              and np.all((0 <= size) & (size <= code.shape[1]))
              and np.all((0 <= code[:, :, 0]) & (code[:, :, 0] < NUM_OPS))
              and np.all(np.abs(code) < 2 ** 31))
        if not ok:
            raise ValueError("arrays of the wrong shape or range")
        return Program.from_arrays(code, data, size, memory).validate()
    except (TypeError, KeyError, ValueError, OverflowError, ProgramError) as exc:
        raise _broken(path, f"individual {row['id']}'s program: {str(exc)[:60]}") from None


def _best_program(run_dir: Path, memory) -> Program | None:
    """best_program.json, written together with lineage.json, if it fits the run."""
    try:
        program = load(run_dir / "best_program.json")
    except (OSError, ProgramError):
        return None
    return program if program.memory == memory else None


def _listing(program: Program, mode: int) -> list[str]:
    """Live instructions, each tagged with its component so diffs say where they changed."""
    live = dead_code_eliminated(program, mode)
    return [f"{name:8s}| {ins.show()}" for name, comp in zip(("Setup", "Predict", "Learn"),
                                                            live.components) for ins in comp]


def render_chain(run_dir: Path, improvements_only: bool = True) -> str:
    """The chain from the first recorded ancestor to the best program.  With
    ``improvements_only``, a step is shown when it beats every step before it (the first
    and the best program itself always are); each shown step's fitness change and diff are
    against the step shown before it."""
    doc = read_lineage(run_dir)
    cfg = config_mod.load(run_dir / "config.toml")
    mode = EvalType.of(cfg.search_tasks[0].eval_type).task_mode
    rows = doc["chain"]
    lines = [f"lineage of individual {doc['best']}: {len(rows)} ancestors recorded"
             + ("; steps that beat all before them (--all-steps: every one)"
                if improvements_only else "")]
    previous: list[str] = []
    shown, last_fitness, passed = 0, None, 0
    for k, row in enumerate(rows):
        if (improvements_only and last_fitness is not None and k < len(rows) - 1
                and not row["fitness"] > last_fitness):
            passed += 1
            continue
        shown += 1
        lines.append(_step_line(row, shown, last_fitness, passed))
        last_fitness, passed = row["fitness"], 0
        program = _program(row, cfg.memory, run_dir / "lineage.json")
        if program is None and row["id"] == doc["best"]:
            program = _best_program(run_dir, cfg.memory)   # saved beside lineage.json
        if program is None:
            lines.append("    (program not kept)")
            continue
        current = _listing(program, mode)
        if previous:
            diff = [d for d in difflib.unified_diff(previous, current, lineterm="", n=0)
                    if not d.startswith(("---", "+++", "@@"))]
            lines.extend("    " + d for d in diff) if diff else lines.append("    (no change in live code)")
        else:
            lines.extend("    " + x for x in current)
        previous = current
    return "\n".join(lines)


def _step_line(row: dict, step: int, last_fitness, passed: int) -> str:
    if row["parent"] < 0 and row["mutation"] != MUTATION_LABELS[SAMPLED]:
        how = "initial population"      # (an RL controller's sample has no parent either)
    else:
        how = row["mutation"] if row["mutation"] in _KNOWN_MUTATIONS else "?"
    if passed:
        how += f", after {passed} step{'s' if passed > 1 else ''} without a new best"
    # Three significant digits: a change of 1e-7 is not shown as +0.000000.
    delta = "" if last_fitness is None else f" ({row['fitness'] - last_fitness:+.3g} vs step {step - 1})"
    return f"step {step:3d}  id {row['id']:>9d}  fitness {row['fitness']:.6f}{delta}  {how}"
