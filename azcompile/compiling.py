"""Whether numba is compiling in this process right now (numba's ``numba:compile`` events).

A Ctrl-C normally asks a search to stop at its next batch boundary; during a cold start the
first batch waits a minute for numba, so the command asks this to stop at once instead.
"""
from __future__ import annotations

import threading

from numba.core import event

_depth = 0
_lock = threading.Lock()


class _Watch(event.Listener):
    def on_start(self, ev):
        global _depth
        with _lock:
            _depth += 1

    def on_end(self, ev):
        global _depth
        with _lock:
            _depth -= 1


event.register("numba:compile", _Watch())


def active() -> bool:
    """True while a numba compile is running (in any thread of this process)."""
    return _depth > 0
