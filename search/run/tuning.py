"""Constant tuning with a configuration: ``azc tune`` and a search's ``[tune]`` stage.

The tasks are the configuration's search, select and final lists, built as the search builds
them.  What a tuning writes goes to one folder (a run directory, or ``azc tune --out``):
``tuned.json``, the tuned program in the format of ``best_program.json`` (``azc export`` and
``azc evaluate`` take it), and ``tuning.json``, the record of every setting tried, which is
also the checkpoint ``--resume`` continues from.  Nothing else in a run directory is touched.
"""
from __future__ import annotations

import json
from pathlib import Path

from azcompile.program import Program

from ..tune import TaskLists, TuneError, TuneOptions, TuneResult, check_available, tune
from ..tune.history import recorded
from .checkpoint import config_document, document_hash
from .config import Config, ConfigError, build_task_list

TUNED_FILE = "tuned.json"
HISTORY_FILE = "tuning.json"


def task_lists(cfg: Config) -> TaskLists:
    def build(name):
        specs = getattr(cfg, name)
        return build_task_list(specs, name) if specs else []

    return TaskLists(build("search_tasks"), build("select_tasks"), build("final_tasks"),
                     combination=cfg.evolution["fitness_combination"],
                     max_abs_error=cfg.evolution["max_abs_error"])


def fingerprint(cfg: Config) -> str:
    """What a tuning record is tied to: the configuration as a checkpoint compares it."""
    return document_hash(config_document(cfg))


def stage_options(cfg: Config, run_seed: int) -> TuneOptions:
    """The ``[tune]`` section as options (its seed defaults to the run's, its draws to the
    ``[selection]`` section's: the tuning then scores as the selection does)."""
    t = cfg.tune
    seed = run_seed if t["seed"] is None else t["seed"]
    return TuneOptions(method=t["method"], trials=t["trials"], seed=seed, halving=t["halving"],
                       hyperband=t["hyperband"], eta=t["eta"], top=t["top"],
                       decades=t["decades"], **draw_options(cfg, t))


def draw_options(cfg: Config, given: dict) -> dict:
    """``random_draws`` and ``draw_combination`` as given, else the ``[selection]`` values."""
    def pick(key):
        value = given.get(key)
        return cfg.selection[key] if value is None else value

    return {"draws": pick("random_draws"), "draw_combination": pick("draw_combination")}


def check_stage(cfg: Config) -> None:
    """Before a search with a ``[tune]`` stage starts: its method's package is there."""
    if cfg.tune:
        try:
            check_available(cfg.tune["method"])
        except TuneError as exc:
            raise ConfigError(f"tune.method: {exc}") from None


def recorded_options(folder: Path) -> dict:
    """The options ``folder/tuning.json`` was made with ({} if unreadable: restoring it then
    says what is wrong)."""
    try:
        options = json.loads((folder / HISTORY_FILE).read_text(encoding="utf-8"))["options"]
        return dict(recorded(options)) if isinstance(options, dict) else {}
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return {}


def tune_into(folder: Path, program: Program, cfg: Config, options: TuneOptions, *,
              resume: bool, checkpoint_seconds: float = 5.0,
              what: str = "the program") -> TuneResult:
    """Tune ``program`` on ``cfg``'s tasks, its record and result in ``folder``."""
    folder = Path(folder)
    history = folder / HISTORY_FILE
    if resume and not history.is_file():
        raise TuneError(f"{history}: no tuning record to resume; start without --resume")
    if not resume and history.exists():
        raise TuneError(f"{history} exists: continue that tuning with --resume, or delete it to "
                        "tune afresh")
    if program.memory.features != cfg.features:
        raise ConfigError(f"the program has {program.memory.features} features but the config's "
                          f"tasks have {cfg.features}")
    check_available(options.method)
    _drop_leftovers(folder)
    result = tune(program, task_lists(cfg), options, history, fingerprint=fingerprint(cfg),
                  resume=resume, what=what, checkpoint_seconds=checkpoint_seconds)
    result.program.save(folder / TUNED_FILE)
    return result


def _drop_leftovers(folder: Path) -> None:
    """Temporary files of an atomic write that a kill interrupted (never the real ones)."""
    for name in (TUNED_FILE, HISTORY_FILE):
        for leftover in folder.glob(f".{name}.*.tmp"):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass
