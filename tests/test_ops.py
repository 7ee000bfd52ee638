"""Semantics of every op of the table, in both tiers, against hand-written expectations.

How the ops are driven (few numba compiles, many inputs):

* The ops are laid out as *batteries*: straight-line programs in which every instruction reads
  fixed input registers (sA=s2, sB=s3, vA=v1, vB=v2, mA=m0, mB=m1) and writes its own output
  register.  The inputs are written into memory arrays before each run, so one compiled
  battery checks any number of input values.
* interp tier: ``azcompile._interp_kernel.run_component`` runs the battery's instruction
  arrays on the prepared memory (the same generated code the evaluation driver inlines).
* compiled tier: the battery is rendered by ``codegen.candidate_source`` into a candidate
  module (straight-line code with literal addresses and constants) and its ``setup`` function
  runs on the same prepared memory.  Three modules in all (S/V outputs, M outputs plus
  aliasing, partial writes and random ops, and a feature size of 6 for the float32 index
  quirk), loaded through the session's kernel cache directory so warm runs do not compile.

Expected values are written out by hand (literal tables) or computed by plain Python / numpy
re-statements of the reference's formulas, never from the op table's own templates.  Every
register an op does not own is filled with a sentinel and must come back untouched.
"""
from __future__ import annotations

import functools
import hashlib
import math

import numpy as np
import pytest

from azcompile import codegen, jit_cache, ops, rng
from azcompile._interp_kernel import run_component
from azcompile.kernel_args import ProgramArrays, Registers
from azcompile.program import Instruction, Memory, Program

F = 4
NAN, INF = math.nan, math.inf
SA, SB = 2, 3            # scalar inputs
VA, VB = 1, 2            # vector inputs
MA, MB = 0, 1            # matrix inputs
SENTINEL = 1000.0        # + register number: what untouched registers hold


# ---- comparisons ---------------------------------------------------------------------------

def _f64(x):
    return np.array(x, dtype=np.float64, ndmin=1)


