"""The tuning's report: before and after on each task list, and what it cost."""
from __future__ import annotations

import math

import numpy as np

from azcompile.eval_type import EvalType

from .tuner import TuneResult


def rms_error(fitness: float) -> float:
    """The RMS error behind an rms_error task's fitness 1 - (2/pi) atan(rmse); a fitness of
    0 (the error diverged past max_abs_error) is an infinite error."""
    return math.tan((1.0 - fitness) * math.pi / 2.0) if fitness > 0.0 else math.inf


def median_rms_error(per_task: list) -> float:
    """The median over tasks: one diverged task makes a mean infinite."""
    return float(np.median([rms_error(f) for f in per_task]))


def _cell(x) -> str:
    return "n/a" if x is None else f"{x:.6f}"


def _halving(options) -> str:
    if not options.halving:
        return ""
    return " + Hyperband" if options.hyperband else " + successive halving"


def _draws(result: TuneResult) -> str:
    if result.draws == 1:
        return ""
    return (f", each task scored over {result.draws} random-op draws "
            f"({result.options.draw_combination})")


def format_report(result: TuneResult) -> str:
    rms = result.eval_type == EvalType.RMS_ERROR and result.before.final_per_task
    head = f"{'':9s}{'search':>11s}{'select':>11s}{'final':>11s}"
    lines = [f"tuned {len(result.constants)} constant(s) with {result.options.method}"
             f"{_halving(result.options)}: "
             f"{result.trials} settings, seed {result.options.seed}{_draws(result)}",
             head + (f"{'median final RMS':>18s}" if rms else "")]
    for name, s in (("untuned", result.before), ("tuned", result.after)):
        row = f"{name:9s}{_cell(s.search):>11s}{_cell(s.select):>11s}{_cell(s.final):>11s}"
        if rms:
            row += f"{median_rms_error(s.final_per_task):>18.6g}"
        lines.append(row)
    runs = result.runs
    lines.append(f"task runs: search {runs['search']:,}, select {runs['select']:,}, final "
                 f"{runs['final']:,} ({result.elapsed:.1f} s)")
    if result.chosen == 0:
        where = "select" if result.before.select is not None else "search"
        lines.append(f"no setting beat the program as it was on the {where} tasks: kept as is")
    for label, instruction, before, after in result.constants:
        lines.append(f"  {label:18s} {before:>12.6g} -> {after:<12.6g} ({instruction})")
    return "\n".join(lines)
