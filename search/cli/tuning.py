"""``azc tune``: tune the constants of a run's best program, or of a program file."""
from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, fields
from pathlib import Path

import click

from ..engine.evaluator import DRAW_COMBINATIONS
from ..run import config as config_mod
from ..run.tuning import HISTORY_FILE, TUNED_FILE, draw_options, recorded_options, tune_into
from ..tune import METHODS, TuneError, TuneOptions, format_report
from .inspection import load_program


def _options(cfg, folder: Path, resume: bool, given: dict) -> TuneOptions:
    """The flags given; the rest from the record being resumed, else the defaults (the
    config's run.seed for the seed, its [selection] draws for the draws)."""
    known = {f.name for f in fields(TuneOptions)}
    recorded = {k: v for k, v in recorded_options(folder).items() if k in known} if resume else {}
    base = {**asdict(TuneOptions()), "seed": cfg.run["seed"], **draw_options(cfg, {})}
    try:
        return TuneOptions(**{**base, **recorded, **given})
    except TuneError:                   # a damaged record: restoring it says so
        return TuneOptions(**{**base, **given})


def _where(target: Path, config, out):
    """(program, config, output folder) for RUN_DIR or PROGRAM.json CONFIG."""
    program = load_program(target)
    if target.is_dir():
        cfg = config_mod.load(config if config is not None else target / "config.toml")
        return program, cfg, Path(out) if out else target
    if config is None:
        raise config_mod.ConfigError(f"{target} is a program file: give the config whose tasks "
                                     f"to tune it on too (azc tune {shlex.quote(str(target))} "
                                     "CONFIG.toml)")
    return program, config_mod.load(config), Path(out) if out else target.with_name(
        target.stem + "-tuning")


@click.command("tune")
@click.argument("target", metavar="RUN_DIR|PROGRAM.json", type=click.Path(exists=True))
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@click.option("--method", type=click.Choice(METHODS), default=None,
              help="How settings are drawn (default: random; cmaes and tpe need the extra "
                   "`tune`).")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="Settings to try besides the program's own (default: 100).")
@click.option("--seed", type=click.IntRange(0, 2 ** 63), default=None,
              help="Seed of the method and of the random ops (default: the config's run.seed).")
@click.option("--halving/--no-halving", default=None,
              help="Successive halving over the search tasks: bad settings stop early.")
@click.option("--hyperband/--no-hyperband", default=None,
              help="With --halving: Hyperband's brackets in turn, from aggressive halving to "
                   "none.")
@click.option("--eta", type=click.IntRange(min=2), default=None,
              help="With --halving: keep the best 1/eta per rung (default: 3).")
@click.option("--top", type=click.IntRange(min=1), default=None,
              help="Best settings scored on the select tasks (default: 3).")
@click.option("--decades", type=click.FloatRange(0, 30, min_open=True), default=None,
              help="Each constant is searched from 10^-decades to 10^decades times its value "
                   "(default: 2; smaller refines a winner).")
@click.option("--draws", type=click.IntRange(1, 1000), default=None,
              help="A program with random ops scores each task over this many random-op draws "
                   "(default: the config's selection.random_draws).")
@click.option("--draw-combination", type=click.Choice(DRAW_COMBINATIONS), default=None,
              help="A task's score over its draws (default: the config's "
                   "selection.draw_combination).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for tuned.json and tuning.json (default: RUN_DIR, or "
                   "PROGRAM-tuning next to a program file).")
@click.option("--resume", is_flag=True, help="Continue the tuning recorded in tuning.json.")
@click.option("--checkpoint-every", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seconds between saves of tuning.json.")
def tune_command(target, config, method, trials, seed, halving, hyperband, eta, top, decades,
                 draws, draw_combination, out, resume, checkpoint_every):
    """Tune the numeric constants of a program (RUN_DIR's best, or PROGRAM.json on the tasks
    of CONFIG): on the search tasks, chosen on the select tasks, reported on the final ones.

    Constants are the live CONST_SET values and the GAUSSIAN / UNIFORM init parameters, each
    searched sign-preserving on a log scale from 1/100 to 100 times its value (--decades; a
    zero: in [-1, 1]).  Writes tuned.json (a program file, as best_program.json) and
    tuning.json (the record, from which --resume continues)."""
    program, cfg, folder = _where(Path(target), config, out)
    given = {k: v for k, v in dict(method=method, trials=trials, seed=seed, halving=halving,
                                    hyperband=hyperband, eta=eta, top=top, decades=decades,
                                    draws=draws, draw_combination=draw_combination).items()
             if v is not None}
    options = _options(cfg, folder, resume, given)
    try:
        result = tune_into(folder, program, cfg, options, resume=resume,
                           checkpoint_seconds=checkpoint_every, what=str(target))
    except KeyboardInterrupt:
        again = f"azc tune {shlex.quote(str(target))}"
        if config is not None:
            again += f" {shlex.quote(str(config))}"
        if out is not None:
            again += f" --out {shlex.quote(str(out))}"
        click.echo(f"\ninterrupted; continue with: {again} --resume", err=True)
        sys.exit(130)
    click.echo(format_report(result))
    click.echo(f"wrote {folder / TUNED_FILE} (record: {folder / HISTORY_FILE}); export with: "
               f"azc export {shlex.quote(str(folder / TUNED_FILE))} -o algorithm.py")
