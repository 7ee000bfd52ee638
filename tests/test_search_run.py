"""Whole searches through the CLI: reproducibility, crash recovery, run-directory rules."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny.toml"
TIMING_FIELDS = {"time", "elapsed", "profile"}


def azc(*args, check=True, **kw):
    """Run the CLI in a subprocess, as a user would."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "azcompile.search.cli", *map(str, args)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"azc {args} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def azc_in_process(*args):
    """The CLI in this process (fast: the kernels stay loaded), as a CompletedProcess-like."""
    from types import SimpleNamespace

    from click.testing import CliRunner

    from azcompile.search.cli.commands import main

    result = CliRunner().invoke(main, [str(a) for a in args])
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout,
                           stderr=result.stderr, exception=result.exception)


def events_without_timing(run_dir: Path, drop=("resumed",)) -> list[dict]:
    out = []
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["event"] in drop:
            continue
        out.append({k: v for k, v in record.items() if k not in TIMING_FIELDS})
    return out


def best_without_timing(run_dir: Path) -> dict:
    doc = json.loads((run_dir / "best_program.json").read_text())
    doc["meta"].pop("found_at_seconds")
    return doc


def interrupted_run(out: Path, steps: int = 40, seed: int = 3, **options) -> Path:
    """A tiny run stopped (as by Ctrl-C) after ``steps`` batches: resumable, mid-experiment.
    (In this process: deterministic, where a signal's moment is not.)"""
    from azcompile.search.run import config as config_mod
    from azcompile.search.run.experiment import RunOptions, Search

    count = iter(range(steps + 1))
    search = Search(config_mod.load(TINY), RunOptions(out=out, seed=seed, config_arg=str(TINY),
                                                      should_stop=lambda: next(count) >= steps,
                                                      **options))
    search.run()
    assert search.interrupted and search.phase == "evolve"
    return out


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """One uninterrupted run of the tiny config; other tests compare against it."""
    out = tmp_path_factory.mktemp("ref") / "run"
    proc = azc("search", TINY, "--out", out, "--plain", "--seed", 11)
    return out, proc


def test_run_directory_holds_config_events_checkpoint_and_best(reference_run):
    out, proc = reference_run
    saved = (out / "config.toml").read_text()
    assert saved.endswith(TINY.read_text())         # the config as given, byte for byte, below
    assert f'base_dir = "{TINY.parent}"' in saved    # the folder its data paths resolve from
    kinds = [e["event"] for e in events_without_timing(out)]
    assert kinds[0] == "start" and kinds[-1] == "final"
    assert "progress" in kinds and "new_best" in kinds and "experiment_end" in kinds
    best = json.loads((out / "best_program.json").read_text())
    assert best["format"] == "azcompile.program"
    assert best["meta"]["seed"] == 11
    assert len(best["meta"]["canonical_hash"]) == 16
    assert "Final evaluation fitness" in proc.stdout
    assert not (out / ".lock").exists()


def test_experiment_end_says_where_the_time_went(reference_run):
    out, _ = reference_run
    ends = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()
            if '"experiment_end"' in line]
    profile = ends[0]["profile"]
    shares = {k: v for k, v in profile.items() if k != "seconds"}
    assert set(shares) == {"mutation", "canonical", "evaluation", "loop", "python"}
    assert all(0.0 <= v <= 1.0 for v in shares.values()) and profile["seconds"] > 0
    assert abs(sum(shares.values()) - 1.0) < 0.01
    assert shares["evaluation"] > 0 and shares["mutation"] > 0 and shares["canonical"] > 0


def test_same_seed_gives_same_events_and_program(reference_run, tmp_path):
    out, _ = reference_run
    again = tmp_path / "again"
    azc("search", TINY, "--out", again, "--plain", "--seed", 11)
    assert events_without_timing(again) == events_without_timing(out)
    assert best_without_timing(again) == best_without_timing(out)


def test_other_seed_gives_another_run(reference_run, tmp_path):
    out, _ = reference_run
    other = tmp_path / "other"
    azc("search", TINY, "--out", other, "--plain", "--seed", 12)
    assert events_without_timing(other) != events_without_timing(out)


def suggested_command(stderr: str, which: int = 0) -> list[str]:
    """The ``which``-th azc command a message suggests ("... with: azc ..."), as arguments."""
    import re
    import shlex

    line = next(x for x in reversed(stderr.splitlines()) if "with: azc " in x)
    commands = re.findall(r"with: (azc .*?)(?:, or |\)?$)", line)
    words = shlex.split(commands[which])
    return words[1:]


