"""The differentiable relaxation (``strategy = "relaxation"``): a DARTS-style warm start for
regularized evolution.

Phase 1, the relaxation.  A fixed-length skeleton per component (``[relaxation]``
``*_length``, default ``sizes.*_init``) whose every slot is a mixture:

* over the component's allowed ops: weights softmax(op_logits[c, i] / temperature);
* over the operands: each role (in1, in2, out) and register kind (scalar, vector, matrix)
  has its own softmax over that kind's registers (outputs never s0 / v0).  All ops of a slot
  read the same soft operands: in1 of kind k is sum_r q[in1, k, r] * register_k[r];
* each op's output is written softly: register r of kind k becomes
  (1 - q[out, k, r] * w_k) * register_k[r] + q[out, k, r] * sum over ops of that output kind
  of p_op * result_op, where w_k is the weight of the ops writing kind k.  A one-hot mixture
  is exactly the discrete program (``tests/test_relaxation.py`` checks it against the
  interpreter), so the relaxation is tied to the real semantics;
* a constant op's value (SCALAR_CONST_SET's D0, a vector or matrix constant's value) is a
  trained parameter per slot and op; indices and random-init parameters are drawn from the
  relaxation's seed, as the randomizer draws them, and stay fixed.

Each op's result is its ``numpy`` expression from the op table, rendered by
``azcompile.notation``'s JAX target: there is no second list of op semantics.  Random ops
draw from jax.random (a key per slot and call), not from the engine's streams, so only for
them the relaxed and the engine's values differ.

The relaxed loss runs the reference's loop on every search task (``jax.lax.scan`` over the
examples and over each component's slots, ``vmap`` over tasks and restarts): memory zeroed,
Setup once, then per training example (in the task's order) v0 = x, s0 = 0, Predict, v0 = x,
s0 = y, Learn; then Predict on the validation examples.  It uses the first
``train_examples`` steps and ``valid_examples`` validation examples of each task (10 and 10,
FEC's sizes: over 100 steps nearly every soft mixture diverges, its loss saturates and the
gradient vanishes; and a step costs a tenth).  Per task the loss is 1 - fitness with the
reference's squash, (2 / pi) atan(sqrt(mse + 1e-24)), averaged over tasks.  Non-finite
values: every op result has NaN set to 0 and +-inf to +-1e6, and is exact up to +-1e3 and
saturates smoothly at +-1e6 beyond (finite values, a gradient that never stops abruptly);
non-finite gradient entries are set to 0.  Adam descends the loss of ``restarts``
independent skeletons at once (their own seeds for logits, operands and data), with the
softmax temperature annealed geometrically from ``temperature`` to ``final_temperature``
so that the mixtures end near one-hot and the argmax program is close to the relaxed one.
Autodiff through the loop (jax) rather than a score-function estimator: on the demo a step
of 8 restarts over 10 tasks costs about 0.05 s; compiling it about 75 s once (jax's
persistent cache keeps it: later runs load it in about 20 s).

Phase 2, the warm start.  After ``steps`` steps every restart is discretised by argmax (op,
operands; the trained constants rounded as the mutator rounds them) into a Program, and the
population is filled with these programs in turn (each evaluated by the engine, like any
initial population; logged as ``relaxation``).  Regularized evolution then continues from
them under the config's mutations, with the run's remaining budget of individuals.

Individuals.  One gradient step of one restart is counted as 3 * K programs (K: the most ops
a component allows): its forward pass computes K ops per slot where a program computes one,
and the backward pass costs about twice the forward pass.  The evaluator's counter
(``stats[S_INDIVIDUALS]``) and the run's individuals include them.

State.  The parameters, Adam's moments, the step and the seed (drawn from the island's
SplitMix64 stream at the first step) are in the checkpoint; the fixed data and the initial
parameters are recomputed from the seed.  Steps are one jitted function called one at a time,
so a run resumed between any two steps continues exactly, and a fixed seed reproduces a run.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from azcompile import notation
from azcompile.cache_dir import CacheError, private_dir
from azcompile.jit_cache import default_cache_dir
from azcompile.ops import (CONST_VALUE_COLUMN_BY_CODE, DATA_KIND_CODE, OP_ARRAYS, OPS,
                          lookup)
from azcompile.rng import next_u64

from . import adam, validate
from .evaluator import ProgramBuffers

_IN1, _IN2, _OUT = OP_ARRAYS["in1_kind"], OP_ARRAYS["in2_kind"], OP_ARRAYS["out_kind"]
_DATA = OP_ARRAYS["data_kind"]
CLIP, LINEAR = 1e6, 1e3       # op results: exact up to LINEAR, saturating at CLIP
COUNTERS = ("step", "seed_set")
PROGRAMS_PER_STEP = 3          # per restart and per op a component allows (see the docstring)


def jax_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("jax") is not None


def _jax():
    import jax
    jax.config.update("jax_enable_x64", True)      # the engine computes in float64
    if jax.config.jax_compilation_cache_dir is None:
        # Compiling the relaxed loss and its gradient takes tens of seconds: keep it, in a
        # private folder beside numba's cache (its trust rules: azcompile.cache_dir).
        root = Path(os.environ.get("AZC_NUMBA_CACHE_ROOT") or default_cache_dir() / "numba")
        folder = root.parent / "jax"
        try:
            private_dir(folder, root.parent, "AZC_CACHE_DIR")
        except (CacheError, OSError):
            return jax                               # compile in memory
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    return jax


def _f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


class Skeleton:
    """The program space of the relaxation: per component its ops and slot count, the
    register counts, and the parameter layout of one restart."""

    def __init__(self, cfg):
        rel = cfg.relaxation
        self.lengths = [rel[f"{c}_length"] for c in ("setup", "predict", "learn")]
        self.ops = [[lookup(n).id for n in names] for names in cfg.ops]
        self.lengths = [n if ops else 0 for n, ops in zip(self.lengths, self.ops)]
        m = cfg.memory
        self.counts = [m.scalars, m.vectors, m.matrices]
        self.features = m.features
        self.K = max(1, max(len(o) for o in self.ops))
        self.L = max(1, max(self.lengths))
        self.R = max(self.counts)
        K, L, R = self.K, self.L, self.R
        self.shapes = {"op": (3, L, K), "reg": (3, L, 3, 3, R), "value": (3, L, K)}
        self.offsets, n = {}, 0
        for name, shape in self.shapes.items():
            self.offsets[name] = n
            n += int(np.prod(shape))
        self.n_params = n
        self.op_valid = np.zeros((3, L, K), dtype=bool)
        for c in range(3):
            self.op_valid[c, :self.lengths[c], :len(self.ops[c])] = True
        self.reg_valid = np.zeros((3, 3, R), dtype=bool)       # role, kind - 1, register
        for role in range(3):
            for kind in range(3):
                first = 1 if role == 2 and kind != 2 else 0   # never write s0 or v0
                self.reg_valid[role, kind, first:self.counts[kind]] = True

    def unpack(self, theta):
        """Views of one restart's flat parameters (numpy or jax arrays)."""
        return {name: theta[..., start:start + int(np.prod(shape))].reshape(
                    theta.shape[:-1] + shape)
                for (name, shape), start in zip(self.shapes.items(), self.offsets.values())}

    def initial(self, seed: int, restarts: int, init_scale: float):
        """Each restart's initial parameters and its fixed data rows (3, L, K, 4)."""
        thetas, datas = [], []
        for r in range(restarts):
            rng = np.random.default_rng([seed, r])
            theta = np.zeros(self.n_params)
            view = self.unpack(theta)
            view["op"][...] = init_scale * rng.standard_normal(self.shapes["op"])
            view["reg"][...] = rng.standard_normal(self.shapes["reg"])
            view["value"][...] = rng.uniform(-1.0, 1.0, self.shapes["value"])
            thetas.append(theta)
            datas.append(self._data(rng))
        return np.stack(thetas), np.stack(datas)

    def _data(self, rng) -> np.ndarray:
        """Index fractions and random-init parameters per slot and op, drawn as the
        randomizer draws them (24-bit fractions, exact in float32)."""
        K, L = self.K, self.L
        data = np.zeros((3, L, K, 4))
        frac = rng.integers(0, 1 << 24, (3, L, K, 2)) * 2.0 ** -24
        unif = _f32(np.sort(rng.uniform(-1.0, 1.0, (3, L, K, 2)), axis=-1))
        for c in range(3):
            for k, op in enumerate(self.ops[c]):
                kind = _DATA[op]
                if kind in (DATA_KIND_CODE["vector_const"], DATA_KIND_CODE["matrix_const"]):
                    data[c, :, k, 1:3] = frac[c, :, k]
                elif kind == DATA_KIND_CODE["gaussian"]:
                    data[c, :, k, 1] = unif[c, :, k, 0]
                    data[c, :, k, 2] = frac[c, :, k, 0]          # a stdev in [0, 1)
                elif kind == DATA_KIND_CODE["uniform"]:
                    data[c, :, k, 1:3] = unif[c, :, k]
        return data

    def discretise(self, theta: np.ndarray, data: np.ndarray, initial: ProgramBuffers,
                   capacity: int) -> ProgramBuffers:
        """The argmax program of one restart (components without ops: the initial ones)."""
        view = self.unpack(np.asarray(theta))
        code, dat, size = initial.code.copy(), initial.data.copy(), initial.size.copy()
        roles = (_IN1, _IN2, _OUT)
        for c in range(3):
            if not self.ops[c]:
                continue
            n = self.lengths[c]
            size[c] = n
            code[c], dat[c] = 0, 0.0
            for i in range(n):
                k = int(np.argmax(np.where(self.op_valid[c, i], view["op"][c, i], -np.inf)))
                op = self.ops[c][k]
                code[c, i, 0] = op
                for role, kinds in enumerate(roles):
                    kind = int(kinds[op])
                    if kind:
                        logits = np.where(self.reg_valid[role, kind - 1],
                                          view["reg"][c, i, role, kind - 1], -np.inf)
                        code[c, i, 1 + role] = int(np.argmax(logits))
                row = _op_data(op, data[c, i, k], view["value"][c, i, k])
                dat[c, i] = row
        return ProgramBuffers(code, dat, size)


    def one_hot(self, program: ProgramBuffers):
        """The mixture that is ``program`` (its components as long as the skeleton's, their
        ops among the allowed): op weights, operand weights and data rows, as
        ``RelaxedLoss.fitness_of_mixture`` takes them."""
        probs, regs = np.zeros(self.shapes["op"]), np.zeros(self.shapes["reg"])
        data = np.zeros((3, self.L, self.K, 4))
        regs[..., 0] = 1.0                      # operands no op reads: any one register
        roles = (_IN1, _IN2, _OUT)
        for c in range(3):
            if int(program.size[c]) != self.lengths[c]:
                raise ValueError(f"component {c} has {program.size[c]} instructions, the "
                                 f"skeleton {self.lengths[c]}")
            for i in range(self.lengths[c]):
                op, *addresses = (int(x) for x in program.code[c, i])
                k = self.ops[c].index(op)
                probs[c, i, k] = 1.0
                data[c, i, k] = program.data[c, i]
                for role, kinds in enumerate(roles):
                    if kinds[op]:
                        regs[c, i, role, kinds[op] - 1] = 0.0
                        regs[c, i, role, kinds[op] - 1, addresses[role]] = 1.0
        return probs, regs, data


