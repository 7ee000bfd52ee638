"""The caches' trust model, for the kernel sources and numba's files alike.

Caches are the user's own: a cache directory (from its root down) that another user owns or
that group or others can write is refused, with one error line and the fix, before anything in
it is read (numba unpickles its files as they are).  Directories we create are made 0700.  Any
unreadable or corrupt file in a trusted cache is a miss, rebuilt and replaced; a read-only or
full cache compiles in memory after one warning line.
"""
from __future__ import annotations

import atexit
import functools
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path


class CacheError(Exception):
    """A cache directory that must not be used; the message names it and the fix."""


# ---- private directories ----------------------------------------------------------------------

def _chain(top: Path, path: Path) -> list[Path]:
    """``top`` and every directory below it down to ``path`` (which lies under ``top``)."""
    dirs = [top]
    for part in path.relative_to(top).parts:
        dirs.append(dirs[-1] / part)
    return dirs


def _verify(directory: Path, st: os.stat_result, setting: str) -> None:
    if not stat.S_ISDIR(st.st_mode):
        raise CacheError(f"cache directory {directory} is not a directory: remove it or set "
                         f"{setting} to a directory")
    if os.name == "nt":      # no POSIX owners and modes: the user profile's ACLs apply
        return
    if st.st_uid != os.geteuid():
        raise CacheError(f"cache directory {directory} belongs to uid {st.st_uid}, not to you "
                         f"(uid {os.geteuid()}): set {setting} to a directory of your own")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheError(f"cache directory {directory} is writable by other users (mode "
                         f"{stat.S_IMODE(st.st_mode):o}): run chmod 700 {directory} or set "
                         f"{setting} to a directory of your own")


def check_private(path: Path, top: Path, setting: str) -> None:
    """Refuse (CacheError) a directory from ``top`` down to ``path`` that is not the user's own.

    Only these are checked: someone who can write an ancestor of ``top`` can replace the
    tree, but only with directories of their own (refused here) or with the user's own
    (which they cannot write).  Directories that do not exist hold nothing to read."""
    for directory in _chain(top, path):
        try:
            st = os.stat(directory)
        except FileNotFoundError:
            return
        _verify(directory, st, setting)


def private_dir(path: Path, top: Path, setting: str) -> Path:
    """Make ``path`` (and what is missing of ``top`` and its parents) with mode 0700, checking
    each existing directory from ``top`` down before anything is created inside it.

    Raises CacheError for a directory that is not the user's own, OSError when a directory
    cannot be created (a read-only or full file system)."""
    _make_parents_private(top, setting)
    for directory in _chain(top, path):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        _verify(directory, os.stat(directory), setting)
    return path


def _make_parents_private(top: Path, setting: str) -> None:
    missing = []
    parent = top.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise CacheError(f"cache directory {top} is below {parent}, which is not a directory: "
                         f"set {setting} to a directory")
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass


_warned = False


def warn_once(message: str) -> None:
    """One ``warning:`` line on stderr per process, however many caches degrade."""
    global _warned
    if not _warned:
        _warned = True
        print(f"warning: {message}", file=sys.stderr, flush=True)


def unwritable_message(directory: Path, exc: OSError, setting: str) -> str:
    reason = exc.strerror or type(exc).__name__
    return (f"cannot write to the cache in {directory} ({reason}); compiling in memory "
            f"(set {setting} to a writable directory to keep compiled code)")


# ---- numba's files -------------------------------------------------------------------------------
# numba reads a function's index file (pickle) at the first call of each signature, from the
# folder its cache locator names.  Three hooks enforce the trust model there:
# - a locator (numba's extension point: CacheImpl._locator_classes) for our own sources: the
#   same folders as numba's NUMBA_CACHE_DIR locator, but created 0700 and never a fallback to
#   __pycache__ or ~/.cache/numba (folders nobody checked) when the cache is not writable;
# - around Cache.load_overload (the dispatcher's one entry for reading a cache): the folder
#   is checked first, and anything that goes wrong reading it is a miss whose files are
#   removed, so numba's save rewrites them (numba would otherwise fail its save too, on the
#   same corrupt index, in every run);
# - around Cache.save_overload: an OSError (read-only, full) is one warning, not an error.
# Wrapping these two public-interface methods keeps numba's own reading, writing and file
# naming: validating the files ourselves would mean unpickling them (exactly the danger), and
# a replacement cache class would have to be installed into numba's dispatcher module.  The
# guards go by folder, so they also cover a locator set by NUMBA_CACHE_LOCATOR_CLASSES that
# picks a folder in our tree.
# If a numba release renames what is hooked here, importing azcompile fails rather than run
# without the trust model; tests/test_cache_dir.py pins the behaviour.

class _Tree:
    """A numba cache root under the trust model: checked from ``top`` down."""

    def __init__(self, root: Path, top: Path, setting: str):
        self.root, self.top, self.setting = root, top, setting
        self.scanned = False       # the whole tree checked once, at the first load

    def scan(self) -> None:
        """Every folder of the tree, once."""
        if not self.scanned:
            for folder in [self.root, *_subfolders(self.root)]:
                check_private(folder, self.top, self.setting)
            self.scanned = True

    def check(self, cache_path: Path) -> None:
        """Refuse an untrusted folder, at every load (a few stat calls)."""
        check_private(cache_path, self.top, self.setting)


