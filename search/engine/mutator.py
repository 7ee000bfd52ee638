"""Mutations and random programs, as the reference's mutator, randomizer and generator do them.

Works in place on array-encoded programs (``code[3, L, 4]`` rows (op, in1, in2, out),
``data[3, L, 4]``, ``size[3]``) inside numba.  The order of random draws follows the
reference (component, op, position, parameters); the values differ because the generator
is SplitMix64, not mt19937 + Abseil.

Parameters of the mutator travel as ``MutatorSpec`` arrays: op lists per component, allowed
mutation types, size bounds, memory sizes and the mutation probability.
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
from numba import njit

from .. import numba_cache  # noqa: F401  (numba's cache folder before our functions)

from azcompile.ops import DATA_KIND_CODE, OP_ARRAYS, lookup
from azcompile.rng import next_float, next_gaussian, next_int, next_u64

ALTER_PARAM = 0
RANDOMIZE_INSTRUCTION = 1
RANDOMIZE_COMPONENT_FUNCTION = 2
IDENTITY = 3
INSERT_INSTRUCTION = 4
REMOVE_INSTRUCTION = 5
TRADE_INSTRUCTION = 6
RANDOMIZE_ALGORITHM = 7
NOT_MUTATED = -1
MIGRATED = -2             # arrived from another island (lineage only)
# Children not made by a mutation (lineage only, never in a config's mutation list):
CROSSOVER = 8             # recombined from the parent and a mate (evolution.crossover)
SAMPLED = 9               # written by the RL controller (engine.controller)
RELAXED = 10              # an argmax program of the relaxation (engine.relaxation)
MUTATION_NAMES = {
    "alter_param": ALTER_PARAM, "randomize_instruction": RANDOMIZE_INSTRUCTION,
    "randomize_component_function": RANDOMIZE_COMPONENT_FUNCTION, "identity": IDENTITY,
    "insert_instruction": INSERT_INSTRUCTION, "remove_instruction": REMOVE_INSTRUCTION,
    "trade_instruction": TRADE_INSTRUCTION, "randomize_algorithm": RANDOMIZE_ALGORITHM,
}
MUTATION_LABELS = {v: k for k, v in MUTATION_NAMES.items()} | {NOT_MUTATED: "none (copy)",
                                                               MIGRATED: "migration",
                                                               CROSSOVER: "crossover",
                                                               SAMPLED: "rl_sample",
                                                               RELAXED: "relaxation"}

_IN1 = OP_ARRAYS["in1_kind"]
_IN2 = OP_ARRAYS["in2_kind"]
_OUT = OP_ARRAYS["out_kind"]
_DATA = OP_ARRAYS["data_kind"]
_SCALAR_CONST = DATA_KIND_CODE["scalar_const"]
_VECTOR_CONST = DATA_KIND_CODE["vector_const"]
_MATRIX_CONST = DATA_KIND_CODE["matrix_const"]
_GAUSSIAN = DATA_KIND_CODE["gaussian"]
_UNIFORM = DATA_KIND_CODE["uniform"]
SIGN_FLIP_PROB = 0.1


@dataclass
class MutatorSpec:
    ops: np.ndarray          # int32[3, K]: allowed op ids per component (padded)
    n_ops: np.ndarray        # int32[3]
    types: np.ndarray        # int32[n]: allowed mutation types (duplicates weigh more)
    size_min: np.ndarray     # int32[3]
    size_max: np.ndarray     # int32[3]
    memory: np.ndarray       # int64[3]: scalars, vectors, matrices
    mutate_prob: float

    @classmethod
    def build(cls, op_lists, mutation_names, size_min, size_max, memory, mutate_prob):
        width = max(1, max(len(x) for x in op_lists))
        ops = np.zeros((3, width), dtype=np.int32)
        for c, names in enumerate(op_lists):
            ops[c, : len(names)] = [lookup(n).id for n in names]
        return cls(ops, np.array([len(x) for x in op_lists], dtype=np.int32),
                   np.array([MUTATION_NAMES[m] for m in mutation_names], dtype=np.int32),
                   np.array(size_min, dtype=np.int32), np.array(size_max, dtype=np.int32),
                   np.array(memory, dtype=np.int64), float(mutate_prob))

    def arrays(self) -> "MutatorArrays":
        return MutatorArrays(self.ops, self.n_ops, self.types, self.size_min, self.size_max,
                             self.memory)


# MutatorSpec's arrays, as the kernels take them.
MutatorArrays = namedtuple("MutatorArrays", "ops n_ops types size_min size_max memory")


@njit(cache=True, inline="always")
def _f32(x):
    return float(np.float32(x))


@njit(cache=True, inline="always")
def _unit_f32(rng):
    """A float32 value uniform in [0, 1), as Abseil's Uniform<float>(0, 1): 24 random bits.
    (Rounding a double draw to float32 could give 1.0, an index one past the end.)"""
    return float(next_u64(rng) >> np.uint64(40)) * 5.9604644775390625e-08


@njit(cache=True, inline="always")
def _uniform(rng, low, high):
    return low + (high - low) * next_float(rng)


@njit(cache=True)
def _open_uniform(rng, low, high):
    """Uniform in the open interval (low, high)."""
    while True:
        x = _uniform(rng, low, high)
        if low < x < high:
            return x


@njit(cache=True, inline="always")
def _address(rng, kind, memory, output):
    count = memory[kind - 1]
    first = 1 if output and kind != 3 else 0
    return first + next_int(rng, count - first)


@njit(cache=True)
def _randomize_data(rng, op, d):
    kind = _DATA[op]
    if kind == _SCALAR_CONST:
        d[0] = _open_uniform(rng, -1.0, 1.0)
    elif kind == _VECTOR_CONST:
        d[1] = _unit_f32(rng)
        d[2] = _f32(_uniform(rng, -1.0, 1.0))
    elif kind == _MATRIX_CONST:
        d[1] = _unit_f32(rng)
        d[2] = _unit_f32(rng)
        d[3] = _f32(_uniform(rng, -1.0, 1.0))
    elif kind == _GAUSSIAN:
        d[1] = _f32(_uniform(rng, -1.0, 1.0))
        d[2] = _unit_f32(rng)
    elif kind == _UNIFORM:
        d[1] = _f32(_uniform(rng, -1.0, 1.0))
        d[2] = _f32(_uniform(rng, -1.0, 1.0))


@njit(cache=True)
def random_instruction(rng, op, row, d, memory):
    """Reset the instruction and draw its parameters in the reference's order."""
    row[0] = op
    row[1] = 0
    row[2] = 0
    row[3] = 0
    for k in range(4):
        d[k] = 0.0
    if _OUT[op] == 0:
        return
    if _IN1[op] == 0:                   # set ops: out, then data
        row[3] = _address(rng, _OUT[op], memory, True)
        _randomize_data(rng, op, d)
        return
    row[1] = _address(rng, _IN1[op], memory, False)
    if _IN2[op] != 0:
        row[2] = _address(rng, _IN2[op], memory, False)
    row[3] = _address(rng, _OUT[op], memory, True)


