"""The ``azc`` group: usage errors, failures and bugs each leave as one line (azcompile.search.cli.errors)."""
from __future__ import annotations

import errno
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli_checks import assert_user_error, run_azc
from azcompile.search.cli import commands as cli
from azcompile.search.run.config import bundled_examples

USAGE_MISTAKES = [
    (["search", "--bogus"], "no such option"),
    (["search", "demo", "--seed", "-1"], "--seed"),
    (["search", "demo", "--engine", "fast"], "--engine"),
    (["show"], "missing argument"),
    (["export", "tests/data/demo_winner.json"], "-o"),
    (["frobnicate"], "no such command"),
    (["lineage", "/no/such/run"], "does not exist"),
]


@pytest.mark.parametrize("args,needle", USAGE_MISTAKES, ids=[" ".join(a) for a, _ in USAGE_MISTAKES])
def test_a_usage_mistake_is_one_error_line_that_points_at_help(args, needle):
    proc = run_azc(*args)
    assert_user_error(proc, needle, "--help")


def test_search_help_lists_the_bundled_examples():
    proc = run_azc("search", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for name in bundled_examples():
        assert name in text


def test_version_works_from_a_source_checkout():
    proc = run_azc("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("azc, version ")


def _group_with(raiser) -> click.Group:
    """The real azc group with one extra command that fails as ``raiser`` does."""
    group = cli.AzcGroup(name="azc", commands=dict(cli.main.commands))
    group.add_command(click.Command("boom", callback=raiser))
    return group


def _invoke(raiser):
    return CliRunner().invoke(_group_with(raiser), ["boom"])


def _raise(exc):
    def callback():
        raise exc
    return callback


def test_a_full_disk_is_one_line_naming_the_file():
    result = _invoke(_raise(OSError(errno.ENOSPC, "No space left on device", "/data/x.npz")))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: /data/x.npz: no space left on the device; free some space (or choose another "
        "directory) and run the command again"]


@pytest.mark.parametrize("code,words", [(errno.EROFS, "read-only"), (errno.EACCES, "permission"),
                                        (errno.ENOTDIR, "not a directory"), (errno.EISDIR, "is a directory")])
def test_os_errors_name_the_problem(code, words):
    result = _invoke(_raise(OSError(code, "whatever", "/p")))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: /p: ") and words in lines[0]


def test_a_message_with_newlines_stays_one_line():
    from azcompile.search.run.config import ConfigError

    result = _invoke(_raise(ConfigError("runs/a\nb: no such config file")))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: runs/a b: no such config file"]


def test_a_bug_is_one_line_with_the_traceback_saved(monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("AZC_DEBUG", raising=False)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)      # re-read TMPDIR
    result = _invoke(_raise(ZeroDivisionError("division by zero")))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: internal error (ZeroDivisionError")
    saved = list(tmp_path.glob("azc-traceback-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in lines[0]
    assert "Traceback" in saved[0].read_text() and "ZeroDivisionError" in saved[0].read_text()


def test_azc_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("AZC_DEBUG", "1")
    result = _invoke(_raise(ZeroDivisionError("x")))
    assert isinstance(result.exception, ZeroDivisionError)


def test_ctrl_c_in_a_command_is_one_line_and_exit_130():
    result = _invoke(_raise(KeyboardInterrupt()))
    assert result.exit_code == 130
    assert result.output.strip().splitlines()[-1] == "error: interrupted"


def test_the_console_script_enters_through_startup():
    text = Path(__file__).resolve().parent.parent.joinpath("pyproject.toml").read_text()
    assert 'azc = "azcompile.search.cli.program:main"' in text