def _op_data(op: int, fixed: np.ndarray, value: float) -> np.ndarray:
    """The data row an op of the program holds: its own columns, the value in place."""
    kind = _DATA[op]
    row = np.zeros(4)
    if kind in CONST_VALUE_COLUMN_BY_CODE:
        col = CONST_VALUE_COLUMN_BY_CODE[kind]
        row[1:col] = fixed[1:col]
        row[col] = value if col == 0 else _f32(value)
    elif kind in (DATA_KIND_CODE["gaussian"], DATA_KIND_CODE["uniform"]):
        row[1:3] = fixed[1:3]
    return row


# ---- the relaxed forward pass (jax) ---------------------------------------------------------

def op_functions(op_ids, features: int) -> dict:
    """op id -> f(a, b, o, data, p, key): the op's new output value, from the op table's
    ``numpy`` column through notation's JAX target."""
    jax = _jax()
    jnp = jax.numpy
    F = features

    def _index(fraction, n):       # notation.feature_index in jax: floor(F * f) in float32
        x = jnp.float32(n) * fraction.astype(jnp.float32)
        return jnp.clip(jnp.where(x >= 0.0, jnp.floor(x), 0.0), 0, n - 1).astype(jnp.int32)

    def _uniform(key, low, high, shape=()):
        return jax.random.uniform(key, shape, minval=low, maxval=high, dtype=jnp.float64)

    def _gaussian(key, mean, sd, shape=()):
        return mean + sd * jax.random.normal(key, shape, dtype=jnp.float64)

    namespace = {"jnp": jnp, "F": F, "_index": _index, "_uniform": _uniform,
                 "_gaussian": _gaussian}
    out = {}
    for op in sorted(set(int(x) for x in op_ids)):
        expr = notation.render(OPS[op], notation.JAX)
        out[op] = eval(f"lambda a, b, o, data, p, key: {expr}", dict(namespace))  # noqa: S307
    return out


