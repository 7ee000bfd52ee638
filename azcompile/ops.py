"""The op table: the single source of truth for every instruction of AutoML-Zero.

Each op is one row of data.  Everything that executes or shows a program is rendered
from these rows: the interpreter kernel, each candidate's straight-line kernel, the
exported numpy module and the paper-style listing.  Ids and names are the reference's
enum (``instruction.proto``), so programs can be compared with it.

Semantics templates use a tiny notation that ``azcompile.notation`` renders per target:

* ``A``, ``B``, ``O``: the scalar read from in1 / in2, or written to out.
* ``A[i]``, ``A[i, j]`` (likewise ``B``, ``O``): an element of a vector or matrix operand.
* ``F``: the feature size (a literal constant in generated code).
* ``D0``: activation_data (float64); ``D1``, ``D2``, ``D3``: float_data_0..2 (float32 values).
* ``TV[i]``, ``TM[i, j]``: scratch vector / matrix, so aliased products and transposes are safe.
* ``INDEX(f)``: the coordinate floor(F * f) computed in float32, as the reference does.
* ``UNIFORM(lo, hi, e)``, ``GAUSSIAN(mean, sd, e)``: element ``e`` of this instruction's
  random stream at the current call (see ``azcompile.rng``).

``numpy`` holds the vectorised expression used by the readable export, in the same notation
with whole operands.  ``cost`` is the reference's compute cost of the op (compute_cost.cc),
which the train budget counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

SCALAR, VECTOR, MATRIX = "S", "V", "M"
KIND_CODE = {None: 0, SCALAR: 1, VECTOR: 2, MATRIX: 3}

# Data-argument kinds: what the instruction's float fields mean and how they are drawn.
NO_DATA = "none"
SCALAR_CONST = "scalar_const"        # D0 ~ U(-1, 1)
VECTOR_CONST = "vector_const"        # D1 index fraction, D2 value
MATRIX_CONST = "matrix_const"        # D1, D2 index fractions, D3 value
GAUSSIAN = "gaussian"                # D1 mean, D2 stdev
UNIFORM = "uniform"                  # D1 low, D2 high
DATA_KINDS = (NO_DATA, SCALAR_CONST, VECTOR_CONST, MATRIX_CONST, GAUSSIAN, UNIFORM)
DATA_KIND_CODE = {k: i for i, k in enumerate(DATA_KINDS)}
# The data column that holds a constant op's value (the D index above), for what sets it
# other than mutation: the RL controller, the relaxation and constant tuning.
CONST_VALUE_COLUMN = {SCALAR_CONST: 0, VECTOR_CONST: 2, MATRIX_CONST: 3}
CONST_VALUE_COLUMN_BY_CODE = {DATA_KIND_CODE[k]: c for k, c in CONST_VALUE_COLUMN.items()}


@dataclass(frozen=True)
class Op:
    """One row of the op table."""

    id: int
    name: str
    in1: Optional[str]
    in2: Optional[str]
    out: Optional[str]
    loop: str                 # element-wise semantics for numba kernels
    numpy: str                # vectorised semantics for the readable export
    show: str                 # paper notation, e.g. "O = A + B"
    cost: float               # the reference's compute cost (compute_cost.cc), for the train budget
    data: str = NO_DATA
    commutative: bool = False  # a op b == b op a bit for bit (used by the canonical form)
    partial_write: bool = False  # writes part of its output: the old value stays live

    @property
    def n_inputs(self) -> int:
        return (self.in1 is not None) + (self.in2 is not None)

    @property
    def is_random(self) -> bool:
        return self.data in (GAUSSIAN, UNIFORM)


def _row(i, name, in1, in2, out, loop, numpy, show, **kw):
    return Op(i, name, in1, in2, out, loop.strip("\n"), numpy, show, **kw)


_ELEMENT_V = "for i in range(F):\n    O[i] = {expr}"
_ELEMENT_M = "for i in range(F):\n    for j in range(F):\n        O[i, j] = {expr}"


def _vec(expr):
    return _ELEMENT_V.format(expr=expr.replace("[@]", "[i]"))


def _mat(expr):
    return _ELEMENT_M.format(expr=expr.replace("[@]", "[i, j]"))


_SUM_SQ_V = "t = 0.0\nfor i in range(F):\n    t += A[i] * A[i]\n"
_SUM_SQ_M = "t = 0.0\nfor i in range(F):\n    for j in range(F):\n        t += A[i, j] * A[i, j]\n"
_SUM_V = "t = 0.0\nfor i in range(F):\n    t += A[i]\n"
_SUM_M = "t = 0.0\nfor i in range(F):\n    for j in range(F):\n        t += A[i, j]\n"

S, V, M = SCALAR, VECTOR, MATRIX

OPS: tuple[Op, ...] = (
    _row(0, "NO_OP", None, None, None, "pass", "pass", "NoOp()", cost=3013921.0),
    _row(1, "SCALAR_SUM_OP", S, S, S, "O = A + B", "O = A + B", "O = A + B", commutative=True,
         cost=4703759.0),
    _row(2, "SCALAR_DIFF_OP", S, S, S, "O = A - B", "O = A - B", "O = A - B", cost=5102027.0),
    _row(3, "SCALAR_PRODUCT_OP", S, S, S, "O = A * B", "O = A * B", "O = A * B", commutative=True,
         cost=4418347.0),
    _row(4, "SCALAR_DIVISION_OP", S, S, S, "O = A / B", "O = A / B", "O = A / B", cost=3963916.0),
    _row(5, "SCALAR_ABS_OP", S, None, S, "O = abs(A)", "O = abs(A)", "O = abs(A)", cost=3684352.0),
    _row(6, "SCALAR_RECIPROCAL_OP", S, None, S, "O = 1.0 / A", "O = 1.0 / A", "O = 1 / A",
         cost=4212086.0),
    _row(7, "SCALAR_SIN_OP", S, None, S, "O = np.sin(A)", "O = np.sin(A)", "O = sin(A)",
         cost=7538523.0),
    _row(8, "SCALAR_COS_OP", S, None, S, "O = np.cos(A)", "O = np.cos(A)", "O = cos(A)",
         cost=7452807.0),
    _row(9, "SCALAR_TAN_OP", S, None, S, "O = np.tan(A)", "O = np.tan(A)", "O = tan(A)",
         cost=7583203.0),
    _row(10, "SCALAR_ARCSIN_OP", S, None, S, "O = np.arcsin(A)", "O = np.arcsin(A)",
         "O = arcsin(A)", cost=9145616.0),
    _row(11, "SCALAR_ARCCOS_OP", S, None, S, "O = np.arccos(A)", "O = np.arccos(A)",
         "O = arccos(A)", cost=7673039.0),
    _row(12, "SCALAR_ARCTAN_OP", S, None, S, "O = np.arctan(A)", "O = np.arctan(A)",
         "O = arctan(A)", cost=9273978.0),
    _row(13, "SCALAR_EXP_OP", S, None, S, "O = np.exp(A)", "O = np.exp(A)", "O = exp(A)",
         cost=11755929.0),
    _row(14, "SCALAR_LOG_OP", S, None, S, "O = np.log(A)", "O = np.log(A)", "O = log(A)",
         cost=11627725.0),
    # The reference's scalar Heaviside uses >= 0; the vector and matrix ones use > 0.
    _row(15, "SCALAR_HEAVYSIDE_OP", S, None, S, "O = 1.0 if A >= 0.0 else 0.0",
         "O = 1.0 if A >= 0.0 else 0.0", "O = heaviside(A, 1.0)", cost=4057075.0),
    _row(16, "VECTOR_HEAVYSIDE_OP", V, None, V, _vec("1.0 if A[@] > 0.0 else 0.0"),
         "O = np.where(A > 0.0, 1.0, 0.0)", "O = heaviside(A, 1.0)", cost=3965743.0),
    _row(17, "MATRIX_HEAVYSIDE_OP", M, None, M, _mat("1.0 if A[@] > 0.0 else 0.0"),
         "O = np.where(A > 0.0, 1.0, 0.0)", "O = heaviside(A, 1.0)", cost=6728311.0),
    _row(18, "SCALAR_VECTOR_PRODUCT_OP", S, V, V, _vec("A * B[@]"), "O = A * B", "O = A * B",
         cost=3705015.0),
    _row(19, "SCALAR_BROADCAST_OP", S, None, V, _vec("A"), "O = np.full(F, A)", "O = bcast(A)",
         cost=4165814.0),
    _row(20, "VECTOR_RECIPROCAL_OP", V, None, V, _vec("1.0 / A[@]"), "O = 1.0 / A", "O = 1 / A",
         cost=6311851.0),
    _row(21, "VECTOR_NORM_OP", V, None, S, _SUM_SQ_V + "O = np.sqrt(t)",
         "O = np.sqrt(np.sum(A * A))", "O = norm(A)", cost=4810562.0),
    _row(22, "VECTOR_ABS_OP", V, None, V, _vec("abs(A[@])"), "O = np.abs(A)", "O = abs(A)",
         cost=3713533.0),
    _row(23, "VECTOR_SUM_OP", V, V, V, _vec("A[@] + B[@]"), "O = A + B", "O = A + B",
         commutative=True, cost=4701519.0),
    _row(24, "VECTOR_DIFF_OP", V, V, V, _vec("A[@] - B[@]"), "O = A - B", "O = A - B",
         cost=4165747.0),
    _row(25, "VECTOR_PRODUCT_OP", V, V, V, _vec("A[@] * B[@]"), "O = A * B", "O = A * B",
         commutative=True, cost=4504555.0),
    _row(26, "VECTOR_DIVISION_OP", V, V, V, _vec("A[@] / B[@]"), "O = A / B", "O = A / B",
         cost=4556237.0),
    _row(27, "VECTOR_INNER_PRODUCT_OP", V, V, S,
         "t = 0.0\nfor i in range(F):\n    t += A[i] * B[i]\nO = t",
         "O = np.dot(A, B)", "O = dot(A, B)", commutative=True, cost=4294617.0),
    _row(28, "VECTOR_OUTER_PRODUCT_OP", V, V, M, _mat("A[i] * B[j]"), "O = np.outer(A, B)",
         "O = outer(A, B)", cost=9833707.0),
    _row(29, "SCALAR_MATRIX_PRODUCT_OP", S, M, M, _mat("A * B[@]"), "O = A * B", "O = A * B",
         cost=5986302.0),
    _row(30, "MATRIX_RECIPROCAL_OP", M, None, M, _mat("1.0 / A[@]"), "O = 1.0 / A", "O = 1 / A",
         cost=24336141.0),
    # Products and the transpose go through scratch memory: out may alias an input.
    _row(31, "MATRIX_VECTOR_PRODUCT_OP", M, V, V,
         "for i in range(F):\n    t = 0.0\n    for j in range(F):\n        t += A[i, j] * B[j]\n"
         "    TV[i] = t\nfor i in range(F):\n    O[i] = TV[i]",
         "O = A @ B", "O = dot(A, B)", cost=9310002.0),
    _row(32, "VECTOR_COLUMN_BROADCAST_OP", V, None, M, _mat("A[i]"),
         "O = np.repeat(A[:, None], F, axis=1)", "O = bcast(A, axis=0)", cost=10993088.0),
    _row(33, "VECTOR_ROW_BROADCAST_OP", V, None, M, _mat("A[j]"),
         "O = np.repeat(A[None, :], F, axis=0)", "O = bcast(A, axis=1)", cost=11087322.0),
    _row(34, "MATRIX_NORM_OP", M, None, S, _SUM_SQ_M + "O = np.sqrt(t)",
         "O = np.sqrt(np.sum(A * A))", "O = norm(A)", cost=6422746.0),
    _row(35, "MATRIX_COLUMN_NORM_OP", M, None, V,
         "for j in range(F):\n    t = 0.0\n    for i in range(F):\n        t += A[i, j] * A[i, j]\n"
         "    O[j] = np.sqrt(t)",
         "O = np.sqrt(np.sum(A * A, axis=0))", "O = norm(A, axis=0)", cost=6682187.0),
    _row(36, "MATRIX_ROW_NORM_OP", M, None, V,
         "for i in range(F):\n    t = 0.0\n    for j in range(F):\n        t += A[i, j] * A[i, j]\n"
         "    O[i] = np.sqrt(t)",
         "O = np.sqrt(np.sum(A * A, axis=1))", "O = norm(A, axis=1)", cost=13351123.0),
    _row(37, "MATRIX_TRANSPOSE_OP", M, None, M,
         "for i in range(F):\n    for j in range(F):\n        TM[i, j] = A[j, i]\n"
         "for i in range(F):\n    for j in range(F):\n        O[i, j] = TM[i, j]",
         "O = A.T.copy()", "O = transpose(A)", cost=9394756.0),
    _row(38, "MATRIX_ABS_OP", M, None, M, _mat("abs(A[@])"), "O = np.abs(A)", "O = abs(A)",
         cost=4630926.0),
    _row(39, "MATRIX_SUM_OP", M, M, M, _mat("A[@] + B[@]"), "O = A + B", "O = A + B",
         commutative=True, cost=5579381.0),
    _row(40, "MATRIX_DIFF_OP", M, M, M, _mat("A[@] - B[@]"), "O = A - B", "O = A - B",
         cost=5429452.0),
    _row(41, "MATRIX_PRODUCT_OP", M, M, M, _mat("A[@] * B[@]"), "O = A * B", "O = A * B",
         commutative=True, cost=5475227.0),
    _row(42, "MATRIX_DIVISION_OP", M, M, M, _mat("A[@] / B[@]"), "O = A / B", "O = A / B",
         cost=18234378.0),
    _row(43, "MATRIX_MATRIX_PRODUCT_OP", M, M, M,
         "for i in range(F):\n    for j in range(F):\n        t = 0.0\n        for k in range(F):\n"
         "            t += A[i, k] * B[k, j]\n        TM[i, j] = t\n"
         "for i in range(F):\n    for j in range(F):\n        O[i, j] = TM[i, j]",
         "O = A @ B", "O = matmul(A, B)", cost=14516296.0),
    # min/max follow the reference exactly, including NaN and signed zeros.  Scalar and vector
    # ops are std::min / std::max (the vector ones through Eigen's cwise min/max, which keep
    # std::min's argument order): min(a, b) = b < a ? b : a, max(a, b) = a < b ? b : a, so a
    # NaN in either operand, or two zeros, give a.  The matrix ops are explicit loops in the
    # reference's executor: a < b ? a : b and a > b ? a : b (a NaN in either operand gives b).
    _row(44, "SCALAR_MIN_OP", S, S, S, "O = B if B < A else A", "O = B if B < A else A",
         "O = minimum(A, B)", cost=3677265.0),
    _row(45, "VECTOR_MIN_OP", V, V, V, _vec("B[@] if B[@] < A[@] else A[@]"),
         "O = np.where(B < A, B, A)", "O = minimum(A, B)", cost=3989956.0),
    _row(46, "MATRIX_MIN_OP", M, M, M, _mat("A[@] if A[@] < B[@] else B[@]"),
         "O = np.where(A < B, A, B)", "O = minimum(A, B)", cost=5457728.0),
    _row(47, "SCALAR_MAX_OP", S, S, S, "O = B if A < B else A", "O = B if A < B else A",
         "O = maximum(A, B)", cost=4573695.0),
    _row(48, "VECTOR_MAX_OP", V, V, V, _vec("B[@] if A[@] < B[@] else A[@]"),
         "O = np.where(A < B, B, A)", "O = maximum(A, B)", cost=3974229.0),
    _row(49, "MATRIX_MAX_OP", M, M, M, _mat("A[@] if A[@] > B[@] else B[@]"),
         "O = np.where(A > B, A, B)", "O = maximum(A, B)", cost=5840952.0),
    _row(50, "VECTOR_MEAN_OP", V, None, S, _SUM_V + "O = t / F", "O = np.sum(A) / F",
         "O = mean(A)", cost=4280443.0),
    _row(51, "MATRIX_MEAN_OP", M, None, S, _SUM_M + "O = t / (F * F)", "O = np.sum(A) / (F * F)",
         "O = mean(A)", cost=4595196.0),
    _row(52, "MATRIX_ROW_MEAN_OP", M, None, V,
         "for i in range(F):\n    t = 0.0\n    for j in range(F):\n        t += A[i, j]\n    O[i] = t / F",
         "O = np.sum(A, axis=1) / F", "O = mean(A, axis=1)", cost=9763956.0),
    _row(53, "MATRIX_ROW_ST_DEV_OP", M, None, V,
         "for i in range(F):\n    t = 0.0\n    q = 0.0\n    for j in range(F):\n        t += A[i, j]\n"
         "        q += A[i, j] * A[i, j]\n    t = t / F\n    O[i] = np.sqrt(q / F - t * t)",
         "O = np.sqrt(np.sum(A * A, axis=1) / F - (np.sum(A, axis=1) / F) ** 2)",
         "O = std(A, axis=1)", cost=16766477.0),
    _row(54, "VECTOR_ST_DEV_OP", V, None, S,
         "t = 0.0\nq = 0.0\nfor i in range(F):\n    t += A[i]\n    q += A[i] * A[i]\n"
         "t = t / F\nO = np.sqrt(q / F - t * t)",
         "O = np.sqrt(np.sum(A * A) / F - (np.sum(A) / F) ** 2)", "O = std(A)", cost=5585730.0),
    _row(55, "MATRIX_ST_DEV_OP", M, None, S,
         "t = 0.0\nq = 0.0\nfor i in range(F):\n    for j in range(F):\n        t += A[i, j]\n"
         "        q += A[i, j] * A[i, j]\nt = t / (F * F)\nO = np.sqrt(q / (F * F) - t * t)",
         "O = np.sqrt(np.sum(A * A) / (F * F) - (np.sum(A) / (F * F)) ** 2)", "O = std(A)",
         cost=10640216.0),
    _row(56, "SCALAR_CONST_SET_OP", None, None, S, "O = D0", "O = D0", "O = D0", data=SCALAR_CONST,
         cost=3691108.0),
    _row(57, "VECTOR_CONST_SET_OP", None, None, V, "O[INDEX(D1)] = D2", "O[INDEX(D1)] = D2",
         "O[D1] = D2", data=VECTOR_CONST, partial_write=True, cost=3991421.0),
    _row(58, "MATRIX_CONST_SET_OP", None, None, M, "O[INDEX(D1), INDEX(D2)] = D3",
         "O[INDEX(D1), INDEX(D2)] = D3", "O[D1, D2] = D3", data=MATRIX_CONST, partial_write=True,
         cost=3693035.0),
    _row(59, "SCALAR_UNIFORM_SET_OP", None, None, S, "O = UNIFORM(D1, D2, 0)",
         "O = UNIFORM(D1, D2, 0)", "O = uniform(D1, D2)", data=UNIFORM, cost=26610704.0),
    _row(60, "VECTOR_UNIFORM_SET_OP", None, None, V, _vec("UNIFORM(D1, D2, i)"),
         "O = UNIFORM_V(D1, D2)", "O = uniform(D1, D2, n_features)", data=UNIFORM, cost=57817372.0),
    _row(61, "MATRIX_UNIFORM_SET_OP", None, None, M, _mat("UNIFORM(D1, D2, i * F + j)"),
         "O = UNIFORM_M(D1, D2)", "O = uniform(D1, D2, (n_features, n_features))", data=UNIFORM,
         cost=208339446.0),
    _row(62, "SCALAR_GAUSSIAN_SET_OP", None, None, S, "O = GAUSSIAN(D1, D2, 0)",
         "O = GAUSSIAN(D1, D2, 0)", "O = gaussian(D1, D2)", data=GAUSSIAN, cost=20775635.0),
    _row(63, "VECTOR_GAUSSIAN_SET_OP", None, None, V, _vec("GAUSSIAN(D1, D2, i)"),
         "O = GAUSSIAN_V(D1, D2)", "O = gaussian(D1, D2, n_features)", data=GAUSSIAN,
         cost=77483018.0),
    _row(64, "MATRIX_GAUSSIAN_SET_OP", None, None, M, _mat("GAUSSIAN(D1, D2, i * F + j)"),
         "O = GAUSSIAN_M(D1, D2)", "O = gaussian(D1, D2, (n_features, n_features))", data=GAUSSIAN,
         cost=277690384.0),
)

NUM_OPS = len(OPS)
BY_NAME: dict[str, Op] = {op.name: op for op in OPS}
NO_OP = OPS[0]

def lookup(name_or_id) -> Op:
    """Find an op by enum name (with or without the ``_OP`` suffix, any case) or by id."""
    if isinstance(name_or_id, (int, np.integer)) and not isinstance(name_or_id, bool):
        if 0 <= int(name_or_id) < NUM_OPS:
            return OPS[int(name_or_id)]
        raise KeyError(f"no op with id {name_or_id} (ids are 0..{NUM_OPS - 1})")
    if isinstance(name_or_id, str):
        key = name_or_id.strip().upper()
        for candidate in (key, key + "_OP"):
            if candidate in BY_NAME:
                return BY_NAME[candidate]
        if key == "NO_OP_OP":
            return NO_OP
    raise KeyError(f"unknown op {name_or_id!r}; ops are named like SCALAR_SUM_OP (see `azc ops`)")


def op_arrays() -> dict[str, np.ndarray]:
    """The table as flat arrays, for numba code (mutation, liveness, cost, hashing)."""
    return {
        "in1_kind": np.array([KIND_CODE[o.in1] for o in OPS], dtype=np.int32),
        "in2_kind": np.array([KIND_CODE[o.in2] for o in OPS], dtype=np.int32),
        "out_kind": np.array([KIND_CODE[o.out] for o in OPS], dtype=np.int32),
        "data_kind": np.array([DATA_KIND_CODE[o.data] for o in OPS], dtype=np.int32),
        "commutative": np.array([o.commutative for o in OPS], dtype=np.bool_),
        "partial_write": np.array([o.partial_write for o in OPS], dtype=np.bool_),
        "is_random": np.array([o.is_random for o in OPS], dtype=np.bool_),
        "cost": np.array([o.cost for o in OPS], dtype=np.float64),
    }


OP_ARRAYS = op_arrays()
