"""One island: a population with its caches and random stream, and the numba calls that
advance it.  A single-process search is one island; ``--workers N`` runs N of them."""
from __future__ import annotations

import numpy as np

from azcompile.engine import call_literal, task_mode
from azcompile.rng import new_state

from . import evaluator as E
from . import fec
from .evolution import STRATEGIES, BatchLog, evolve_literal, initialize_literal
from .mutator import MIGRATED
from .population import Population

_CACHE_FIELDS = ("keys", "values", "hits", "prev", "next", "chain", "heads", "state")


class Island:
    def __init__(self, cfg, mutator, init_program, tasks, settings: E.EvalSettings, seed: int,
                 batch_size: int):
        self.cfg = cfg
        self.memory = cfg.memory
        self.mutator = mutator
        P = cfg.evolution["population_size"]
        L = cfg.capacity
        self.pop = Population.empty(P, L)
        self.init = init_program.to_arrays(L)
        self.random_init = cfg.evolution["initial_population"] == "random"
        self.strategy = STRATEGIES[cfg.evolution["strategy"]]
        self.mode = task_mode(tasks[0].eval_type)
        self.tasks = E.stacked_tasks(tasks)
        self.ecfg, self.fcfg = settings.arrays(self.mode)
        self.ws = E.new_workspace(self.memory, L, len(tasks))
        self.child = (np.zeros((3, L, 4), dtype=np.int32), np.zeros((3, L, 4)),
                      np.zeros(3, dtype=np.int32))
        self.fec_cache = fec.new_cache(settings.fec_cache_size)
        self.canon_cache = fec.new_cache(settings.canonical_cache_size)
        self.hurdle = E.new_hurdle(settings.hurdle_window)
        self.stats = np.zeros(E.S_SIZE, dtype=np.int64)
        self.rng = new_state(seed)
        self.next_id = np.zeros(1, dtype=np.int64)
        self.cursor = 0
        self.initialized = 0
        self.log = BatchLog.new(batch_size, L)

    @property
    def profile(self) -> np.ndarray:
        """Cycles spent per phase of the generation loop (search.profile)."""
        return self.ws[16]

    @property
    def size(self) -> int:
        return self.pop.fitness.shape[0]

    def _shared(self):
        m = self.memory
        return (self.tasks, self.ws, self.fec_cache, self.canon_cache, self.hurdle, self.ecfg,
                self.fcfg, self.stats, self.rng, m.scalars, m.vectors, m.matrices, m.features)

    def initialize(self, count: int) -> None:
        stop = min(self.initialized + count, self.size)
        call_literal(initialize_literal, (self.pop.arrays(), self.initialized, stop, self.next_id,
                                          self.random_init, self.init, self.mutator.arrays())
                     + self._shared())
        self.initialized = stop

    def evolve(self, count: int) -> None:
        evo = self.cfg.evolution
        self.cursor = int(call_literal(evolve_literal, (
            self.pop.arrays(), count, self.cursor, self.next_id, self.strategy,
            evo["tournament_size"], self.init, self.mutator.arrays(), self.mutator.mutate_prob,
            self.child, self.tasks, self.ws, self.fec_cache, self.canon_cache, self.hurdle,
            self.ecfg, self.fcfg, self.stats, self.rng, self.log.arrays(),
            self.memory.scalars, self.memory.vectors, self.memory.matrices, self.memory.features)))

    # --- migration ---------------------------------------------------------------------------
    def emigrants(self, slots) -> tuple:
        """Copies of the members in ``slots``: (code, data, size, fitness)."""
        slots = np.asarray(slots, dtype=np.int64)
        p = self.pop
        return (p.code[slots].copy(), p.data[slots].copy(), p.size[slots].copy(),
                p.fitness[slots].copy())

    def immigrate(self, members) -> None:
        """Replace the oldest members with arrivals, which become the newest (the ring's
        cursor moves past them).  Fitness travels with them: islands share their tasks."""
        code, data, size, fitness = members
        p = self.pop
        for k in range(len(fitness)):
            i = (self.cursor + k) % self.size
            p.code[i] = code[k]
            p.data[i] = data[k]
            p.size[i] = size[k]
            p.fitness[i] = fitness[k]
            p.ids[i] = self.next_id[0]
            p.parents[i] = -1
            p.mutations[i] = MIGRATED
            self.next_id[0] += 1
        self.cursor = (self.cursor + len(fitness)) % self.size

    # --- checkpoint state -----------------------------------------------------------------
    def state(self, prefix: str) -> dict:
        out = {f"{prefix}pop_{name}": getattr(self.pop, name) for name in Population.FIELDS}
        for cache_name in ("fec_cache", "canon_cache"):
            for field, arr in zip(_CACHE_FIELDS, getattr(self, cache_name)):
                out[f"{prefix}{cache_name}_{field}"] = arr
        out[f"{prefix}hurdle"] = self.hurdle
        out[f"{prefix}stats"] = self.stats
        out[f"{prefix}rng"] = self.rng
        out[f"{prefix}next_id"] = self.next_id
        out[f"{prefix}counters"] = np.array([self.cursor, self.initialized], dtype=np.int64)
        return out

    def restore(self, arrays: dict, prefix: str) -> None:
        for name in Population.FIELDS:
            getattr(self.pop, name)[...] = arrays[f"{prefix}pop_{name}"]
        for cache_name in ("fec_cache", "canon_cache"):
            restored = tuple(arrays[f"{prefix}{cache_name}_{f}"].copy() for f in _CACHE_FIELDS)
            setattr(self, cache_name, restored)
        self.hurdle[...] = arrays[f"{prefix}hurdle"]
        self.stats[...] = arrays[f"{prefix}stats"]
        self.rng[...] = arrays[f"{prefix}rng"]
        self.next_id[...] = arrays[f"{prefix}next_id"]
        self.cursor, self.initialized = (int(x) for x in arrays[f"{prefix}counters"])
