"""Tuning the constants of one fixed program: search, choose, report.

1. The program as it is (trial 0) and ``trials`` settings from the method's sampler are
   scored on the search tasks: each setting afresh (no FEC, no caches), every task with its
   own fixed random-op seed, so the scores of two settings are paired comparisons.  A
   program with random ops scores each task over ``draws`` random-op draws (their mean or
   worst, ``draw_combination``), so that no setting wins on one lucky draw.  With
   ``halving``, brackets of settings are halved over the tasks, optionally in Hyperband's
   brackets (``halving``).
2. The ``top`` settings scored on all search tasks, and the program as it is, are scored on
   the select tasks; the best there is chosen (the program as it is wins ties, so tuning
   never ships a setting the select tasks do not prefer).  Without select tasks the best
   search fitness is chosen.
3. The program before and after is scored on the final tasks.

Every score goes through ``evaluator.evaluate_on_tasks`` on the interpreter: each setting
changes the constants, which the compiled tier bakes into its kernel (a compile per setting).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from azcompile.eval_type import EvalType
from azcompile.liveness import canonical_hash
from azcompile.program import Program
from azcompile.rng import mix64

from ..engine.evaluator import evaluate_on_tasks, has_random_ops, reference_median
from . import halving, space
from .errors import TuneError
from .history import History, TuneOptions
from .methods import sampler

ENGINE = "interp"
_STREAMS = {"search": 1, "select": 2, "final": 3}


@dataclass
class TaskLists:
    """The tasks of a configuration, as the search builds them, and how it scores them."""

    search: list
    select: list = field(default_factory=list)
    final: list = field(default_factory=list)
    combination: str = "mean"
    max_abs_error: float = 100.0

    @property
    def eval_type(self) -> EvalType:
        return EvalType.of(self.search[0].eval_type)


@dataclass
class Scores:
    """One program's fitness on each task list (None: no such tasks)."""

    search: float
    select: float | None = None
    final: float | None = None
    final_per_task: list | None = None


@dataclass
class TuneResult:
    program: Program              # the tuned program (the input if nothing beat it)
    before: Scores
    after: Scores
    chosen: int                   # trial id (0: the program as it was)
    options: TuneOptions
    constants: list               # (label, instruction, value before, value after)
    runs: dict                    # task runs per phase: search, select, final
    draws: int                    # random-op draws per task score (1: no live random ops)
    trials: int                   # settings tried besides the program's own
    elapsed: float
    eval_type: EvalType

    def summary(self) -> dict:
        """Plain JSON for logs and the tuned program's meta."""
        return {"method": self.options.method, "trials": self.trials, "seed": self.options.seed,
                "halving": self.options.halving, "hyperband": self.options.hyperband,
                "decades": self.options.decades, "draws": self.options.draws,
                "draw_combination": self.options.draw_combination,
                "chosen_trial": self.chosen,
                "search_fitness": [self.before.search, self.after.search],
                "select_fitness": [self.before.select, self.after.select],
                "final_fitness": [self.before.final, self.after.final],
                "task_runs": dict(self.runs), "elapsed": round(self.elapsed, 3)}


def _seed(seed: int, stream: str, index: int = 0) -> int:
    """The random-op seed of one task list (or one search task): fixed for every setting."""
    x = np.uint64((seed * 0x9E3779B97F4A7C15 + _STREAMS[stream] * 0xBF58476D1CE4E5B9 + index)
                  % (1 << 64))
    return int(mix64(x))


