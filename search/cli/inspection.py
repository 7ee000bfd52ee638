"""Looking into a run: ``azc export`` and ``azc show``, and what ``azc evaluate`` and the
search's own summary need to know about a run directory.

The commands take RUN_DIR (its ``best_program.json``; the eval type comes from its
``config.toml``) or a PROGRAM.json.  Errors are one line on stderr and exit status 2, never a
traceback.
"""
from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import click

from azcompile.eval_type import EvalType, config_names
from azcompile.export import ExportError, export_program
from azcompile.jit_cache import atomic_write_text
from azcompile.program import ProgramError, load
from azcompile.show import VIEWS, show

from ..run import config as config_mod
from ..run import hall
from ..run.checkpoint import config_document
from ..run.rundir import RunDirError, read_events
from .errors import USER_ERRORS, fail

TASK_LISTS = ("search", "select", "final")
_UINT32 = 2 ** 32


# ---- what a run directory holds ------------------------------------------------------------

def run_task(run_dir: Path) -> dict:
    """Eval type and class count of the run's search tasks, from its config.toml."""
    config_path = run_dir / "config.toml"
    if not config_path.exists():
        return {}
    cfg = config_mod.load(config_path)
    if not cfg.search_tasks:
        return {}
    spec = cfg.search_tasks[0]
    eval_type = EvalType(spec.eval_type).config_name
    if eval_type != "multiclass":
        return {"eval_type": eval_type}
    # The class count is the dataset's: build the first search task to read it.
    tasks = config_mod.build_task_list([spec], "search")
    return {"eval_type": eval_type, "num_classes": tasks[0].num_classes}


def load_program(path: Path):
    """The program of PROGRAM.json, or of RUN_DIR (its best_program.json)."""
    if path.is_dir():
        path = path / "best_program.json"
        if not path.exists():
            raise ProgramError(f"{path.parent} has no best_program.json (is it a run directory, "
                               "and has the run found a program yet?)")
    return load(path)


def load_target(path: str, eval_type: str | None, num_classes: int | None):
    """(program, eval type, class count) from RUN_DIR or PROGRAM.json; options win."""
    target = Path(path)
    task = run_task(target) if target.is_dir() else {}
    program = load_program(target)
    eval_type = eval_type or task.get("eval_type")
    num_classes = num_classes if num_classes is not None else task.get("num_classes")
    task_meta = program.meta.get("task")
    in_meta = "num_classes" in program.meta or (isinstance(task_meta, dict)
                                                and "num_classes" in task_meta)
    if eval_type == "multiclass" and num_classes is None and not in_meta:
        raise ProgramError(f"a multiclass program needs its class count: pass --num-classes "
                           f"(2 to {program.memory.features}, the feature size)")
    return program, eval_type, num_classes


def export_hint(run_dir: Path) -> str:
    """An ``azc export`` command for this run that works from the current directory: the
    run quoted for the shell, a module name that does not exist yet."""
    name, k = "algorithm.py", 1
    while Path(name).exists():
        k += 1
        name = f"algorithm_{k}.py"
    return f"azc export {shlex.quote(str(run_dir))} -o {name}"


# ---- the tasks azc evaluate scores on ------------------------------------------------------

@dataclass
class TaskList:
    """One task list to score on, with the random-op seed and where its task seeds came from."""

    name: str
    specs: list
    seed: int
    source: str


def evaluation_plan(target: str, config: str | None, which: str, seed: int | None):
    """(program, config, task lists) for ``azc evaluate TARGET [CONFIG]``.

    For a run directory scored on its own config (CONFIG omitted or the same text), the
    search and select tasks are the ones the run drew for the best program's experiment,
    and the select seed is the one its select check used: ``randomize_task_seeds`` re-draws
    them, so the config's seeds would score other tasks.
    """
    path = Path(target)
    run_dir = path if path.is_dir() else None
    if config is None and run_dir is None:
        raise config_mod.ConfigError(f"{target} is a program file, not a run directory: give "
                                     "the config whose tasks to score it on as well")
    program = load_program(path)
    cfg = config_mod.load(config if config is not None else run_dir / "config.toml")
    own = run_dir is not None and (config is None or _same_config(cfg, run_dir))
    experiment = program.meta.get("experiment")
    recorded = _recorded_seeds(run_dir, experiment, cfg) if own and _is_int(experiment) else {}
    lists = TASK_LISTS if which == "all" else (which,)
    plan = [_task_list(name, getattr(cfg, f"{name}_tasks"), recorded, seed, experiment, cfg)
            for name in lists if getattr(cfg, f"{name}_tasks")]
    if not plan:
        raise config_mod.ConfigError(f"{cfg.source_path or cfg.name} has no {which}_tasks")
    return program, cfg, plan


def _task_list(name, specs, recorded, seed, experiment, cfg) -> TaskList:
    drawn = recorded.get(name)
    if drawn is not None:
        specs = [replace(spec, param_seeds=tuple(params), data_seeds=tuple(datas))
                 for spec, (params, datas) in zip(specs, drawn)]
        source = f"the tasks the run drew in experiment {experiment}"
        if name == "select" and seed is None:
            return TaskList(name, specs, recorded["select_seed"],
                            source + f", its select seed {recorded['select_seed']}")
    else:
        source = "the config's task seeds"
        if name != "final" and cfg.experiment["randomize_task_seeds"]:
            source += ", not the ones the search drew with randomize_task_seeds"
    seed = 0 if seed is None else seed
    return TaskList(name, specs, seed, f"{source}, random-op seed {seed}")


