"""What a search's coordinator needs of an island, wherever the island runs.

An island is one population evolving on its own random stream: in this process
(``engine.island.Island``), in a worker process (``run.workers.RemoteIsland``), or anywhere
else a new implementation puts it.  The coordinator (``run.archipelago``) only ever talks to
islands through ``IslandProtocol`` and gets them from an ``IslandMaker``, so another kind of
island implements these two protocols and nothing else changes.

Steps are split into ``start_*`` and ``finish`` so that the coordinator's one code path
("start the step on every island, then finish every island") runs remote islands in
parallel; an in-process island simply does the work in ``start_*``.  Between ``finish`` and
the next ``start_*`` every attribute below is current.

The asynchronous mode (``run.async_islands``) needs a little more of remote islands
(``run.workers.MirroredIsland``: ``send`` to queue any command, ``pending``, ``wait_limit``)
and of their maker (``wait_any`` for the first replies, ``replace`` for a lost island).
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from azcompile.program import Program

from ..data.tasks import TaskSpec


@runtime_checkable
class IslandProtocol(Protocol):
    size: int                 # members of the population
    initialized: int          # members initialised so far (== size once the population is full)
    cursor: int               # the next member evolution replaces (0 after a whole sweep)
    stats: np.ndarray         # the evaluator's counters (engine.evaluator.S_*)
    profile: np.ndarray       # cycles per phase of the generation loop (engine.profile)
    fitness: np.ndarray       # per member
    ids: np.ndarray           # per member: the individual's id (lineage)
    log: object               # the last evolution batch (engine.evolution.BatchLog's fields)

    def start_initialize(self, count: int) -> None:
        """Begin initialising the next ``count`` members."""

    def start_evolve(self, count: int) -> None:
        """Begin ``count`` generations (children replace the oldest members)."""

    def finish(self) -> None:
        """Wait for the step begun last (nothing if none is pending)."""

    def best_slot(self) -> int:
        """The first member with the greatest fitness."""

    def program(self, slot: int) -> Program:
        """The member in ``slot`` as a program."""

    def emigrants(self, slots) -> tuple:
        """Copies of the members in ``slots``: (code, data, size, fitness)."""

    def immigrate(self, members: tuple) -> None:
        """Take ``members`` (as ``emigrants`` gives them) in place of the oldest members."""

    def state(self, prefix: str) -> dict:
        """The island's whole state as arrays named ``prefix...`` (``engine.island``'s
        layout, which ``Island.check_state`` validates)."""

    def restore(self, arrays: dict, prefix: str) -> None:
        """Take over a state ``state`` gave (and ``Island.check_state`` accepted)."""

    def close(self) -> None:
        """Release what the island holds (a process, a connection); called by its maker."""


class IslandMaker(Protocol):
    """Where a search gets its islands from: one call per experiment."""

    def islands(self, specs: Sequence[TaskSpec], seeds: Sequence[int]) -> list[IslandProtocol]:
        """Fresh islands, one per seed, on the tasks ``specs`` describe.  A maker may reuse
        what it built for the last experiment (e.g. keep worker processes running)."""

    def close(self) -> None:
        """Close every island this maker built; the next ``islands`` builds anew."""
