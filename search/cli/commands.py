"""The ``azc`` command line.

Every expected failure (bad config, bad program file, bad data, a run directory in use)
prints one ``error:`` line and exits with status 2; Ctrl-C saves a checkpoint first.
"""
from __future__ import annotations

import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import click
import numpy as np

import azcompile
from azcompile import compiling
from azcompile.ops import OPS
from azcompile.program import ProgramError, load
from azcompile.show import render

from ..data.baselines import BaselineRow, baseline_report, format_report, has_test_split, score
from ..data.tasks import TaskError
from ..engine.evaluator import evaluate_on_tasks
from ..api.session import make_config
from ..run import config as config_mod
from ..run.config import ConfigError, build_task_list, bundled_examples
from ..run.experiment import RunOptions, Search, load_run_config
from ..run.rundir import free_dir
from ..run.workers import WorkerError
from . import errors, startup
from .bench import format_results, run_suite
from .bench_strategies import STRATEGIES, compare, format_comparison
from .inspection import evaluation_plan, export_command, export_hint, run_task, show_command
from .lineage_view import render_chain
from .plot import plot_run
from .progress import make_progress
from .tuning import tune_command

# Commands let expected failures escape: AzcGroup maps them (cli.errors).  search_command
# catches them itself, inside its signal handling (and adds what to do with the run directory
# to other failures).
USER_ERRORS = errors.USER_ERRORS


class AzcGroup(click.Group):
    """The ``azc`` group: every failure leaves as one ``error:`` line (see cli.errors)."""
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        startup.ready()
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            sys.exit(_usage_error(exc))
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:           # noqa: BLE001 - the one place failures are mapped
            sys.exit(_report(exc))
        sys.exit(code or 0)


def _usage_error(exc: click.UsageError) -> int:
    command = exc.ctx.command_path if exc.ctx is not None else "azc"
    click.echo(f"error: {errors.one_line(exc.format_message())} (see: {command} --help)", err=True)
    return errors.EXIT_USER_ERROR


def _report(exc: Exception) -> int:
    message = errors.user_message(exc)
    if message is not None:
        click.echo(f"error: {message}", err=True)
        return errors.EXIT_USER_ERROR
    if errors.debugging():
        raise exc
    click.echo(f"error: {errors.internal_error_message(exc)}", err=True)
    return errors.EXIT_INTERNAL_ERROR