def _same_config(cfg, run_dir: Path) -> bool:
    """Whether ``cfg`` describes the run's own search (as resume decides it: the config's
    comparable document, not its text, which the run directory records with base_dir)."""
    try:
        own = config_mod.load(run_dir / "config.toml")
    except config_mod.ConfigError:
        return False
    return config_document(cfg) == config_document(own)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _recorded_seeds(run_dir: Path, experiment: int, cfg) -> dict:
    """The search and select task seeds the run logged for ``experiment`` (runs made before
    select seeds were logged have only the search ones)."""
    found = {}
    for record in read_events(run_dir):       # records are dicts with an "event" name
        if record.get("experiment") != experiment:
            continue
        if record.get("event") == "experiment_start" and "search_seeds" in record:
            found["search"] = record["search_seeds"]
        elif record.get("event") == "experiment_end" and "select_seeds" in record:
            found["select"] = record["select_seeds"]
            found["select_seed"] = record.get("select_seed")
    for name in ("search", "select"):
        if name in found and not _seeds_fit(found[name], getattr(cfg, f"{name}_tasks")):
            raise RunDirError(f"{run_dir / 'events.jsonl'}: the {name} task seeds logged for "
                              f"experiment {experiment} do not fit the config's {name}_tasks")
    if "select" in found and not (_is_int(found["select_seed"]) and 0 <= found["select_seed"] < 2 ** 64):
        raise RunDirError(f"{run_dir / 'events.jsonl'}: the select seed logged for experiment "
                          f"{experiment} is not a 64-bit seed")
    return found


def _seeds_fit(drawn, specs) -> bool:
    """``drawn`` is [[param seeds, data seeds], ...], one pair per spec, of uint32 seeds."""
    if not isinstance(drawn, list) or len(drawn) != len(specs):
        return False
    return all(isinstance(pair, list) and len(pair) == 2
               and all(isinstance(seeds, list) and all(_is_int(x) and 0 <= x < _UINT32 for x in seeds)
                       for seeds in pair)
               for pair in drawn)


# ---- azc export and azc show ---------------------------------------------------------------

_TARGET = click.argument("target", metavar="RUN_DIR|PROGRAM.json",
                         type=click.Path(exists=True, path_type=str))
_EVAL = click.option("--eval-type", type=click.Choice(sorted(config_names())), default=None,
                     help="The task's eval type (default: the run's config, the program's "
                          "meta, else rms_error).")
_CLASSES = click.option("--num-classes", type=click.IntRange(2, None), default=None,
                        help="Classes of a multiclass task (default: from the run).")


@click.command("export")
@_TARGET
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The module to write, e.g. algo.py.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@click.option("--jit", is_flag=True, help="Compile Predict and Learn with numba.")
@click.option("--class-name", default="EvolvedAlgorithm", show_default=True,
              help="Name of the scikit-learn style estimator class.")
@click.option("--name-registers", type=click.Choice(["auto", "raw"]), default="auto",
              show_default=True, help="Names by role (weights, features, ...) or raw s3/v1/m0.")
@_EVAL
@_CLASSES
def export_command(target, output, force, jit, class_name, name_registers, eval_type,
                   num_classes):
    """Write a program as one standalone Python module (numpy only; --jit adds numba)."""
    try:
        started = time.perf_counter()
        if output.exists() and not force:
            raise ExportError(f"{output} already exists; add --force to overwrite it")
        program, eval_type, num_classes = load_target(target, eval_type, num_classes)
        text = export_program(program, jit=jit, class_name=class_name,
                              name_registers=name_registers, eval_type=eval_type,
                              num_classes=num_classes)
        atomic_write_text(output, text)
    except USER_ERRORS as exc:
        fail(exc)
    click.echo(f"wrote {output} ({len(text.splitlines())} lines, "
               f"{time.perf_counter() - started:.2f} s)", err=True)


@click.command("show")
@_TARGET
@click.option("--view", type=click.Choice(VIEWS), default="raw", show_default=True,
              help="raw: as evolved; canonical: dead code removed; python: the exported "
                   "module; kernel: the numba source the compiled engine runs.")
@click.option("--color/--no-color", default=None,
              help="Syntax highlighting (default: when printing to a terminal).")
@click.option("--hall-of-fame", "hall_of_fame", is_flag=True,
              help="List the run's best program of each size (canonical form), smallest first.")
@_EVAL
@_CLASSES
def show_command(target, view, color, eval_type, num_classes, hall_of_fame):
    """Print a program as the paper writes it, in canonical form, or as Python."""
    try:
        if hall_of_fame:
            click.echo(_hall_of_fame_text(Path(target)))
            return
        program, eval_type, num_classes = load_target(target, eval_type, num_classes)
        show(program, view, color=color, file=sys.stdout,
             eval_type=eval_type, num_classes=num_classes)
    except USER_ERRORS as exc:
        fail(exc)


def _hall_of_fame_text(run_dir: Path) -> str:
    path = run_dir / "hall_of_fame.json"
    if not path.is_file():
        raise RunDirError(f"{run_dir} has no hall_of_fame.json (is it a run directory that "
                          "reached its first checkpoint?); run azc show RUN_DIR for its best")
    cfg = config_mod.load(run_dir / "config.toml")
    mode = EvalType(cfg.search_tasks[0].eval_type).task_mode
    best = load_program(run_dir) if (run_dir / "best_program.json").is_file() else None
    return (f"hall of fame of {run_dir}: the best program of each live size (instructions "
            "left in canonical form), smallest first; fitness on the search tasks\n"
            + hall.format_hall(hall.read_file(path, cfg), mode, best))
