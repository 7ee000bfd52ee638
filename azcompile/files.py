"""Reading a small text file that a user names (a program, a config) without trusting it.

The path is checked with stat before it is opened: opening a FIFO blocks and /dev/zero never
ends.  The size is capped before and while reading, and the bytes must be UTF-8.  Failures are
raised as the caller's own error class, one line each.
"""
from __future__ import annotations

import stat
from pathlib import Path


def read_text_file(path: Path, *, kind: str, limit: int, error: type[Exception],
                   expected: str) -> str:
    """The text of ``path``, a ``kind`` (e.g. "program file") of at most ``limit`` bytes;
    ``expected`` says what to give instead when ``path`` is something else."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{path}: no such {kind}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {kind} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise error(f"{path}: {what}; {expected}")
    too_big = error(f"{path}: more than the {limit >> 20} MiB a {kind} may have; this is not "
                    f"a {kind}")
    if info.st_size > limit:
        raise too_big
    try:
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)     # the file may have grown since stat
    except OSError as exc:
        raise error(f"{path}: cannot read {kind} ({exc.strerror or exc})") from None
    if len(raw) > limit:
        raise too_big
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a {kind}: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
                    "is not UTF-8 text") from None
