"""Shared checks for hostile-input tests: run ``azc`` in a subprocess, and assert that it failed
the way a user error must (exit status 2, one ``error:`` line, no traceback)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_azc(*args, cwd=None, env=None, timeout=120) -> subprocess.CompletedProcess:
    """``python -m search.cli ARGS`` with the repository on PYTHONPATH; ``env`` adds to (or
    overrides) the current environment."""
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "search.cli", *map(str, args)], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def assert_user_error(proc: subprocess.CompletedProcess, *needles) -> None:
    """Exit status 2, exactly one non-empty stderr line starting with ``error: `` that contains
    every needle (case-insensitively), and no traceback anywhere."""
    report = f"exit {proc.returncode}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stdout + proc.stderr, report
    assert proc.returncode == 2, report
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), report
    assert lines[0].startswith("error: "), report
    for needle in needles:
        assert str(needle).lower() in lines[0].lower(), (needle, report)
