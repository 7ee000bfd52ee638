"""Running ``azc`` in a subprocess and checking that a hostile input gave one ``error:`` line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_azc(*args, cwd=None, env=None, timeout=120) -> subprocess.CompletedProcess:
    """``python -m azcompile.search.cli ARGS`` with this checkout on PYTHONPATH."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "azcompile.search.cli", *map(str, args)], cwd=cwd or ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def assert_user_error(proc: subprocess.CompletedProcess, *needles) -> None:
    """Exit status 2, exactly one non-empty stderr line starting with ``error: `` that contains
    every needle (case-insensitive), and no traceback anywhere."""
    output = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 2, output
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    for needle in needles:
        assert str(needle).lower() in lines[0].lower(), (needle, output)
    assert "Traceback" not in proc.stdout and "Traceback" not in proc.stderr, output
