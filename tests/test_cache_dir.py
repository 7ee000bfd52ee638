"""The cache trust model in-process (azcompile.cache_dir): private directories, refusals, and
numba's reads and writes under it.  Read-only and full caches are simulated here by raising the
OSError at the write call (numba's file writer, our kernel writer), so these run everywhere;
tests/test_hostile_cache.py has the real file systems and the CLI.
"""
from __future__ import annotations

import errno
import os
import pickle
import random
import stat
import uuid
from pathlib import Path

import numpy as np
import pytest
from numba.core import caching
from numba.core import config as numba_config

from azcompile import cache_dir, jit_cache
from azcompile.cache_dir import CacheError, check_private, private_dir
from azcompile.engine import run
from azcompile.liveness import canonical
from programs import readme_linear_regression

TINY = "from numba import njit\n\n\n@njit(cache=True)\ndef add_one(x):\n    return x + 1.0\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def numba_tree(tmp_path, monkeypatch):
    """numba's cache for functions defined from now on: tmp_path/cache/numba/fp under the trust
    model (the policy and numba's config are restored afterwards)."""
    policy = cache_dir._policy
    for name in ("trees", "sources", "unwritable"):
        monkeypatch.setattr(policy, name, type(getattr(policy, name))(getattr(policy, name)))
    monkeypatch.setattr(cache_dir, "_warned", False)
    top = tmp_path / "cache"
    target = top / "numba" / "fp"
    # numba's compiler reloads its config from the environment when that changed: set both.
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(target))
    monkeypatch.setattr(numba_config, "CACHE_DIR", str(target))
    cache_dir.trust_numba_folder(target, top, "AZC_CACHE_DIR", [])
    return top, target


def tiny_module(tmp_path, source=TINY):
    """A fresh import (so a fresh dispatcher, which reads numba's files) of a one-function
    module our locator serves."""
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    path = folder / "tiny.py"
    if not path.exists():
        path.write_text(source)
    cache_dir.serve_sources(folder)
    return jit_cache._import(path, f"azc_test_tiny_{uuid.uuid4().hex[:8]}")


def function_folder(target: Path) -> Path:
    (folder,) = [p for p in target.iterdir() if p.is_dir()]
    return folder


def stats(module):
    s = module.add_one.stats
    return sum(s.cache_hits.values()), sum(s.cache_misses.values())


# ---- directories -------------------------------------------------------------------------------

def test_private_dir_is_0700_whatever_the_umask(tmp_path):
    old = os.umask(0o002)
    try:
        private_dir(tmp_path / "a" / "b" / "c" / "d", tmp_path / "a" / "b", "AZC_CACHE_DIR")
    finally:
        os.umask(old)
    for path in ("a", "a/b", "a/b/c", "a/b/c/d"):
        assert mode(tmp_path / path) == 0o700, path


def test_refusals_name_the_directory_and_the_fix(tmp_path):
    top = tmp_path / "top"
    private_dir(top / "sub", top, "AZC_CACHE_DIR")
    check_private(top / "sub" / "missing" / "deeper", top, "AZC_CACHE_DIR")   # nothing to read
    for bits in (0o020, 0o002):
        os.chmod(top / "sub", 0o700 | bits)
        with pytest.raises(CacheError) as info:
            check_private(top / "sub", top, "AZC_CACHE_DIR")
        message = str(info.value)
        assert "\n" not in message and f"chmod 700 {top / 'sub'}" in message
        assert "AZC_CACHE_DIR" in message
    os.chmod(top / "sub", 0o700)
    (top / "sub" / "file").write_text("")
    with pytest.raises(CacheError, match="not a directory"):
        private_dir(top / "sub" / "file", top, "AZC_CACHE_DIR")
    with pytest.raises(CacheError, match="not a directory"):
        private_dir(top / "sub" / "file" / "below", top / "sub" / "file" / "below", "X")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.chown(top, 12345, 12345)
        with pytest.raises(CacheError, match="belongs to uid 12345"):
            check_private(top / "sub", top, "AZC_CACHE_DIR")


# ---- numba's files -----------------------------------------------------------------------------

