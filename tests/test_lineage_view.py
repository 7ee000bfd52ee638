"""`azc lineage` on real run directories: the chain of improvements to the best program, and
one error line for a lineage.json that is missing, truncated, binary or forged."""
import json
import re
import shutil

import pytest
from click.testing import CliRunner

from azcompile.search.cli.commands import main
from tests.cli_checks import assert_user_error, run_azc

STEP = re.compile(r"^step +(\d+) +id +\d+ +fitness ([0-9.]+)(?: \(([+-][0-9.e+-]+) vs step (\d+)\))?"
                  r"  (.+)$", re.M)


def _steps(text):
    return [(int(m.group(1)), float(m.group(2)), m.group(3) and float(m.group(3)),
             m.group(4) and int(m.group(4)), m.group(5)) for m in STEP.finditer(text)]


def _lineage(run_dir, *args):
    result = CliRunner().invoke(main, ["lineage", str(run_dir), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_lineage_is_a_chain_of_improvements_with_diffs(tiny_run_dir):
    output = _lineage(tiny_run_dir)
    assert output.startswith("lineage of individual ")
    steps = _steps(output)
    assert len(steps) >= 3 and [s[0] for s in steps] == list(range(1, len(steps) + 1))
    assert steps[0][4] == "initial population" and steps[0][2] is None
    for step, previous in zip(steps[1:-1], steps):
        # The change is against the step shown before, and says so: each step shown beats
        # all before it (the last one, the best program, may only equal them).
        assert step[3] == previous[0] and step[2] > 0
        assert step[2] == pytest.approx(step[1] - previous[1], rel=0.01, abs=2e-6)
        assert step[4].split(",")[0] in ("alter_param", "randomize_instruction",
                                          "randomize_component_function")
    assert re.search(r"^    [-+]?(Setup|Predict|Learn) +\| ", output, re.M)  # diffs
    # The last step is the best program, whose code best_program.json holds.
    assert not output.rstrip().endswith("(program not kept)")


def test_all_steps_shows_every_ancestor_with_its_change(tiny_run_dir):
    best = _steps(_lineage(tiny_run_dir))
    every = _steps(_lineage(tiny_run_dir, "--all-steps"))
    assert len(every) > len(best)
    assert {s[1] for s in best} <= {s[1] for s in every}
    for step, previous in zip(every[1:], every):
        assert step[3] == previous[0]


def test_hidden_steps_are_counted_and_the_best_flag_is_gone(tiny_run_dir):
    output = _lineage(tiny_run_dir)
    every = _steps(_lineage(tiny_run_dir, "--all-steps"))
    hidden = sum(int(n) for n in re.findall(r"after (\d+) steps? without a new best", output))
    assert hidden == len(every) - len(_steps(output))
    assert re.search(r"lineage of individual (\d+)", output).group(1) == \
        re.findall(r"^step +\d+ +id +(\d+) ", output, re.M)[-1]     # ends at the best
    result = CliRunner().invoke(main, ["lineage", str(tiny_run_dir), "--best"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_multiclass_lineage_shows_the_live_code_at_each_improvement(tiny_multiclass_run):
    """With scalar liveness a multi-class program had no live code: every step said
    "(no change in live code)" and the best program's listing was empty."""
    run_dir, _ = tiny_multiclass_run
    output = _lineage(run_dir)
    assert "(no change in live code)" not in output
    assert re.search(r"^    [-+]?Predict \| v2 = ", output, re.M)   # the class scores
    assert len(_steps(output)) >= 2


# ---- damaged lineage files ----------------------------------------------------------------

def _copy_run(tiny_run_dir, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run_dir)
    return run_dir


def _kept(doc):
    return next(r for r in doc["chain"] if "program" in r and r["program"]["size"][1] > 0)


def _forged(doc):
    _kept(doc)["program"]["code"][1][0][0] = 999    # op id past the table
    return doc


def _bad_address(doc):
    _kept(doc)["program"]["code"][1][0][3] = 10 ** 6   # out register far outside memory
    return doc


DAMAGE = {
    "truncated": lambda text: text[: len(text) // 2],
    "binary": lambda text: b"\x00\xff\xfe garbage \x80".decode("latin-1"),
    "empty": lambda text: "",
    "a list": lambda text: "[1, 2, 3]",
    "row without fitness": lambda text: json.dumps(
        {"best": 1, "chain": [{"id": 1, "parent": -1, "mutation": "x"}]}),
    "op id out of range": lambda text: json.dumps(_forged(json.loads(text))),
    "address out of range": lambda text: json.dumps(_bad_address(json.loads(text))),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_lineage_is_one_error_line(tiny_run_dir, tmp_path, damage):
    run_dir = _copy_run(tiny_run_dir, tmp_path)
    path = run_dir / "lineage.json"
    text = DAMAGE[damage](path.read_text())
    path.write_bytes(text.encode("latin-1") if damage == "binary" else text.encode())
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    assert_user_error(run_azc("lineage", run_dir), "lineage.json")
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_lineage_json_as_a_directory_is_one_error_line(tiny_run_dir, tmp_path):
    run_dir = _copy_run(tiny_run_dir, tmp_path)
    (run_dir / "lineage.json").unlink()
    (run_dir / "lineage.json").mkdir()
    assert_user_error(run_azc("lineage", run_dir), "lineage.json", "not a file")


def test_lineage_of_a_directory_without_lineage_is_one_line_error(tmp_path):
    (tmp_path / "config.toml").write_text("")
    result = CliRunner().invoke(main, ["lineage", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "error" in result.output.lower()
