"""Liveness over the evaluation loop, dead-code elimination, canonical form and hash, random
streams under DCE, and the feature-dependence (taint) analysis."""
from __future__ import annotations

import numpy as np
import pytest

from azcompile import ops
from azcompile.engine import run
from azcompile.eval_type import MULTICLASS, RMS_ERROR
from azcompile.liveness import (SCALAR_TASK, VECTOR_TASK, canonical, canonical_hash,
                                dead_code_eliminated, feature_dependent, live_instructions,
                                stream_ids)
from azcompile.program import Instruction, Memory, Program, instructions
from programs import README_LEARN, README_MEMORY, readme_linear_regression
from random_programs import random_instruction

MEM = README_MEMORY
LEARN = list(README_LEARN)
linear = readme_linear_regression


def arrays(prog):
    code, data, size = prog.to_arrays()
    return code, data, size


def flags(prog, mode=SCALAR_TASK):
    code, _, size = arrays(prog)
    f = live_instructions(code, size, prog.memory.scalars, prog.memory.vectors, mode)
    return [list(map(bool, f[c, : size[c]])) for c in range(3)]


def is_feature_dependent(prog, mode=SCALAR_TASK):
    code, _, size = arrays(prog)
    return bool(feature_dependent(code, size, prog.memory.scalars, prog.memory.vectors, mode))


# ---- random programs -----------------------------------------------------------------------

def random_program(gen, mem, sizes=(4, 10, 10), mode=SCALAR_TASK):
    """Random instructions over all 65 ops, with random addresses biased towards data flow."""
    defined = {"S": {0}, "V": {0} if mode == SCALAR_TASK else {0, 1}, "M": set()}
    comps = []
    for c, most in enumerate(sizes):
        n = int(gen.integers(0, most + 1))
        comps.append([random_instruction(gen, mem, ops.OPS[int(gen.integers(0, 65))], defined)
                      for _ in range(n)])
    if gen.random() < 0.8:   # usually end Predict by writing the prediction
        kind = "S" if mode == SCALAR_TASK else "V"
        op = gen.choice([o for o in ops.OPS if o.out == kind and o.data == ops.NO_DATA])
        ins = random_instruction(gen, mem, op, defined)
        comps[1].append(Instruction(ins.op, ins.in1, ins.in2, 1 if kind == "S" else 2, ins.data))
    return Program(*comps, memory=mem)


def permuted(prog, gen, mode=SCALAR_TASK):
    """The same program with its non-reserved registers permuted."""
    mem = prog.memory
    reserved = {"S": 2, "V": 1 if mode == SCALAR_TASK else 3, "M": 0}
    perm = {}
    for kind in "SVM":
        free = list(range(reserved[kind], mem.count(kind)))
        shuffled = list(gen.permutation(free))
        perm[kind] = {**{a: a for a in range(reserved[kind])}, **dict(zip(free, shuffled))}

    def ren(kind, a):
        return int(perm[kind][a]) if kind else a

    comps = [[Instruction(i.op, ren(i.op.in1, i.in1), ren(i.op.in2, i.in2), ren(i.op.out, i.out),
                          i.data) for i in comp] for comp in prog.components]
    return Program(*comps, memory=mem)


def data_for(mode, F=4, n=20, seed=0):
    gen = np.random.default_rng(seed)
    x, xv = gen.normal(size=(n, F)), gen.normal(size=(n, F))
    if mode == SCALAR_TASK:
        w = gen.normal(size=F)
        return x, x @ w, xv, xv @ w
    return x, gen.integers(0, 3, n).astype(float), xv, gen.integers(0, 3, n).astype(float)


def predictions(prog, mode=SCALAR_TASK, seed=0, max_abs_error=1e300):
    x, y, xv, yv = data_for(mode, prog.memory.features)
    r = run(prog, x, y, xv, yv, eval_type=RMS_ERROR if mode == SCALAR_TASK else MULTICLASS,
            num_classes=3, epochs=2, seed=seed, max_abs_error=max_abs_error, engine="interp")
    return r


def assert_same_run(a, b):
    assert a.fitness == b.fitness or (np.isnan(a.fitness) and np.isnan(b.fitness))
    assert a.train_steps == b.train_steps
    for p, q in ((a.train_predictions, b.train_predictions),
                 (a.valid_predictions, b.valid_predictions)):
        assert np.array_equal(p, q, equal_nan=True)
        ok = ~np.isnan(p)
        assert np.array_equal(p[ok].view(np.uint64), q[ok].view(np.uint64))


