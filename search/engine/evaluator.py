"""Fitness of a program on a collection of tasks, as the search computes it per child.

Per child, in order of cost:

1. canonical form and hash (dead code out, registers renamed); a hit in the fitness cache
   answers without executing anything (programs with random ops use the cache only with
   FEC on: without it the reference re-evaluates every child with fresh random numbers);
2. the optional static pre-filter: a prediction that cannot depend on the features or on
   anything learned scores 0 without running;
3. the reference's train budget (per-op cost vs. a baseline algorithm) may refuse a task;
4. per task, FEC: a 10+10-example probe whose errors fingerprint the behaviour; a hit in the
   FEC cache gives the task's fitness;
5. hurdles (optional): tasks that missed FEC first train on a fraction of their budget; a
   child whose estimate falls under the population's hurdle keeps that estimate;
6. full evaluation of the remaining tasks, combined by mean or median.

Everything runs in numba on arrays; ``Evaluator`` packs tasks and settings for it and
evaluates Python ``Program`` objects at the edges (select and final evaluation, the CLI).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import literally, njit

from azcompile import engine, interpreter
from azcompile.engine import call_literal
from azcompile.interpreter import evaluate_task
from azcompile.liveness import canonicalize, feature_dependent
from azcompile.ops import OP_ARRAYS
from azcompile.rng import mix64, next_u64

from .. import numba_cache  # noqa: F401  (numba's cache folder before our functions)
from ..data.tasks import stack
from . import fec
from .profile import P_CANONICAL, P_EVALUATION, cycles, new_profile

MEAN, MEDIAN = 0, 1
# ecfg: integer settings
E_COMBINE, E_FEC, E_FEC_TRAIN, E_FEC_VALID, E_FEC_FORGET, E_PREFILTER, E_BUDGET, E_HURDLE, \
    E_MODE, E_HURDLE_EVERY, E_SIZE = range(11)
# fcfg: float settings
F_MAX_ABS_ERROR, F_BUDGET_FACTOR, F_BUDGET_SETUP, F_BUDGET_STEP, F_HURDLE_FRACTION, \
    F_HURDLE_PERCENTILE, F_SIZE = range(7)
# stats counters
(S_INDIVIDUALS, S_TRAIN_STEPS, S_EXECUTED_STEPS, S_CANON_HITS, S_CANON_MISSES, S_FEC_HITS,
 S_FEC_MISSES, S_PREFILTERED, S_HURDLE_TESTS, S_HURDLE_STOPS, S_BUDGET_REJECTS,
 S_EVALUATIONS, S_SIZE) = range(13)
STAT_NAMES = ("individuals", "train_steps", "executed_train_steps", "canonical_hits",
              "canonical_misses", "fec_hits", "fec_misses", "prefiltered", "hurdle_tests",
              "hurdle_stops", "budget_rejects", "evaluations")
# hurdle state: current hurdle, then a ring of recent stage-1 estimates
H_VALUE, H_FILLED, H_POS, H_SINCE, H_HEADER = range(5)

_COST = OP_ARRAYS["cost"]
_RANDOM = OP_ARRAYS["is_random"]


@njit(cache=True)
def _program_cost(code, size, c):
    total = 0.0
    for i in range(size[c]):
        total += _COST[code[c, i, 0]]
    return total


@njit(cache=True)
def _canonical_streams(ccode, csize, stream):
    """In a canonical program every instruction is live: stream id = random-op ordinal."""
    k = 0
    for c in range(3):
        for i in range(csize[c]):
            if _RANDOM[ccode[c, i, 0]]:
                stream[c, i] = k
                k += 1
            else:
                stream[c, i] = -1
    return k > 0


@njit(cache=True)
def _combine(values, how):
    n = values.shape[0]
    if how == MEAN:
        total = 0.0
        for i in range(n):
            total += values[i]
        return total / n
    # The reference's median: element n // 2 of the sorted values (upper middle when even).
    return np.sort(values)[n // 2]


@njit(cache=True)
def _run_task(ws, tasks, t, n_steps, n_valid, n_record, seed, fcfg, F):
    """One executor run of the canonical program in ``ws`` on task ``t``."""
    xtr, ytr, xva, yva, order, meta = tasks
    s, v, m, tv, tm, ccode, cdata, csize, stream, train_err, valid_err, counters = ws[:12]
    return evaluate_task(ccode, cdata, stream, csize, xtr[t], ytr[t], order[t], meta[t, 0],
                         n_steps, xva[t], yva[t], n_valid, meta[t, 2], meta[t, 3], meta[t, 4],
                         fcfg[F_MAX_ABS_ERROR], seed, s, v, m, tv, tm, n_record, train_err,
                         valid_err, counters, ws[15], ws[15], F)


@njit(cache=True)
def _fitness_key(h, code, size, meta, ecfg, fcfg):
    """The fitness-cache key: the canonical hash and, with a train budget, which tasks the
    budget refuses.  The budget counts every instruction, dead code included (as the
    reference does), so two programs with one canonical form can get different fitness."""
    if ecfg[E_BUDGET] == 0:
        return h
    setup_cost = _program_cost(code, size, 0)
    step_cost = _program_cost(code, size, 1) + _program_cost(code, size, 2)
    key = mix64(h ^ np.uint64(0xB0D6E7))
    for t in range(meta.shape[0]):
        n_steps = meta[t, 1]
        allowed = fcfg[F_BUDGET_FACTOR] * (fcfg[F_BUDGET_SETUP] + n_steps * fcfg[F_BUDGET_STEP])
        refused = setup_cost + n_steps * step_cost > allowed
        key = mix64(key ^ np.uint64(2 * t + (1 if refused else 0)))
    return key


@njit(cache=True)
def _hurdle_observe(hurdle, estimate, every, percentile):
    """Record a stage-1 estimate; every ``every`` estimates (once the window is full), move
    the hurdle to the given percentile of the distinct recent estimates (So et al.'s
    progressive dynamic hurdles)."""
    window = hurdle.shape[0] - H_HEADER
    hurdle[H_HEADER + int(hurdle[H_POS])] = estimate
    hurdle[H_POS] = (hurdle[H_POS] + 1) % window
    hurdle[H_FILLED] = min(hurdle[H_FILLED] + 1, window)
    hurdle[H_SINCE] += 1
    if hurdle[H_SINCE] >= every and hurdle[H_FILLED] >= window:
        hurdle[H_SINCE] = 0
        values = np.unique(hurdle[H_HEADER:])
        k = int(np.floor(percentile / 100.0 * (values.shape[0] - 1)))
        hurdle[H_VALUE] = values[k]


@njit(cache=True)
def _charge(stats, steps):
    stats[S_TRAIN_STEPS] += steps
    stats[S_EXECUTED_STEPS] += steps


@njit(cache=True)
def _probe_and_budget(code, size, tasks, ws, fec_cache, ecfg, fcfg, stats, F):
    """Steps 3-4 for every task: fill ``fits`` where known, ``pending`` (the train budget of
    a needed full run) and ``keys`` (its FEC fingerprint).  Returns the number pending."""
    counters, fits, pending, keys = ws[11], ws[12], ws[13], ws[14]
    train_err, valid_err = ws[9], ws[10]
    meta = tasks[5]
    use_fec = ecfg[E_FEC] != 0
    setup_cost = _program_cost(code, size, 0)
    step_cost = _program_cost(code, size, 1) + _program_cost(code, size, 2)
    n_pending = 0
    for t in range(meta.shape[0]):
        n_steps = meta[t, 1]
        pending[t] = 0
        fits[t] = 0.0
        if ecfg[E_BUDGET] != 0:
            allowed = fcfg[F_BUDGET_FACTOR] * (fcfg[F_BUDGET_SETUP] + n_steps * fcfg[F_BUDGET_STEP])
            if setup_cost + n_steps * step_cost > allowed:
                stats[S_BUDGET_REJECTS] += 1
                continue                     # no training steps: fitness 0, as the reference
        if use_fec:
            probe = min(ecfg[E_FEC_TRAIN], n_steps)
            _run_task(ws, tasks, t, probe, min(ecfg[E_FEC_VALID], meta[t, 2]), 100,
                      np.uint64(fec.FEC_SEED), fcfg, F)
            _charge(stats, counters[2])
            keys[t] = fec.fingerprint(train_err, counters[0], valid_err, counters[1], t, n_steps)
            hit, cached = fec.lookup(fec_cache, keys[t], ecfg[E_FEC_FORGET])
            if hit:
                stats[S_FEC_HITS] += 1
                fits[t] = cached
                continue
            stats[S_FEC_MISSES] += 1
        pending[t] = n_steps
        n_pending += 1
    return n_pending


@njit(cache=True)
def _stage_one(tasks, ws, hurdle, ecfg, fcfg, stats, seed, F):
    """Hurdle stage 1: pending tasks train on a fraction of their budget.  Returns the
    combined estimate (known fitnesses for the other tasks)."""
    fits, pending = ws[12], ws[13]
    meta = tasks[5]
    estimate = fits.copy()
    for t in range(meta.shape[0]):
        if pending[t] > 0:
            short = max(1, int(pending[t] * fcfg[F_HURDLE_FRACTION]))
            estimate[t] = _run_task(ws, tasks, t, short, meta[t, 2], 0, seed, fcfg, F)
            _charge(stats, ws[11][2])
    guess = _combine(estimate, ecfg[E_COMBINE])
    stats[S_HURDLE_TESTS] += 1
    _hurdle_observe(hurdle, guess, ecfg[E_HURDLE_EVERY], fcfg[F_HURDLE_PERCENTILE])
    return guess


@njit(cache=True)
def evaluate_program(code, data, size, tasks, ws, fec_cache, canon_cache, hurdle, ecfg, fcfg,
                     stats, rng, S, V, M, F):
    """Fitness of the array-encoded program (code, data, size) on all tasks."""
    ccode, cdata, csize, stream = ws[5], ws[6], ws[7], ws[8]
    meta = tasks[5]
    use_fec = ecfg[E_FEC] != 0
    stats[S_INDIVIDUALS] += 1
    prof, t0 = ws[16], cycles()
    h = _fitness_key(canonicalize(code, data, size, ccode, cdata, csize, S, V, M, ecfg[E_MODE]),
                     code, size, meta, ecfg, fcfg)
    noisy = _canonical_streams(ccode, csize, stream)
    # Without FEC the reference evaluates every child afresh, so a program with random ops
    # gets new random numbers each time (quirk 8): only deterministic programs may answer from
    # the cache then.  With FEC a repeat is an FEC hit in the reference: the cache answers,
    # and its hit counter forgets after forget_every hits as FEC's does.
    cacheable = use_fec or not noisy
    if cacheable:
        found, value = fec.lookup(canon_cache, h, ecfg[E_FEC_FORGET] if noisy else 0)
        if found:
            prof[P_CANONICAL] += cycles() - t0
            stats[S_CANON_HITS] += 1
            for t in range(meta.shape[0]):  # charge what the reference would: a probe or a run
                full = meta[t, 1]
                stats[S_TRAIN_STEPS] += min(ecfg[E_FEC_TRAIN], full) if use_fec else full
            return value
    stats[S_CANON_MISSES] += 1
    t1 = cycles()
    prof[P_CANONICAL] += t1 - t0
    fitness = _evaluate_miss(code, data, size, tasks, ws, fec_cache, canon_cache, hurdle, ecfg,
                             fcfg, stats, rng, h, cacheable, S, V, M, F)
    prof[P_EVALUATION] += cycles() - t1
    return fitness


@njit(cache=True, inline="always")
def _evaluate_miss(code, data, size, tasks, ws, fec_cache, canon_cache, hurdle, ecfg, fcfg,
                   stats, rng, h, cacheable, S, V, M, F):
    """A canonical-cache miss: pre-filter, budget, FEC probe, hurdle, full evaluation."""
    ccode, csize = ws[5], ws[7]
    fits, pending, keys = ws[12], ws[13], ws[14]
    meta = tasks[5]
    use_fec = ecfg[E_FEC] != 0
    if ecfg[E_PREFILTER] != 0 and not feature_dependent(ccode, csize, S, V, ecfg[E_MODE]):
        stats[S_PREFILTERED] += 1
        if cacheable:
            fec.insert(canon_cache, h, 0.0)
        return 0.0
    stats[S_EVALUATIONS] += 1
    seed = next_u64(rng)   # random ops draw from the main stream's seed, like the reference
    n_pending = _probe_and_budget(code, size, tasks, ws, fec_cache, ecfg, fcfg, stats, F)
    if n_pending > 0 and ecfg[E_HURDLE] != 0:
        guess = _stage_one(tasks, ws, hurdle, ecfg, fcfg, stats, seed, F)
        if guess < hurdle[H_VALUE]:
            stats[S_HURDLE_STOPS] += 1
            if cacheable:
                fec.insert(canon_cache, h, guess)
            return guess
    for t in range(meta.shape[0]):
        if pending[t] > 0:
            fits[t] = _run_task(ws, tasks, t, pending[t], meta[t, 2], 0, seed, fcfg, F)
            _charge(stats, ws[11][2])
            if use_fec:
                fec.insert(fec_cache, keys[t], fits[t])
    fitness = _combine(fits, ecfg[E_COMBINE])
    if cacheable:
        fec.insert(canon_cache, h, fitness)
    return fitness


# ---- Python side ------------------------------------------------------------------------------

@dataclass
class EvalSettings:
    """How fitness is computed (the reference's evaluator, FEC and train-budget fields)."""

    combination: str = "mean"            # "mean" | "median"
    max_abs_error: float = 100.0
    fec: bool = False
    fec_train: int = 10
    fec_valid: int = 10
    fec_cache_size: int = 100_000
    fec_forget_every: int = 100
    canonical_cache_size: int = 1 << 18
    prefilter: bool = False
    budget: bool = False
    budget_factor: float = 2.0
    budget_setup_cost: float = 0.0       # the baseline algorithm's Setup cost
    budget_step_cost: float = 0.0        # the baseline's Predict + Learn cost per example
    hurdles: bool = False
    hurdle_fraction: float = 0.25
    hurdle_percentile: float = 75.0
    hurdle_every: int = 100
    hurdle_window: int = 1000

    def arrays(self, mode: int):
        ecfg = np.zeros(E_SIZE, dtype=np.int64)
        ecfg[E_COMBINE] = MEDIAN if self.combination == "median" else MEAN
        ecfg[E_FEC] = int(self.fec)
        ecfg[E_FEC_TRAIN] = self.fec_train
        ecfg[E_FEC_VALID] = self.fec_valid
        ecfg[E_FEC_FORGET] = self.fec_forget_every
        ecfg[E_PREFILTER] = int(self.prefilter)
        ecfg[E_BUDGET] = int(self.budget)
        ecfg[E_HURDLE] = int(self.hurdles)
        ecfg[E_MODE] = mode
        ecfg[E_HURDLE_EVERY] = self.hurdle_every
        fcfg = np.zeros(F_SIZE, dtype=np.float64)
        fcfg[F_MAX_ABS_ERROR] = self.max_abs_error
        fcfg[F_BUDGET_FACTOR] = self.budget_factor
        fcfg[F_BUDGET_SETUP] = self.budget_setup_cost
        fcfg[F_BUDGET_STEP] = self.budget_step_cost
        fcfg[F_HURDLE_FRACTION] = self.hurdle_fraction
        fcfg[F_HURDLE_PERCENTILE] = self.hurdle_percentile
        return ecfg, fcfg


def budget_costs(program) -> tuple[float, float]:
    """(Setup cost, Predict + Learn cost) of a baseline program, from the op cost table."""
    cost = OP_ARRAYS["cost"]
    setup = float(sum(cost[i.op.id] for i in program.setup))
    step = float(sum(cost[i.op.id] for i in program.predict) + sum(cost[i.op.id] for i in program.learn))
    return setup, step


def new_workspace(memory, capacity: int, n_tasks: int):
    """Buffers one evaluation needs: memory, the canonical program, FEC errors, per-task."""
    s, v, m, tv, tm = interpreter.workspace(memory.scalars, memory.vectors, memory.matrices,
                                            memory.features)
    return (s, v, m, tv, tm,
            np.zeros((3, capacity, 4), dtype=np.int32), np.zeros((3, capacity, 4)),
            np.zeros(3, dtype=np.int32), np.zeros((3, capacity), dtype=np.int32),
            np.zeros(100), np.zeros(100), np.zeros(3, dtype=np.int64),
            np.zeros(n_tasks), np.zeros(n_tasks, dtype=np.int64),
            np.zeros(n_tasks, dtype=np.uint64),
            np.zeros((0, 1)),  # no prediction recording in search
            new_profile())     # ws[16]: cycles per phase (search.profile)


def new_hurdle(window: int) -> np.ndarray:
    return np.zeros(H_HEADER + max(window, 2))


def stacked_tasks(tasks) -> tuple:
    st = stack(tasks)
    return (st["xtr"], st["ytr"], st["xva"], st["yva"], st["order"], st["meta"])


class Evaluator:
    """Search-style fitness of Python programs on a task collection (FEC, caches and all)."""

    def __init__(self, tasks, memory, settings: EvalSettings | None = None, capacity: int = 64,
                 seed: int = 0):
        from azcompile.rng import new_state

        self.tasks = tasks
        self.memory = memory
        self.settings = settings or EvalSettings()
        self.mode = engine.task_mode(tasks[0].eval_type)
        self.arrays = stacked_tasks(tasks)
        self.ecfg, self.fcfg = self.settings.arrays(self.mode)
        self.capacity = capacity
        self.ws = new_workspace(memory, capacity, len(tasks))
        self.fec_cache = fec.new_cache(self.settings.fec_cache_size)
        self.canon_cache = fec.new_cache(self.settings.canonical_cache_size)
        self.hurdle = new_hurdle(self.settings.hurdle_window)
        self.stats = np.zeros(S_SIZE, dtype=np.int64)
        self.rng = new_state(seed)

    def fitness(self, program) -> float:
        code, data, size = program.to_arrays(self.capacity)
        mem = self.memory
        return float(call_literal(evaluate_program_literal, (
            code, data, size, self.arrays, self.ws, self.fec_cache, self.canon_cache,
            self.hurdle, self.ecfg, self.fcfg, self.stats, self.rng,
            mem.scalars, mem.vectors, mem.matrices, mem.features)))


@njit(cache=True)
def evaluate_program_literal(code, data, size, tasks, ws, fec_cache, canon_cache, hurdle, ecfg,
                             fcfg, stats, rng, S, V, M, F):
    return evaluate_program(code, data, size, tasks, ws, fec_cache, canon_cache, hurdle, ecfg,
                            fcfg, stats, rng, S, V, M, literally(F))


def evaluate_on_tasks(program, tasks, *, seed: int, combination: str = "mean",
                      engine_name: str = "auto", max_abs_error: float = 100.0) -> tuple[float, list]:
    """Select/final evaluation: no FEC, no budget, a fresh random-op seed per task.

    Returns (combined fitness, per-task fitness).  Uses the engine API so large final
    evaluations can run compiled.
    """
    from azcompile.rng import mix64

    per_task = []
    for i, task in enumerate(tasks):
        task_seed = int(mix64(np.uint64((seed + 0x9E3779B97F4A7C15 * (i + 1)) % (1 << 64))))
        result = engine.run(program, task.x_train, task.y_train, task.x_valid, task.y_valid,
                            eval_type=task.eval_type, num_classes=task.num_classes,
                            epochs=task.epochs, order=task.order, seed=task_seed,
                            max_abs_error=max_abs_error, engine=engine_name)
        per_task.append(result.fitness)
    values = np.array(per_task)
    combined = float(np.sort(values)[len(values) // 2]) if combination == "median" else float(values.mean())
    return combined, per_task
