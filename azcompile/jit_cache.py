"""The compiled tier's cache: canonical program -> generated module -> numba kernel.

A candidate's source is written to ``<cache dir>/kernels/c_<hash>.py`` and imported as a
real module (numba's on-disk cache does not work for ``exec``-made functions), so a second
process with the same cache directory loads the machine code instead of compiling.  Files
are written atomically (temp file + rename), an entry whose text is not what the generator
writes is rewritten, and any error loading an entry is treated as a miss: the entry is
rebuilt under a fresh module name.

The cache directory is, in order: the ``cache_dir`` argument,
``$AZC_CACHE_DIR``, then the platform's user cache folder (``$XDG_CACHE_HOME/azcompile``,
``~/Library/Caches/azcompile``, ``%LOCALAPPDATA%\\azcompile\\Cache``).  What the cache trusts and
how it fails (refused when not the user's own, corrupt files are misses, read-only or full
means compiling in memory) is in ``cache_dir``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

from . import codegen, prebuilt_cache
from .cache_dir import (CacheError, private_dir, scratch_dir, serve_sources, trust_numba_folder,
                        unwritable_message, warn_once)
from .kernel_pointer import COMPONENT, KernelPointer

ENV_VAR = "AZC_CACHE_DIR"
# A demo-sized candidate's compile (azc bench's core figures), until this process measures.
DEMO_CANDIDATE_COMPILE_SECONDS = 0.7
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
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` atomically: a synced temporary file renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
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
        self._interpreters: dict[str, object] = {}   # few, and each a search's: never evicted
        self._compile_seconds, self._compiles = DEMO_CANDIDATE_COMPILE_SECONDS, 0
        self.hits = self.misses = self.rebuilds = 0
        self._checked = False       # the directory is checked once, before its first use
        self._unwritable = False    # after a failed write, kernels go to a scratch folder
        serve_sources(self.kernels)

    def get(self, canonical_program, program_hash: int):
        """The compiled module for a canonical program (its ``evaluate_task`` runs it).

        The kernel has the feature size baked in and the canonical hash does not cover it,
        so entries are keyed by (hash, feature size)."""
        key = (program_hash, canonical_program.memory.features)
        with _lock:
            module = self._modules.get(key)
            if module is not None:
                self._modules.move_to_end(key)
                self.hits += 1
                return module
            self.misses += 1
            module = self._load(canonical_program, program_hash)
            self._modules[key] = module
            while len(self._modules) > self.capacity:
                self._modules.popitem(last=False)
            return module

    def interpreter(self, op_ids, features: int):
        """The op-set interpreter module for ``op_ids`` and feature size ``features``
        (codegen.op_set_interpreter_source): its ``evaluate`` is compiled (or loaded from
        numba's cache) when the module is imported.  Named for the digest of its text, so an
        edit of the op table, driver or templates gives a new file, never a stale one."""
        source = codegen.op_set_interpreter_source(op_ids, features)
        digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]
        with _lock:
            module = self._interpreters.get(digest)
            if module is None:
                module = self._load_module(self.kernels / f"interp_{digest}.py",
                                           f"azc_interp_{digest}", source, warm_up=None)
                self._interpreters[digest] = module
            return module

    def path_for(self, program_hash: int, features: int | None = None) -> Path:
        """The source file of a kernel (give the feature size: it is part of the name)."""
        tail = "" if features is None else f"_f{features}"
        return self.kernels / f"c_{program_hash:016x}{tail}.py"

    def expected_compile_seconds(self) -> float:
        """What compiling a new candidate costs, as measured on this cache's misses
        (a running mean; before the first, the figure measured for a demo-sized one)."""
        return self._compile_seconds

    def _load(self, program, program_hash: int):
        features = program.memory.features
        start = time.perf_counter()
        module = self._load_module(self.path_for(program_hash, features),
                                   f"azc_kernel_{program_hash:016x}_f{features}",
                                   codegen.candidate_source(program, program_hash),
                                   warm_up=_warm_up)
        if not module.components.stats.cache_hits:      # numba compiled it: a measurement
            self._compiles += 1
            self._compile_seconds += ((time.perf_counter() - start - self._compile_seconds)
                                      / self._compiles)
        return module

    def _load_module(self, path: Path, name: str, source: str, warm_up):
        """Import the generated module ``source`` from ``path`` (written if it holds other
        text), then ``warm_up(module)`` if given."""
        self._check_directory()
        if _read(path) != source:
            path = self._write_source(path, source)
        module = None
        try:
            # The entry points have explicit signatures: numba compiles them, or reads its
            # disk cache, at import, so anything wrong with the entry shows here.
            module = _import(path, name)
            if warm_up is not None:
                warm_up(module)
            return module
        except CacheError:
            raise
        except Exception:
            # A corrupt or stale entry (numba's own files are already a miss in cache_dir):
            # rebuild it from scratch.
            self.rebuilds += 1
            _remove_numba_cache(path, module)
            path = self._write_source(path, source)
            suffix = hashlib.sha1(os.urandom(8)).hexdigest()[:8]
            module = _import(path, f"{name}_{suffix}")
            if warm_up is not None:
                warm_up(module)
            return module

    def _check_directory(self) -> None:
        """Refuse a kernel directory that is not the user's own before reading from it;
        create it 0700.  One that cannot be created is handled at the first write."""
        if self._checked:
            return
        try:
            private_dir(self.kernels, self.root, ENV_VAR)
        except OSError:
            pass
        self._checked = True

    def _write_source(self, path: Path, source: str) -> Path:
        """Write a kernel's source, to a private scratch folder when the cache is read-only
        or full (one warning); returns where it was written."""
        if not self._unwritable:
            try:
                atomic_write_text(path, source)
                return path
            except OSError as exc:
                self._unwritable = True
                warn_once(unwritable_message(self.kernels, exc, ENV_VAR))
        try:
            fallback = scratch_dir() / path.name
            atomic_write_text(fallback, source)
        except OSError as exc:
            raise CacheError(f"cannot write compiled kernels to {self.kernels} nor to a "
                             f"temporary folder ({exc.strerror or exc}): free some space or "
                             f"set {ENV_VAR} to a writable directory") from None
        return fallback


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


def _warm_up(module) -> None:
    """Give the candidate module its ``pointer``: its components as the compiled driver
    takes them (numba compiled or loaded them when the module was imported)."""
    module.pointer = KernelPointer(module.components, COMPONENT)


def _remove_numba_cache(path: Path, module) -> None:
    """Delete numba's cache files of the module at ``path`` (wherever numba keeps them)."""
    folders = {path.parent / "__pycache__"}
    for entry in ("evaluate_task", "evaluate", "components"):
        try:
            folders.add(Path(getattr(module, entry).stats.cache_path))
        except Exception:
            pass
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.startswith(path.stem + "."):
                try:
                    os.unlink(folder / name)
                except OSError:
                    pass


# ---- stale numba caches -----------------------------------------------------------------------
# numba keys a cached function on its own source file only.  The search loop inlines the
# generated interpreter from another module, so after an edit of that module (or of any module
# it inlines) numba would keep loading stale machine code.  Deleting stale files is not enough:
# a process still running the old code writes them back.  So numba's cache lives in a folder
# named for the fingerprint of our sources: other sources, other folder, never a stale hit.

_ROOT_ENV = "AZC_NUMBA_CACHE_ROOT"   # the parent folder, passed on to child processes
_KEEP_SECONDS = 7 * 24 * 3600        # fingerprint folders unused this long are removed


_AZCOMPILE_DIR = Path(__file__).resolve().parent


def _source_folders(packages) -> list[Path]:
    """Every folder of the given package folders that holds Python modules."""
    return sorted({p.parent for d in packages for p in Path(d).rglob("*.py")})


def _sources_fingerprint(dirs) -> str:
    """Hash of the modules numba compiles (they hold ``@njit``) and of the op table, whose
    arrays numba freezes into the machine code."""
    digest = hashlib.sha1()
    for d in dirs:
        for path in sorted(d.glob("*.py")):
            text = path.read_bytes()
            if b"@njit" in text or path.name == "ops.py":
                digest.update(path.name.encode())
                digest.update(text)
    return digest.hexdigest()


def guard_numba_cache(*packages: Path) -> None:
    """Point numba's cache at ``<root>/<fingerprint>``; root is ``$NUMBA_CACHE_DIR`` if set,
    else ``<azcompile cache dir>/numba``.  Call before any numba function is defined.

    azcompile guards itself at import.  A package whose numba functions inline azcompile's
    (the search engine) calls it again with its own folder before defining them: its
    functions then live in a folder fingerprinted by both.

    Never raises (this runs at import): a folder that is not the user's own is refused at
    numba's first read, one that cannot be written is warned about at its first write."""
    try:
        folders = _source_folders((_AZCOMPILE_DIR, *packages))
        fingerprint = _sources_fingerprint(folders)[:16]
    except OSError:
        return
    top, root, setting = _numba_root()
    target = root / fingerprint
    os.environ[_ROOT_ENV] = str(root)
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba was imported first: its config is already read
        config.CACHE_DIR = str(target)
    trust_numba_folder(target, top, setting, folders)
    try:
        private_dir(target, top, setting)
        os.utime(target)
    except (CacheError, OSError):
        return
    # The generation loop compiled at install (prebuilt_cache), into a fresh folder.
    prebuilt_cache.seed(target, fingerprint, lambda folder: private_dir(folder, top, setting),
                        atomic_write_bytes)
    _prune_fingerprint_folders(root, keep=fingerprint)


def _numba_root() -> tuple[Path, Path, str]:
    """numba's cache root, the top of the tree checked with it, and the setting that moves
    them: ``(<azcompile cache dir>, <that>/numba, AZC_CACHE_DIR)`` by default."""
    inherited = os.environ.get(_ROOT_ENV)          # a child process: the parent's choice
    given = inherited or os.environ.get("NUMBA_CACHE_DIR")
    if given:
        root = Path(given).expanduser().absolute()
        setting = f"{ENV_VAR} or NUMBA_CACHE_DIR" if inherited else "NUMBA_CACHE_DIR"
        return root, root, setting
    top = default_cache_dir().absolute()
    return top, top / "numba", ENV_VAR


def _prune_fingerprint_folders(root: Path, keep: str) -> None:
    try:
        entries = list(root.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if name == keep or len(name) != 16 or not all(c in "0123456789abcdef" for c in name):
            continue
        try:
            if time.time() - entry.stat().st_mtime > _KEEP_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


_default: KernelCache | None = None


def default_cache() -> KernelCache:
    global _default
    if _default is None or _default.root != (default_cache_dir()):
        _default = KernelCache()
    return _default
