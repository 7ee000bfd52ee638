"""Hostile run directories and signals: every case is one ``error:`` line (exit 2, no
traceback) with the directory unchanged, or a clean stop the run resumes from; and a search
killed at random moments (SIGKILL, SIGTERM, SIGINT, double SIGINT; during start-up, search,
checkpoint writes and resumes), resumed as the messages say, ends exactly as the
uninterrupted run."""
from __future__ import annotations

import errno
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from cli_checks import assert_user_error, run_azc
from azcompile.search.run import checkpoint as ckpt
from azcompile.search.run import config as config_mod
from azcompile.search.run import island_kit
from test_search_run import (azc_in_process, best_without_timing, events_without_timing,
                             interrupted_run, suggested_command)

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny.toml"
DROP = ("resumed", "log_repaired")


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    return interrupted_run(tmp_path_factory.mktemp("stopped") / "run")


@pytest.fixture
def run(stopped, tmp_path):
    """A private copy of the stopped run."""
    return Path(shutil.copytree(stopped, tmp_path / "run"))


def snapshot(path: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.iterdir()) if p.is_file()}


def refused(run_dir: Path | None, *args_and_needles):
    """Run ``azc ARGS`` (in this process) and check it is one error line containing the
    needles, leaving ``run_dir`` as it was."""
    split = args_and_needles.index("--")
    args, needles = args_and_needles[:split], args_and_needles[split + 1:]
    before = snapshot(run_dir) if run_dir and run_dir.is_dir() else None
    proc = azc_in_process(*args)
    assert_user_error(proc, *needles)
    if before is not None:
        assert snapshot(run_dir) == before
    return proc.stderr.strip()


# ---- resume with another configuration ---------------------------------------------------------

CONFIG_EDITS = [
    ("vectors = 3", "vectors = 2", "memory.vectors: 3 -> 2"),      # was: a segfault
    ("scalars = 4", "scalars = 2", "memory.scalars: 4 -> 2"),      # was: double free
    ("population_size = 100", "population_size = 50", "evolution.population_size: 100 -> 50"),
    ("learn_init = 4", "learn_init = 4\nlearn_max = 9", "sizes.learn_max: null -> 9"),
    ('learn = ["SCALAR_DIFF_OP", ', "learn = [", "ops.learn: "),
    ("num_tasks = 3", "num_tasks = 2", "search_tasks[0].num_tasks: 3 -> 2"),
]


@pytest.mark.parametrize("old, new, change", CONFIG_EDITS, ids=[c[2] for c in CONFIG_EDITS])
def test_an_edited_config_is_refused_before_anything_runs(run, old, new, change):
    path = run / "config.toml"
    path.write_text(path.read_text().replace(old, new, 1))
    message = refused(run, "search", "--resume", run, "--plain", "--",
                      f"{path} changed since the checkpoint ({change}", "restore it")
    assert message.endswith(f"start a new run with: azc search {path} --out {run}-2")


def test_another_config_file_on_resume_must_be_the_run_s(run, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text(TINY.read_text().replace("vectors = 3", "vectors = 2"))
    message = refused(run, "search", other, "--resume", run, "--plain", "--",
                      f"{other} differs from the configuration of the run in {run} "
                      f"(memory.vectors: 3 -> 2)")
    assert f"resume it with: azc search --resume {run}," in message


def test_another_seed_or_worker_count_on_resume_is_refused(run):
    refused(run, "search", "--resume", run, "--seed", 7, "--", "was started with seed 3, not 7")
    refused(run, "search", "--resume", run, "--workers", 2, "--",
            "runs with 1 worker(s), not 2")


# ---- damaged checkpoints ---------------------------------------------------------------------

def _rewrite_info(run: Path, edit) -> None:
    arrays, info = ckpt.load(run / "checkpoint.npz")
    edit(info)
    info.pop("format")
    ckpt.save(run / "checkpoint.npz", arrays, info)


CHECKPOINT_DAMAGE = [
    ("truncated", lambda r: _cut(r, 0.5), "is unreadable (BadZipFile"),
    ("empty", lambda r: _cut(r, 0.0), "is unreadable"),
    ("bit flipped", lambda r: _flip(r, 0.4), "is unreadable"),
    ("an unknown phase", lambda r: _rewrite_info(r, lambda i: i.update(phase="warp")),
     "'phase' is \"warp\""),
    ("a missing key", lambda r: _rewrite_info(r, lambda i: i.pop("migrations")),
     "'migrations' is missing"),
    ("a missing array", lambda r: _drop_array(r, "island0_pop_code"), "island0_pop_code"),
]


def _cut(run: Path, fraction: float) -> None:
    path = run / "checkpoint.npz"
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * fraction)])


