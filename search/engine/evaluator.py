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

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
from numba import njit

from azcompile import engine, interpreter
from azcompile.engine import call_compiled
from azcompile.eval_type import EvalType
from azcompile.kernel_args import (CALLS, LEARN_CALLS, STEPS_DONE, TRAIN_ERRORS_RECORDED,
                                   VALID_ERRORS_RECORDED, ProgramArrays, RunBatch, TaskBatch,
                                   new_record_batch, new_registers)
from azcompile.liveness import (SCALAR_TASK, canonicalize, dead_code_eliminated,
                                feature_dependent, fill_stream_ids)
from azcompile.ops import OP_ARRAYS
from azcompile.rng import mix64, new_state, next_u64

from .. import numba_cache  # noqa: F401  (numba's cache folder before our functions)
from ..data.tasks import stack
from . import fec
from .profile import P_CANONICAL, P_EVALUATION, cycles, new_profile

MEAN, MEDIAN = 0, 1
WORST = 2            # combining a task's fitness over random-op draws: the worst draw
# stats counters
(S_INDIVIDUALS, S_TRAIN_STEPS, S_EXECUTED_STEPS, S_CANON_HITS, S_CANON_MISSES, S_FEC_HITS,
 S_FEC_MISSES, S_PREFILTERED, S_HURDLE_TESTS, S_HURDLE_STOPS, S_BUDGET_REJECTS,
 S_EVALUATIONS, S_INSTRUCTIONS, S_SIZE) = range(14)
STAT_NAMES = ("individuals", "train_steps", "executed_train_steps", "canonical_hits",
              "canonical_misses", "fec_hits", "fec_misses", "prefiltered", "hurdle_tests",
              "hurdle_stops", "budget_rejects", "evaluations", "executed_instructions")
# hurdle state: current hurdle, then a ring of recent stage-1 estimates
H_VALUE, H_FILLED, H_POS, H_SINCE, H_HEADER = range(5)
FEC_ERRORS = 100     # errors of each kind the FEC probe may record (the reference's cap)

_COST = OP_ARRAYS["cost"]

# ---- the bundles the search kernels take (named tuples: numba reads fields by name) -----

# The search's tasks, padded to common shapes (kernel_args.TaskBatch: the interpreter
# takes them whole).
TaskSet = TaskBatch

# EvalSettings as the kernels read it, with the programs' memory sizes (register counts)
# and the task mode (liveness SCALAR_TASK / VECTOR_TASK) that canonicalisation needs.
KernelSettings = namedtuple("KernelSettings", "combination fec fec_train fec_valid "
                                              "fec_forget_every prefilter budget budget_factor "
                                              "budget_setup_cost budget_step_cost hurdles "
                                              "hurdle_fraction hurdle_percentile hurdle_every "
                                              "max_abs_error task_mode scalars vectors matrices "
                                              "random_draws draw_combination")

# Buffers one evaluation reuses: the program's memory, the canonical form of the program
# being evaluated (code, data, size) with its random-op stream ids and an all-live mask to
# number them with (every canonical instruction is live), per task the FEC probe's recorded
# errors and the run counters (kernel_args.RecordBatch), the fitness, the train budget of a
# pending full run, the FEC fingerprint, the train steps and validation examples of the
# runs about to be made (-1 steps: no run), a probe's fitness, one random-op draw's fitness
# (when a program's fitness combines several draws), and the cycles spent per phase
# (search.profile).
Workspace = namedtuple("Workspace", "registers canonical stream all_live records task_fitness "
                                    "pending_steps fec_keys run_steps run_valid probe_fitness "
                                    "draw_fitness profile")
ProgramBuffers = namedtuple("ProgramBuffers", "code data size")


def blank_program(capacity: int) -> ProgramBuffers:
    """An empty program's buffers, ``capacity`` instruction slots per component."""
    return ProgramBuffers(np.zeros((3, capacity, 4), np.int32), np.zeros((3, capacity, 4)),
                          np.zeros(3, np.int32))

