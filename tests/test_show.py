"""Showing programs (raw, canonical, python, kernel views) and the `azc show` / `azc export`
commands: output, run directories, and one-line errors with exit status 2."""
import importlib.util
import io
import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from azcompile import codegen, liveness
from azcompile.engine import run
from azcompile.export import export_program
from azcompile.program import ProgramError
from azcompile.show import VIEWS, render, show
from search.config import bundled_examples
from search.inspect_cli import export_command, show_command
from tests.test_export import linear_regression, neural_net


def with_dead_code():
    program = linear_regression()
    return program.with_components(program.setup, program.predict + program.learn[:1],
                                   program.learn)


def test_raw_view_is_the_paper_listing():
    program = with_dead_code()
    assert render(program, "raw") == program.listing()
    assert render(program, "raw").splitlines()[:3] == ["def Setup():", "  s2 = 0.001",
                                                       "def Predict():"]


def test_canonical_view_drops_dead_code_and_names_the_hash():
    program = with_dead_code()
    text = render(program, "canonical")
    canon, chash = liveness.canonical(program)
    assert text.splitlines()[0] == f"# canonical form {chash:016x}: 6 of 7 instructions live"
    assert text.endswith(canon.listing())
    predict = text[text.index("def Predict():"):text.index("def Learn():")]
    assert predict.count("\n") == 2  # the dead s3 = s0 - s1 in Predict is gone


def test_python_views_are_the_export_and_the_kernel():
    program = linear_regression()
    assert render(program, "python") == export_program(program)
    canon, chash = liveness.canonical(program)
    assert render(program, "kernel") == codegen.candidate_source(canon, chash)
    with pytest.raises(ProgramError, match="unknown view"):
        render(program, "pretty")
    assert set(VIEWS) == {"raw", "canonical", "python", "kernel"}


def test_show_highlights_only_when_asked_or_on_a_terminal():
    plain, colored = io.StringIO(), io.StringIO()
    show(linear_regression(), "python", file=plain)  # StringIO is not a terminal
    show(linear_regression(), "python", file=colored, color=True)
    assert "\x1b[" not in plain.getvalue() and "\x1b[" in colored.getvalue()
    assert "def _learn" in plain.getvalue()


# ---- the CLI ------------------------------------------------------------------------------

@pytest.fixture
def program_file(tmp_path):
    path = tmp_path / "program.json"
    linear_regression().save(path)
    return path


@pytest.fixture
def run_dir(tmp_path):
    """A run directory as `azc search` leaves it: config and best program."""
    path = tmp_path / "run"
    path.mkdir()
    (path / "config.toml").write_text(bundled_examples()["demo"])
    program = linear_regression()
    meta = {"config_name": "demo", "seed": 3, "select_fitness": 0.99,
            "task": "10x scalar_linear_regression (F=4, 100 train / 100 valid)",
            "canonical_hash": "00ff", "found_at_seconds": 12.5}
    type(program)(program.setup, program.predict, program.learn, program.memory,
                  meta).save(path / "best_program.json")
    return path


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_command_writes_a_working_module(run_dir, tmp_path):
    out = tmp_path / "algo.py"
    result = CliRunner().invoke(export_command, [str(run_dir), "-o", str(out),
                                                 "--class-name", "LinearLearner"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "task: 10x scalar_linear_regression (F=4, 100 train / 100 valid)" in text
    assert "class LinearLearner(_Estimator)" in text
    module = _import(out, "cli_algo")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=50)
    expected = run(linear_regression(), x, y, x, y, seed=0, engine="interp").valid_predictions
    np.testing.assert_array_equal(module.LinearLearner().fit(x, y).predict(x), expected[:, 0])


def test_export_command_options(program_file, tmp_path):
    out = tmp_path / "raw.py"
    result = CliRunner().invoke(export_command, [str(program_file), "-o", str(out),
                                                 "--name-registers", "raw", "--jit"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "s1 = _dot(v0, v1)" in text or "for i in range(N_FEATURES)" in text
    assert "from numba import njit" in text and "@njit" in text


@pytest.mark.parametrize("view,expect", [("raw", "  s3 = s0 - s1"),
                                          ("canonical", "# canonical form"),
                                          ("python", "def _learn("),
                                          ("kernel", "@njit")])
def test_show_command_views(run_dir, view, expect):
    result = CliRunner().invoke(show_command, [str(run_dir), "--view", view])
    assert result.exit_code == 0, result.output
    assert expect in result.output and "\x1b[" not in result.output


def _fails_cleanly(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_errors_are_one_line_with_exit_status_2(tmp_path, program_file):
    runner = CliRunner()
    empty = tmp_path / "empty_run"
    empty.mkdir()
    _fails_cleanly(runner.invoke(show_command, [str(empty)]), "no best_program.json")
    _fails_cleanly(runner.invoke(export_command, [str(empty), "-o", str(tmp_path / "a.py")]),
                   "no best_program.json")
    doc = json.loads(program_file.read_text())
    doc["learn"][0]["op"] = 'SCALAR_DIFF_OP"); import os; ("'
    evil = tmp_path / "evil.json"
    evil.write_text(json.dumps(doc))
    _fails_cleanly(runner.invoke(export_command, [str(evil), "-o", str(tmp_path / "b.py")]),
                   "unknown op")
    doc = json.loads(program_file.read_text())
    doc["meta"] = {"task": 'x"""\nimport os'}
    evil.write_text(json.dumps(doc))
    _fails_cleanly(runner.invoke(export_command, [str(evil), "-o", str(tmp_path / "c.py")]),
                   "meta.task")
    _fails_cleanly(runner.invoke(export_command, [str(program_file), "-o", str(tmp_path / "d.py"),
                                                  "--class-name", "not valid"]), "class name")
    _fails_cleanly(runner.invoke(show_command, [str(program_file), "--view", "canonical",
                                                "--eval-type", "multiclass"]),
                   "num_classes")
    assert not any((tmp_path / n).exists() for n in ("a.py", "b.py", "c.py", "d.py"))
    missing = runner.invoke(show_command, [str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "Traceback" not in missing.output
