"""The run directory: config as given, event log, checkpoints, best program, and a lock.

    RUN_DIR/config.toml        the configuration exactly as given
    RUN_DIR/events.jsonl       append-only JSON lines (progress, new bests, experiments, final)
    RUN_DIR/checkpoint.npz     the whole search state, replaced atomically every N seconds
    RUN_DIR/best_program.json  the best program so far (select fitness decides)
    RUN_DIR/lineage.json       ancestry of the best program (see search.lineage)
    RUN_DIR/.lock              held with flock() by the process writing here (holds its pid)

The lock is exclusive by construction: ``flock`` on the open ``.lock`` file, held for the
run's life.  The kernel drops it when the process ends however it ends, so a ``.lock`` left by
a dead process (whatever pid it names, reused or not) is simply taken over.

Every failure to use the directory is a ``RunDirError`` with one line that says what to do
next; ``next_step`` is the command that continues from what is on disk.
"""
from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import shlex
import stat
import time
from pathlib import Path

import numpy as np

from azcompile.jit_cache import atomic_write_bytes, atomic_write_text


class RunDirError(RuntimeError):
    """The run directory cannot be used as asked; the message says why and what to do."""


def free_dir(base) -> Path:
    """``base`` if nothing is there, else the first free one of ``base-2``, ``base-3``..."""
    base = Path(base)
    path, k = base, 1
    while os.path.lexists(path):
        k += 1
        path = Path(f"{base}-{k}")
    return path


def _q(path) -> str:
    return shlex.quote(str(path))


