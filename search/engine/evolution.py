"""Regularized evolution and random search: the generation loop, in numba.

Regularized evolution as the reference runs it: the population is a ring of P slots swept in
order; for each slot a tournament of T draws (with replacement, over the whole population,
including the slot about to be replaced) picks the parent, the child is the parent mutated
with probability ``mutate_prob``, and it replaces the slot, i.e. the oldest individual.
Random search fills the slot with a fresh random program instead.  With ``crossover_prob``
a child is instead, with that probability, the parent recombined with a mate from a second
tournament (``crossover``), optionally only among the parent's species (NEAT-style: a band
of fitness, or the members whose FEC probe behaves alike).  The
RL controller's programs (engine.controller) enter the ring through ``place_programs``.

``evolve`` runs a batch of children and returns; Python handles progress, checkpoints and
stopping at batch boundaries.  Each batch also logs every child (id, parent, mutation,
fitness) and keeps snapshots of children that beat their parent, for the lineage.
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
from numba import njit

from azcompile.rng import next_float, next_int

from .. import numba_cache  # noqa: F401  (numba's cache folder before our functions)
from .evaluator import ProgramBuffers, behaviour_signature, evaluate_program
from .mutator import (CROSSOVER, NOT_MUTATED, RANDOMIZE_ALGORITHM, _pick_component, mutate,
                      randomize_program)
from .profile import P_LOOP, P_MUTATION, cycles

EVOLUTION, RANDOM_SEARCH, RL_CONTROLLER = 0, 1, 2
# "relaxation" is evolution after a warm start (engine.relaxation makes the initial population)
STRATEGIES = {"evolution": EVOLUTION, "random": RANDOM_SEARCH, "rl": RL_CONTROLLER,
              "relaxation": EVOLUTION}
# Not a strategy: how ``initialize`` runs the generation loop (each child is the initial
# program, randomised if the population starts random), so one kernel does both and numba
# compiles the loop once.
INITIAL = 3

# How children are made: the strategy (EVOLUTION / RANDOM_SEARCH), the tournament size, the
# probability that a child is mutated, whether the initial population is randomised, the
# initial program (evaluator.ProgramBuffers), the mutator's arrays (mutator.MutatorArrays)
# and the buffer a child is built in (ProgramBuffers); the probability that a child is a
# crossover instead, the species width (0: no fitness bands) and whether species are
# behaviour signatures instead (see mate_tournament).
Breeding = namedtuple("Breeding", "strategy tournament_size mutate_prob random_init initial "
                                  "mutator child crossover_prob species_width "
                                  "species_by_signature")
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
def mate_tournament(fitness, T, rng, parent, species_width, signature, by_signature):
    """The mate for ``parent``: T draws like the parent's tournament, the parent's own slot
    left out.  With speciation only draws of the parent's species compete: with
    ``by_signature``, the members whose behaviour ``signature`` (evaluator.
    behaviour_signature) equals the parent's; else, with ``species_width`` > 0, a band of
    search fitness that wide.  Returns -1 when no draw qualifies."""
    P = fitness.shape[0]
    banded = species_width > 0.0 and not by_signature
    band = np.floor(fitness[parent] / species_width) if banded else 0.0
    best = -1
    for _ in range(T):
        j = next_int(rng, P)
        if j == parent or (banded and np.floor(fitness[j] / species_width) != band) or (
                by_signature and signature[j] != signature[parent]):
            continue
        if best < 0 or fitness[j] > fitness[best]:
            best = j
    return best


@njit(cache=True)
def _copy_rows(src_code, src_data, dst_code, dst_data, c, start, stop):
    for i in range(start, stop):
        for k in range(4):
            dst_code[c, i, k] = src_code[c, i, k]
            dst_data[c, i, k] = src_data[c, i, k]


@njit(cache=True)
def crossover(rng, child, code, data, size, n_ops):
    """Recombine ``child`` (a copy of the parent) with the mate (code, data, size), in place.
    Half the time each component with ops is taken whole from the mate with probability 1/2
    (the result is a valid program: each component is one parent's); otherwise one component
    takes the mate's instructions in an aligned range [a, b) within both parents' sizes
    (sizes unchanged).  Whole rows are copied, so no stale row depends on the buffer's past."""
    ccode, cdata, csize = child.code, child.data, child.size
    if next_int(rng, 2) == 0:
        for c in range(3):
            if n_ops[c] > 0 and next_int(rng, 2) == 1:
                _copy_rows(code, data, ccode, cdata, c, 0, ccode.shape[1])
                csize[c] = size[c]
    else:
        c = _pick_component(rng, n_ops)
        n = min(csize[c], size[c])
        if n > 0:
            a = next_int(rng, n)
            b = a + 1 + next_int(rng, n - a)
            _copy_rows(code, data, ccode, cdata, c, a, b)


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
    ids, parents, mutations, signature = pop.ids, pop.parents, pop.mutations, pop.signature
    child, initial, mut = breeding.child, breeding.initial, breeding.mutator
    ccode, cdata, csize = child.code, child.data, child.size
    ops, n_ops, memory = mut.ops, mut.n_ops, mut.memory
    strategy, T, mutate_prob = breeding.strategy, breeding.tournament_size, breeding.mutate_prob
    crossover_prob, species_width = breeding.crossover_prob, breeding.species_width
    by_signature = breeding.species_by_signature
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
            mate = -1      # no draw at all without crossover: such runs are as before
            if crossover_prob > 0.0 and next_float(rng) < crossover_prob:
                mate = mate_tournament(fitness, T, rng, parent, species_width, signature,
                                       by_signature)
            if mate >= 0:
                crossover(rng, child, code[mate], data[mate], size[mate], n_ops)
                kind = CROSSOVER
            else:
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
        if by_signature:
            signature[i] = behaviour_signature(ccode, cdata, csize, evaluation)
        _log_child(log, k, next_id[0], parent_id, kind, f, parent_fit, child)
        next_id[0] += 1
        cursor = (cursor + 1) % P
    profile[P_LOOP] += cycles() - loop_start
    return cursor


@njit(cache=True)
def place_programs(pop, batch, cursor, next_id, kind, evaluation, log):
    """Evaluate the programs ``batch`` (ProgramBuffers with a leading batch axis) and put
    them in the ring from slot ``cursor`` on, logged as made by ``kind`` with no parent (the
    RL controller's samples); returns the next cursor."""
    P = pop.fitness.shape[0]
    log.counts[:] = 0
    for k in range(batch.size.shape[0]):
        i = cursor
        f = evaluate_program(batch.code[k], batch.data[k], batch.size[k], evaluation)
        pop.size[i, :] = pop.code.shape[2]
        _copy_program(batch.code[k], batch.data[k], batch.size[k], pop.code[i], pop.data[i],
                      pop.size[i])
        pop.fitness[i] = f
        pop.ids[i] = next_id[0]
        pop.parents[i] = -1
        pop.mutations[i] = kind
        _log_child(log, k, next_id[0], -1, kind, f, 0.0,
                   ProgramBuffers(batch.code[k], batch.data[k], batch.size[k]))
        next_id[0] += 1
        cursor = (cursor + 1) % P
    return cursor
