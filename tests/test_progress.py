"""Progress output: log lines for pipes, a live panel on terminals that leaves only the
event lines behind."""
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from azcompile.search.cli.progress import LiveProgress, PlainProgress

ROOT = Path(__file__).resolve().parent.parent
CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\r|\n|[^\x1b\r\n]+")
EVENTS = [
    {"event": "start", "config": "tiny", "seed": 1, "population_size": 10},
    {"event": "experiment_start", "experiment": 0, "search_seeds": []},
    {"event": "new_best", "experiment": 0, "fitness": 0.5},
    {"event": "migration", "experiment": 0},
    {"event": "progress", "individuals": 100, "elapsed": 1.0, "mean": 0.4, "stdev": 0.1,
     "best": 0.5, "canonical_hit_rate": 0.5, "fec_hit_rate": 0.25},
    {"event": "new_best", "experiment": 0, "fitness": 0.6},
    {"event": "experiment_end", "experiment": 0, "search_fitness": 0.6, "select_fitness": 0.55},
]


def screen_after(output: str) -> list[str]:
    """The lines a terminal shows after ``output``, down to the cursor's line (below it the
    next output writes): text, CR, LF, erase-line and cursor-up are followed (what rich's
    live display uses); other escape codes are dropped."""
    lines, row, col = [""], 0, 0
    for match in CONTROL.finditer(output):
        text, (arg, code) = match.group(0), match.group(1, 2)
        if code == "K":
            lines[row] = ""
        elif code == "A":
            row = max(0, row - int(arg or 1))
        elif text == "\r":
            col = 0
        elif text == "\n":
            row, col = row + 1, 0
            lines += [""] * (row + 1 - len(lines))
        elif code is None:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + text + line[col + len(text):]
            col += len(text)
    return lines[:row + 1]


def test_plain_progress_prints_one_line_per_shown_event():
    out = io.StringIO()
    progress = PlainProgress(out)
    for record in EVENTS:
        progress.event(record)
    assert out.getvalue().splitlines() == [
        "experiment 0 started",
        "indivs=100, elapsed_secs=1, mean=0.400000, stdev=0.100000, best fit=0.500000, "
        "canonical hits=50%, fec hits=25%",
        "experiment 0: search fitness for candidate = 0.600000, select fitness = 0.550000"]


def test_live_panel_prints_no_blank_line_for_unshown_events():
    """Events without a log line (new bests, migrations) once printed an empty line above
    the panel each: dozens of blank lines left in the scrollback."""
    out = io.StringIO()
    progress = LiveProgress(Console(file=out, force_terminal=True, width=100))
    for record in EVENTS:
        progress.event(record)
    progress.close()
    assert [line.rstrip() for line in screen_after(out.getvalue())] == [
        "experiment 0 started",
        "experiment 0: search fitness for candidate = 0.600000, select fitness = 0.550000", ""]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_terminal_scrollback_after_a_search_has_no_blank_lines(tmp_path):
    """A real search in a tmux pane: what stays on the screen once the panel closes."""
    session = f"azc-progress-{os.getpid()}"
    env = {"PYTHONPATH": str(ROOT), **{k: os.environ[k] for k in
                                        ("NUMBA_CACHE_DIR", "AZC_CACHE_DIR") if k in os.environ}}
    command = " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()),
                        shlex.quote(sys.executable), "-m", "azcompile.search.cli", "search",
                        shlex.quote(str(ROOT / "tests" / "data" / "tiny.toml")), "--seed", "11",
                        "--out", shlex.quote(str(tmp_path / "run")), "; echo AZC-DONE"])
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                    "bash --norc --noprofile"], check=True)
    try:
        subprocess.run(["tmux", "send-keys", "-t", session, "clear; " + command, "Enter"],
                       check=True)
        deadline = time.monotonic() + 300
        screen = ""
        while time.monotonic() < deadline and "\nAZC-DONE" not in screen:
            time.sleep(1)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-S", "-", "-t", session],
                                    capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("experiment 0 started"))
    end = next(i for i, line in enumerate(lines) if line == "AZC-DONE")
    assert all(line.strip() for line in lines[start:end]), "\n".join(lines[start:end])
