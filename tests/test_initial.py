"""The reference's hard-coded algorithms (reference_spec.md section 3): their exact
instructions, that they learn what they should, NO_OP padding and memory requirements."""
from __future__ import annotations

import numpy as np
import pytest

from azcompile import engine, reference_programs
from azcompile.program import Memory, Program, instructions
from azcompile.search.run import initial
from azcompile.search.run.config import ConfigError
from azcompile.search.data.synthetic import linear_task, nonlinear_task

LIN_MEM = Memory(4, 3, 1, 4)
NN_MEM = Memory(5, 9, 2, 4)

LINEAR_LISTING = """\
def Setup():
  s2 = 0.01
def Predict():
  s1 = dot(v1, v0)
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
"""

NEURAL_NET_LISTING = """\
def Setup():
  v2 = gaussian(0, 0.1, n_features)
  m0 = gaussian(0, 0.1, (n_features, n_features))
  s3 = 0.01
def Predict():
  v3 = dot(m0, v0)
  v3 = v3 + v1
  v4 = maximum(v3, v5)
  s1 = dot(v4, v2)
  s1 = s1 + s2
def Learn():
  s4 = s0 - s1
  s4 = s3 * s4
  s2 = s2 + s4
  v6 = s4 * v4
  v2 = v2 + v6
  v7 = s4 * v2
  v8 = heaviside(v3, 1.0)
  v7 = v8 * v7
  v1 = v1 + v7
  m1 = outer(v7, v0)
  m0 = m0 + m1
"""


def run(program, task, **kw):
    return engine.run(program, task.x_train, task.y_train, task.x_valid, task.y_valid,
                      order=task.order, engine="interp", **kw)


def squash(rmse):
    return 1.0 - 2.0 / np.pi * np.arctan(rmse)


# ---- the instructions, as the reference defines them ---------------------------------------------

def test_linear_algorithm_instructions():
    assert reference_programs.linear(LIN_MEM).listing() == LINEAR_LISTING
    assert reference_programs.linear(LIN_MEM).setup[0].data[0] == 0.01     # float64 activation data


def test_neural_net_instructions():
    net = reference_programs.neural_net(NN_MEM)
    assert net.listing() == NEURAL_NET_LISTING
    # init stdev 0.1 (float32 data), mean 0, learning rate 0.01
    assert net.setup[0].data[1:3] == (0.0, float(np.float32(0.1)))
    assert net.setup[1].data[1:3] == (0.0, float(np.float32(0.1)))
    assert net.setup[2].data[0] == 0.01
    assert [len(c) for c in net.components] == [3, 5, 11]


def test_damaged_neural_net_drops_the_two_gaussian_inits():
    net = reference_programs.neural_net(NN_MEM)
    damaged = reference_programs.damaged_neural_net(NN_MEM)
    assert damaged.setup == net.setup[2:]
    assert damaged.predict == net.predict and damaged.learn == net.learn


# ---- padding and memory requirements ----------------------------------------------------------

@pytest.mark.parametrize("name, mem, sizes, base", [
    ("linear", LIN_MEM, (3, 2, 6), (1, 1, 4)),
    ("linear", LIN_MEM, (0, 0, 0), (1, 1, 4)),       # never truncated
    ("linear", LIN_MEM, (1, 3, 2), (1, 1, 4)),
    ("neural_net", NN_MEM, (6, 5, 12), (3, 5, 11)),
    ("damaged_neural_net", NN_MEM, (2, 7, 11), (1, 5, 11)),
    ("no_op", LIN_MEM, (4, 2, 5), (0, 0, 0)),
    ("random", LIN_MEM, (4, 2, 5), (0, 0, 0)),
])
def test_build_pads_with_no_ops(name, mem, sizes, base):
    raw = initial.BUILDERS[name](mem)
    built = initial.build(name, mem, sizes)
    for comp, raw_comp, size, n in zip(built.components, raw.components, sizes, base):
        assert len(comp) == max(size, n)
        assert comp[:n] == raw_comp
        assert all(ins.op.name == "NO_OP" and ins.data == (0.0,) * 4 and
                   (ins.in1, ins.in2, ins.out) == (0, 0, 0) for ins in comp[n:])
    assert built.memory == mem


@pytest.mark.parametrize("name, mem", [
    ("linear", Memory(3, 3, 1, 4)), ("linear", Memory(4, 2, 1, 4)),
    ("neural_net", Memory(4, 9, 2, 4)), ("neural_net", Memory(5, 8, 2, 4)),
    ("neural_net", Memory(5, 9, 1, 4)), ("damaged_neural_net", LIN_MEM)])
def test_memory_requirements(name, mem):
    with pytest.raises(ConfigError) as info:
        initial.build(name, mem, (1, 1, 1))
    message = str(info.value)
    assert name in message and "[memory]" in message
    need = initial.NEEDS[name]
    assert f"{need[0]} scalars" in message and f"{need[1]} vectors" in message


@pytest.mark.parametrize("name, mem, sizes", [("linear", NN_MEM, (1, 1, 4)),
                                              ("neural_net", Memory(8, 12, 3, 4), (3, 5, 11))])
