"""A search killed with SIGKILL mid-run and resumed, against the same search uninterrupted
(the strategy tests share it; tests/test_search_run.py has the full version for evolution)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMING_FIELDS = {"time", "elapsed", "profile"}


def _azc(*args) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "azcompile.search.cli", *map(str, args)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def events_without_timing(run_dir: Path) -> list[dict]:
    out = []
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["event"] != "resumed":
            out.append({k: v for k, v in record.items() if k not in TIMING_FIELDS})
    return out


def _progress_lines(run_dir: Path) -> int:
    path = run_dir / "events.jsonl"
    return path.read_text().count('"progress"') if path.exists() else 0


def run_to_end(config: Path, out: Path, seed: int) -> list[dict]:
    proc = _azc("search", config, "--out", out, "--plain", "--seed", seed)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    return events_without_timing(out)


def killed_and_resumed(config: Path, out: Path, seed: int, progress_before_kill: int,
                       before_resume=None) -> list[dict]:
    """Run, SIGKILL once it has checkpointed and logged ``progress_before_kill`` progress
    events, call ``before_resume(out)`` if given, resume; the events of the whole run (timing
    fields and the resume left out)."""
    proc = _azc("search", config, "--out", out, "--plain", "--seed", seed,
                "--checkpoint-every", "0.05")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not (
            (out / "checkpoint.npz").exists() and _progress_lines(out) >= progress_before_kill):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before the kill; make it longer"
    assert '"final"' not in (out / "events.jsonl").read_text()
    if before_resume is not None:
        before_resume(out)
    resumed = _azc("search", "--resume", out, "--plain")
    _, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr
    records = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert next(r for r in records if r["event"] == "resumed")["individuals"] > 0
    return events_without_timing(out)
