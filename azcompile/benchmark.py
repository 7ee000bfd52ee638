"""Benchmark of the compiler core: evaluation cost per tier, compile cost, cache-hit load cost.

For three programs (the README's linear regression, the reference's 2-layer neural network,
and a random program over the baseline experiment's op lists) on linear-regression tasks with
F = 4, 8, 16 features and 100 or 1000 training examples (100 validation examples):

* interp, numba loop:    microseconds per evaluation (Setup + one training epoch + one
                         validation pass) with the interpreter kernel called from inside
                         numba, as the search calls it (no Python call overhead);
* interp, from Python:   the same through ``engine.call_compiled`` once per evaluation;
* compiled, numba loop / from Python: the same for the candidate's compiled kernel;
* compile:               seconds to generate + numba-compile one candidate in a fresh cache
                         directory (what a cache miss costs);
* load (new process):    milliseconds for ``KernelCache.get`` in a fresh Python process when
                         the kernel is on disk (source + numba cache), i.e. a cache hit.

``measure`` returns the figures, ``format_table`` prints them; ``azc bench`` and
``tests/bench/bench_core.py`` are the two ways to run it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit
from numba.core import config as numba_config

from . import numba_cache  # noqa: F401  (numba's cache folder before our functions)
from . import ops, reference_programs
from . import interpreter
from ._compiled_driver import drive
from .engine import call_compiled, interpreter_program
from .eval_type import EvalType
from .jit_cache import KernelCache
from .kernel_args import STEPS_DONE, RunSettings, TaskData, new_record, new_registers
from .liveness import SCALAR_TASK, canonical
from .program import FIRST_OUT, Instruction, Memory, Program


# ---- programs --------------------------------------------------------------------------------

def linear_regression(F):
    return reference_programs.linear(Memory(4, 3, 1, F))


def neural_net(F):
    return reference_programs.neural_net(Memory(5, 9, 2, F))


BASELINE_OPS = (
    ["SCALAR_CONST_SET_OP", "SCALAR_GAUSSIAN_SET_OP", "SCALAR_UNIFORM_SET_OP",
     "VECTOR_GAUSSIAN_SET_OP", "VECTOR_UNIFORM_SET_OP", "MATRIX_GAUSSIAN_SET_OP",
     "MATRIX_UNIFORM_SET_OP"],
    ["SCALAR_SUM_OP", "MATRIX_VECTOR_PRODUCT_OP", "VECTOR_MAX_OP", "VECTOR_INNER_PRODUCT_OP",
     "VECTOR_SUM_OP"],
    ["SCALAR_SUM_OP", "SCALAR_DIFF_OP", "SCALAR_PRODUCT_OP", "SCALAR_VECTOR_PRODUCT_OP",
     "VECTOR_SUM_OP", "VECTOR_HEAVYSIDE_OP", "VECTOR_PRODUCT_OP", "VECTOR_OUTER_PRODUCT_OP",
     "MATRIX_SUM_OP"],
)


def random_baseline_program(F, seed):
    """10 / 20 / 20 random instructions from the baseline experiment's op lists."""
    gen = np.random.default_rng(seed)
    mem = Memory(5, 9, 2, F)
    comps = []
    for names, n in zip(BASELINE_OPS, (10, 20, 20)):
        rows = []
        for _ in range(n):
            op = ops.lookup(names[int(gen.integers(len(names)))])
            pick = lambda kind, first=0: int(gen.integers(first, mem.count(kind)))  # noqa: E731
            data = {ops.SCALAR_CONST: (gen.uniform(-1, 1), 0, 0, 0),
                    ops.GAUSSIAN: (0, gen.uniform(-1, 1), gen.uniform(0, 1), 0),
                    ops.UNIFORM: (0, gen.uniform(-1, 1), gen.uniform(-1, 1), 0)}.get(op.data,
                                                                                  (0, 0, 0, 0))
            rows.append(Instruction(op, pick(op.in1) if op.in1 else 0,
                                    pick(op.in2) if op.in2 else 0,
                                    pick(op.out, FIRST_OUT[op.out]), data))
        comps.append(rows)
    return Program(*comps, memory=mem)