@njit(cache=True)
def _flip_or_jitter(rng, x):
    """With probability 0.1 negate, else multiply by exp(N(0, 1)) (a log-scale jitter)."""
    if next_float(rng) < SIGN_FLIP_PROB:
        return -x
    sign = 1.0 if x > 0.0 else -1.0
    return sign * np.exp(np.log(abs(x)) + next_gaussian(rng))


@njit(cache=True)
def _alter_data(rng, op, d):
    kind = _DATA[op]
    if kind == _SCALAR_CONST:
        d[0] = _flip_or_jitter(rng, d[0])
    elif kind == _VECTOR_CONST:
        if next_int(rng, 2) == 0:
            d[1] = _unit_f32(rng)
        else:
            d[2] = _f32(_flip_or_jitter(rng, d[2]))
    elif kind == _MATRIX_CONST:
        choice = next_int(rng, 3)
        if choice == 0:
            d[1] = _unit_f32(rng)
        elif choice == 1:
            d[2] = _unit_f32(rng)
        else:
            d[3] = _f32(_flip_or_jitter(rng, d[3]))
    elif kind == _GAUSSIAN:
        if next_int(rng, 2) == 0:
            d[1] = _f32(_flip_or_jitter(rng, d[1]))
        else:
            sd = d[2]
            sign = 1.0 if sd > 0.0 else -1.0
            d[2] = _f32(sign * np.exp(np.log(abs(sd)) + next_gaussian(rng)))
    elif kind == _UNIFORM:
        k = 1 + next_int(rng, 2)
        d[k] = _f32(_flip_or_jitter(rng, d[k]))
        if d[1] > d[2]:
            low = d[2]
            d[2] = d[1]
            d[1] = low


@njit(cache=True)
def alter_param(rng, row, d, memory):
    op = row[0]
    if _OUT[op] == 0:
        return
    if _IN1[op] == 0:                                # set op
        if next_int(rng, 2) == 0:
            row[3] = _address(rng, _OUT[op], memory, True)
        else:
            _alter_data(rng, op, d)
    elif _IN2[op] == 0:                              # one input
        if next_int(rng, 2) == 0:
            row[1] = _address(rng, _IN1[op], memory, False)
        else:
            row[3] = _address(rng, _OUT[op], memory, True)
    else:                                            # two inputs
        choice = next_int(rng, 3)
        if choice == 0:
            row[1] = _address(rng, _IN1[op], memory, False)
        elif choice == 1:
            row[2] = _address(rng, _IN2[op], memory, False)
        else:
            row[3] = _address(rng, _OUT[op], memory, True)


