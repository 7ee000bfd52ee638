"""Files a user names, checked before they are trusted, and their errors on one line.

A path is checked with stat before it is opened (``regular_file_size``): opening a FIFO blocks
and /dev/zero never ends.  ``read_text_file`` then reads a small text file (a program, a
config) with its size capped before and while reading.  Failures are raised as the caller's
own error class, one line each (``one_line`` flattens what a library put in a message).
"""
from __future__ import annotations

import errno
import stat
from pathlib import Path

DIRECTORY = "a directory"
# What a path that is not a regular file is instead, for messages.
_FILE_KINDS = ((stat.S_ISDIR, DIRECTORY), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
               (stat.S_ISSOCK, "a socket"))


class NotRegularFile(ValueError):
    """A path that exists but is no regular file; ``kind`` says what it is (e.g. DIRECTORY)."""

    def __init__(self, path, kind: str):
        super().__init__(f"{path} is {kind}")
        self.kind = kind


def one_line(exc: BaseException | str, *, named: bool = False) -> str:
    """The message of ``exc`` (an exception or a message) on one line, as error lines need:
    numpy's, zipfile's or a lower layer's messages may span several.  ``named`` puts the
    exception's class first (e.g. ``BadZipFile: ...``) where the class says more than the text."""
    text = " ".join(str(exc).split())
    if named:
        return f"{type(exc).__name__}: {text or 'no details'}"
    if text:
        return text
    return type(exc).__name__ if isinstance(exc, BaseException) else "unknown error"


def regular_file_size(path: Path) -> int:
    """The size of ``path`` after checking that it is a regular file.

    Raises FileNotFoundError (also for a path through a file), NotRegularFile, or the
    OSError of a path that cannot be examined (e.g. permission denied)."""
    try:
        info = path.stat()
    except NotADirectoryError:
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path)) from None
    if stat.S_ISREG(info.st_mode):
        return info.st_size
    kind = next((kind for test, kind in _FILE_KINDS if test(info.st_mode)), "a special file")
    raise NotRegularFile(path, kind)


def read_text_file(path: Path, *, kind: str, limit: int, error: type[Exception],
                   expected: str) -> str:
    """The text of ``path``, a ``kind`` (e.g. "program file") of at most ``limit`` bytes;
    ``expected`` says what to give instead when ``path`` is something else."""
    try:
        size = regular_file_size(path)
    except FileNotFoundError:
        raise error(f"{path}: no such {kind}") from None
    except NotRegularFile as exc:
        what = DIRECTORY if exc.kind == DIRECTORY else "not a regular file"
        raise error(f"{path}: {what}; {expected}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {kind} ({exc.strerror or exc})") from None
    too_big = error(f"{path}: more than the {limit >> 20} MiB a {kind} may have; this is not "
                    f"a {kind}")
    if size > limit:
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
