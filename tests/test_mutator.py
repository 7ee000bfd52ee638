"""Mutations and random programs against the reference's mutator, randomizer and generator
(reference_spec.md sections 2.3, 3 and 6).

The numba functions are called directly on array-encoded programs with a SplitMix64 state.
Memory is 5 scalars, 4 vectors, 3 matrices so that every address range is distinct.
"""
from __future__ import annotations

import collections

import numpy as np
import pytest

from azcompile import ops
from azcompile.program import Memory, Program
from azcompile.rng import GOLDEN, mix64, new_state, next_float, next_u64
from azcompile.search.engine import mutator as mu
from azcompile.search.engine.evaluator import ProgramBuffers

S, V, M = 5, 4, 3
MEM = np.array([S, V, M], dtype=np.int64)
MEMORY = Memory(S, V, M, 4)
COUNT = {ops.SCALAR: S, ops.VECTOR: V, ops.MATRIX: M}
FIRST_OUT = {ops.SCALAR: 1, ops.VECTOR: 1, ops.MATRIX: 0}
ALL_OPS = [op.name for op in ops.OPS]
L = 12  # instruction slots per component in these tests
ALL_TYPES = list(mu.MUTATION_NAMES)


def spec(op_lists=(ALL_OPS, ALL_OPS, ALL_OPS), types=ALL_TYPES, size_min=(0, 0, 0),
         size_max=(10, 10, 10), mutate_prob=1.0):
    return mu.MutatorSpec.build([list(x) for x in op_lists], list(types), list(size_min),
                                list(size_max), [S, V, M], mutate_prob)


def empty_program(sizes):
    return (np.zeros((3, L, 4), dtype=np.int32), np.zeros((3, L, 4)),
            np.array(sizes, dtype=np.int32))


def random_program(rng, sp, sizes):
    code, data, size = empty_program(sizes)
    mu.randomize_program(rng, code, data, size, sp.ops, sp.n_ops, sp.memory)
    return code, data, size


def component(code, data, size, c):
    return [(tuple(int(x) for x in code[c, i]), tuple(float(x) for x in data[c, i]))
            for i in range(size[c])]


def components(code, data, size):
    return [component(code, data, size, c) for c in range(3)]


def to_program(code, data, size):
    return Program.from_arrays(code, data, size, MEMORY)


def check_instruction(row, d):
    """Addresses in range for their kind, unused fields zero, data as the op draws it."""
    op = ops.OPS[int(row[0])]
    for k, kind, first in ((1, op.in1, 0), (2, op.in2, 0),
                           (3, op.out, FIRST_OUT.get(op.out, 0))):
        if kind is None:
            assert row[k] == 0, (op.name, k, row)
        else:
            assert first <= row[k] < COUNT[kind], (op.name, k, row)
    assert np.all(np.isfinite(d))
    for k in (1, 2, 3):  # float_data fields hold float32 values
        assert float(np.float32(d[k])) == d[k], (op.name, k, d)
    if op.data == ops.NO_DATA:
        assert not np.any(d), (op.name, d)
    elif op.data == ops.SCALAR_CONST:
        assert d[1] == d[2] == d[3] == 0.0
    elif op.data == ops.VECTOR_CONST:
        assert 0.0 <= d[1] < 1.0 and d[0] == d[3] == 0.0
    elif op.data == ops.MATRIX_CONST:
        assert 0.0 <= d[1] < 1.0 and 0.0 <= d[2] < 1.0 and d[0] == 0.0
    else:  # gaussian, uniform
        assert d[0] == d[3] == 0.0


def fresh_instruction(rng, op_id):
    row = np.zeros(4, dtype=np.int32)
    d = np.zeros(4)
    mu.random_instruction(rng, op_id, row, d, MEM)
    return row, d


# ---- random instructions (RandomizeData, SetOpAndRandomizeParams) -------------------------

