"""`azc plot`: a PNG of best and mean fitness from a real run directory."""
from click.testing import CliRunner

from search.cli import main


def test_plot_writes_a_png(tiny_run_dir, tmp_path):
    out = tmp_path / "progress.png"
    result = CliRunner().invoke(main, ["plot", str(tiny_run_dir), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


def test_plot_of_a_directory_without_events_is_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["plot", str(tmp_path), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "error" in result.output.lower()
