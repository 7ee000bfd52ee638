"""Islands in worker processes: ``--workers N`` on one machine.

Each worker process owns one ``Island`` and runs its batches.  In the ``deterministic``
migration mode the coordinator (``run.archipelago``) starts the same step on every island,
then collects the replies, so the islands evolve in parallel and meet at the same barriers,
and migration there uses the coordinator's random stream: a fixed seed and worker count
reproduce the same run.  In the ``async`` mode (``run.async_islands``) each island has up to
two commands queued and the coordinator answers whichever island replies first.

What a worker does with a command is ``IslandServer``'s (the Ray backend's actors use it
too); what the coordinator keeps of a remote island is ``MirroredIsland``'s: both backends
differ only in how a command travels.

Worker processes are started with ``spawn`` (safe with numba and on every platform) and
share the numba cache directory, so only the first run of a configuration compiles.

Workers ignore SIGINT: Ctrl-C at a terminal reaches the whole process group, and it is the
coordinator that answers it (checkpoint, then stop).  A worker whose coordinator is gone
(killed, or its pipe closed) exits quietly.  A worker that dies, or does not answer within
``run.worker_timeout`` seconds, raises ``IslandLost`` at the coordinator.
"""
from __future__ import annotations

import multiprocessing as mp
import queue
import signal
import threading
import traceback
from collections import deque

import numpy as np

from azcompile.program import Program

from .config import ConfigError

# A worker's start (imports, its island) and its first batch (numba compiles or loads the
# kernels) may take this long whatever run.worker_timeout says.
STARTUP_SECONDS = 600.0
# Commands whose reply is the island's sync record (see ``IslandServer.sync``).
_SYNCING = ("reset", "initialize", "evolve", "restore", "immigrate", "migrate")


class IslandServer:
    """One island and the commands a coordinator sends it (run in the island's process)."""

    def __init__(self, config_text: str, config_path, specs, seed: int):
        from . import config as config_mod
        from .island_kit import IslandKit

        cfg = config_mod.parse(config_text, config_path)
        self.kit = IslandKit.of(cfg)        # the coordinator's kit: it parsed the same text
        self.island = self.kit.island(specs, seed)

    def handle(self, method: str, args: tuple):
        island = self.island
        if method == "reset":               # a new experiment: new tasks, new population
            self.island = self.kit.island(*args)
        elif method == "sync":
            pass
        elif method in ("initialize", "evolve"):
            from .precompile import prepare, release
            prepare(island)             # a cold start compiles on two cores
            getattr(island, method)(*args)
            release()                   # the generation loop is compiled by now
        elif method == "state":
            return island.state(args[0])
        elif method == "restore":
            island.restore(args[0], args[1])
        elif method == "program":
            pop = island.pop
            return pop.code[args[0]], pop.data[args[0]], pop.size[args[0]]
        elif method == "emigrants":
            return island.emigrants(args[0])
        elif method == "immigrate":
            island.immigrate(args[0])
        elif method == "migrate":           # async: send some members, then take arrivals
            leaving = island.emigrants(args[0])
            if len(args[1][3]):
                island.immigrate(args[1])
            return {**self.sync(), "emigrants": leaving}
        else:
            raise ValueError(f"unknown command {method!r}")
        return self.sync()

    def sync(self) -> dict:
        """What the coordinator mirrors after each command: counters, fitness, the last
        batch's log, and the best member's program (so a new best needs no round trip)."""
        island = self.island
        log, pop = island.log, island.pop
        n, k = int(log.counts[0]), int(log.counts[1])
        best = island.best_slot()
        return {"cursor": island.cursor, "initialized": island.initialized,
                "stats": island.stats.copy(), "profile": island.profile.copy(),
                "fitness": pop.fitness.copy(), "ids": pop.ids.copy(),
                "best": (best, pop.code[best].copy(), pop.data[best].copy(),
                         pop.size[best].copy()),
                "log": (log.ids[:n].copy(), log.parents[:n].copy(), log.mutations[:n].copy(),
                        log.fitness[:n].copy(), log.parent_fitness[:n].copy(),
                        log.snap_code[:k].copy(), log.snap_data[:k].copy(),
                        log.snap_size[:k].copy(), log.snap_ids[:k].copy(),
                        np.array([n, k], dtype=np.int64))}


