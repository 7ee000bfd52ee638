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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from azcompile.program import Program
from azcompile.rng import new_state, next_u64

from . import checkpoint as ckpt
from . import evaluator as E
from . import initial
from .config import Config, ConfigError, build_task_list
from .island import Island
from .lineage import Lineage
from .mutator import MutatorSpec
from .profile import WallClock
from .rundir import RunDir
from .tasks import TaskSpec, randomized_seeds


@dataclass
class RunOptions:
    out: Path
    seed: int | None = None
    resume: bool = False
    engine: str | None = None              # select/final engine (default: the config's)
    max_seconds: float | None = None
    max_individuals: int | None = None
    checkpoint_seconds: float | None = None
    progress: Callable[["Snapshot"], None] | None = None
    on_event: Callable[[dict], None] | None = None
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
        self.run_dir = RunDir(options.out, resume=options.resume)
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
        self.workers = max(1, cfg.run["workers"])
        self.migrations = 0
        self.done = False
        self.result: dict = {}

    # ---- main loop ---------------------------------------------------------------------------
    def run(self) -> dict:
        self.run_dir.open(self.cfg.source_text)
        try:
            if self.opts.resume:
                self._restore()
            else:
                self.run_dir.start_events(None)
                self.run_dir.event("start", config=self.cfg.name, seed=self.seed,
                                   population_size=self.cfg.evolution["population_size"])
            self.started = time.monotonic()
            self.last_checkpoint = time.monotonic()
            while not self.done:
                self._step()
                if self.opts.should_stop and self.opts.should_stop():
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
                "workers": self.workers, "migrations": self.migrations}
        self.run_dir.sync()
        ckpt.save(self.run_dir.checkpoint_path, arrays, json.loads(json.dumps(info, default=_np)))
        self.last_checkpoint = time.monotonic()

    def _restore(self) -> None:
        arrays, info = ckpt.load(self.run_dir.checkpoint_path)
        if info.get("done"):
            raise ConfigError(f"{self.run_dir.path}: this run already finished; nothing to resume")
        self.rng[...] = arrays["rng"]
        self.experiment = info["experiment"]
        self.phase = info["phase"]
        self.last_progress = info["last_progress"]
        self.best_search = info["best_search"]
        self.early_checked = info["early_checked"]
        self.best = info["best"]
        self.total_individuals = info["total_individuals"]
        self.elapsed_before = info["elapsed"]
        self.seed = info["seed"]
        self.search_specs = [TaskSpec(**d) for d in info["search_specs"]]
        if info["workers"] != self.workers:
            raise ConfigError(f"this run used --workers {info['workers']}; resume it with the "
                              f"same number (results depend on it)")
        self.migrations = info["migrations"]
        if self.phase in ("init", "evolve"):
            self._new_islands([0] * self.workers)
            for i, isl in enumerate(self.islands):
                isl.restore(arrays, f"island{i}_")
        self.lineages = [Lineage.from_json(doc) for doc in info["lineages"]]
        self.run_dir.start_events(info["events"])
        self.run_dir.event("resumed", experiment=self.experiment, individuals=self.total_individuals)


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