@njit(cache=True, inline="always")
def _random_op(rng, ops, n_ops, c):
    return ops[c, next_int(rng, n_ops[c])]


@njit(cache=True)
def randomize_component(rng, code, data, size, c, ops, n_ops, memory):
    for i in range(size[c]):
        random_instruction(rng, _random_op(rng, ops, n_ops, c), code[c, i], data[c, i], memory)


@njit(cache=True)
def randomize_program(rng, code, data, size, ops, n_ops, memory):
    """The reference's RANDOM_ALGORITHM: every component with ops, in order, fully random."""
    for c in range(3):
        if n_ops[c] > 0:
            randomize_component(rng, code, data, size, c, ops, n_ops, memory)


@njit(cache=True)
def _pick_component(rng, n_ops):
    usable = 0
    for c in range(3):
        if n_ops[c] > 0:
            usable += 1
    k = next_int(rng, usable)
    for c in range(3):
        if n_ops[c] > 0:
            if k == 0:
                return c
            k -= 1
    return 0


@njit(cache=True)
def _insert_at(rng, code, data, size, c, pos, op, memory):
    n = size[c]
    for i in range(n, pos, -1):
        code[c, i] = code[c, i - 1]
        data[c, i] = data[c, i - 1]
    size[c] = n + 1
    random_instruction(rng, op, code[c, pos], data[c, pos], memory)


@njit(cache=True)
def _remove_at(code, data, size, c, pos):
    n = size[c]
    for i in range(pos, n - 1):
        code[c, i] = code[c, i + 1]
        data[c, i] = data[c, i + 1]
    code[c, n - 1] = 0
    data[c, n - 1] = 0.0
    size[c] = n - 1


@njit(cache=True)
def apply_mutation(rng, kind, program, mutator):
    """One mutation action of type ``kind`` (the reference's Mutator::MutateImpl) on
    ``program`` (code, data, size: evaluator.ProgramBuffers) with ``mutator``'s arrays
    (MutatorArrays)."""
    code, data, size = program.code, program.data, program.size
    ops, n_ops, memory = mutator.ops, mutator.n_ops, mutator.memory
    size_min, size_max = mutator.size_min, mutator.size_max
    if kind == IDENTITY:
        return
    if kind == RANDOMIZE_ALGORITHM:
        randomize_program(rng, code, data, size, ops, n_ops, memory)
        return
    c = _pick_component(rng, n_ops)
    n = size[c]
    if kind == ALTER_PARAM:
        if n > 0:
            i = next_int(rng, n)
            alter_param(rng, code[c, i], data[c, i], memory)
    elif kind == RANDOMIZE_INSTRUCTION:
        if n > 0:
            i = next_int(rng, n)
            random_instruction(rng, _random_op(rng, ops, n_ops, c), code[c, i], data[c, i], memory)
    elif kind == RANDOMIZE_COMPONENT_FUNCTION:
        randomize_component(rng, code, data, size, c, ops, n_ops, memory)
    elif kind == INSERT_INSTRUCTION:
        # The reference stops one short of the maximum (size >= max - 1 does nothing).
        if n < size_max[c] - 1:
            op = _random_op(rng, ops, n_ops, c)
            _insert_at(rng, code, data, size, c, next_int(rng, n + 1), op, memory)
    elif kind == REMOVE_INSTRUCTION:
        if n > size_min[c]:
            _remove_at(code, data, size, c, next_int(rng, n))
    elif kind == TRADE_INSTRUCTION:
        # Insert then remove: size unchanged, bounds not checked (as the reference).
        op = _random_op(rng, ops, n_ops, c)
        _insert_at(rng, code, data, size, c, next_int(rng, n + 1), op, memory)
        _remove_at(code, data, size, c, next_int(rng, n + 1))


@njit(cache=True)
def mutate(rng, program, mutator, mutate_prob):
    """Mutate ``program`` in place with probability ``mutate_prob``; returns the type applied
    or NOT_MUTATED."""
    if mutate_prob < 1.0 and not next_float(rng) < mutate_prob:
        return NOT_MUTATED
    types = mutator.types
    kind = types[next_int(rng, types.shape[0])]
    apply_mutation(rng, kind, program, mutator)
    return kind
