"""The population as arrays: programs, fitness, identities and lineage fields per slot."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Population:
    code: np.ndarray       # int32[P, 3, L, 4]
    data: np.ndarray       # float64[P, 3, L, 4]
    size: np.ndarray       # int32[P, 3]
    fitness: np.ndarray    # float64[P]
    ids: np.ndarray        # int64[P]: individual number (order of evaluation)
    parents: np.ndarray    # int64[P]: the parent's id, -1 for initial individuals
    mutations: np.ndarray  # int32[P]: the mutation that made it (-1: copy or initial)

    FIELDS = ("code", "data", "size", "fitness", "ids", "parents", "mutations")

    @classmethod
    def empty(cls, P: int, capacity: int) -> "Population":
        return cls(np.zeros((P, 3, capacity, 4), dtype=np.int32), np.zeros((P, 3, capacity, 4)),
                   np.zeros((P, 3), dtype=np.int32), np.zeros(P), np.full(P, -1, dtype=np.int64),
                   np.full(P, -1, dtype=np.int64), np.full(P, -1, dtype=np.int32))

    def arrays(self) -> tuple:
        return tuple(getattr(self, f) for f in self.FIELDS)

    @property
    def capacity(self) -> int:
        return self.code.shape[2]

    def program(self, slot: int, memory, meta=None):
        from azcompile.program import Program

        return Program.from_arrays(self.code[slot], self.data[slot], self.size[slot], memory, meta)

    def best_slot(self) -> int:
        """The first slot with the greatest fitness (the reference's candidate rule)."""
        return int(np.argmax(self.fitness))

    def summary(self) -> tuple[float, float, float]:
        """(mean, stdev, best) as the reference prints them."""
        f = self.fitness
        mean = float(f.mean())
        var = float((f * f).mean() - mean * mean)
        return mean, float(np.sqrt(max(var, 0.0))), float(f.max())
