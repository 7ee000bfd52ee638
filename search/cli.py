"""The ``azc`` command line.

Every expected failure (bad config, bad program file, bad data, a run directory in use)
prints one ``error:`` line and exits with status 2; Ctrl-C saves a checkpoint first.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from azcompile.program import ProgramError

from .checkpoint import CheckpointError
from .config import ConfigError
from .rundir import RunDirError
from .tasks import TaskError

USER_ERRORS = (ConfigError, ProgramError, RunDirError, CheckpointError, TaskError)


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None):
        click.echo(f"error: {self.message}", err=True)


def fail(exc: Exception):
    raise UserError(str(exc)) from None


class _Interrupt:
    """First Ctrl-C asks the search to stop at the next batch; a second one aborts."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            signal.signal(signal.SIGINT, self.previous)
            raise KeyboardInterrupt
        self.requested = True
        click.echo("\ninterrupt: saving a checkpoint (press Ctrl-C again to abort)", err=True)

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)
        return False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="azcompile")
def main():
    """azcompile: evolve machine-learning algorithms from scratch (AutoML-Zero), compile them
    with numba, and export the winners as standalone Python."""


@main.command("search")
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
def search_command(config, seed, workers, out, resume, engine, max_time, max_individuals,
                   checkpoint_every, plain):
    """Search for an algorithm as CONFIG.toml describes; with --resume, continue a run."""
    from . import config as config_mod
    from .experiment import RunOptions, Search
    from .progress import make_progress

    try:
        if resume:
            run_dir = Path(resume)
            if not (run_dir / "config.toml").exists():
                raise RunDirError(f"{run_dir} is not a run directory (no config.toml): nothing to "
                                  f"resume; start a new run with azc search CONFIG.toml --out DIR")
            cfg = config_mod.load(run_dir / "config.toml")
        else:
            if config is None:
                raise ConfigError("give a CONFIG.toml to start a search, or --resume RUN_DIR")
            cfg = config_mod.load(config)
            run_dir = Path(out) if out else _default_out(cfg)
        if workers is not None:
            cfg.run["workers"] = workers
        if cfg.run["workers"] == 0:          # 0 = one island per core
            cfg.run["workers"] = os.cpu_count() or 1
        display = make_progress(plain)
        with _Interrupt() as interrupt:
            options = RunOptions(out=run_dir, seed=seed, resume=bool(resume), engine=engine,
                                 max_seconds=max_time, max_individuals=max_individuals,
                                 checkpoint_seconds=checkpoint_every, progress=display.snapshot,
                                 on_event=display.event, should_stop=lambda: interrupt.requested)
            search = Search(cfg, options)
            try:
                result = search.run()
            finally:
                display.close()
        if search.interrupted:
            click.echo(f"stopped; resume with: azc search --resume {run_dir}", err=True)
            sys.exit(130)
        _print_result(result, run_dir)
    except USER_ERRORS as exc:
        fail(exc)


def _default_out(cfg) -> Path:
    base = Path("runs") / cfg.name
    k = 1
    path = base
    while path.exists():
        k += 1
        path = Path(f"{base}-{k}")
    return path


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
    program = result.get("program")
    if program is not None:
        from azcompile.liveness import dead_code_eliminated

        click.echo("Algorithm found (dead code removed):")
        click.echo(dead_code_eliminated(program).listing().rstrip())
    click.echo(f"run directory: {run_dir}  (export with: azc export {run_dir} -o algorithm.py)")


@main.command("ops")
def ops_command():
    """List the op table: id, name, operand kinds and notation."""
    from azcompile.ops import OPS

    for op in OPS:
        kinds = f"{op.in1 or '-'}{op.in2 or '-'}->{op.out or '-'}"
        click.echo(f"{op.id:3d}  {op.name:28s} {kinds:8s} {op.show}")


if __name__ == "__main__":  # pragma: no cover
    main()
