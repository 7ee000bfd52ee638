"""The helpers exported modules carry (azcompile/export/helpers.py), tested directly: they
compute what the engine computes (left-to-right sums, C library math with IEEE results,
the engine's random streams), and the copy in exported modules is this code."""
import math

import numpy as np
import pytest

from azcompile import rng
from azcompile.export import helpers
from azcompile.export.assemble import helper_source


def _left_to_right(values) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def test_sums_run_left_to_right_like_the_engine():
    gen = np.random.default_rng(0)
    a = gen.normal(size=257) * 10.0 ** gen.integers(-8, 8, size=257)
    assert helpers._sum(a) == _left_to_right(a)
    tiny = np.array([1.0] + [1e-16] * 1000)   # left to right, each 1e-16 rounds away
    assert helpers._sum(tiny) == 1.0 != np.sum(tiny)   # numpy's pairwise sum keeps them
    b = gen.normal(size=257)
    assert helpers._dot(a, b) == _left_to_right(a * b)
    m, x = gen.normal(size=(4, 4)), gen.normal(size=4)
    np.testing.assert_array_equal(helpers._matmul(m, x), [_left_to_right(row * x) for row in m])
    p = gen.normal(size=(4, 4))
    expected = [[_left_to_right(m[i] * p[:, j]) for j in range(4)] for i in range(4)]
    np.testing.assert_array_equal(helpers._matmul(m, p), expected)
    # The engine starts its sums at 0.0: a total of -0.0 is +0.0.
    assert math.copysign(1.0, helpers._sum(np.array([-0.0, -0.0]))) == 1.0
    np.testing.assert_array_equal(helpers._sum(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0), [4.0, 6.0])


@pytest.mark.parametrize("name,x,expected", [
    ("_sin", math.inf, math.nan), ("_cos", -math.inf, math.nan), ("_tan", math.inf, math.nan),
    ("_arcsin", 2.0, math.nan), ("_arccos", -1.5, math.nan), ("_arctan", math.inf, math.pi / 2),
    ("_exp", 1000.0, math.inf), ("_exp", -1000.0, 0.0), ("_log", 0.0, -math.inf),
    ("_log", -1.0, math.nan), ("_log", math.nan, math.nan), ("_log", math.e, 1.0),
    ("_sin", 0.5, math.sin(0.5)), ("_sigmoid", 0.0, 0.5), ("_sigmoid", -1000.0, 0.0)])
def test_scalar_functions_give_ieee_results_where_math_raises(name, x, expected):
    got = getattr(helpers, name)(x)
    assert got == expected or (math.isnan(got) and math.isnan(expected)), (name, x, got)


def test_random_draws_are_the_engines_streams():
    seed, stream, call = 2**64 - 5, 3, 7
    base = rng.stream_base(np.uint64(seed), stream, call)
    assert helpers._uniform_draws(seed, stream, call, -1.0, 2.0) == rng.uniform_at(base, 0, -1.0, 2.0)
    vector = helpers._gaussian_draws(seed, stream, call, 0.5, 0.1, (4,))
    np.testing.assert_array_equal(vector, [rng.gaussian_at(base, e, 0.5, 0.1) for e in range(4)])
    matrix = helpers._uniform_draws(seed, stream, call, 0.0, 1.0, (2, 3))
    assert matrix.shape == (2, 3)
    np.testing.assert_array_equal(matrix.ravel(), [rng.uniform_at(base, e, 0.0, 1.0) for e in range(6)])
    assert helpers._uniform_draws(seed, stream, call, 1.0, 1.0) == 1.0   # empty range: low


def test_exported_modules_carry_exactly_this_code():
    source = helper_source()
    assert source.startswith("# ---- numeric helpers") and rng.py_rng_source() in source
    assert "exec(" not in source and "import" not in source  # the module imports np, math
    copy = {"np": np, "math": math}
    exec(compile(source, "<exported helpers>", "exec"), copy)  # the text an export writes
    draws = {"np": np, "math": math}
    exec(compile(rng.py_rng_source(), "<the draws>", "exec"), draws)

    def private(names):
        return {name for name in names if name.startswith("_") and not name.startswith("__")}

    # This module's helpers, and the draws whose text replaces its import of them.
    assert private(copy) == private(vars(helpers)) - {"_rng"}
    assert private(draws) <= private(copy)
    x = np.linspace(-3, 3, 7)
    for name in ("_sum", "_sin", "_exp", "_log", "_sigmoid"):
        if name == "_sum":
            assert copy[name](x) == helpers._sum(x)
            continue
        for v in x:
            a, b = copy[name](float(v)), getattr(helpers, name)(float(v))
            assert a == b or (math.isnan(a) and math.isnan(b))
    np.testing.assert_array_equal(copy["_gaussian_draws"](9, 1, 2, 0.0, 1.0, (3, 3)),
                                  helpers._gaussian_draws(9, 1, 2, 0.0, 1.0, (3, 3)))
