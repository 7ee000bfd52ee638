"""Islands as Ray actors: ``azc search CONFIG --workers N --backend ray [--address ADDR]``.

Imported only when the Ray backend is asked for, so the rest of azcompile never needs ray.
Each actor holds one island (``workers.IslandServer``, as a worker process does) and is
placed by Ray on any node of the cluster with a free CPU (spread over the nodes); commands and
replies travel as Ray objects (programs and populations as numpy arrays).  The coordinator
mirrors each actor as ``workers.MirroredIsland`` does a process.

numba's cache is node-local (``AZC_CACHE_DIR``, by default in the user's home on each node):
the first actor on a node compiles the search kernels into it while the others on that node
wait on a lock, then load them.  An actor whose node goes away raises ``IslandLost``;
``replace`` starts a new one wherever Ray finds room.
"""
from __future__ import annotations

import fcntl
from contextlib import contextmanager

import ray

from azcompile.jit_cache import default_cache_dir

from .config import ConfigError
from .workers import (IslandLost, IslandServer, KeptIslands, MirroredIsland, serve_one,
                      unpack_reply)


@contextmanager
def _node_lock():
    """One island per node at a time compiles (or loads) numba's kernels: the first fills
    the node's cache, the others then load from it instead of compiling too."""
    folder = default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / "ray-warm-up.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@ray.remote(num_cpus=1, max_restarts=0)
class IslandActor:
    def __init__(self, config_text: str, config_path, specs, seed: int):
        self.args = (config_text, config_path, specs, seed)
        self.server = None
        self.warm = False

    def call(self, method: str, args: tuple) -> tuple:
        if self.server is None:             # built here, so a ConfigError becomes a reply
            try:
                with _node_lock():
                    self.server = IslandServer(*self.args)
            except ConfigError as exc:
                return "config_error", str(exc)
        if not self.warm and method in ("initialize", "evolve"):
            with _node_lock():              # the kernels' first calls compile or load them
                reply = serve_one(self.server, method, args)
            self.warm = method == "evolve"
            return reply
        return serve_one(self.server, method, args)

    def node(self) -> str:
        return ray.get_runtime_context().get_node_id()


class RayIsland(MirroredIsland):
    def __init__(self, cfg, specs, seed: int):
        self._setup_mirror(cfg)
        self.actor = IslandActor.options(scheduling_strategy="SPREAD").remote(
            cfg.run_dir_text, cfg.source_path, list(specs), int(seed))
        self._apply(self._take_reply(self.actor.call.remote("sync", ()), self.wait_limit))

    def _send(self, method, args):
        return self.actor.call.remote(method, args)

    def _take_reply(self, ref, timeout: float):
        try:
            return unpack_reply(*ray.get(ref, timeout=timeout))
        except ray.exceptions.GetTimeoutError:
            raise IslandLost(f"a Ray actor stopped answering ({timeout:g} s, "
                             f"run.worker_timeout)") from None
        except ray.exceptions.RayError as exc:      # the actor, its worker or its node died
            raise IslandLost(f"a Ray actor died ({type(exc).__name__})") from None

    def reply_handle(self):
        return self.pending[0][1]

    def kill(self) -> None:
        try:
            ray.kill(self.actor, no_restart=True)
        except ray.exceptions.RayError:
            pass        # already gone with its node

    def close(self) -> None:
        self.kill()


class RayIslands(KeptIslands):
    """Islands as Ray actors on the cluster at ``address`` ("auto", HOST:PORT; None: a
    local cluster started here)."""

    def __init__(self, cfg, address: str | None):
        super().__init__(cfg)
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)

    def _new(self, specs, seed: int) -> RayIsland:
        return RayIsland(self.cfg, specs, seed)

    @staticmethod
    def wait_any(islands, timeout: float) -> list[int]:
        refs = {isl.reply_handle(): i for i, isl in enumerate(islands) if isl.pending}
        ready, rest = ray.wait(list(refs), num_returns=1, timeout=timeout)
        if ready and rest:          # take every reply that is there already
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        return sorted(refs[r] for r in ready)
