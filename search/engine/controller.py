"""The RL controller (``strategy = "rl"``): a policy that writes programs instruction by
instruction, trained with REINFORCE on the search fitness (NAS-RL's recipe, in numpy).

``[controller] policy`` picks the policy.  ``"bigram"`` (the default, this module) is
autoregressive over each component's op sequence and factorised below it.  For
instruction i of component c:

* the op is drawn from softmax(op_logits[c, i, previous op of c]) (a start token for i = 0)
  over the component's allowed ops;
* each operand (in1, in2, out) the op uses is drawn from softmax(reg_logits[c, i, role,
  kind]) over the registers of its kind (outputs never s0 / v0, as the randomizer);
* a constant op's value (SCALAR_CONST_SET_OP's value, a vector or matrix constant's value) is
  drawn from N(const_mean[c, i], exp(const_log_std[c, i])); the other op parameters (a
  constant's index, a random init's distribution) are drawn as the randomizer draws them.

``"gru"`` (engine.gru_policy) is NAS-RL's recurrent controller: one GRU over the program's
whole decision sequence, by backpropagation through time; it shares everything below
with the bigram (``ProgramPolicy``).  On the demo, under 1,000,000 individuals per run and
10 seeds, it did the same as the bigram (neither solved; median best select fitness 0.34972
against 0.34970, README "Strategies compared") at about 4 times the sampling and update
time per batch (0.33 s against 0.09 s for 1000 programs); the bigram stays the default.

Components have their initial sizes (``sizes.*_init``, as random search's programs); one
without ops keeps the initial program's instructions.  The op-bigram table's gradient is
closed form: it captures the slot-by-slot dependency the programs of the demo have (which
op follows which) without backpropagation through time.

Training, per batch of B programs: advantage = fitness - baseline (a moving average of the
batch means), and Adam ascends mean(advantage * log p(program)) + entropy_weight * mean
entropy.  The parameters, Adam's moments and the baseline are the controller's state, kept
in the checkpoint; each batch draws from a numpy generator seeded from the island's
SplitMix64 stream, so a fixed seed reproduces a run and a resumed run continues it exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from azcompile.ops import CONST_VALUE_COLUMN_BY_CODE, DATA_KIND_CODE, OP_ARRAYS, lookup
from azcompile.rng import next_u64

from . import adam, validate
from .evaluator import ProgramBuffers

_ROLE_KINDS = (OP_ARRAYS["in1_kind"], OP_ARRAYS["in2_kind"], OP_ARRAYS["out_kind"])
_DATA = OP_ARRAYS["data_kind"]
_LOG_STD_RANGE = (-10.0, 5.0)     # keeps exp() finite whatever the updates did
COUNTERS = ("adam_steps", "baseline", "baseline_set")


def _summed(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """``values`` added up per parameter ``index`` (what np.add.at does, several times faster)."""
    return np.bincount(index.ravel(), weights=values.ravel(), minlength=n)


def _f32(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32).astype(np.float64)


@dataclass
class Decisions:
    """What the gradient needs of one batch.  The bigram policy: per categorical decision the
    parameter indices of its logits (B, n) and d log p / d logits (B, n).  Both policies: the
    entropy gradient of what the policy records as parameter indices (independent of the
    rewards); per constant the index of its mean and log-std, and their d log p.  The GRU
    policy: its steps (engine.gru_policy)."""
    index: list
    score: list
    entropy_grad: np.ndarray
    const_rows: list       # (mask (B,), mean index, d/dmean (B,), d/dlogstd (B,))
    steps: list = field(default_factory=list)


def softmax(logits: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each row's softmax over its valid entries (0 elsewhere)."""
    z = np.where(valid, logits, -np.inf)
    z = z - z.max(axis=1, keepdims=True)
    p = np.where(valid, np.exp(z), 0.0)
    p /= p.sum(axis=1, keepdims=True)
    return p


def draw(rng, logits: np.ndarray, valid: np.ndarray):
    """One draw per row from softmax(logits) over the valid entries: the choices (B,),
    d log p(choice) / d logits and d entropy / d logits (B, n)."""
    p = softmax(logits, valid)
    cum = np.cumsum(p, axis=1)
    u = rng.random(p.shape[0])[:, None] * cum[:, -1:]
    last = valid.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)
    choice = np.minimum((cum <= u).sum(axis=1), last)
    onehot = np.zeros_like(p)
    onehot[np.arange(p.shape[0]), choice] = 1.0
    logp = log_probs(p)
    entropy = -(p * logp).sum(axis=1, keepdims=True)
    return choice, onehot - p, -p * (logp + entropy)


def log_probs(p: np.ndarray) -> np.ndarray:
    """log p where p > 0, else 0 (an invalid entry adds nothing to an entropy)."""
    return np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), 0.0)


