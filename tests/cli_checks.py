"""Shared checks for command-line tests: run ``azc`` as a user would, and assert that a
failure is one ``error:`` line (exit status 2, no traceback)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_azc(*args, cwd=None, env=None, timeout=120) -> subprocess.CompletedProcess:
    """``python -m search.cli ARGS`` in a subprocess, with the repository on PYTHONPATH."""
    full_env = dict(os.environ if env is None else env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "search.cli", *map(str, args)],
                          cwd=cwd or ROOT, env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def assert_user_error(proc, *needles) -> None:
    """Exit status 2, exactly one non-empty stderr line starting with ``error: `` that
    contains each needle (case-insensitively), and no traceback anywhere."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])
    assert "Traceback" not in proc.stdout and "Traceback" not in proc.stderr