class _Interrupt:
    """SIGINT (Ctrl-C) and SIGTERM: the first asks the search to stop at the next batch
    boundary and write a checkpoint; a second aborts at once (``_Interrupt.Abort``), which
    leaves the directory as the last checkpoint left it; a third exits without cleaning up."""
    SIGNALS = (signal.SIGINT, signal.SIGTERM)
    STOP_NOW = "interrupt: stopping now (nothing to save yet)"

    class Abort(BaseException):
        """Raised by the second signal; not an Exception, so nothing on the way catches it."""
    def __init__(self):
        self.requested = None       # the first signal's number
        self.aborting = False
        self.search = None          # the search, once there is one

    @property
    def exit_code(self) -> int:
        return 128 + (self.requested or signal.SIGINT)   # 130 for SIGINT, 143 for SIGTERM

    def __enter__(self):
        self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        self._start_watchdog()
        return self

    def _stop_compile_now(self) -> bool:
        """A compile (or the start of a search, which waits on one) can take a minute and
        nothing would be lost: stop now."""
        search = self.search
        starting = search is not None and search.is_starting()
        unsaved = search is not None and search.has_unsaved_work()
        return self.requested is None and (compiling.active() or starting) and not unsaved

    def _handle(self, signum, frame):
        if self._stop_compile_now():
            self.requested = signum
            self.aborting = True
            click.echo(f"\n{self.STOP_NOW}", err=True)
            raise _Interrupt.Abort()
        if self.requested is None:
            self.requested = signum
            again = "press Ctrl-C again" if signum == signal.SIGINT else "signal again"
            click.echo(f"\ninterrupt: saving a checkpoint, then stopping ({again} to abort)",
                       err=True)
            return
        if self.aborting:
            os._exit(self.exit_code)
        self.aborting = True
        raise _Interrupt.Abort()

    # Python runs a signal handler only between bytecodes, and LLVM optimising a large
    # module holds the main thread in C for up to tens of seconds.  The wakeup fd wakes a
    # thread (llvmlite releases the GIL) that ends a compile with nothing unsaved itself
    # when the handler has not acted within WATCHDOG_GRACE seconds.
    WATCHDOG_GRACE = 0.3

    def _start_watchdog(self) -> None:
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._previous_wakeup = signal.set_wakeup_fd(self._wake_write, warn_on_full_buffer=False)
        threading.Thread(target=self._watch, name="azc-interrupt-watchdog", daemon=True).start()

    def _watch(self) -> None:
        while True:
            woken = os.read(self._wake_read, 16)
            if not woken:               # __exit__ closed the pipe's other end
                os.close(self._wake_read)
                return
            if not set(woken) & set(self.SIGNALS):
                continue                # another handled signal (a resize, say)
            time.sleep(self.WATCHDOG_GRACE)
            if self._stop_compile_now():
                os.write(2, f"\n{self.STOP_NOW}\n{_aborted_note(self.search)}\n".encode())
                os._exit(128 + [n for n in woken if n in self.SIGNALS][-1])

    def _stop_watchdog(self) -> None:
        signal.set_wakeup_fd(self._previous_wakeup)
        os.close(self._wake_write)

    def __exit__(self, *exc):
        self._stop_watchdog()
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        if self.requested is not None:
            startup.exiting(self.exit_code)
        return False


def _aborted_note(search) -> str:
    """What an abort leaves behind, and the command that goes on from there."""
    if search is None:
        return "aborted; nothing was written"
    if search.done:
        return f"aborted; the run had finished: {search.run_dir.path}"
    return f"aborted; {search.run_dir.next_step()}"


def _bundled_examples_epilog() -> str:
    names = ", ".join(sorted(bundled_examples()))
    return (f"CONFIG is a TOML file or the name of a bundled example: {names} "
            "(e.g. azc search demo --out runs/demo).")


@click.group(cls=AzcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=azcompile.__version__, prog_name="azc")
def main():
    """azcompile: evolve machine-learning algorithms from scratch (AutoML-Zero), compile them
    with numba, and export the winners as standalone Python."""
@main.command("search", epilog=_bundled_examples_epilog())
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@click.option("--seed", type=click.IntRange(0, 2 ** 63), help="Random seed (default: the config's run.seed).")
@click.option("--workers", type=click.IntRange(0, 1024), default=None,
              help="Island processes; 0 = one per core (default: the config's run.workers).")
@click.option("--out", "out", type=click.Path(file_okay=False), help="Run directory to create.")
@click.option("--resume", "resume", type=click.Path(file_okay=False, exists=True),
              help="Continue the run in this directory after a crash or Ctrl-C.")
@click.option("--engine", type=click.Choice(["interp", "compiled", "auto"]), default=None,
              help="Engine for select and final evaluation (search always interprets).")