class RelaxedLoss:
    """loss(theta (restarts, n), data (restarts, 3, L, K, 4)) -> per-restart loss, and its
    gradient; ``fitness_of_mixture`` evaluates given mixture weights (the one-hot test)."""

    def __init__(self, skeleton: Skeleton, tasks, seed: int, examples: tuple = (None, None)):
        jax = _jax()
        jnp = jax.numpy
        self.sk = skeleton
        self.fns = op_functions([op for ops in skeleton.ops for op in ops], skeleton.features)
        self.key = jax.random.PRNGKey(seed % (1 << 32))
        self.tasks = _task_arrays(tasks, jnp, *examples)
        self.jnp, self.jax = jnp, jax

        # The tasks and the key are arguments, not constants of the traced function: the
        # compiled steps do not depend on the data, so jax's persistent cache serves every
        # experiment and run of one configuration.
        def loss_of_theta(theta, data, tasks, key, tau):
            probs, regs, values = self.mixture(theta, tau)
            return self._task_losses(probs, regs, _with_values(skeleton, data, values, jnp),
                                     tasks, key).mean()

        batched = jax.vmap(loss_of_theta, in_axes=(0, 0, None, None, None))
        losses = jax.jit(batched)
        grad = jax.jit(jax.value_and_grad(lambda t, d, x, k, tau: batched(t, d, x, k, tau).sum()))
        mixed = jax.jit(lambda p, q, d, x, k: 1.0 - self._task_losses(p, q, d, x, k))
        self.losses = lambda theta, data, tau: losses(theta, data, self.tasks, self.key, tau)
        self.value_and_grad = lambda theta, data, tau: grad(theta, data, self.tasks, self.key,
                                                            tau)
        self.fitness_of_mixture = lambda p, q, d: mixed(p, q, d, self.tasks, self.key)

    def mixture(self, theta, t):
        """Softmaxes at temperature ``t`` of one restart's parameters: op weights (3, L, K),
        operand weights (3, L, 3, 3, R), constant values (3, L, K)."""
        jnp, sk = self.jnp, self.sk
        view = sk.unpack(theta)
        probs = _masked_softmax(view["op"] / t, sk.op_valid, jnp)
        regs = _masked_softmax(view["reg"] / t, np.broadcast_to(
            sk.reg_valid[None, None], sk.shapes["reg"]), jnp)
        return probs, regs, view["value"]

    def _task_losses(self, probs, regs, data, tasks, key):
        run = lambda task: self._run_task(probs, regs, data, task, key)     # noqa: E731
        mse = self.jax.vmap(run)(tasks)
        return (2.0 / math.pi) * self.jnp.arctan(self.jnp.sqrt(mse + 1e-24))

    # one task: Setup, training, validation
    def _run_task(self, probs, regs, data, task, key):
        jnp, lax, sk = self.jnp, self.jax.lax, self.sk
        F = sk.features
        S, V, M = sk.counts
        memory = (jnp.zeros(S), jnp.zeros((V, F)), jnp.zeros((M, F, F)))
        memory = self._component(0, memory, probs, regs, data, self.jax.random.fold_in(key, 0))
        xtr, ytr, order, steps, xva, yva, n_valid = task

        def train(carry, t):
            mem, step = carry
            i = order[t]
            k = self.jax.random.fold_in(key, 2 * t + 1)
            new = _inputs(mem, xtr[i], 0.0)
            new = self._component(1, new, probs, regs, data, k)
            new = _inputs(new, xtr[i], ytr[i])
            new = self._component(2, new, probs, regs, data, self.jax.random.fold_in(k, 1))
            live = t < steps
            mem = tuple(jnp.where(live, a, b) for a, b in zip(new, mem))
            return (mem, step), None

        (memory, _), _ = lax.scan(train, (memory, 0), jnp.arange(order.shape[0]))

        def valid(mem, t):
            k = self.jax.random.fold_in(key, 2 * (order.shape[0] + t) + 1)
            new = self._component(1, _inputs(mem, xva[t], 0.0), probs, regs, data, k)
            e = jnp.where(t < n_valid, yva[t] - new[0][1], 0.0)
            mem = tuple(jnp.where(t < n_valid, a, b) for a, b in zip(new, mem))
            return mem, e * e

        _, sq = lax.scan(valid, memory, jnp.arange(xva.shape[0]))
        return sq.sum() / n_valid

    def _component(self, c, memory, probs, regs, data, key):
        """The component's slots in order: one ``lax.scan`` (the slot is traced once, so
        compiling does not grow with the skeleton's length)."""
        n = self.sk.lengths[c]
        if n == 0:
            return memory
        keys = self.jax.vmap(lambda i: self.jax.random.fold_in(key, i))(self.jnp.arange(n))

        def slot(mem, xs):
            p, q, d, k = xs
            return self._slot(c, mem, p, q, d, k), None

        memory, _ = self.jax.lax.scan(slot, memory, (probs[c, :n], regs[c, :n], data[c, :n],
                                                     keys))
        return memory

    def _slot(self, c, memory, p, q, data, key):
        """One mixed instruction: every allowed op on the slot's soft operands, written
        softly (see the module's docstring)."""
        jnp, sk = self.jnp, self.sk
        counts = sk.counts
        reads = [[_soft_read(q[role, kind, :counts[kind]], memory[kind], jnp)
                  for kind in range(3)] for role in range(3)]
        acc, weight = [None] * 3, [0.0] * 3
        for k, op in enumerate(sk.ops[c]):
            a = reads[0][_IN1[op] - 1] if _IN1[op] else 0.0
            b = reads[1][_IN2[op] - 1] if _IN2[op] else 0.0
            out = int(_OUT[op]) - 1
            if out < 0:
                continue                               # NO_OP: leaves memory as it is
            o = reads[2][out]
            r = self.fns[op](a, b, o, data, k, key)
            r = _squash(jnp.nan_to_num(r, nan=0.0, posinf=CLIP, neginf=-CLIP), jnp)
            acc[out] = p[k] * r if acc[out] is None else acc[out] + p[k] * r
            weight[out] = weight[out] + p[k]
        memory = list(memory)
        for kind in range(3):
            if acc[kind] is None:
                continue
            w = q[2, kind, :counts[kind]].reshape((-1,) + (1,) * kind)
            memory[kind] = memory[kind] + w * (acc[kind] - weight[kind] * memory[kind])
        return tuple(memory)


