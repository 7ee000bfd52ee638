"""Hostile caches through the real CLI (``azc evaluate --engine compiled``, which reads the
engine's numba files and the kernel cache): planted pickles in directories that are not the
user's own, a cache directory that is a file, corrupt files, read-only and full caches.

Every test works on its own copy of one warm cache at one fixed path (the kernels' numba
folder is named for the kernel directory's path, so the copy stays warm).  Read-only and full
caches are real file systems (a tmpfs mounted read-only, a tmpfs filled up) where this runs as
root; tests/test_cache_dir.py simulates both in-process everywhere.
"""
from __future__ import annotations

import os
import pickle
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from cli_checks import ROOT, assert_user_error, run_azc

PROGRAM = ROOT / "tests" / "data" / "demo_winner.json"
CONFIG = ROOT / "tests" / "data" / "tiny.toml"


def evaluate(cache: Path, program: Path = PROGRAM, **env):
    return run_azc("evaluate", program, CONFIG, "--engine", "compiled", "--tasks", "search",
                   env=cache_env(cache, **env))


def cache_env(cache: Path, **extra) -> dict:
    """AZC_CACHE_DIR=cache and nothing else choosing numba's cache (it goes to cache/numba)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "AZC_NUMBA_CACHE_ROOT", "NUMBA_DEBUG_CACHE")}
    env["AZC_CACHE_DIR"] = str(cache)
    env.update(extra)
    return env


def numba_files(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "numba").rglob("*") if p.suffix in (".nbi", ".nbc"))


def tree(cache: Path) -> dict:
    """Every path under the cache with its mode, owner and contents."""
    return {str(p.relative_to(cache)): (p.stat().st_mode, p.stat().st_uid,
                                       p.read_bytes() if p.is_file() else None)
            for p in sorted(cache.rglob("*"))}


class Plant:
    """Unpickled, it creates the marker file, then stands for numba's version string so numba
    goes on to read the index as usual."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        code = f"open({self.marker!r}, 'w').close() or __import__('numba').__version__"
        return eval, (code,)


