"""Differential fuzz: the raw program in the interpreter, its canonical (dead-code-free,
renamed) form in the interpreter, and its compiled kernel give the same bits.

Seeded random programs over all 65 ops, random memory sizes, feature sizes 3 and 4, and all
three evaluation types (RMS_ERROR, ACCURACY, MULTICLASS), with random epochs, example orders,
train budgets, error limits and seeds.

The split, because one numba compile costs ~1-2 s:

* every fuzz program (``--fuzz-programs``, default 300; 5000 for a slow pass) runs in the
  interpreter twice, raw and canonical;
* a fixed subset of ``N_COMPILED`` = 20 programs, picked from the first 300 cases to cover
  every op (in live code), every evaluation type and both feature sizes, also runs compiled.
  The subset does not depend on ``--fuzz-programs``, so warm runs reuse the cached kernels.

"Same" means: fitness bit for bit, the same number of training steps, and prediction arrays
equal with NaN == NaN and every non-NaN value equal as a bit pattern (so -0.0 != 0.0).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from azcompile import ops
from azcompile.engine import run
from azcompile.eval_type import ACCURACY, EvalType, MULTICLASS, RMS_ERROR
from azcompile.jit_cache import KernelCache
from azcompile.liveness import SCALAR_TASK, canonical
from azcompile.program import FIRST_OUT, Instruction, Memory, Program
from azcompile.program import load as load_program
from random_programs import random_instruction

EVAL_TYPES = (RMS_ERROR, ACCURACY, MULTICLASS)
FEATURE_SIZES = (3, 4)
N_COMPILED = 20
SELECTION_POOL = 300


# ---- random programs and tasks -------------------------------------------------------------

def random_program(gen, mem, mode):
    defined = {"S": {0}, "V": {0} if mode == SCALAR_TASK else {0, 1}, "M": set()}
    comps = []
    # Ops whose output kind has a writable register (with one vector, v0 only, none has).
    usable = [op for op in ops.OPS if not op.out or FIRST_OUT[op.out] < mem.count(op.out)]
    for most in (5, 10, 10):
        n = int(gen.integers(0, most + 1))
        comps.append([random_instruction(gen, mem, usable[int(gen.integers(0, len(usable)))],
                                         defined) for _ in range(n)])
    if gen.random() < 0.8:     # usually finish Predict by writing the prediction register
        kind, target = ("S", 1) if mode == SCALAR_TASK else ("V", 2)
        op = gen.choice([o for o in ops.OPS if o.out == kind and o.data == ops.NO_DATA])
        ins = random_instruction(gen, mem, op, defined)
        comps[1].append(Instruction(ins.op, ins.in1, ins.in2, target, ins.data))
    return Program(*comps, memory=mem)


def make_case(i):
    """Fuzz case i: program, task data and run options, all from seed i."""
    gen = np.random.default_rng(np.random.SeedSequence([20260, i]))
    eval_type = EVAL_TYPES[i % 3]
    F = FEATURE_SIZES[(i // 3) % 2]
    mode = EvalType.of(eval_type).task_mode
    mem = Memory(scalars=int(gen.integers(2, 8)),
                 vectors=int(gen.integers(3 if eval_type == MULTICLASS else 1, 7)),
                 matrices=int(gen.integers(1, 4)), features=F)
    prog = random_program(gen, mem, mode)
    n_train, n_valid = int(gen.integers(1, 25)), int(gen.integers(1, 15))
    x, xv = gen.normal(size=(n_train, F)), gen.normal(size=(n_valid, F))
    w = gen.normal(size=F)
    K = int(gen.integers(2, F + 1))
    if eval_type == RMS_ERROR:
        y, yv = x @ w, xv @ w
    elif eval_type == ACCURACY:
        y, yv = (x @ w > 0).astype(float), (xv @ w > 0).astype(float)
    else:
        y, yv = np.argmax(x[:, :K], axis=1).astype(float), np.argmax(xv[:, :K], axis=1).astype(float)
    epochs = int(gen.integers(1, 4))
    order = np.concatenate([gen.permutation(n_train) for _ in range(epochs)])
    options = dict(eval_type=eval_type, num_classes=K if eval_type == MULTICLASS else 0,
                   order=order, seed=int(gen.integers(0, 2 ** 63)),
                   train_steps=None if gen.random() < 0.7 else int(gen.integers(0, len(order) + 1)),
                   max_abs_error=float(gen.choice([100.0, 1e300])))
    return prog, (x, y, xv, yv), options


# ---- comparison ----------------------------------------------------------------------------

def assert_same_bits(a, b, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} != {b.shape}"
    assert np.array_equal(a, b, equal_nan=True), f"{what}: values differ"
    ok = ~np.isnan(a)
    assert np.array_equal(a[ok].view(np.uint64), b[ok].view(np.uint64)), f"{what}: bits differ"


def assert_same_result(r1, r2, what):
    assert_same_bits(r1.fitness, r2.fitness, f"{what} fitness")
    assert r1.train_steps == r2.train_steps, f"{what} train steps"
    assert_same_bits(r1.train_predictions, r2.train_predictions, f"{what} train predictions")
    assert_same_bits(r1.valid_predictions, r2.valid_predictions, f"{what} valid predictions")


def informative(r):
    vp = r.valid_predictions
    return bool(vp.size and np.isfinite(vp).all() and np.ptp(vp) > 0)


# ---- tests ---------------------------------------------------------------------------------

def test_interp_raw_equals_interp_canonical(fuzz_programs):
    stats = {"informative": 0, "removed": 0, "random": 0, "trained": 0}
    eval_seen = set()
    for i in range(fuzz_programs):
        prog, (x, y, xv, yv), options = make_case(i)
        mode = EvalType.of(options["eval_type"]).task_mode
        canon, _ = canonical(prog, mode)
        raw_run = run(prog, x, y, xv, yv, engine="interp", **options)
        canon_run = run(canon, x, y, xv, yv, engine="interp", **options)
        assert_same_result(raw_run, canon_run, f"case {i}\n{prog}")
        stats["informative"] += informative(raw_run)
        stats["removed"] += sum(map(len, prog.components)) - sum(map(len, canon.components))
        stats["random"] += any(ins.op.is_random for c in canon.components for ins in c)
        stats["trained"] += raw_run.train_steps > 0
        eval_seen.add(options["eval_type"])
    # The fuzz is only worth something if programs do things: guard the generator.
    n = fuzz_programs
    assert eval_seen == set(EVAL_TYPES) or n < 3
    assert stats["informative"] >= 0.15 * n, stats
    assert stats["random"] >= 0.1 * n, stats
    assert stats["removed"] >= n, stats
    assert stats["trained"] >= 0.5 * n, stats


def _compiled_selection():
    """Greedy: the cases whose canonical (live) code adds the most ops not yet covered, then
    informative ones; every evaluation type and feature size appears."""
    pool = []
    for i in range(SELECTION_POOL):
        prog, _, options = make_case(i)
        canon, _ = canonical(prog, EvalType.of(options["eval_type"]).task_mode)
        live_ops = {ins.op.id for c in canon.components for ins in c}
        pool.append((i, live_ops, options["eval_type"], prog.memory.features))
    chosen, covered = [], set()
    kinds = {(e, f) for e in EVAL_TYPES for f in FEATURE_SIZES}
    while len(chosen) < N_COMPILED:
        def gain(entry):
            i, live_ops, e, f = entry
            return (len(live_ops - covered) + 3 * ((e, f) in kinds), -i)
        best = max((p for p in pool if p[0] not in {c[0] for c in chosen}), key=gain)
        chosen.append(best)
        covered |= best[1]
        kinds.discard((best[2], best[3]))
    return chosen, covered


@pytest.fixture(scope="module")
def compiled_selection():
    return _compiled_selection()


@pytest.fixture(scope="module")
def kernel_cache():
    return KernelCache()   # the session's cache directory (tests/conftest.py)


def test_compiled_selection_covers_every_op(compiled_selection):
    chosen, covered = compiled_selection
    assert len(chosen) == N_COMPILED
    assert covered >= set(range(1, ops.NUM_OPS)), sorted(set(range(1, 65)) - covered)
    assert {c[2] for c in chosen} == set(EVAL_TYPES)
    assert {c[3] for c in chosen} == set(FEATURE_SIZES)


def test_compiled_equals_interp(compiled_selection, kernel_cache):
    chosen, _ = compiled_selection
    informative_runs = 0
    for i, _, _, _ in chosen:
        prog, (x, y, xv, yv), options = make_case(i)
        interp = run(prog, x, y, xv, yv, engine="interp", **options)
        compiled = run(prog, x, y, xv, yv, engine="compiled", cache=kernel_cache, **options)
        assert compiled.engine == "compiled"
        assert_same_result(interp, compiled, f"case {i}\n{prog}")
        informative_runs += informative(interp)
    assert informative_runs >= 3


# ---- the reference's NaN rules for vector min/max ------------------------------------------

@pytest.mark.parametrize("name", ["nan_vector_min", "nan_vector_max"])
@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_vector_min_max_keep_a_nan_first_operand(name, engine, kernel_cache):
    """The issue's minimal program: v1 is all NaN and Predict is s1 = mean(min(v1, v0)) (or
    max).  Eigen's cwise min/max are std::min/std::max, so min(NaN, x) is NaN and the
    reference scores the program 0; ``a if a < b else b`` gave mean(x), fitness 1."""
    gen = np.random.default_rng(5)
    x, xv = gen.normal(size=(20, 4)), gen.normal(size=(10, 4))
    y, yv = x.mean(axis=1), xv.mean(axis=1)   # what the program predicts without the NaN
    program = load_program(Path(__file__).parent / "data" / f"{name}.json")
    result = run(program, x, y, xv, yv, engine=engine, cache=kernel_cache)
    assert result.engine == engine
    assert result.fitness == 0.0
    assert result.train_steps == 1 and np.isnan(result.train_predictions).all()
