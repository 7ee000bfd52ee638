"""The islands of one experiment, driven together: steps, migration, the best member, and
statistics over all of them.

Islands are only reached through ``engine.island_protocol.IslandProtocol``; every step is "start it
on all islands, then finish all", so islands that run elsewhere work in parallel.  All
islands take the same steps, so they stay at the same point of their sweep (the first
island speaks for all).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from azcompile.program import Program
from azcompile.rng import next_int

from ..engine import evaluator
from ..engine.island_protocol import IslandProtocol


@dataclass(frozen=True)
class Migration:
    """What one exchange moved (for the event log)."""

    individuals: int            # per island, when it happened
    migrants: int               # members each island sent and received
    exchanges: int              # exchanges due so far: the next call's ``migrations_done``


class Archipelago:
    def __init__(self, islands: list[IslandProtocol], migrate_every: int, migrants: int | None):
        self.islands = islands
        self.migrate_every = migrate_every
        self.migrants = migrants            # None: half the population

    # ---- steps ---------------------------------------------------------------------------
    def initialize(self, count: int) -> None:
        self._on_all(lambda isl: isl.start_initialize(count))

    def evolve(self, count: int) -> None:
        self._on_all(lambda isl: isl.start_evolve(count))

    def _on_all(self, start) -> None:
        for isl in self.islands:
            start(isl)
        for isl in self.islands:
            isl.finish()

    @property
    def size(self) -> int:
        return self.islands[0].size

    @property
    def initialized(self) -> int:
        return self.islands[0].initialized

    @property
    def cursor(self) -> int:
        return self.islands[0].cursor

    # ---- migration -------------------------------------------------------------------------
    def migrate_if_due(self, rng, migrations_done: int) -> Migration | None:
        """Every ``migrate_every`` individuals per island, islands swap part of their
        populations: each uploads ``migrants`` random members, and each takes back as many
        drawn at random from everything uploaded, replacing its oldest (the paper's scheme).
        ``rng`` is the search's stream, so a seed and worker count give one run."""
        if len(self.islands) < 2:
            return None
        per_island = int(self.islands[0].stats[evaluator.S_INDIVIDUALS])
        due = per_island // self.migrate_every
        if due <= migrations_done:
            return None
        P = self.size
        k = min(self.migrants if self.migrants is not None else P // 2, P)
        uploads = [isl.emigrants(_choose(rng, P, k)) for isl in self.islands]
        pooled = [np.concatenate([up[j] for up in uploads]) for j in range(4)]
        total = pooled[0].shape[0]
        for isl in self.islands:
            pick = _choose(rng, total, k)
            isl.immigrate(tuple(arr[pick] for arr in pooled))
        return Migration(per_island, k, due)

    # ---- the best member -------------------------------------------------------------------
    def best_member(self) -> tuple[int, int, float]:
        """(island, slot, fitness) of the best individual; first island and slot on ties."""
        best = (0, 0, -1.0)
        for i, isl in enumerate(self.islands):
            slot = isl.best_slot()
            fit = float(isl.fitness[slot])
            if fit > best[2]:
                best = (i, slot, fit)
        return best

    def program(self, island: int, slot: int) -> Program:
        return self.islands[island].program(slot)

    def member_id(self, island: int, slot: int) -> int:
        return int(self.islands[island].ids[slot])

    # ---- statistics ------------------------------------------------------------------------
    def stats(self) -> np.ndarray:
        """The evaluator's counters summed over islands."""
        return np.sum([isl.stats for isl in self.islands], axis=0)

    def least(self, stat: int) -> int:
        """The smallest island's count of ``stat`` (budgets are per island: each is one
        reference process)."""
        return min(int(isl.stats[stat]) for isl in self.islands)

    def budget_spent(self, max_train_steps: int) -> bool:
        """Whether the experiment's budget is spent: every island has had its own."""
        return self.least(evaluator.S_TRAIN_STEPS) >= max_train_steps

    def profile(self) -> np.ndarray:
        """Mean phase cycles over islands: they run in parallel, so this is per worker."""
        return np.mean([isl.profile for isl in self.islands], axis=0)

    def fitness(self, filled: int) -> np.ndarray:
        """The first ``filled`` members' fitness of every island, in one array."""
        return np.concatenate([isl.fitness[:filled] for isl in self.islands])

    # ---- checkpoint ------------------------------------------------------------------------
    def state(self) -> dict:
        arrays = {}
        for i, isl in enumerate(self.islands):
            arrays.update(isl.state(island_prefix(i)))
        return arrays

    def restore(self, arrays: dict) -> None:
        for i, isl in enumerate(self.islands):
            isl.restore(arrays, island_prefix(i))


def island_prefix(i: int) -> str:
    """The names of island ``i``'s arrays in a checkpoint start with this."""
    return f"island{i}_"


def _choose(rng, n: int, k: int) -> np.ndarray:
    """k distinct indices out of n, drawn from the search's own random stream."""
    pool = list(range(n))
    out = []
    for _ in range(k):
        j = next_int(rng, len(pool))
        out.append(pool.pop(j))
    return np.array(out, dtype=np.int64)