def plant(cache: Path, marker: Path) -> int:
    """Put the marker-making pickle in front of every numba index file in the cache."""
    indexes = [p for p in numba_files(cache) if p.suffix == ".nbi"]
    for index in indexes:
        with open(index, "rb") as fh:
            pickle.load(fh)                 # numba's version header
            rest = fh.read()
        index.write_bytes(pickle.dumps(Plant(marker), protocol=4) + rest)
    return len(indexes)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A warm cache (the engine's numba files and the program's kernel), saved for copies."""
    base = tmp_path_factory.mktemp("hostile_cache")
    cache, saved = base / "cache", base / "pristine"
    session = os.environ.get("NUMBA_CACHE_DIR")      # this session's numba folder: a head start
    if session and Path(session).is_dir():
        old = os.umask(0o077)                         # private, as the cache would make them
        try:
            for folder in Path(session).glob("azcompile_*"):
                shutil.copytree(folder, cache / "numba" / Path(session).name / folder.name)
        finally:
            os.umask(old)
    proc = evaluate(cache)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    shutil.copytree(cache, saved, symlinks=True)
    return cache, saved, proc.stdout


@pytest.fixture
def cache(pristine):
    """A fresh copy of the warm cache, at the path it was made at."""
    cache, saved, _ = pristine
    shutil.rmtree(cache)
    shutil.copytree(saved, cache, symlinks=True)
    return cache


def dir_at(cache: Path, where: str) -> Path:
    return next(cache.glob(where)) if where else cache


def test_cache_directories_are_made_private(pristine, tmp_path):
    """Directories made for the cache are 0700 whatever the umask: the tree above numba's
    folders (made at import, so a command that stops at its arguments shows it) and the folders
    a run makes for the kernel and its numba files."""
    cache = tmp_path / "new" / "cache"
    old = os.umask(0o002)
    try:
        proc = run_azc("evaluate", tmp_path / "missing.json", CONFIG, env=cache_env(cache))
    finally:
        os.umask(old)
    assert proc.returncode == 2
    # numba's folders: azcompile's, and the search's (its functions inline azcompile's, so its
    # folder is fingerprinted by both packages).
    fingerprints = list((cache / "numba").iterdir())
    assert len(fingerprints) == 2
    made = [tmp_path / "new", cache, cache / "numba", *fingerprints]
    saved = pristine[1]
    kernel_folders = [saved / "kernels", *(saved / "numba").glob("*/kernels_*")]
    assert len(kernel_folders) == 2
    made += kernel_folders
    assert [oct(p.stat().st_mode & 0o777) for p in made] == [oct(0o700)] * len(made)


# ---- planted pickles ---------------------------------------------------------------------------

def test_a_planted_pickle_is_where_numba_reads(cache, tmp_path):
    """The control for the refusals below: in the user's own cache numba does unpickle the
    planted index files (the trust model trusts the user's own files), so a refusal that
    leaves the marker uncreated is the check at work, not a plant in the wrong place."""
    marker = tmp_path / "marker"
    assert plant(cache, marker) >= 3
    proc = evaluate(cache)
    assert proc.returncode == 0, proc.stderr
    assert marker.exists()


UNSAFE_MODES = [("", 0o770), ("numba", 0o707), ("numba/*", 0o720), ("numba/*/azcompile_*", 0o702)]


@pytest.mark.parametrize("where, mode", UNSAFE_MODES, ids=lambda v: oct(v) if isinstance(v, int) else v or "top")
def test_planted_pickle_in_a_directory_others_can_write_is_never_loaded(cache, tmp_path, where, mode):
    marker = tmp_path / "marker"
    plant(cache, marker)
    unsafe = dir_at(cache, where)
    os.chmod(unsafe, mode)
    before = tree(cache)
    proc = evaluate(cache)
    assert_user_error(proc, str(unsafe), "writable by other users", f"chmod 700 {unsafe}",
                      "AZC_CACHE_DIR")
    assert not marker.exists()
    assert tree(cache) == before                 # nothing written into a refused cache


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a directory to another uid needs root")
@pytest.mark.parametrize("where", ["", "numba/*", "numba/*/azcompile_*"])
def test_planted_pickle_in_a_directory_another_user_owns_is_never_loaded(cache, tmp_path, where):
    marker = tmp_path / "marker"
    plant(cache, marker)
    foreign = dir_at(cache, where)
    os.chown(foreign, 12345, 12345)               # mode stays 0700: only the owner differs
    before = tree(cache)
    proc = evaluate(cache)
    assert_user_error(proc, str(foreign), "belongs to uid 12345", "AZC_CACHE_DIR")
    assert not marker.exists()
    assert tree(cache) == before


def test_kernel_directory_others_can_write_is_refused(cache):
    kernels = cache / "kernels"
    os.chmod(kernels, 0o775)
    before = tree(cache)
    assert_user_error(evaluate(cache), str(kernels), "writable by other users")
    assert tree(cache) == before


@pytest.mark.parametrize("engine", ["compiled", "interp"])
def test_cache_dir_that_is_a_file(tmp_path, engine):
    path = tmp_path / "cache"
    path.write_text("not a directory\n")
    proc = run_azc("evaluate", PROGRAM, CONFIG, "--engine", engine, "--tasks", "search",
                   env=cache_env(path))
    assert_user_error(proc, str(path), "not a directory", "AZC_CACHE_DIR")
    assert path.read_text() == "not a directory\n"


def test_cache_dir_below_a_file(tmp_path):
    (tmp_path / "file").write_text("")
    proc = evaluate(tmp_path / "file" / "cache")
    assert_user_error(proc, str(tmp_path / "file"), "not a directory", "AZC_CACHE_DIR")


# ---- corrupt files ------------------------------------------------------------------------------

def test_corrupt_cache_files_are_misses_that_are_rebuilt(cache, pristine):
    """Random bytes, a truncated copy or nothing in each of numba's files and in the kernel's
    source: the run succeeds silently with the same answers, and the files are rewritten, so
    the next run loads everything (numba saves nothing)."""
    gen = random.Random(16)
    kinds = [lambda d: gen.randbytes(max(len(d), 64)), lambda d: d[: len(d) // 2], lambda d: b""]
    groups = [[p for p in numba_files(cache) if p.suffix == s] for s in (".nbi", ".nbc")]
    groups.append(sorted((cache / "kernels").glob("*.py")))
    assert all(len(g) >= 1 for g in groups) and len(groups[0]) >= 3
    for group in groups:
        for k, path in enumerate(group):
            path.write_bytes(kinds[k % 3](path.read_bytes()))
    proc = evaluate(cache)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout == pristine[2]
    again = evaluate(cache, NUMBA_DEBUG_CACHE="1")
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert "saved" not in again.stdout and "data loaded" in again.stdout
    assert pristine[2] in again.stdout


# ---- read-only and full caches (real file systems) -----------------------------------------------

def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(path)], capture_output=True)
    return proc.returncode == 0


@pytest.fixture
def tmpfs(tmp_path):
    """Mounts a tmpfs of a given size (skips where mounting is not allowed); unmounts after."""
    mounted = []

    def mount(name, size):
        path = tmp_path / name
        if shutil.which("mount") is None or not _mount_tmpfs(path, size):
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def copy_without_the_kernel(saved: Path, cache: Path) -> None:
    """A copy of the warm cache that has the engine's numba files but must compile (and would
    write) the program's kernel."""
    shutil.copytree(saved, cache, symlinks=True)
    for path in [*(cache / "kernels").iterdir(), *(cache / "numba").glob("*/kernels_*")]:
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def assert_one_warning(proc, *needles):
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: "), proc.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr


def test_read_only_cache_compiles_in_memory_with_one_warning(pristine, tmpfs):
    mount = tmpfs("ro", "8m")
    cache = mount / "cache"
    copy_without_the_kernel(pristine[1], cache)
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True)
    before = tree(cache)
    proc = evaluate(cache)
    # The kernel's source and numba's files could not be written: one line for both.
    assert_one_warning(proc, "read-only", "compiling in memory", "AZC_CACHE_DIR")
    assert proc.stdout == pristine[2]
    assert tree(cache) == before


def test_full_cache_compiles_in_memory_with_one_warning(pristine, tmpfs):
    mount = tmpfs("full", "8m")
    cache = mount / "cache"
    copy_without_the_kernel(pristine[1], cache)
    filler = mount / "filler"
    with open(filler, "wb", buffering=0) as fh:     # unbuffered: nothing left to flush
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    proc = evaluate(cache)
    assert_one_warning(proc, "no space left", "compiling in memory")
    assert proc.stdout == pristine[2]
    assert not [p for p in cache.rglob("*") if ".tmp" in p.name]     # no half-written files
    # The entries that were there are intact (a run on them is the corrupt-file test's).
    saved = {p.relative_to(pristine[1]): p.read_bytes() for p in numba_files(pristine[1])
             if "kernels_" not in str(p)}
    assert {p: (cache / p).read_bytes() for p in saved} == saved
