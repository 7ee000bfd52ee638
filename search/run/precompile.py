"""A cold start's compile on two cores: half of the generation loop in a helper process.

On a fresh install numba compiles the generation loop (``evolution.evolve``) one function
after another on one core, for most of a minute.  Its two halves share no code: breeding
(tournament, mutation, the log) and evaluation (``evaluator.evaluate_program``).  When the
loop is not in numba's disk cache, this process compiles the evaluation half first while a
helper process compiles the whole loop, breeding half first, into the same cache; when this
process then compiles the loop, it finds the breeding half there.  The kernels' argument
types do not depend on the config (arrays, numbers and the interpreter's pointer), so the
helper builds its island from the bundled demo.  One helper per cache at a time (a lock file);
it is killed once this process no longer needs it.

The helper is ``python -m azcompile.search.run.precompile_helper``.
"""
from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
from pathlib import Path

from numba import typeof

from ..engine.evaluator import evaluate_program
from ..engine.evolution import evolve

_HELPER_ENV = "AZC_PRECOMPILE_HELPER"
_LOCK_NAME = "precompile.lock"
_STALE_SECONDS = 900
_state = {"prepared": False, "helper": None}


COMPILING_NOTE = ("compiling the search kernels for this machine (once: later runs load "
                  "them from the cache)")


def prepare(island, note=None) -> None:
    """Before the first generation of ``island`` in this process (once per process);
    ``note(line)`` hears of a compile about to take a while."""
    if _state["prepared"] or os.environ.get(_HELPER_ENV):
        return
    _state["prepared"] = True
    args = island.evolve_arguments(0)
    signature = tuple(typeof(a) for a in args)
    if signature in evolve.overloads or _cached(evolve, signature):
        return
    if note is not None:
        note(COMPILING_NOTE)
    _state["helper"] = _start_helper()
    atexit.register(release)
    child, evaluation = island.breeding.child, island.evaluation
    evaluate_program.compile(tuple(typeof(a) for a in (child.code, child.data, child.size,
                                                       evaluation)))


def release() -> None:
    """The generation loop is compiled here: stop the helper if it is still at work."""
    helper = _state["helper"]
    if helper is not None and helper.poll() is None:
        helper.kill()
        helper.wait()
    _state["helper"] = None


def _cached(dispatcher, signature) -> bool:
    """Whether numba's disk cache holds ``dispatcher`` for ``signature``.  A hit is added to
    the dispatcher as numba's own ``compile`` adds one (``Dispatcher.compile``), so the first
    call does not read the cache a second time (~0.1 s for the generation loop)."""
    try:
        found = dispatcher._cache.load_overload(signature, dispatcher.targetctx)
    except Exception:           # numba's internals moved: compile as usual
        return True
    if found is None:
        return False
    try:
        dispatcher.targetctx.insert_user_function(found.entry_point, found.fndesc,
                                                  [found.library])
        dispatcher.add_overload(found)
    except Exception:           # then the first call loads it again, as before
        pass
    return True


def lock_path() -> Path | None:
    """The lock file of the helper compiling into numba's cache folder."""
    folder = os.environ.get("NUMBA_CACHE_DIR")
    return Path(folder) / _LOCK_NAME if folder else None


def _start_helper():
    lock = lock_path()
    if lock is None:
        return None
    try:
        if time.time() - lock.stat().st_mtime < _STALE_SECONDS:
            return None         # another process's helper is compiling into this cache
        lock.unlink()
    except OSError:
        pass
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError:
        return None
    env = dict(os.environ, **{_HELPER_ENV: "1"})
    try:
        return subprocess.Popen([sys.executable, "-m", "azcompile.search.run.precompile_helper"],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:
        lock.unlink(missing_ok=True)
        return None
