"""The run directory on its own: an exclusive lock, one error line for every way the
directory can be unusable, writes that fail cleanly (the checkpoint survives), and an event
log that a resume repairs and a reader reports by file and line."""
from __future__ import annotations

import errno
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from azcompile.search.run import checkpoint as ckpt
from azcompile.search.run.rundir import RunDir, RunDirError, free_dir, read_events

ROOT = Path(__file__).resolve().parent.parent


def _one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


# ---- the lock -----------------------------------------------------------------------------

def _race(path, barrier, won, index):
    run_dir = RunDir(path, resume=False)
    barrier.wait()
    try:
        run_dir.open()
        won[index] = 1
    except RunDirError:
        won[index] = 0
    barrier.wait()          # the winner holds the lock until the other has tried
    if won[index]:
        run_dir.close()


def test_two_simultaneous_lockers_exactly_one_wins_200_times(tmp_path):
    ctx = mp.get_context("fork")
    for trial in range(200):
        path = tmp_path / f"run{trial}"
        if trial % 2:       # half the trials race on a stale .lock left by a dead process
            path.mkdir()
            (path / ".lock").write_text("12345\n")
        barrier, won = ctx.Barrier(2, timeout=20), ctx.Array("i", [-1, -1])
        procs = [ctx.Process(target=_race, args=(path, barrier, won, i)) for i in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
        assert sorted(won) == [0, 1], f"trial {trial}: {list(won)}"
        assert not (path / ".lock").exists()


def test_a_held_lock_is_refused_naming_the_holder(tmp_path):
    first = RunDir(tmp_path / "run", resume=False)
    first.open()
    try:
        with pytest.raises(RunDirError) as err:
            RunDir(tmp_path / "run", resume=True).open()
        assert _one_line(err) == (f"{tmp_path / 'run'} is in use by process {os.getpid()}: "
                                  f"wait for it to finish; stop it with: kill {os.getpid()}")
    finally:
        first.close()
    RunDir(tmp_path / "run", resume=True).open()     # released: free again


@pytest.mark.parametrize("content", [f"{os.getppid()}\n", "9" * 20 + "\n", "garbage", ""])
def test_a_lock_nobody_holds_is_taken_over_whatever_pid_it_names(tmp_path, content):
    """A .lock naming a live process (as after pid reuse), a 20-digit pid or garbage is
    stale unless a process holds it: flock knows, the pid is only for messages."""
    (tmp_path / ".lock").write_text(content)
    run_dir = RunDir(tmp_path, resume=True)
    run_dir.open()
    assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
    run_dir.close()


def test_the_lock_dies_with_its_process(tmp_path):
    script = ("import sys, time; from azcompile.search.run.rundir import RunDir; "
              "RunDir(sys.argv[1], resume=False).open(); print('locked', flush=True); "
              "time.sleep(60)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "locked\n"
    with pytest.raises(RunDirError, match=f"in use by process {proc.pid}"):
        RunDir(tmp_path, resume=True).open()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / ".lock").read_text() == f"{proc.pid}\n"     # left behind...
    RunDir(tmp_path, resume=True).open()                           # ...and stale


# ---- directories that cannot be used ---------------------------------------------------------

@pytest.mark.parametrize("name", [".lock", "events.jsonl", "checkpoint.npz", "config.toml"])
def test_a_directory_where_a_run_file_belongs_is_one_error(tmp_path, name):
    (tmp_path / name).mkdir()
    with pytest.raises(RunDirError) as err:
        RunDir(tmp_path, resume=True).open()
    assert _one_line(err).startswith(f"{tmp_path / name} is a directory") and "mv " in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]     # nothing written


