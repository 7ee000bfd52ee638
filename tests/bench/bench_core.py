"""Benchmark of the compiler core (``azcompile.benchmark``): microseconds per program
evaluation in each tier, numba compile time per candidate, cache-hit load time from disk in a
new process, on the demo-sized task and larger ones.

    python tests/bench/bench_core.py [--json out.json] [--quick]

Not a pytest test; the numbers go to stdout (and to --json).  ``azc bench`` includes them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from azcompile.benchmark import format_table, measure  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--quick", action="store_true", help="F = 4 only, shorter timings")
    args = parser.parse_args(argv)
    result = measure(sizes=(4,) if args.quick else (4, 8, 16),
                     target_s=0.2 if args.quick else 0.6)
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
