"""Islands without a barrier (``run.migration = "async"``): a run migrates at each island's
own pace, and a worker that is killed (SIGKILL) or stops answering (SIGSTOP, past
``run.worker_timeout``) is replaced from its last snapshot while the run goes on."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from azcompile.search.run import checkpoint as ckpt
from azcompile.search.run import config as config_mod
from azcompile.search.run.state import check_checkpoint
from test_hostile_rundir import _start, _wait, _workers_of

ROOT = Path(__file__).resolve().parent.parent


def async_config(folder: Path, one_long_experiment=False, **run) -> Path:
    """tests/data/tiny.toml with async migration (and the ``run`` keys given); optionally one
    experiment with a budget that outlasts the test (it ends at --max-individuals)."""
    keys = {"migration": '"async"', "migrate_every": 300, **run}
    text = (ROOT / "tests" / "data" / "tiny.toml").read_text().replace(
        "batch_size = 100", "batch_size = 100\n" + "\n".join(f"{k} = {v}" for k, v in keys.items()))
    if one_long_experiment:
        text = text.replace("max_train_steps = 3_000_000", "max_train_steps = 10_000_000_000")
    path = folder / "tiny_async.toml"
    path.write_text(text)
    return path


def events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]


def assert_log_and_checkpoint_valid(run: Path) -> None:
    """Every line is an event, the checkpoint loads, and it counts the log's lines."""
    log = events(run)
    _, info = ckpt.load(run / "checkpoint.npz")
    assert info["events"] == len(log)
    assert log[0]["event"] == "start" and log[-1]["event"] == "final"


def progress_reached(out: Path, individuals: int) -> bool:
    """The run has checkpointed and logged progress past ``individuals`` (mid-evolution)."""
    path = out / "events.jsonl"
    if not (out / "checkpoint.npz").exists() or not path.exists():
        return False
    return any('"progress"' in line and json.loads(line)["individuals"] >= individuals
               for line in path.read_text().splitlines()[-5:] if line.endswith("}"))


def kill_one_worker_mid_run(tmp_path: Path, sig: int, **run) -> tuple[Path, list[dict], str]:
    out = tmp_path / "run"
    proc = _start(["search", async_config(tmp_path, one_long_experiment=True, **run), "--out",
                   out, "--plain", "--seed", 5, "--workers", 2, "--checkpoint-every", 0.3,
                   "--max-individuals", 60_000])
    assert _wait(lambda: progress_reached(out, 5000) and len(_workers_of(proc.pid)) == 2, 180)
    victim = _workers_of(proc.pid)[0]
    os.kill(victim, sig)
    stdout, stderr = proc.communicate(timeout=180)
    if sig == signal.SIGSTOP:       # the search has killed it when it gave up on it
        assert not Path(f"/proc/{victim}").exists()
    assert proc.returncode == 0, stderr
    return out, events(out), stdout


def test_a_killed_worker_is_restarted_and_the_run_finishes(tmp_path):
    out, log, stdout = kill_one_worker_mid_run(tmp_path, signal.SIGKILL)
    kinds = [e["event"] for e in log]
    lost = kinds.index("island_lost")
    restarted = log[kinds.index("island_restarted")]
    assert lost < kinds.index("island_restarted") and "died" in log[lost]["reason"]
    assert restarted["source"] == "its last snapshot" and restarted["individuals"] > 0
    assert "restarted from its last snapshot" in stdout
    # The restarted island goes on: batches and migrations of both islands after it.
    after = log[kinds.index("island_restarted"):]
    assert {e["island"] for e in after if e["event"] == "migration"} == {0, 1}
    assert log[-1]["individuals"] >= 60_000
    assert_log_and_checkpoint_valid(out)


def test_a_worker_that_stops_answering_is_treated_as_dead(tmp_path):
    _, log, _ = kill_one_worker_mid_run(tmp_path, signal.SIGSTOP, worker_timeout=2)
    lost = next(e for e in log if e["event"] == "island_lost")
    assert "no answer within 2 s" in lost["reason"] or "stopped answering" in lost["reason"]
    assert any(e["event"] == "island_restarted" for e in log)


def test_an_async_run_logs_each_island_and_resumes_from_its_checkpoint(tmp_path):
    from azcompile.search.run.experiment import RunOptions, Search

    cfg = config_mod.load(async_config(tmp_path))
    run = tmp_path / "run"
    first = Search(cfg, RunOptions(out=run, seed=3, workers=2, max_individuals=4000,
                                   checkpoint_seconds=0.0))
    first.opts.should_stop = lambda: first.state.total_individuals >= 2500
    first.run()
    arrays, info = ckpt.load(run / "checkpoint.npz")
    state = check_checkpoint(cfg, arrays, info)     # valid with islands at different cursors
    assert state.phase == "evolve" and state.migrations > 0
    Search(config_mod.load(run / "config.toml"), RunOptions(out=run, resume=True)).run()
    log = events(run)
    progress = [e for e in log if e["event"] == "progress"]
    assert all(len(e["islands"]) == 2 and e["per_s"] >= 0 for e in progress)
    assert {e["island"] for e in log if e["event"] == "migration"} == {0, 1}
    assert log[-1]["event"] == "final" and log[-1]["individuals"] >= 4000


def test_a_deterministic_config_keeps_its_hash():
    """run.migration at its default is left out of the configuration record, so runs
    checkpointed before it existed still resume; "async" changes the hash."""
    plain = config_mod.load(ROOT / "tests" / "data" / "tiny.toml")
    assert "migration" not in ckpt.config_document(plain)["run"]
    text = plain.source_text.replace("batch_size = 100", 'batch_size = 100\nmigration = "async"')
    assert ckpt.config_document(config_mod.parse(text, plain.source_path))["run"]["migration"] \
        == "async"


def test_migration_on_resume_is_one_error(tmp_path):
    from cli_checks import assert_user_error, run_azc

    (tmp_path / "run").mkdir()
    assert_user_error(run_azc("search", "--resume", tmp_path / "run", "--migration", "async"),
                      "resume without it")


@pytest.mark.parametrize("bad", ['migration = "fast"', "worker_timeout = 0"])
def test_bad_async_settings_are_one_config_error(bad, tmp_path):
    from cli_checks import assert_user_error, run_azc

    path = tmp_path / "bad.toml"
    path.write_text((ROOT / "tests" / "data" / "tiny.toml").read_text().replace(
        "batch_size = 100", f"batch_size = 100\n{bad}"))
    assert_user_error(run_azc("search", path, "--out", tmp_path / "run"), bad.split()[0])


def test_the_migration_option_is_recorded_in_the_run_s_config(tmp_path):
    plain = config_mod.load(ROOT / "tests" / "data" / "tiny.toml")
    cfg = config_mod.with_migration(plain, "async")
    assert cfg.run["migration"] == "async" and 'migration = "async"' in cfg.run_dir_text
    assert config_mod.with_migration(cfg, "async") is cfg
    demo = config_mod.with_migration(config_mod.load("demo"), "async")     # bundled, has [run]
    assert demo.run["migration"] == "async" and demo.run["seed"] == 1


def test_the_search_never_imports_ray_unless_asked():
    import subprocess
    import sys

    code = ("import sys, azcompile.search.run.experiment, azcompile.search.cli.commands; "
            "print('ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "False"


def test_the_coordinator_measurement_runs_the_async_archipelago():
    from azcompile.search.cli.bench_coordinator import coordinator_cost

    cost = coordinator_cost(islands=3, population=50, batch=50, replies=60)
    assert cost["us_per_reply"] > 0 and cost["replies_per_s"] > 0 and cost["islands"] == 3