class RunDir:
    FILES = ("config.toml", "events.jsonl", "checkpoint.npz", "best_program.json",
             "lineage.json", ".lock")

    def __init__(self, path, *, resume: bool, config_arg=None):
        self.path = Path(path)
        self.resume = resume
        self.config_arg = config_arg          # the CONFIG the user named (for suggested commands)
        self.events_path = self.path / "events.jsonl"
        self.checkpoint_path = self.path / "checkpoint.npz"
        self.best_path = self.path / "best_program.json"
        self.lineage_path = self.path / "lineage.json"
        self.hall_path = self.path / "hall_of_fame.json"
        self.config_path = self.path / "config.toml"
        self.lock_path = self.path / ".lock"
        self._events = None
        self._lock_fd = None
        self.event_count = 0
        self.listener = None        # called with each event record (the CLI prints them)

    # --- commands to suggest ------------------------------------------------------------------
    def resume_command(self) -> str:
        return f"azc search --resume {_q(self.path)}"

    def new_run_command(self, config=None) -> str:
        config = config or self.config_arg or self.config_path
        return f"azc search {_q(config)} --out {_q(free_dir(self.path))}"

    def restart_command(self) -> str:
        """Start this run over in place, with the options its start event recorded
        (CONFIG.toml if the directory does not hold its config)."""
        start = self.start_event()
        config = self.config_arg or (self.config_path if self.config_path.is_file()
                                     else "CONFIG.toml")
        flags = ""
        if start.get("seed") is not None:
            flags += f" --seed {int(start['seed'])}"
        for name, flag in (("workers", "--workers"), ("max_seconds", "--max-time"),
                           ("max_individuals", "--max-individuals")):
            value = start.get(name)
            if value is not None and not (name == "workers" and value == 1):
                flags += f" {flag} {value:g}" if isinstance(value, float) else f" {flag} {value}"
        return f"azc search {_q(config)} --out {_q(self.path)}{flags}"

    def next_step(self) -> str:
        """What continues from what is on disk: resume from the checkpoint, or start over."""
        if self.checkpoint_path.is_file():
            return f"resume with: {self.resume_command()}"
        return f"start it over with: {self.restart_command()}"

    # --- opening and locking ----------------------------------------------------------------
    def open(self) -> None:
        """Create the directory if needed, take the lock, and drop temporary files that writes
        interrupted by a crash left behind."""
        self._check_is_directory()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise RunDirError(f"cannot create run directory {self.path}: a file is in the way "
                              f"({_blocking_file(self.path)}); choose another --out "
                              f"directory") from None
        except OSError as exc:
            raise self._io_error(exc, self.path) from None
        for name in self.FILES:
            self._check_is_file(self.path / name)
        self._lock()
        for leftover in self.path.glob(".*.tmp"):
            if any(leftover.name.startswith(f".{name}.") for name in self.FILES):
                _unlink(leftover)

    def _check_is_directory(self) -> None:
        if os.path.lexists(self.path) and not self.path.is_dir():
            raise RunDirError(f"{self.path} is a file, not a run directory; choose another "
                              f"--out directory")

    def _check_is_file(self, path: Path) -> None:
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._io_error(exc, path) from None
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise RunDirError(f"{path} is {kind}, so {self.path} is not a usable run directory; "
                              f"move it away (mv {_q(path)} {_q(str(path) + '.bak')}) and run "
                              f"the command again")

    def _lock(self) -> None:
        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise self._io_error(exc, self.lock_path) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _pid_in(fd)
                os.close(fd)
                who = f"process {holder}" if holder else "another process"
                stop = f"; stop it with: kill {holder}" if holder else ""
                raise RunDirError(f"{self.path} is in use by {who}: wait for it to finish"
                                  f"{stop}") from None
            except OSError as exc:
                os.close(fd)
                raise RunDirError(f"cannot lock {self.lock_path} ({exc.strerror}): the file "
                                  f"system must support flock(); put the run on a local "
                                  f"disk") from None
            if _same_file(fd, self.lock_path):
                break
            os.close(fd)    # locked a .lock its owner had just removed: lock the new one
        self._lock_fd = fd
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass            # the pid is only for the "in use by" message

    def close(self) -> None:
        if self._events:
            try:
                self._events.close()
            except OSError:
                pass        # a full disk: the write that failed has been reported already
            self._events = None
        if self._lock_fd is not None:
            _unlink(self.lock_path)     # before releasing: see _lock's _same_file check
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- what the directory holds -----------------------------------------------------------
    def holds_run(self) -> bool:
        return any(p.exists() for p in (self.config_path, self.events_path,
                                        self.checkpoint_path, self.best_path))

    def start_event(self) -> dict:
        """The first event of the log if it is the run's start event (else {})."""
        try:
            with open(self.events_path, "rb") as fh:
                first = fh.readline(1 << 20)
        except OSError:
            return {}
        record = _parse_event(first) if first.endswith(b"\n") else None
        return record if record and record["event"] == "start" else {}

    def log_says_finished(self) -> bool:
        try:
            data = self.events_path.read_bytes()
        except OSError:
            return False
        lines = data.split(b"\n")[:-1]
        last = _parse_event(lines[-1]) if lines else None
        return bool(last) and last["event"] == "final"

    def start_over(self, reason: str, warn) -> None:
        """Clear a run that cannot be continued, after saying so.  A checkpoint that exists
        but cannot be used is kept beside, renamed, rather than deleted."""
        kept = ""
        if self.checkpoint_path.exists():
            try:
                os.replace(self.checkpoint_path, self.path / "checkpoint.npz.unusable")
            except OSError as exc:
                raise self._io_error(exc, self.checkpoint_path) from None
            kept = " (the old checkpoint is kept as checkpoint.npz.unusable)"
        for path in (self.events_path, self.best_path, self.lineage_path, self.hall_path):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise self._io_error(exc, path) from None
        if warn:
            warn(f"{self.path}: {reason}; starting the run over{kept}")

    def write_config(self, config_text: str) -> None:
        self._write(atomic_write_text, self.config_path, config_text)

    def save_checkpoint(self, save, arrays: dict, info: dict) -> None:
        """``save(path, arrays, info)``, with the event log synced first: the checkpoint may
        count only events that are on disk."""
        self.sync()
        self._write(save, self.checkpoint_path, arrays, info)

    # --- events -------------------------------------------------------------------------------
    def start_events(self, keep_lines: int | None) -> dict | None:
        """Open the event log for appending.  On resume keep the first ``keep_lines`` lines,
        the ones the checkpoint counted (the resumed run writes the later ones again).
        Returns what was repaired if fewer of those lines survive intact (a log cut short,
        damaged or deleted), else None."""
        repair = None
        if keep_lines is not None:
            repair = self._truncate_events(keep_lines)
        try:
            self._events = open(self.events_path, "a", encoding="utf-8")
        except OSError as exc:
            raise self._io_error(exc, self.events_path) from None
        return repair

    def _truncate_events(self, keep_lines: int) -> dict | None:
        try:
            data = self.events_path.read_bytes()
        except FileNotFoundError:
            data = None
        except OSError as exc:
            raise self._io_error(exc, self.events_path) from None
        kept = []
        for line in (data or b"").split(b"\n")[:-1][:keep_lines]:   # complete lines only
            if _parse_event(line) is None:
                break
            kept.append(line + b"\n")
        self._write(atomic_write_bytes, self.events_path, b"".join(kept))
        self.event_count = len(kept)
        if len(kept) == keep_lines:
            return None
        if data is None:
            reason = "events.jsonl was missing: the history before this point is gone"
        else:
            reason = (f"events.jsonl held {len(kept)} intact lines of the {keep_lines} the "
                      f"checkpoint counted: the rest of that history is gone")
        return {"reason": reason, "kept_lines": len(kept), "expected_lines": keep_lines}

    def event(self, kind: str, **fields) -> None:
        record = {"event": kind, "time": round(time.time(), 3), **fields}
        try:
            line = json.dumps(record, allow_nan=False, default=_plain)
        except ValueError:          # a non-finite float: written as a string, as _plain does
            line = json.dumps(_finite_json(record), allow_nan=False, default=_plain)
        try:
            self._events.write(line + "\n")
            self._events.flush()
        except OSError as exc:
            raise self._io_error(exc, self.events_path) from None
        self.event_count += 1
        if self.listener is not None:
            self.listener(record)

    def sync(self) -> None:
        if self._events:
            try:
                self._events.flush()
                os.fsync(self._events.fileno())
            except OSError as exc:
                raise self._io_error(exc, self.events_path) from None

    # --- programs -----------------------------------------------------------------------------
    def save_best(self, program) -> None:
        self._write(lambda path: program.save(path), self.best_path)

    def save_json(self, path: Path, doc) -> None:
        text = json.dumps(doc, indent=1, allow_nan=False, default=_plain) + "\n"
        self._write(atomic_write_text, path, text)

    # --- errors -------------------------------------------------------------------------------
    def _write(self, write, path, *args) -> None:
        try:
            write(path, *args)
        except OSError as exc:
            raise self._io_error(exc, path) from None

    def _io_error(self, exc: OSError, path) -> RunDirError:
        """One line for a failed read or write: what failed and what to do."""
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return RunDirError(f"cannot write {path}: {reason}; free some space, then "
                               f"{self.next_step()}")
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            where = ("copy the run directory to a writable place and resume it there"
                     if self.resume else "choose a writable --out directory")
            return RunDirError(f"cannot write {path}: {reason}; {where}")
        return RunDirError(f"cannot use {path}: {reason}; {self.next_step()}")


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and 0 < int(text) < 2 ** 22 else None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _blocking_file(path: Path) -> Path:
    for parent in [path, *path.parents]:
        if os.path.lexists(parent):
            return parent
    return path


