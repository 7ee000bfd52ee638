"""Warm start against cold start on the demo: individuals until the select check passes.

For each seed, a cold search (random programs, ``early_select = true``) runs until it solves
the demo; then a warm search starts from that run's best (``warm_start=RUN``, seed + 100)
and runs until it solves it again.  Prints both counts per seed and the medians.

    python tests/bench/bench_warm_start.py [--seeds 1 2 3 4 5] [--out DIR]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from azcompile.search.api import config_dict, run_search


def solve(out: Path, seed: int, warm_start=None) -> tuple[int, float, float]:
    doc = config_dict("demo")
    doc["experiment"]["early_select"] = True
    started = time.perf_counter()
    result = run_search(doc, out, seed=seed, warm_start=warm_start, progress=False)
    return result.individuals, result.select_fitness, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, default=None, help="where the runs go (a temp dir)")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="azc-warm-"))
    cold, warm = [], []
    print(f"{'seed':>4}  {'cold individuals':>16}  {'warm individuals':>16}  ratio")
    for seed in args.seeds:
        c, c_select, c_time = solve(root / f"cold-{seed}", seed)
        w, w_select, w_time = solve(root / f"warm-{seed}", seed + 100, root / f"cold-{seed}")
        cold.append(c)
        warm.append(w)
        print(f"{seed:>4}  {c:>16,}  {w:>16,}  {w / c:.3f}   (select {c_select:.6f} in "
              f"{c_time:.1f} s; warm select {w_select:.6f} in {w_time:.1f} s)", flush=True)
    mc, mw = statistics.median(cold), statistics.median(warm)
    print(f"median: cold {mc:,.0f}, warm {mw:,.0f} individuals: warm needs {mw / mc:.1%} of cold")


if __name__ == "__main__":
    main()
