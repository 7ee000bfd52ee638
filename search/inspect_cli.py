"""``azc export`` and ``azc show``: a program out of a run directory, as code.

Both take RUN_DIR (its ``best_program.json``; the eval type comes from its ``config.toml``)
or a PROGRAM.json.  Errors are one line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from azcompile.export import EVAL_TYPES, ExportError, export_program
from azcompile.program import ProgramError, load
from azcompile.show import VIEWS, show


class InspectError(click.ClickException):
    """A user error: printed as one line, exit status 2."""

    exit_code = 2

    def show(self, file=None):
        click.echo(f"error: {self.message}", err=True)


def _run_task(run_dir: Path) -> dict:
    """Eval type and class count of the run's search tasks, from its config.toml."""
    config_path = run_dir / "config.toml"
    if not config_path.exists():
        return {}
    from . import config as _config

    cfg = _config.load(config_path)
    if not cfg.search_tasks:
        return {}
    spec = cfg.search_tasks[0]
    eval_type = {code: name for name, code in EVAL_TYPES.items()}[spec.eval_type]
    if eval_type != "multiclass":
        return {"eval_type": eval_type}
    # The class count is the dataset's: build the first search task to read it.
    tasks = _config.build_task_list([spec], "search")
    return {"eval_type": eval_type, "num_classes": tasks[0].num_classes}


def load_target(path: str, eval_type: str | None, num_classes: int | None):
    """(program, eval type, class count) from RUN_DIR or PROGRAM.json; options win."""
    target = Path(path)
    task = {}
    if target.is_dir():
        task = _run_task(target)
        target = target / "best_program.json"
        if not target.exists():
            raise ProgramError(f"{target.parent} has no best_program.json (is it a run directory, "
                               "and has the run found a program yet?)")
    program = load(target)
    eval_type = eval_type or task.get("eval_type")
    num_classes = num_classes if num_classes is not None else task.get("num_classes")
    return program, eval_type, num_classes


def _user_errors():
    from .config import ConfigError
    from .tasks import TaskError

    return (ProgramError, ExportError, ConfigError, TaskError, OSError)


_TARGET = click.argument("target", metavar="RUN_DIR|PROGRAM.json",
                         type=click.Path(exists=True, path_type=str))
_EVAL = click.option("--eval-type", type=click.Choice(sorted(EVAL_TYPES)), default=None,
                     help="The task's eval type (default: the run's config, the program's "
                          "meta, else rms_error).")
_CLASSES = click.option("--num-classes", type=click.IntRange(2, None), default=None,
                        help="Classes of a multiclass task (default: from the run).")


@click.command("export")
@_TARGET
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The module to write, e.g. algo.py.")
@click.option("--jit", is_flag=True, help="Compile Predict and Learn with numba.")
@click.option("--class-name", default="EvolvedAlgorithm", show_default=True,
              help="Name of the scikit-learn style estimator class.")
@click.option("--name-registers", type=click.Choice(["auto", "raw"]), default="auto",
              show_default=True, help="Names by role (weights, features, ...) or raw s3/v1/m0.")
@_EVAL
@_CLASSES
def export_command(target, output, jit, class_name, name_registers, eval_type, num_classes):
    """Write a program as one standalone Python module (numpy only; --jit adds numba)."""
    try:
        started = time.perf_counter()
        program, eval_type, num_classes = load_target(target, eval_type, num_classes)
        text = export_program(program, jit=jit, class_name=class_name,
                              name_registers=name_registers, eval_type=eval_type,
                              num_classes=num_classes)
        from azcompile.jit_cache import atomic_write_text

        atomic_write_text(output, text)
    except _user_errors() as exc:
        raise InspectError(str(exc)) from None
    click.echo(f"wrote {output} ({len(text.splitlines())} lines, "
               f"{time.perf_counter() - started:.2f} s)", err=True)


@click.command("show")
@_TARGET
@click.option("--view", type=click.Choice(VIEWS), default="raw", show_default=True,
              help="raw: as evolved; canonical: dead code removed; python: the exported "
                   "module; kernel: the numba source the compiled engine runs.")
@click.option("--color/--no-color", default=None,
              help="Syntax highlighting (default: when printing to a terminal).")
@_EVAL
@_CLASSES
def show_command(target, view, color, eval_type, num_classes):
    """Print a program as the paper writes it, in canonical form, or as Python."""
    try:
        program, eval_type, num_classes = load_target(target, eval_type, num_classes)
        show(program, view, color=color, file=sys.stdout,
             eval_type=eval_type, num_classes=num_classes)
    except _user_errors() as exc:
        raise InspectError(str(exc)) from None