class ProgramPolicy:
    """What both policies share: the program space (the components' ops and initial sizes,
    the register masks, the initial program's op-less components), the parameter vector
    with its named views, the constants' Gaussians, REINFORCE with Adam and the state."""

    def __init__(self, cfg, initial: ProgramBuffers):
        init, _, _ = cfg.size_bounds()
        self.sizes = np.array(init, dtype=np.int32)
        self.ops = [np.array([lookup(n).id for n in names], dtype=np.int32) for names in cfg.ops]
        m = cfg.memory
        self.counts = np.array([0, m.scalars, m.vectors, m.matrices])
        self.initial = initial
        self.lr = cfg.controller["learning_rate"]
        self.entropy_weight = cfg.controller["entropy_weight"]
        self.baseline_decay = cfg.controller["baseline_decay"]
        # K: the most ops a component allows, L: the longest component, R: the most
        # registers of a kind (the parameter tables' sizes)
        self.K = max(1, max(len(o) for o in self.ops))
        self.L = max(1, int(self.sizes.max()))
        self.R = int(self.counts.max())
        self.shapes = {**self._shapes(), "mean": (3, self.L), "log_std": (3, self.L)}
        self.offsets, n = {}, 0
        for name, shape in self.shapes.items():
            self.offsets[name] = n
            n += int(np.prod(shape))
        self.theta, self.adam_m, self.adam_v = np.zeros(n), np.zeros(n), np.zeros(n)
        self.counters = np.zeros(len(COUNTERS))
        # Register masks per role (0, 1: inputs; 2: output) and kind code (1..3).
        self.reg_valid = np.zeros((3, 4, self.R), dtype=bool)
        for role in range(3):
            for kind in (1, 2, 3):
                first = 1 if role == 2 and kind != 3 else 0
                self.reg_valid[role, kind, first:self.counts[kind]] = True

    def _shapes(self) -> dict:
        """The policy's parameter tables (name: shape), before the constants' mean, log_std."""
        raise NotImplementedError

    def view(self, name: str, theta: np.ndarray | None = None) -> np.ndarray:
        start = self.offsets[name]
        source = self.theta if theta is None else theta
        return source[start:start + int(np.prod(self.shapes[name]))].reshape(self.shapes[name])

    # ---- sampling ---------------------------------------------------------------------------
    def sample(self, count: int, rng_state: np.ndarray) -> tuple[ProgramBuffers, Decisions]:
        """``count`` programs (ProgramBuffers with a batch axis) and the decisions made."""
        rng = np.random.default_rng(int(next_u64(rng_state)))
        init = self.initial
        code = np.repeat(init.code[None], count, axis=0)
        data = np.repeat(init.data[None], count, axis=0)
        size = np.repeat(init.size[None], count, axis=0)
        dec = Decisions([], [], np.zeros_like(self.theta), [])
        written = [c for c in range(3) if len(self.ops[c])]
        for c in written:
            size[:, c] = self.sizes[c]
            code[:, c, :, :] = 0
            data[:, c, :, :] = 0.0
        self._write(rng, code, data, written, dec)
        return ProgramBuffers(code, data, size), dec

    def _write(self, rng, code, data, components, dec) -> None:
        """The policy's part: every instruction of ``components`` (ops, operands, and
        through ``_op_data`` the op parameters)."""
        raise NotImplementedError

    def register_choices(self, role: int, op: np.ndarray):
        """For operand ``role`` of each row's ``op``: whether the op uses it, its register
        kind (1..3; 1 where unused) and the registers it may name (B, R)."""
        kind = _ROLE_KINDS[role][op]
        used = kind > 0
        k = np.maximum(kind, 1)
        return used, k, self.reg_valid[role, k] & used[:, None]

    def _op_data(self, rng, data, c, i, op, dec) -> None:
        """The op parameters: learned values for constants, the randomizer's draws else."""
        kind = _DATA[op]
        B = op.shape[0]
        # Index fractions in [0, 1) with 24 bits, exact in float32 (a rounded double draw
        # could be 1.0, an index past the end); values rounded to float32 as the mutator's.
        unit = rng.integers(0, 1 << 24, (B, 2)) * 2.0 ** -24
        uniform = _f32(rng.uniform(-1.0, 1.0, (B, 2)))
        vector, matrix = kind == DATA_KIND_CODE["vector_const"], kind == DATA_KIND_CODE["matrix_const"]
        gauss, unif = kind == DATA_KIND_CODE["gaussian"], kind == DATA_KIND_CODE["uniform"]
        data[vector, c, i, 1] = unit[vector, 0]
        data[matrix, c, i, 1] = unit[matrix, 0]
        data[matrix, c, i, 2] = unit[matrix, 1]
        data[gauss, c, i, 1] = uniform[gauss, 0]
        data[gauss, c, i, 2] = unit[gauss, 0]
        data[unif, c, i, 1] = uniform[unif, 0]
        data[unif, c, i, 2] = uniform[unif, 1]
        mean = self.view("mean")[c, i]
        log_std = np.clip(self.view("log_std")[c, i], *_LOG_STD_RANGE)
        eps = rng.standard_normal(B)
        value = mean + np.exp(log_std) * eps
        for data_kind, column in CONST_VALUE_COLUMN_BY_CODE.items():
            rows = kind == data_kind
            data[rows, c, i, column] = value[rows] if column == 0 else _f32(value[rows])
        has_const = np.isin(kind, list(CONST_VALUE_COLUMN_BY_CODE))
        slot = c * self.L + i
        dec.const_rows.append((has_const, slot, eps / np.exp(log_std), eps * eps - 1.0))
        dec.entropy_grad[self.offsets["log_std"] + slot] += has_const.sum()   # d H / d log std

    # ---- learning ---------------------------------------------------------------------------
    def gradient(self, dec: Decisions, advantage: np.ndarray) -> np.ndarray:
        """d/d theta of mean(advantage * log p(program)) + entropy_weight * mean entropy."""
        B = advantage.shape[0]
        grad = self.entropy_weight * dec.entropy_grad / B
        self._add_decision_gradient(grad, dec, advantage)
        for has_const, slot, d_mean, d_log_std in dec.const_rows:
            a = advantage * has_const / B
            grad[self.offsets["mean"] + slot] += (a * d_mean).sum()
            grad[self.offsets["log_std"] + slot] += (a * d_log_std).sum()
        return grad

    def _add_decision_gradient(self, grad, dec: Decisions, advantage: np.ndarray) -> None:
        """The policy's part of the gradient, its categorical decisions', added to ``grad``."""
        raise NotImplementedError

    def update(self, dec: Decisions, fitness: np.ndarray) -> None:
        """One REINFORCE step on the batch's fitness (Adam, ascending)."""
        reward = np.asarray(fitness, dtype=np.float64)
        if reward.shape[0] == 0:
            return
        steps, baseline, known = self.counters
        if not known:
            baseline = float(reward.mean())
        grad = self.gradient(dec, reward - baseline)
        steps += 1
        self.theta += adam.step(self.adam_m, self.adam_v, grad, steps, self.lr)
        baseline = self.baseline_decay * baseline + (1 - self.baseline_decay) * reward.mean()
        self.counters[:] = (steps, baseline, 1.0)

    # ---- checkpoint state -------------------------------------------------------------------
    def state(self, prefix: str) -> dict:
        return {f"{prefix}rl_theta": self.theta, f"{prefix}rl_adam_m": self.adam_m,
                f"{prefix}rl_adam_v": self.adam_v, f"{prefix}rl_counters": self.counters}

    def restore(self, arrays: dict, prefix: str) -> None:
        for key, own in self.state(prefix).items():
            own[...] = arrays[key]

    @staticmethod
    def check_state(arrays: dict, prefix: str) -> None:
        """Values the sampler can use (shapes are checked with the island's blank state)."""
        validate.adam_state(arrays, f"{prefix}rl")
        counters = arrays[f"{prefix}rl_counters"]
        validate.within(counters[0:1], f"{prefix}rl_counters (adam steps)", 0, 2 ** 53)
        validate.within(counters[2:3], f"{prefix}rl_counters (baseline set)", 0, 1)


