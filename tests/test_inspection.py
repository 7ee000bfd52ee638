"""`azc export`, `azc show` and `azc evaluate` on run directories and program files, and what
`azc search` prints at the end: outputs, the commands its messages suggest, and one-line
errors with exit status 2."""
import importlib.util
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from azcompile.engine import run
from azcompile.search.cli.commands import main
from azcompile.search.run.config import bundled_examples
from azcompile.search.cli.inspection import export_command, show_command
from tests.cli_checks import run_azc
from tests.test_export import linear_regression

DATA = Path(__file__).parent / "data"


@pytest.fixture
def program_file(tmp_path):
    path = tmp_path / "program.json"
    linear_regression().save(path)
    return path


def make_run_dir(path: Path, config_name: str = "demo") -> Path:
    """A run directory as `azc search` leaves it: config and best program."""
    path.mkdir()
    (path / "config.toml").write_text(bundled_examples()["demo"])
    program = linear_regression()
    meta = {"config_name": config_name, "seed": 3, "select_fitness": 0.99,
            "task": "10x scalar_linear_regression (F=4, 100 train / 100 valid)",
            "canonical_hash": "00ff", "found_at_seconds": 12.5}
    type(program)(program.setup, program.predict, program.learn, program.memory,
                  meta).save(path / "best_program.json")
    return path