def _flip(run: Path, at: float) -> None:
    path = run / "checkpoint.npz"
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x04
    path.write_bytes(bytes(data))


def _drop_array(run: Path, key: str) -> None:
    arrays, info = ckpt.load(run / "checkpoint.npz")
    del arrays[key]
    info.pop("format")
    ckpt.save(run / "checkpoint.npz", arrays, info)


@pytest.mark.parametrize("name, damage, needle", CHECKPOINT_DAMAGE,
                         ids=[c[0] for c in CHECKPOINT_DAMAGE])
def test_a_damaged_checkpoint_is_one_error_that_says_how_to_start_over(run, name, damage, needle):
    damage(run)
    message = refused(run, "search", "--resume", run, "--plain", "--",
                      f"{run / 'checkpoint.npz'}", needle)
    assert message.endswith(f"the run cannot be resumed: start it over with: azc search "
                            f"{run}/config.toml --out {run} --seed 3")
    again = azc_in_process(*suggested_command(message), "--plain", "--max-individuals", 1)
    assert again.returncode == 0, again.stderr
    assert again.stderr.startswith(f"warning: {run}: {run}/checkpoint.npz is ")


def test_an_unknown_phase_never_loops(run):
    """(It used to spin at 100% CPU, ignoring --max-time.)"""
    _rewrite_info(run, lambda i: i.update(phase="warp"))
    assert_user_error(run_azc("search", "--resume", run, "--max-time", 1, timeout=60),
                      "'phase' is \"warp\"")


# ---- directories that cannot be used --------------------------------------------------------------

@pytest.mark.parametrize("name", [".lock", "events.jsonl"])
def test_a_run_file_that_is_a_directory_is_one_error(run, name):
    (run / name).unlink(missing_ok=True)
    (run / name).mkdir()
    message = refused(run, "search", "--resume", run, "--", f"{run / name} is a directory",
                      "mv ")
    os.rename(run / name, run / f"{name}.bak")      # as the message says; then it resumes
    assert message.endswith("and run the command again")
    again = azc_in_process("search", "--resume", run, "--plain", "--max-individuals", 1)
    assert again.returncode == 0, again.stderr


def test_an_out_path_below_a_file_is_one_error(tmp_path):
    (tmp_path / "somefile").write_text("x")
    refused(tmp_path, "search", TINY, "--out", tmp_path / "somefile" / "sub", "--",
            "cannot create run directory", "a file is in the way")


def test_a_new_run_into_an_unfinished_one_is_refused_with_resume(run):
    refused(run, "search", TINY, "--out", run, "--", f"{run} holds an unfinished run; "
            f"continue it with: azc search --resume {run}, or start a new run with: azc search "
            f"{TINY} --out {run}-2")


def test_a_read_only_run_directory_is_one_error(run, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *args):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    refused(run, "search", "--resume", run, "--", "Read-only file system",
            "copy the run directory to a writable place")


def test_a_full_disk_at_checkpoint_keeps_the_last_one_and_the_run_resumes(run, monkeypatch):
    good = (run / "checkpoint.npz").read_bytes()

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpt, "atomic_write_bytes", full)
    proc = azc_in_process("search", "--resume", run, "--plain", "--checkpoint-every", 0)
    assert_user_error(proc, f"cannot write {run / 'checkpoint.npz'}: No space left on device; "
                            f"free some space, then resume with: azc search --resume {run}")
    assert (run / "checkpoint.npz").read_bytes() == good
    monkeypatch.undo()
    proc = azc_in_process(*suggested_command(proc.stderr), "--plain", "--max-individuals", 1)
    assert proc.returncode == 0, proc.stderr
    assert "Final evaluation fitness" in proc.stdout