def _worker(conn, config_text, config_path, specs, seed):
    """The worker process: build the island, then serve commands until told to close."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _serve(conn, config_text, config_path, specs, seed)
    except (EOFError, OSError):
        pass            # the coordinator went away: nobody is left to answer


def _serve(conn, config_text, config_path, specs, seed):
    try:
        server = IslandServer(config_text, config_path, specs, seed)
        conn.send(("ok", server.sync()))
    except ConfigError as exc:          # e.g. a dataset that cannot be read: the user's to fix
        conn.send(("config_error", str(exc)))
        return
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        return
    while True:
        method, args = conn.recv()
        if method == "close":
            conn.close()
            return
        conn.send(serve_one(server, method, args))


def unpack_reply(status: str, payload):
    """A worker's reply: its payload, or the error it reports (ConfigError: the user's)."""
    if status == "config_error":
        raise ConfigError(payload)
    if status != "ok":
        last = payload.strip().splitlines()[-1] if payload.strip() else "no details"
        raise WorkerError(f"a worker process failed ({last})")
    return payload


def serve_one(server: IslandServer, method: str, args: tuple) -> tuple:
    """(status, payload) of one command, as a worker sends it back."""
    try:
        return "ok", server.handle(method, args)
    except ConfigError as exc:
        return "config_error", str(exc)
    except BaseException:
        return "error", traceback.format_exc()


class WorkerError(RuntimeError):
    """A worker process died or failed; the message is one line (the CLI adds what to do)."""


class IslandLost(WorkerError):
    """The island's worker is gone (died, its node went away, or it stopped answering)."""


class _MirrorLog:
    def __init__(self, arrays):
        (self.ids, self.parents, self.mutations, self.fitness, self.parent_fitness,
         self.snap_code, self.snap_data, self.snap_size, self.snap_ids, self.counts) = arrays


class MirroredIsland:
    """An island elsewhere (``engine.island_protocol.IslandProtocol``): the attributes mirror
    the remote island's after every reply, and the best member's program travels with each.
    Commands are queued in order (``send``, ``finish``); ``_send``, ``_take_reply`` and
    ``reply_handle`` (what the maker's ``wait_any`` waits on) are the transport: a pipe, a
    Ray actor.  ``wait_limit`` bounds every wait for a reply."""

    timeout: float

    def _setup_mirror(self, cfg) -> None:
        self.memory = cfg.memory
        self.size = cfg.evolution["population_size"]
        self.timeout = cfg.run["worker_timeout"]
        self.pending: deque = deque()      # commands sent whose replies are not taken yet
        self.last_reply: dict = {}          # the last sync record (with a migrate's emigrants)
        self.warm = False                   # it has answered an evolve (numba has compiled)

    @property
    def wait_limit(self) -> float:
        """How long a reply may take: the timeout, once the worker has started and compiled
        (until then at least ``STARTUP_SECONDS``: imports and a cold numba cache take long)."""
        return self.timeout if self.warm else max(self.timeout, STARTUP_SECONDS)

    # ---- the transport: what a backend provides ----------------------------------------------
    def _send(self, method: str, args: tuple):
        raise NotImplementedError

    def _take_reply(self, ticket, timeout: float):
        raise NotImplementedError

    # ---- commands ------------------------------------------------------------------------------
    def send(self, method: str, *args) -> None:
        """Queue a command; its reply is taken by ``finish`` (oldest first)."""
        self.pending.append((method, self._send(method, args)))

    def finish(self):
        """Take the oldest pending reply and return it (None if none is pending)."""
        if not self.pending:
            return None
        method, ticket = self.pending.popleft()
        reply = self._take_reply(ticket, self.wait_limit)
        if method in _SYNCING:
            self._apply(reply)
        self.warm = self.warm or method == "evolve"
        return reply

    def finish_all(self) -> None:
        while self.pending:
            self.finish()

    def _call(self, method, *args):
        self.finish_all()       # replies come in order: the queue first
        self.send(method, *args)
        return self.finish()

    def _apply(self, sync: dict) -> None:
        self.last_reply = sync
        self.cursor = sync["cursor"]
        self.initialized = sync["initialized"]
        self.stats = sync["stats"]
        self.profile = sync["profile"]
        self.fitness = sync["fitness"]
        self.ids = sync["ids"]
        self.best = sync["best"]
        self.log = _MirrorLog(sync["log"])

    # ---- engine.island_protocol.IslandProtocol -------------------------------------------------
    def start_initialize(self, count: int) -> None:
        self.send("initialize", count)

    def start_evolve(self, count: int) -> None:
        self.send("evolve", count)

    def best_slot(self) -> int:
        return int(np.argmax(self.fitness))     # the first best, as Population.best_slot

    def program(self, slot: int) -> Program:
        if slot == self.best[0]:                # mirrored: no round trip, no wait on the queue
            code, data, size = self.best[1:]
        else:
            code, data, size = self._call("program", int(slot))
        return Program.from_arrays(code, data, size, self.memory)

    def state(self, prefix: str) -> dict:
        return self._call("state", prefix)

    def restore(self, arrays: dict, prefix: str) -> None:
        mine = {k: v for k, v in arrays.items() if k.startswith(prefix)}
        self._call("restore", mine, prefix)

    def emigrants(self, slots):
        return self._call("emigrants", np.asarray(slots))

    def immigrate(self, members) -> None:
        self._call("immigrate", members)

    def reset(self, specs, seed: int) -> None:
        """A new experiment in the same worker: new tasks, a new population."""
        self._call("reset", list(specs), int(seed))