@pytest.fixture
def run_dir(tmp_path):
    return make_run_dir(tmp_path / "run")


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fails_cleanly(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def _suggested(message: str, prefix: str = "azc ") -> list[str]:
    """The arguments of the command a message suggests (after ``azc``)."""
    command = message[message.index(prefix):].rstrip(")").strip()
    return shlex.split(command)[1:]


# ---- azc export --------------------------------------------------------------------------

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


def test_export_refuses_to_overwrite_unless_forced(program_file, tmp_path):
    out = tmp_path / "algo.py"
    out.write_text("# my own work\n")
    result = CliRunner().invoke(export_command, [str(program_file), "-o", str(out)])
    _fails_cleanly(result, "already exists", "--force")
    assert out.read_text() == "# my own work\n"
    # The suggested flag works.
    forced = CliRunner().invoke(export_command, [str(program_file), "-o", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert out.read_text().startswith('"""EvolvedAlgorithm')


@pytest.mark.parametrize("name", ["Anna's tiny run", "exp#1", "Zürich run", 'say "hi"\\',
                                  "tab\there\nnewline"])
def test_export_accepts_any_config_name(tmp_path, name):
    """Config names used to be refused ("pass provenance explicitly", an option that does
    not exist); they are written into the docstring, escaped, and read back as given."""
    path = make_run_dir(tmp_path / "run", config_name=name)
    out = tmp_path / "algo.py"
    result = CliRunner().invoke(export_command, [str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"config: {name}\n" in _import(out, "named_algo").__doc__


@pytest.mark.parametrize("name,why", [("np", "the import of numpy"), ("setup", "a function"),
                                      ("predict", "a function"), ("train_step", "a function"),
                                      ("NotFittedError", "a class"), ("def", "keyword")])
def test_export_refuses_class_names_that_break_the_module(program_file, tmp_path, name, why):
    out = tmp_path / "algo.py"
    result = CliRunner().invoke(export_command, [str(program_file), "-o", str(out),
                                                 "--class-name", name])
    _fails_cleanly(result, "class name", why, "e.g. LinearLearner")
    assert not out.exists()
    # The suggested name works.
    good = CliRunner().invoke(export_command, [str(program_file), "-o", str(out),
                                               "--class-name", "LinearLearner"])
    assert good.exit_code == 0 and _import(out, "learner").LinearLearner


# ---- azc show ----------------------------------------------------------------------------

@pytest.mark.parametrize("view,expect", [("raw", "  s3 = s0 - s1"),
                                          ("canonical", "# canonical form"),
                                          ("python", "def _learn("),
                                          ("kernel", "@njit")])
def test_show_command_views(run_dir, view, expect):
    result = CliRunner().invoke(show_command, [str(run_dir), "--view", view])
    assert result.exit_code == 0, result.output
    assert expect in result.output and "\x1b[" not in result.output


def test_multiclass_without_class_count_says_which_option_to_pass(program_file):
    runner = CliRunner()
    args = [str(program_file), "--view", "canonical", "--eval-type", "multiclass"]
    _fails_cleanly(runner.invoke(show_command, args), "--num-classes")
    result = runner.invoke(show_command, args + ["--num-classes", "3"])
    assert result.exit_code == 0 and "# canonical form" in result.output


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
                   "unknown op", "azc ops")
    _fails_cleanly(runner.invoke(export_command, [str(program_file), "-o", str(tmp_path / "d.py"),
                                                  "--class-name", "not valid"]), "class name")
    assert not any((tmp_path / n).exists() for n in ("a.py", "b.py", "d.py"))
    missing = runner.invoke(show_command, [str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    # The op listing that the unknown-op message points to.
    ops = runner.invoke(main, ["ops"])
    assert ops.exit_code == 0 and re.search(r"^ +1 +SCALAR_SUM_OP ", ops.output, re.M)


# ---- what azc search prints at the end ------------------------------------------------------

def _printed_program(search_output: str) -> str:
    lines = search_output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Algorithm found"))
    end = next(i for i, line in enumerate(lines) if line.startswith("run directory:"))
    return "\n".join(lines[start + 1:end])


def test_multiclass_search_prints_the_program_show_prints(tiny_multiclass_run, tmp_path):
    """The search's summary listed a multi-class winner with scalar liveness: an empty
    Predict.  It is now `azc show --view canonical RUN`, line for line."""
    run_dir, output = tiny_multiclass_run
    shown = CliRunner().invoke(show_command, [str(run_dir), "--view", "canonical"])
    assert shown.exit_code == 0, shown.output
    printed = _printed_program(output)
    assert printed == shown.output.rstrip("\n")
    predict = printed[printed.index("def Predict():"):printed.index("def Learn():")]
    assert re.search(r"^  v2 = ", predict, re.M)   # the class scores are written
    # The export command it suggests works from where the search ran.
    args = _suggested(output.splitlines()[-1])
    export = run_azc(*args, cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    module = (tmp_path / args[args.index("-o") + 1]).read_text()
    assert "eval type: multiclass (3 classes)" in module


def test_search_suggests_an_export_that_works_for_any_config_name(tmp_path):
    """A config file exp#1.toml named "Anna's tiny run": the run directory has a quote and
    spaces, the suggested command quotes it, avoids an existing algorithm.py, and the
    export accepts the name."""
    text = (DATA / "tiny.toml").read_text().replace('name = "tiny"', '''name = "Anna's tiny run"''')
    (tmp_path / "exp#1.toml").write_text(text.replace("max_experiments = 3", "max_experiments = 1"))
    (tmp_path / "algorithm.py").write_text("# taken\n")
    searched = run_azc("search", "exp#1.toml", "--plain", "--seed", "2", cwd=tmp_path, timeout=600)
    assert searched.returncode == 0, searched.stderr
    args = _suggested(searched.stdout.splitlines()[-1])
    assert args[1] == "runs/Anna's tiny run" and args[-1] == "algorithm_2.py"
    exported = run_azc(*args, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    module = _import(tmp_path / "algorithm_2.py", "annas")
    assert "config: Anna's tiny run\n" in module.__doc__
    assert (tmp_path / "algorithm.py").read_text() == "# taken\n"


# ---- azc evaluate ------------------------------------------------------------------------

def _rows(output: str) -> dict:
    return {m.group(1): (float(m.group(2)), m.group(3)) for m in re.finditer(
        r"^(search|select|final) +\d+ tasks +mean fitness ([0-9.]+) .*?\((.+)\)$", output, re.M)}


def test_evaluate_of_a_run_repeats_its_select_check(tiny_run_dir):
    """tiny.toml has randomize_task_seeds = true: the search re-draws the select tasks, so
    the config's fixed seeds scored other tasks (0.98 where the search said 1.000000)."""
    meta = json.loads((tiny_run_dir / "best_program.json").read_text())["meta"]
    for args in ([str(tiny_run_dir)], [str(tiny_run_dir), str(DATA / "tiny.toml")]):
        result = CliRunner().invoke(main, ["evaluate", *args])
        assert result.exit_code == 0, result.output
        rows = _rows(result.output)
        assert set(rows) == {"search", "select", "final"}
        assert f"{rows['select'][0]:.6f}" == f"{meta['select_fitness']:.6f}"
        assert rows["select"][1].startswith(f"the tasks the run drew in experiment "
                                            f"{meta['experiment']}, its select seed ")
        assert rows["search"][1].startswith("the tasks the run drew in experiment")
        # The final tasks are the config's own (never re-drawn).
        assert abs(rows["final"][0] - meta["final_fitness"]) < 1e-5
        assert rows["final"][1] == "the config's task seeds, random-op seed 0"


def test_evaluate_on_another_config_says_it_uses_the_config_seeds(tiny_run_dir, tmp_path):
    other = tmp_path / "other.toml"
    # Another search: same tasks, another population size (a comment alone would be the
    # same search, scored on the run's own tasks).
    other.write_text((DATA / "tiny.toml").read_text().replace("population_size = ", "population_size = 1", 1))
    result = CliRunner().invoke(main, ["evaluate", str(tiny_run_dir), str(other), "--tasks",
                                       "select"])
    assert result.exit_code == 0, result.output
    assert _rows(result.output)["select"][1] == (
        "the config's task seeds, not the ones the search drew with randomize_task_seeds, "
        "random-op seed 0")


def test_evaluate_of_a_program_file_needs_a_config(program_file):
    _fails_cleanly(CliRunner().invoke(main, ["evaluate", str(program_file)]),
                   "program file", "config")
    scored = CliRunner().invoke(main, ["evaluate", str(program_file), "demo", "--tasks", "select"])
    assert scored.exit_code == 0, scored.output
    fitness, source = _rows(scored.output)["select"]
    assert 0.0 < fitness <= 1.0 and source.startswith("the config's task seeds, not the ones")


def test_evaluate_refuses_a_program_that_does_not_fit_the_tasks(tmp_path):
    """Two vectors cannot hold a one-hot label and class scores: one line, no traceback."""
    from azcompile.program import Memory, Program

    path = tmp_path / "small.json"
    Program((), (), (), memory=Memory(4, 2, 1, 4)).save(path)
    result = CliRunner().invoke(main, ["evaluate", str(path), str(DATA / "tiny_multiclass.toml"),
                                       "--tasks", "select"])
    _fails_cleanly(result, "cannot score the program on the select tasks", "3 vectors")