def test_a_full_disk_at_the_first_event_suggests_starting_over(tmp_path, monkeypatch):
    class Full:
        def write(self, *args):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        flush = close = write

    def open_full(path, mode="r", *args, **kwargs):
        return Full() if mode == "a" else open(path, mode, *args, **kwargs)

    monkeypatch.setattr("azcompile.search.run.rundir.open", open_full, raising=False)
    out = tmp_path / "new"
    message = refused(None, "search", TINY, "--out", out, "--",
                      f"cannot write {out / 'events.jsonl'}: No space left on device; free "
                      f"some space, then start it over with: azc search {TINY} --out {out}")
    monkeypatch.undo()
    again = azc_in_process(*suggested_command(message), "--plain", "--max-individuals", 1)
    assert again.returncode == 0, again.stderr


# ---- the event log on resume -------------------------------------------------------------

def test_a_log_cut_mid_line_is_repaired_and_plots(run, tmp_path):
    path = run / "events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-3]) + lines[-3][:25])        # cut inside a counted line
    proc = azc_in_process("search", "--resume", run, "--plain", "--max-individuals", 1)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith(f"warning: {path}: events.jsonl held {len(lines) - 3} intact "
                                  f"lines of the {len(lines)} the checkpoint counted")
    kinds = [line.split(b'"')[3] for line in path.read_bytes().splitlines()]
    assert kinds[len(lines) - 3: len(lines) - 1] == [b"log_repaired", b"resumed"]
    assert azc_in_process("plot", run, "-o", tmp_path / "p.png").returncode == 0


def test_a_deleted_log_resumes_with_a_warning_that_history_is_gone(run):
    (run / "events.jsonl").unlink()
    proc = azc_in_process("search", "--resume", run, "--plain", "--max-individuals", 1)
    assert proc.returncode == 0, proc.stderr
    assert "events.jsonl was missing: the history before this point is gone" in proc.stderr
    first = (run / "events.jsonl").read_text().splitlines()[0]
    assert '"event": "log_repaired"' in first


# ---- signals ------------------------------------------------------------------------------

def _signal_self(times: int):
    for _ in range(times):
        os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_while_loading_stops_before_anything_is_written(tmp_path, monkeypatch):
    real_load = config_mod.load
    monkeypatch.setattr(config_mod, "load", lambda p: (_signal_self(1), real_load(p))[1])
    proc = azc_in_process("search", TINY, "--out", tmp_path / "run")
    assert proc.returncode == 130
    assert proc.stderr.strip().splitlines()[-1] == ("stopped before the search started; "
                                                   "nothing was written")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_during_compile_leaves_a_run_that_continues(tmp_path, monkeypatch, presses):
    """Pressed while the kernels load (the first island is being built), once or twice:
    nothing is made yet, so the run stops at once with one line that says how to go on
    (start over: there is no checkpoint), and that command works."""
    real_island = island_kit.Island
    monkeypatch.setattr(island_kit, "Island",
                        lambda *a, **k: (_signal_self(presses), real_island(*a, **k))[1])
    out = tmp_path / "run"
    proc = azc_in_process("search", TINY, "--out", out, "--plain", "--seed", 11)
    monkeypatch.undo()
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 130 and "Traceback" not in proc.stderr and "Aborted" not in proc.stderr
    assert "interrupt: stopping now (nothing to save yet)" in proc.stderr
    assert last == (f"aborted; start it over with: azc search {TINY} --out {out} --seed 11")
    assert not (out / "checkpoint.npz").exists()
    proc = azc_in_process(*suggested_command(proc.stderr), "--plain", "--max-individuals", 1)
    assert proc.returncode == 0, proc.stderr


def _lock_holder(out: Path):
    try:
        return int((out / ".lock").read_text())
    except (OSError, ValueError):
        return None