# ---- one evaluation's arguments --------------------------------------------------------------

def task(F, n_train, n_valid=100, seed=0):
    gen = np.random.default_rng(seed)
    w = gen.normal(size=F)
    x, xv = gen.normal(size=(n_train, F)), gen.normal(size=(n_valid, F))
    return x, x @ w, xv, xv @ w


def common_args(prog, data):
    """evaluate_task's arguments after the program (no prediction recording, as in a
    search): (task, run settings, registers, record, F)."""
    x, y, xv, yv = data
    mem = prog.memory
    task = TaskData(x, y, np.arange(len(x), dtype=np.int32), len(x), xv, yv, len(xv),
                    int(EvalType.RMS_ERROR), 0)
    return (task, RunSettings(len(x), len(xv), 100.0, np.uint64(1), 0),
            new_registers(mem.scalars, mem.vectors, mem.matrices, mem.features), new_record(),
            mem.features)


def program_args(prog):
    return interpreter_program(prog, SCALAR_TASK)


@njit(cache=True, error_model="numpy")
def interp_loop(reps, kernel, program, task, run, registers, record):
    """``reps`` evaluations through the interpreter's pointer, as the search makes them."""
    total = 0.0
    for _ in range(reps):
        total += kernel(program, task, run, registers, record)
    return total


@njit(cache=True, error_model="numpy")
def compiled_loop(reps, components, task, run, registers, record, F):
    """``reps`` evaluations of a compiled candidate (its components' pointer)."""
    total = 0.0
    for _ in range(reps):
        total += drive(components, task, run, registers, record, F)
    return total


def per_call_us(fn, target_s):
    """Best-of-3 microseconds per call of ``fn(reps)`` (which runs ``reps`` evaluations)."""
    fn(1)
    reps = 1
    while True:
        t = time.perf_counter()
        fn(reps)
        dt = time.perf_counter() - t
        if dt > target_s / 10 or reps > 1 << 22:
            break
        reps *= 4
    reps = max(1, int(reps * (target_s / 3) / max(dt, 1e-9)))
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        fn(reps)
        best = min(best, (time.perf_counter() - t) / reps)
    return best * 1e6


# The child reads numba's cache where the parent wrote it: a process that imported the search
# engine keeps its numba functions in a folder fingerprinted by both packages (jit_cache.
# guard_numba_cache), which azcompile alone would not look in.
LOAD_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from azcompile.jit_cache import KernelCache
from azcompile.liveness import canonical
from azcompile.program import loads
from numba.core import config
config.CACHE_DIR = sys.argv[2]
imported = time.perf_counter() - t0
out = []
for path, cache_dir in json.loads(sys.argv[1]):
    prog = loads(open(path).read())
    canon, h = canonical(prog)
    t = time.perf_counter()
    module = KernelCache(cache_dir).get(canon, h)
    out.append({"load_s": time.perf_counter() - t,
                "cache_hits": sum(module.components.stats.cache_hits.values()),
                "cache_misses": sum(module.components.stats.cache_misses.values())})
