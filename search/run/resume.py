"""A search's checkpoints in its run directory: writing them, reading one back for a resume
(everything checked against the configuration and the command line first), and what a new
run does with a directory that already holds one."""
from __future__ import annotations

import os

from . import checkpoint as ckpt
from . import config as config_mod
from . import hall
from .archipelago import Archipelago
from .checkpoint import CheckpointError
from .config import Config, ConfigError
from .rundir import RunDir, RunDirError
from .state import ConfigMismatch, SearchState, check_checkpoint, recorded_config


def resolve_workers(workers: int) -> int:
    """0 means one island per core."""
    return workers if workers > 0 else (os.cpu_count() or 1)


class Checkpoints:
    def __init__(self, run_dir: RunDir, cfg: Config, config_arg=None, warn=None):
        self.run_dir = run_dir
        self.cfg = cfg
        self.config_arg = config_arg        # CONFIG as the user named it (None: the run's own)
        self.warn = warn                    # one line for the user, or None

    def save(self, state: SearchState, islands: Archipelago | None, elapsed: float) -> None:
        arrays, info = state.checkpoint(elapsed=elapsed, events=self.run_dir.event_count)
        if islands is not None and state.has_islands:
            arrays.update(islands.state())
        self.run_dir.save_checkpoint(ckpt.save, arrays, info)
        if state.hall_of_fame:
            self.run_dir.save_json(self.run_dir.hall_path,
                                   hall.file_document(state.hall_of_fame))

    # ---- resume ------------------------------------------------------------------------------
    def load(self, seed: int | None, workers: int | None) -> tuple[SearchState, dict]:
        """(state, arrays) to continue from, after checking all of the checkpoint against the
        configuration and the command line's ``seed`` and ``workers`` (None: not given):
        nothing is written (and nothing reaches a kernel) before."""
        rd = self.run_dir
        if not rd.checkpoint_path.exists():
            raise RunDirError(f"{rd.path}: nothing to resume (the run stopped before its first "
                              f"checkpoint); start it over with: {rd.restart_command()}")
        try:
            arrays, info = ckpt.load(rd.checkpoint_path)
            if info.get("done") is True:
                raise RunDirError(f"{rd.path}: this run already finished; nothing to resume "
                                  f"(start a new run with: {rd.new_run_command()})")
            state = check_checkpoint(self.cfg, arrays, info)
        except ConfigMismatch as exc:
            raise RunDirError(self._mismatch_message(exc.changes)) from None
        except CheckpointError as exc:
            damaged = str(exc) if str(exc).startswith(str(rd.checkpoint_path)) else \
                f"{rd.checkpoint_path} is damaged ({exc})"
            raise CheckpointError(f"{damaged}; the run cannot be resumed: start it over with: "
                                  f"{rd.restart_command()}") from None
        self._check_options(state, seed, workers)
        return state, arrays

    def _mismatch_message(self, changes: str) -> str:
        rd = self.run_dir
        given = self.config_arg
        if given is None:
            return (f"{rd.config_path} changed since the checkpoint ({changes}); restore it, or "
                    f"start a new run with: {rd.new_run_command()}")
        try:
            own_config_fits = (ckpt.config_document(config_mod.load(rd.config_path))
                               == recorded_config(ckpt.load(rd.checkpoint_path)[1]))
        except (ConfigError, CheckpointError):
            own_config_fits = False
        resume = f"resume it with: {rd.resume_command()}, or " if own_config_fits else ""
        return (f"{given} differs from the configuration of the run in {rd.path} ({changes}); "
                f"{resume}start a new run with: {rd.new_run_command(given)}")

    def _check_options(self, state: SearchState, seed, workers) -> None:
        """What the command line gives on resume must be what the run was started with (the
        limits excepted: given, they replace the run's)."""
        rd = self.run_dir
        if seed is not None and seed != state.seed:
            raise RunDirError(f"{rd.path} was started with seed {state.seed}, not {seed}; "
                              f"resume it with: {rd.resume_command()}, or start a new run with: "
                              f"{rd.new_run_command()} --seed {seed}")
        if workers is not None and resolve_workers(workers) != state.workers:
            raise RunDirError(f"{rd.path} runs with {state.workers} worker(s), not "
                              f"{resolve_workers(workers)} (results depend on it); resume it "
                              f"with: {rd.resume_command()}")

    # ---- a new run in a used directory -------------------------------------------------------
    def clear_unusable_run(self) -> None:
        """A new run in a directory that holds one: refused if that run can be resumed or is
        finished (say how to resume it or where to start anew); started over, after saying
        so, if it cannot continue (it stopped before its first checkpoint, or the checkpoint
        is unreadable or damaged)."""
        rd = self.run_dir
        if not rd.holds_run():
            return
        if not rd.checkpoint_path.exists():
            if rd.log_says_finished():
                raise RunDirError(f"{rd.path} holds a finished run (its checkpoint is gone); "
                                  f"start a new run with: {rd.new_run_command()}")
            rd.start_over("the run there stopped before its first checkpoint", self.warn)
            return
        try:
            arrays, info = ckpt.load(rd.checkpoint_path)
        except CheckpointError as exc:
            rd.start_over(str(exc), self.warn)
            return
        if info.get("done") is True:
            raise RunDirError(f"{rd.path} holds a finished run; start a new run with: "
                              f"{rd.new_run_command()}")
        try:
            check_checkpoint(config_mod.load(rd.config_path), arrays, info)
        except CheckpointError as exc:
            rd.start_over(f"{rd.checkpoint_path} is damaged ({exc})", self.warn)
            return
        except (ConfigError, ConfigMismatch) as exc:
            why = (f"{rd.config_path} changed since the checkpoint ({exc.changes})"
                   if isinstance(exc, ConfigMismatch) else str(exc))
            raise RunDirError(f"{rd.path} holds a run that cannot be resumed ({why}); start a "
                              f"new run with: {rd.new_run_command()}") from None
        raise RunDirError(f"{rd.path} holds an unfinished run; continue it with: "
                          f"{rd.resume_command()}, or start a new run with: "
                          f"{rd.new_run_command()}")