def test_larger_memory_is_fine(name, mem, sizes):
    """More memory than the algorithm needs: the same instructions, in the larger memory."""
    built = initial.build(name, mem, sizes)
    exact = initial.build(name, Memory(*initial.NEEDS[name], 4), sizes)
    assert built.memory == mem
    assert [list(c) for c in built.components] == [list(c) for c in exact.components]


# ---- they learn -----------------------------------------------------------------------------

def test_linear_algorithm_learns_a_linear_task():
    lin = initial.build("linear", LIN_MEM, (1, 1, 4))
    for seed in range(3):
        task = linear_task(4, 2000, 100, data_seed=11000 + seed, param_seed=1000 + seed)
        result = run(lin, task)
        assert result.fitness > 0.999999, seed
        np.testing.assert_allclose(result.valid_predictions[:, 0], task.y_valid, atol=1e-6)


def test_linear_algorithm_is_sgd_with_learning_rate_001():
    """Prediction by prediction, the same as w += 0.01 (y - w.x) x in numpy."""
    task = linear_task(4, 300, 50, data_seed=5, param_seed=6)
    result = run(reference_programs.linear(LIN_MEM), task)
    w = np.zeros(4)
    preds = []
    for x, y in zip(task.x_train, task.y_train):
        p = w @ x
        preds.append(p)
        w = w + (0.01 * (y - p)) * x
    np.testing.assert_allclose(result.train_predictions[:, 0], preds, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.valid_predictions[:, 0], task.x_valid @ w, rtol=1e-12,
                               atol=1e-14)
    rmse = np.sqrt(np.mean((task.x_valid @ w - task.y_valid) ** 2))
    assert result.fitness == pytest.approx(squash(rmse), abs=1e-12)


def test_neural_net_learns_the_nonlinear_task():
    """Better than the best constant predictor and than linear regression (after 5 epochs)."""
    net = initial.build("neural_net", NN_MEM, (3, 5, 11))
    lin = initial.build("linear", NN_MEM, (1, 1, 4))
    for k, seed in enumerate((0, 1, 2)):
        task = nonlinear_task(4, 1000, 100, data_seed=11001 + k, param_seed=1001 + k, epochs=5)
        net_fit = run(net, task, epochs=5, seed=seed).fitness
        constant = squash(np.sqrt(np.mean((task.y_valid - task.y_train.mean()) ** 2)))
        linear_fit = run(lin, task, epochs=5).fitness
        assert net_fit > constant + 0.05 and net_fit > linear_fit, (k, net_fit, constant, linear_fit)
        assert net_fit > 0.85


def _weight_setup(W, u):
    """Setup that writes hidden weights m0 = W and output weights v2 = u exactly (the index
    fraction (i + 0.5) / F selects coordinate i), then s3 = 0.01 as the network does."""
    F = len(u)
    rows = [("VECTOR_CONST_SET_OP", 0, 0, 2, (0.0, (i + 0.5) / F, u[i])) for i in range(F)]
    rows += [("MATRIX_CONST_SET_OP", 0, 0, 0, (0.0, (i + 0.5) / F, (j + 0.5) / F, W[i, j]))
             for i in range(F) for j in range(F)]
    rows.append(("SCALAR_CONST_SET_OP", 0, 0, 3, (0.01,)))
    return instructions(rows)


def test_neural_net_is_backprop_of_a_two_layer_relu_net():
    """With known initial weights, the network's predictions equal a numpy 2-layer ReLU net
    trained by SGD with the reference's update order (the hidden gradient uses the output
    weights already updated in the same step; the vector Heaviside is strict)."""
    rng = np.random.default_rng(0)
    W = rng.integers(-8, 9, size=(4, 4)) / 32.0     # exact in float32
    u = rng.integers(-8, 9, size=4) / 32.0
    net = reference_programs.neural_net(NN_MEM)
    program = net.with_components(_weight_setup(W, u), net.predict, net.learn)
    task = nonlinear_task(4, 400, 50, data_seed=3, param_seed=4)
    result = run(program, task)
    b1, b2 = np.zeros(4), 0.0
    preds = []
    for x, y in zip(task.x_train, task.y_train):
        h = W @ x + b1
        a = np.maximum(h, 0.0)
        p = a @ u + b2
        preds.append(p)
        d = 0.01 * (y - p)
        b2 += d
        u = u + d * a
        g = (d * u) * (h > 0)
        b1 = b1 + g
        W = W + np.outer(g, x)
    np.testing.assert_allclose(result.train_predictions[:, 0], preds, rtol=1e-9, atol=1e-12)
    valid = np.maximum(task.x_valid @ W.T + b1, 0.0) @ u + b2
    np.testing.assert_allclose(result.valid_predictions[:, 0], valid, rtol=1e-9, atol=1e-12)


def test_neural_net_initialisation_is_random_but_seeded():
    net = initial.build("neural_net", NN_MEM, (3, 5, 11))
    task = nonlinear_task(4, 200, 50, data_seed=7, param_seed=8)
    a, b, c = (run(net, task, seed=s).fitness for s in (1, 1, 2))
    assert a == b and a != c
    damaged = initial.build("damaged_neural_net", NN_MEM, (1, 5, 11))
    # without its random init every weight stays 0 except the biases: a constant-ish model
    d = run(damaged, task).fitness
    assert d < run(net, task, seed=1).fitness
