"""`azc lineage` on a real run directory: the chain of improvements to the best program."""
import json
import re

from click.testing import CliRunner

from search.cli import main


def _steps(text):
    return [(int(m.group(1)), float(m.group(2)), m.group(3)) for m in re.finditer(
        r"^step +(\d+) +id +\d+ +fitness ([0-9.]+) \(\+[0-9.]+\) +(.+)$", text, re.M)]


def test_lineage_is_a_chain_of_improvements_with_diffs(tiny_run_dir):
    result = CliRunner().invoke(main, ["lineage", str(tiny_run_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("lineage of individual ")
    steps = _steps(result.output)
    assert len(steps) >= 3 and [s[0] for s in steps] == list(range(1, len(steps) + 1))
    fitness = [s[1] for s in steps]
    assert fitness == sorted(fitness) and fitness[-1] > fitness[0]   # improvements only
    assert steps[0][2] == "initial population"
    assert all(s[2] in ("alter_param", "randomize_instruction", "randomize_component_function")
               for s in steps[1:])      # the tiny config's mutations
    assert re.search(r"^    [-+]?(Setup|Predict|Learn) +\| ", result.output, re.M)  # diffs


def test_all_steps_shows_at_least_the_improvements(tiny_run_dir):
    runner = CliRunner()
    best = _steps(runner.invoke(main, ["lineage", str(tiny_run_dir)]).output)
    every = _steps(runner.invoke(main, ["lineage", str(tiny_run_dir), "--all-steps"]).output)
    assert len(every) >= len(best)


def test_lineage_of_a_directory_without_lineage_is_one_line_error(tmp_path):
    (tmp_path / "config.toml").write_text("")
    result = CliRunner().invoke(main, ["lineage", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "error" in result.output.lower()


def test_evaluate_scores_the_run_on_its_config(tiny_run_dir):
    from pathlib import Path

    config = Path(__file__).parent / "data" / "tiny.toml"
    result = CliRunner().invoke(main, ["evaluate", str(tiny_run_dir), str(config)])
    assert result.exit_code == 0, result.output
    rows = dict(re.findall(r"^(search|select|final) +\d+ tasks +mean fitness ([0-9.]+)",
                           result.output, re.M))
    assert set(rows) == {"search", "select", "final"}
    meta = json.loads((tiny_run_dir / "best_program.json").read_text())["meta"]
    # The final evaluation of the run and `azc evaluate` score the same program on the same
    # final tasks.
    assert abs(float(rows["final"]) - meta["final_fitness"]) < 1e-5
