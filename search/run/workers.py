"""Islands in worker processes: ``--workers N`` on one machine.

Each worker process owns one ``Island`` and runs its batches; the coordinator (the
``Search``) sends every island the same command, then collects the replies, so the islands
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


def _worker(conn, config_text, config_path, specs, seed, batch_size):
    """The worker process: build the island, then serve commands until told to close."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _serve(conn, config_text, config_path, specs, seed, batch_size)
    except (EOFError, OSError):
        pass            # the coordinator went away: nobody is left to answer


def _serve(conn, config_text, config_path, specs, seed, batch_size):
    try:
        from . import config as config_mod
        from .config import build_task_list
        from .experiment import Search, eval_settings, mutator_spec  # noqa: F401
        from .initial import build
        from ..engine.island import Island

        cfg = config_mod.parse(config_text, config_path)
        init_sizes, _, _ = cfg.size_bounds()
        mutator, settings = mutator_spec(cfg), eval_settings(cfg)
        init = build(cfg.evolution["initial_population"], cfg.memory, init_sizes)

        def new_island(specs, seed):
            tasks = build_task_list(specs, "search_tasks")
            return Island(cfg, mutator, init, tasks, settings, seed, batch_size)

        island = new_island(specs, seed)
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
                island = new_island(*args)
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


class _MirrorPopulation:
    """The coordinator's view of a remote population: fitness and ids, programs on demand."""

    def __init__(self, owner):
        self.owner = owner
        self.fitness = np.zeros(0)
        self.ids = np.zeros(0, dtype=np.int64)

    def best_slot(self) -> int:
        return int(np.argmax(self.fitness))

    def program(self, slot: int, memory, meta=None) -> Program:
        code, data, size = self.owner.call("program", int(slot))
        return Program.from_arrays(code, data, size, memory, meta)


class _MirrorLog:
    def __init__(self, arrays):
        (self.ids, self.parents, self.mutations, self.fitness, self.parent_fitness,
         self.snap_code, self.snap_data, self.snap_size, self.snap_ids, self.counts) = arrays


class RemoteIsland:
    """An Island in its own process, with the same interface the Search uses."""

    _context = mp.get_context("spawn")

    def __init__(self, cfg, specs, seed: int, batch_size: int):
        self.conn, child = self._context.Pipe()
        self.process = self._context.Process(
            target=_worker, args=(child, cfg.run_dir_text, cfg.source_path, list(specs), int(seed),
                                  batch_size), daemon=True)
        self.process.start()
        child.close()
        self.pop = _MirrorPopulation(self)
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

    def call(self, method, *args):
        self.conn.send((method, args))
        return self._receive()

    def start(self, method, *args) -> None:
        self.conn.send((method, args))
        self._waiting = True

    def finish(self) -> None:
        if self._waiting:
            self._waiting = False
            self._apply(self._receive())

    def _apply(self, sync: dict) -> None:
        self.cursor = sync["cursor"]
        self.initialized = sync["initialized"]
        self.stats = sync["stats"]
        self.profile = sync["profile"]
        self.pop.fitness = sync["fitness"]
        self.pop.ids = sync["ids"]
        self.log = _MirrorLog(sync["log"])

    # --- the Island interface ----------------------------------------------------------------
    def initialize(self, count: int) -> None:
        self._apply(self.call("initialize", count))

    def evolve(self, count: int) -> None:
        self._apply(self.call("evolve", count))

    def state(self, prefix: str) -> dict:
        return self.call("state", prefix)

    def restore(self, arrays: dict, prefix: str) -> None:
        mine = {k: v for k, v in arrays.items() if k.startswith(prefix)}
        self._apply(self.call("restore", mine, prefix))

    def emigrants(self, slots):
        return self.call("emigrants", np.asarray(slots))

    def immigrate(self, members) -> None:
        self._apply(self.call("immigrate", members))

    def reset(self, specs, seed: int) -> None:
        self._apply(self.call("reset", list(specs), int(seed)))

    def close(self) -> None:
        try:
            self.conn.send(("close", ()))
        except (BrokenPipeError, OSError):
            pass
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
