"""`azc plot`: a PNG of best and mean fitness from a real run directory, and one error line
for a damaged event log or an image it cannot write."""
import json
import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from azcompile.search.cli.commands import main
from tests.cli_checks import assert_user_error, run_azc


def test_plot_writes_a_png(tiny_run_dir, tmp_path):
    out = tmp_path / "progress.png"
    result = CliRunner().invoke(main, ["plot", str(tiny_run_dir), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


def test_plot_of_a_directory_without_events_is_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["plot", str(tmp_path), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "error" in result.output.lower()


# ---- damaged event logs and bad targets ---------------------------------------------------

DAMAGE = {
    "truncated mid-line": lambda text: text[: len(text) // 2],
    "binary": lambda text: "\x00\xff\xfe\x80 not json",
    "a progress event without numbers": lambda text: text + json.dumps(
        {"event": "progress", "individuals": "many", "best": None, "mean": 0.5}) + "\n",
    "an event that is not an object": lambda text: text + "[1, 2]\n",
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_event_log_is_one_error_line(tiny_run_dir, tmp_path, damage):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run_dir)
    path = run_dir / "events.jsonl"
    path.write_bytes(DAMAGE[damage](path.read_text()).encode("latin-1", "replace")
                     if damage == "binary" else DAMAGE[damage](path.read_text()).encode())
    before = path.read_bytes()
    out = tmp_path / "p.png"
    if damage == "truncated mid-line":
        # Not an error: a log cut mid-line is what a live run (or a crash) leaves; the
        # complete lines are plotted and the partial one is left out.
        result = run_azc("plot", run_dir, "-o", out)
        assert result.returncode == 0 and out.exists(), result.stderr
    elif damage == "an event that is not an object":
        assert_user_error(run_azc("plot", run_dir, "-o", out), "events.jsonl", "line")
        assert not out.exists()
    else:
        assert_user_error(run_azc("plot", run_dir, "-o", out), "events.jsonl")
        assert not out.exists()
    assert path.read_bytes() == before


def test_event_log_as_a_directory_is_one_error_line(tiny_run_dir, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run_dir)
    (run_dir / "events.jsonl").unlink()
    (run_dir / "events.jsonl").mkdir()
    assert_user_error(run_azc("plot", run_dir, "-o", tmp_path / "p.png"), "events.jsonl")


def test_unwritable_or_unknown_image_targets_are_one_error_line(tiny_run_dir, tmp_path):
    assert_user_error(run_azc("plot", tiny_run_dir, "-o", tmp_path / "p.xyz"), ".xyz",
                      "-o progress.png")
    # The suggested target works.
    ok = run_azc("plot", tiny_run_dir, "-o", "progress.png", cwd=tmp_path)
    assert ok.returncode == 0 and (tmp_path / "progress.png").exists(), ok.stderr
    assert_user_error(run_azc("plot", tiny_run_dir, "-o", tmp_path / "no" / "such" / "p.png"),
                      "cannot write")


def test_the_matplotlib_hint_names_an_extra_that_exists():
    """`azc plot` without matplotlib says: pip install 'azcompile[plot]'."""
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    assert any(dep.startswith("matplotlib") for dep in extras["plot"])
