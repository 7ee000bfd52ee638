"""The experiment driver: the reference's run_search_experiment, resumable.

Experiments repeat until the best candidate's select fitness exceeds ``sufficient_fitness``
(or ``max_experiments`` is reached).  Each experiment initialises a population, evolves it
until its train-step budget is spent (checked between sweeps, as the reference does), takes
the best of the final population as its candidate and scores it on the select tasks.  The
best candidate is then scored on the final tasks.  With ``early_select`` a candidate is
checked on the select tasks as soon as its search fitness passes ``sufficient_fitness``.

State lives in plain attributes and numpy arrays so a checkpoint at any batch boundary
restores the run exactly.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from azcompile.program import Program, ProgramError
from azcompile.rng import new_state, next_u64

from ..data.tasks import TaskSpec, randomized_seeds
from ..engine import evaluator as E
from ..engine import validate
from ..engine.island import Island
from ..engine.mutator import MutatorSpec
from ..engine.population import check_instructions
from ..engine.profile import WallClock
from . import checkpoint as ckpt
from . import config as config_mod
from . import initial
from .checkpoint import CheckpointError
from .config import Config, ConfigError, build_task_list
from .lineage import Lineage
from .rundir import RunDir, RunDirError

PHASES = ("start", "init", "evolve", "final")      # of an unfinished run ("done" when finished)


@dataclass
class RunOptions:
    out: Path
    seed: int | None = None                # on resume: must be the run's
    resume: bool = False
    workers: int | None = None             # None: the config's (new run) or the run's (resume)
    engine: str | None = None              # select/final engine (default: the config's)
    max_seconds: float | None = None       # limits: on resume, None keeps the run's own
    max_individuals: int | None = None
    checkpoint_seconds: float | None = None
    config_arg: str | None = None          # CONFIG as the user named it (for suggested commands)
    progress: Callable[["Snapshot"], None] | None = None
    on_event: Callable[[dict], None] | None = None
    on_warning: Callable[[str], None] | None = None  # one line for the user (stderr)
    should_stop: Callable[[], bool] | None = None    # e.g. Ctrl-C was pressed


@dataclass
class Snapshot:
    """What the progress display shows."""

    experiment: int
    individuals: int
    total_individuals: int
    elapsed: float
    rate: float
    mean: float
    stdev: float
    best: float
    best_select: float | None
    canonical_hit_rate: float
    fec_hit_rate: float
    prefiltered: int
    hurdle_stop_rate: float
    phase: str
    extra: dict = field(default_factory=dict)


def eval_settings(cfg: Config) -> E.EvalSettings:
    fec_cfg, hurdles, budget = cfg.fec, cfg.hurdles, cfg.train_budget
    s = E.EvalSettings(combination=cfg.evolution["fitness_combination"],
                       max_abs_error=cfg.evolution["max_abs_error"],
                       prefilter=cfg.evolution["prefilter"])
    if fec_cfg:
        s.fec = True
        s.fec_train = fec_cfg["num_train_examples"]
        s.fec_valid = fec_cfg["num_valid_examples"]
        s.fec_cache_size = fec_cfg["cache_size"]
        s.fec_forget_every = fec_cfg["forget_every"]
    if hurdles:
        s.hurdles = True
        s.hurdle_fraction = hurdles["train_fraction"]
        s.hurdle_percentile = hurdles["percentile"]
        s.hurdle_every = hurdles["update_every"]
        s.hurdle_window = hurdles["window"]
    if budget:
        init, _, _ = cfg.size_bounds()
        base = initial.build(budget["baseline"], cfg.memory, init)
        s.budget = True
        s.budget_factor = budget["threshold_factor"]
        s.budget_setup_cost, s.budget_step_cost = E.budget_costs(base)
    return s


def mutator_spec(cfg: Config) -> MutatorSpec:
    init, low, high = cfg.size_bounds()
    m = cfg.memory
    return MutatorSpec.build(cfg.ops, cfg.evolution["mutations"], low, high,
                             [m.scalars, m.vectors, m.matrices], cfg.evolution["mutate_prob"])


class Search:
    """One search run in one run directory."""

    def __init__(self, cfg: Config, options: RunOptions):
        self.cfg = cfg
        self.opts = options
        self.run_dir = RunDir(options.out, resume=options.resume, config_arg=options.config_arg)
        self.run_dir.listener = options.on_event
        self.interrupted = False
        run = cfg.run
        self.seed = run["seed"] if options.seed is None else options.seed
        self.batch_size = min(run["batch_size"], cfg.evolution["population_size"])
        self.checkpoint_seconds = (run["checkpoint_seconds"] if options.checkpoint_seconds is None
                                   else options.checkpoint_seconds)
        self.max_seconds = options.max_seconds if options.max_seconds is not None else run["max_seconds"]
        self.max_individuals = (options.max_individuals if options.max_individuals is not None
                                else run["max_individuals"])
        self.engine = options.engine or cfg.experiment["select_engine"]
        self.settings = eval_settings(cfg)
        self.mutator = mutator_spec(cfg)
        init_sizes, _, _ = cfg.size_bounds()
        self.init_program = initial.build(cfg.evolution["initial_population"], cfg.memory, init_sizes)
        self.select_tasks = None
        self.final_tasks = build_task_list(cfg.final_tasks, "final_tasks") if cfg.final_tasks else []
        # run state (checkpointed)
        self.rng = new_state(self.seed)
        self.experiment = 0
        self.phase = "start"
        self.search_specs: list[TaskSpec] = list(cfg.search_tasks)
        self.last_progress = -1
        self.best_search = -1.0
        self.early_checked = -1.0
        self.best: dict | None = None
        self.total_individuals = 0
        self.elapsed_before = 0.0
        self.islands: list = []
        self.lineages: list[Lineage] = []
        self.workers = _resolve_workers(cfg.run["workers"] if options.workers is None
                                        else options.workers)
        self.config_doc = ckpt.config_document(cfg)
        self.migrations = 0
        self.done = False
        self.result: dict = {}

    # ---- main loop ---------------------------------------------------------------------------
    def run(self) -> dict:
        self.run_dir.open()
        try:
            self.started = time.monotonic()
            if self.opts.resume:
                self._restore()
            else:
                self._begin()
            self.last_checkpoint = time.monotonic()
            while not self.done:
                self._step()
                if self.opts.should_stop and self.opts.should_stop() and not self.done:
                    self.interrupted = True
                    break
                if not self.done and time.monotonic() - self.last_checkpoint >= self.checkpoint_seconds:
                    self.save_checkpoint()
            self.save_checkpoint()
            return self.result
        finally:
            self._close_islands()
            self.run_dir.close()

    def elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self.started)

    def _begin(self) -> None:
        """A new run.  The start event comes first and records how the run was started
        (seed, workers, limits), so a run stopped before its first checkpoint can be started
        over exactly."""
        self._clear_unusable_run()
        self.run_dir.start_events(None)
        self.run_dir.event("start", config=self.cfg.name, seed=self.seed,
                           population_size=self.cfg.evolution["population_size"],
                           workers=self.workers, max_seconds=self.max_seconds,
                           max_individuals=self.max_individuals)
        self.run_dir.write_config(self.cfg.run_dir_text)

    def _clear_unusable_run(self) -> None:
        """A new run in a directory that holds one: refused if that run can be resumed or is
        finished (say how to resume it or where to start anew); started over, after saying
        so, if it cannot continue (it stopped before its first checkpoint, or the checkpoint
        is unreadable or damaged)."""
        rd = self.run_dir
        if not rd.holds_run():
            return
        warn = self.opts.on_warning
        if not rd.checkpoint_path.exists():
            if rd.log_says_finished():
                raise RunDirError(f"{rd.path} holds a finished run (its checkpoint is gone); "
                                  f"start a new run with: {rd.new_run_command()}")
            rd.start_over("the run there stopped before its first checkpoint", warn)
            return
        try:
            arrays, info = ckpt.load(rd.checkpoint_path)
        except CheckpointError as exc:
            rd.start_over(str(exc), warn)
            return
        if info.get("done") is True:
            raise RunDirError(f"{rd.path} holds a finished run; start a new run with: "
                              f"{rd.new_run_command()}")
        try:
            check_checkpoint(config_mod.load(rd.config_path), arrays, info)
        except CheckpointError as exc:
            rd.start_over(f"{rd.checkpoint_path} is damaged ({exc})", warn)
            return
        except (ConfigError, ConfigMismatch) as exc:
            why = (f"{rd.config_path} changed since the checkpoint ({exc.changes})"
                   if isinstance(exc, ConfigMismatch) else str(exc))
            raise RunDirError(f"{rd.path} holds a run that cannot be resumed ({why}); start a "
                              f"new run with: {rd.new_run_command()}") from None
        raise RunDirError(f"{rd.path} holds an unfinished run; continue it with: "
                          f"{rd.resume_command()}, or start a new run with: "
                          f"{rd.new_run_command()}")

    def _step(self) -> None:
        if self.phase == "start":
            self._start_experiment()
        elif self.phase == "init":
            _on_all(self.islands, "initialize", self.batch_size)
            first = self.islands[0]
            if first.initialized == first.size:
                for isl, lineage in zip(self.islands, self.lineages):
                    lineage.add_initial(isl.pop.ids, isl.pop.fitness)
                self.total_individuals += first.size * len(self.islands)
                self.phase = "evolve"
                self._after_sweep()
            self._report("init")
        elif self.phase == "evolve":
            first = self.islands[0]
            count = min(self.batch_size, first.size - first.cursor)
            _on_all(self.islands, "evolve", count)
            if self.clock is None:  # after the first batch: numba has compiled the loop
                self.clock = WallClock(self._island_profile())
            self.total_individuals += count * len(self.islands)
            for isl, lineage in zip(self.islands, self.lineages):
                lineage.add_batch(isl.log, isl.pop.ids)
            self._check_new_best()
            if first.cursor == 0:
                self._maybe_migrate()
                self._after_sweep()
            self._report("evolve")
            if self.phase == "evolve":
                self._check_early_select()
            if self.phase == "evolve" and self._out_of_time():
                self.run_dir.event("stopped", reason=self._stop_reason(),
                                   individuals=self.total_individuals)
                self._end_experiment(stopping=True)
        elif self.phase == "final":
            self._final()

    def _start_experiment(self) -> None:
        cfg = self.cfg
        if cfg.experiment["randomize_task_seeds"]:
            self.search_specs = randomized_seeds(self._draw, cfg.search_tasks)
        self._new_islands([self._draw() for _ in range(self.workers)])
        self.last_progress = -1
        self.best_search = -1.0
        self.early_checked = -1.0
        self.phase = "init"
        self.run_dir.event("experiment_start", experiment=self.experiment,
                           search_seeds=[[list(s.param_seeds), list(s.data_seeds)] for s in self.search_specs])

    def _draw(self) -> int:
        return int(next_u64(self.rng))

    # ---- progress, bests, stopping ------------------------------------------------------
    def _new_islands(self, seeds) -> None:
        if self.workers > 1 and len(self.islands) == self.workers:
            for isl, seed in zip(self.islands, seeds):   # keep the processes: no re-spawn
                isl.reset(self.search_specs, seed)
            self.lineages = [Lineage() for _ in self.islands]
            return
        self._close_islands()
        if self.workers == 1:
            tasks = build_task_list(self.search_specs, "search_tasks")
            self.islands = [Island(self.cfg, self.mutator, self.init_program, tasks, self.settings,
                                   seed=seeds[0], batch_size=self.batch_size)]
        else:
            from .workers import RemoteIsland

            self.islands = [RemoteIsland(self.cfg, self.search_specs, seed, self.batch_size)
                            for seed in seeds]
        self.lineages = [Lineage() for _ in self.islands]
        self.clock = None   # started after the first evolution batch (see _after_sweep)

    def _close_islands(self) -> None:
        for isl in self.islands:
            close = getattr(isl, "close", None)
            if close:
                close()
        self.islands = []

    def stats(self) -> np.ndarray:
        if not self.islands:
            return np.zeros(E.S_SIZE, dtype=np.int64)
        return np.sum([isl.stats for isl in self.islands], axis=0)

    def _maybe_migrate(self) -> None:
        """Every ``migrate_every`` individuals per island, islands swap part of their
        populations: each uploads ``migrants`` random members, and each takes back as many
        drawn at random from everything uploaded, replacing its oldest (the paper's scheme)."""
        if len(self.islands) < 2:
            return
        per_island = int(self.islands[0].stats[E.S_INDIVIDUALS])
        due = per_island // self.cfg.run["migrate_every"]
        if due <= self.migrations:
            return
        self.migrations = due
        P = self.islands[0].size
        k = self.cfg.run["migrants"] if self.cfg.run["migrants"] is not None else P // 2
        k = min(k, P)
        pool = []
        for isl in self.islands:
            slots = _choose(self.rng, P, k)
            pool.append(isl.emigrants(slots))
        pooled = [np.concatenate([p[j] for p in pool]) for j in range(4)]
        total = pooled[0].shape[0]
        for isl in self.islands:
            pick = _choose(self.rng, total, k)
            isl.immigrate(tuple(arr[pick] for arr in pooled))
        self.run_dir.event("migration", experiment=self.experiment, individuals=per_island,
                           migrants=k)

    def _island_profile(self) -> np.ndarray:
        """Mean phase cycles over islands: they run in parallel, so this is per worker."""
        return np.mean([isl.profile for isl in self.islands], axis=0)

    def _after_sweep(self) -> None:
        stats = self.stats()
        n = int(stats[E.S_INDIVIDUALS])
        if self.last_progress < 0 or n >= self.last_progress + self.cfg.evolution["progress_every"]:
            self.last_progress = n
            snap = self.snapshot("evolve")
            self.run_dir.event("progress", experiment=self.experiment, individuals=n,
                               elapsed=round(snap.elapsed, 3), mean=snap.mean, stdev=snap.stdev,
                               best=snap.best, canonical_hit_rate=round(snap.canonical_hit_rate, 4),
                               fec_hit_rate=round(snap.fec_hit_rate, 4),
                               train_steps=int(stats[E.S_TRAIN_STEPS]))
        # The budget is per island (each is one reference process); checked between sweeps.
        steps = min(int(isl.stats[E.S_TRAIN_STEPS]) for isl in self.islands)
        if steps >= self.cfg.evolution["max_train_steps"] and self.phase == "evolve":
            self._end_experiment(stopping=False)

    def _best_member(self) -> tuple[int, int, float]:
        """(island, slot, fitness) of the best individual; first island and slot on ties."""
        best = (0, 0, -1.0)
        for i, isl in enumerate(self.islands):
            slot = isl.pop.best_slot()
            fit = float(isl.pop.fitness[slot])
            if fit > best[2]:
                best = (i, slot, fit)
        return best

    def _check_new_best(self) -> None:
        i, slot, fit = self._best_member()
        if fit > self.best_search:
            self.best_search = fit
            isl = self.islands[i]
            program = isl.pop.program(slot, self.cfg.memory)
            self.lineages[i].mark_best(int(isl.pop.ids[slot]), program)
            self.run_dir.event("new_best", experiment=self.experiment,
                               individuals=int(self.stats()[E.S_INDIVIDUALS]), fitness=fit,
                               elapsed=round(self.elapsed(), 3), island=i, id=int(isl.pop.ids[slot]), program=program.to_json())

    def _out_of_time(self) -> bool:
        return self._stop_reason() is not None

    def _stop_reason(self) -> str | None:
        if self.max_seconds is not None and self.elapsed() >= self.max_seconds:
            return f"max time {self.max_seconds:g} s reached"
        if self.max_individuals is not None and self.total_individuals >= self.max_individuals:
            return f"max individuals {self.max_individuals} reached"
        return None

    def _check_early_select(self) -> None:
        sufficient = self.cfg.experiment["sufficient_fitness"]
        if not self.cfg.experiment["early_select"] or sufficient is None:
            return
        if self.best_search >= sufficient and self.best_search > self.early_checked:
            self.early_checked = self.best_search
            select = self._select(self._candidate())
            self.run_dir.event("early_select", experiment=self.experiment,
                               search_fitness=self.best_search, select_fitness=select)
            if select > sufficient:
                self._end_experiment(stopping=False, select=select)

    # ---- experiment end, select and final ----------------------------------------------------
    def _candidate(self) -> Program:
        i, slot, _ = self._best_member()
        return self.islands[i].pop.program(slot, self.cfg.memory)

    def _select(self, program: Program) -> float:
        self.last_select = {}
        if not self.cfg.select_tasks:
            return float("nan")
        specs = self.cfg.select_tasks
        if self.cfg.experiment["randomize_task_seeds"]:
            specs = randomized_seeds(self._draw, specs)
        tasks = build_task_list(specs, "select_tasks")
        seed = self._draw()
        # Logged with experiment_end, so `azc evaluate RUN` can repeat this very check.
        self.last_select = {"select_seeds": [[list(s.param_seeds), list(s.data_seeds)] for s in specs],
                            "select_seed": seed}
        fitness, _ = E.evaluate_on_tasks(program, tasks, seed=seed, engine_name=self.engine,
                                         max_abs_error=self.cfg.evolution["max_abs_error"])
        return fitness

    def _end_experiment(self, *, stopping: bool, select: float | None = None) -> None:
        # Timing of the search itself, before the select evaluation (islands work in parallel:
        # their mean is each worker's share).
        profile = self.clock.breakdown(self._island_profile()) if self.clock else None
        best_island, best_slot, search_fit = self._best_member()
        candidate = self._candidate()
        if select is None:
            select = self._select(candidate)
        stats = self.stats()
        self.run_dir.event("experiment_end", experiment=self.experiment, search_fitness=search_fit,
                           select_fitness=_finite(select), individuals=int(stats[E.S_INDIVIDUALS]),
                           train_steps=int(stats[E.S_TRAIN_STEPS]),
                           stats=dict(zip(E.STAT_NAMES, (int(x) for x in stats))),
                           profile=profile, **self.last_select)
        score = select if np.isfinite(select) else search_fit
        if self.best is None or score >= self.best["score"]:
            self.best = {"score": score, "select_fitness": _finite(select), "search_fitness": search_fit,
                         "experiment": self.experiment, "program": candidate.to_json(),
                         "individuals": self.total_individuals, "elapsed": round(self.elapsed(), 3)}
            self.run_dir.save_best(self._best_program())
            best_isl = self.islands[best_island]
            self.run_dir.save_json(self.run_dir.lineage_path, self.lineages[best_island].chain_json(
                int(best_isl.pop.ids[best_slot])))
        sufficient = self.cfg.experiment["sufficient_fitness"]
        max_exp = self.cfg.experiment["max_experiments"]
        solved = sufficient is not None and self.best["score"] > sufficient
        self.experiment += 1
        if stopping or solved or (max_exp and self.experiment >= max_exp):
            self.phase = "final"
            self._close_islands()
        else:
            self.phase = "start"

    def _best_program(self) -> Program:
        from azcompile.program import from_json

        doc = dict(self.best["program"])
        program = from_json(doc)
        meta = {"config_name": self.cfg.name, "seed": self.seed,
                "experiment": self.best["experiment"],
                "search_fitness": self.best["search_fitness"],
                "select_fitness": self.best["select_fitness"],
                "individuals": self.best["individuals"], "found_at_seconds": self.best["elapsed"],
                "task": _task_summary(self.cfg.search_tasks)}
        if "final_fitness" in self.best:
            meta["final_fitness"] = self.best["final_fitness"]
        from azcompile.liveness import canonical_hash
        from azcompile.engine import task_mode

        meta["canonical_hash"] = f"{canonical_hash(program, task_mode(self.cfg.search_tasks[0].eval_type)):016x}"
        return Program(program.setup, program.predict, program.learn, program.memory, meta)

    def _final(self) -> None:
        final = None
        if self.final_tasks and self.best is not None:
            program = self._best_program()
            final, per_task = E.evaluate_on_tasks(program, self.final_tasks, seed=self._draw(),
                                                  engine_name=self.engine,
                                                  max_abs_error=self.cfg.evolution["max_abs_error"])
            self.best["final_fitness"] = final
        best_program = self._best_program() if self.best else None
        if best_program is not None:
            self.run_dir.save_best(best_program)
        self.result = {"experiments": self.experiment, "individuals": self.total_individuals,
                       "elapsed": self.elapsed(), "best": self.best, "final_fitness": final,
                       "program": best_program}
        self.run_dir.event("final", experiments=self.experiment, individuals=self.total_individuals,
                           elapsed=round(self.elapsed(), 3),
                           search_fitness=self.best["search_fitness"] if self.best else None,
                           select_fitness=self.best["select_fitness"] if self.best else None,
                           final_fitness=_finite(final),
                           program=best_program.listing() if best_program else None)
        self.done = True
        self.phase = "done"

    # ---- progress snapshot -------------------------------------------------------------------
    def snapshot(self, phase: str) -> Snapshot:
        st = self.stats()
        n = int(st[E.S_INDIVIDUALS])
        filled = self.islands[0].initialized if phase == "init" else self.islands[0].size
        f = (np.concatenate([isl.pop.fitness[:filled] for isl in self.islands]) if filled
             else np.zeros(1))
        mean = float(f.mean())
        stdev = float(np.sqrt(max(float((f * f).mean()) - mean * mean, 0.0)))
        fec_total = st[E.S_FEC_HITS] + st[E.S_FEC_MISSES]
        elapsed = self.elapsed()
        return Snapshot(self.experiment, n, self.total_individuals, elapsed,
                        self.total_individuals / elapsed if elapsed > 0 else 0.0, mean, stdev,
                        float(f.max()), self.best["score"] if self.best else None,
                        st[E.S_CANON_HITS] / max(n, 1), st[E.S_FEC_HITS] / max(fec_total, 1),
                        int(st[E.S_PREFILTERED]),
                        st[E.S_HURDLE_STOPS] / max(st[E.S_HURDLE_TESTS], 1), phase)

    def _report(self, phase: str) -> None:
        if self.opts.progress and self.islands:
            self.opts.progress(self.snapshot(phase))

    # ---- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        arrays = {"rng": self.rng}
        if self.islands and self.phase in ("init", "evolve"):
            for i, isl in enumerate(self.islands):
                arrays.update(isl.state(f"island{i}_"))
        info = {"experiment": self.experiment, "phase": self.phase, "last_progress": self.last_progress,
                "best_search": self.best_search, "early_checked": self.early_checked,
                "best": self.best, "total_individuals": self.total_individuals,
                "elapsed": self.elapsed(), "events": self.run_dir.event_count, "seed": self.seed,
                "search_specs": [_spec_json(s) for s in self.search_specs],
                "lineages": [lin.to_json() for lin in self.lineages], "done": self.done,
                "workers": self.workers, "migrations": self.migrations,
                "max_seconds": self.max_seconds, "max_individuals": self.max_individuals,
                "config": self.config_doc, "config_sha256": ckpt.document_hash(self.config_doc),
                "config_name": self.cfg.name}
        self.run_dir.save_checkpoint(ckpt.save, arrays, json.loads(json.dumps(info, default=_np)))
        self.last_checkpoint = time.monotonic()

    def _restore(self) -> None:
        """Continue from the checkpoint, after checking all of it against the configuration
        and the command line: nothing is written (and nothing reaches a kernel) before."""
        rd = self.run_dir
        if not rd.checkpoint_path.exists():
            raise RunDirError(f"{rd.path}: nothing to resume (the run stopped before its first "
                              f"checkpoint); start it over with: {rd.restart_command()}")
        try:
            arrays, info = ckpt.load(rd.checkpoint_path)
            if info.get("done") is True:
                raise RunDirError(f"{rd.path}: this run already finished; nothing to resume "
                                  f"(start a new run with: {rd.new_run_command()})")
            specs = check_checkpoint(self.cfg, arrays, info)
        except ConfigMismatch as exc:
            raise RunDirError(self._mismatch_message(exc.changes)) from None
        except CheckpointError as exc:
            damaged = str(exc) if str(exc).startswith(str(rd.checkpoint_path)) else \
                f"{rd.checkpoint_path} is damaged ({exc})"
            raise CheckpointError(f"{damaged}; the run cannot be resumed: start it over with: "
                                  f"{rd.restart_command()}") from None
        self._check_options(info)
        self._take_over(arrays, info, specs)
        repair = rd.start_events(info["events"])
        if repair:
            rd.event("log_repaired", **repair)
            if self.opts.on_warning:
                self.opts.on_warning(f"{rd.events_path}: {repair['reason']}")
        rd.event("resumed", experiment=self.experiment, individuals=self.total_individuals)
        if repair:      # the checkpoint's event count must match the repaired log
            self.save_checkpoint()

    def _mismatch_message(self, changes: str) -> str:
        rd = self.run_dir
        given = self.opts.config_arg
        if given is None:
            return (f"{rd.config_path} changed since the checkpoint ({changes}); restore it, or "
                    f"start a new run with: {rd.new_run_command()}")
        try:
            own_config_fits = (ckpt.config_document(config_mod.load(rd.config_path))
                               == _recorded_config(ckpt.load(rd.checkpoint_path)[1]))
        except (ConfigError, CheckpointError):
            own_config_fits = False
        resume = f"resume it with: {rd.resume_command()}, or " if own_config_fits else ""
        return (f"{given} differs from the configuration of the run in {rd.path} ({changes}); "
                f"{resume}start a new run with: {rd.new_run_command(given)}")

    def _check_options(self, info: dict) -> None:
        """What the command line gives on resume must be what the run was started with (the
        limits excepted: given, they replace the run's)."""
        rd, opts = self.run_dir, self.opts
        if opts.seed is not None and opts.seed != info["seed"]:
            raise RunDirError(f"{rd.path} was started with seed {info['seed']}, not {opts.seed}; "
                              f"resume it with: {rd.resume_command()}, or start a new run with: "
                              f"{rd.new_run_command()} --seed {opts.seed}")
        if opts.workers is not None and self.workers != info["workers"]:
            raise RunDirError(f"{rd.path} runs with {info['workers']} worker(s), not "
                              f"{self.workers} (results depend on it); resume it with: "
                              f"{rd.resume_command()}")

    def _take_over(self, arrays: dict, info: dict, specs: list) -> None:
        self.rng[...] = arrays["rng"]
        self.cfg.name = info["config_name"]
        self.experiment = info["experiment"]
        self.phase = info["phase"]
        self.last_progress = info["last_progress"]
        self.best_search = float(info["best_search"])
        self.early_checked = float(info["early_checked"])
        self.best = info["best"]
        self.total_individuals = info["total_individuals"]
        self.elapsed_before = float(info["elapsed"])
        self.seed = info["seed"]
        self.search_specs = specs
        self.workers = info["workers"]
        self.migrations = info["migrations"]
        if self.opts.max_seconds is None:
            self.max_seconds = info["max_seconds"]
        if self.opts.max_individuals is None:
            self.max_individuals = info["max_individuals"]
        if self.phase in ("init", "evolve"):
            self._new_islands([0] * self.workers)
            for i, isl in enumerate(self.islands):
                isl.restore(arrays, f"island{i}_")
        self.lineages = [Lineage.from_json(doc) for doc in info["lineages"]]


class ConfigMismatch(Exception):
    """The configuration given is not the one the checkpoint was made with."""

    def __init__(self, changes: str):
        super().__init__(changes)
        self.changes = changes


def _resolve_workers(workers: int) -> int:
    """0 means one island per core."""
    return workers if workers > 0 else (os.cpu_count() or 1)


def load_run_config(run_dir: Path, config_arg) -> Config:
    """The configuration to resume ``run_dir`` with: its config.toml, or CONFIG if the user
    names one (``check_checkpoint`` then holds it to the run's)."""
    if config_arg is not None:
        return config_mod.load(config_arg)
    if not (run_dir / "config.toml").is_file():
        raise RunDirError(f"{run_dir} is not a run directory (no config.toml): nothing to "
                          f"resume; start a new run with: "
                          f"{RunDir(run_dir, resume=True).restart_command()}")
    return config_mod.load(run_dir / "config.toml")


# ---- what a checkpoint must hold ---------------------------------------------------------------

_INT, _NUM = validate.is_int, validate.is_number
_INFO_FIELDS = (
    ("experiment", _INT(0), "a whole number >= 0"),
    ("phase", lambda v: v in PHASES, f"one of {', '.join(PHASES)}"),
    ("last_progress", _INT(-1), "a whole number >= -1"),
    ("best_search", _NUM(), "a number"),
    ("early_checked", _NUM(), "a number"),
    ("best", lambda v: v is None or isinstance(v, dict), "a candidate record or null"),
    ("total_individuals", _INT(0), "a whole number >= 0"),
    ("elapsed", _NUM(0), "a number of seconds"),
    ("events", _INT(0), "a line count"),
    ("seed", _INT(0, 2 ** 63), "a seed"),
    ("search_specs", lambda v: isinstance(v, list), "a list of task specs"),
    ("lineages", lambda v: isinstance(v, list), "a list of lineages"),
    ("done", lambda v: v is False, "false for an unfinished run"),
    ("workers", _INT(1, 1024), "a worker count"),
    ("migrations", _INT(0), "a whole number >= 0"),
    ("max_seconds", validate.optional(_NUM(0)), "a time limit or null"),
    ("max_individuals", validate.optional(_INT(1)), "a count or null"),
    ("config_name", lambda v: isinstance(v, str), "a name"),
)
_BEST_KEYS = {"score", "select_fitness", "search_fitness", "experiment", "program", "individuals",
              "elapsed"}


def _recorded_config(info: dict) -> dict:
    return validate.field(info, "config", lambda d: isinstance(d, dict) and
                      ckpt.document_hash(d) == info.get("config_sha256"),
                      "the configuration its hash names")


def check_checkpoint(cfg: Config, arrays: dict, info: dict) -> list[TaskSpec]:
    """Everything a resume takes from a checkpoint, checked against ``cfg`` before any of it
    reaches a kernel.  Raises ConfigMismatch if ``cfg`` is not the configuration the run was
    made with, CheckpointError (one line) for contents that are missing or impossible.
    Returns the search task specs to resume with."""
    current = ckpt.config_document(cfg)
    if ckpt.document_hash(current) != info.get("config_sha256"):
        raise ConfigMismatch(ckpt.config_changes(_recorded_config(info), current))
    for key, valid, what in _INFO_FIELDS:
        validate.field(info, key, valid, what)
    specs = _checked_specs(cfg, info["search_specs"])
    if info["best"] is not None:
        _check_best(info["best"], cfg)
    islands = info["workers"] if info["phase"] in ("init", "evolve") else 0
    _check_arrays(cfg, arrays, islands, info["phase"])
    if islands and len(info["lineages"]) != islands:
        raise CheckpointError(f"'lineages' has {len(info['lineages'])} entries for "
                              f"{islands} islands")
    for i, doc in enumerate(info["lineages"]):
        _check_lineage(doc, cfg, f"lineages[{i}]")
    return specs


def _check_arrays(cfg: Config, arrays: dict, islands: int, phase: str) -> None:
    validate.array(arrays, "rng", np.zeros(1, dtype=np.uint64))     # a SplitMix64 state
    settings = eval_settings(cfg)
    expected = {"rng"}
    for i in range(islands):
        expected |= Island.check_state(arrays, f"island{i}_", cfg, settings)
    extra = sorted(set(arrays) - expected)
    if extra:
        raise CheckpointError(f"unexpected array '{extra[0]}' for phase {phase!r} with "
                              f"{islands} islands")
    if islands:
        counters = {tuple(arrays[f"island{i}_counters"]) for i in range(islands)}
        P = cfg.evolution["population_size"]
        if len(counters) != 1 or (phase == "evolve" and next(iter(counters))[1] != P):
            raise CheckpointError(f"island counters {sorted(counters)} do not fit phase {phase!r}")


def _checked_specs(cfg: Config, docs: list) -> list[TaskSpec]:
    """The search tasks the run was using: the config's, with the seeds the run drew (and the
    data directory it read from, unless this run names another)."""
    if len(docs) != len(cfg.search_tasks):
        raise CheckpointError(f"'search_specs' has {len(docs)} entries, the configuration "
                              f"{len(cfg.search_tasks)}")
    specs = []
    for i, (doc, spec) in enumerate(zip(docs, cfg.search_tasks)):
        where = f"search_specs[{i}]"
        if not isinstance(doc, dict):
            raise CheckpointError(f"'{where}' is not a task spec")
        seeds = {}
        for key in ("data_seeds", "param_seeds"):
            seeds[key] = tuple(validate.field(doc, key, lambda v: isinstance(v, list) and all(
                _INT(0, 2 ** 32 - 1)(x) for x in v), "a list of seeds"))
        options = doc.get("options")
        if not isinstance(options, dict) or not isinstance(options.get("data_dir", ""), str):
            raise CheckpointError(f"'{where}.options' is missing or malformed")
        fixed = {k: v for k, v in doc.items() if k not in ("data_seeds", "param_seeds", "options")}
        if (fixed != {k: v for k, v in _spec_json(spec).items() if k in fixed} or
                set(fixed) != set(spec.__dict__) - {"data_seeds", "param_seeds", "options"}):
            raise CheckpointError(f"'{where}' does not match search_tasks[{i}] of the configuration")
        kept = {"data_dir": options["data_dir"]} if "data_dir" in options else {}
        specs.append(TaskSpec(**{**spec.__dict__, **seeds,
                                 "options": {**kept, **spec.options}}))
    return specs


def _check_best(best: dict, cfg: Config) -> None:
    if not _BEST_KEYS <= set(best) <= _BEST_KEYS | {"final_fitness"}:
        raise CheckpointError(f"'best' has the fields {sorted(best)}")
    for key in ("score", "search_fitness"):
        validate.field(best, key, _NUM(), "a number")
    for key in ("select_fitness", "final_fitness"):
        if key in best:
            validate.field(best, key, validate.optional(_NUM()), "a number or null")
    validate.field(best, "experiment", _INT(0), "an experiment number")
    validate.field(best, "individuals", _INT(0), "a count")
    validate.field(best, "elapsed", _NUM(0), "seconds")
    from azcompile.program import from_json

    try:
        program = from_json(best["program"])
    except ProgramError as exc:
        raise CheckpointError(f"'best.program': {exc}") from None
    if program.memory.as_dict() != cfg.memory.as_dict():
        raise CheckpointError(f"'best.program' has memory {program.memory.as_dict()}")


def _check_lineage(doc, cfg: Config, where: str) -> None:
    """A lineage record (search.lineage's checkpoint form) that loads and whose programs are
    ones the listing and export can show."""
    try:
        cols = doc["columns"]
        n = len(cols["ids"])
        columns = [np.array(cols[f], dtype=t) for f, t in
                   (("ids", np.int64), ("parents", np.int64), ("mutations", np.int32),
                    ("fitness", float), ("parent_fitness", float))]
        best_ids = [int(x) for x in doc["best_ids"]]
        programs = [(int(k), np.array(c, np.int32), np.array(d, float), np.array(z, np.int32))
                    for k, (c, d, z) in doc["programs"].items()]
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
        raise CheckpointError(f"'{where}' is malformed ({type(exc).__name__})") from None
    if any(c.shape != (n,) for c in columns) or not all(isinstance(x, int) for x in best_ids):
        raise CheckpointError(f"'{where}' has columns of different lengths")
    for key, code, data, size in programs:
        rows = code.shape[1] if code.ndim == 3 else -1
        if code.shape != (3, rows, 4) or data.shape != code.shape or size.shape != (3,) \
                or rows > cfg.capacity:
            raise CheckpointError(f"'{where}' program {key} has the wrong shape")
        validate.within(size, f"{where} program {key} sizes", 0, rows)
        check_instructions(code, cfg.memory, f"{where} program {key}")


def _on_all(islands, method: str, *args) -> None:
    """Call ``method`` on every island; process-backed islands work in parallel."""
    for isl in islands:
        start = getattr(isl, "start", None)
        if start:
            start(method, *args)
        else:
            getattr(isl, method)(*args)
    for isl in islands:
        finish = getattr(isl, "finish", None)
        if finish:
            finish()


def _choose(rng, n: int, k: int) -> np.ndarray:
    """k distinct indices out of n, drawn from the search's own random stream."""
    from azcompile.rng import next_int

    pool = list(range(n))
    out = []
    for _ in range(k):
        j = next_int(rng, len(pool))
        out.append(pool.pop(j))
    return np.array(out, dtype=np.int64)


def _finite(x):
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def _np(x):
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(type(x).__name__)


def _spec_json(spec: TaskSpec) -> dict:
    d = dict(spec.__dict__)
    d["data_seeds"] = [int(x) for x in d["data_seeds"]]
    d["param_seeds"] = [int(x) for x in d["param_seeds"]]
    return d


def _task_summary(specs) -> str:
    parts = [f"{s.num_tasks}x {s.type} (F={s.features}, {s.num_train_examples} train / "
             f"{s.num_valid_examples} valid)" for s in specs]
    return "; ".join(parts)