def _plain(x):
    """JSON for numpy scalars and non-finite numbers (as strings, since JSON has none)."""
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        v = float(x)
        return v if math.isfinite(v) else str(v)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _finite_json(x):
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: _finite_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite_json(v) for v in x]
    return x


def _parse_event(line: bytes) -> dict | None:
    """The event record on one line of the log, or None if the line is not one."""
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if isinstance(record, dict) and isinstance(record.get("event"), str):
        return record
    return None


def read_events(path) -> list[dict]:
    """The records of an event log (``RUN/events.jsonl`` or the file itself).  A last line
    without its newline is one being written (or cut by a crash) and is left out; any other
    line that is not an event record is an error naming the file and line."""
    path = Path(path)
    events_file = path / "events.jsonl" if path.is_dir() else path
    try:
        data = events_file.read_bytes()
    except IsADirectoryError:
        raise RunDirError(f"{events_file} is a directory, not an event log") from None
    except OSError as exc:
        raise RunDirError(f"cannot read {events_file}: {exc.strerror or exc}") from None
    out = []
    for number, line in enumerate(data.split(b"\n")[:-1], 1):
        if not line.strip():
            continue
        record = _parse_event(line)
        if record is None:
            raise RunDirError(f"{events_file}, line {number}: not an event record (the log is "
                              f"damaged from there on)")
        out.append(record)
    return out