def assert_same(actual, expected, what=""):
    """Bit-identical, except that any NaN equals any NaN (payloads are not compared)."""
    a, e = _f64(actual), _f64(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    assert np.array_equal(np.isnan(a), np.isnan(e)), f"{what}: NaN pattern {a} != {e}"
    ok = ~np.isnan(a)
    assert np.array_equal(a[ok].view(np.uint64), e[ok].view(np.uint64)), \
        f"{what}: {a!r} != {e!r} (bits differ)"


def assert_ulps(actual, expected, ulps=2, what=""):
    """Equal up to a few units in the last place (for libm functions), NaN and inf exact."""
    a, e = _f64(actual), _f64(expected)
    assert np.array_equal(np.isnan(a), np.isnan(e)), f"{what}: NaN pattern {a} != {e}"
    fin = np.isfinite(e)
    assert np.array_equal(a[~fin & ~np.isnan(e)], e[~fin & ~np.isnan(e)]), f"{what}: {a} != {e}"
    tol = ulps * np.spacing(np.abs(e[fin])) + 1e-300
    assert np.all(np.abs(a[fin] - e[fin]) <= tol), f"{what}: {a!r} != {e!r}"


# ---- hand-written reference semantics -----------------------------------------------------

def seq_sum(xs):
    """Left-to-right sum, the order the kernels use (so the bits match)."""
    t = 0.0
    for x in np.ravel(xs):
        t += float(x)
    return t


def seq_sumsq(xs):
    t = 0.0
    for x in np.ravel(xs):
        t += float(x) * float(x)
    return t


def ref_std(xs):
    """The reference's formula: sqrt(mean(x^2) - mean(x)^2), with both sums in one pass."""
    xs = [float(x) for x in np.ravel(xs)]
    n = len(xs)
    t = q = 0.0
    for x in xs:
        t += x
        q += x * x
    t = t / n
    with np.errstate(invalid="ignore"):
        return float(np.sqrt(q / n - t * t))


def ref_matvec(M, v):
    out = np.zeros(len(v))
    for i in range(len(v)):
        t = 0.0
        for j in range(len(v)):
            t += M[i, j] * v[j]
        out[i] = t
    return out


def ref_matmul(A, B):
    n = A.shape[0]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            t = 0.0
            for k in range(n):
                t += A[i, k] * B[k, j]
            out[i, j] = t
    return out


def cmin(a, b):
    """C++ std::min(a, b): b if b < a else a (scalar min)."""
    return b if b < a else a


def cmax(a, b):
    """C++ std::max(a, b): b if a < b else a (scalar max)."""
    return b if a < b else a


def ew(fn, *arrays):
    """Element-wise application of a Python function (no numpy NaN rules involved)."""
    shape = np.shape(arrays[0])
    flat = [np.ravel(a) for a in arrays]
    return np.array([fn(*(float(x[k]) for x in flat)) for k in range(flat[0].size)]).reshape(shape)


def heaviside_scalar(a):
    return 1.0 if a >= 0.0 else 0.0


def heaviside_strict(a):
    return 1.0 if a > 0.0 else 0.0


def npf(fn, x):
    with np.errstate(all="ignore"):
        return float(fn(np.float64(x)))


# What each op computes, restated by hand from the reference spec (section 2.2).
# Arguments: st (the input state: sA, sB, vA, vB, mA, mB).
EXPECTED = {
    "SCALAR_SUM_OP": lambda st: st["sA"] + st["sB"],
    "SCALAR_DIFF_OP": lambda st: st["sA"] - st["sB"],
    "SCALAR_PRODUCT_OP": lambda st: st["sA"] * st["sB"],
    "SCALAR_DIVISION_OP": lambda st: npf(lambda a: a / np.float64(st["sB"]), st["sA"]),
    "SCALAR_ABS_OP": lambda st: abs(st["sA"]),
    "SCALAR_RECIPROCAL_OP": lambda st: npf(lambda a: 1.0 / a, st["sA"]),
    "SCALAR_SIN_OP": lambda st: npf(np.sin, st["sA"]),
    "SCALAR_COS_OP": lambda st: npf(np.cos, st["sA"]),
    "SCALAR_TAN_OP": lambda st: npf(np.tan, st["sA"]),
    "SCALAR_ARCSIN_OP": lambda st: npf(np.arcsin, st["sA"]),
    "SCALAR_ARCCOS_OP": lambda st: npf(np.arccos, st["sA"]),
    "SCALAR_ARCTAN_OP": lambda st: npf(np.arctan, st["sA"]),
    "SCALAR_EXP_OP": lambda st: npf(np.exp, st["sA"]),
    "SCALAR_LOG_OP": lambda st: npf(np.log, st["sA"]),
    "SCALAR_HEAVYSIDE_OP": lambda st: heaviside_scalar(st["sA"]),
    "VECTOR_HEAVYSIDE_OP": lambda st: ew(heaviside_strict, st["vA"]),
    "MATRIX_HEAVYSIDE_OP": lambda st: ew(heaviside_strict, st["mA"]),
    "SCALAR_VECTOR_PRODUCT_OP": lambda st: ew(lambda b: st["sA"] * b, st["vB"]),
    "SCALAR_BROADCAST_OP": lambda st: np.full(F, st["sA"]),
    "VECTOR_RECIPROCAL_OP": lambda st: ew(lambda a: npf(lambda x: 1.0 / x, a), st["vA"]),
    "VECTOR_NORM_OP": lambda st: math.sqrt(seq_sumsq(st["vA"])),
    "VECTOR_ABS_OP": lambda st: ew(abs, st["vA"]),
    "VECTOR_SUM_OP": lambda st: ew(lambda a, b: a + b, st["vA"], st["vB"]),
    "VECTOR_DIFF_OP": lambda st: ew(lambda a, b: a - b, st["vA"], st["vB"]),
    "VECTOR_PRODUCT_OP": lambda st: ew(lambda a, b: a * b, st["vA"], st["vB"]),
    "VECTOR_DIVISION_OP": lambda st: ew(lambda a, b: npf(lambda x: x / np.float64(b), a),
                                        st["vA"], st["vB"]),
    "VECTOR_INNER_PRODUCT_OP": lambda st: seq_sum([a * b for a, b in zip(st["vA"], st["vB"])]),
    "VECTOR_OUTER_PRODUCT_OP": lambda st: np.array(
        [[st["vA"][i] * st["vB"][j] for j in range(F)] for i in range(F)]),
    "SCALAR_MATRIX_PRODUCT_OP": lambda st: ew(lambda b: st["sA"] * b, st["mB"]),
    "MATRIX_RECIPROCAL_OP": lambda st: ew(lambda a: npf(lambda x: 1.0 / x, a), st["mA"]),
    "MATRIX_VECTOR_PRODUCT_OP": lambda st: ref_matvec(st["mA"], st["vB"]),
    "VECTOR_COLUMN_BROADCAST_OP": lambda st: np.array(
        [[st["vA"][i] for j in range(F)] for i in range(F)]),
    "VECTOR_ROW_BROADCAST_OP": lambda st: np.array(
        [[st["vA"][j] for j in range(F)] for i in range(F)]),
    "MATRIX_NORM_OP": lambda st: math.sqrt(seq_sumsq(st["mA"])),
    "MATRIX_COLUMN_NORM_OP": lambda st: np.array(
        [math.sqrt(seq_sumsq(st["mA"][:, j])) for j in range(F)]),
    "MATRIX_ROW_NORM_OP": lambda st: np.array(
        [math.sqrt(seq_sumsq(st["mA"][i, :])) for i in range(F)]),
    "MATRIX_TRANSPOSE_OP": lambda st: np.array(
        [[st["mA"][j, i] for j in range(F)] for i in range(F)]),
    "MATRIX_ABS_OP": lambda st: ew(abs, st["mA"]),
    "MATRIX_SUM_OP": lambda st: ew(lambda a, b: a + b, st["mA"], st["mB"]),
    "MATRIX_DIFF_OP": lambda st: ew(lambda a, b: a - b, st["mA"], st["mB"]),
    "MATRIX_PRODUCT_OP": lambda st: ew(lambda a, b: a * b, st["mA"], st["mB"]),
    "MATRIX_DIVISION_OP": lambda st: ew(lambda a, b: npf(lambda x: x / np.float64(b), a),
                                        st["mA"], st["mB"]),
    "MATRIX_MATRIX_PRODUCT_OP": lambda st: ref_matmul(st["mA"], st["mB"]),
    "SCALAR_MIN_OP": lambda st: cmin(st["sA"], st["sB"]),
    # Vector min/max are Eigen's cwise min/max = std::min/std::max element by element; matrix
    # min/max are the executor's loops: a if a < b else b / a if a > b else b.
    "VECTOR_MIN_OP": lambda st: ew(cmin, st["vA"], st["vB"]),
    "MATRIX_MIN_OP": lambda st: ew(lambda a, b: a if a < b else b, st["mA"], st["mB"]),
    "SCALAR_MAX_OP": lambda st: cmax(st["sA"], st["sB"]),
    "VECTOR_MAX_OP": lambda st: ew(cmax, st["vA"], st["vB"]),
    "MATRIX_MAX_OP": lambda st: ew(lambda a, b: a if a > b else b, st["mA"], st["mB"]),
    "VECTOR_MEAN_OP": lambda st: seq_sum(st["vA"]) / F,
    "MATRIX_MEAN_OP": lambda st: seq_sum(st["mA"]) / (F * F),
    "MATRIX_ROW_MEAN_OP": lambda st: np.array([seq_sum(st["mA"][i]) / F for i in range(F)]),
    "MATRIX_ROW_ST_DEV_OP": lambda st: np.array([ref_std(st["mA"][i]) for i in range(F)]),
    "VECTOR_ST_DEV_OP": lambda st: ref_std(st["vA"]),
    "MATRIX_ST_DEV_OP": lambda st: ref_std(st["mA"]),
}
# libm functions: compared to numpy within 2 ulps (the tiers are compared bit for bit).
TRANSCENDENTAL = {"SCALAR_SIN_OP", "SCALAR_COS_OP", "SCALAR_TAN_OP", "SCALAR_ARCSIN_OP",
                  "SCALAR_ARCCOS_OP", "SCALAR_ARCTAN_OP", "SCALAR_EXP_OP", "SCALAR_LOG_OP"}

# Literal cases, computed by hand: (input overrides, expected output).
V = np.array
LITERALS = {
    "SCALAR_SUM_OP": [((1.5, 2.25), 3.75), ((INF, -INF), NAN), ((-0.0, -0.0), -0.0),
                      ((1e308, 1e308), INF)],
    "SCALAR_DIFF_OP": [((1.5, 2.25), -0.75), ((INF, INF), NAN), ((0.0, 0.0), 0.0),
                       ((-0.0, 0.0), -0.0)],
    "SCALAR_PRODUCT_OP": [((1.5, -2.0), -3.0), ((0.0, INF), NAN), ((-0.0, 5.0), -0.0)],
    "SCALAR_DIVISION_OP": [((3.0, 2.0), 1.5), ((1.0, 0.0), INF), ((-1.0, 0.0), -INF),
                           ((0.0, 0.0), NAN), ((1.0, -0.0), -INF)],
    "SCALAR_ABS_OP": [((-2.5, 0), 2.5), ((-0.0, 0), 0.0), ((-INF, 0), INF), ((NAN, 0), NAN)],
    "SCALAR_RECIPROCAL_OP": [((4.0, 0), 0.25), ((0.0, 0), INF), ((-0.0, 0), -INF),
                             ((INF, 0), 0.0)],
    "SCALAR_SIN_OP": [((0.0, 0), 0.0), ((math.pi / 2, 0), 1.0), ((INF, 0), NAN)],
    "SCALAR_COS_OP": [((0.0, 0), 1.0), ((math.pi, 0), -1.0), ((INF, 0), NAN)],
    "SCALAR_TAN_OP": [((0.0, 0), 0.0), ((math.pi / 4, 0), 0.9999999999999999), ((INF, 0), NAN)],
    "SCALAR_ARCSIN_OP": [((1.0, 0), math.pi / 2), ((-0.5, 0), -math.pi / 6), ((2.0, 0), NAN)],
    "SCALAR_ARCCOS_OP": [((1.0, 0), 0.0), ((-1.0, 0), math.pi), ((1.5, 0), NAN)],
    "SCALAR_ARCTAN_OP": [((1.0, 0), math.pi / 4), ((INF, 0), math.pi / 2),
                         ((-INF, 0), -math.pi / 2)],
    "SCALAR_EXP_OP": [((0.0, 0), 1.0), ((1.0, 0), math.e), ((1000.0, 0), INF), ((-INF, 0), 0.0)],
    "SCALAR_LOG_OP": [((1.0, 0), 0.0), ((math.e, 0), 1.0), ((0.0, 0), -INF), ((-1.0, 0), NAN),
                      ((INF, 0), INF)],
    # Scalar Heaviside: 1 if a >= 0 (so 0 and -0 give 1), NaN gives 0.
    "SCALAR_HEAVYSIDE_OP": [((0.0, 0), 1.0), ((-0.0, 0), 1.0), ((1e-300, 0), 1.0),
                            ((-1e-300, 0), 0.0), ((NAN, 0), 0.0), ((INF, 0), 1.0),
                            ((-INF, 0), 0.0)],
    # std::min(a, b) = b if b < a else a: a NaN first argument wins, a NaN second one loses.
    "SCALAR_MIN_OP": [((1.0, 2.0), 1.0), ((2.0, 1.0), 1.0), ((NAN, 1.0), NAN), ((1.0, NAN), 1.0),
                      ((0.0, -0.0), 0.0), ((-0.0, 0.0), -0.0)],
    # std::max(a, b) = b if a < b else a.
    "SCALAR_MAX_OP": [((1.0, 2.0), 2.0), ((2.0, 1.0), 2.0), ((NAN, 1.0), NAN), ((1.0, NAN), 1.0),
                      ((0.0, -0.0), 0.0), ((-0.0, 0.0), -0.0)],
    # Vector/matrix Heaviside are strict: 0 -> 0, unlike the scalar one.
    "VECTOR_HEAVYSIDE_OP": [({"vA": V([0.0, 1e-300, NAN, -2.0])}, V([0.0, 1.0, 0.0, 0.0])),
                            ({"vA": V([-0.0, INF, -INF, 3.0])}, V([0.0, 1.0, 0.0, 1.0]))],
    "MATRIX_HEAVYSIDE_OP": [({"mA": V([[0.0, -0.0, 1e-300, -1e-300], [NAN, INF, -INF, 2.0],
                                       [0.5, -0.5, 0.0, 0.0], [1, 1, 1, 1]])},
                             V([[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0],
                                [1.0, 0.0, 0.0, 0.0], [1, 1, 1, 1]]))],
    # Vector min/max as std::min/std::max (Eigen): with a NaN in either operand, or two zeros,
    # the result is the first operand.
    "VECTOR_MIN_OP": [({"vA": V([NAN, 1.0, 0.0, -0.0]), "vB": V([1.0, NAN, -0.0, 0.0])},
                       V([NAN, 1.0, 0.0, -0.0])),
                      ({"vA": V([NAN, NAN, -0.0, 3.0]), "vB": V([NAN, -INF, -0.0, -1.0])},
                       V([NAN, NAN, -0.0, -1.0])),
                      ({"vA": V([1.0, 5.0, -3.0, 2.0]), "vB": V([2.0, 4.0, -3.5, 2.0])},
                       V([1.0, 4.0, -3.5, 2.0]))],
    "VECTOR_MAX_OP": [({"vA": V([NAN, 1.0, 0.0, -0.0]), "vB": V([1.0, NAN, -0.0, 0.0])},
                       V([NAN, 1.0, 0.0, -0.0])),
                      ({"vA": V([NAN, NAN, -0.0, 3.0]), "vB": V([NAN, INF, -0.0, 5.0])},
                       V([NAN, NAN, -0.0, 5.0])),
                      ({"vA": V([1.0, 5.0, -3.0, 2.0]), "vB": V([2.0, 4.0, -3.5, 2.0])},
                       V([2.0, 5.0, -3.0, 2.0]))],
    # Matrix min/max are the executor's own loops: a NaN in either operand gives the second.
    "MATRIX_MIN_OP": [({"mA": np.tile(V([NAN, 1.0, 0.0, -0.0]), (4, 1)),
                        "mB": np.tile(V([1.0, NAN, -0.0, 0.0]), (4, 1))},
                       np.tile(V([1.0, NAN, -0.0, 0.0]), (4, 1)))],
    "MATRIX_MAX_OP": [({"mA": np.tile(V([NAN, 3.0, 0.0, -0.0]), (4, 1)),
                        "mB": np.tile(V([1.0, NAN, -0.0, 0.0]), (4, 1))},
                       np.tile(V([1.0, NAN, -0.0, 0.0]), (4, 1)))],
    "VECTOR_NORM_OP": [({"vA": V([3.0, -4.0, 0.0, 0.0])}, 5.0)],
    "MATRIX_NORM_OP": [({"mA": np.diag([2.0, 2.0, 2.0, 2.0])}, 4.0)],
    "VECTOR_INNER_PRODUCT_OP": [({"vA": V([1.0, 2.0, 3.0, 4.0]), "vB": V([5.0, 6.0, 7.0, 8.0])},
                                 70.0)],
    "VECTOR_OUTER_PRODUCT_OP": [({"vA": V([1.0, 2.0, 0.0, -1.0]), "vB": V([3.0, 0.5, 1.0, 2.0])},
                                 V([[3.0, 0.5, 1.0, 2.0], [6.0, 1.0, 2.0, 4.0],
                                    [0.0, 0.0, 0.0, 0.0], [-3.0, -0.5, -1.0, -2.0]]))],
    "MATRIX_VECTOR_PRODUCT_OP": [({"mA": V([[1.0, 2, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0],
                                            [1, 1, 1, 1]]), "vB": V([1.0, 2.0, 3.0, 4.0])},
                                  V([5.0, 2.0, 6.0, 10.0]))],
    "MATRIX_MATRIX_PRODUCT_OP": [({"mA": V([[1.0, 2, 0, 0], [3, 4, 0, 0], [0, 0, 1, 0],
                                            [0, 0, 0, 1]]),
                                   "mB": V([[5.0, 6, 0, 0], [7, 8, 0, 0], [0, 0, 2, 0],
                                            [0, 0, 0, 3]])},
                                  V([[19.0, 22, 0, 0], [43, 50, 0, 0], [0, 0, 2, 0],
                                     [0, 0, 0, 3]]))],
    "VECTOR_COLUMN_BROADCAST_OP": [({"vA": V([1.0, 2.0, 3.0, 4.0])},
                                    V([[1.0] * 4, [2.0] * 4, [3.0] * 4, [4.0] * 4]))],
    "VECTOR_ROW_BROADCAST_OP": [({"vA": V([1.0, 2.0, 3.0, 4.0])}, V([[1.0, 2, 3, 4]] * 4))],
    "MATRIX_COLUMN_NORM_OP": [({"mA": V([[3.0, 0, 1, 0], [4.0, 0, 0, 0], [0, 2, 0, 0],
                                         [0, 0, 0, 0]])}, V([5.0, 2.0, 1.0, 0.0]))],
    "MATRIX_ROW_NORM_OP": [({"mA": V([[3.0, 4, 0, 0], [0, 0, 0, 0], [0, 2, 0, 0],
                                      [1, 1, 1, 1]])}, V([5.0, 0.0, 2.0, 2.0]))],
    "MATRIX_TRANSPOSE_OP": [({"mA": np.arange(16.0).reshape(4, 4)},
                             np.arange(16.0).reshape(4, 4).T.copy())],
    "VECTOR_MEAN_OP": [({"vA": V([1.0, 2.0, 3.0, 4.0])}, 2.5)],
    "MATRIX_MEAN_OP": [({"mA": np.arange(16.0).reshape(4, 4)}, 7.5)],
    "MATRIX_ROW_MEAN_OP": [({"mA": np.arange(16.0).reshape(4, 4)}, V([1.5, 5.5, 9.5, 13.5]))],
    # Population std by sqrt(mean(x^2) - mean^2): sqrt(30/4 - 2.5^2) = sqrt(1.25).
    # A constant-looking input can make the difference a tiny negative number: NaN.
    "VECTOR_ST_DEV_OP": [({"vA": V([1.0, 2.0, 3.0, 4.0])}, math.sqrt(1.25)),
                         ({"vA": V([9.50959059362676, 9.509590593626761, 9.50959059362676,
                                    9.50959059362676])}, NAN)],
    "MATRIX_ST_DEV_OP": [({"mA": np.arange(16.0).reshape(4, 4)}, math.sqrt(21.25)),
                         ({"mA": np.full((4, 4), 9.491629526658715)}, NAN)],
    "MATRIX_ROW_ST_DEV_OP": [({"mA": V([[1.0, 2, 3, 4], [2, 2, 2, 2], [0, 0, 0, 8],
                                        [9.50959059362676, 9.509590593626761, 9.50959059362676,
                                         9.50959059362676]])},
                              V([math.sqrt(1.25), 0.0, math.sqrt(12.0), NAN]))],
    "SCALAR_VECTOR_PRODUCT_OP": [({"sA": 2.0, "vB": V([1.0, -2.0, 0.0, 0.5])},
                                  V([2.0, -4.0, 0.0, 1.0])),
                                 ({"sA": -0.0, "vB": V([1.0, -2.0, 0.0, 0.5])},
                                  V([-0.0, 0.0, -0.0, -0.0]))],
    "SCALAR_MATRIX_PRODUCT_OP": [({"sA": 0.5, "mB": np.arange(16.0).reshape(4, 4)},
                                  V([[0.0, 0.5, 1.0, 1.5], [2.0, 2.5, 3.0, 3.5],
                                     [4.0, 4.5, 5.0, 5.5], [6.0, 6.5, 7.0, 7.5]]))],
    "SCALAR_BROADCAST_OP": [((-1.25, 0), V([-1.25] * 4))],
    "VECTOR_RECIPROCAL_OP": [({"vA": V([2.0, 0.0, -0.0, INF])}, V([0.5, INF, -INF, 0.0]))],
    "MATRIX_RECIPROCAL_OP": [({"mA": np.full((4, 4), 4.0)}, np.full((4, 4), 0.25))],
    "VECTOR_DIVISION_OP": [({"vA": V([1.0, -1.0, 0.0, 6.0]), "vB": V([0.0, 0.0, 0.0, 4.0])},
                            V([INF, -INF, NAN, 1.5]))],
    "MATRIX_DIVISION_OP": [({"mA": np.full((4, 4), 1.0), "mB": np.full((4, 4), -0.0)},
                            np.full((4, 4), -INF))],
    "VECTOR_ABS_OP": [({"vA": V([-1.0, -0.0, NAN, -INF])}, V([1.0, 0.0, NAN, INF]))],
    "MATRIX_ABS_OP": [({"mA": np.full((4, 4), -0.0)}, np.zeros((4, 4)))],
    "VECTOR_SUM_OP": [({"vA": V([1.0, INF, 0.5, -0.0]), "vB": V([2.0, -INF, 0.25, -0.0])},
                       V([3.0, NAN, 0.75, -0.0]))],
    "VECTOR_DIFF_OP": [({"vA": V([1.0, INF, 0.5, 0.0]), "vB": V([2.0, INF, 0.25, 0.0])},
                        V([-1.0, NAN, 0.25, 0.0]))],
    "VECTOR_PRODUCT_OP": [({"vA": V([1.5, 0.0, -2.0, 3.0]), "vB": V([2.0, INF, -2.0, -0.0])},
                           V([3.0, NAN, 4.0, -0.0]))],
    "MATRIX_SUM_OP": [({"mA": np.eye(4), "mB": np.eye(4)}, 2 * np.eye(4))],
    "MATRIX_DIFF_OP": [({"mA": np.eye(4), "mB": np.ones((4, 4))}, np.eye(4) - 1.0)],
    "MATRIX_PRODUCT_OP": [({"mA": np.full((4, 4), 3.0), "mB": np.eye(4)}, 3 * np.eye(4))],
}


def _random_state(seed, n=F):
    gen = np.random.default_rng(seed)
    return {"sA": float(gen.uniform(-2, 2)), "sB": float(gen.uniform(-2, 2)),
            "vA": gen.uniform(-2, 2, n), "vB": gen.uniform(-2, 2, n),
            "mA": gen.uniform(-2, 2, (n, n)), "mB": gen.uniform(-2, 2, (n, n))}


RANDOM_STATES = (11, 12, 13)


def literal_state(override):
    """The state of a literal case: random state 11 with the given inputs replaced; a tuple
    gives (sA, sB)."""
    st = dict(_random_state(11))
    if isinstance(override, tuple):
        override = {"sA": override[0], "sB": override[1]}
    for k, val in override.items():
        st[k] = float(val) if k[0] == "s" else np.array(val, dtype=np.float64)
    return st


# ---- batteries -----------------------------------------------------------------------------

class Battery:
    """A Setup of instructions over fixed inputs, each writing its own output register."""

    def __init__(self, key, name, features, scalars, vectors, matrices):
        self.key = key
        self.name = name
        self.F = features
        self.counts = {"S": scalars, "V": vectors, "M": matrices}
        self.next = {"S": 4, "V": 3, "M": 2}   # s0..s3, v0..v2, m0..m1 are inputs
        self.slots = {}                         # key -> (instruction, prefill source or None)
        self.order = []

    def add(self, key, name, *, in1=None, in2=None, out=None, data=(0.0, 0.0, 0.0, 0.0),
            prefill=None):
        op = ops.lookup(name)
        default_in = {"S": SA, "V": VA, "M": MA}
        second_in = {"S": SB, "V": VB, "M": MB}
        if in1 is None:
            in1 = default_in[op.in1] if op.in1 else 0
        if in2 is None:
            in2 = second_in[op.in2] if op.in2 else 0
        if out is None and op.out:
            out = self.next[op.out]
            self.next[op.out] += 1
        in1 = out if in1 == "out" else in1     # aliasing: read the output register
        in2 = out if in2 == "out" else in2
        ins = Instruction(op, in1, in2, out or 0, data)
        self.slots[key] = (ins, prefill)
        self.order.append(key)
        return ins

    @functools.cached_property
    def program(self):
        for kind, used in self.next.items():
            assert used <= self.counts[kind], (self.name, kind, used)
        mem = Memory(self.counts["S"], self.counts["V"], self.counts["M"], self.F)
        prog = Program(setup=tuple(self.slots[k][0] for k in self.order), memory=mem)
        return prog.validate()

    @functools.cached_property
    def arrays(self):
        code, data, size = self.program.to_arrays()
        stream = np.full(code.shape[1], -1, dtype=np.int32)
        k = 0
        for i in range(int(size[0])):
            if ops.OPS[code[0, i, 0]].is_random:
                stream[i] = k
                k += 1
        return np.ascontiguousarray(code[0]), np.ascontiguousarray(data[0]), stream, int(size[0])

    def outputs(self):
        """(kind, address) of every register some instruction writes."""
        return {(ins.op.out, ins.out) for ins, _ in self.slots.values() if ins.op.out}

    def memory(self, st):
        """Fresh memory: sentinels everywhere, inputs in place, prefilled outputs."""
        S, Vn, M, n = self.counts["S"], self.counts["V"], self.counts["M"], self.F
        s = SENTINEL + np.arange(S, dtype=np.float64)
        v = SENTINEL + 100 + np.arange(Vn * n, dtype=np.float64).reshape(Vn, n)
        m = SENTINEL + 200 + np.arange(M * n * n, dtype=np.float64).reshape(M, n, n)
        s[SA], s[SB] = st["sA"], st["sB"]
        v[VA], v[VB] = st["vA"], st["vB"]
        m[MA], m[MB] = st["mA"], st["mB"]
        for ins, prefill in self.slots.values():
            if prefill is not None:
                store = {"S": s, "V": v, "M": m}[ins.op.out]
                store[ins.out] = st[prefill] if isinstance(prefill, str) else prefill
        return s, v, m

    def result(self, memory, key):
        ins = self.slots[key][0]
        s, v, m = memory
        return {"S": s, "V": v, "M": m}[ins.op.out][ins.out].copy()

    # -- the two tiers --
    def run_interp(self, st, seed=0, call=0):
        s, v, m = mem = self.memory(st)
        code, data, stream, n = self.arrays
        program = ProgramArrays(code[None], data[None], stream[None], np.array([n], dtype=np.int32))
        registers = Registers(s, v, m, np.zeros(self.F), np.zeros((self.F, self.F)))
        run_component(program, 0, registers, np.uint64(seed), call, self.F)
        return mem

    @functools.cached_property
    def module(self):
        prog = self.program
        digest = hashlib.sha256(("test_ops " + prog.dumps()).encode()).hexdigest()
        h = int(digest[:16], 16)
        # Straight to the module (its setup is called directly, not the evaluation driver).
        cache = jit_cache.KernelCache()
        path = cache.path_for(h)
        source = codegen.candidate_source(prog, h)
        if jit_cache._read(path) != source:
            jit_cache.atomic_write_text(path, source)
        return jit_cache._import(path, f"azc_test_ops_{h:016x}")

    def run_compiled(self, st, seed=0, call=0):
        s, v, m = mem = self.memory(st)
        self.module.setup(s, v, m, np.zeros(self.F), np.zeros((self.F, self.F)),
                          np.uint64(seed), call)
        return mem


def _build_batteries():
    # A: every op with a scalar or vector output (plus NO_OP and the scalar const set).
    a = Battery("A", "scalar_vector_outputs", F, scalars=32, vectors=24, matrices=2)
    # B: every op with a matrix output, aliasing cases, partial writes, random ops.
    b = Battery("B", "matrix_outputs_alias_partial_random", F, scalars=10, vectors=14,
                matrices=32)
    for op in ops.OPS:
        if op.is_random or op.data != ops.NO_DATA:
            continue
        (b if op.out == "M" else a).add(op.name, op.name)
    a.add("SCALAR_CONST_SET_OP", "SCALAR_CONST_SET_OP", data=(0.1, 0, 0, 0))
    a.add("SCALAR_CONST_SET_OP/neg_zero", "SCALAR_CONST_SET_OP", data=(-0.0, 0, 0, 0))
    a.add("SCALAR_CONST_SET_OP/big", "SCALAR_CONST_SET_OP", data=(123456789.125, 0, 0, 0))
    # out == in: the products and the transpose go through scratch memory.
    b.add("alias/matvec_out_is_vector_in", "MATRIX_VECTOR_PRODUCT_OP", in2="out", prefill="vB")
    b.add("alias/matmul_out_is_in1", "MATRIX_MATRIX_PRODUCT_OP", in1="out", prefill="mA")
    b.add("alias/matmul_out_is_in2", "MATRIX_MATRIX_PRODUCT_OP", in2="out", prefill="mB")
    b.add("alias/matmul_square_in_place", "MATRIX_MATRIX_PRODUCT_OP", in1="out", in2="out",
          prefill="mA")
    b.add("alias/transpose_in_place", "MATRIX_TRANSPOSE_OP", in1="out", prefill="mA")
    b.add("alias/scalar_vector_in_place", "SCALAR_VECTOR_PRODUCT_OP", in2="out", prefill="vA")
    # Partial writes: the const sets change one coordinate and leave the rest as they were.
    for k, (frac, value) in enumerate(VECTOR_CONST_CASES):
        b.add(f"VECTOR_CONST_SET_OP/{k}", "VECTOR_CONST_SET_OP", data=(0.0, frac, value, 0.0),
              prefill="vA")
    for k, (fi, fj, value) in enumerate(MATRIX_CONST_CASES):
        b.add(f"MATRIX_CONST_SET_OP/{k}", "MATRIX_CONST_SET_OP", data=(0.0, fi, fj, value),
              prefill="mA")
    for key, name, data in RANDOM_SLOTS:
        b.add(key, name, data=data)
    # C: the float32 index quirk needs a feature size that is not a power of two.
    c = Battery("C", "index_quirk_F6", 6, scalars=4, vectors=3 + len(INDEX_FRACTIONS_F6),
                matrices=2)
    for k, frac in enumerate(INDEX_FRACTIONS_F6):
        c.add(f"index/{k}", "VECTOR_CONST_SET_OP", data=(0.0, frac, 1.0, 0.0),
              prefill=np.zeros(6))
    return {bat.key: bat for bat in (a, b, c)}


VECTOR_CONST_CASES = [(0.0, 0.1), (0.3, -2.5), (0.74, 7.0), (0.99, 1e-3), (1.0, 42.0)]
MATRIX_CONST_CASES = [(0.0, 0.0, 0.1), (0.3, 0.9, -2.5), (0.99, 0.26, 7.0), (1.0, 0.5, 3.0)]
# floor(6 * f) in float32: for f = float32(5/6) = 0.83333331..., float32 rounds 6 * f up to 5.0
# while the exact (float64) product is 4.9999998... -> the reference's index is 5, not 4.
INDEX_FRACTIONS_F6 = [0.0, 0.1, float(np.float32(5 / 6)), 0.5, 0.9999, 1.0,
                      float(np.nextafter(np.float32(5 / 6), np.float32(0)))]
RANDOM_SLOTS = [
    ("rand/scalar_uniform", "SCALAR_UNIFORM_SET_OP", (0.0, -0.5, 1.5, 0.0)),
    ("rand/vector_uniform", "VECTOR_UNIFORM_SET_OP", (0.0, -0.5, 1.5, 0.0)),
    ("rand/matrix_uniform", "MATRIX_UNIFORM_SET_OP", (0.0, -0.5, 1.5, 0.0)),
    ("rand/scalar_gaussian", "SCALAR_GAUSSIAN_SET_OP", (0.0, 0.25, 2.0, 0.0)),
    ("rand/vector_gaussian", "VECTOR_GAUSSIAN_SET_OP", (0.0, 0.25, 2.0, 0.0)),
    ("rand/matrix_gaussian", "MATRIX_GAUSSIAN_SET_OP", (0.0, 0.25, 2.0, 0.0)),
    # Empty uniform range: the low end, without randomness (Abseil's behaviour).
    ("rand/uniform_empty", "SCALAR_UNIFORM_SET_OP", (0.0, 0.75, -0.25, 0.0)),
    ("rand/vector_uniform_empty", "VECTOR_UNIFORM_SET_OP", (0.0, 0.5, 0.5, 0.0)),
    # Negative stdev mirrors the noise around the mean.
    ("rand/gaussian_negative_sd", "SCALAR_GAUSSIAN_SET_OP", (0.0, 0.25, -2.0, 0.0)),
    # Same parameters as the first scalar uniform, another stream: different numbers.
    ("rand/scalar_uniform_2", "SCALAR_UNIFORM_SET_OP", (0.0, -0.5, 1.5, 0.0)),
]

BATTERIES = _build_batteries()
TIERS = ("interp", "compiled")


def battery_of(key):
    for bat in BATTERIES.values():
        if key in bat.slots:
            return bat
    raise KeyError(key)


def run(bat, tier, st, seed=0, call=0):
    return bat.run_interp(st, seed, call) if tier == "interp" else bat.run_compiled(st, seed, call)


_STATES = {}


@functools.lru_cache(maxsize=None)
def _run_cached(bat_key, tier, st_key):
    return run(BATTERIES[bat_key], tier, _STATES[st_key])


def result(key, tier, st):
    """The output of battery slot ``key`` when its battery runs on inputs ``st`` (memoised:
    one battery run serves every op of the battery)."""
    bat = battery_of(key)
    st_key = hashlib.sha1(repr(sorted((k, np.asarray(v).tobytes()) for k, v in st.items()))
                          .encode()).hexdigest()
    _STATES[st_key] = st
    return bat.result(_run_cached(bat.key, tier, st_key), key)


# ---- the tests -----------------------------------------------------------------------------

def test_every_op_is_in_a_battery():
    names = {ins.op.name for bat in BATTERIES.values() for ins, _ in bat.slots.values()}
    assert names == {op.name for op in ops.OPS}
    assert len(ops.OPS) == 65
    assert [op.id for op in ops.OPS] == list(range(65))


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("name", sorted(EXPECTED, key=lambda n: ops.lookup(n).id))
def test_op_semantics(name, tier):
    """Each op on random inputs and on its literal (hand-computed) cases."""
    cases = [(_random_state(seed), None) for seed in RANDOM_STATES]
    cases += [(literal_state(override), expected) for override, expected in LITERALS.get(name, [])]
    assert len(cases) > len(RANDOM_STATES) or name not in LITERALS
    for st, literal in cases:
        got = result(name, tier, st)
        want = EXPECTED[name](st)
        check = assert_ulps if name in TRANSCENDENTAL else assert_same
        check(got, want, what=f"{name} [{tier}] formula")
        if literal is not None:
            if name in TRANSCENDENTAL:
                assert_ulps(got, literal, what=f"{name} [{tier}] literal")
            elif name in ("VECTOR_ST_DEV_OP", "MATRIX_ST_DEV_OP", "MATRIX_ROW_ST_DEV_OP",
                          "VECTOR_NORM_OP", "MATRIX_NORM_OP"):
                assert_ulps(got, literal, ulps=1, what=f"{name} [{tier}] literal")
            else:
                assert_same(got, literal, what=f"{name} [{tier}] literal")


@pytest.mark.parametrize("name", sorted(EXPECTED, key=lambda n: ops.lookup(n).id))
def test_tiers_bit_identical(name):
    for seed in RANDOM_STATES:
        st = _random_state(seed)
        assert_same(result(name, "compiled", st), result(name, "interp", st), what=name)
    for override, _ in LITERALS.get(name, []):
        st = literal_state(override)
        assert_same(result(name, "compiled", st), result(name, "interp", st), what=name)


def test_std_formula_is_the_reference_one_not_numpys():
    """sqrt(E[x^2] - E[x]^2) loses digits where numpy's two-pass std does not."""
    st = literal_state({"vA": V([1e8, 1e8 + 1.0, 1e8 + 2.0, 1e8 + 3.0])})
    for tier in TIERS:
        got = float(result("VECTOR_ST_DEV_OP", tier, st))
        assert got == ref_std(st["vA"])
        assert got != float(np.std(st["vA"]))          # numpy: sqrt(1.25) = 1.118...


@pytest.mark.parametrize("tier", TIERS)
def test_no_op_and_ops_write_only_their_output(tier):
    """After a whole battery, every register that no instruction writes is untouched."""
    for bat in BATTERIES.values():
        st = _random_state(11, bat.F)
        s, v, m = run(bat, tier, st)
        s0, v0, m0 = bat.memory(st)
        written = bat.outputs()
        for kind, now, before in (("S", s, s0), ("V", v, v0), ("M", m, m0)):
            for addr in range(len(now)):
                if (kind, addr) not in written:
                    assert_same(now[addr], before[addr], what=f"{bat.name} {kind}{addr}")


@pytest.mark.parametrize("tier", TIERS)
def test_scalar_const_set_is_float64(tier):
    st = _random_state(11)
    assert_same(result("SCALAR_CONST_SET_OP", tier, st), 0.1)   # not float32(0.1)
    assert_same(result("SCALAR_CONST_SET_OP/neg_zero", tier, st), -0.0)
    assert_same(result("SCALAR_CONST_SET_OP/big", tier, st), 123456789.125)


@pytest.mark.parametrize("tier", TIERS)
def test_vector_const_set_partial_write(tier):
    """v[floor(F * f)] = float32(value); every other coordinate keeps its old value."""
    st = _random_state(12)
    for k, (frac, value) in enumerate(VECTOR_CONST_CASES):
        got = result(f"VECTOR_CONST_SET_OP/{k}", tier, st)
        index = {0.0: 0, 0.3: 1, 0.74: 2, 0.99: 3, 1.0: 3}[frac]   # 1.0 clamps to F - 1
        want = st["vA"].copy()
        want[index] = float(np.float32(value))
        assert_same(got, want, what=f"vector const set {frac}")
    assert float(np.float32(0.1)) != 0.1          # the float32 rounding is visible


@pytest.mark.parametrize("tier", TIERS)
def test_matrix_const_set_partial_write(tier):
    st = _random_state(13)
    where = {0: (0, 0), 1: (1, 3), 2: (3, 1), 3: (3, 2)}
    for k, (fi, fj, value) in enumerate(MATRIX_CONST_CASES):
        got = result(f"MATRIX_CONST_SET_OP/{k}", tier, st)
        want = st["mA"].copy()
        want[where[k]] = float(np.float32(value))
        assert_same(got, want, what=f"matrix const set {fi}, {fj}")


@pytest.mark.parametrize("tier", TIERS)
def test_index_fraction_is_floor_of_float32_product(tier):
    """With F = 6, float32(6 * float32(5/6)) rounds up to 5: the reference's index is 5 where
    exact arithmetic gives 4; one float32 step lower gives 4."""
    bat = BATTERIES["C"]
    st = {"sA": 0.0, "sB": 0.0, "vA": np.zeros(6), "vB": np.zeros(6), "mA": np.zeros((6, 6)),
          "mB": np.zeros((6, 6))}
    mem = run(bat, tier, st)
    expected = [0, 0, 5, 3, 5, 5, 4]
    for k, frac in enumerate(INDEX_FRACTIONS_F6):
        got = bat.result(mem, f"index/{k}")
        assert np.count_nonzero(got) == 1 and got[expected[k]] == 1.0, (frac, got)
        assert expected[k] == min(int(np.float32(6) * np.float32(frac)), 5)
    # The quirk is real: in float64 the third fraction would give index 4.
    assert math.floor(6 * INDEX_FRACTIONS_F6[2]) == 4


@pytest.mark.parametrize("tier", TIERS)
def test_aliasing_products_and_transpose(tier):
    st = _random_state(12)
    # Exact reference values from the inputs (computed before anything was overwritten).
    checks = {
        "alias/matvec_out_is_vector_in": ref_matvec(st["mA"], st["vB"]),
        "alias/matmul_out_is_in1": ref_matmul(st["mA"], st["mB"]),
        "alias/matmul_out_is_in2": ref_matmul(st["mA"], st["mB"]),
        "alias/matmul_square_in_place": ref_matmul(st["mA"], st["mA"]),
        "alias/transpose_in_place": st["mA"].T.copy(),
        "alias/scalar_vector_in_place": st["sA"] * st["vA"],
    }
    for key, want in checks.items():
        assert_same(result(key, tier, st), want, what=key)
    # And they agree with numpy's own products to rounding.
    np.testing.assert_allclose(result("alias/matmul_square_in_place", tier, st),
                               st["mA"] @ st["mA"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result("MATRIX_VECTOR_PRODUCT_OP", tier, st), st["mA"] @ st["vB"],
                               rtol=1e-12, atol=1e-12)


def test_aliasing_would_matter():
    """Sanity check of the aliasing cases: a naive in-place product gives other numbers."""
    st = _random_state(12)
    A = st["mA"].copy()
    for i in range(F):             # naive in-place A = A @ A, row by row
        for j in range(F):
            A[i, j] = sum(A[i, k] * A[k, j] for k in range(F))
    assert not np.allclose(A, ref_matmul(st["mA"], st["mA"]))


# ---- random ops ----------------------------------------------------------------------------

N_CALLS = 1500


@functools.lru_cache(maxsize=None)
def random_draws(tier, seed, n_calls=N_CALLS):
    """Every random slot's value at calls 0..n_calls-1 (one battery run per call)."""
    bat = BATTERIES["B"]
    st = _random_state(11)
    out = {key: [] for key, _, _ in RANDOM_SLOTS}
    for call in range(n_calls):
        mem = run(bat, tier, st, seed=seed, call=call)
        for key in out:
            out[key].append(bat.result(mem, key))
    return {key: np.array(vals) for key, vals in out.items()}


def test_random_ops_bit_identical_across_tiers():
    a, b = random_draws("interp", 7, 200), random_draws("compiled", 7, 200)
    for key in a:
        assert_same(a[key], b[key], what=key)


def test_uniform_moments():
    d = random_draws("interp", 7)
    lo, hi = float(np.float32(-0.5)), float(np.float32(1.5))
    for key in ("rand/scalar_uniform", "rand/vector_uniform", "rand/matrix_uniform"):
        x = d[key].ravel()
        assert np.all((x > lo) & (x < hi)), key          # the open interval
        n = x.size
        mean, var = (lo + hi) / 2, (hi - lo) ** 2 / 12
        assert abs(x.mean() - mean) < 5 * math.sqrt(var / n), key
        assert abs(x.var() - var) < 0.1 * var, key
        # Uniform: each quarter of the range holds about a quarter of the draws.
        counts = np.histogram(x, bins=4, range=(lo, hi))[0] / n
        assert np.all(np.abs(counts - 0.25) < 0.05), (key, counts)


def test_gaussian_moments():
    d = random_draws("interp", 7)
    mean, sd = float(np.float32(0.25)), 2.0
    for key in ("rand/scalar_gaussian", "rand/vector_gaussian", "rand/matrix_gaussian"):
        x = d[key].ravel()
        n = x.size
        assert abs(x.mean() - mean) < 5 * sd / math.sqrt(n), key
        assert abs(x.std() - sd) < 0.08 * sd, key
        z = (x - mean) / sd
        assert abs(np.mean(z ** 3)) < 0.25, key                 # skewness
        assert abs(np.mean(z ** 4) - 3.0) < 0.5, key            # kurtosis
        assert 0.62 < np.mean(np.abs(z) < 1.0) < 0.74, key      # 68% within one sd


def test_random_special_parameters():
    d = random_draws("interp", 7, 200)
    # f0 >= f1: the low end, every time.
    assert np.all(d["rand/uniform_empty"] == float(np.float32(0.75)))
    assert np.all(d["rand/vector_uniform_empty"] == 0.5)
    # Negative stdev: mean + (-sd) * z with z the stream's standard normal draw.
    k = [key for key, _, _ in RANDOM_SLOTS].index("rand/gaussian_negative_sd")
    z = np.array([rng.gaussian_at(np.uint64(rng.stream_base(np.uint64(7), k, call)), 0, 0.0, 1.0)
                  for call in range(200)])
    assert_same(d["rand/gaussian_negative_sd"], float(np.float32(0.25)) + (-2.0) * z)


@pytest.mark.parametrize("tier", TIERS)
def test_random_ops_draw_from_their_counter_stream(tier):
    """Element e of a random op at call c with stream k is a pure function of
    (seed, k, c, e): azcompile.rng.uniform_at / gaussian_at of stream_base(seed, k, c).
    The stream id is the op's ordinal among the program's (live) random ops."""
    d = random_draws(tier, 7, 200) if tier == "compiled" else random_draws(tier, 7)
    for k, (key, name, data) in enumerate(RANDOM_SLOTS):
        op = ops.lookup(name)
        lo, hi = float(np.float32(data[1])), float(np.float32(data[2]))
        draw = rng.uniform_at if op.data == ops.UNIFORM else rng.gaussian_at
        for call in (0, 1, 57, 199):
            base = np.uint64(rng.stream_base(np.uint64(7), k, call))
            got = np.ravel(d[key][call])
            want = [draw(base, e, lo, hi) for e in range(got.size)]
            assert_same(got, want, what=f"{key} call {call}")


def test_random_determinism_and_independence():
    a, b = random_draws("interp", 7), random_draws("interp", 7)
    c = random_draws("interp", 8, 200)
    for key in a:
        assert_same(a[key], b[key], what=key)               # same seed, stream, call: same
    u1, u2 = a["rand/scalar_uniform"], a["rand/scalar_uniform_2"]
    assert not np.any(u1 == u2)                             # another stream: other numbers
    assert abs(np.corrcoef(u1, u2)[0, 1]) < 0.1             # ... and uncorrelated
    assert len(np.unique(u1)) == len(u1)                    # another call: another number
    assert not np.any(c["rand/scalar_uniform"] == u1[:200])  # another seed: other numbers
    # Elements of one op's vector are distinct draws, uncorrelated with each other.
    vec = a["rand/vector_uniform"]
    assert abs(np.corrcoef(vec[:, 0], vec[:, 1])[0, 1]) < 0.1
    mat = a["rand/matrix_gaussian"].reshape(len(vec), -1)
    assert abs(np.corrcoef(mat[:, 0], mat[:, 15])[0, 1]) < 0.1
    assert len(np.unique(mat)) == mat.size


def test_cost_is_a_column_of_the_op_table():
    """The reference's compute costs (compute_cost.cc), bit for bit as the table held them."""
    import json
    from pathlib import Path

    golden = json.loads((Path(__file__).parent / "data" / "notation_golden.json").read_text())
    assert {op.name: op.cost for op in ops.OPS} == golden["cost"]
    assert ops.OP_ARRAYS["cost"].dtype == np.float64
    assert list(ops.OP_ARRAYS["cost"]) == [op.cost for op in ops.OPS]
