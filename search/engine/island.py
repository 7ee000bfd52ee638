"""One island: a population with its caches and random stream, and the numba calls that
advance it.  A single-process search is one island; ``--workers N`` runs N of them.
``Island`` implements ``engine.island_protocol.IslandProtocol`` in this process."""
from __future__ import annotations

import numpy as np

from azcompile import interpreter
from azcompile.engine import call_compiled

from . import evaluator
from . import fec
from . import validate
from .controller import Controller
from .gru_policy import GruController
from .evolution import INITIAL, STRATEGIES, BatchLog, Breeding, evolve, place_programs
from .mutator import MIGRATED, RELAXED, SAMPLED
from .relaxation import Relaxation
from .population import Population

_CACHE_FIELDS = ("keys", "values", "hits", "prev", "next", "chain", "heads", "state")
POLICIES = {"bigram": Controller, "gru": GruController}    # [controller] policy


def policy(cfg):
    """The RL controller's policy class, as ``[controller] policy`` names it."""
    return POLICIES[cfg.controller["policy"]]


class Island:
    """An island in this process (``engine.island_protocol.IslandProtocol``)."""

    def __init__(self, cfg, mutator, init_program, tasks, settings: evaluator.EvalSettings, seed: int,
                 batch_size: int):
        self.cfg = cfg
        self.memory = cfg.memory
        self.mutator = mutator
        P = cfg.evolution["population_size"]
        L = cfg.capacity
        self.pop = Population.empty(P, L)
        evo = cfg.evolution
        child = evaluator.ProgramBuffers(np.zeros((3, L, 4), dtype=np.int32), np.zeros((3, L, 4)),
                                         np.zeros(3, dtype=np.int32))
        self.breeding = Breeding(
            strategy=STRATEGIES[evo["strategy"]], tournament_size=evo["tournament_size"],
            mutate_prob=mutator.mutate_prob, random_init=evo["initial_population"] == "random",
            initial=evaluator.ProgramBuffers(*init_program.to_arrays(L)), mutator=mutator.arrays(),
            child=child, crossover_prob=evo["crossover_prob"],
            species_width=evo["species_width"] if evo["speciation"] else 0.0,
            species_by_signature=evo["speciation"] == "fec")
        # strategy "rl": the children are the controller's samples, not the kernel's
        self.controller = (policy(cfg)(cfg, self.breeding.initial, seed)
                           if evo["strategy"] == "rl" else None)
        # strategy "relaxation": the initial population is the relaxation's argmax programs
        self.relaxation = Relaxation(cfg, tasks) if evo["strategy"] == "relaxation" else None
        # The interpreter covers what a child can hold: the config's ops, the initial
        # program's (migrants come from islands of the same config).
        self.op_ids = interpreter.op_ids_of(cfg.op_names, init_program)
        self.evaluation = evaluator.new_evaluation(tasks, self.memory, settings, L, seed,
                                                   self.op_ids)
        self.tasks, self.ws = self.evaluation.tasks, self.evaluation.workspace
        self.fec_cache, self.canon_cache, self.hurdle = self.evaluation.caches
        self.stats, self.rng = self.evaluation.stats, self.evaluation.rng
        self.next_id = np.zeros(1, dtype=np.int64)
        self.cursor = 0
        self.initialized = 0
        self.log = BatchLog.new(batch_size, L)

    @property
    def profile(self) -> np.ndarray:
        """Cycles spent per phase of the generation loop (search.profile)."""
        return self.ws.profile

    @property
    def size(self) -> int:
        return self.pop.fitness.shape[0]

    def initialize(self, count: int) -> None:
        """Fill the next ``count`` slots with the initial program (randomised if the
        population starts random), evaluated: the generation loop with the INITIAL rule,
        in batches the log has room for (its entries are not read)."""
        if self.relaxation is not None:
            self._initialize_relaxed(count)
            return
        stop = min(self.initialized + count, self.size)
        fill = self.breeding._replace(strategy=INITIAL)
        while self.initialized < stop:
            n = min(stop - self.initialized, self.log.ids.shape[0])
            call_compiled(evolve, self.evolve_arguments(n, self.initialized, fill))
            self.initialized += n

    def _initialize_relaxed(self, count: int) -> None:
        """Strategy "relaxation": a chunk of gradient steps worth about ``count`` programs
        (counted as individuals), until its steps are done; then the next ``count`` slots
        take its argmax programs in turn, evaluated."""
        relax = self.relaxation
        if not relax.done:
            steps = relax.run(self.rng, max(1, count // relax.programs_per_step))
            self.stats[evaluator.S_INDIVIDUALS] += steps * relax.programs_per_step
            return
        programs = relax.programs(self.breeding.initial)
        n = min(count, self.size - self.initialized)
        pick = (self.initialized + np.arange(n)) % relax.restarts
        batch = evaluator.ProgramBuffers(*(a[pick] for a in programs))
        call_compiled(place_programs, (self.pop.arrays(), batch, self.initialized, self.next_id,
                                       RELAXED, self.evaluation, self.log.arrays()))
        self.initialized += n

    def evolve(self, count: int) -> None:
        if self.controller is not None:
            self._evolve_rl(count)
            return
        self.cursor = int(call_compiled(evolve, self.evolve_arguments(count)))

    def evolve_arguments(self, count: int, start: int | None = None, breeding=None) -> tuple:
        """The generation loop's arguments for ``count`` children from slot ``start`` on
        (default: the cursor), made as ``breeding`` says (default: the island's)."""
        return (self.pop.arrays(), count, self.cursor if start is None else start,
                self.next_id, self.breeding if breeding is None else breeding, self.evaluation,
                self.log.arrays())

    def _evolve_rl(self, count: int) -> None:
        """A batch of the RL controller: sample, evaluate into the ring, learn from it."""
        batch, decisions = self.controller.sample(count, self.rng)
        self.cursor = int(call_compiled(place_programs, (
            self.pop.arrays(), batch, self.cursor, self.next_id, SAMPLED, self.evaluation,
            self.log.arrays())))
        self.controller.update(decisions, self.log.fitness[:count])

    # --- engine.island_protocol.IslandProtocol ----------------------------------------------------
    # In this process a step is done when it is started: there is nothing to wait for.
    def start_initialize(self, count: int) -> None:
        self.initialize(count)

    def start_evolve(self, count: int) -> None:
        self.evolve(count)

    def finish(self) -> None:
        pass

    @property
    def fitness(self) -> np.ndarray:
        return self.pop.fitness

    @property
    def ids(self) -> np.ndarray:
        return self.pop.ids

    def best_slot(self) -> int:
        return self.pop.best_slot()

    def program(self, slot: int):
        return self.pop.program(slot, self.memory)

    def close(self) -> None:
        pass

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
            if self.breeding.species_by_signature:     # behaviour is not sent: it is probed
                p.signature[i] = call_compiled(evaluator.behaviour_signature, (
                    p.code[i], p.data[i], p.size[i], self.evaluation))
            self.next_id[0] += 1
        self.cursor = (self.cursor + len(fitness)) % self.size

    # --- checkpoint state -----------------------------------------------------------------
    def state(self, prefix: str) -> dict:
        out = _state_dict(prefix, self.pop, self.fec_cache, self.canon_cache, self.hurdle,
                          self.stats, self.rng, self.next_id, self.cursor, self.initialized)
        if self.controller is not None:
            out.update(self.controller.state(prefix))
        if self.relaxation is not None:
            out.update(self.relaxation.state(prefix))
        return out

    def restore(self, arrays: dict, prefix: str) -> None:
        """Take over a checkpointed state; ``check_state`` must have accepted it."""
        for name in Population.FIELDS:
            getattr(self.pop, name)[...] = arrays[f"{prefix}pop_{name}"]
        for cache_name in ("fec_cache", "canon_cache"):
            restored = fec.LruCache(*(arrays[f"{prefix}{cache_name}_{f}"].copy()
                                      for f in _CACHE_FIELDS))
            setattr(self, cache_name, restored)
        # The caches are new arrays (their sizes come from the checkpoint): a new bundle.
        self.evaluation = self.evaluation._replace(
            caches=evaluator.Caches(self.fec_cache, self.canon_cache, self.hurdle))
        self.hurdle[...] = arrays[f"{prefix}hurdle"]
        self.stats[...] = arrays[f"{prefix}stats"]
        self.rng[...] = arrays[f"{prefix}rng"]
        self.next_id[...] = arrays[f"{prefix}next_id"]
        self.cursor, self.initialized = (int(x) for x in arrays[f"{prefix}counters"])
        if self.controller is not None:
            self.controller.restore(arrays, prefix)
        if self.relaxation is not None:
            self.relaxation.restore(arrays, prefix)

    @staticmethod
    def blank_state(cfg, settings: evaluator.EvalSettings, prefix: str) -> dict:
        """The state a new island of this configuration has: the shapes and dtypes that a
        checkpointed one must have."""
        P, L = cfg.evolution["population_size"], cfg.capacity
        out = _state_dict(prefix, Population.empty(P, L), *evaluator.new_caches(settings),
                          np.zeros(evaluator.S_SIZE, dtype=np.int64), np.zeros(1, dtype=np.uint64),
                          np.zeros(1, dtype=np.int64), 0, 0)
        if cfg.evolution["strategy"] == "rl":
            out.update(policy(cfg)(cfg, evaluator.blank_program(L)).state(prefix))
        if cfg.evolution["strategy"] == "relaxation":
            out.update(Relaxation(cfg, []).state(prefix))
        return out

    @staticmethod
    def check_state(arrays: dict, prefix: str, cfg, settings: evaluator.EvalSettings) -> set:
        """Refuse (CheckpointError) an island state the kernels could not run safely: every
        array's shape and dtype, op ids and register indices, sizes, counters, the hurdle's
        ring position and the linked structure of both caches.  Returns the keys it used."""
        blank_state = Island.blank_state(cfg, settings, prefix)
        _upgrade_stats(arrays, f"{prefix}stats")
        _upgrade_signature(arrays, prefix, cfg)
        for key, blank in blank_state.items():
            validate.array(arrays, key, blank)
        Population.check_values(arrays, f"{prefix}pop_", cfg.memory)
        for cache_name in ("fec_cache", "canon_cache"):
            cache = tuple(arrays[f"{prefix}{cache_name}_{f}"] for f in _CACHE_FIELDS)
            _check_cache(cache, f"{prefix}{cache_name}")
        _check_hurdle(arrays[f"{prefix}hurdle"], f"{prefix}hurdle")
        P = cfg.evolution["population_size"]
        cursor, initialized = (int(x) for x in arrays[f"{prefix}counters"])
        if not (0 <= cursor < P and 0 <= initialized <= P):
            raise validate.CheckpointError(f"'{prefix}counters' = [{cursor}, {initialized}] do not "
                                       f"fit a population of {P}")
        validate.within(arrays[f"{prefix}stats"], f"{prefix}stats", 0, 2 ** 63 - 1)
        validate.within(arrays[f"{prefix}next_id"], f"{prefix}next_id", 0, 2 ** 62)
        if cfg.evolution["strategy"] == "rl":
            policy(cfg).check_state(arrays, prefix)
        if cfg.evolution["strategy"] == "relaxation":
            Relaxation.check_state(arrays, prefix, cfg.relaxation["steps"])
        return set(blank_state)


def _state_dict(prefix, pop, fec_cache, canon_cache, hurdle, stats, rng, next_id, cursor,
                initialized) -> dict:
    out = {f"{prefix}pop_{name}": getattr(pop, name) for name in Population.FIELDS}
    for cache_name, cache in (("fec_cache", fec_cache), ("canon_cache", canon_cache)):
        for field, arr in zip(_CACHE_FIELDS, cache):
            out[f"{prefix}{cache_name}_{field}"] = arr
    out[f"{prefix}hurdle"] = hurdle
    out[f"{prefix}stats"] = stats
    out[f"{prefix}rng"] = rng
    out[f"{prefix}next_id"] = next_id
    out[f"{prefix}counters"] = np.array([cursor, initialized], dtype=np.int64)
    return out


def _upgrade_signature(arrays: dict, prefix: str, cfg) -> None:
    """A checkpoint written before speciation "fec" holds no behaviour signatures: its run
    never read them (they are 0 unless species are signatures)."""
    key = f"{prefix}pop_signature"
    if key in arrays or f"{prefix}pop_fitness" not in arrays:
        return
    if cfg.evolution["speciation"] == "fec":
        raise validate.CheckpointError(f"the checkpoint has no '{key}' (written before "
                                       "speciation \"fec\" existed); start a new run")
    arrays[key] = np.zeros(cfg.evolution["population_size"], dtype=np.uint64)


def _upgrade_stats(arrays: dict, key: str) -> None:
    """A checkpoint written before the executed-instructions counter: its statistics lack
    the last entry, which counts from zero on."""
    stats = arrays.get(key)
    if (isinstance(stats, np.ndarray) and stats.dtype == np.int64
            and stats.shape == (evaluator.S_INSTRUCTIONS,)):
        arrays[key] = np.append(stats, np.int64(0))


def _check_hurdle(hurdle: np.ndarray, key: str) -> None:
    """The ring position indexes the window inside the kernel: it must be a whole number in
    range (a NaN would become an arbitrary index)."""
    window = hurdle.shape[0] - evaluator.H_HEADER
    validate.within(hurdle[evaluator.H_POS:evaluator.H_POS + 1], f"{key} (ring position)", 0, window - 1)
    validate.within(hurdle[evaluator.H_FILLED:evaluator.H_FILLED + 1], f"{key} (filled)", 0, window)
    validate.within(hurdle[evaluator.H_SINCE:evaluator.H_SINCE + 1], f"{key} (since update)", 0, 2 ** 53)


def _check_cache(cache: tuple, key: str) -> None:
    """An LRU cache of search.fec whose links the kernels can follow: every slot on exactly
    one bucket chain or the free list, no loops, used slots in their key's bucket, and one
    doubly linked recency list through exactly the used slots.  (A loop would make a lookup
    spin forever; an index out of range would read or write outside the arrays.)"""
    keys, _values, _hits, prev, nxt, chain, heads, state = cache
    cap, buckets = keys.shape[0], heads.shape[0]
    for name, arr in (("prev", prev), ("next", nxt), ("chain", chain), ("heads", heads),
                      ("state", state[[fec._HEAD, fec._TAIL, fec._FREE]])):
        validate.within(arr, f"{key}_{name}", fec.EMPTY, cap - 1)
    head, tail, count, free = (int(x) for x in state)

    def damaged(what):
        return validate.CheckpointError(f"'{key}' is inconsistent ({what})")

    refs = np.concatenate([heads[heads >= 0], chain[chain >= 0], [free] if free >= 0 else []])
    if refs.shape[0] != cap or np.any(np.bincount(refs.astype(np.int64), minlength=cap) != 1):
        raise damaged("a slot is on no list or on two")
    root = _path_roots(chain)
    if root is None:
        raise damaged("a bucket chain loops")
    used = root != free if free >= 0 else np.ones(cap, dtype=bool)
    if int(used.sum()) != count:
        raise damaged(f"it counts {count} entries but holds {int(used.sum())}")
    bucket_of = np.full(cap, -1, dtype=np.int64)
    bucket_of[heads[heads >= 0]] = np.nonzero(heads >= 0)[0]
    slots = np.nonzero(used)[0]
    if np.any(bucket_of[root[slots]] != (keys[slots] & np.uint64(buckets - 1)).astype(np.int64)):
        raise damaged("an entry is in the wrong bucket")
    _check_recency_list(prev, nxt, used, head, tail, damaged)


def _check_recency_list(prev, nxt, used, head, tail, damaged) -> None:
    if np.any(prev[~used] != fec.EMPTY) or np.any(nxt[~used] != fec.EMPTY):
        raise damaged("a free slot is on the recency list")
    slots = np.nonzero(used)[0]
    if slots.shape[0] == 0:
        if head != fec.EMPTY or tail != fec.EMPTY:
            raise damaged("an empty cache has a recency list")
        return
    p, n = prev[slots], nxt[slots]
    if (np.any(~used[p[p >= 0]]) or np.any(~used[n[n >= 0]])
            or np.any(nxt[p[p >= 0]] != slots[p >= 0]) or np.any(prev[n[n >= 0]] != slots[n >= 0])):
        raise damaged("recency links disagree")
    starts, ends = slots[p < 0], slots[n < 0]
    if list(starts) != [head] or list(ends) != [tail]:
        raise damaged("the recency list has no single head and tail")
    if _path_roots(prev) is None:     # consistent links + one head: only a loop is left
        raise damaged("the recency list loops")


def _path_roots(link: np.ndarray):
    """For links i -> link[i] (-1: end) in which no slot has two predecessors, the first slot
    of the path through each slot; None if some path is a loop.  Pointer doubling: about
    log2(n) vectorised steps rather than a Python walk over every slot."""
    n = link.shape[0]
    pred = np.full(n, -1, dtype=np.int64)
    has_next = link >= 0
    pred[link[has_next]] = np.nonzero(has_next)[0]
    up = np.where(pred >= 0, pred, np.arange(n))
    for _ in range(max(1, int(n).bit_length()) + 1):
        up = up[up]
    if np.any(pred[up] >= 0):
        return None
    return up
