"""Running ``azc`` as a user does, and checking that a failure is one ``error:`` line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_azc(*args, cwd=None, env=None, timeout=120) -> subprocess.CompletedProcess:
    """``python -m search.cli ARGS`` in a subprocess, with this repository importable."""
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "search.cli", *map(str, args)], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def assert_user_error(proc: subprocess.CompletedProcess, *needles) -> None:
    """Exit status 2, one non-empty stderr line starting with ``error: `` that contains each
    needle (case-insensitively), and no traceback anywhere."""
    output = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 2, output
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in proc.stdout + proc.stderr, output
    for needle in needles:
        assert str(needle).lower() in lines[0].lower(), (needle, output)
