"""The run directory: config as given, event log, checkpoints, best program, and a lock.

    RUN_DIR/config.toml        the configuration exactly as given
    RUN_DIR/events.jsonl       append-only JSON lines (progress, new bests, experiments, final)
    RUN_DIR/checkpoint.npz     the whole search state, replaced atomically every N seconds
    RUN_DIR/best_program.json  the best program so far (select fitness decides)
    RUN_DIR/lineage.json       ancestry of the best program (see search.lineage)
    RUN_DIR/.lock              the pid of the process writing here

A second run writing into a directory that has events is refused unless it resumes, and a
directory locked by a live process is refused in any case.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from azcompile.jit_cache import atomic_write_text


class RunDirError(RuntimeError):
    """The run directory cannot be used as asked; the message says why and what to do."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunDir:
    def __init__(self, path, *, resume: bool):
        self.path = Path(path)
        self.resume = resume
        self.events_path = self.path / "events.jsonl"
        self.checkpoint_path = self.path / "checkpoint.npz"
        self.best_path = self.path / "best_program.json"
        self.lineage_path = self.path / "lineage.json"
        self.config_path = self.path / "config.toml"
        self.lock_path = self.path / ".lock"
        self._events = None
        self.event_count = 0
        self.listener = None        # called with each event record (the CLI prints them)

    # --- opening and locking ----------------------------------------------------------------
    def open(self, config_text: str) -> None:
        if self.resume:
            if not self.checkpoint_path.exists():
                raise RunDirError(f"{self.path}: nothing to resume (no checkpoint.npz); start a "
                                  f"new run with --out instead")
        elif self.path.exists() and (self.events_path.exists() or self.checkpoint_path.exists()):
            raise RunDirError(f"{self.path} already holds a run; continue it with "
                              f"--resume {self.path}, or choose another --out directory")
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock()
        if not self.resume:
            atomic_write_text(self.config_path, config_text)

    def _lock(self) -> None:
        if self.lock_path.exists():
            try:
                pid = int(self.lock_path.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _pid_alive(pid):
                raise RunDirError(f"{self.path} is in use by process {pid}; wait for it or stop it")
        atomic_write_text(self.lock_path, f"{os.getpid()}\n")

    def close(self) -> None:
        if self._events:
            self._events.close()
            self._events = None
        try:
            self.lock_path.unlink()
        except OSError:
            pass

    # --- events -------------------------------------------------------------------------------
    def start_events(self, keep_lines: int | None) -> None:
        """Open the event log for appending; on resume, drop lines written after the
        checkpoint (they will be written again, identically, by the resumed run)."""
        if keep_lines is not None and self.events_path.exists():
            lines = self.events_path.read_text(encoding="utf-8").splitlines(keepends=True)
            atomic_write_text(self.events_path, "".join(lines[:keep_lines]))
            self.event_count = min(keep_lines, len(lines))
        self._events = open(self.events_path, "a", encoding="utf-8")

    def event(self, kind: str, **fields) -> None:
        record = {"event": kind, "time": round(time.time(), 3), **fields}
        self._events.write(json.dumps(record, allow_nan=False, default=_plain) + "\n")
        self._events.flush()
        self.event_count += 1
        if self.listener is not None:
            self.listener(record)

    def sync(self) -> None:
        if self._events:
            self._events.flush()
            os.fsync(self._events.fileno())

    # --- programs -----------------------------------------------------------------------------
    def save_best(self, program) -> None:
        program.save(self.best_path)

    def save_json(self, path: Path, doc) -> None:
        atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=False, default=_plain) + "\n")


def _plain(x):
    """JSON for numpy scalars and non-finite numbers (as strings, since JSON has none)."""
    import math

    import numpy as np

    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        v = float(x)
        return v if math.isfinite(v) else str(v)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def read_events(path) -> list[dict]:
    path = Path(path)
    events_file = path / "events.jsonl" if path.is_dir() else path
    out = []
    with open(events_file, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out