def test_second_run_into_a_finished_run_is_refused_with_a_new_directory(reference_run):
    """A finished run is not resumable, so the message must not suggest --resume; the
    command it suggests (another directory) works."""
    out, _ = reference_run
    proc = azc("search", TINY, "--out", out, "--plain", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "finished" in proc.stderr
    assert "--resume" not in proc.stderr and "Traceback" not in proc.stderr
    suggested = suggested_command(proc.stderr)
    assert suggested[suggested.index("--out") + 1] == f"{out}-2"
    rerun = azc_in_process(*suggested, "--plain", "--seed", 11)
    assert "Final evaluation fitness" in rerun.stdout
    assert events_without_timing(Path(f"{out}-2")) == events_without_timing(out)


def _wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _progress_lines(run_dir: Path) -> int:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return 0
    return sum('"progress"' in line for line in path.read_text().splitlines())


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_killed_search_resumes_to_the_same_result(reference_run, tmp_path, sig):
    """Kill mid-run (SIGKILL: no chance to clean up; SIGINT: Ctrl-C; SIGTERM: handled as
    Ctrl-C), resume, and finish with exactly the events and program of the uninterrupted
    run."""
    ref, _ = reference_run
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "azcompile.search.cli", "search", str(TINY), "--out",
                             str(out), "--plain", "--seed", "11", "--checkpoint-every", "0.2"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    # Kill once the run is well under way and has checkpointed at least once.
    assert _wait_for(lambda: (out / "checkpoint.npz").exists() and _progress_lines(out) >= 8)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    if sig != signal.SIGKILL:
        assert proc.returncode == 128 + sig, stderr
        assert stderr.strip().splitlines()[-1] == f"stopped; resume with: azc search --resume {out}"
        assert "Traceback" not in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    finished_early = '"final"' in (out / "events.jsonl").read_text()
    assert not finished_early, "the run ended before the kill; make the test config longer"
    resumed = azc("search", "--resume", out, "--plain")
    assert "Final evaluation fitness" in resumed.stdout
    records = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    resume_event = next(r for r in records if r["event"] == "resumed")
    assert resume_event["individuals"] > 0          # continued from a checkpoint, not from scratch
    assert events_without_timing(out) == events_without_timing(ref)
    assert best_without_timing(out) == best_without_timing(ref)


def test_resume_of_a_finished_run_is_refused(reference_run):
    out, _ = reference_run
    proc = azc("search", "--resume", out, "--plain", check=False)
    assert proc.returncode == 2
    assert "already finished" in proc.stderr and "Traceback" not in proc.stderr


def test_resume_of_a_directory_without_checkpoint_is_refused(tmp_path):
    proc = azc("search", "--resume", tmp_path, "--plain", check=False)
    assert proc.returncode == 2 and "nothing to resume" in proc.stderr


def test_max_individuals_stops_and_still_reports(tmp_path):
    out = tmp_path / "short"
    proc = azc("search", TINY, "--out", out, "--plain", "--max-individuals", "500")
    kinds = [e["event"] for e in events_without_timing(out)]
    assert "stopped" in kinds and kinds[-1] == "final"
    assert "Final evaluation fitness" in proc.stdout


def test_two_workers_reproduce_and_migrate(tmp_path):
    """Islands in two processes meet at synchronous barriers: a fixed seed and worker count
    give the same run, and migrations happen.  The second run gets a terminal's Ctrl-C (to
    the whole process group, workers included) and is resumed (with the run's 2 workers,
    not repeated on the command line): it ends the same."""
    runs = [tmp_path / "a", tmp_path / "b"]
    azc("search", TINY, "--out", runs[0], "--plain", "--seed", 5, "--workers", 2)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "azcompile.search.cli", "search", str(TINY), "--out",
                             str(runs[1]), "--plain", "--seed", "5", "--workers", "2",
                             "--checkpoint-every", "0.2"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert _wait_for(lambda: (runs[1] / "checkpoint.npz").exists() and _progress_lines(runs[1]) >= 4)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert not any('"final"' in x for x in (runs[1] / "events.jsonl").read_text().splitlines())
    azc("search", "--resume", runs[1], "--plain")
    first = events_without_timing(runs[0])
    assert first == events_without_timing(runs[1])
    assert any(e["event"] == "migration" for e in first)
    assert {e.get("island") for e in first if e["event"] == "new_best"} <= {0, 1}
    assert best_without_timing(runs[0]) == best_without_timing(runs[1])


# ---- resume and restart: limits, refusals and the commands the messages suggest ----------------

def test_limits_are_saved_and_honoured_on_resume(tmp_path):
    """--max-individuals given at the start holds after a resume that does not repeat it
    (the printed hint does not); given on resume, it replaces the run's and is saved."""
    ref = tmp_path / "ref"
    azc("search", TINY, "--out", ref, "--plain", "--seed", 11, "--max-individuals", 30000)
    stopped = interrupted_run(tmp_path / "stopped", steps=60, seed=11, max_individuals=30000)
    again = Path(shutil.copytree(stopped, tmp_path / "again"))
    assert azc_in_process("search", "--resume", stopped, "--plain").returncode == 0
    assert events_without_timing(stopped) == events_without_timing(ref)
    assert best_without_timing(stopped) == best_without_timing(ref)
    azc_in_process("search", "--resume", again, "--plain", "--max-individuals", 20000)
    stops = [e for e in events_without_timing(again) if e["event"] == "stopped"]
    assert stops[0]["reason"] == "max individuals 20000 reached"
    _, info = ckpt_load(again)
    assert info["max_individuals"] == 20000 and info["max_seconds"] is None


def ckpt_load(run_dir: Path):
    from azcompile.search.run import checkpoint

    return checkpoint.load(run_dir / "checkpoint.npz")


def _user_error(proc, *needles) -> str:
    from cli_checks import assert_user_error

    assert_user_error(proc, *needles)
    return proc.stderr


def test_a_run_killed_before_its_first_checkpoint_starts_over_as_the_message_says(
        reference_run, tmp_path):
    ref, _ = reference_run
    out = tmp_path / "early"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "azcompile.search.cli", "search", str(TINY), "--out",
                             str(out), "--plain", "--seed", "11", "--checkpoint-every", "1000"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert _wait_for(lambda: _progress_lines(out) >= 3)
    proc.kill()
    proc.wait()
    assert not (out / "checkpoint.npz").exists()
    message = _user_error(azc_in_process("search", "--resume", out, "--plain"),
                          "nothing to resume (the run stopped before its first checkpoint)")
    assert suggested_command(message) == ["search", f"{out}/config.toml", "--out", str(out),
                                          "--seed", "11"]
    again = azc_in_process(*suggested_command(message), "--plain")
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines()[0] == (f"warning: {out}: the run there stopped before its "
                                            f"first checkpoint; starting the run over")
    assert events_without_timing(out) == events_without_timing(ref)
    # The same directory through --out instead: it starts over too (no dead end either way).
    assert "--resume" not in _user_error(azc_in_process("search", TINY, "--out", out))


def test_a_damaged_checkpoint_is_started_over_keeping_it_aside(reference_run, tmp_path):
    ref, _ = reference_run
    out = interrupted_run(tmp_path / "damaged", seed=11)
    (out / "checkpoint.npz").write_bytes((out / "checkpoint.npz").read_bytes()[:5000])
    message = _user_error(azc_in_process("search", "--resume", out, "--plain"),
                          "checkpoint.npz is unreadable", "the run cannot be resumed")
    again = azc_in_process(*suggested_command(message), "--plain")
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines()[0].startswith(f"warning: {out}: {out}/checkpoint.npz is "
                                                   f"unreadable (")
    assert again.stderr.splitlines()[0].endswith("; starting the run over (the old checkpoint "
                                                 "is kept as checkpoint.npz.unusable)")
    assert (out / "checkpoint.npz.unusable").stat().st_size == 5000
    assert events_without_timing(out) == events_without_timing(ref)


def test_every_refusal_of_a_resumable_run_suggests_commands_that_work(reference_run, tmp_path):
    """A new run into it, another seed, another config file, an edited config.toml: each is
    refused, leaves the directory as it was, and suggests resuming (which then finishes as
    the uninterrupted run) or a new run elsewhere (which starts).  In this process: the
    subprocess path is the same code, tested above."""
    ref, _ = reference_run
    out = interrupted_run(tmp_path / "run", seed=11)
    other = tmp_path / "other.toml"
    other.write_text(TINY.read_text().replace("population_size = 100", "population_size = 90"))
    config = out / "config.toml"
    original = config.read_text()
    refusals = [
        (["search", TINY, "--out", out], "holds an unfinished run"),
        (["search", "--resume", out, "--seed", 7], "was started with seed 11, not 7"),
        (["search", other, "--resume", out], "differs from the configuration of the run"),
        (["search", "--resume", out, "--workers", 2], "runs with 1 worker(s), not 2"),
    ]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    messages = [_user_error(azc_in_process(*args), needle) for args, needle in refusals]
    config.write_text(original.replace("vectors = 3", "vectors = 2"))
    messages.append(_user_error(azc_in_process("search", "--resume", out),
                                "changed since the checkpoint (memory.vectors: 3 -> 2)"))
    config.write_text(original)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    resumes = [suggested_command(m) for m in messages[:4]]
    assert resumes == [["search", "--resume", str(out)]] * 4
    news = [suggested_command(m, 1) for m in messages[:3]] + [suggested_command(messages[4])]
    assert news[1][-2:] == ["--seed", "7"] and news[2][1] == str(other)
    for args in news:          # each new run starts (and is cut short: it is another search)
        assert azc_in_process(*args, "--plain", "--max-individuals", 1).returncode == 0
        shutil.rmtree(args[args.index("--out") + 1])
    # An identical copy of the config is the run's config: accepted.
    same = tmp_path / "same.toml"
    same.write_text(TINY.read_text())
    assert azc_in_process("search", same, *resumes[0][1:], "--plain").returncode == 0
    assert events_without_timing(out) == events_without_timing(ref)
    assert best_without_timing(out) == best_without_timing(ref)
    # Finished now: --resume says so and suggests a new run, which starts.
    message = _user_error(azc_in_process("search", "--resume", out), "already finished")
    assert azc_in_process(*suggested_command(message), "--plain",
                          "--max-individuals", 1).returncode == 0


def test_ctrl_c_during_a_cold_compile_stops_at_once_with_nothing_written(tmp_path):
    """A fresh install compiles for a minute before the first batch: a Ctrl-C then stops the
    compile at once (nothing to save yet), exits 130 without a traceback, leaves nothing
    half-written, and says how to go on (start over, or resume from the experiment's start
    if that was saved)."""
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "AZC_NUMBA_CACHE_ROOT")}
    env.update(PYTHONPATH=str(ROOT), AZC_CACHE_DIR=str(tmp_path / "empty_cache"))
    proc = subprocess.Popen([sys.executable, "-m", "azcompile.search.cli", "search", str(TINY),
                             "--out", str(out), "--plain", "--seed", "3"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert _wait_for(lambda: (out / "events.jsonl").exists()
                     and "experiment_start" in (out / "events.jsonl").read_text())
    time.sleep(3)                                   # well inside the cold compile
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 5, "the compile was not interrupted"
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert "interrupt: stopping now (nothing to save yet)" in stderr
    last = stderr.strip().splitlines()[-1]
    if (out / "checkpoint.npz").exists():           # the experiment's start was saved
        assert last.startswith("aborted; resume with: azc search --resume"), last
    else:
        assert last.startswith("aborted; start it over with: azc search"), last
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_the_clock_counts_from_the_command_start(tmp_path):
    """--max-time counts from the command's start (imports and compiling included): a
    search whose command started 100 s ago with a 50-s limit stops after one batch and
    reports more than 100 s."""
    from azcompile.search.run import config as config_mod
    from azcompile.search.run.experiment import RunOptions, Search

    search = Search(config_mod.load(TINY), RunOptions(out=tmp_path / "run", seed=3,
                                                      max_seconds=50,
                                                      started=time.monotonic() - 100))
    search.run()
    events = events_without_timing(tmp_path / "run")
    assert any(e["event"] == "stopped" for e in events)
    final = json.loads((tmp_path / "run" / "events.jsonl").read_text().splitlines()[-1])
    assert final["event"] == "final" and final["elapsed"] >= 100


def test_the_search_loop_never_compiles_a_candidate(tmp_path, monkeypatch):
    """Children are interpreted: the generation loop never waits for a numba compile of a
    candidate (the compiled tier serves select and final evaluation when it pays)."""
    from azcompile import jit_cache
    from azcompile.search.run import config as config_mod
    from azcompile.search.run.experiment import RunOptions, Search

    def forbidden(*args, **kwargs):
        raise AssertionError("a candidate was compiled during the search")

    monkeypatch.setattr(jit_cache.KernelCache, "get", forbidden)
    search = Search(config_mod.load(TINY), RunOptions(out=tmp_path / "run", seed=3,
                                                      engine="interp", max_individuals=3000))
    search.run()
    assert search.state.total_individuals >= 3000