# ---- liveness on a hand-made program -------------------------------------------------------

HAND = Program(
    setup=instructions([
        ("SCALAR_CONST_SET_OP", 0, 0, 2, (0.5, 0, 0, 0)),     # live: Predict reads s2
        ("SCALAR_CONST_SET_OP", 0, 0, 3, (0.25, 0, 0, 0)),    # dead: Predict writes s3 first
        ("VECTOR_CONST_SET_OP", 0, 0, 1, (0, 0.5, 1.0, 0)),   # live: partial write of v1
        ("VECTOR_CONST_SET_OP", 0, 0, 1, (0, 0.0, 2.0, 0)),   # live: v1 keeps the older entry
        ("MATRIX_GAUSSIAN_SET_OP", 0, 0, 1, (0, 0.0, 1.0, 0)),  # dead: m1 is never read
    ]),
    predict=instructions([
        ("VECTOR_INNER_PRODUCT_OP", 0, 1, 3),   # live
        ("SCALAR_PRODUCT_OP", 3, 2, 1),         # dead: s1 is overwritten before it is read
        ("SCALAR_SUM_OP", 3, 2, 1),             # live: the prediction
        ("SCALAR_PRODUCT_OP", 1, 1, 4),         # live: Learn reads s4, which feeds s2
    ]),
    learn=instructions([
        ("SCALAR_DIFF_OP", 4, 0, 5),            # live
        ("SCALAR_SUM_OP", 2, 5, 2),             # live: the next Predict reads s2
        ("SCALAR_VECTOR_PRODUCT_OP", 5, 0, 2),  # dead in a scalar task: v2 never read
        ("VECTOR_OUTER_PRODUCT_OP", 0, 0, 0),   # dead: m0 never read
    ]),
    memory=Memory(6, 4, 2, 4))


def test_live_instructions_by_hand():
    assert flags(HAND, SCALAR_TASK) == [[True, False, True, True, False],
                                        [True, False, True, True],
                                        [True, True, False, False]]


def test_live_instructions_multiclass():
    """In a multi-class task v2 is the prediction and v1 the label the driver writes: the
    Setup writes of v1 die, and Learn's write of v2 (not rewritten by Predict) lives."""
    assert flags(HAND, VECTOR_TASK) == [[True, False, False, False, False],
                                        [True, False, True, True],
                                        [True, True, True, False]]


def test_linear_regression_is_all_live():
    assert flags(linear()) == [[True], [True], [True, True, True, True]]


def test_loop_carried_values_are_live():
    """A Learn result only read by the *next* Predict, and a Predict result only read by the
    following Learn, are both live; a value nothing reads before it is overwritten is not."""
    prog = Program(
        setup=instructions([("SCALAR_SUM_OP", 3, 3, 2)]),        # reads s3: Setup runs first
        predict=instructions([("SCALAR_SUM_OP", 2, 0, 1), ("SCALAR_SUM_OP", 1, 1, 3)]),
        learn=instructions([("SCALAR_SUM_OP", 3, 0, 2), ("SCALAR_SUM_OP", 0, 0, 3)]),
        memory=MEM)
    # predict[1] writes s3, read by learn[0]: live.  learn[1] writes s3 too, but the next
    # Predict overwrites s3 before anything reads it (and Setup never runs again): dead.
    assert flags(prog) == [[True], [True, True], [True, False]]


def test_stream_ids_count_live_random_ops_only():
    prog = Program(
        setup=instructions([("SCALAR_UNIFORM_SET_OP", 0, 0, 3, (0, -1, 1, 0)),    # dead
                            ("SCALAR_GAUSSIAN_SET_OP", 0, 0, 2, (0, 0, 1, 0))]),  # live
        predict=instructions([("VECTOR_UNIFORM_SET_OP", 0, 0, 2, (0, -1, 1, 0)),  # dead
                              ("SCALAR_SUM_OP", 2, 0, 1)]),
        learn=instructions([("SCALAR_UNIFORM_SET_OP", 0, 0, 2, (0, -1, 1, 0))]),  # live
        memory=MEM)
    code, _, size = arrays(prog)
    f = live_instructions(code, size, 4, 3, SCALAR_TASK)
    ids = stream_ids(code, size, f)
    assert ids[0, :2].tolist() == [-1, 0]
    assert ids[1, :2].tolist() == [-1, -1]
    assert ids[2, :1].tolist() == [1]


# ---- canonical hash ------------------------------------------------------------------------

