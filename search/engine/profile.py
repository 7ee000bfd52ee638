"""Where a search's time goes, measured inside the compiled generation loop.

The loop runs in numba, where no Python profiler sees it, so it reads the CPU's cycle counter
(``llvm.readcyclecounter``: rdtsc on x86, about 20 cycles) around its phases and adds the
differences to a small array kept in each island's workspace:

* ``mutation``:   tournament, copying the parent, mutation;
* ``canonical``:  dead-code elimination, register renaming, hashing, the canonical cache;
* ``evaluation``: executing the program (FEC probe, hurdle stage, full tasks), FEC lookups
  and the train-budget check;
* ``loop``:       the rest of the compiled loop (placing the child in the population, the
  lineage log), the whole loop's cycles minus the three above;
* ``python``:     everything else in the search's wall time: Python between batches (events,
  lineage, checkpoints, progress, the call into numba).  The figures are timing, not results: they go into the
``experiment_end`` event under ``profile`` and are not part of the reproducible state.
"""
from __future__ import annotations

import time

import numpy as np
from llvmlite import ir
from numba import njit, types

from .. import numba_cache  # noqa: F401  (numba's cache folder before our functions)
from numba.core import cgutils
from numba.extending import intrinsic

P_MUTATION, P_CANONICAL, P_EVALUATION, P_LOOP, P_SIZE = range(5)
PHASES = ("mutation", "canonical", "evaluation")


@intrinsic
def _readcyclecounter(typingctx):
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.readcyclecounter")
        return builder.call(fn, [])
    return types.uint64(), codegen


@njit(cache=True, inline="always")
def cycles() -> int:
    return np.int64(_readcyclecounter())


def new_profile() -> np.ndarray:
    return np.zeros(P_SIZE, dtype=np.int64)


class WallClock:
    """Wall time (cycles and seconds) from ``start`` on, and the phases' share of it.

    Started after the first batch, so numba compilation is not counted; ``baseline`` is the
    phase counters at that moment."""

    def __init__(self, baseline: np.ndarray):
        self.baseline = np.array(baseline, dtype=np.int64)
        self.cycles0, self.seconds0 = int(cycles()), time.perf_counter()

    def breakdown(self, profile: np.ndarray) -> dict:
        """Shares of the wall time since the start per phase, plus ``other``."""
        total = max(int(cycles()) - self.cycles0, 1)
        seconds = time.perf_counter() - self.seconds0
        spent = np.asarray(profile, dtype=np.int64) - self.baseline
        shares = {name: float(spent[k]) / total for k, name in enumerate(PHASES)}
        shares["loop"] = max(0.0, float(spent[P_LOOP]) / total - sum(shares.values()))
        shares["python"] = max(0.0, 1.0 - float(spent[P_LOOP]) / total)
        return {"seconds": round(seconds, 3), **{k: round(v, 4) for k, v in shares.items()}}