def _squash(x, jnp):
    """x where |x| <= LINEAR; beyond, a smooth saturation at +-CLIP (the gradient never
    vanishes abruptly, values stay finite)."""
    excess = jnp.maximum(jnp.abs(x) - LINEAR, 0.0)
    return jnp.where(excess > 0, jnp.sign(x) * (LINEAR + (CLIP - LINEAR)
                                                * jnp.tanh(excess / (CLIP - LINEAR))), x)


def _soft_read(weights, registers, jnp):
    return jnp.tensordot(weights, registers, axes=1)


def _inputs(memory, x, y):
    s, v, m = memory
    return s.at[0].set(y), v.at[0].set(x), m


def _masked_softmax(logits, valid, jnp):
    z = jnp.where(valid, logits, -jnp.inf)
    z = z - jnp.max(jnp.where(valid, z, -1e300), axis=-1, keepdims=True)
    e = jnp.where(valid, jnp.exp(z), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    return e / jnp.where(total > 0, total, 1.0)


def _with_values(sk: Skeleton, data, values, jnp):
    """The data rows with each constant op's trained value in its column."""
    for c in range(3):
        for k, op in enumerate(sk.ops[c]):
            col = CONST_VALUE_COLUMN_BY_CODE.get(int(_DATA[op]))
            if col is not None:
                data = data.at[c, :, k, col].set(values[c, :, k])
    return data


def _task_arrays(tasks, jnp, train_steps=None, valid_examples=None):
    """The search tasks as stacked arrays (padded; steps and validation counts per task):
    the first ``train_steps`` of each task's training order and its first
    ``valid_examples`` validation examples (None: all)."""
    T = len(tasks)
    F = tasks[0].features
    n_tr = max(t.n_train for t in tasks)
    steps_of = [min(len(t.order), t.max_train_steps, train_steps or len(t.order)) for t in tasks]
    valid_of = [min(t.n_valid, valid_examples or t.n_valid) for t in tasks]
    n_ord, n_va = max(steps_of), max(valid_of)
    xtr, ytr = np.zeros((T, n_tr, F)), np.zeros((T, n_tr))
    order, steps = np.zeros((T, n_ord), dtype=np.int32), np.zeros(T, dtype=np.int32)
    xva, yva, nva = np.zeros((T, n_va, F)), np.zeros((T, n_va)), np.zeros(T)
    for j, t in enumerate(tasks):
        xtr[j, :t.n_train], ytr[j, :t.n_train] = t.x_train, t.y_train
        n, v = steps_of[j], valid_of[j]
        order[j, :n], steps[j] = t.order[:n], n
        xva[j, :v], yva[j, :v], nva[j] = t.x_valid[:v], t.y_valid[:v], v
    return tuple(jnp.asarray(a) for a in (xtr, ytr, order, steps, xva, yva, nva))


# ---- the strategy's state on an island --------------------------------------------------------

class Relaxation:
    """Phase 1 on one island: the parameters of every restart, Adam, the step."""

    def __init__(self, cfg, tasks):
        rel = cfg.relaxation
        self.sk = Skeleton(cfg)
        self.tasks = tasks
        self.restarts, self.steps = rel["restarts"], rel["steps"]
        self.lr = rel["learning_rate"]
        self.temperatures = (rel["temperature"], rel["final_temperature"])
        self.init_scale = rel["init_scale"]
        self.examples = (rel["train_examples"], rel["valid_examples"])
        self.capacity = cfg.capacity
        shape = (self.restarts, self.sk.n_params)
        self.theta, self.adam_m, self.adam_v = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.counters = np.zeros(len(COUNTERS))
        self.seed = np.zeros(1, dtype=np.uint64)
        self.data = None
        self.loss = None               # RelaxedLoss, built at the first step
        self.last_losses = None

    @property
    def done(self) -> bool:
        return bool(self.counters[1]) and self.counters[0] >= self.steps

    @property
    def programs_per_step(self) -> int:
        return PROGRAMS_PER_STEP * self.sk.K * self.restarts

    def _ready(self, rng_state) -> None:
        if not self.counters[1]:
            self.seed[0] = next_u64(rng_state)
            self.theta[...], _ = self.sk.initial(int(self.seed[0]), self.restarts, self.init_scale)
            self.counters[1] = 1.0
        if self.data is None:
            _, self.data = self.sk.initial(int(self.seed[0]), self.restarts, self.init_scale)
        if self.loss is None:
            self.loss = RelaxedLoss(self.sk, self.tasks, int(self.seed[0]), self.examples)

    def run(self, rng_state, max_steps: int) -> int:
        """Up to ``max_steps`` Adam steps (fewer at the end); returns the steps taken."""
        self._ready(rng_state)
        n = int(min(max_steps, self.steps - self.counters[0]))
        data = self.loss.jnp.asarray(self.data)
        for _ in range(n):
            value, grad = self.loss.value_and_grad(self.loss.jnp.asarray(self.theta), data,
                                                   self.temperature())
            grad = np.nan_to_num(np.asarray(grad), nan=0.0, posinf=0.0, neginf=0.0)
            step = self.counters[0] + 1
            self.theta -= adam.step(self.adam_m, self.adam_v, grad, step, self.lr)
            self.counters[0] = step
        return n

    def temperature(self) -> float:
        """The softmax temperature of the next step: annealed geometrically from
        ``temperature`` to ``final_temperature`` over the steps (a mixture nearer one-hot at
        the end leaves less between the relaxed loss and its argmax program's)."""
        first, last = self.temperatures
        return first * (last / first) ** (self.counters[0] / max(self.steps - 1, 1))

    def losses(self, temperature: float) -> np.ndarray:
        """The relaxed loss of every restart at the current parameters (once ``run``)."""
        return np.asarray(self.loss.losses(self.loss.jnp.asarray(self.theta),
                                           self.loss.jnp.asarray(self.data), temperature))

    def programs(self, initial: ProgramBuffers) -> ProgramBuffers:
        """Every restart's argmax program (a batch axis first)."""
        if self.data is None:
            _, self.data = self.sk.initial(int(self.seed[0]), self.restarts, self.init_scale)
        progs = [self.sk.discretise(self.theta[r], self.data[r], initial, self.capacity)
                 for r in range(self.restarts)]
        return ProgramBuffers(*(np.stack([getattr(p, f) for p in progs])
                                for f in ProgramBuffers._fields))

    # ---- checkpoint state -------------------------------------------------------------------
    def state(self, prefix: str) -> dict:
        return {f"{prefix}relax_theta": self.theta, f"{prefix}relax_adam_m": self.adam_m,
                f"{prefix}relax_adam_v": self.adam_v, f"{prefix}relax_counters": self.counters,
                f"{prefix}relax_seed": self.seed}

    def restore(self, arrays: dict, prefix: str) -> None:
        for key, own in self.state(prefix).items():
            own[...] = arrays[key]
        self.data, self.loss = None, None

    @staticmethod
    def check_state(arrays: dict, prefix: str, steps: int) -> None:
        """Values the relaxation can continue from (shapes: the island's blank state)."""
        validate.adam_state(arrays, f"{prefix}relax")
        counters = arrays[f"{prefix}relax_counters"]
        validate.within(counters[0:1], f"{prefix}relax_counters (step)", 0, steps)
        validate.within(counters[1:2], f"{prefix}relax_counters (seed set)", 0, 1)