DEAD_LEARN = [("VECTOR_OUTER_PRODUCT_OP", 0, 2, 0), ("MATRIX_SUM_OP", 0, 0, 0),
              ("MATRIX_ROW_NORM_OP", 0, 0, 2), ("SCALAR_ABS_OP", 1, 0, 3)]


def test_dead_learn_code_does_not_change_the_hash():
    """Learn that only writes dead memory hashes like the program without it.  (The last two
    write v2 and s3, live registers, but at points where the old values are dead:
    v2/s3 are rewritten before any read.)"""
    base = linear()
    for k in range(1, len(DEAD_LEARN) + 1):
        noisy = Program(setup=base.setup, predict=base.predict,
                        learn=instructions(DEAD_LEARN[:k]) + base.learn, memory=MEM)
        assert canonical_hash(noisy) == canonical_hash(base)
        assert canonical(noisy)[0] == canonical(base)[0]
    # Dead code everywhere at once (Setup, Predict and Learn).
    noisy = linear(setup=[("SCALAR_CONST_SET_OP", 0, 0, 3, (0.5, 0, 0, 0)),
                          ("MATRIX_UNIFORM_SET_OP", 0, 0, 0, (0, -1, 1, 0))],
                   predict=[("SCALAR_SUM_OP", 1, 1, 3), ("VECTOR_ABS_OP", 1, 0, 2)],
                   learn=[("MATRIX_TRANSPOSE_OP", 0, 0, 0), ("SCALAR_SIN_OP", 3, 0, 3)])
    assert canonical_hash(noisy) == canonical_hash(base)
    assert dead_code_eliminated(noisy) == base


LIVE_EDITS = {
    "learning rate": lambda: linear(lr=0.002),
    "operand order of a difference": lambda: Program(
        setup=linear().setup, predict=linear().predict,
        learn=instructions([("SCALAR_DIFF_OP", 1, 0, 3), *LEARN[1:]]), memory=MEM),
    "op": lambda: Program(
        setup=linear().setup, predict=linear().predict,
        learn=instructions([("SCALAR_SUM_OP", 0, 1, 3), *LEARN[1:]]), memory=MEM),
    "an extra live instruction": lambda: linear(predict=[("SCALAR_SIN_OP", 1, 0, 1)]),
    "instruction order": lambda: Program(
        setup=linear().setup, predict=linear().predict,
        learn=instructions([LEARN[0], LEARN[2], LEARN[1], LEARN[3]]), memory=MEM),
    "a live random op's parameter": lambda: linear(
        predict=[("SCALAR_UNIFORM_SET_OP", 0, 0, 3, (0, -1.0, 1.0, 0)),
                 ("SCALAR_SUM_OP", 1, 3, 1)]),
}


@pytest.mark.parametrize("edit", list(LIVE_EDITS))
def test_live_changes_change_the_hash(edit):
    assert canonical_hash(LIVE_EDITS[edit]()) != canonical_hash(linear())


def test_random_op_parameters_are_hashed():
    def prog(hi):
        return linear(predict=[("SCALAR_UNIFORM_SET_OP", 0, 0, 3, (0, -1.0, hi, 0)),
                               ("SCALAR_SUM_OP", 1, 3, 1)])
    assert canonical_hash(prog(1.0)) != canonical_hash(prog(0.5))


def test_negative_zero_constant_is_a_different_program():
    """1 / -0.0 is -inf: a -0.0 constant is not the same program as a 0.0 one."""
    assert canonical_hash(linear(lr=-0.0)) != canonical_hash(linear(lr=0.0))


def test_renaming_invariance():
    gen = np.random.default_rng(5)
    mem = Memory(6, 5, 3, 4)
    checked = 0
    for _ in range(60):
        for mode in (SCALAR_TASK, VECTOR_TASK):
            prog = random_program(gen, mem, mode=mode)
            other = permuted(prog, gen, mode)
            c1, h1 = canonical(prog, mode)
            c2, h2 = canonical(other, mode)
            assert h1 == h2 and c1 == c2
            checked += sum(len(c) for c in c1.components) > 0
    assert checked > 40
    # A hand-written rename: s2 <-> s3 and v1 <-> v2 in the linear regression.
    renamed = Program(
        setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 3, (0.001, 0, 0, 0))]),
        predict=instructions([("VECTOR_INNER_PRODUCT_OP", 0, 2, 1)]),
        learn=instructions([("SCALAR_DIFF_OP", 0, 1, 2), ("SCALAR_PRODUCT_OP", 2, 3, 2),
                            ("SCALAR_VECTOR_PRODUCT_OP", 2, 0, 1), ("VECTOR_SUM_OP", 2, 1, 2)]),
        memory=MEM)
    assert canonical_hash(renamed) == canonical_hash(linear())


