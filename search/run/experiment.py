"""The experiment driver: the reference's run_search_experiment, resumable.

Experiments repeat until the best candidate's select fitness exceeds ``sufficient_fitness``
(or ``max_experiments`` is reached).  Each experiment initialises a population, evolves it
until its train-step budget is spent (checked between sweeps, as the reference does), takes
the best of the final population as its candidate and scores it on the select tasks.  The
best candidate is then scored on the final tasks.  With ``early_select`` a candidate is
checked on the select tasks as soon as its search fitness passes ``sufficient_fitness``.

``Search`` is the phase machine (start -> init -> evolve -> ... -> final -> done) and the
run loop; the rest is in parts with one job each: the islands (``archipelago``), the bests
(``selection``), progress (``reporting``), checkpoints (``resume``), and the state that a
checkpoint holds (``state``), so one taken at any batch boundary restores the run exactly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..data.tasks import randomized_seeds
from ..engine import evaluator
from ..engine.island import Island
from ..engine.island_protocol import IslandMaker
from ..engine.profile import WallClock
from ..tune import TuneError
from . import config as config_mod
from . import precompile, tuning
from .archipelago import Archipelago
from .async_islands import AsyncArchipelago
from .config import Config
from .hall import HallOfFame
from .island_kit import IslandKit, LocalIslands
from .lineage import Lineage
from .reporting import Progress, Snapshot, Stopwatch
from .resume import Checkpoints, resolve_workers
from .rundir import RunDir, RunDirError
from .selection import Selection, finite
from .state import SearchState


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
    progress: Callable[[Snapshot], None] | None = None
    on_event: Callable[[dict], None] | None = None
    on_warning: Callable[[str], None] | None = None  # one line for the user (stderr)
    should_stop: Callable[[], bool] | None = None    # e.g. Ctrl-C was pressed
    backend: str = "process"               # where islands run with workers > 1: "process", "ray"
    address: str | None = None             # the Ray cluster (None: a local one)
    started: float | None = None           # time.monotonic() at the command's start (None: now)
    on_note: Callable[[str], None] | None = None     # a line of news for the user (stderr)


class Search:
    """One search run in one run directory."""

    def __init__(self, cfg: Config, options: RunOptions):
        self.cfg = cfg
        self.opts = options
        self.run_dir = RunDir(options.out, resume=options.resume, config_arg=options.config_arg)
        self.run_dir.listener = options.on_event
        self.checkpoints = Checkpoints(self.run_dir, cfg, options.config_arg, options.on_warning)
        self.interrupted = False
        self.checkpoint_seconds = (cfg.run["checkpoint_seconds"]
                                   if options.checkpoint_seconds is None
                                   else options.checkpoint_seconds)
        self.engine = options.engine or cfg.experiment["select_engine"]
        tuning.check_stage(cfg)      # before the search, not after it
        self.kit = IslandKit.of(cfg)
        self.state = _new_state(cfg, options)      # a resume replaces it with the checkpoint's
        self.islands: Archipelago | None = None     # the running experiment's
        self.maker: IslandMaker | None = None
        self.clock: WallClock | None = None
        self.result: dict = {}
        self._saved_individuals = 0
        self._session_start_individuals = 0

    @property
    def phase(self) -> str:
        return self.state.phase

    @property
    def done(self) -> bool:
        return self.state.done

    # ---- main loop ---------------------------------------------------------------------------
    def run(self) -> dict:
        self.run_dir.open()
        try:
            self.stopwatch = Stopwatch(self.opts.started)
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
        return self.stopwatch.elapsed(self.state)

    def is_starting(self) -> bool:
        """Whether this session has made no individual yet (it loads, compiles and builds
        tasks, so a Ctrl-C may stop it at once: there is nothing to save)."""
        return self.state.total_individuals == self._session_start_individuals

    def has_unsaved_work(self) -> bool:
        """Whether stopping now, without a checkpoint, would lose individuals: some were
        made since the last checkpoint (or since the start, or the resume)."""
        return self.state.total_individuals != self._saved_individuals

    def _take_parts(self) -> None:
        """The parts that work on the state (built once it is known: new, or resumed)."""
        self.maker = (LocalIslands(self.kit) if self.state.workers == 1
                      else _island_maker(self.cfg, self.opts))
        self.selection = Selection(self.cfg, self.state, self.run_dir, self.engine, self.elapsed)
        self.progress = Progress(self.state, self.run_dir, self.cfg.evolution["progress_every"],
                                 self.elapsed, self.opts.progress)
        self.hall = HallOfFame(self.cfg, self.state)
        self.progress.per_island_events = self.asynchronous
        self.maker.replace_lost = self.asynchronous

    def _begin(self) -> None:
        """A new run.  The start event comes first and records how the run was started
        (seed, workers, limits), so a run stopped before its first checkpoint can be started
        over exactly."""
        self.checkpoints.clear_unusable_run()
        self._take_parts()
        state = self.state
        self.run_dir.start_events(None)
        self.run_dir.event("start", config=self.cfg.name, seed=state.seed,
                           population_size=self.cfg.evolution["population_size"],
                           workers=state.workers, max_seconds=state.max_seconds,
                           max_individuals=state.max_individuals)
        self.run_dir.write_config(self.cfg.run_dir_text)

    def _restore(self) -> None:
        """Continue from the checkpoint (checked in full before anything is written)."""
        state, arrays = self.checkpoints.load(self.opts.seed, self.opts.workers)
        if self.opts.max_seconds is not None:        # limits given on resume replace the run's
            state.max_seconds = self.opts.max_seconds
        if self.opts.max_individuals is not None:
            state.max_individuals = self.opts.max_individuals
        self.state = state
        self._saved_individuals = self._session_start_individuals = state.total_individuals
        self._take_parts()
        if state.has_islands:
            self._new_islands([0] * state.workers)
            self.islands.restore(arrays)
        rd = self.run_dir
        repair = rd.start_events(state.events)
        if repair:
            rd.event("log_repaired", **repair)
            if self.opts.on_warning:
                self.opts.on_warning(f"{rd.events_path}: {repair['reason']}")
        rd.event("resumed", experiment=state.experiment, individuals=state.total_individuals)
        if repair:      # the checkpoint's event count must match the repaired log
            self.save_checkpoint()

    @property
    def asynchronous(self) -> bool:
        """Islands without a barrier (``run.migration = "async"``, more than one island)."""
        return self.cfg.run["migration"] == "async" and self.state.workers > 1

    def save_checkpoint(self) -> None:
        if isinstance(self.islands, AsyncArchipelago) and self.islands.running:
            self._on_island_news(self.islands.pause())   # every island at a reply
        self.checkpoints.save(self.state, self.islands, self.elapsed())
        self.last_checkpoint = time.monotonic()
        self._saved_individuals = self.state.total_individuals

    # ---- the phase machine ---------------------------------------------------------------------
    def _step(self) -> None:
        phase = self.state.phase
        if phase == "start":
            self._start_experiment()
        elif phase == "init":
            self._init_step()
        elif phase == "evolve":
            self._evolve_step()
        elif phase == "final":
            self._final()
        elif phase == "tune":
            self._tune()

    def _start_experiment(self) -> None:
        cfg, state = self.cfg, self.state
        if cfg.experiment["randomize_task_seeds"]:
            state.search_specs = randomized_seeds(self.selection.draw, cfg.search_tasks)
        self._new_islands([self.selection.draw() for _ in range(state.workers)])
        state.last_progress = -1
        state.best_search = -1.0
        state.early_checked = -1.0
        state.phase = "init"
        self.run_dir.event("experiment_start", experiment=state.experiment,
                           search_seeds=[[list(s.param_seeds), list(s.data_seeds)]
                                         for s in state.search_specs])

    def _new_islands(self, seeds) -> None:
        islands, run = self.maker.islands(self.state.search_specs, seeds), self.cfg.run
        if self.asynchronous:
            self.islands = AsyncArchipelago(
                islands, run["migrate_every"], run["migrants"], maker=self.maker,
                specs=self.state.search_specs, seeds=seeds, batch_size=self.kit.batch_size,
                snapshot_seconds=self.checkpoint_seconds,
                seed=self.state.seed + self.state.experiment)
        else:
            self.islands = Archipelago(islands, run["migrate_every"], run["migrants"])
        self.state.lineages = [Lineage() for _ in seeds]
        self.clock = None   # started after the first evolution batch (numba has compiled)

    def _close_islands(self) -> None:
        if self.maker is not None:
            self.maker.close()
        self.islands = None

    def _init_step(self) -> None:
        islands, state = self.islands, self.state
        local = [isl for isl in islands.islands if isinstance(isl, Island)]
        if local:                   # a cold start compiles on two cores (workers: in theirs)
            precompile.prepare(local[0], note=self.opts.on_note)
        relaxed = self.cfg.evolution["strategy"] == "relaxation"
        before = int(islands.stats()[evaluator.S_INDIVIDUALS])
        islands.initialize(self.kit.batch_size)
        precompile.release()        # the generation loop is compiled (or loaded) by now
        if relaxed:   # its gradient steps count as they are taken, then each member
            state.total_individuals += int(islands.stats()[evaluator.S_INDIVIDUALS]) - before
        if islands.initialized == islands.size:
            for isl, lineage in zip(islands.islands, state.lineages):
                lineage.add_initial(isl.ids, isl.fitness)
            if not relaxed:
                state.total_individuals += islands.size * len(islands.islands)
            state.phase = "evolve"
            self._after_sweep()
        self.progress.show_now(self.islands, "init")

    def _evolve_step(self) -> None:
        if isinstance(self.islands, AsyncArchipelago):
            self._evolve_step_async()
            return
        islands, state = self.islands, self.state
        count = min(self.kit.batch_size, islands.size - islands.cursor)
        islands.evolve(count)
        if self.clock is None:  # after the first batch: numba has compiled the loop
            self.clock = WallClock(islands.profile())
        state.total_individuals += count * len(islands.islands)
        for isl, lineage in zip(islands.islands, state.lineages):
            lineage.add_batch(isl.log, isl.ids)
        self.selection.check_new_best(islands)
        self.hall.update(islands)
        if islands.cursor == 0:
            self._migrate()
            self._after_sweep()
        self._after_batch()

    def _evolve_step_async(self) -> None:
        """Whatever the islands have done since the last step (no barrier: any of them)."""
        self._on_island_news(self.islands.advance())
        if self.clock is None and self.islands.running:
            self.clock = WallClock(self.islands.profile())
        if self.state.phase == "evolve" and self.islands.budget_spent(
                self.cfg.evolution["max_train_steps"]):
            self._end_experiment(stopping=False)
            return
        self._after_batch()

    def _on_island_news(self, news) -> None:
        state, rd = self.state, self.run_dir
        for item in news:
            isl = self.islands.islands[item.island]
            individuals = int(isl.stats[evaluator.S_INDIVIDUALS])
            if item.kind == "batch":
                state.total_individuals += item.count
                state.lineages[item.island].add_batch(item.log, item.ids)
                self.selection.check_new_best(self.islands)
                if item.swept:
                    self.progress.after_sweep(self.islands)
            elif item.kind == "migration":
                state.migrations = self.islands.exchanges_done
                rd.event("migration", experiment=state.experiment, island=item.island,
                         individuals=individuals, migrants=item.count)
            elif item.kind == "lost":
                rd.event("island_lost", experiment=state.experiment, island=item.island,
                         reason=item.detail, individuals=individuals)
            else:
                rd.event("island_restarted", experiment=state.experiment, island=item.island,
                         source=item.detail, individuals=item.count)

    def _after_batch(self) -> None:
        islands, state = self.islands, self.state
        self.progress.show_now(self.islands, "evolve")
        if state.phase == "evolve":
            select = self.selection.early_select(islands)
            if select is not None:
                self._end_experiment(stopping=False, select=select)
        if state.phase == "evolve" and self._stop_reason() is not None:
            self.run_dir.event("stopped", reason=self._stop_reason(),
                               individuals=state.total_individuals)
            self._end_experiment(stopping=True)

    def _migrate(self) -> None:
        moved = self.islands.migrate_if_due(self.state.rng, self.state.migrations)
        if moved is not None:
            self.state.migrations = moved.exchanges
            self.run_dir.event("migration", experiment=self.state.experiment,
                               individuals=moved.individuals, migrants=moved.migrants)

    def _after_sweep(self) -> None:
        self.progress.after_sweep(self.islands)
        # The budget is per island (each is one reference process); checked between sweeps.
        if (self.state.phase == "evolve" and not isinstance(self.islands, AsyncArchipelago)
                and self.islands.budget_spent(self.cfg.evolution["max_train_steps"])):
            self._end_experiment(stopping=False)

    def _stop_reason(self) -> str | None:
        state = self.state
        if state.max_seconds is not None and self.elapsed() >= state.max_seconds:
            return f"max time {state.max_seconds:g} s reached"
        if state.max_individuals is not None and state.total_individuals >= state.max_individuals:
            return f"max individuals {state.max_individuals} reached"
        return None

    def _end_experiment(self, *, stopping: bool, select: float | None = None) -> None:
        islands, state = self.islands, self.state
        if isinstance(islands, AsyncArchipelago):
            self._on_island_news(islands.pause())
        # Timing of the search itself, before the select evaluation (islands work in parallel:
        # their mean is each worker's share).
        profile = self.clock.breakdown(islands.profile()) if self.clock else None
        if select is None:
            member, candidate, select = self.selection.choose(islands)
        else:                       # early select has scored the best member
            member = islands.best_member()
            candidate = islands.program(*member[:2])
        stats = islands.stats()
        self.run_dir.event("experiment_end", experiment=state.experiment,
                           search_fitness=member[2], select_fitness=finite(select),
                           individuals=int(stats[evaluator.S_INDIVIDUALS]),
                           train_steps=int(stats[evaluator.S_TRAIN_STEPS]),
                           stats=dict(zip(evaluator.STAT_NAMES, (int(x) for x in stats))),
                           profile=profile, **self.selection.last_select)
        self.selection.keep_if_best(islands, member, candidate, select)
        self.hall.offer(candidate, member[2], ties=True)
        max_exp = self.cfg.experiment["max_experiments"]
        state.experiment += 1
        if stopping or self.selection.solved() or (max_exp and state.experiment >= max_exp):
            state.phase = "final"
            self._close_islands()
        else:
            state.phase = "start"

    def _final(self) -> None:
        state = self.state
        final, best_program = self.selection.final()
        best = state.best
        self.result = self._result(final, best_program)
        self.run_dir.event("final", experiments=state.experiment,
                           individuals=state.total_individuals, elapsed=round(self.elapsed(), 3),
                           search_fitness=best["search_fitness"] if best else None,
                           select_fitness=best["select_fitness"] if best else None,
                           final_fitness=finite(final),
                           program=best_program.listing() if best_program else None)
        if self.cfg.tune and best_program is not None:
            state.phase = "tune"
            return
        state.done = True
        state.phase = "done"

    def _result(self, final, program) -> dict:
        state = self.state
        return {"experiments": state.experiment, "individuals": state.total_individuals,
                "elapsed": self.elapsed(), "best": state.best, "final_fitness": final,
                "program": program}

    def _tune(self) -> None:
        """The ``[tune]`` stage: the best program's constants tuned into tuned.json, with its
        record tuning.json as the stage's own checkpoint (a resume continues it)."""
        self.save_checkpoint()          # a crash from here on resumes into this stage
        best = self.selection.best_program()
        folder = self.run_dir.path
        resume = (folder / tuning.HISTORY_FILE).is_file()
        options = tuning.stage_options(self.cfg, self.state.seed)
        if not self.result:             # resumed into this stage
            self.result = self._result(self.state.best.get("final_fitness"), best)
        try:
            result = tuning.tune_into(folder, best, self.cfg, options, resume=resume,
                                      checkpoint_seconds=self.checkpoint_seconds,
                                      what="the run's best program")
        except TuneError as exc:        # e.g. no live constants: the search itself is done
            self.run_dir.event("tune_skipped", reason=str(exc))
            if self.opts.on_warning:
                self.opts.on_warning(f"tuning skipped: {exc}")
        else:
            summary = result.summary()
            self.run_dir.event("tuned", program=result.program.listing(), **summary)
            self.result["tuning"] = summary
        self.state.done = True
        self.state.phase = "done"


def _new_state(cfg: Config, options: RunOptions) -> SearchState:
    """A new run's state: the command line's seed, workers and limits, else the config's."""
    run = cfg.run

    def given(option, key):
        return run[key] if option is None else option

    return SearchState.new(cfg, seed=given(options.seed, "seed"),
                           workers=resolve_workers(given(options.workers, "workers")),
                           max_seconds=given(options.max_seconds, "max_seconds"),
                           max_individuals=given(options.max_individuals, "max_individuals"))


def _island_maker(cfg: Config, options: RunOptions) -> IslandMaker:
    """Islands in worker processes, or Ray actors (ray is imported only then)."""
    if options.backend == "ray":
        from .ray_islands import RayIslands

        return RayIslands(cfg, options.address)
    from .workers import ProcessIslands     # multiprocessing only when islands run in processes

    return ProcessIslands(cfg)


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