class Controller(ProgramPolicy):
    """The op-bigram policy (``[controller] policy = "bigram"``, see the module's docstring)."""

    def __init__(self, cfg, initial: ProgramBuffers, seed: int = 0):
        super().__init__(cfg, initial)      # (its parameters start at 0: no seed needed)

    def _shapes(self) -> dict:
        K, L, R = self.K, self.L, self.R
        return {"op": (3, L, K + 1, K), "reg": (3, L, 3, 3, R)}

    def _write(self, rng, code, data, components, dec) -> None:
        for c in components:
            prev = np.full(code.shape[0], self.K)
            for i in range(self.sizes[c]):
                prev = self._instruction(rng, code, data, c, i, prev, dec)

    def _instruction(self, rng, code, data, c, i, prev, dec) -> np.ndarray:
        n_ops = len(self.ops[c])
        logits = self.view("op")[c, i, prev, :n_ops]
        index = self.offsets["op"] + (((c * self.L + i) * (self.K + 1) + prev) * self.K)[:, None] \
            + np.arange(n_ops)
        choice = self._categorical(rng, logits, np.ones_like(logits, dtype=bool), index, dec)
        op = self.ops[c][choice]
        code[:, c, i, 0] = op
        reg = self.view("reg")
        for role in range(3):
            used, k, valid = self.register_choices(role, op)
            valid[~used, 0] = True         # an unused operand: one certain choice, register 0
            index = self.offsets["reg"] + ((((c * self.L + i) * 3 + role) * 3 + k - 1)
                                           * self.R)[:, None] + np.arange(self.R)
            code[:, c, i, 1 + role] = self._categorical(rng, reg[c, i, role, k - 1], valid,
                                                        index, dec)
        self._op_data(rng, data, c, i, op, dec)
        return choice

    def _categorical(self, rng, logits, valid, index, dec) -> np.ndarray:
        """``draw``, recording the decision's score and entropy gradient."""
        choice, score, entropy_grad = draw(rng, logits, valid)
        dec.index.append(index)
        dec.score.append(score)
        dec.entropy_grad += _summed(index, entropy_grad, dec.entropy_grad.shape[0])
        return choice

    def _add_decision_gradient(self, grad, dec: Decisions, advantage: np.ndarray) -> None:
        B = advantage.shape[0]
        for index, score in zip(dec.index, dec.score):
            grad += _summed(index, advantage[:, None] * score / B, grad.shape[0])
