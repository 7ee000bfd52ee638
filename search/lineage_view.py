"""``azc lineage``: the chain of improvements behind the best program, as text diffs."""
from __future__ import annotations

import difflib
import json
from pathlib import Path

import numpy as np

from azcompile.liveness import dead_code_eliminated
from azcompile.program import Program, ProgramError

from . import config as config_mod


def _program(row: dict, memory) -> Program | None:
    doc = row.get("program")
    if doc is None:
        return None
    return Program.from_arrays(np.array(doc["code"], np.int32), np.array(doc["data"]),
                               np.array(doc["size"], np.int32), memory)


def _listing(program: Program) -> list[str]:
    """Live instructions, each tagged with its component so diffs say where they changed."""
    live = dead_code_eliminated(program)
    return [f"{name:8s}| {ins.show()}" for name, comp in zip(("Setup", "Predict", "Learn"),
                                                            live.components) for ins in comp]


def render_chain(run_dir: Path, improvements_only: bool = True) -> str:
    path = run_dir / "lineage.json"
    if not path.exists():
        raise ProgramError(f"{run_dir} has no lineage.json yet (written when an experiment ends)")
    doc = json.loads(path.read_text())
    memory = config_mod.load(run_dir / "config.toml").memory
    rows = doc["chain"]
    lines = [f"lineage of individual {doc['best']}: {len(rows)} ancestors recorded"]
    previous: list[str] = []
    step = 0
    for row in rows:
        improved = row["fitness"] > row["parent_fitness"] or row["parent"] < 0
        if improvements_only and not improved:
            continue
        step += 1
        gain = row["fitness"] - row["parent_fitness"] if row["parent"] >= 0 else row["fitness"]
        how = row["mutation"] if row["parent"] >= 0 else "initial population"
        lines.append(f"step {step:3d}  id {row['id']:>9d}  fitness {row['fitness']:.6f} "
                     f"({gain:+.6f})  {how}")
        program = _program(row, memory)
        if program is None:
            lines.append("    (program not kept)")
            continue
        current = _listing(program)
        if previous:
            diff = [d for d in difflib.unified_diff(previous, current, lineterm="", n=0)
                    if not d.startswith(("---", "+++", "@@"))]
            lines.extend("    " + d for d in diff) if diff else lines.append("    (no change in live code)")
        else:
            lines.extend("    " + x for x in current)
        previous = current
    return "\n".join(lines)
