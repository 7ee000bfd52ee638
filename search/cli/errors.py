"""One place that turns an expected failure into the CLI's single ``error:`` line.

Every ``azc`` command runs inside :class:`~azcompile.search.cli.commands.AzcGroup`, which passes whatever escapes
a command through :func:`user_message`.  Expected failures (bad input, a disk that is full or
read-only, a file that is not what it claims to be) become one line naming the problem and
the fix, exit status 2.  Anything else is a bug in azcompile: one line saying so, the
traceback saved to a file for the report (``AZC_DEBUG=1`` shows it instead), exit status 1.
"""
from __future__ import annotations

import errno
import os
import tempfile
import traceback

import click

from azcompile.cache_dir import CacheError
from azcompile.export import ExportError
from azcompile.files import one_line  # messages are printed on one line, whatever is in them
from azcompile.program import ProgramError

from ..data.tasks import TaskError
from ..run.checkpoint import CheckpointError
from ..run.config import ConfigError
from ..run.rundir import RunDirError
from ..tune import TuneError

USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, ProgramError, ExportError,
                                                RunDirError, CheckpointError, TaskError,
                                                CacheError, TuneError)

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1


class UserError(click.ClickException):
    """A failure the user can fix: printed as one ``error:`` line, exit status 2."""

    exit_code = EXIT_USER_ERROR

    def show(self, file=None):
        click.echo(f"error: {one_line(self.message)}", err=True)


def fail(exc) -> None:
    """Leave a command with ``exc`` (an exception or a message) as the one error line."""
    raise UserError(str(exc)) from None


def _os_message(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    code = exc.errno
    if code == errno.ENOSPC or code == errno.EDQUOT:
        return f"{where}no space left on the device; free some space (or choose another " \
               f"directory) and run the command again"
    if code == errno.EROFS:
        return f"{where}the file system is read-only; choose a writable directory"
    if code in (errno.EACCES, errno.EPERM):
        return f"{where}permission denied; fix the permissions or choose another path"
    if code == errno.ENOENT:
        return f"{where}no such file or directory"
    if code == errno.EISDIR:
        return f"{where}is a directory where a file was expected; remove or rename it"
    if code == errno.ENOTDIR:
        return f"{where}a part of this path is a file, not a directory; choose another path"
    return f"{where}{exc.strerror or exc}"


def user_message(exc: BaseException) -> str | None:
    """The one-line message for an expected failure, or None when ``exc`` is a bug."""
    if isinstance(exc, USER_ERRORS):
        return one_line(str(exc))
    if isinstance(exc, OSError):
        return one_line(_os_message(exc))
    if isinstance(exc, MemoryError):
        return "out of memory; use smaller data or fewer workers"
    return None


def internal_error_message(exc: BaseException) -> str:
    """One line for a bug, with the traceback saved where the user can attach it."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        fd, path = tempfile.mkstemp(prefix="azc-traceback-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        saved = f"; the traceback is in {path}"
    except OSError:
        saved = "; rerun with AZC_DEBUG=1 for the traceback"
    return one_line(f"internal error ({type(exc).__name__}: {exc}){saved}; please report it")


def debugging() -> bool:
    return os.environ.get("AZC_DEBUG", "") not in ("", "0")