def _clean(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0


class Tuner:
    def __init__(self, program: Program, tasks: TaskLists, history: History,
                 constants: list, options: TuneOptions):
        self.base = program
        self.tasks = tasks
        self.log = history
        self.found = constants
        self.options = options
        self.combine = ((lambda v: float(reference_median(np.array(v))))
                        if tasks.combination == "median" else (lambda v: float(np.mean(v))))

    # ---- scoring ----------------------------------------------------------------------------
    def program(self, trial: int) -> Program:
        return space.program_at(self.base, self.found, self.log.trials[trial]["point"])

    def search(self, trial: int, k: int) -> float:
        """Search fitness of ``trial`` on the first ``k`` search tasks (recorded ones reused)."""
        done = self.log.search_scores(trial)
        if len(done) < k:
            program = self.program(trial)
            for t in range(len(done), k):
                value, _ = self.evaluate(program, [self.tasks.search[t]],
                                         _seed(self.options.seed, "search", t))
                self.log.add_search_score(trial, _clean(value))
        return self.combine(self.log.search_scores(trial)[:k])

    def held_out(self, kind: str, trial: int) -> tuple[float, list]:
        tasks = getattr(self.tasks, kind)
        value, per_task = self.evaluate(self.program(trial), tasks,
                                        _seed(self.options.seed, kind))
        return _clean(value), [_clean(x) for x in per_task]

    def evaluate(self, program: Program, tasks: list, seed: int) -> tuple[float, list]:
        """Fitness on ``tasks`` (and per task), each task over the options' random-op draws."""
        return evaluate_on_tasks(program, tasks, seed=seed, engine_name=ENGINE,
                                 max_abs_error=self.tasks.max_abs_error,
                                 draws=self.options.draws,
                                 draw_combination=self.options.draw_combination)

    def select(self, trial: int) -> float:
        value = self.log.select_score(trial)
        if value is None:
            value, _ = self.held_out("select", trial)
            self.log.add_select_score(trial, value)
        return value

    # ---- the procedure ----------------------------------------------------------------------
    def run(self) -> TuneResult:
        n_tasks = len(self.tasks.search)
        opts = self.options
        if opts.halving and n_tasks < opts.eta:
            raise TuneError(f"--halving needs at least eta = {opts.eta} search tasks to halve "
                            f"over, the config has {n_tasks}; drop --halving or lower --eta")
        draw = sampler(opts.method, len(self.found), opts.trials, opts.seed)
        budget = opts.trials if draw.size is None else min(opts.trials, draw.size)
        self.log.trial(space.center(self.found))           # trial 0: the program as it is
        self.search(0, n_tasks)
        # cmaes tells whole generations: its brackets are one generation each
        size = draw.batch if opts.method == "cmaes" else None
        brackets = (halving.schedule(n_tasks, opts.eta, opts.hyperband, size) if opts.halving
                    else itertools.repeat((draw.batch, [n_tasks])))
        asked = 0
        while asked < budget:
            batch, counts = next(brackets)
            points = draw.ask(min(batch, budget - asked))
            ids = [self.log.trial(p) for p in points]
            values = halving.run_bracket(ids, counts, opts.eta, self.search)
            draw.tell(points, values)
            asked += len(points)
        self.log.save()
        chosen = self.choose(n_tasks)
        return self.report(chosen, budget)

    def choose(self, n_tasks: int) -> int:
        full = [i for i, t in enumerate(self.log.trials) if len(t["search"]) == n_tasks]
        ranked = sorted(full, key=lambda i: (-self.search(i, n_tasks), i))
        if not self.tasks.select:
            return ranked[0]
        candidates = sorted(set(ranked[:self.options.top]) | {0})
        best = min(candidates, key=lambda i: (-self.select(i), i))
        self.log.save()
        return best

    def report(self, chosen: int, trials: int) -> TuneResult:
        n_tasks = len(self.tasks.search)
        before, after = self.scores(0, n_tasks), self.scores(chosen, n_tasks)
        self.log.finish()
        point = self.log.trials[chosen]["point"]
        constants = [(c.label, c.instruction, c.value, c.at(u)) for c, u in zip(self.found, point)]
        noisy = has_random_ops(self.base, self.tasks.eval_type.task_mode)
        draws = self.options.draws if noisy else 1
        runs = {"search": draws * sum(len(t["search"]) for t in self.log.trials),
                "select": draws * len(self.log.doc["select"]) * len(self.tasks.select),
                "final": draws * len({0, chosen}) * len(self.tasks.final)}
        result = TuneResult(program=self.program(chosen), before=before, after=after,
                            chosen=chosen, options=self.options, constants=constants, runs=runs,
                            draws=draws, trials=trials, elapsed=self.log.elapsed(),
                            eval_type=self.tasks.eval_type)
        result.program = tuned_program(self.base, result)
        return result

    def scores(self, trial: int, n_tasks: int) -> Scores:
        out = Scores(self.search(trial, n_tasks))
        if self.tasks.select:
            out.select = self.select(trial)
        if self.tasks.final:
            out.final, out.final_per_task = self.held_out("final", trial)
        return out


def tuned_program(base: Program, result: TuneResult) -> Program:
    """The chosen setting with the input's meta, its tuning recorded, its hash renewed."""
    meta = dict(base.meta)
    meta["tuning"] = result.summary()
    if "canonical_hash" in meta:
        h = canonical_hash(result.program, result.eval_type.task_mode)
        meta["canonical_hash"] = f"{h:016x}"
    p = result.program
    return Program(p.setup, p.predict, p.learn, p.memory, meta)


def tune(program: Program, tasks: TaskLists, options: TuneOptions, history_path, *,
         fingerprint: str, resume: bool, what: str = "the program",
         checkpoint_seconds: float = 5.0) -> TuneResult:
    """Tune ``program``'s constants on ``tasks``; the record goes to ``history_path`` (with
    ``resume``: continued from there)."""
    found = space.require_constants(
        space.constants(program, tasks.eval_type.task_mode, options.decades), what)
    log = History(history_path, options, program, fingerprint, [c.label for c in found],
                  checkpoint_seconds)
    if resume:
        log.restore()
    try:
        return Tuner(program, tasks, log, found, options).run()
    finally:
        if log.dirty:
            log.save()