class Plant:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return eval, (f"open({self.marker!r}, 'w').close() or __import__('numba').__version__",)


def test_untrusted_numba_folder_is_refused_before_reading(numba_tree, tmp_path):
    top, target = numba_tree
    old = os.umask(0o002)
    try:
        assert tiny_module(tmp_path).add_one(1.0) == 2.0           # compiled and saved
    finally:
        os.umask(old)
    folder = function_folder(target)
    assert all(mode(p) == 0o700 for p in (top, top / "numba", target, folder))
    (index,) = folder.glob("*.nbi")
    with open(index, "rb") as fh:
        pickle.load(fh)
        rest = fh.read()
    marker = tmp_path / "marker"
    index.write_bytes(pickle.dumps(Plant(marker), protocol=4) + rest)
    os.chmod(folder, 0o770)
    with pytest.raises(CacheError, match="writable by other users"):
        tiny_module(tmp_path).add_one(1.0)
    assert not marker.exists()
    os.chmod(folder, 0o700)                 # the user's own again: their files are trusted
    module = tiny_module(tmp_path)
    assert module.add_one(1.0) == 2.0 and marker.exists() and stats(module) == (1, 0)


@pytest.mark.parametrize("kind", ["random", "truncated", "empty"])
@pytest.mark.parametrize("suffix", [".nbi", ".nbc"])
def test_corrupt_numba_file_is_a_miss_that_is_rewritten(numba_tree, tmp_path, kind, suffix):
    _, target = numba_tree
    assert tiny_module(tmp_path).add_one(1.0) == 2.0
    (path,) = function_folder(target).glob("*" + suffix)
    data = path.read_bytes()
    path.write_bytes({"random": random.Random(7).randbytes(len(data)),
                      "truncated": data[: len(data) // 2], "empty": b""}[kind])
    module = tiny_module(tmp_path)
    assert module.add_one(2.0) == 3.0 and stats(module) == (0, 1)    # compiled again
    again = tiny_module(tmp_path)
    assert again.add_one(2.0) == 3.0 and stats(again) == (1, 0)      # the files are healthy


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_numba_write_failure_is_one_warning(numba_tree, tmp_path, monkeypatch, capsys, code):
    """Simulated at numba's file writer: every save fails as on a full / read-only disk."""
    _, target = numba_tree

    def failing_open(self, filepath):
        raise OSError(code, os.strerror(code), filepath)

    monkeypatch.setattr(caching.IndexDataCacheFile, "_open_for_write", failing_open)
    module = tiny_module(tmp_path)
    assert module.add_one(1.0) == 2.0 and module.add_one(np.int64(1)) == 2.0   # two saves
    (tmp_path / "other").mkdir()
    assert tiny_module(tmp_path / "other").add_one(5.0) == 6.0     # and another folder
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: "), lines
    assert os.strerror(code) in lines[0] and "compiling in memory" in lines[0]
    assert not list(target.rglob("*.nb*"))


def test_unwritable_kernel_directory_compiles_in_memory(tmp_path, monkeypatch, capsys):
    """Simulated at the kernel writer: the cache's kernel directory is read-only."""
    monkeypatch.setattr(cache_dir, "_warned", False)
    kernels = tmp_path / "cache" / "kernels"
    real_write = jit_cache.atomic_write_text

    def write(path, text):
        if Path(path).parent == kernels:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        real_write(path, text)

    monkeypatch.setattr(jit_cache, "atomic_write_text", write)
    prog = readme_linear_regression(0.0875)
    cache = jit_cache.KernelCache(tmp_path / "cache")
    canon, h = canonical(prog)
    module = cache.get(canon, h)
    assert Path(module.__file__).parent == cache_dir.scratch_dir()
    gen = np.random.default_rng(0)
    x, xv = gen.normal(size=(40, 4)), gen.normal(size=(10, 4))
    w = gen.normal(size=4)
    result = run(prog, x, x @ w, xv, xv @ w, engine="compiled", cache=cache)
    assert np.all(np.isfinite(result.valid_predictions))
    assert not list(kernels.iterdir())
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and str(kernels) in lines[0]
