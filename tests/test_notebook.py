"""run_search under a Jupyter kernel (nbclient + ipykernel): the progress shows (a status
line updated in place, and the log lines), and interrupting the kernel, as the notebook's
stop button does, stops the search with a checkpoint that a later cell resumes."""
from __future__ import annotations

import json
import threading
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

SETUP = """
from azcompile.search.api import config_dict, run_search
doc = config_dict("demo")
doc["evolution"]["population_size"] = 100
"""
LONG_SEARCH = "result = run_search(doc, {out!r}, seed=1, max_individuals=5_000_000)"
REPORT = "print('interrupted:', result.interrupted, 'program:', result.program)"
RESUME = ("done = run_search(out={out!r}, resume=True, max_individuals=result.individuals + "
          "20_000, progress=False)\nprint('resumed to', done.individuals, done.program is not None)")


def _progress_lines(path) -> int:
    try:
        return sum(json.loads(line)["event"] == "progress" for line in path.read_text().splitlines())
    except (OSError, ValueError):
        return 0


def _interrupt_when_running(client, events, stop):
    """Interrupt the kernel (SIGINT, as Jupyter does) once the search has logged progress."""
    while not stop.is_set():
        if _progress_lines(events) >= 3:
            client.km.provisioner.process.send_signal(2)
            return
        time.sleep(0.1)


def _texts(cell) -> tuple[str, str]:
    """(stream text, display text) of a cell's outputs (display updates are applied)."""
    streams = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    displays = " ".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs
                        if o.output_type in ("display_data", "update_display_data"))
    return streams, displays


def test_run_search_in_a_notebook_shows_progress_and_stops_on_an_interrupt(tmp_path):
    out = str(tmp_path / "run")
    cells = [SETUP, LONG_SEARCH.format(out=out), REPORT, RESUME.format(out=out)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     allow_errors=False)
    stop = threading.Event()
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        watcher = threading.Thread(target=_interrupt_when_running,
                                   args=(client, tmp_path / "run" / "events.jsonl", stop))
        watcher.start()
        try:
            client.execute_cell(nb.cells[1], 1)
        finally:
            stop.set()
            watcher.join()
        for i in (2, 3):
            client.execute_cell(nb.cells[i], i)
    streams, displays = _texts(nb.cells[1])
    assert "experiment 0 started" in streams and "indivs=" in streams
    assert "individuals" in displays and "best fitness" in displays
    assert "interrupt: saving a checkpoint" in streams
    assert "continue with: run_search(out=" in streams
    assert "interrupted: True program: None" in _texts(nb.cells[2])[0]
    assert "True" in _texts(nb.cells[3])[0].split("resumed to")[1]