def test_random_instruction_ranges_for_every_op():
    rng = new_state(101)
    for op in ops.OPS:
        seen = {1: set(), 2: set(), 3: set()}
        for _ in range(150):
            row, d = fresh_instruction(rng, op.id)
            assert row[0] == op.id
            check_instruction(row, d)
            for k in (1, 2, 3):
                seen[k].add(int(row[k]))
            if op.data == ops.SCALAR_CONST:
                assert -1.0 < d[0] < 1.0
            elif op.data == ops.VECTOR_CONST:
                assert -1.0 <= d[2] <= 1.0
            elif op.data == ops.MATRIX_CONST:
                assert -1.0 <= d[3] <= 1.0
            elif op.data == ops.GAUSSIAN:
                assert -1.0 <= d[1] <= 1.0 and 0.0 <= d[2] <= 1.0   # stdev >= 0 at creation
            elif op.data == ops.UNIFORM:
                assert -1.0 <= d[1] <= 1.0 and -1.0 <= d[2] <= 1.0
        # every address of the kind is drawn; outputs never s0 / v0
        for k, kind in ((1, op.in1), (2, op.in2)):
            if kind is not None:
                assert seen[k] == set(range(COUNT[kind])), (op.name, k, seen[k])
        if op.out is not None:
            assert seen[3] == set(range(FIRST_OUT[op.out], COUNT[op.out])), (op.name, seen[3])


def test_random_instruction_resets_old_fields():
    rng = new_state(5)
    row = np.array([58, 3, 3, 2], dtype=np.int32)
    d = np.array([0.7, 0.3, 0.2, 0.9])
    mu.random_instruction(rng, ops.lookup("SCALAR_ABS_OP").id, row, d, MEM)
    assert row[2] == 0 and not np.any(d)
    mu.random_instruction(rng, 0, row, d, MEM)
    assert list(row) == [0, 0, 0, 0] and not np.any(d)


def test_uniform_set_bounds_are_not_ordered_at_creation():
    """RandomizeData draws low and high independently (not sorted); AlterData sorts them."""
    rng = new_state(7)
    op = ops.lookup("SCALAR_UNIFORM_SET_OP").id
    ordered = [d[1] <= d[2] for _, d in (fresh_instruction(rng, op) for _ in range(400))]
    assert 100 < sum(ordered) < 300


def test_data_distributions():
    rng = new_state(11)
    const = [fresh_instruction(rng, 56)[1][0] for _ in range(4000)]
    index = [fresh_instruction(rng, 57)[1][1] for _ in range(4000)]
    stdev = [fresh_instruction(rng, 62)[1][2] for _ in range(4000)]
    mean = [fresh_instruction(rng, 62)[1][1] for _ in range(4000)]
    for values, lo, hi in ((const, -1, 1), (index, 0, 1), (stdev, 0, 1), (mean, -1, 1)):
        values = np.array(values)
        assert values.min() >= lo and values.max() <= hi
        # uniform: mean and quartiles where they should be
        assert abs(values.mean() - (lo + hi) / 2) < 0.03 * (hi - lo)
        q = np.quantile(values, [0.25, 0.75])
        assert abs(q[0] - (lo + 0.25 * (hi - lo))) < 0.03 * (hi - lo)
        assert abs(q[1] - (lo + 0.75 * (hi - lo))) < 0.03 * (hi - lo)