# What persists between children: the FEC cache (fingerprint -> per-task fitness), the
# canonical cache (canonical hash -> fitness) and the hurdle state.
Caches = namedtuple("Caches", "fec canonical hurdle")

# Everything the fitness of a program needs besides the program itself; ``kernel`` is the
# interpreter for the search's op set and feature size, as a pointer
# (azcompile.kernel_pointer): the search loop is compiled once, whatever the config.
Evaluation = namedtuple("Evaluation", "tasks workspace caches settings stats rng kernel")


@njit(cache=True)
def _program_cost(code, size, c):
    total = 0.0
    for i in range(size[c]):
        total += _COST[code[c, i, 0]]
    return total


@njit(cache=True)
def _program_costs(code, size):
    """(Setup cost, Predict + Learn cost per step) from the op cost table; dead code counts
    as in the reference."""
    return _program_cost(code, size, 0), _program_cost(code, size, 1) + _program_cost(code, size, 2)


@njit(cache=True, inline="always")
def _budget_refuses(costs, n_steps, settings):
    """The reference's train budget: a program may cost at most ``budget_factor`` times the
    baseline algorithm on a task of ``n_steps`` steps."""
    setup_cost, step_cost = costs
    allowed = settings.budget_factor * (settings.budget_setup_cost
                                        + n_steps * settings.budget_step_cost)
    return setup_cost + n_steps * step_cost > allowed