class RemoteIsland(MirroredIsland):
    """An Island in its own process, reached through a pipe.  A thread sends the commands
    and another takes the replies as they come, so neither side ever blocks on a full pipe:
    the coordinator goes on while a large command (a migration) waits for a busy worker, and
    a worker's reply is read at once however busy the coordinator is.  ``ready`` (shared by
    a maker's islands) is notified at every reply, and when the worker is gone."""

    _context = mp.get_context("spawn")

    def __init__(self, cfg, specs, seed: int, ready: threading.Condition | None = None):
        self.conn, child = self._context.Pipe()
        self.process = self._context.Process(
            target=_worker, args=(child, cfg.run_dir_text, cfg.source_path, list(specs), int(seed)),
            daemon=True)
        self.process.start()
        child.close()
        self._setup_mirror(cfg)
        self.ready = ready or threading.Condition()
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._inbox: deque = deque()
        self._gone = False
        threading.Thread(target=self._sending, daemon=True).start()
        threading.Thread(target=self._receiving, daemon=True).start()
        # The first reply comes after the worker has imported and built its island.
        self._apply(self._take_reply(None, self.wait_limit))

    def _sending(self) -> None:
        while (message := self._outbox.get()) is not None:
            try:
                self.conn.send(message)
            except (BrokenPipeError, OSError):
                return          # the worker is gone: the receiving thread says so

    def _receiving(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                with self.ready:
                    self._gone = True
                    self.ready.notify_all()
                return
            with self.ready:
                self._inbox.append(message)
                self.ready.notify_all()

    def _send(self, method, args):
        if self._gone:
            raise IslandLost("a worker process died")
        self._outbox.put((method, args))

    def has_reply(self) -> bool:
        """Whether the next reply has come (or the worker is gone: taking it says so)."""
        return bool(self._inbox) or self._gone

    def _take_reply(self, ticket, timeout: float):
        with self.ready:
            if not self.ready.wait_for(self.has_reply, timeout):
                raise IslandLost(f"a worker process stopped answering ({timeout:g} s, "
                                 f"run.worker_timeout)")
            if not self._inbox:
                raise IslandLost("a worker process died")
            reply = self._inbox.popleft()
        return unpack_reply(*reply)

    def kill(self) -> None:
        """End the worker at once (it is lost or stopped answering)."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)
        self._outbox.put(None)

    def close(self) -> None:
        self._outbox.put(("close", ()))
        self._outbox.put(None)
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()


class KeptIslands:
    """``engine.island_protocol.IslandMaker`` for remote islands, which are kept from one
    experiment to the next (a reset instead of a new worker and a reload).  With
    ``replace_lost`` (async mode) a worker lost at a reset is replaced by a new one (the new
    experiment's island is fresh either way); ``replaced`` lists (island, reason) of those."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.replace_lost = False
        self.replaced: list[tuple[int, str]] = []
        self._islands: list = []

    def _new(self, specs, seed: int):
        raise NotImplementedError

    def islands(self, specs, seeds) -> list:
        if len(self._islands) == len(seeds):
            for i, (island, seed) in enumerate(zip(self._islands, seeds)):
                try:
                    island.reset(specs, seed)
                except IslandLost as exc:
                    if not self.replace_lost:
                        raise
                    self.replaced.append((i, str(exc)))
                    self.replace(i, specs, seed)
        else:
            self.close()
            for seed in seeds:          # kept as they come up, so close() reaches each
                self._islands.append(self._new(specs, seed))
        return list(self._islands)

    def replace(self, index: int, specs, seed: int):
        """A new worker in place of island ``index``'s lost one."""
        self._islands[index].kill()
        self._islands[index] = self._new(specs, seed)
        return self._islands[index]

    def close(self) -> None:
        for island in self._islands:
            island.close()
        self._islands = []


class ProcessIslands(KeptIslands):
    """Islands in worker processes on this machine."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.ready = threading.Condition()      # notified at every island's replies

    def _new(self, specs, seed: int) -> RemoteIsland:
        return RemoteIsland(self.cfg, specs, seed, self.ready)

    def wait_any(self, islands, timeout: float) -> list[int]:
        """Indices of the islands (each with a reply pending) whose next reply has come or
        whose worker is gone, waiting at most ``timeout`` seconds."""
        def ready():
            return [i for i, isl in enumerate(islands) if isl.pending and isl.has_reply()]

        with self.ready:
            self.ready.wait_for(ready, timeout)
            return ready()