class _Policy:
    """The numba cache roots under the trust model and the sources our locator serves."""

    def __init__(self):
        self.trees: dict[Path, _Tree] = {}
        self.sources: set[Path] = set()
        self.scratch: set[Path] = set()          # temporary kernel folders (see scratch_dir)
        self.unwritable: set[Path] = set()       # cache folders a save failed in

    def scan_all(self) -> None:
        """Every folder of every tree, before the process's first load from any of them: a
        planted index in one tree must not be read before an untrusted folder in another is
        refused, and the refusal comes at the first load (a call from Python), not from a
        nested compile inside numba's type inference."""
        for tree in list(self.trees.values()):
            tree.scan()

    def tree_of(self, cache_path: Path) -> _Tree | None:
        for root in (cache_path, *cache_path.parents):
            if root in self.trees:
                return self.trees[root]
        return None


_policy = _Policy()


def _subfolders(root: Path) -> list[Path]:
    try:
        return [root / e.name for e in os.scandir(root) if e.is_dir()]
    except OSError:
        return []


def trust_numba_folder(root: Path, top: Path, setting: str, sources) -> None:
    """numba's cache for the functions in ``sources`` lives under ``root`` (``top`` or below
    it; ``setting`` names what moves it); from here on it is read and written under the trust
    model."""
    _install_numba_hooks()
    _policy.trees[Path(root)] = _Tree(Path(root), Path(top), setting)
    _policy.sources.update(Path(s).resolve() for s in sources)


def serve_sources(folder: Path) -> None:
    """Our locator also serves the modules in ``folder`` (generated kernels)."""
    _policy.sources.add(Path(folder).resolve())


_scratch: Path | None = None


def scratch_dir() -> Path:
    """A private temporary folder (removed at exit) for kernels the cache cannot hold; numba's
    files for them go to its ``__pycache__``."""
    global _scratch
    if _scratch is None:
        folder = Path(tempfile.mkdtemp(prefix="azc-kernels-")).resolve()   # mode 0700
        atexit.register(shutil.rmtree, folder, True)
        _policy.trees[folder] = _Tree(folder, folder, "AZC_CACHE_DIR")
        _policy.scratch.add(folder)
        serve_sources(folder)
        _scratch = folder
    return _scratch


def _install_numba_hooks() -> None:
    # numba is imported here, not at the top: jit_cache sets NUMBA_CACHE_DIR before this runs.
    from numba.core import caching, config
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl       # numba < 0.61
    if not any(getattr(c, "_azc", False) for c in impl._locator_classes):
        impl._locator_classes.insert(0, _locator_class(caching, config))
    cache = caching.Cache
    if not getattr(cache.load_overload, "_azc", False):
        cache.load_overload = _guarded_load(cache.load_overload)
        cache.save_overload = _guarded_save(cache.save_overload)


def _locator_class(caching, config):
    base = getattr(caching, "UserProvidedCacheLocator", None) or \
        caching._UserProvidedCacheLocator                                  # numba < 0.61

    class PrivateLocator(base):
        """numba's NUMBA_CACHE_DIR locator for our sources, with private folders."""
        _azc = True

        def __init__(self, py_func, py_file):
            super().__init__(py_func, py_file)
            folder = Path(py_file).resolve().parent
            if folder in _policy.scratch:
                self._cache_path = str(folder / "__pycache__")

        @classmethod
        def from_function(cls, py_func, py_file):
            folder = Path(py_file).resolve().parent
            if not (config.CACHE_DIR and os.path.exists(py_file) and folder in _policy.sources):
                return None
            # No file system access here (this runs at import): the folder is checked before
            # the first read and created at the first write.
            return cls(py_func, py_file)

        def ensure_cache_path(self):
            path = Path(self.get_cache_path())
            tree = _policy.tree_of(path)
            if tree is None:
                return super().ensure_cache_path()
            private_dir(path, tree.top, tree.setting)
            tempfile.TemporaryFile(dir=path).close()

    return PrivateLocator


def _guarded_load(load):
    @functools.wraps(load)
    def load_overload(self, sig, target_context):
        tree = _policy.tree_of(Path(self.cache_path))
        if tree is None:
            return load(self, sig, target_context)
        try:
            _policy.scan_all()
            tree.check(Path(self.cache_path))
        except OSError:
            return None          # cannot even look at the folder: a miss, nothing read
        try:
            return load(self, sig, target_context)
        except Exception:
            _discard_entry(self)
            return None
    load_overload._azc = True
    return load_overload


def _guarded_save(save):
    @functools.wraps(save)
    def save_overload(self, sig, data):
        path = Path(self.cache_path)
        tree = _policy.tree_of(path)
        if tree is None:
            return save(self, sig, data)
        if path in _policy.unwritable:
            return None
        try:
            return save(self, sig, data)
        except OSError as exc:
            _policy.unwritable.add(path)
            warn_once(unwritable_message(path, exc, tree.setting))
            return None
    save_overload._azc = True
    return save_overload


def _discard_entry(cache) -> None:
    """Remove a function's index and data files after they failed to load."""
    try:
        base = cache._impl.filename_base
        names = os.listdir(cache.cache_path)
    except (AttributeError, OSError):
        return
    for name in names:
        if name == base + ".nbi" or (name.startswith(base + ".") and name.endswith(".nbc")):
            try:
                os.unlink(os.path.join(cache.cache_path, name))
            except OSError:
                pass
