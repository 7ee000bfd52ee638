"""The README is true as written: its quickstart, the outputs it shows and its import example
are run as a new user would run them (in an empty folder, in README order) and compared with
the README's text.

Blocks are tied to commands by HTML comments just above them (invisible on GitHub):

    <!-- readme-check: run -->             a bash block: its ``azc`` commands are run, in order
    <!-- readme-check: output COMMAND -->  the block is what COMMAND prints (stdout + stderr)
    <!-- readme-check: excerpt FILE -->    the block is an excerpt of FILE
    <!-- readme-check: python -->          a python block, run in the folder
    <!-- readme-check: python-output -->   what the python block above prints

A line ``...`` in a shown block stands for lines left out; timing figures are not compared.
"""
from __future__ import annotations

import difflib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CHECK = re.compile(r"<!-- readme-check: ([\w-]+)(?: ([^\n]*?))? -->\n+```\w*\n(.*?)```", re.S)
TIMINGS = [(re.compile(r"elapsed_secs=\d+"), "elapsed_secs=T"),
           (re.compile(r"elapsed: [\d.]+ s"), "elapsed: T s"),
           (re.compile(r"\([\d.]+ s\)"), "(T s)"),
           (re.compile(r"\d+ lines, [\d.]+ s"), "N lines, T s")]


def checks(text: str) -> list[tuple[str, str, str]]:
    return [(kind, (arg or "").strip(), body) for kind, arg, body in CHECK.findall(text)]


def normalise(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        for pattern, placeholder in TIMINGS:
            line = pattern.sub(placeholder, line)
        lines.append(line.rstrip())
    while lines and not lines[-1]:
        lines.pop()
    return lines


def excerpt_mismatch(shown: str, actual: str) -> str | None:
    """None if every run of ``shown`` between ``...`` lines appears in ``actual``, in order."""
    want, have = normalise(shown), normalise(actual)
    chunks, chunk = [], []
    for line in want:
        if line.strip() == "...":
            chunks.append(chunk)
            chunk = []
        else:
            chunk.append(line)
    chunks.append(chunk)
    at = 0
    for chunk in filter(None, chunks):
        found = next((i for i in range(at, len(have) - len(chunk) + 1)
                      if have[i:i + len(chunk)] == chunk), None)
        if found is None:
            diff = difflib.unified_diff(chunk, have[at:], "README", "actual", lineterm="")
            return "\n".join(list(diff)[:80])
        at = found + len(chunk)
    return None


class Reader:
    """Runs the README's commands in ``work`` as a user would, remembering what each printed."""

    def __init__(self, work: Path):
        self.work = work
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="100")
        self.printed: dict[str, str] = {}
        self.python_output = ""

    def azc(self, command: str) -> str:
        if command not in self.printed:
            args = shlex.split(command)
            assert args[0] == "azc", command
            proc = subprocess.run([sys.executable, "-m", "azcompile.search.cli", *args[1:]], cwd=self.work,
                                  env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=900)
            assert proc.returncode == 0, f"{command} failed:\n{proc.stdout[-3000:]}"
            self.printed[command] = proc.stdout
        return self.printed[command]

    def run_block(self, body: str) -> None:
        for line in body.splitlines():
            for command in line.split("&&"):
                command = command.split(" #")[0].strip()
                if command.startswith("azc "):
                    self.azc(command)

    def python(self, body: str) -> None:
        proc = subprocess.run([sys.executable, "-c", body], cwd=self.work, env=self.env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"the README's python example failed:\n{proc.stderr[-3000:]}"
        self.python_output = proc.stdout


def test_readme_checks_cover_quickstart_transcript_and_import_example():
    kinds = [kind for kind, _, _ in checks(README.read_text(encoding="utf-8"))]
    assert kinds.count("run") >= 1 and "python" in kinds and "python-output" in kinds
    assert kinds.count("output") >= 3


def test_excerpt_matching_notices_a_wrong_line():
    actual = "a\nb\nelapsed: 1.5 s\nc\nd\n"
    assert excerpt_mismatch("a\n...\nelapsed: 9.0 s\nc", actual) is None
    assert excerpt_mismatch("a\n...\nc\nx", actual) is not None
    assert excerpt_mismatch("c\n...\na", actual) is not None       # order matters


def test_readme_as_written(tmp_path):
    reader = Reader(tmp_path)
    problems = []
    for kind, arg, body in checks(README.read_text(encoding="utf-8")):
        if kind == "run":
            reader.run_block(body)
            continue
        if kind == "python":
            reader.python(body)
            continue
        if kind == "output":
            actual = reader.azc(arg)
        elif kind == "excerpt":
            actual = (tmp_path / arg).read_text(encoding="utf-8")
        elif kind == "python-output":
            actual = reader.python_output
        else:
            raise AssertionError(f"unknown readme-check kind {kind!r}")
        mismatch = excerpt_mismatch(body, actual)
        if mismatch:
            problems.append(f"--- {kind} {arg}:\n{mismatch}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