def test_canonical_form_properties():
    gen = np.random.default_rng(6)
    mem = Memory(5, 4, 2, 4)
    for _ in range(80):
        mode = SCALAR_TASK if gen.random() < 0.5 else VECTOR_TASK
        prog = random_program(gen, mem, mode=mode)
        canon, h = canonical(prog, mode)
        canon.validate()
        again, h2 = canonical(canon, mode)                  # idempotent
        assert again == canon and h2 == h
        assert all(all(row) for row in flags(canon, mode))  # everything left is live
        # Registers are numbered by first appearance (in1, in2, out) after the reserved ones.
        reserved = {"S": 2, "V": 1 if mode == SCALAR_TASK else 3, "M": 0}
        nxt = dict(reserved)
        for comp in canon.components:
            for ins in comp:
                for kind, a in ((ins.op.in1, ins.in1), (ins.op.in2, ins.in2),
                                (ins.op.out, ins.out)):
                    if kind and a >= reserved[kind]:
                        assert a <= nxt[kind], canon
                        nxt[kind] += a == nxt[kind]


# ---- DCE keeps live values (differential) --------------------------------------------------

@pytest.mark.parametrize("mode", [SCALAR_TASK, VECTOR_TASK])
def test_dead_code_elimination_keeps_predictions(mode):
    gen = np.random.default_rng(11 + mode)
    mem = Memory(5, 4, 2, 4)
    removed = kept = informative = 0
    for _ in range(80):
        prog = random_program(gen, mem, mode=mode)
        dce = dead_code_eliminated(prog, mode)
        canon = canonical(prog, mode)[0]
        ref = predictions(prog, mode, seed=3)
        assert_same_run(predictions(dce, mode, seed=3), ref)
        assert_same_run(predictions(canon, mode, seed=3), ref)
        n, m = sum(map(len, prog.components)), sum(map(len, dce.components))
        removed += n - m
        kept += m
        vp = ref.valid_predictions
        informative += bool(np.isfinite(vp).all() and np.ptp(vp) > 0)
    assert removed > 100 and kept > 50           # the test exercises real dead code
    assert informative >= 10, (removed, kept, informative)  # programs whose predictions vary


def test_removing_dead_random_ops_keeps_live_random_values():
    """A dead random op before a live one: the live op's stream id is its ordinal among live
    random ops, so the numbers it draws do not move when the dead op goes."""
    live_rand = [("SCALAR_GAUSSIAN_SET_OP", 0, 0, 2, (0, 0.0, 1.0, 0))]
    dead_rand = [("VECTOR_UNIFORM_SET_OP", 0, 0, 2, (0, -1.0, 1.0, 0)),
                 ("SCALAR_UNIFORM_SET_OP", 0, 0, 3, (0, -1.0, 1.0, 0))]
    predict_live = [("VECTOR_UNIFORM_SET_OP", 0, 0, 1, (0, -1.0, 1.0, 0)),
                    ("VECTOR_INNER_PRODUCT_OP", 0, 1, 1), ("SCALAR_SUM_OP", 1, 2, 1)]

    def build(with_dead):
        extra = dead_rand if with_dead else []
        return Program(setup=instructions(extra + live_rand),
                       predict=instructions(extra + predict_live),
                       learn=instructions(extra), memory=MEM)

    with_dead, without = build(True), build(False)
    a = predictions(with_dead, seed=9)
    b = predictions(without, seed=9)
    assert_same_run(a, b)
    assert len(np.unique(a.valid_predictions)) == len(a.valid_predictions)  # noise per call
    c = predictions(without, seed=10)
    assert not np.any(c.valid_predictions == b.valid_predictions)          # the seed matters
    assert canonical_hash(with_dead) == canonical_hash(without)


# ---- feature dependence --------------------------------------------------------------------

