"""``azc bench``'s coordinator figures: what one coordinator spends per island reply, per
migration and per progress report, with many lightweight islands (a simulation).

Each simulated island answers at once with a reply of a real island's size (population,
the batch's log, the best member), pickled and unpickled as a pipe or Ray would carry it,
so the figures are the coordinator's own work: the async archipelago's queueing and
migration, the mirror, the lineage, the best-member check and the progress event.  The
islands' evolution costs nothing here, so the coordinator is the only thing measured.
"""
from __future__ import annotations

import json
import pickle
import time
from collections import deque
from types import SimpleNamespace

import numpy as np

from ..engine import evaluator
from ..run.async_islands import AsyncArchipelago
from ..run.lineage import Lineage
from ..run.reporting import Progress
from ..run.workers import MirroredIsland

_ROWS = 16          # instruction rows per component of the simulated programs


class LoopbackIsland(MirroredIsland):
    """An island answering every command at once with a reply of a real one's shape."""

    def __init__(self, index: int, size: int, timeout: float = 60.0):
        self.memory, self.size, self.timeout, self.warm = None, size, timeout, True
        self.pending, self.last_reply = deque(), {}
        self.rng = np.random.default_rng(index)
        self.individuals, self.next_id, self.cursor_now = 0, 0, 0
        self.population = self.rng.random(size)
        self.ids_now = np.arange(size, dtype=np.int64)
        self._apply(self._reply("sync", ()))

    worker_seconds = 0.0    # the simulated workers' share of the time, left out of the figures

    def _send(self, method, args):
        sent = pickle.dumps((method, args))     # the coordinator's side of sending
        start = time.perf_counter()
        method, args = pickle.loads(sent)
        reply = pickle.dumps(self._reply(method, args))
        LoopbackIsland.worker_seconds += time.perf_counter() - start
        return reply

    def _take_reply(self, ticket, timeout):
        return pickle.loads(ticket)

    def reply_handle(self):
        return self

    def _reply(self, method, args):
        count = 0
        if method == "evolve":
            count = args[0]
            self.individuals += count
            slots = (self.cursor_now + np.arange(count)) % self.size
            self.population[slots] = self.rng.random(count)
            self.ids_now[slots] = self.next_id + np.arange(count)
            self.next_id += count
            self.cursor_now = (self.cursor_now + count) % self.size
        if method == "state":
            return {f"{args[0]}pop_fitness": self.population.copy()}
        sync = self._sync(count)
        if method == "migrate":
            slots = args[0]
            sync["emigrants"] = (np.zeros((len(slots), 3, _ROWS, 4), np.int32),
                                 np.zeros((len(slots), 3, _ROWS, 4)),
                                 np.zeros((len(slots), 3), np.int32), self.population[slots])
        return sync

    def _sync(self, count: int) -> dict:
        stats = np.zeros(evaluator.S_SIZE, dtype=np.int64)
        stats[evaluator.S_INDIVIDUALS] = self.individuals
        snaps = min(count, 8)
        best = int(np.argmax(self.population))
        ids = self.ids_now[-count:] if count else np.zeros(0, np.int64)
        return {"cursor": self.cursor_now, "initialized": self.size, "stats": stats,
                "profile": np.zeros(8, dtype=np.int64), "fitness": self.population.copy(),
                "ids": self.ids_now.copy(),
                "best": (best, np.zeros((3, _ROWS, 4), np.int32), np.zeros((3, _ROWS, 4)),
                         np.zeros(3, np.int32)),
                "log": (ids, ids - 1, np.zeros(count, np.int32), self.rng.random(count),
                        self.rng.random(count), np.zeros((snaps, 3, _ROWS, 4), np.int32),
                        np.zeros((snaps, 3, _ROWS, 4)), np.ones((snaps, 3), np.int32),
                        ids[:snaps], np.array([count, snaps], dtype=np.int64))}


class _LoopbackMaker:
    replaced: list = []         # no island is ever lost here

    @staticmethod
    def wait_any(islands, timeout):
        return [i for i, isl in enumerate(islands) if isl.pending]


class _EventSink:
    """Where progress events go: JSON lines to /dev/null (the encoding is the cost)."""

    def __init__(self):
        self.stream = open("/dev/null", "w")

    def event(self, kind, **fields):
        self.stream.write(json.dumps({"event": kind, **fields}, default=str) + "\n")


def _drive(islands: int, population: int, batch: int, replies: int, *, migrate_every: int,
           report_every_sweep: bool, migrants: int | None = None) -> dict:
    """The coordinator's loop as ``Search`` runs it in async mode, for ``replies`` replies."""
    LoopbackIsland.worker_seconds = 0.0
    arch = AsyncArchipelago([LoopbackIsland(i, population) for i in range(islands)],
                            migrate_every, migrants, maker=_LoopbackMaker(), specs=[],
                            seeds=range(islands),
                            batch_size=batch, snapshot_seconds=1e9, seed=1)
    lineages = [Lineage() for _ in range(islands)]
    state = SimpleNamespace(experiment=0, total_individuals=0, best=None, migrations=0,
                            last_progress=-1, best_search=-1.0)
    progress = Progress(state, _EventSink(), 1, lambda: 1.0, None)
    progress.per_island_events = True
    taken = migrations = reports = 0
    LoopbackIsland.worker_seconds = 0.0
    start = time.perf_counter()
    while taken < replies:
        for item in arch.advance():
            if item.kind == "batch":
                taken += 1
                state.total_individuals += item.count
                lineages[item.island].add_batch(item.log, item.ids)
                arch.best_member()
                if item.swept and report_every_sweep:
                    progress.after_sweep(arch)
                    reports += 1
            elif item.kind == "migration":
                migrations += 1
    seconds = time.perf_counter() - start - LoopbackIsland.worker_seconds
    return {"seconds": seconds, "replies": taken, "migrations": migrations,
            "reports": reports}


def coordinator_cost(islands: int = 64, population: int = 1000, batch: int = 1000,
                     replies: int = 2000, migrants: int | None = None) -> dict:
    """Microseconds of coordinator time per island reply, per migration and per progress
    report (the last two as the difference of runs with and without them), and how many
    replies, migrations and reports per second one coordinator could take."""
    base = _drive(islands, population, batch, replies, migrate_every=10 ** 12,
                  report_every_sweep=False)
    migrating = _drive(islands, population, batch, replies, migrate_every=batch,
                       report_every_sweep=False, migrants=migrants)
    reporting = _drive(islands, population, batch, replies, migrate_every=10 ** 12,
                       report_every_sweep=True)
    per_reply = base["seconds"] / base["replies"]
    per_migration = max(migrating["seconds"] - base["seconds"], 0.0) / max(migrating["migrations"], 1)
    per_report = max(reporting["seconds"] - base["seconds"], 0.0) / max(reporting["reports"], 1)
    return {"islands": islands, "population": population, "batch": batch,
            "migrants": population // 2 if migrants is None else migrants,
            "us_per_reply": round(per_reply * 1e6, 1),
            "us_per_migration": round(per_migration * 1e6, 1),
            "us_per_progress_report": round(per_report * 1e6, 1),
            "replies_per_s": round(1 / per_reply),
            "migrations_per_s": round(1 / per_migration) if per_migration else None,
            "reports_per_s": round(1 / per_report) if per_report else None}
