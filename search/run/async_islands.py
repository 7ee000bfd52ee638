"""Islands without a global barrier (``run.migration = "async"``).

Every island keeps up to ``DEPTH`` batches queued, so its worker never waits for the
coordinator; the coordinator takes whichever reply comes first and queues that island's
next batch.  Migration is the paper's scheme, per island and at its own pace: when an
island has evolved another ``migrate_every`` individuals it uploads ``migrants`` random
members and takes as many drawn from the latest uploads of the other islands, in one queued
``migrate`` command (nobody waits for it).

Each island also snapshots its own state every ``snapshot_seconds`` (a queued ``state``
command; the run's checkpoints are snapshots too).  An island whose worker dies, whose node
goes away or which does not answer within the worker timeout is replaced through its maker
(``replace``, on any live node) and restored from its last snapshot; the others go on.

The order in which replies arrive depends on timing, so this mode trades the deterministic
mode's bit-for-bit reproducibility for throughput.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..engine import evaluator
from .archipelago import Archipelago, island_prefix
from .workers import IslandLost


@dataclass(frozen=True)
class News:
    """One thing that happened on one island, for the search to act on and log."""

    kind: str           # "batch", "migration", "lost", "restarted"
    island: int
    count: int = 0      # batch: generations; migration: members sent; restarted: individuals
    swept: bool = False     # batch: it ended a sweep of the population
    detail: str = ""    # lost: why; restarted: from what
    log: object = None  # batch: its log and the population's ids after it (for the lineage)
    ids: object = None


class AsyncArchipelago(Archipelago):
    DEPTH = 2

    def __init__(self, islands, migrate_every: int, migrants: int | None, *, maker, specs,
                 seeds, batch_size: int, snapshot_seconds: float, seed: int):
        super().__init__(islands, migrate_every, migrants)
        self.maker, self.specs, self.batch_size = maker, specs, batch_size
        self.snapshot_seconds = snapshot_seconds
        self.rng = np.random.default_rng(seed)
        n = len(islands)
        self.queued = [deque() for _ in range(n)]   # (command, generations, ends a sweep)
        self.planned = [0] * n                      # the cursor once the queue has run
        self.exchanges = [0] * n                    # migrations each island has made
        self.uploads: list = [None] * n             # each island's latest emigrants
        self.snapshots: list = [None] * n           # (time, arrays) of each island
        self.high_id = [0] * n                      # above every id an island has shown
        self.heard = [0.0] * n                      # when each island last answered
        self.running = False
        self.seeds = list(seeds)                    # the islands' own (a fresh one's too)
        self.unreported: list[News] = [News("lost", i, detail=why) for i, why in maker.replaced]
        self.unreported += [News("restarted", i, detail="a new experiment")
                            for i, _ in maker.replaced]
        maker.replaced.clear()

    @property
    def exchanges_done(self) -> int:
        return sum(self.exchanges)

    # ---- the budget ------------------------------------------------------------------------
    def budget_spent(self, max_train_steps: int) -> bool:
        """Islands share the experiment's budget (``max_train_steps`` each, pooled): no island
        idles while a slower one catches up."""
        total = sum(int(isl.stats[evaluator.S_TRAIN_STEPS]) for isl in self.islands)
        return total >= max_train_steps * len(self.islands)

    # ---- running ---------------------------------------------------------------------------
    def start(self) -> None:
        """Snapshot every island (the restart point until its next one), then fill the
        queues."""
        now = time.monotonic()
        for i, isl in enumerate(self.islands):
            self._keep_snapshot(i, isl.state(island_prefix(i)))
            self.planned[i] = isl.cursor        # the queue is empty: the island's own
            self._see_ids(i, isl)
            self.heard[i] = now
        self.running = True
        for i in range(len(self.islands)):
            self._fill(i)

    def advance(self) -> list[News]:
        """Wait for the next replies (from any island) and queue what follows them."""
        if not self.running:
            self.start()
        news, self.unreported = self.unreported, []
        deadline = min(h + isl.wait_limit for h, isl in zip(self.heard, self.islands))
        ready = self.maker.wait_any(self.islands, max(0.0, min(deadline - time.monotonic(), 1.0)))
        now = time.monotonic()
        if not ready:
            for i, isl in enumerate(self.islands):
                if now - self.heard[i] > isl.wait_limit:
                    self._recover(i, f"no answer within {isl.wait_limit:g} s", news)
            return news
        for i in ready:
            try:
                self._take(i, news)
            except IslandLost as exc:
                self._recover(i, str(exc), news)
                continue
            self._fill(i)
        return news

    def pause(self) -> list[News]:
        """Take every queued reply (the islands stop at a common moment, not a common point:
        their cursors differ).  The next ``advance`` fills the queues again."""
        news, self.unreported = self.unreported, []
        self.running = False
        for i in range(len(self.islands)):
            while self.queued[i]:
                try:
                    self._take(i, news)
                except IslandLost as exc:
                    self._recover(i, str(exc), news)
        return news

    def _take(self, i: int, news: list[News]) -> None:
        isl = self.islands[i]
        reply = isl.finish()
        command, count, swept = self.queued[i].popleft()
        self.heard[i] = time.monotonic()
        if command == "state":
            self._keep_snapshot(i, reply)
            return
        self._see_ids(i, isl)
        if command == "migrate":
            self.uploads[i] = reply["emigrants"]
            news.append(News("migration", i, len(reply["emigrants"][3])))
        else:
            news.append(News("batch", i, count, swept, log=isl.log, ids=isl.ids))

    def _fill(self, i: int) -> None:
        """Queue island ``i``'s next commands: a migration or snapshot if due, and batches."""
        if not self.running:
            return
        isl = self.islands[i]
        if len(self.islands) > 1 and self._due_migration(i):
            isl.send("migrate", self._slots(), self._arrivals(i))
            self.queued[i].append(("migrate", 0, False))
            self.exchanges[i] += 1
        if time.monotonic() - self.snapshots[i][0] >= self.snapshot_seconds:
            isl.send("state", island_prefix(i))
            self.queued[i].append(("state", 0, False))
            self.snapshots[i] = (time.monotonic(), self.snapshots[i][1])   # one at a time
        while sum(1 for c in self.queued[i] if c[0] == "evolve") < self.DEPTH:
            count = min(self.batch_size, self.size - self.planned[i])
            self.planned[i] = (self.planned[i] + count) % self.size
            isl.start_evolve(count)
            self.queued[i].append(("evolve", count, self.planned[i] == 0))

    # ---- migration -------------------------------------------------------------------------
    def _due_migration(self, i: int) -> bool:
        done = int(self.islands[i].stats[evaluator.S_INDIVIDUALS]) // self.migrate_every
        return done > self.exchanges[i]

    def _migrant_count(self) -> int:
        P = self.size
        return min(self.migrants if self.migrants is not None else P // 2, P)

    def _slots(self) -> np.ndarray:
        return np.sort(self.rng.choice(self.size, self._migrant_count(), replace=False))

    def _arrivals(self, i: int) -> tuple:
        """Members drawn from the other islands' latest uploads (none before any upload);
        gathered from the uploads directly, so the cost does not grow with their number."""
        ups = [u for j, u in enumerate(self.uploads) if j != i and u is not None]
        if not ups:
            return tuple(np.zeros((0,) + a.shape[1:], a.dtype) for a in self._empty_like())
        ends = np.cumsum([len(u[3]) for u in ups])
        pick = np.sort(self.rng.choice(ends[-1], min(self._migrant_count(), ends[-1]),
                                       replace=False))
        owner = np.searchsorted(ends, pick, side="right")
        starts = ends - np.array([len(u[3]) for u in ups])
        parts = [(ups[j], pick[owner == j] - starts[j]) for j in np.unique(owner)]
        return tuple(np.concatenate([u[f][rows] for u, rows in parts]) for f in range(4))

    def _empty_like(self):
        best = self.islands[0].best         # (slot, code, data, size) of a member
        return (best[1][None], best[2][None], best[3][None], np.zeros(1))

    # ---- initialisation: in step, but a lost island is replaced by a fresh one -------------
    def initialize(self, count: int) -> None:
        for isl in self.islands:
            isl.start_initialize(count)
        lost = []
        for i, isl in enumerate(self.islands):
            try:
                isl.finish()
            except IslandLost as exc:
                lost.append((i, str(exc)))
        for i, reason in lost:
            self._fresh(i, reason)

    def _fresh(self, i: int, reason: str) -> None:
        """Replace island ``i`` by a fresh one (its experiment seed) initialised as far as the
        others: a lost island that has no snapshot yet (its experiment is initialising)."""
        self.unreported.append(News("lost", i, detail=reason))
        target = max(isl.initialized for j, isl in enumerate(self.islands) if j != i)
        fresh = self.islands[i] = self.maker.replace(i, self.specs, self.seeds[i])
        if target:
            fresh.start_initialize(target)
            fresh.finish()
        self.unreported.append(News("restarted", i, detail="a fresh population"))

    # ---- snapshots and restarts ------------------------------------------------------------
    def state(self) -> dict:
        """The run's checkpoint: every island's state, each kept as its restart point (an
        island lost meanwhile is restarted first)."""
        arrays = {}
        for i in range(len(self.islands)):
            prefix = island_prefix(i)
            try:
                own = self.islands[i].state(prefix)
            except IslandLost as exc:
                if self.snapshots[i] is None:
                    self._fresh(i, str(exc))
                else:
                    self._recover(i, str(exc), self.unreported)
                own = self.islands[i].state(prefix)
            self._keep_snapshot(i, own)
            arrays.update(own)
        return arrays

    def restore(self, arrays: dict) -> None:
        super().restore(arrays)
        for i in range(len(self.islands)):
            self._reset_counters(i)

    def _keep_snapshot(self, i: int, arrays: dict) -> None:
        self.snapshots[i] = (time.monotonic(), arrays)

    def _reset_counters(self, i: int) -> None:
        isl = self.islands[i]
        self.planned[i] = isl.cursor
        self.exchanges[i] = int(isl.stats[evaluator.S_INDIVIDUALS]) // self.migrate_every
        self._see_ids(i, isl)

    def _see_ids(self, i: int, isl) -> None:
        top = [int(isl.ids.max())]
        if len(isl.log.ids):
            top.append(int(np.max(isl.log.ids)))
        self.high_id[i] = max(self.high_id[i], max(top) + 1)

    def _recover(self, i: int, reason: str, news: list[News]) -> None:
        """Replace island ``i`` (its worker is gone) from its last snapshot.  Its new
        members' ids continue above every id it showed, so the lineage stays one tree."""
        news.append(News("lost", i, detail=reason))
        prefix = island_prefix(i)
        arrays = dict(self.snapshots[i][1])
        arrays[f"{prefix}next_id"] = np.maximum(arrays[f"{prefix}next_id"], self.high_id[i])
        isl = self.maker.replace(i, self.specs, int(self.rng.integers(2 ** 63)))
        isl.restore(arrays, prefix)
        self.islands[i] = isl
        self.queued[i].clear()
        self._keep_snapshot(i, arrays)
        self._reset_counters(i)
        self.heard[i] = time.monotonic()
        news.append(News("restarted", i, int(isl.stats[evaluator.S_INDIVIDUALS]),
                         detail="its last snapshot"))
        self._fill(i)
