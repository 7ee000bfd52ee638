"""Regularized evolution and random search: the generation loop, in numba.

Regularized evolution as the reference runs it: the population is a ring of P slots swept in
order; for each slot a tournament of T draws (with replacement, over the whole population,
including the slot about to be replaced) picks the parent, the child is the parent mutated
with probability ``mutate_prob``, and it replaces the slot, i.e. the oldest individual.
Random search fills the slot with a fresh random program instead.

``evolve`` runs a batch of children and returns; Python handles progress, checkpoints and
stopping at batch boundaries.  Each batch also logs every child (id, parent, mutation,
fitness) and keeps snapshots of children that beat their parent, for the lineage.
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
from numba import njit

from azcompile.rng import next_int

from .. import numba_cache  # noqa: F401  (numba's cache folder before our functions)
from .evaluator import evaluate_program
from .mutator import NOT_MUTATED, RANDOMIZE_ALGORITHM, mutate, randomize_program
from .profile import P_LOOP, P_MUTATION, cycles

EVOLUTION, RANDOM_SEARCH = 0, 1
STRATEGIES = {"evolution": EVOLUTION, "random": RANDOM_SEARCH}
# Not a strategy: how ``initialize`` runs the generation loop (each child is the initial
# program, randomised if the population starts random), so one kernel does both and numba
# compiles the loop once.
INITIAL = 2

# How children are made: the strategy (EVOLUTION / RANDOM_SEARCH), the tournament size, the
# probability that a child is mutated, whether the initial population is randomised, the
# initial program (evaluator.ProgramBuffers), the mutator's arrays (mutator.MutatorArrays)
# and the buffer a child is built in (ProgramBuffers).
Breeding = namedtuple("Breeding", "strategy tournament_size mutate_prob random_init initial "
                                  "mutator child")
# BatchLog's arrays, as the kernels take them.
LogArrays = namedtuple("LogArrays", "ids parents mutations fitness parent_fitness snap_code "
                                    "snap_data snap_size snap_ids counts")


@dataclass
class BatchLog:
    ids: np.ndarray
    parents: np.ndarray
    mutations: np.ndarray
    fitness: np.ndarray
    parent_fitness: np.ndarray
    snap_code: np.ndarray
    snap_data: np.ndarray
    snap_size: np.ndarray
    snap_ids: np.ndarray
    counts: np.ndarray       # [children logged, snapshots kept]

    @classmethod
    def new(cls, batch: int, capacity: int, snapshots: int = 64) -> "BatchLog":
        return cls(np.zeros(batch, dtype=np.int64), np.zeros(batch, dtype=np.int64),
                   np.zeros(batch, dtype=np.int32), np.zeros(batch), np.zeros(batch),
                   np.zeros((snapshots, 3, capacity, 4), dtype=np.int32),
                   np.zeros((snapshots, 3, capacity, 4)), np.zeros((snapshots, 3), dtype=np.int32),
                   np.zeros(snapshots, dtype=np.int64), np.zeros(2, dtype=np.int64))

    def arrays(self) -> LogArrays:
        return LogArrays(*(getattr(self, name) for name in LogArrays._fields))


@njit(cache=True)
def tournament(fitness, T, rng):
    """T uniform draws with replacement; the first drawn with strictly greatest fitness wins."""
    P = fitness.shape[0]
    best = next_int(rng, P)
    for _ in range(T - 1):
        j = next_int(rng, P)
        if fitness[j] > fitness[best]:
            best = j
    return best


@njit(cache=True)
def _copy_program(src_code, src_data, src_size, dst_code, dst_data, dst_size):
    for c in range(3):
        n = max(src_size[c], dst_size[c])
        for i in range(n):
            for k in range(4):
                dst_code[c, i, k] = src_code[c, i, k]
                dst_data[c, i, k] = src_data[c, i, k]
        dst_size[c] = src_size[c]


@njit(cache=True)
def _log_child(log, k, child_id, parent_id, kind, fit, parent_fit, child):
    log.ids[k] = child_id
    log.parents[k] = parent_id
    log.mutations[k] = kind
    log.fitness[k] = fit
    log.parent_fitness[k] = parent_fit
    counts = log.counts
    counts[0] = k + 1
    # Keep the program of every improvement over the parent: the lineage's steps.
    if fit > parent_fit and counts[1] < log.snap_ids.shape[0]:
        j = counts[1]
        log.snap_size[j, :] = log.snap_code.shape[2]    # copy every row: no stale rows survive
        _copy_program(child.code, child.data, child.size, log.snap_code[j], log.snap_data[j],
                      log.snap_size[j])
        log.snap_ids[j] = child_id
        counts[1] = j + 1


@njit(cache=True)
def evolve(pop, n_children, cursor, next_id, breeding, evaluation, log):
    """Make ``n_children`` children from slot ``cursor`` on; returns the next cursor.

    ``pop`` is population.PopulationArrays, ``evaluation`` an evaluator.Evaluation, ``log``
    LogArrays; ``next_id`` is a one-element array holding the next individual id.
    """
    # Fields are read once, before the loop: reading an array out of a bundle inside it
    # costs a reference-count update per child (see evaluator's kernels).
    code, data, size, fitness = pop.code, pop.data, pop.size, pop.fitness
    ids, parents, mutations = pop.ids, pop.parents, pop.mutations
    child, initial, mut = breeding.child, breeding.initial, breeding.mutator
    ccode, cdata, csize = child.code, child.data, child.size
    ops, n_ops, memory = mut.ops, mut.n_ops, mut.memory
    strategy, T, mutate_prob = breeding.strategy, breeding.tournament_size, breeding.mutate_prob
    rng, profile = evaluation.rng, evaluation.workspace.profile
    P = fitness.shape[0]
    log.counts[:] = 0
    loop_start = cycles()
    for k in range(n_children):
        i = cursor
        t0 = cycles()
        # The child buffer is copied whole (rows past the sizes included), so rows left from
        # the previous child never reach the population: its arrays are then a function of
        # the checkpointed state alone, and a resumed run stays identical bit for bit.
        if strategy == EVOLUTION:
            parent = tournament(fitness, T, rng)
            csize[:] = ccode.shape[1]
            _copy_program(code[parent], data[parent], size[parent], ccode, cdata, csize)
            parent_id = ids[parent]
            parent_fit = fitness[parent]
            kind = mutate(rng, child, mut, mutate_prob)
        else:
            csize[:] = ccode.shape[1]
            _copy_program(initial.code, initial.data, initial.size, ccode, cdata, csize)
            if strategy == RANDOM_SEARCH or breeding.random_init:
                randomize_program(rng, ccode, cdata, csize, ops, n_ops, memory)
            parent_id = -1
            parent_fit = 0.0
            kind = RANDOMIZE_ALGORITHM if strategy == RANDOM_SEARCH else NOT_MUTATED
        profile[P_MUTATION] += cycles() - t0
        f = evaluate_program(ccode, cdata, csize, evaluation)
        _copy_program(ccode, cdata, csize, code[i], data[i], size[i])
        fitness[i] = f
        ids[i] = next_id[0]
        parents[i] = parent_id
        mutations[i] = kind
        _log_child(log, k, next_id[0], parent_id, kind, f, parent_fit, child)
        next_id[0] += 1
        cursor = (cursor + 1) % P
    profile[P_LOOP] += cycles() - loop_start
    return cursor