FD_CASES = {
    "linear regression": (linear(), SCALAR_TASK, True),
    "constant prediction": (Program(setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 2,
                                                         (0.5, 0, 0, 0))]),
                                    predict=instructions([("SCALAR_SUM_OP", 2, 2, 1)]),
                                    memory=MEM), SCALAR_TASK, False),
    "learned from the label": (Program(predict=instructions([("SCALAR_SUM_OP", 2, 2, 1)]),
                                       learn=instructions([("SCALAR_SUM_OP", 0, 2, 2)]),
                                       memory=MEM), SCALAR_TASK, True),
    "features read but not into s1": (Program(
        predict=instructions([("VECTOR_NORM_OP", 0, 0, 2), ("SCALAR_ABS_OP", 3, 0, 1)]),
        memory=MEM), SCALAR_TASK, False),
    "noise only": (Program(predict=instructions([("SCALAR_GAUSSIAN_SET_OP", 0, 0, 1,
                                                  (0, 0, 1, 0))]), memory=MEM),
                   SCALAR_TASK, False),
    "through a matrix learned in Learn": (Program(
        predict=instructions([("MATRIX_MEAN_OP", 0, 0, 1)]),
        learn=instructions([("VECTOR_OUTER_PRODUCT_OP", 0, 0, 0)]), memory=MEM),
        SCALAR_TASK, True),
    "Setup reads v0 before any features exist": (Program(
        setup=instructions([("VECTOR_NORM_OP", 0, 0, 2)]),
        predict=instructions([("SCALAR_SUM_OP", 2, 2, 1)]), memory=MEM), SCALAR_TASK, False),
    "Predict reads s0, which is 0 during Predict": (Program(
        predict=instructions([("SCALAR_EXP_OP", 0, 0, 1)]), memory=MEM), SCALAR_TASK, False),
    "overwritten by a constant before the prediction": (Program(
        setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 3, (2.0, 0, 0, 0))]),
        predict=instructions([("VECTOR_MEAN_OP", 0, 0, 2), ("SCALAR_PRODUCT_OP", 3, 3, 2),
                              ("SCALAR_SUM_OP", 2, 2, 1)]), memory=MEM), SCALAR_TASK, False),
    "stale prediction written by Learn": (Program(
        learn=instructions([("VECTOR_MEAN_OP", 0, 0, 1)]), memory=MEM), SCALAR_TASK, True),
    "loop-carried through two registers": (Program(
        predict=instructions([("SCALAR_SUM_OP", 3, 3, 1), ("SCALAR_SUM_OP", 2, 2, 3)]),
        learn=instructions([("VECTOR_MEAN_OP", 0, 0, 2)]), memory=MEM), SCALAR_TASK, True),
    "partial write keeps taint": (Program(
        predict=instructions([("VECTOR_CONST_SET_OP", 0, 0, 2, (0, 0.5, 1.0, 0)),
                              ("VECTOR_NORM_OP", 2, 0, 1)]),
        learn=instructions([("VECTOR_SUM_OP", 0, 0, 2)]), memory=MEM), SCALAR_TASK, True),
    "multiclass: v2 from features": (Program(
        predict=instructions([("MATRIX_VECTOR_PRODUCT_OP", 0, 0, 2)]),
        learn=instructions([("VECTOR_OUTER_PRODUCT_OP", 1, 0, 0)]), memory=MEM),
        VECTOR_TASK, True),
    "multiclass: s1 is not the prediction": (Program(
        predict=instructions([("VECTOR_NORM_OP", 0, 0, 1)]), memory=MEM), VECTOR_TASK, False),
    "multiclass: v1 is zero during Predict": (Program(
        predict=instructions([("VECTOR_ABS_OP", 1, 0, 2)]), memory=MEM), VECTOR_TASK, False),
}


@pytest.mark.parametrize("case", list(FD_CASES))
def test_feature_dependent(case):
    prog, mode, expected = FD_CASES[case]
    assert is_feature_dependent(prog, mode) is expected


def test_feature_dependent_is_sound_on_random_programs():
    """Whenever the analysis says "independent", the predictions really do not change when the
    features and labels do."""
    gen = np.random.default_rng(21)
    mem = Memory(4, 3, 1, 4)
    independent = 0
    for _ in range(60):
        prog = random_program(gen, mem, sizes=(3, 4, 4))
        if is_feature_dependent(prog):
            continue
        independent += 1
        x, y, xv, yv = data_for(SCALAR_TASK, seed=1)
        a = run(prog, x, y, xv, yv, epochs=2, max_abs_error=1e300, engine="interp")
        b = run(prog, x * 3 + 1, -y, xv * 2 - 1, yv, epochs=2, max_abs_error=1e300,
                engine="interp")
        assert np.array_equal(a.valid_predictions, b.valid_predictions, equal_nan=True)
    assert independent >= 5