def test_an_out_directory_below_a_file_is_one_error(tmp_path):
    (tmp_path / "somefile").write_text("x")
    with pytest.raises(RunDirError) as err:
        RunDir(tmp_path / "somefile" / "sub", resume=False).open()
    assert _one_line(err) == (f"cannot create run directory {tmp_path / 'somefile' / 'sub'}: a "
                              f"file is in the way ({tmp_path / 'somefile'}); choose another "
                              f"--out directory")
    with pytest.raises(RunDirError, match="is a file, not a run directory"):
        RunDir(tmp_path / "somefile", resume=False).open()


def _raise(code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


def test_a_read_only_directory_is_one_error(tmp_path, monkeypatch):
    """(We run as root, so chmod does not stop writes: the file system's answer is faked.)"""
    monkeypatch.setattr(os, "open", _raise(errno.EROFS))
    with pytest.raises(RunDirError) as err:
        RunDir(tmp_path, resume=False).open()
    assert _one_line(err) == (f"cannot write {tmp_path / '.lock'}: Read-only file system; "
                              f"choose a writable --out directory")
    with pytest.raises(RunDirError, match="copy the run directory to a writable place"):
        RunDir(tmp_path, resume=True).open()


def test_a_read_only_mount_is_one_error(tmp_path):
    source, target = tmp_path / "src", tmp_path / "ro"
    source.mkdir()
    target.mkdir()
    (source / "config.toml").write_text("name = 'x'\n")
    mounted = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("bind mounts are not available here")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(target)]).returncode != 0:
            pytest.skip("read-only remounts are not available here")
        with pytest.raises(RunDirError, match="Read-only file system; copy the run directory"):
            RunDir(target, resume=True).open()
    finally:
        subprocess.run(["umount", str(target)])


# ---- writes that fail ---------------------------------------------------------------------------

def test_a_full_disk_at_checkpoint_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    run_dir = RunDir(tmp_path, resume=False)
    run_dir.open()
    run_dir.start_events(None)
    run_dir.save_checkpoint(ckpt.save, {}, {"n": 1})
    before = (tmp_path / "checkpoint.npz").read_bytes()
    monkeypatch.setattr(os, "fsync", _raise(errno.ENOSPC))
    with pytest.raises(RunDirError) as err:
        run_dir.save_checkpoint(ckpt.save, {}, {"n": 2})
    assert _one_line(err).endswith(f"No space left on device; free some space, then resume "
                                   f"with: azc search --resume {tmp_path}")
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    run_dir.close()


def test_a_full_disk_before_any_checkpoint_suggests_starting_over(tmp_path, monkeypatch):
    run_dir = RunDir(tmp_path, resume=False, config_arg="my run.toml")
    run_dir.open()
    run_dir.start_events(None)
    run_dir.event("start", seed=5, workers=2, max_seconds=60.0, max_individuals=None)

    class Full:
        def write(self, *args):
            raise OSError(errno.ENOSPC, "No space left on device")

        flush = close = write

    run_dir._events = Full()
    with pytest.raises(RunDirError) as err:
        run_dir.event("progress")
    assert _one_line(err).endswith(f"start it over with: azc search 'my run.toml' --out "
                                   f"{tmp_path} --seed 5 --workers 2 --max-time 60")
    for save in (lambda: run_dir.save_json(tmp_path / "lineage.json", {}),
                 lambda: run_dir.write_config("x")):
        monkeypatch.setattr("azcompile.search.run.rundir.atomic_write_text", _raise(errno.ENOSPC))
        with pytest.raises(RunDirError, match="No space left on device; free some space"):
            save()
    run_dir.close()


# ---- the event log ------------------------------------------------------------------------------

def _log(path: Path, n: int) -> list[str]:
    lines = [json.dumps({"event": "progress", "i": i, "mean": 0.47181234}) for i in range(n)]
    path.write_text("".join(line + "\n" for line in lines))
    return lines


def test_resume_drops_what_the_checkpoint_did_not_count(tmp_path):
    lines = _log(tmp_path / "events.jsonl", 5)
    run_dir = RunDir(tmp_path, resume=True)
    assert run_dir.start_events(3) is None      # a normal resume: nothing to report
    run_dir.event("resumed")
    run_dir.close()
    assert [e.get("i") for e in read_events(tmp_path)] == [0, 1, 2, None]
    assert (tmp_path / "events.jsonl").read_text().startswith("".join(x + "\n" for x in lines[:3]))