def _wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def _start(args) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "azcompile.search.cli", *map(str, args)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _interrupt(proc, out: Path, kind: str, moment: float) -> None:
    """SIGKILL ``moment`` seconds after the start (imports included); SIGTERM and SIGINT
    that long after the search took its lock (before, they meet Python's own handling: see
    test_ctrl_c_during_imports...)."""
    if kind != "KILL":
        _wait(lambda: proc.poll() is not None or _lock_holder(out) == proc.pid, 60)
    try:
        proc.wait(timeout=moment)
        return
    except subprocess.TimeoutExpired:
        pass
    signum = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM}.get(kind, signal.SIGINT)
    proc.send_signal(signum)
    if kind == "INT-INT":
        time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)


def _next_command(stderr: str, out: Path) -> list:
    """What a user does next: what the message says, or after a silent death, resume (or
    the first command again if not even the directory was made)."""
    if "with: azc " in stderr:
        args = suggested_command(stderr)
        if "CONFIG.toml" in args:       # nothing recorded which config: the user knows
            args[args.index("CONFIG.toml")] = str(TINY)
            args += ["--seed", "11"]
        return args
    if not out.exists():
        return ["search", TINY, "--out", out, "--seed", "11"]
    return ["search", "--resume", out]


def test_killed_at_random_moments_the_run_ends_as_the_uninterrupted_one(tiny_run_dir, tmp_path):
    rng = random.Random(16)
    out = tmp_path / "run"
    kinds = ("KILL", "TERM", "INT", "INT-INT")
    args = ["search", TINY, "--out", out, "--seed", "11"]
    history = []
    for attempt in range(30):
        kind = kinds[attempt % 4] if attempt < 8 else None
        moment = (rng.uniform(0.1, 3.0) if kind == "KILL" else rng.uniform(0.0, 1.5)) if kind \
            else None
        proc = _start([*args, "--plain", "--checkpoint-every", "0.1"])
        if kind:
            _interrupt(proc, out, kind, moment)
        _, stderr = proc.communicate(timeout=300)
        history.append((args[1], kind, moment, proc.returncode))
        assert "Traceback" not in stderr and "Aborted!" not in stderr, (history, stderr)
        if proc.returncode == 0:
            break
        if kind in ("INT", "INT-INT") and proc.returncode != 2:
            assert proc.returncode == 130, (history, stderr)
            assert stderr.strip().splitlines()[-1].startswith(("stopped; ", "aborted; ")), stderr
        if kind == "TERM" and proc.returncode == 143:   # resume, or start over if nothing was made
            assert ("resume with: azc search --resume" in stderr
                    or "start it over with: azc search" in stderr), stderr
        if proc.returncode == 2:
            assert_user_error(SimpleNamespace(returncode=2, stderr=stderr, stdout=""))
        args = _next_command(stderr, out)
    else:
        pytest.fail(f"the run never finished: {history}")
    print(history)
    assert sum(1 for h in history if h[1]) >= 3, history
    assert events_without_timing(out, drop=DROP) == events_without_timing(tiny_run_dir)
    assert best_without_timing(out) == best_without_timing(tiny_run_dir)


def test_ctrl_c_during_imports_is_a_clean_exit(tmp_path):
    proc = _start(["search", TINY, "--out", tmp_path / "run"])
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert not (tmp_path / "run").exists()


def _workers_of(pid: int) -> list[int]:
    """Worker processes (multiprocessing spawn children) of ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_worker_that_dies_is_one_error_that_says_how_to_go_on(tmp_path):
    out = tmp_path / "run"
    proc = _start(["search", TINY, "--out", out, "--plain", "--seed", 5, "--workers", 2,
                   "--checkpoint-every", 0.2])
    assert _wait(lambda: (out / "checkpoint.npz").exists() and len(_workers_of(proc.pid)) == 2,
                 120)
    os.kill(_workers_of(proc.pid)[0], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=120)
    assert_user_error(SimpleNamespace(returncode=proc.returncode, stderr=stderr, stdout=""),
                      f"a worker process died; resume with: azc search --resume {out}")
    # (test_two_workers_reproduce_and_migrate resumes a two-worker run to the end.)