@njit(cache=True)
def reference_median(values):
    """The reference's median: element n // 2 of the sorted values (upper middle when even)."""
    return np.sort(values)[values.shape[0] // 2]


@njit(cache=True)
def _combine(values, how):
    if how == MEDIAN:
        return reference_median(values)
    total = 0.0
    for i in range(values.shape[0]):
        total += values[i]
    return total / values.shape[0]


# The kernels below read the arrays they need straight out of the bundles, never a whole
# sub-bundle into a variable: each array read out of a bundle costs a reference-count update
# that numba removes only when the variable dies in the same block (measured in the demo's
# profile: whole sub-bundles in evaluate_program alone cost ~0.3 us per child, 1%).

# Inlined, as _charge is: a numba call that takes the whole Evaluation passes each of its
# ~40 arrays as seven machine words, which costs more than the call does.
@njit(cache=True, inline="always")
def _run_tasks(program, evaluation, n_record, seed, fitness):
    """One executor run of ``program`` (the canonical form, with stream ids) on each task t
    with ``run_steps[t]`` >= 0 train steps and ``run_valid[t]`` validation examples, in one
    call of the interpreter (a call through its pointer costs ~100 ns: one per task would be
    ~1.5 us per child); fitness into ``fitness[t]``."""
    ws = evaluation.workspace
    runs = RunBatch(ws.run_steps, ws.run_valid, evaluation.settings.max_abs_error, seed,
                    n_record)
    evaluation.kernel(program, evaluation.tasks, runs, ws.registers, ws.records, fitness)


@njit(cache=True)
def _fitness_key(h, code, size, max_steps, settings):
    """The fitness-cache key: the canonical hash and, with a train budget, which tasks the
    budget refuses.  The budget counts every instruction, dead code included (as the
    reference does), so two programs with one canonical form can get different fitness."""
    if not settings.budget:
        return h
    costs = _program_costs(code, size)
    key = mix64(h ^ np.uint64(0xB0D6E7))
    for t in range(max_steps.shape[0]):
        refused = _budget_refuses(costs, max_steps[t], settings)
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


@njit(cache=True, inline="always")
def _charge(evaluation, t):
    """Count the steps and the instructions of task ``t``'s run that just finished (the
    canonical form's: dead code is never executed)."""
    stats, counters = evaluation.stats, evaluation.workspace.records.counters
    size = evaluation.workspace.canonical.size
    steps, learns = counters[t, STEPS_DONE], counters[t, LEARN_CALLS]
    stats[S_TRAIN_STEPS] += steps
    stats[S_EXECUTED_STEPS] += steps
    predicts = counters[t, CALLS] - 1 - learns         # one call was Setup
    stats[S_INSTRUCTIONS] += size[0] + predicts * size[1] + learns * size[2]


@njit(cache=True)
def _probe_and_budget(code, size, program, evaluation):
    """Steps 3-4 for every task: fill ``task_fitness`` where known, ``pending_steps`` (the
    train budget of a needed full run) and ``fec_keys`` (its FEC fingerprint).  Returns the
    number pending."""
    settings, stats = evaluation.settings, evaluation.stats
    max_steps, n_valid = evaluation.tasks.max_steps, evaluation.tasks.n_valid
    ws = evaluation.workspace
    fits, pending, steps, valid = ws.task_fitness, ws.pending_steps, ws.run_steps, ws.run_valid
    keys, fec_cache = ws.fec_keys, evaluation.caches.fec
    train_errors, valid_errors = ws.records.train_errors, ws.records.valid_errors
    counters = ws.records.counters
    costs = _program_costs(code, size)
    for t in range(max_steps.shape[0]):
        pending[t] = 0
        fits[t] = 0.0
        steps[t] = -1
        if settings.budget and _budget_refuses(costs, max_steps[t], settings):
            stats[S_BUDGET_REJECTS] += 1
            continue                     # no training steps: fitness 0, as the reference
        if settings.fec:
            steps[t] = min(settings.fec_train, max_steps[t])
            valid[t] = min(settings.fec_valid, n_valid[t])
        else:
            pending[t] = max_steps[t]
    if not settings.fec:
        return _count_pending(pending)
    # The probes of every task, then their fingerprints and lookups in task order (as the
    # reference's per-task order: the probes touch no cache).
    _run_tasks(program, evaluation, FEC_ERRORS, np.uint64(fec.FEC_SEED), ws.probe_fitness)
    for t in range(max_steps.shape[0]):
        if steps[t] < 0:
            continue
        _charge(evaluation, t)
        keys[t] = fec.fingerprint(train_errors[t], counters[t, TRAIN_ERRORS_RECORDED],
                                  valid_errors[t], counters[t, VALID_ERRORS_RECORDED], t,
                                  max_steps[t])
        hit, cached = fec.lookup(fec_cache, keys[t], settings.fec_forget_every)
        if hit:
            stats[S_FEC_HITS] += 1
            fits[t] = cached
            continue
        stats[S_FEC_MISSES] += 1
        pending[t] = max_steps[t]
    return _count_pending(pending)


@njit(cache=True, inline="always")
def _count_pending(pending):
    n = 0
    for t in range(pending.shape[0]):
        if pending[t] > 0:
            n += 1
    return n


@njit(cache=True, inline="always")
def _plan_runs(evaluation, fraction):
    """Runs of the pending tasks: ``fraction`` of each one's budget (at least one step; 1.0:
    the whole), all of its validation examples."""
    ws, n_valid = evaluation.workspace, evaluation.tasks.n_valid
    for t in range(ws.pending_steps.shape[0]):
        ws.run_valid[t] = n_valid[t]
        if ws.pending_steps[t] <= 0:
            ws.run_steps[t] = -1
        elif fraction < 1.0:
            ws.run_steps[t] = max(1, int(ws.pending_steps[t] * fraction))
        else:
            ws.run_steps[t] = ws.pending_steps[t]


@njit(cache=True)
def _stage_one(program, evaluation, seed):
    """Hurdle stage 1: pending tasks train on a fraction of their budget.  Returns the
    combined estimate (known fitnesses for the other tasks)."""
    settings = evaluation.settings
    estimate = evaluation.workspace.task_fitness.copy()
    _plan_runs(evaluation, settings.hurdle_fraction)
    _run_tasks(program, evaluation, 0, seed, estimate)
    _charge_runs(evaluation)
    guess = _combine(estimate, settings.combination)
    evaluation.stats[S_HURDLE_TESTS] += 1
    _hurdle_observe(evaluation.caches.hurdle, guess, settings.hurdle_every,
                    settings.hurdle_percentile)
    return guess


@njit(cache=True)
def evaluate_program(code, data, size, evaluation):
    """Fitness of the array-encoded program (code, data, size) on all tasks."""
    settings, stats = evaluation.settings, evaluation.stats
    ccode, cdata = evaluation.workspace.canonical.code, evaluation.workspace.canonical.data
    csize, max_steps = evaluation.workspace.canonical.size, evaluation.tasks.max_steps
    stats[S_INDIVIDUALS] += 1
    prof, t0 = evaluation.workspace.profile, cycles()
    h = _fitness_key(canonicalize(code, data, size, ccode, cdata, csize, settings.scalars,
                                  settings.vectors, settings.matrices, settings.task_mode),
                     code, size, max_steps, settings)
    stream = evaluation.workspace.stream
    noisy = fill_stream_ids(ccode, csize, evaluation.workspace.all_live, stream) > 0
    # Without FEC the reference evaluates every child afresh, so a program with random ops
    # gets new random numbers each time (quirk 8): only deterministic programs may answer from
    # the cache then.  With FEC a repeat is an FEC hit in the reference: the cache answers,
    # and its hit counter forgets after forget_every hits as FEC's does.
    cacheable = settings.fec or not noisy
    if cacheable:
        found, value = fec.lookup(evaluation.caches.canonical, h,
                                  settings.fec_forget_every if noisy else 0)
        if found:
            prof[P_CANONICAL] += cycles() - t0
            stats[S_CANON_HITS] += 1
            for t in range(max_steps.shape[0]):  # charge what the reference would:
                full = max_steps[t]              # a probe or a run
                stats[S_TRAIN_STEPS] += min(settings.fec_train, full) if settings.fec else full
            return value
    stats[S_CANON_MISSES] += 1
    t1 = cycles()
    prof[P_CANONICAL] += t1 - t0
    program = ProgramArrays(ccode, cdata, stream, csize)
    fitness = _evaluate_miss(code, size, program, evaluation, h, cacheable, noisy)
    prof[P_EVALUATION] += cycles() - t1
    return fitness


@njit(cache=True)
def behaviour_signature(code, data, size, evaluation):
    """The program's behaviour fingerprint for speciation (``speciation = "fec"``): the FEC
    key of its probe on the first task (``fec_train`` steps, ``fec_valid`` examples, the FEC
    seed), whether or not the search uses FEC.  Draws no random numbers and counts no
    statistics, so it changes nothing else about a run."""
    settings, ws = evaluation.settings, evaluation.workspace
    ccode, cdata, csize = ws.canonical.code, ws.canonical.data, ws.canonical.size
    canonicalize(code, data, size, ccode, cdata, csize, settings.scalars, settings.vectors,
                 settings.matrices, settings.task_mode)
    fill_stream_ids(ccode, csize, ws.all_live, ws.stream)
    max_steps = evaluation.tasks.max_steps
    ws.run_steps[:] = -1
    ws.run_steps[0] = min(settings.fec_train, max_steps[0])
    ws.run_valid[0] = min(settings.fec_valid, evaluation.tasks.n_valid[0])
    _run_tasks(ProgramArrays(ccode, cdata, ws.stream, csize), evaluation, FEC_ERRORS,
               np.uint64(fec.FEC_SEED), ws.probe_fitness)
    counters = ws.records.counters
    return fec.fingerprint(ws.records.train_errors[0], counters[0, TRAIN_ERRORS_RECORDED],
                           ws.records.valid_errors[0], counters[0, VALID_ERRORS_RECORDED], 0,
                           max_steps[0])


@njit(cache=True, inline="always")
def _charge_runs(evaluation):
    """Charge the runs ``_plan_runs`` planned and ``_run_tasks`` just made."""
    run_steps = evaluation.workspace.run_steps
    for t in range(run_steps.shape[0]):
        if run_steps[t] >= 0:
            _charge(evaluation, t)


@njit(cache=True)
def _more_draws(program, evaluation):
    """Honest fitness for a program with live random ops: the full runs again on
    ``random_draws - 1`` more random-op seeds (from the main stream), each task's fitness
    the mean or the worst over all draws, so that no winner rests on one lucky draw."""
    settings, ws = evaluation.settings, evaluation.workspace
    fits, draw, pending = ws.task_fitness, ws.draw_fitness, ws.pending_steps
    worst = settings.draw_combination == WORST
    for _ in range(settings.random_draws - 1):
        _run_tasks(program, evaluation, 0, next_u64(evaluation.rng), draw)
        _charge_runs(evaluation)
        for t in range(pending.shape[0]):
            if pending[t] > 0:
                fits[t] = min(fits[t], draw[t]) if worst else fits[t] + draw[t]
    if not worst:
        for t in range(pending.shape[0]):
            if pending[t] > 0:
                fits[t] /= settings.random_draws


@njit(cache=True, inline="always")
def _evaluate_miss(code, size, program, evaluation, h, cacheable, noisy):
    """A canonical-cache miss: pre-filter, budget, FEC probe, hurdle, full evaluation.
    ``code``/``size`` are the program as evaluated (the budget counts its dead code),
    ``program`` its canonical form."""
    settings, stats = evaluation.settings, evaluation.stats
    fits, pending = evaluation.workspace.task_fitness, evaluation.workspace.pending_steps
    keys, canon_cache = evaluation.workspace.fec_keys, evaluation.caches.canonical
    if settings.prefilter and not feature_dependent(program.code, program.size, settings.scalars,
                                                    settings.vectors, settings.task_mode):
        stats[S_PREFILTERED] += 1
        if cacheable:
            fec.insert(canon_cache, h, 0.0)
        return 0.0
    stats[S_EVALUATIONS] += 1
    seed = next_u64(evaluation.rng)   # random ops draw from the main stream's seed, like the reference
    n_pending = _probe_and_budget(code, size, program, evaluation)
    if n_pending > 0 and settings.hurdles:
        guess = _stage_one(program, evaluation, seed)
        if guess < evaluation.caches.hurdle[H_VALUE]:
            stats[S_HURDLE_STOPS] += 1
            if cacheable:
                fec.insert(canon_cache, h, guess)
            return guess
    _plan_runs(evaluation, 1.0)
    _run_tasks(program, evaluation, 0, seed, fits)
    _charge_runs(evaluation)
    if noisy and settings.random_draws > 1:
        _more_draws(program, evaluation)
    for t in range(pending.shape[0]):
        if pending[t] > 0:
            if settings.fec:
                fec.insert(evaluation.caches.fec, keys[t], fits[t])
    fitness = _combine(fits, settings.combination)
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
    random_draws: int = 1                # random-op seeds a program with live random ops runs on
    draw_combination: str = "mean"       # "mean" | "worst": a task's fitness over those draws

    def bundle(self, mode: int, memory) -> KernelSettings:
        """These settings as the kernels take them, for programs of ``memory`` on tasks of
        ``mode`` (liveness SCALAR_TASK / VECTOR_TASK)."""
        return KernelSettings(
            combination=MEDIAN if self.combination == "median" else MEAN, fec=bool(self.fec),
            fec_train=int(self.fec_train), fec_valid=int(self.fec_valid),
            fec_forget_every=int(self.fec_forget_every), prefilter=bool(self.prefilter),
            budget=bool(self.budget), budget_factor=float(self.budget_factor),
            budget_setup_cost=float(self.budget_setup_cost),
            budget_step_cost=float(self.budget_step_cost), hurdles=bool(self.hurdles),
            hurdle_fraction=float(self.hurdle_fraction),
            hurdle_percentile=float(self.hurdle_percentile), hurdle_every=int(self.hurdle_every),
            max_abs_error=float(self.max_abs_error), task_mode=int(mode),
            scalars=int(memory.scalars), vectors=int(memory.vectors),
            matrices=int(memory.matrices), random_draws=int(self.random_draws),
            draw_combination=WORST if self.draw_combination == "worst" else MEAN)


def budget_costs(program) -> tuple[float, float]:
    """(Setup cost, Predict + Learn cost) of a baseline program, from the op cost table."""
    code, _data, size = program.to_arrays()
    return _program_costs(code, size)


def new_workspace(memory, capacity: int, n_tasks: int) -> Workspace:
    """Buffers one evaluation needs: memory, the canonical program, FEC errors, per-task."""
    canonical = ProgramBuffers(np.zeros((3, capacity, 4), dtype=np.int32),
                               np.zeros((3, capacity, 4)), np.zeros(3, dtype=np.int32))
    return Workspace(
        registers=new_registers(memory.scalars, memory.vectors, memory.matrices, memory.features),
        canonical=canonical, stream=np.full((3, capacity), -1, dtype=np.int32),
        all_live=np.ones((3, capacity), dtype=np.bool_),
        records=new_record_batch(n_tasks, FEC_ERRORS),    # no prediction recording in search
        task_fitness=np.zeros(n_tasks), pending_steps=np.zeros(n_tasks, dtype=np.int64),
        fec_keys=np.zeros(n_tasks, dtype=np.uint64),
        run_steps=np.zeros(n_tasks, dtype=np.int64), run_valid=np.zeros(n_tasks, dtype=np.int64),
        probe_fitness=np.zeros(n_tasks), draw_fitness=np.zeros(n_tasks), profile=new_profile())


def new_hurdle(window: int) -> np.ndarray:
    return np.zeros(H_HEADER + max(window, 2))


def new_caches(settings: EvalSettings) -> Caches:
    return Caches(fec=fec.new_cache(settings.fec_cache_size),
                  canonical=fec.new_cache(settings.canonical_cache_size),
                  hurdle=new_hurdle(settings.hurdle_window))


def new_stats() -> np.ndarray:
    return np.zeros(S_SIZE, dtype=np.int64)


def task_set(tasks) -> TaskSet:
    """The tasks as padded arrays (data.tasks.stack), with its per-task numbers by name."""
    st = stack(tasks)
    meta = st["meta"]      # n_unique, max_steps, n_valid, eval_type, K, epochs

    def column(k):
        return np.ascontiguousarray(meta[:, k])

    return TaskSet(st["xtr"], st["ytr"], st["xva"], st["yva"], st["order"], n_train=column(0),
                   max_steps=column(1), n_valid=column(2), eval_type=column(3),
                   num_classes=column(4))


def new_evaluation(tasks, memory, settings: EvalSettings, capacity: int, seed: int,
                   op_ids=None) -> Evaluation:
    """What a search (an island, or an ``Evaluator``) evaluates its programs with: the tasks,
    fresh buffers and caches, zeroed statistics, a random stream from ``seed``, and the
    interpreter for ``op_ids`` (the config's ops; None: every op) and the feature size."""
    mode = EvalType.of(tasks[0].eval_type).task_mode
    return Evaluation(tasks=task_set(tasks), workspace=new_workspace(memory, capacity, len(tasks)),
                      caches=new_caches(settings), settings=settings.bundle(mode, memory),
                      stats=new_stats(), rng=new_state(seed),
                      kernel=interpreter.evaluate_tasks_pointer(op_ids, memory.features))


class Evaluator:
    """Search-style fitness of Python programs on a task collection (FEC, caches and all).

    ``op_ids``: the ops the programs may hold (the interpreter is generated for them); None
    means every op."""

    def __init__(self, tasks, memory, settings: EvalSettings | None = None, capacity: int = 64,
                 seed: int = 0, op_ids=None):
        self.tasks = tasks
        self.memory = memory
        self.settings = settings or EvalSettings()
        self.capacity = capacity
        self.op_ids = None if op_ids is None else frozenset(op_ids)
        self.evaluation = new_evaluation(tasks, memory, self.settings, capacity, seed, op_ids)

    @property
    def stats(self) -> np.ndarray:
        return self.evaluation.stats

    def fitness(self, program) -> float:
        if self.op_ids is not None:
            engine.check_ops(program, self.op_ids)
        code, data, size = program.to_arrays(self.capacity)
        return float(call_compiled(evaluate_program, (code, data, size, self.evaluation)))


def has_random_ops(program, task_mode: int = SCALAR_TASK) -> bool:
    """Whether ``program``'s live code (on tasks of ``task_mode``) draws random numbers: its
    fitness then depends on the seed.  Dead random ops do not count, as in the search kernel."""
    live = dead_code_eliminated(program, task_mode)
    return any(ins.op.is_random for comp in live.components for ins in comp)


def draw_seed(seed: int, task: int, draw: int) -> int:
    """The random-op seed of a task's draw (draw 0: the seed a single-draw run uses)."""
    task_seed = int(mix64(np.uint64((seed + 0x9E3779B97F4A7C15 * (task + 1)) % (1 << 64))))
    if draw == 0:
        return task_seed
    return int(mix64(np.uint64((task_seed + 0xD1B54A32D192ED03 * draw) % (1 << 64))))


def task_draws(program, tasks, *, seed: int, draws: int = 1, engine_name: str = "auto",
               max_abs_error: float = 100.0, op_ids=None) -> np.ndarray:
    """Fitness per (task, random-op draw), shape (len(tasks), draws): no FEC, no budget.

    A program without random ops runs once per task (its draws would be equal).  Uses the
    engine API so large evaluations can run compiled.  ``op_ids``: the interpreter's op set
    (a search passes its own, already compiled); None: the program's own ops (a small
    interpreter, compiled once per op set: ``azc evaluate`` and ``azc tune`` never wait for
    the 65-op one)."""
    if op_ids is None:
        op_ids = interpreter.op_ids_of((), program)
    noisy = bool(tasks) and has_random_ops(program, EvalType.of(tasks[0].eval_type).task_mode)
    runs = draws if noisy else 1
    out = np.empty((len(tasks), draws))
    for i, task in enumerate(tasks):
        for d in range(runs):
            out[i, d] = engine.run(
                program, task.x_train, task.y_train, task.x_valid, task.y_valid,
                eval_type=task.eval_type, num_classes=task.num_classes, epochs=task.epochs,
                order=task.order, seed=draw_seed(seed, i, d), max_abs_error=max_abs_error,
                engine=engine_name, ops=op_ids).fitness
        out[i, runs:] = out[i, 0]
    return out


# How select/final evaluation and tuning combine a task's draws; the search kernel does
# the first and the last (MEAN / WORST).
DRAW_COMBINATIONS = ("mean", "median", "worst")
KERNEL_DRAW_COMBINATIONS = ("mean", "worst")


def combine_draws(per_draw: np.ndarray, how: str = "mean") -> np.ndarray:
    """Each task's fitness over its draws: the mean, the median (what a typical draw gives:
    a minority of failed draws does not sink it) or the worst draw."""
    if how == "worst":
        return per_draw.min(axis=1)
    return np.median(per_draw, axis=1) if how == "median" else per_draw.mean(axis=1)


def combine_tasks(per_task, combination: str = "mean") -> float:
    values = np.asarray(per_task, dtype=float)
    return float(reference_median(values) if combination == "median" else values.mean())


def evaluate_on_tasks(program, tasks, *, seed: int, combination: str = "mean",
                      engine_name: str = "auto", max_abs_error: float = 100.0,
                      op_ids=None, draws: int = 1, draw_combination: str = "mean"
                      ) -> tuple[float, list]:
    """Select/final evaluation (``task_draws``): returns (combined fitness, per-task
    fitness), a task's fitness combining its ``draws`` random-op draws."""
    per_draw = task_draws(program, tasks, seed=seed, draws=draws, engine_name=engine_name,
                          max_abs_error=max_abs_error, op_ids=op_ids)
    per_task = combine_draws(per_draw, draw_combination)
    return combine_tasks(per_task, combination), [float(x) for x in per_task]