def _unmix64(z: int) -> int:
    """Inverse of SplitMix64's finaliser (to build a state whose next draw is chosen)."""
    mask = (1 << 64) - 1

    def unxorshift(y, s):
        x = y
        for _ in range(64 // s + 1):
            x = y ^ (x >> s)
        return x & mask

    z = unxorshift(z, 31)
    z = (z * pow(0x94D049BB133111EB, -1, 1 << 64)) & mask
    z = unxorshift(z, 27)
    z = (z * pow(0xBF58476D1CE4E5B9, -1, 1 << 64)) & mask
    return unxorshift(z, 30)


def _state_drawing(outputs_at: dict[int, int]) -> np.ndarray:
    """A generator state whose ``k``-th next_u64 (1-based) returns ``outputs_at[k]``."""
    (k, out), = outputs_at.items()
    raw = (_unmix64(out) - k * int(GOLDEN)) % (1 << 64)
    return np.array([raw], dtype=np.uint64)


def test_state_builder_is_right():
    st = _state_drawing({2: 12345})
    next_u64(st)
    assert int(next_u64(st)) == 12345
    assert int(mix64(np.uint64(_unmix64(987654321)))) == 987654321


def _near_one_state(position, branch_ok=lambda st: True):
    """A state whose ``position``-th draw is a double within a few ulps of 1.0 (which rounds
    to 1.0f), and whose earlier draws satisfy ``branch_ok``."""
    for j in range(2000):
        st = _state_drawing({position: (1 << 64) - 1 - (j << 11)})
        if branch_ok(st.copy()):
            return st
    raise AssertionError("no suitable state")


@pytest.mark.parametrize("op_name, branches", [("VECTOR_CONST_SET_OP", 2),
                                               ("MATRIX_CONST_SET_OP", 3)])
def test_index_fraction_below_one_even_for_the_largest_draw(op_name, branches):
    """Index fractions are float U[0, 1) (Abseil's Uniform<float>): a double draw just below
    1.0 must not round up to 1.0f, at creation or when AlterData re-draws it."""
    op = ops.lookup(op_name).id
    # RandomizeData: draw 1 is the output address, draw 2 the first index fraction
    row, d = fresh_instruction(_near_one_state(2), op)
    assert 0.0 <= d[1] < 1.0
    # AlterData: draw 1 picks the field (0 = first index), draw 2 is the fraction
    st = _near_one_state(2, lambda probe: mu.next_int(probe, branches) == 0)
    d = np.array([0.0, 0.5, 0.5, 0.25])
    mu._alter_data(st, op, d)
    assert 0.0 <= d[1] < 1.0 and d[2:].tolist() == [0.5, 0.25]


# ---- ALTER_PARAM (AlterParam / AlterData) -------------------------------------------------

def _changed_fields(row0, d0, row1, d1):
    return [k for k in (1, 2, 3) if row0[k] != row1[k]] + \
           [4 + k for k in range(4) if not (d0[k] == d1[k] and np.signbit(d0[k]) == np.signbit(d1[k]))]


def test_alter_param_changes_at_most_one_field():
    rng = new_state(202)
    which = collections.Counter()
    for op in ops.OPS:
        row, d = fresh_instruction(rng, op.id)
        for _ in range(120):
            row0, d0 = row.copy(), d.copy()
            mu.alter_param(rng, row, d, MEM)
            assert row[0] == op.id
            check_instruction(row, d)
            changed = _changed_fields(row0, d0, row, d)
            if op.data == ops.UNIFORM and set(changed) == {5, 6}:
                # one bound altered, then low/high re-ordered: the pair keeps one old value
                assert d[1] in (d0[1], d0[2]) or d[2] in (d0[1], d0[2])
            else:
                assert len(changed) <= 1, (op.name, row0, d0, row, d)
            for k in changed:
                which[(op.n_inputs, op.data != ops.NO_DATA, k)] += 1
            if op.name == "NO_OP":
                assert not changed
            if op.data == ops.UNIFORM and any(k >= 4 for k in changed):
                assert d[1] <= d[2]                # AlterData re-orders low and high
            if op.data == ops.GAUSSIAN:
                assert d[2] >= 0.0                 # stdev: log-jitter only, never flipped
    # two-input ops alter in1, in2 and out; one-input ops in1 and out; set ops out and data
    assert which[(2, False, 1)] and which[(2, False, 2)] and which[(2, False, 3)]
    assert which[(1, False, 1)] and which[(1, False, 3)] and not which[(1, False, 2)]
    assert which[(0, True, 3)] and (which[(0, True, 4)] + which[(0, True, 5)]) > 0


def test_alter_scalar_const_flips_sign_one_time_in_ten():
    rng = new_state(303)
    op = ops.lookup("SCALAR_CONST_SET_OP").id
    flips = data_changes = 0
    for _ in range(6000):
        row, d = fresh_instruction(rng, op)
        before = d[0]
        mu.alter_param(rng, row, d, MEM)
        if d[0] != before:
            data_changes += 1
            if d[0] == -before:
                flips += 1
            else:
                assert np.sign(d[0]) == np.sign(before)   # log-scale jitter keeps the sign
    assert abs(data_changes / 6000 - 0.5) < 0.03           # fair coin: out or data
    assert abs(flips / data_changes - 0.1) < 0.02


def test_alter_keeps_float32_and_index_fractions():
    rng = new_state(404)
    for name in ("VECTOR_CONST_SET_OP", "MATRIX_CONST_SET_OP", "VECTOR_GAUSSIAN_SET_OP",
                 "MATRIX_UNIFORM_SET_OP"):
        row, d = fresh_instruction(rng, ops.lookup(name).id)
        for _ in range(300):
            mu.alter_param(rng, row, d, MEM)
            check_instruction(row, d)


def test_alter_zero_becomes_negative_zero():
    """log|0| = -inf: the jitter maps 0 to -0 (inferred reference behaviour)."""
    op = ops.lookup("SCALAR_CONST_SET_OP").id
    seen_negative_zero = False
    for seed in range(200):
        rng = new_state(seed)
        row = np.array([op, 0, 0, 1], dtype=np.int32)
        d = np.zeros(4)
        mu.alter_param(rng, row, d, MEM)
        assert d[0] == 0.0
        seen_negative_zero |= bool(np.signbit(d[0]))
    assert seen_negative_zero


# ---- the mutation types ---------------------------------------------------------------------

def _apply(sp, kind, rng, code, data, size):
    mu.apply_mutation(rng, kind, ProgramBuffers(code, data, size), sp.arrays())


def _allowed(sp, c):
    return set(int(x) for x in sp.ops[c, : sp.n_ops[c]])


def _trials(kind, sp, sizes, n=300, seed=0):
    """(before, after) component lists for ``n`` mutations of fresh random programs."""
    rng = new_state(1000 + 17 * kind + seed)
    out = []
    for _ in range(n):
        code, data, size = random_program(rng, sp, sizes)
        before = components(code, data, size)
        _apply(sp, kind, rng, code, data, size)
        to_program(code, data, size).validate()
        for c in range(3):   # rows beyond the size stay zero
            assert not code[c, size[c]:].any() and not data[c, size[c]:].any()
        out.append((before, components(code, data, size)))
    return out


def _diff_positions(a, b):
    return [i for i, (x, y) in enumerate(zip(a, b)) if x != y]


def test_alter_param_mutation():
    sp = spec()
    changed = 0
    for before, after in _trials(mu.ALTER_PARAM, sp, (3, 4, 5)):
        diffs = [(c, _diff_positions(before[c], after[c])) for c in range(3)]
        assert [len(a) for a in after] == [3, 4, 5]
        touched = [(c, p) for c, ps in diffs for p in ps]
        assert len(touched) <= 1
        for c, p in touched:
            assert before[c][p][0][0] == after[c][p][0][0]       # same op
            changed += 1
    assert changed > 200


def test_randomize_instruction_mutation():
    sp = spec(op_lists=(ALL_OPS, ["SCALAR_SUM_OP", "VECTOR_MEAN_OP"], ["MATRIX_NORM_OP"]))
    comps = collections.Counter()
    for before, after in _trials(mu.RANDOMIZE_INSTRUCTION, sp, (3, 4, 5)):
        assert [len(a) for a in after] == [3, 4, 5]
        touched = [(c, p) for c in range(3) for p in _diff_positions(before[c], after[c])]
        assert len(touched) <= 1
        for c, p in touched:
            assert after[c][p][0][0] in _allowed(sp, c)
            comps[c] += 1
    assert all(comps[c] > 50 for c in range(3)), comps


def test_randomize_component_function_mutation():
    sp = spec(op_lists=(["SCALAR_CONST_SET_OP"], ["VECTOR_INNER_PRODUCT_OP"],
                        ["SCALAR_DIFF_OP", "VECTOR_SUM_OP"]))
    whole = 0
    for before, after in _trials(mu.RANDOMIZE_COMPONENT_FUNCTION, sp, (3, 4, 5)):
        assert [len(a) for a in after] == [3, 4, 5]
        changed = [c for c in range(3) if before[c] != after[c]]
        assert len(changed) <= 1
        for c in changed:
            assert all(ins[0][0] in _allowed(sp, c) for ins in after[c])
            whole += len(_diff_positions(before[c], after[c])) == len(after[c])
    assert whole > 200


def test_identity_mutation_changes_nothing_and_draws_nothing():
    sp = spec()
    rng = new_state(9)
    code, data, size = random_program(rng, sp, (3, 3, 3))
    before = components(code, data, size)
    state = rng.copy()
    _apply(sp, mu.IDENTITY, rng, code, data, size)
    assert components(code, data, size) == before and rng[0] == state[0]


def test_insert_mutation_grows_one_component_by_one():
    sp = spec(size_max=(10, 10, 10))
    positions = collections.Counter()
    for before, after in _trials(mu.INSERT_INSTRUCTION, sp, (2, 3, 4)):
        grown = [c for c in range(3) if len(after[c]) != len(before[c])]
        assert len(grown) == 1
        c = grown[0]
        assert len(after[c]) == len(before[c]) + 1
        # removing one instruction from the result gives the original back
        pos = [p for p in range(len(after[c])) if after[c][:p] + after[c][p + 1:] == before[c]]
        assert pos
        if c == 0:
            positions[min(pos)] += 1   # (ties: an identical neighbour was inserted)
        assert all(before[k] == after[k] for k in range(3) if k != c)
    # positions 0..size inclusive are all used (the end of the list too)
    assert set(positions) == {0, 1, 2}


@pytest.mark.parametrize("size_now, size_max, grows", [
    (3, 5, True), (4, 5, False), (5, 5, False), (7, 5, False), (0, 1, False), (0, 2, True)])
def test_insert_caps_at_max_minus_one(size_now, size_max, grows):
    """INSERT does nothing when size >= max - 1 (reference quirk 2; DoesNotInsertWhenOverMaxSize)."""
    sp = spec(op_lists=([], [], ALL_OPS), size_max=(1, 1, size_max))
    rng = new_state(size_now * 31 + size_max)
    for _ in range(50):
        code, data, size = random_program(rng, sp, (0, 0, size_now))
        before = components(code, data, size)
        _apply(sp, mu.INSERT_INSTRUCTION, rng, code, data, size)
        if grows:
            assert size[2] == size_now + 1
        else:
            assert components(code, data, size) == before


@pytest.mark.parametrize("size_now, size_min, shrinks", [
    (3, 0, True), (3, 2, True), (3, 3, False), (2, 3, False), (0, 0, False), (1, 0, True)])
def test_remove_respects_min(size_now, size_min, shrinks):
    sp = spec(op_lists=(ALL_OPS, [], []), size_min=(size_min, 0, 0))
    rng = new_state(size_now * 7 + size_min)
    removed_at = set()
    for _ in range(60):
        code, data, size = random_program(rng, sp, (size_now, 0, 0))
        before = components(code, data, size)
        _apply(sp, mu.REMOVE_INSTRUCTION, rng, code, data, size)
        after = components(code, data, size)
        if shrinks:
            assert size[0] == size_now - 1
            pos = [p for p in range(size_now) if before[0][:p] + before[0][p + 1:] == after[0]]
            assert pos
            removed_at.add(min(pos))
            assert not code[0, size[0]:].any() and not data[0, size[0]:].any()
        else:
            assert after == before
    if shrinks:
        assert removed_at == set(range(size_now))


@pytest.mark.parametrize("size_now, size_min, size_max", [(4, 0, 10), (5, 2, 5), (4, 6, 8),
                                                           (9, 0, 3), (1, 1, 1)])
def test_trade_keeps_size_and_ignores_bounds(size_now, size_min, size_max):
    sp = spec(op_lists=([], ALL_OPS, []), size_min=(0, size_min, 0), size_max=(10, size_max, 10))
    rng = new_state(size_now * 100 + size_min * 10 + size_max)
    changed = 0
    for _ in range(80):
        code, data, size = random_program(rng, sp, (0, size_now, 0))
        before = components(code, data, size)
        _apply(sp, mu.TRADE_INSTRUCTION, rng, code, data, size)
        after = components(code, data, size)
        assert list(size) == [0, size_now, 0]
        # one instruction out, one (random) instruction in
        missing = collections.Counter(before[1]) - collections.Counter(after[1])
        new = collections.Counter(after[1]) - collections.Counter(before[1])
        assert sum(missing.values()) <= 1 and sum(new.values()) <= 1
        changed += after != before
    # the removal hits the new instruction with probability 1 / (size + 1)
    assert changed > 0.7 * 80 * size_now / (size_now + 1)


def test_randomize_algorithm_mutation():
    sp = spec(op_lists=(["SCALAR_CONST_SET_OP"], [], ["SCALAR_DIFF_OP", "VECTOR_SUM_OP"]))
    rng = new_state(77)
    for _ in range(100):
        code, data, size = empty_program((3, 2, 4))
        # a hand-made Predict that must survive (its op list is empty)
        code[1, 0] = (ops.lookup("VECTOR_INNER_PRODUCT_OP").id, 1, 0, 1)
        before = components(code, data, size)
        _apply(sp, mu.RANDOMIZE_ALGORITHM, rng, code, data, size)
        after = components(code, data, size)
        assert list(size) == [3, 2, 4]
        assert after[1] == before[1]
        for c in (0, 2):
            assert all(ins[0][0] in _allowed(sp, c) for ins in after[c])


@pytest.mark.parametrize("kind", sorted(set(mu.MUTATION_NAMES.values())))
def test_only_components_with_ops_are_touched(kind):
    sp = spec(op_lists=([], ["SCALAR_SUM_OP", "VECTOR_MEAN_OP"], []), size_min=(0, 0, 0),
              size_max=(4, 8, 4))
    rng = new_state(55 + kind)
    nop_setup = (ops.lookup("SCALAR_CONST_SET_OP").id, 0, 0, 2)
    for _ in range(200):
        code, data, size = empty_program((2, 3, 2))
        code[0, 0] = nop_setup
        data[0, 0, 0] = 0.5
        mu.randomize_component(rng, code, data, size, 1, sp.ops, sp.n_ops, sp.memory)
        before = components(code, data, size)
        _apply(sp, kind, rng, code, data, size)
        after = components(code, data, size)
        assert after[0] == before[0] and after[2] == before[2]
        assert list(size[[0, 2]]) == [2, 2]


def test_component_choice_uniform_over_components_with_ops():
    sp = spec(op_lists=(["SCALAR_SUM_OP"], [], ["SCALAR_SUM_OP"]), size_max=(50, 50, 50))
    rng = new_state(66)
    counts = collections.Counter()
    for _ in range(4000):
        code, data, size = empty_program((1, 0, 1))
        _apply(sp, mu.INSERT_INSTRUCTION, rng, code, data, size)
        counts[int(np.argmax(size - np.array([1, 0, 1])))] += 1
    assert counts[1] == 0
    assert abs(counts[0] / 4000 - 0.5) < 0.03


# ---- op choice, mutate_prob, type choice ------------------------------------------------------

def test_op_choice_uniform_over_list_positions():
    """A duplicated op doubles its weight."""
    names = ["SCALAR_SUM_OP", "SCALAR_SUM_OP", "VECTOR_MEAN_OP", "MATRIX_NORM_OP"]
    sp = spec(op_lists=(names, [], []))
    rng = new_state(808)
    counts = collections.Counter()
    n = 0
    for _ in range(500):
        code, data, size = empty_program((10, 0, 0))
        mu.randomize_program(rng, code, data, size, sp.ops, sp.n_ops, sp.memory)
        counts.update(int(x) for x in code[0, :10, 0])
        n += 10
    expect = {ops.lookup("SCALAR_SUM_OP").id: 0.5, ops.lookup("VECTOR_MEAN_OP").id: 0.25,
              ops.lookup("MATRIX_NORM_OP").id: 0.25}
    assert set(counts) == set(expect)
    for op_id, p in expect.items():
        assert abs(counts[op_id] / n - p) < 4 * np.sqrt(p * (1 - p) / n), (op_id, counts)


def test_op_choice_uniform_over_all_ops():
    sp = spec(op_lists=(ALL_OPS, [], []))
    rng = new_state(809)
    counts = collections.Counter()
    for _ in range(650):
        code, data, size = empty_program((10, 0, 0))
        mu.randomize_program(rng, code, data, size, sp.ops, sp.n_ops, sp.memory)
        counts.update(int(x) for x in code[0, :10, 0])
    assert set(counts) == set(range(len(ALL_OPS)))
    # 100 expected per op; 7 sigma is a generous but still failing-able band
    assert max(counts.values()) < 170 and min(counts.values()) > 40


def _mutate(sp, rng, code, data, size):
    return mu.mutate(rng, ProgramBuffers(code, data, size), sp.arrays(), sp.mutate_prob)


def test_mutate_prob_zero_never_mutates():
    sp = spec(mutate_prob=0.0)
    rng = new_state(1)
    for _ in range(2000):
        code, data, size = random_program(rng, sp, (2, 2, 2))
        before = components(code, data, size)
        assert _mutate(sp, rng, code, data, size) == mu.NOT_MUTATED
        assert components(code, data, size) == before


def test_mutate_prob_one_always_mutates_without_a_probability_draw():
    sp = spec(types=["identity"], mutate_prob=1.0)
    rng = new_state(2)
    for _ in range(500):
        expected = rng.copy()
        next_u64(expected)      # only the type choice is drawn
        assert _mutate(sp, rng, *empty_program((1, 1, 1))) == mu.IDENTITY
        assert rng[0] == expected[0]
    sp = spec(types=["randomize_instruction"], mutate_prob=1.0)
    for _ in range(200):
        assert _mutate(sp, rng, *random_program(rng, sp, (2, 2, 2))) == mu.RANDOMIZE_INSTRUCTION


@pytest.mark.parametrize("p", [0.3, 0.9])
def test_mutate_prob_fraction(p):
    sp = spec(types=["identity"], mutate_prob=p)
    rng = new_state(int(p * 100))
    n = 20000
    hits = sum(_mutate(sp, rng, *empty_program((1, 1, 1))) != mu.NOT_MUTATED for _ in range(n))
    assert abs(hits / n - p) < 4 * np.sqrt(p * (1 - p) / n)


def test_mutation_type_uniform_over_list_positions():
    sp = spec(types=["alter_param", "alter_param", "identity"], mutate_prob=1.0)
    rng = new_state(3)
    kinds = collections.Counter(_mutate(sp, rng, *empty_program((1, 1, 1))) for _ in range(6000))
    assert set(kinds) == {mu.ALTER_PARAM, mu.IDENTITY}
    assert abs(kinds[mu.ALTER_PARAM] / 6000 - 2 / 3) < 0.025


def test_mutator_spec_build():
    sp = spec(op_lists=(["SCALAR_SUM_OP"], [], ["no_op", "VECTOR_MEAN"]),
              types=["alter_param", "trade_instruction"], size_min=(1, 2, 3), size_max=(4, 5, 6),
              mutate_prob=0.5)
    assert list(sp.n_ops) == [1, 0, 2]
    assert list(sp.ops[0, :1]) == [1] and list(sp.ops[2, :2]) == [0, 50]
    assert list(sp.types) == [mu.ALTER_PARAM, mu.TRADE_INSTRUCTION]
    assert list(sp.size_min) == [1, 2, 3] and list(sp.size_max) == [4, 5, 6]
    assert list(sp.memory) == [S, V, M] and sp.mutate_prob == 0.5
    assert len(sp.arrays()) == 6


# ---- whole programs -------------------------------------------------------------------------

def test_random_programs_and_mutation_chains_always_validate():
    sp = spec(size_min=(1, 1, 1), size_max=(8, 8, 8))
    rng = new_state(4242)
    kinds = collections.Counter()
    for _ in range(60):
        code, data, size = random_program(rng, sp, (3, 4, 5))
        to_program(code, data, size).validate()
        for _ in range(60):
            kinds[_mutate(sp, rng, code, data, size)] += 1
            assert np.all(size >= 1) and np.all(size <= 7)
            prog = to_program(code, data, size).validate()
            for comp in prog.components:
                for ins in comp:
                    row = np.array([ins.op.id, ins.in1, ins.in2, ins.out])
                    check_instruction(row, np.array(ins.data))
    assert set(kinds) == set(mu.MUTATION_NAMES.values())


def test_randomize_program_order_and_empty_lists():
    """RANDOM_ALGORITHM: components with empty op lists stay as they are (NO_OPs)."""
    sp = spec(op_lists=(["SCALAR_CONST_SET_OP"], [], ["SCALAR_SUM_OP"]))
    rng_a = new_state(12)
    code, data, size = empty_program((2, 3, 2))
    mu.randomize_program(rng_a, code, data, size, sp.ops, sp.n_ops, sp.memory)
    assert not code[1].any()
    assert all(code[0, i, 0] == 56 for i in range(2)) and all(code[2, i, 0] == 1 for i in range(2))
    # Setup first, then Learn, positions in order: the same draws as instruction by instruction
    rng_b = new_state(12)
    for c, op_id in ((0, 56), (0, 56), (2, 1), (2, 1)):
        next_u64(rng_b)   # op choice (a one-element list still draws)
        row, d = fresh_instruction(rng_b, op_id)
    assert rng_a[0] == rng_b[0]
    assert tuple(row) == tuple(code[2, 1]) and tuple(d) == tuple(data[2, 1])


def test_same_seed_same_mutations():
    sp = spec()
    runs = []
    for _ in range(2):
        rng = new_state(99)
        code, data, size = random_program(rng, sp, (3, 3, 3))
        for _ in range(100):
            _mutate(sp, rng, code, data, size)
        runs.append((code.copy(), data.copy(), size.copy()))
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