print(json.dumps({"import_s": imported, "loads": out}))
"""



def measure(sizes=(4, 8, 16), target_s: float = 0.6) -> dict:
    """Every figure above, per (program, F, train examples)."""
    work = Path(tempfile.mkdtemp(prefix="azc_bench_"))
    rows, kernels = [], []
    programs = {"linear": linear_regression, "neural_net": neural_net,
                "random_baseline": lambda F: random_baseline_program(F, 28)}
    for F in sizes:
        for name, make in programs.items():
            prog = make(F)
            canon, h = canonical(prog)
            cache_dir = work / f"{name}_F{F}"
            t = time.perf_counter()
            module = KernelCache(cache_dir).get(canon, h)
            compile_s = time.perf_counter() - t
            path = work / f"{name}_F{F}.json"
            prog.save(path)
            kernels.append((str(path), str(cache_dir)))
            live = tuple(len(c) for c in canon.components)
            for n_train in (100, 1000):
                row = {"program": name, "F": F, "n_train": n_train, "n_valid": 100,
                       "instructions": tuple(len(c) for c in prog.components), "live": live,
                       "compile_s": compile_s}
                row.update(_time_tiers(prog, module, task(F, n_train), target_s))
                rows.append(row)
    loads = _load_in_new_process(kernels)
    by_kernel = dict(zip([k[0] for k in kernels], loads["loads"]))
    for row in rows:
        entry = by_kernel[str(work / f"{row['program']}_F{row['F']}.json")]
        row["load_new_process_ms"] = entry["load_s"] * 1e3
        row["load_cache_hit"] = entry["cache_hits"] >= 1 and entry["cache_misses"] == 0
    return {"rows": rows, "import_s": loads["import_s"]}


def _time_tiers(prog, module, data, target_s) -> dict:
    task_, run, registers, record, F = common_args(prog, data)
    kernel = interpreter.evaluate_pointer(None, F)
    interp_args = (program_args(prog), task_, run, registers, record)
    compiled_args = (module.pointer, task_, run, registers, record, F)
    row = {
        "interp_numba_us": per_call_us(
            lambda r: call_compiled(interp_loop, (r, kernel) + interp_args), target_s),
        "interp_python_us": per_call_us(
            lambda r: [call_compiled(kernel.dispatcher, interp_args) for _ in range(r)],
            target_s),
        "compiled_numba_us": per_call_us(
            lambda r: call_compiled(compiled_loop, (r,) + compiled_args), target_s),
        "compiled_python_us": per_call_us(
            lambda r: [call_compiled(drive, compiled_args) for _ in range(r)], target_s),
    }
    fit_i = call_compiled(kernel.dispatcher, interp_args)
    fit_c = call_compiled(drive, compiled_args)
    if not (fit_i == fit_c or (np.isnan(fit_i) and np.isnan(fit_c))):
        raise AssertionError(f"tiers disagree: interp {fit_i}, compiled {fit_c}")
    row["fitness"] = fit_i
    row["steps_done"] = int(record.counters[STEPS_DONE])
    return row


def _load_in_new_process(kernels) -> dict:
    """A cache hit in a new process (source + numba cache on disk)."""
    root = str(Path(__file__).resolve().parents[1])  # azcompile importable, installed or not
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", LOAD_CHILD, json.dumps(kernels),
                          numba_config.CACHE_DIR],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def format_table(result: dict) -> str:
    lines = [f"{'program':<16}{'F':>3}{'train':>6}{'live s/p/l':>11}{'interp':>10}"
             f"{'interp':>10}{'compiled':>10}{'compiled':>10}{'compile':>9}{'load':>9}",
             f"{'':<16}{'':>3}{'':>6}{'':>11}{'numba us':>10}{'py us':>10}{'numba us':>10}"
             f"{'py us':>10}{'s':>9}{'ms':>9}"]
    for r in result["rows"]:
        live = "/".join(map(str, r["live"]))
        lines.append(f"{r['program']:<16}{r['F']:>3}{r['n_train']:>6}{live:>11}"
                     f"{r['interp_numba_us']:>10.1f}{r['interp_python_us']:>10.1f}"
                     f"{r['compiled_numba_us']:>10.1f}{r['compiled_python_us']:>10.1f}"
                     f"{r['compile_s']:>9.2f}{r['load_new_process_ms']:>9.1f}"
                     + ("" if r["load_cache_hit"] else "  (load compiled!)"))
    lines.append(f"new-process import of azcompile: {result['import_s'] * 1e3:.0f} ms "
                 "(not included in 'load')")
    lines.append("one evaluation = Setup + one epoch of Predict/Learn + 100 validation Predicts")
    return "\n".join(lines)