@click.option("--max-time", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
@click.option("--max-individuals", type=click.IntRange(min=1), default=None,
              help="Stop after this many individuals.")
@click.option("--checkpoint-every", type=click.FloatRange(min=0), default=None,
              help="Seconds between checkpoints (default: the config's run.checkpoint_seconds).")
@click.option("--plain", is_flag=True, default=None, help="Log lines instead of the live panel.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder with MNIST / Fashion-MNIST / CIFAR-10 files (overrides data_dir).")
@click.option("--warm-start", type=click.Path(exists=True), default=None,
              help="Start from this program file or run directory's best (sets "
                   "evolution.initial_population = \"from:PATH\"); e.g. to continue a "
                   "finished run with a larger budget in a new directory.")
@click.option("--backend", type=click.Choice(["process", "ray"]), default="process",
              show_default=True, help="Where islands run with --workers > 1: worker processes "
              "here, or Ray actors (needs the extra `ray`).")
@click.option("--migration", type=click.Choice(["deterministic", "async"]), default=None,
              help="A new run's migration mode (default: the config's run.migration): "
              "deterministic (reproducible) or async (no barrier: throughput).")
@click.option("--address", default=None, help="With --backend ray: the cluster to join "
              "('auto', or HOST:PORT); default: start a local one.")
def search_command(config, seed, workers, out, resume, engine, max_time, max_individuals,
                   checkpoint_every, plain, data_dir, warm_start, backend, migration, address):
    """Search for an algorithm as CONFIG.toml describes; with --resume, continue a run."""
    search = None
    with _Interrupt() as interrupt:     # first: a Ctrl-C while loading must not be a traceback
        try:
            if resume:
                if warm_start:
                    raise ConfigError("--warm-start starts a new run; give it with CONFIG "
                                      "--out NEW_DIR, not with --resume")
                if migration:
                    raise ConfigError("--migration is set when a run starts (its config.toml "
                                      "records it): resume without it")
                run_dir = Path(resume)
                cfg = load_run_config(run_dir, config)
            else:
                if config is None:
                    raise ConfigError("give a CONFIG.toml to start a search, or --resume RUN_DIR")
                cfg = config_mod.load(config)
                if warm_start:
                    cfg = make_config(cfg, warm_start=warm_start)
                if migration:
                    cfg = config_mod.with_migration(cfg, migration)
                run_dir = Path(out) if out else _default_out(cfg)
            if data_dir:
                config_mod.override_data_dir(cfg, data_dir)
            if interrupt.requested:
                click.echo("stopped before the search started; nothing was written", err=True)
                sys.exit(interrupt.exit_code)
            display = make_progress(plain)
            options = RunOptions(
                out=run_dir, seed=seed, resume=bool(resume), workers=workers, engine=engine,
                max_seconds=max_time, max_individuals=max_individuals,
                checkpoint_seconds=checkpoint_every, config_arg=config,
                started=startup.command_started(),
                on_note=lambda message: click.echo(message, err=True),
                progress=display.snapshot, on_event=display.event,
                on_warning=lambda message: click.echo(f"warning: {message}", err=True),
                should_stop=lambda: interrupt.requested is not None, backend=backend,
                address=address)
            search = Search(cfg, options)
            interrupt.search = search
            if interrupt.requested:     # a Ctrl-C while the search was being set up
                click.echo("stopped before the search started; nothing was written", err=True)
                sys.exit(interrupt.exit_code)
            try:
                result = search.run()
            finally:
                display.close()
            if search.interrupted:
                click.echo(f"stopped; resume with: {search.run_dir.resume_command()}", err=True)
                sys.exit(interrupt.exit_code)
            _print_result(result, run_dir)
        except USER_ERRORS as exc:
            errors.fail(exc)
        except Exception as exc:
            if not isinstance(exc, WorkerError):
                raise
            errors.fail(f"{exc}; {search.run_dir.next_step()}")
        except _Interrupt.Abort:
            click.echo(_aborted_note(search), err=True)
            sys.exit(interrupt.exit_code)


def _default_out(cfg) -> Path:
    return free_dir(Path("runs") / cfg.name)


def _print_result(result: dict, run_dir: Path) -> None:
    best = result.get("best") or {}
    click.echo(f"experiments: {result['experiments']}, individuals: {result['individuals']:,}, "
               f"elapsed: {result['elapsed']:.1f} s")
    if best:
        sel = best.get("select_fitness")
        click.echo(f"search fitness = {best['search_fitness']:.6f}, select fitness = "
                   f"{'n/a' if sel is None else f'{sel:.6f}'}")
    if result.get("final_fitness") is not None:
        click.echo(f"Final evaluation fitness (on unseen data) = {result['final_fitness']:.6f}")
    tuned = result.get("tuning")
    if tuned is not None:
        click.echo(f"Tuned constants ({tuned['method']}, {tuned['trials']} settings): "
                   + ", ".join(f"{name} {_pair(tuned[f'{name}_fitness'])}"
                               for name in ("search", "select", "final")
                               if tuned[f"{name}_fitness"][0] is not None)
                   + f"; tuned program: {run_dir / 'tuned.json'}")
    program = result.get("program")
    if program is None:
        click.echo(f"run directory: {run_dir}")
        return
    # The view `azc show --view canonical RUN` prints: liveness follows the run's task
    # (a multi-class Predict writes v2, not s1).
    click.echo("Algorithm found (canonical form: dead code removed, registers renumbered):")
    click.echo(render(program, "canonical", **run_task(run_dir)).rstrip())
    click.echo(f"run directory: {run_dir}  (export with: {export_hint(run_dir)})")


def _pair(before_after) -> str:
    before, after = before_after
    return f"{before:.6f} -> {after:.6f}"


@main.command("ops")
def ops_command():
    """List the op table: id, name, operand kinds and notation."""
    for op in OPS:
        kinds = f"{op.in1 or '-'}{op.in2 or '-'}->{op.out or '-'}"
        click.echo(f"{op.id:3d}  {op.name:28s} {kinds:8s} {op.show}")


@main.command("bench")
@click.option("--quick", is_flag=True,
              help="Shorter fixed-time measurements (about 11 minutes on 2 cores).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default="bench.json",
              show_default=True, help="Where to write the figures as JSON.")
@click.option("--only", type=click.Choice(["cold_start", "scaling", "coordinator"]), multiple=True,
              help="Only these figures (repeatable): the cold start, worker scaling, the "
                   "coordinator's cost.")
@click.option("--strategies", is_flag=True,
              help="Instead: compare the search strategies (success rate, individuals and "
                   "time to solve) on --config for --seeds seeds under --budget individuals.")
@click.option("--config", "strategy_config", default="demo", show_default=True,
              help="With --strategies: a bundled example or CONFIG.toml.")
@click.option("--seeds", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="With --strategies: seeds 1..N.")
@click.option("--budget", type=click.IntRange(1), default=1_000_000, show_default=True,
              help="With --strategies: individuals per run.")
@click.option("--strategy", "only_strategies", type=click.Choice(list(STRATEGIES)), multiple=True,
              help="With --strategies: only these (repeatable).")
def bench_command(quick, json_path, only, strategies, strategy_config, seeds, budget,
                  only_strategies):
    """Measure speed: cold start, evaluation per tier, compile and load, demo throughput, time
    to solve, the nonlinear test, worker scaling, the coordinator's cost with many islands.
    With --strategies: the search strategies compared on one config under one budget."""
    if strategies:
        workdir = Path(tempfile.mkdtemp(prefix="azc-bench-strategies-"))
        results = compare(strategy_config, range(1, seeds + 1), budget, workdir,
                          only_strategies, echo=lambda m: click.echo(m, err=True))
        Path(json_path).write_text(json.dumps(results, indent=1) + "\n")
        click.echo(format_comparison(results))
        click.echo(f"(figures written to {json_path})")
        return
    results = run_suite(quick, Path(json_path), echo=lambda m: click.echo(m, err=True),
                        only=only)
    click.echo(format_results(results))
    click.echo(f"(figures written to {json_path})")


def _load_program(path):
    """A program from PROGRAM.json or a run directory (its best_program.json)."""
    path = Path(path)
    if path.is_dir():
        path = path / "best_program.json"
        if not path.exists():
            raise ProgramError(f"{path.parent} has no best_program.json (is it a run directory?)")
    return load(path)


@main.command("evaluate")
@click.argument("target", metavar="RUN_DIR|PROGRAM.json", type=click.Path(exists=True))
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@click.option("--engine", type=click.Choice(["interp", "compiled", "auto"]), default="auto",
              show_default=True)
@click.option("--tasks", "which", type=click.Choice(["search", "select", "final", "all"]),
              default="all", show_default=True, help="Which task lists of the config to use.")
@click.option("--seed", type=click.IntRange(0, 2 ** 64 - 1), default=None,
              help="Seed of the random ops' stream (default: for a run's select tasks the "
                   "seed its select check used, else 0).")
def evaluate_command(target, config, engine, which, seed):
    """Fitness of a program (a .json file or a run directory) on the tasks of CONFIG.toml.

    CONFIG defaults to a run directory's config.toml; a run scored on its own config gets
    the search and select tasks the run drew for its best program (with
    randomize_task_seeds they differ from the config's seeds).  Each line says which tasks
    it used."""
    prog, cfg, plan = evaluation_plan(target, config, which, seed)
    if prog.memory.features != cfg.features:
        raise ConfigError(f"the program has {prog.memory.features} features but the config's "
                          f"tasks have {cfg.features}")
    for item in plan:
        tasks = build_task_list(item.specs, f"{item.name}_tasks")
        try:
            mean, per_task = evaluate_on_tasks(
                prog, tasks, seed=item.seed, engine_name=engine,
                max_abs_error=cfg.evolution["max_abs_error"],
                draws=cfg.selection["random_draws"],
                draw_combination=cfg.selection["draw_combination"])
        except ValueError as exc:   # the program does not fit these tasks
            raise ConfigError(f"cannot score the program on the {item.name} tasks: {exc}") from None
        click.echo(f"{item.name:7s} {len(tasks):4d} tasks  mean fitness {mean:.6f}  "
                   f"min {min(per_task):.6f}  max {max(per_task):.6f}  ({item.source})")


@main.command("lineage")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--all-steps", is_flag=True,
              help="Show every ancestor, not only the steps that beat all before them.")
