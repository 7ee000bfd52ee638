"""Islands in worker processes: ``--workers N`` on one machine.

Each worker process owns one ``Island`` and runs its batches; the coordinator
(``run.archipelago``) starts the same step on every island, then collects the replies, so the islands
evolve in parallel and meet at the same barriers.  Migration happens at those barriers with
the coordinator's random stream, so a fixed seed and worker count reproduce the same run.

Worker processes are started with ``spawn`` (safe with numba and on every platform) and
share the numba cache directory, so only the first run of a configuration compiles.

Workers ignore SIGINT: Ctrl-C at a terminal reaches the whole process group, and it is the
coordinator that answers it (checkpoint, then stop).  A worker whose coordinator is gone
(killed, or its pipe closed) exits quietly.
"""
from __future__ import annotations

import multiprocessing as mp
import signal
import traceback

import numpy as np

from azcompile.program import Program

from .config import ConfigError


def _worker(conn, config_text, config_path, specs, seed):
    """The worker process: build the island, then serve commands until told to close."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _serve(conn, config_text, config_path, specs, seed)
    except (EOFError, OSError):
        pass            # the coordinator went away: nobody is left to answer


def _serve(conn, config_text, config_path, specs, seed):
    try:
        from . import config as config_mod
        from .island_kit import IslandKit

        cfg = config_mod.parse(config_text, config_path)
        kit = IslandKit.of(cfg)         # the coordinator's kit: it parsed the same text
        island = kit.island(specs, seed)
        conn.send(("ok", _sync(island)))
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
        try:
            if method == "reset":           # a new experiment: new tasks, new population
                island = kit.island(*args)
                conn.send(("ok", _sync(island)))
            elif method in ("initialize", "evolve"):
                getattr(island, method)(*args)
                conn.send(("ok", _sync(island)))
            elif method == "state":
                conn.send(("ok", island.state(args[0])))
            elif method == "restore":
                island.restore(args[0], args[1])
                conn.send(("ok", _sync(island)))
            elif method == "program":
                code, data, size = (island.pop.code[args[0]], island.pop.data[args[0]],
                                    island.pop.size[args[0]])
                conn.send(("ok", (code, data, size)))
            elif method == "emigrants":
                conn.send(("ok", island.emigrants(args[0])))
            elif method == "immigrate":
                island.immigrate(args[0])
                conn.send(("ok", _sync(island)))
            else:
                conn.send(("error", f"unknown command {method!r}"))
        except ConfigError as exc:
            conn.send(("config_error", str(exc)))
        except BaseException:
            conn.send(("error", traceback.format_exc()))


def _sync(island) -> dict:
    """What the coordinator mirrors after each command."""
    log = island.log
    n, k = int(log.counts[0]), int(log.counts[1])
    return {"cursor": island.cursor, "initialized": island.initialized,
            "stats": island.stats.copy(), "profile": island.profile.copy(), "fitness": island.pop.fitness.copy(),
            "ids": island.pop.ids.copy(),
            "log": (log.ids[:n].copy(), log.parents[:n].copy(), log.mutations[:n].copy(),
                    log.fitness[:n].copy(), log.parent_fitness[:n].copy(),
                    log.snap_code[:k].copy(), log.snap_data[:k].copy(), log.snap_size[:k].copy(),
                    log.snap_ids[:k].copy(), np.array([n, k], dtype=np.int64))}


class WorkerError(RuntimeError):
    """A worker process died or failed; the message is one line (the CLI adds what to do)."""


class _MirrorLog:
    def __init__(self, arrays):
        (self.ids, self.parents, self.mutations, self.fitness, self.parent_fitness,
         self.snap_code, self.snap_data, self.snap_size, self.snap_ids, self.counts) = arrays


class RemoteIsland:
    """An Island in its own process (``engine.island_protocol.IslandProtocol``): the attributes
    mirror the remote island's after every command, programs are fetched on demand."""

    _context = mp.get_context("spawn")

    def __init__(self, cfg, specs, seed: int):
        self.conn, child = self._context.Pipe()
        self.process = self._context.Process(
            target=_worker, args=(child, cfg.run_dir_text, cfg.source_path, list(specs), int(seed)),
            daemon=True)
        self.process.start()
        child.close()
        self.memory = cfg.memory
        self.size = cfg.evolution["population_size"]
        self._waiting = False
        self._apply(self._receive())

    # --- the command protocol -----------------------------------------------------------------
    def _receive(self):
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError):
            raise WorkerError("a worker process died") from None
        if status == "config_error":
            raise ConfigError(payload)
        if status != "ok":
            last = payload.strip().splitlines()[-1] if payload.strip() else "no details"
            raise WorkerError(f"a worker process failed ({last})")
        return payload

    def _call(self, method, *args):
        self.conn.send((method, args))
        return self._receive()

    def _start(self, method, *args) -> None:
        self.conn.send((method, args))
        self._waiting = True

    def _apply(self, sync: dict) -> None:
        self.cursor = sync["cursor"]
        self.initialized = sync["initialized"]
        self.stats = sync["stats"]
        self.profile = sync["profile"]
        self.fitness = sync["fitness"]
        self.ids = sync["ids"]
        self.log = _MirrorLog(sync["log"])

    # --- engine.island_protocol.IslandProtocol --------------------------------------------------------
    def start_initialize(self, count: int) -> None:
        self._start("initialize", count)

    def start_evolve(self, count: int) -> None:
        self._start("evolve", count)

    def finish(self) -> None:
        if self._waiting:
            self._waiting = False
            self._apply(self._receive())

    def best_slot(self) -> int:
        return int(np.argmax(self.fitness))     # the first best, as Population.best_slot

    def program(self, slot: int) -> Program:
        code, data, size = self._call("program", int(slot))
        return Program.from_arrays(code, data, size, self.memory)

    def state(self, prefix: str) -> dict:
        return self._call("state", prefix)

    def restore(self, arrays: dict, prefix: str) -> None:
        mine = {k: v for k, v in arrays.items() if k.startswith(prefix)}
        self._apply(self._call("restore", mine, prefix))

    def emigrants(self, slots):
        return self._call("emigrants", np.asarray(slots))

    def immigrate(self, members) -> None:
        self._apply(self._call("immigrate", members))

    def reset(self, specs, seed: int) -> None:
        """A new experiment in the same process: new tasks, a new population."""
        self._apply(self._call("reset", list(specs), int(seed)))

    def close(self) -> None:
        try:
            self.conn.send(("close", ()))
        except (BrokenPipeError, OSError):
            pass
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()


class ProcessIslands:
    """``engine.island_protocol.IslandMaker`` for islands in worker processes.  The processes are
    kept from one experiment to the next (a reset instead of a re-spawn and a reload)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self._islands: list[RemoteIsland] = []

    def islands(self, specs, seeds) -> list[RemoteIsland]:
        if len(self._islands) == len(seeds):
            for island, seed in zip(self._islands, seeds):
                island.reset(specs, seed)
        else:
            self.close()
            for seed in seeds:          # kept as they come up, so close() reaches each
                self._islands.append(RemoteIsland(self.cfg, specs, seed))
        return list(self._islands)

    def close(self) -> None:
        for island in self._islands:
            island.close()
        self._islands = []