def test_a_log_cut_mid_line_is_repaired_not_joined(tmp_path):
    lines = _log(tmp_path / "events.jsonl", 5)
    path = tmp_path / "events.jsonl"
    path.write_bytes(path.read_bytes()[: -len(lines[-1]) // 2 - 1])     # cut inside line 5
    run_dir = RunDir(tmp_path, resume=True)
    repair = run_dir.start_events(5)
    assert repair == {"reason": "events.jsonl held 4 intact lines of the 5 the checkpoint "
                                "counted: the rest of that history is gone",
                      "kept_lines": 4, "expected_lines": 5}
    run_dir.event("log_repaired", **repair)
    run_dir.close()
    records = read_events(tmp_path)
    assert [r["event"] for r in records] == ["progress"] * 4 + ["log_repaired"]
    assert all(line.endswith("}") for line in path.read_text().splitlines())


def test_a_damaged_line_inside_the_counted_part_ends_what_is_kept(tmp_path):
    _log(tmp_path / "events.jsonl", 4)
    path = tmp_path / "events.jsonl"
    text = path.read_text().splitlines(keepends=True)
    text[1] = '{"event": "prog\xff\n'
    path.write_text("".join(text), encoding="latin-1")
    repair = RunDir(tmp_path, resume=True).start_events(4)
    assert repair["kept_lines"] == 1 and repair["expected_lines"] == 4


def test_a_deleted_log_is_reported_as_history_gone(tmp_path):
    repair = RunDir(tmp_path, resume=True).start_events(7)
    assert repair["reason"] == "events.jsonl was missing: the history before this point is gone"
    assert repair["kept_lines"] == 0
    assert (tmp_path / "events.jsonl").exists()


@pytest.mark.parametrize("bad", [b'{"event": "x", "mean": 0.4718{"event": "resumed"}',
                                 b"\xff\xfe binary", b"[1, 2]", b'{"no_event": 1}'])
def test_read_events_names_the_file_and_line_of_a_bad_line(tmp_path, bad):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"event": "start"}\n' + bad + b'\n{"event": "final"}\n')
    with pytest.raises(RunDirError) as err:
        read_events(tmp_path)
    assert _one_line(err) == (f"{path}, line 2: not an event record (the log is damaged from "
                              f"there on)")


def test_read_events_leaves_out_a_line_still_being_written(tmp_path):
    (tmp_path / "events.jsonl").write_bytes(b'{"event": "start"}\n{"event": "prog')
    assert read_events(tmp_path) == [{"event": "start"}]


def test_read_events_of_a_directory_is_one_error(tmp_path):
    (tmp_path / "events.jsonl").mkdir()
    with pytest.raises(RunDirError, match="is a directory, not an event log"):
        read_events(tmp_path)


# ---- suggested commands ----------------------------------------------------------------------

def test_free_dir_and_the_commands_a_run_directory_suggests(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run-2").mkdir()
    assert free_dir(tmp_path / "new") == tmp_path / "new"
    assert free_dir(tmp_path / "run") == tmp_path / "run-3"
    run_dir = RunDir(tmp_path / "run", resume=True)
    assert run_dir.next_step() == f"start it over with: azc search CONFIG.toml --out {tmp_path}/run"
    (tmp_path / "run" / "config.toml").write_text("")
    assert run_dir.next_step() == (f"start it over with: azc search {tmp_path}/run/config.toml "
                                   f"--out {tmp_path}/run")
    (tmp_path / "run" / "checkpoint.npz").write_bytes(b"")
    assert run_dir.next_step() == f"resume with: azc search --resume {tmp_path}/run"
    assert run_dir.new_run_command("a b.toml") == f"azc search 'a b.toml' --out {tmp_path}/run-3"