def lineage_command(run_dir, all_steps):
    """The chain of improvements that led to the best program: fitness, mutation and the
    change of its live code at each step.  Fitness changes are against the step shown
    before."""
    click.echo(render_chain(Path(run_dir), improvements_only=not all_steps))


@main.command("plot")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="progress.png",
              show_default=True)
def plot_command(run_dir, output):
    """Draw best and mean population fitness over individuals evaluated (needs matplotlib)."""
    plot_run(Path(run_dir), Path(output))
    click.echo(f"wrote {output}")


@main.command("baseline")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--program", "programs", multiple=True,
              help="Also score this program (a .json file or run directory) beside the baselines.")
@click.option("--split", type=click.Choice(["valid", "test"]), default="valid", show_default=True)
def baseline_command(config, programs, split):
    """The paper's baselines (linear or logistic regression, a 2-layer MLP; softmax ones for
    multi-class tasks) with learning rates tuned on the search tasks, scored on the select
    tasks (or the search tasks if there are none)."""
    cfg = config_mod.load(config)
    tune = build_task_list(cfg.search_tasks, "search_tasks")
    label = "select_tasks" if cfg.select_tasks else "search_tasks"
    held_out = build_task_list(cfg.select_tasks or cfg.search_tasks, label)
    if split == "test" and not all(has_test_split(t) for t in held_out):
        raise TaskError(f"the config's {label} have no test examples, only train and "
                        f"valid ones; score on those with --split valid")
    rows = baseline_report(tune, held_out, split=split)
    for path in programs:   # scored exactly as the baselines are, on the same split
        prog = _load_program(path)
        per_task = score(lambda task: prog, held_out, split=split)
        rows.append(BaselineRow(Path(path).name, math.nan, float(np.mean(per_task)),
                                tuple(per_task)))
    click.echo(format_report(rows))


# ``azc export`` and ``azc show`` live in search.inspect_cli.
main.add_command(export_command, "export")
main.add_command(show_command, "show")
main.add_command(tune_command, "tune")
