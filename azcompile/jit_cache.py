"""The compiled tier's cache: canonical program -> generated module -> numba kernel.

A candidate's source is written to ``<cache dir>/kernels/c_<hash>.py`` and imported as a
real module (numba's on-disk cache does not work for ``exec``-made functions), so a second
process with the same cache directory loads the machine code instead of compiling.  Files
are written atomically (temp file + rename), an entry whose text is not what the generator
writes is rewritten, and any error loading an entry is treated as a miss: the entry is
rebuilt under a fresh module name.

The cache directory is, in order: the ``cache_dir`` argument (``--cache-dir`` on the CLI),
``$AZC_CACHE_DIR``, then the platform's user cache folder (``$XDG_CACHE_HOME/azcompile``,
``~/Library/Caches/azcompile``, ``%LOCALAPPDATA%\\azcompile\\Cache``).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from . import codegen

ENV_VAR = "AZC_CACHE_DIR"
_lock = threading.Lock()


def default_cache_dir() -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "azcompile"
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "azcompile" / "Cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "azcompile"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` so readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class KernelCache:
    """In-memory LRU of compiled candidate modules over an on-disk source + numba cache."""

    def __init__(self, cache_dir: Path | str | None = None, capacity: int = 256):
        self.root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.kernels = self.root / "kernels"
        self.capacity = capacity
        self._modules: OrderedDict[int, object] = OrderedDict()
        self.hits = self.misses = self.rebuilds = 0

    def get(self, canonical_program, program_hash: int):
        """The compiled module for a canonical program (its ``evaluate_task`` runs it)."""
        with _lock:
            module = self._modules.get(program_hash)
            if module is not None:
                self._modules.move_to_end(program_hash)
                self.hits += 1
                return module
            self.misses += 1
            module = self._load(canonical_program, program_hash)
            self._modules[program_hash] = module
            while len(self._modules) > self.capacity:
                self._modules.popitem(last=False)
            return module

    def path_for(self, program_hash: int) -> Path:
        return self.kernels / f"c_{program_hash:016x}.py"

    def _load(self, program, program_hash: int):
        source = codegen.candidate_source(program, program_hash)
        path = self.path_for(program_hash)
        fresh = not path.exists() or _read(path) != source
        if fresh:
            atomic_write_text(path, source)
        try:
            return _import(path, f"azc_kernel_{program_hash:016x}")
        except Exception:
            # A corrupt or stale entry (source or numba cache): rebuild it from scratch.
            self.rebuilds += 1
            shutil.rmtree(path.parent / "__pycache__", ignore_errors=True)
            atomic_write_text(path, source)
            suffix = hashlib.sha1(os.urandom(8)).hexdigest()[:8]
            return _import(path, f"azc_kernel_{program_hash:016x}_{suffix}")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


_default: KernelCache | None = None


def default_cache() -> KernelCache:
    global _default
    if _default is None or _default.root != (default_cache_dir()):
        _default = KernelCache()
    return _default
