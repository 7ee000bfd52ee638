"""A search from Python: ``run_search`` runs a configuration (a ``Config``, a TOML file, a
bundled example's name or a dict in the TOML's layout) on the CLI's engine, with the same
run directory, event log, checkpoints and resume as ``azc search``.

Progress prints the CLI's log lines; in a Jupyter notebook a status line above them is
updated in place.  Interrupting (Ctrl-C, or the notebook's interrupt button, both SIGINT)
stops the search at the next batch with a checkpoint, after which ``run_search(...,
resume=True)`` continues it; a second interrupt stops at once (``KeyboardInterrupt``), with
the run as its last checkpoint left it.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from azcompile.program import Program, from_json

from ..run import config as config_mod
from ..run.config import Config, ConfigError
from ..run.experiment import RunOptions, Search, load_run_config
from ..run.hall import ranked
from ..run.reporting import event_line
from ..run.rundir import free_dir
from .toml_text import dumps, loads

WARM_START = config_mod.WARM_START


@dataclass
class SearchResult:
    """What a search left: its run directory, the best program and its fitnesses."""

    run_dir: Path
    program: Program | None
    search_fitness: float | None
    select_fitness: float | None
    final_fitness: float | None
    individuals: int
    elapsed: float
    interrupted: bool
    hall_of_fame: list = field(default_factory=list)   # entries, smallest program first

    def __repr__(self):
        best = "no program yet" if self.program is None else (
            f"search fitness {self.search_fitness:.6f}, select fitness "
            f"{'n/a' if self.select_fitness is None else f'{self.select_fitness:.6f}'}")
        state = ", interrupted" if self.interrupted else ""
        return (f"SearchResult({self.run_dir}: {best}; {self.individuals:,} individuals in "
                f"{self.elapsed:.1f} s{state})")


def config_text(config) -> str:
    """TOML text of ``config``: a dict (the TOML's layout), a ``Config`` (its text), a file
    or a bundled example's name."""
    if isinstance(config, dict):
        return dumps(config)
    if isinstance(config, Config):
        return config.run_dir_text or config.source_text
    return config_mod.load(config).run_dir_text


def config_dict(config) -> dict:
    """``config`` (a file, a bundled example's name, a ``Config``) as a dict to edit and run."""
    return loads(config_text(config))


def make_config(config, *, warm_start=None) -> Config:
    """The ``Config`` of ``config`` (see ``config_text``); ``warm_start`` (a program file
    or a run directory) sets ``evolution.initial_population = "from:PATH"``."""
    if isinstance(config, Config) and warm_start is None:
        return config
    text = config_text(config)
    if warm_start is not None:
        doc = loads(text)
        doc.setdefault("evolution", {})["initial_population"] = \
            f"{WARM_START}{Path(warm_start).expanduser().resolve()}"
        text = dumps(doc)
    return config_mod.parse(text, "<python>")


def run_search(config=None, out=None, *, resume: bool = False, seed: int | None = None,
               workers: int | None = None, max_seconds: float | None = None,
               max_individuals: int | None = None, checkpoint_seconds: float | None = None,
               warm_start=None, progress: bool = True) -> SearchResult:
    """Run a search as ``azc search`` does and return its result.

    ``out``: the run directory (default: a new ``runs/NAME-N``).  ``resume=True`` continues
    the run in ``out`` (``config`` may then be omitted).  ``seed``, ``workers`` and the limits
    override the config's, as the CLI's flags do; ``warm_start`` starts the population from a
    program file or another run's best.  ``progress=False`` prints nothing.
    """
    if resume:
        if out is None:
            raise ConfigError("resume=True needs out=RUN_DIR, the run to continue")
        cfg = load_run_config(Path(out), None) if config is None else make_config(config)
    else:
        if config is None:
            raise ConfigError("give a config (a dict, a TOML file or a bundled example's name)")
        cfg = make_config(config, warm_start=warm_start)
    run_dir = Path(out) if out is not None else free_dir(Path("runs") / cfg.name)
    display = NotebookProgress() if progress and in_notebook() else (
        LineProgress() if progress else None)
    with stop_on_interrupt() as interrupt:
        options = RunOptions(
            out=run_dir, seed=seed, resume=resume, workers=workers, max_seconds=max_seconds,
            max_individuals=max_individuals, checkpoint_seconds=checkpoint_seconds,
            progress=display.snapshot if display else None,
            on_event=display.event if display else None,
            on_warning=lambda message: print(f"warning: {message}", file=sys.stderr),
            should_stop=lambda: interrupt.requested)
        search = Search(cfg, options)
        try:
            search.run()
        finally:
            if display:
                display.close()
    if search.interrupted and progress:
        print(f"stopped with a checkpoint; continue with: run_search(out={str(run_dir)!r}, "
              "resume=True)", file=sys.stderr)
    return result_of(search, run_dir)


def result_of(search: Search, run_dir: Path) -> SearchResult:
    state = search.state
    best = state.best
    program = search.selection.best_program() if best else None
    hall = [{**entry, "program": from_json(entry["program"])}
            for entry in ranked(state.hall_of_fame)]
    return SearchResult(run_dir, program,
                        best["search_fitness"] if best else None,
                        best["select_fitness"] if best else None,
                        best.get("final_fitness") if best else None,
                        state.total_individuals, search.elapsed(), search.interrupted, hall)


# ---- interrupts ------------------------------------------------------------------------------

class _Interrupt:
    requested = False


@contextmanager
def stop_on_interrupt():
    """SIGINT asks the search to stop at its next batch (with a checkpoint); a second one
    raises KeyboardInterrupt.  Outside the main thread (no signals there) nothing changes."""
    interrupt = _Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return

    def handle(signum, frame):
        if interrupt.requested:
            raise KeyboardInterrupt
        interrupt.requested = True
        print("\ninterrupt: saving a checkpoint, then stopping (interrupt again to abort)",
              file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, previous)


# ---- progress --------------------------------------------------------------------------------

def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (IPython with a kernel attached)."""
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    return ip is not None and getattr(ip, "kernel", None) is not None


def status_line(snap) -> str:
    select = "-" if snap.best_select is None else f"{snap.best_select:.6f}"
    return (f"experiment {snap.experiment} ({snap.phase}): {snap.total_individuals:,} "
            f"individuals, {snap.rate:,.0f}/s, best fitness {snap.best:.6f}, best select "
            f"{select}, elapsed {snap.elapsed:,.1f} s")


class LineProgress:
    """The CLI's log lines (``azc search --plain``), on stdout."""

    def snapshot(self, snap) -> None:
        pass

    def event(self, record: dict) -> None:
        line = event_line(record)
        if line is not None:
            print(line, flush=True)

    def close(self) -> None:
        pass


class NotebookProgress(LineProgress):
    """In Jupyter: a status line updated in place (an IPython display), and the log lines."""

    def __init__(self):
        from IPython.display import Pretty, display

        self.text = Pretty
        self.handle = display(Pretty("starting (compiling kernels: first run of a feature "
                                     "size only)"), display_id=True)

    def snapshot(self, snap) -> None:
        self.handle.update(self.text(status_line(snap)))
