"""``azcompile.run``: the README's linear regression learns in both tiers, the ``auto`` choice,
the executor's observable quirks, and clear errors for bad inputs."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from azcompile import engine, jit_cache
from azcompile.engine import run
from azcompile.eval_type import ACCURACY, MULTICLASS, RMS_ERROR
from azcompile.jit_cache import KernelCache
from azcompile.liveness import SCALAR_TASK, canonical
from azcompile.ops import lookup
from azcompile.program import Instruction, Memory, Program, ProgramError, instructions

from programs import README_MEMORY as MEM
from programs import readme_linear_regression


def linear_task(n_train=1000, n_valid=100, F=4, seed=0):
    gen = np.random.default_rng(seed)
    w = gen.normal(size=F)
    x, xv = gen.normal(size=(n_train, F)), gen.normal(size=(n_valid, F))
    return x, x @ w, xv, xv @ w


@pytest.fixture(scope="module")
def kernel_cache():
    return KernelCache()      # the session cache directory (tests/conftest.py)


def rmse(result, y_valid):
    return float(np.sqrt(np.mean((result.valid_predictions[:, 0] - y_valid) ** 2)))


# ---- learning --------------------------------------------------------------------------------

# (learning rate, epochs): the README's 0.001 needs several passes over 1000 examples.
SETTINGS = [(0.001, 10), (0.01, 1)]


@pytest.fixture(scope="module")
def learned(kernel_cache):
    x, y, xv, yv = linear_task()
    results = {}
    for lr, epochs in SETTINGS:
        prog = readme_linear_regression(lr)
        for tier in ("interp", "compiled"):
            results[lr, tier] = run(prog, x, y, xv, yv, epochs=epochs, engine=tier,
                                    cache=kernel_cache)
    return results, yv


@pytest.mark.parametrize("tier", ["interp", "compiled"])
@pytest.mark.parametrize("lr", [lr for lr, _ in SETTINGS])
def test_linear_regression_learns(learned, lr, tier):
    results, yv = learned
    r = results[lr, tier]
    assert r.engine == tier
    epochs = dict(SETTINGS)[lr]
    assert r.train_steps == 1000 * epochs
    error = rmse(r, yv)
    assert error < 0.01, error
    # The fitness is the reference's squash of the RMSE of the (last, best) validation pass.
    assert r.fitness == pytest.approx(1.0 - 2.0 / math.pi * math.atan(error), abs=1e-12)
    assert r.fitness > 0.99
    # It learned: the first predictions were far off.
    assert np.abs(r.train_predictions[:5, 0]).max() < np.abs(r.train_predictions).max()


@pytest.mark.parametrize("lr", [lr for lr, _ in SETTINGS])
def test_tiers_agree_bit_for_bit(learned, lr):
    results, _ = learned
    a, b = results[lr, "interp"], results[lr, "compiled"]
    assert a.fitness == b.fitness
    assert np.array_equal(a.train_predictions, b.train_predictions)
    assert np.array_equal(a.valid_predictions, b.valid_predictions)


def test_untrained_program_does_not_fit():
    """Control: with a zero learning rate nothing is learned (so the test above can fail)."""
    x, y, xv, yv = linear_task()
    r = run(readme_linear_regression(0.0), x, y, xv, yv, engine="interp")
    assert rmse(r, yv) > 0.5
    assert np.all(r.valid_predictions == 0.0)


# ---- auto ------------------------------------------------------------------------------------

def test_auto_uses_a_cached_kernel(learned, kernel_cache):
    x, y, xv, yv = linear_task(n_train=20, n_valid=10)
    r = run(readme_linear_regression(0.001), x, y, xv, yv, engine="auto", cache=kernel_cache)
    assert r.engine == "compiled"          # compiled by the fixture, so free to use
    ref = run(readme_linear_regression(0.001), x, y, xv, yv, engine="interp")
    assert np.array_equal(r.valid_predictions, ref.valid_predictions)


def test_auto_interprets_small_uncached_work(tmp_path):
    x, y, xv, yv = linear_task(n_train=50, n_valid=10)
    cache = KernelCache(tmp_path)
    r = run(readme_linear_regression(0.003), x, y, xv, yv, engine="auto", cache=cache)
    assert r.engine == "interp"
    assert not list(tmp_path.rglob("*.py"))    # nothing was generated, let alone compiled


def test_auto_compiles_large_work(tmp_path):
    """The decision alone (running 50M instruction executions would only make the test slow)."""
    cache = KernelCache(tmp_path)
    prog = readme_linear_regression(0.003)
    # work = steps * (predict + learn instructions) + epochs * valid * predict instructions
    per_step = 1 + 4
    small = engine.AUTO_COMPILE_WORK // per_step - 1000
    big = engine.AUTO_COMPILE_WORK // per_step + 1000
    assert engine._auto_choice(prog, SCALAR_TASK, small, 100, 1, cache) == "interp"
    assert engine._auto_choice(prog, SCALAR_TASK, big, 100, 1, cache) == "compiled"
    # Only live instructions count: padding with dead code does not tip the balance.
    padded = Program(setup=prog.setup, predict=prog.predict,
                     learn=prog.learn + instructions([("MATRIX_TRANSPOSE_OP", 0, 0, 0)] * 50),
                     memory=MEM)
    assert engine._auto_choice(padded, SCALAR_TASK, small, 100, 1, cache) == "interp"


def test_auto_weighs_the_work_against_the_compiles_it_measured(tmp_path):
    """A compile is measured when it happens; ``auto`` then compiles only work that saves more
    time than that: the same work is interpreted when compiles prove slow."""
    cache = KernelCache(tmp_path)
    prog = readme_linear_regression(0.003)
    assert cache.expected_compile_seconds() == jit_cache.DEMO_CANDIDATE_COMPILE_SECONDS
    canon, h = canonical(prog)
    start = time.perf_counter()
    cache.get(canon, h)                                  # a fresh folder: numba compiles
    took = time.perf_counter() - start
    assert 0 < cache.expected_compile_seconds() <= took
    steps = int(4 * cache.expected_compile_seconds() / engine.SAVED_SECONDS_PER_INSTRUCTION / 5)
    other = readme_linear_regression(0.004)              # another program: not cached
    assert engine._auto_choice(other, SCALAR_TASK, steps, 100, 1, cache) == "compiled"
    cache._compile_seconds *= 10                         # compiles as slow as that
    assert engine._auto_choice(other, SCALAR_TASK, steps, 100, 1, cache) == "interp"


# ---- what the executor does ----------------------------------------------------------------

def test_accuracy_tasks_write_the_sigmoid_into_s1_before_learn():
    """Predict: s1 = s2 + s2; Learn: s2 = s1 + s3 (s3 = 0).  Learn sees sigmoid(prediction):
    raw predictions are 0, 2 sigmoid(0) = 1, 2 sigmoid(1), ..."""
    prog = Program(predict=instructions([("SCALAR_SUM_OP", 2, 2, 1)]),
                   learn=instructions([("SCALAR_SUM_OP", 1, 3, 2)]), memory=MEM)
    x = np.zeros((4, 4))
    y = np.array([1.0, 0.0, 1.0, 0.0])
    r = run(prog, x, y, x, y, eval_type=ACCURACY, engine="interp")
    sig = lambda z: 1.0 / (1.0 + math.exp(-z))  # noqa: E731
    expected, p = [], 0.0
    for _ in range(4):
        expected.append(p)
        p = 2 * sig(p)
    np.testing.assert_allclose(r.train_predictions[:, 0], expected, rtol=1e-15)
    # RMS tasks do not: Learn sees the raw prediction (always 0 here).
    r2 = run(prog, x, y, x, y, eval_type=RMS_ERROR, engine="interp")
    assert np.all(r2.train_predictions == 0.0)


def test_training_stops_at_the_first_large_error():
    """|label - prediction| > max_abs_error in the first epoch: fitness 0, no more steps."""
    prog = Program(setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 2, (0.5, 0, 0, 0))]),
                   predict=instructions([("SCALAR_SUM_OP", 1, 2, 1)]), memory=MEM)  # s1 += 0.5
    x = np.zeros((500, 4))
    y = np.zeros(500)
    r = run(prog, x, y, x[:10], y[:10], engine="interp", max_abs_error=10.0)
    # s1 grows by 0.5 per Predict: 0.5, 1.0, ... 10.5 > 10 at the 21st step.
    assert r.train_steps == 21
    assert r.fitness == 0.0
    assert r.train_predictions[-1, 0] == 10.5


def test_train_budget_and_order():
    x, y, xv, yv = linear_task(n_train=30, n_valid=5)
    prog = readme_linear_regression(0.01)
    r = run(prog, x, y, xv, yv, epochs=3, train_steps=40, engine="interp")
    assert r.train_steps == 40
    order = np.arange(30)[::-1].copy()
    a = run(prog, x, y, xv, yv, order=order, engine="interp")
    b = run(prog, x[::-1].copy(), y[::-1].copy(), xv, yv, engine="interp")
    assert np.array_equal(a.train_predictions, b.train_predictions)


def test_multiclass_shapes():
    prog = Program(predict=instructions([("MATRIX_VECTOR_PRODUCT_OP", 0, 0, 2)]),
                   learn=instructions([("VECTOR_OUTER_PRODUCT_OP", 1, 0, 0)]), memory=MEM)
    gen = np.random.default_rng(3)
    x = gen.normal(size=(12, 4))
    y = gen.integers(0, 3, 12).astype(float)
    r = run(prog, x, y, x[:5], y[:5], eval_type=MULTICLASS, num_classes=3, engine="interp")
    assert r.train_predictions.shape == (12, 3)
    assert r.valid_predictions.shape == (5, 3)


# ---- bad inputs ------------------------------------------------------------------------------

def _args(**changes):
    x, y, xv, yv = linear_task(n_train=10, n_valid=5)
    kw = dict(program=readme_linear_regression(), x_train=x, y_train=y, x_valid=xv, y_valid=yv,
              engine="interp")
    kw.update(changes)
    return kw


def _call(kw):
    kw = dict(kw)
    return run(kw.pop("program"), kw.pop("x_train"), kw.pop("y_train"), kw.pop("x_valid"),
               kw.pop("y_valid"), **kw)


BAD = [
    ("unknown engine", dict(engine="fast"), ValueError, "engine must be one of"),
    ("unknown eval type", dict(eval_type=2), ValueError, "eval_type"),
    ("wrong feature count", dict(x_train=np.zeros((10, 3))), ValueError, "4 columns"),
    ("1-D features", dict(x_valid=np.zeros(4)), ValueError, "2 dimension"),
    ("2-D labels", dict(y_train=np.zeros((10, 1))), ValueError, "1 dimension"),
    ("labels shorter than features", dict(y_train=np.zeros(9)), ValueError, "disagree"),
    ("validation labels longer", dict(y_valid=np.zeros(6)), ValueError, "disagree"),
    ("order out of range", dict(order=np.array([0, 1, 10])), ValueError, "order"),
    ("negative order", dict(order=np.array([0, -1])), ValueError, "order"),
    ("float order", dict(order=np.array([0.5, 1.0])), ValueError, "order"),
    ("negative budget", dict(train_steps=-1), ValueError, "train_steps"),
    ("too many classes", dict(eval_type=MULTICLASS, num_classes=5), ValueError, "num_classes"),
    ("no classes", dict(eval_type=MULTICLASS, num_classes=0), ValueError, "num_classes"),
    ("class label out of range", dict(eval_type=MULTICLASS, num_classes=2,
                                      y_train=np.full(10, 2.0)), ValueError, "class indices"),
    ("fractional class label", dict(eval_type=MULTICLASS, num_classes=3,
                                    y_train=np.full(10, 0.5)), ValueError, "class indices"),
    ("multiclass without v2", dict(eval_type=MULTICLASS, num_classes=2, program=Program(
        predict=instructions([("VECTOR_NORM_OP", 0, 0, 1)]), memory=Memory(4, 2, 1, 4))),
     ValueError, "3 vectors"),
    ("invalid program", dict(program=Program(
        predict=(Instruction(lookup("SCALAR_SUM_OP"), 0, 7, 1),), memory=MEM)),
     ProgramError, "predict[0]"),
    ("compiled tier, invalid program too", dict(engine="compiled", program=Program(
        predict=(Instruction(lookup("SCALAR_SUM_OP"), 0, 0, 9),), memory=MEM)),
     ProgramError, "out of range"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_inputs_raise_clear_errors(case):
    _, changes, error, words = case
    with pytest.raises(error) as err:
        _call(_args(**changes))
    assert words in str(err.value)


def test_good_inputs_of_other_types_are_accepted():
    """Lists, float32 and non-contiguous arrays are converted, not rejected."""
    x, y, xv, yv = linear_task(n_train=10, n_valid=5)
    ref = run(readme_linear_regression(), x, y, xv, yv, engine="interp")
    r = run(readme_linear_regression(), x.tolist(), list(y), np.asfortranarray(xv), yv,
            order=list(range(10)), engine="interp")
    assert np.array_equal(ref.valid_predictions, r.valid_predictions)
    # The canonical form is what the compiled tier runs; it is a valid program.
    canonical(readme_linear_regression())[0].validate()


def test_call_compiled_keys_bundles_on_their_fields_types():
    """A bundle's numba type is its fields' types: two bundles of one class whose arrays
    differ in dtype must not share a compiled entry point (it would misread the memory)."""
    from azcompile.kernel_args import new_registers

    a = new_registers(2, 2, 1, 3)
    b = a._replace(scalars=a.scalars.astype(np.float32))
    assert engine._type_key(a) != engine._type_key(b)
    assert engine._type_key(a) == engine._type_key(new_registers(4, 3, 1, 3))
