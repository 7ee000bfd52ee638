"""The RL controller's GRU policy (``[controller] policy = "gru"``): NAS-RL's recurrent
controller, in numpy, on the program space of engine.controller.

One GRU cell of ``hidden`` units runs over the whole decision sequence of a program: per
component with ops, per instruction slot, the op and then each operand the op uses (in1,
in2, out).  The input of a step is a learned embedding of the previous decision (a start
token, an op token per component, a register token per kind), plus a learned embedding of
the decision the step makes (component x {op, role x register kind}) and of its slot
(component x instruction).  The embeddings hold the cell's input pre-activations directly
(3 x hidden wide: update gate, reset gate, candidate), which is a GRU whose input matrix is
folded into the embedding tables (a linear map of a learned embedding is another learned
embedding).  After the step, a softmax head reads the hidden state: an op head per
component over its allowed ops, a register head per kind over its registers (outputs never
s0 / v0).  An operand the sampled op does not use is no decision: for that row the step is
masked out and the hidden state passes through unchanged, so the B programs of a batch
are sampled together whatever their ops.

A constant op's value comes, as in the bigram policy, from a Gaussian with a mean and
log-std per slot, and the other op parameters are drawn as the randomizer draws them
(ProgramPolicy._op_data): a value is continuous and not fed back into the sequence, and
keeping its Gaussian the bigram's makes the two policies differ only in how they choose
ops and operands.

The gradient of the REINFORCE objective (ProgramPolicy.gradient) is backpropagation
through time written out: the forward pass keeps each step's hidden state in and gates,
the backward pass runs from them.  The initial weights are drawn from the island's seed,
small enough that the first samples are close to uniform.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from .controller import Decisions, ProgramPolicy, draw, log_probs, softmax
from .evaluator import ProgramBuffers

N_TYPES = 10           # the decisions of a slot: the op, then role (3) x register kind (3)
_INIT_SCALE = {"tok": 0.5, "step": 0.5, "slot": 0.5}    # the others: 1 / sqrt(hidden)
_BLAS = []             # the ThreadpoolController, made on first use


def _one_blas_thread():
    """A context in which BLAS runs on one thread: the cell's products are small (batch x
    hidden x 3 hidden), and OpenBLAS's threads on a loaded 2-core machine made a batch
    of the demo 15 times slower (5.5 s against 0.3 s)."""
    if not _BLAS:
        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


@dataclass
class Step:
    """One step of the decision sequence, as sampled: where it is (component, slot, role:
    -1 for the op), per row its input token, decision type, whether it is a decision at all,
    the register kind index of its head, the valid choices, the choice, the hidden states
    before and after it and the gates (z, r, n), d log p / d logits and d entropy / d logits
    (0 on masked rows)."""
    c: int
    i: int
    role: int
    tokens: np.ndarray
    types: np.ndarray
    active: np.ndarray
    kind: np.ndarray
    valid: np.ndarray
    choice: np.ndarray | None = None
    h_prev: np.ndarray | None = None
    h: np.ndarray | None = None
    gates: tuple = ()
    score: np.ndarray | None = None
    entropy_grad: np.ndarray | None = None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))       # no overflow warning for large |x|


class GruController(ProgramPolicy):
    """The GRU policy (see the module's docstring).  ``dtype``: what the cell computes in
    (float32: twice as fast as float64 here; the parameters and Adam stay float64)."""

    def __init__(self, cfg, initial: ProgramBuffers, seed: int = 0, dtype=np.float32):
        self.H = cfg.controller["hidden"]
        self.dtype = dtype
        super().__init__(cfg, initial)
        rng = np.random.default_rng(seed)
        for name in self.shapes:
            if name in ("op_b", "reg_b", "mean", "log_std"):
                continue                           # biases and the Gaussians start at 0
            scale = _INIT_SCALE.get(name, 1.0 / np.sqrt(self.H))
            self.view(name)[...] = scale * rng.standard_normal(self.shapes[name])

    def _shapes(self) -> dict:
        K, L, R, H = self.K, self.L, self.R, self.H
        # reg_w: the register heads of the 3 kinds side by side (one product for all rows)
        return {"tok": (self.n_tokens, 3 * H), "step": (3, N_TYPES, 3 * H),
                "slot": (3, L, 3 * H), "U": (H, 3 * H),
                "op_w": (3, H, K), "op_b": (3, K), "reg_w": (H, 3 * R), "reg_b": (3, R)}

    @property
    def n_tokens(self) -> int:
        return 1 + 3 * self.K + 3 * self.R          # start, ops per component, registers per kind

    def _params(self, theta=None) -> dict:
        return {name: self.view(name, theta).astype(self.dtype) for name in self.shapes}

    # ---- one step, forward ------------------------------------------------------------------
    def _cell(self, h, step: Step, P: dict):
        """The GRU cell on ``step``'s input: the new hidden state (unchanged on masked rows)
        and the gates (z, r, n)."""
        H = self.H
        x = P["tok"][step.tokens] + P["step"][step.c, step.types] + P["slot"][step.c, step.i]
        U = P["U"]
        zr = _sigmoid(x[:, :2 * H] + h @ U[:, :2 * H])
        z, r = zr[:, :H], zr[:, H:]
        n = np.tanh(x[:, 2 * H:] + (r * h) @ U[:, 2 * H:])
        h_new = np.where(step.active[:, None], (1.0 - z) * n + z * h, h)
        return h_new, (z, r, n)

    def _logits(self, h, step: Step, P: dict) -> np.ndarray:
        if step.role < 0:
            n = len(self.ops[step.c])
            return h @ P["op_w"][step.c][:, :n] + P["op_b"][step.c, :n]
        every_kind = (h @ P["reg_w"]).reshape(h.shape[0], 3, self.R) + P["reg_b"]
        return every_kind[np.arange(h.shape[0]), step.kind]

    # ---- sampling ---------------------------------------------------------------------------
    def _write(self, rng, code, data, components, dec) -> None:
        with _one_blas_thread():
            self._write_sequence(rng, code, data, components, dec)

    def _write_sequence(self, rng, code, data, components, dec) -> None:
        B = code.shape[0]
        P = self._params()
        h = np.zeros((B, self.H), dtype=self.dtype)
        prev = np.zeros(B, dtype=np.int64)            # the start token
        everyone, zeros = np.ones(B, dtype=bool), np.zeros(B, dtype=np.int64)
        for c in components:
            n_ops = len(self.ops[c])
            for i in range(self.sizes[c]):
                step = Step(c, i, -1, prev, zeros, everyone, zeros, np.ones((B, n_ops), bool))
                h = self._decide(rng, h, step, P, dec)
                op = self.ops[c][step.choice]
                code[:, c, i, 0] = op
                prev = 1 + c * self.K + step.choice
                for role in range(3):
                    used, k, valid = self.register_choices(role, op)
                    valid[~used, 0] = True                 # (a masked row's draw is ignored)
                    step = Step(c, i, role, prev, 1 + 3 * role + (k - 1), used, k - 1, valid)
                    h = self._decide(rng, h, step, P, dec)
                    code[:, c, i, 1 + role] = np.where(used, step.choice, 0)
                    token = 1 + 3 * self.K + (k - 1) * self.R + step.choice
                    prev = np.where(used, token, prev)
                self._op_data(rng, data, c, i, op, dec)

    def _decide(self, rng, h, step: Step, P: dict, dec) -> np.ndarray:
        """Run ``step``, draw its choices, record it; returns the new hidden state."""
        step.h_prev = h
        h, step.gates = self._cell(h, step, P)
        step.h = h
        step.choice, score, entropy_grad = draw(rng, self._logits(h, step, P), step.valid)
        mask = step.active[:, None]
        step.score, step.entropy_grad = score * mask, entropy_grad * mask
        dec.steps.append(step)
        return h

    # ---- learning ---------------------------------------------------------------------------
    def _add_decision_gradient(self, grad, dec: Decisions, advantage: np.ndarray) -> None:
        with _one_blas_thread():
            self._backpropagate(grad, dec, advantage)

    def _backpropagate(self, grad, dec: Decisions, advantage: np.ndarray) -> None:
        """Backpropagation through time of sum over steps and rows of (advantage * log p +
        entropy_weight * entropy) / B, added to ``grad``."""
        B, H, R = advantage.shape[0], self.H, self.R
        P = self._params()
        g = {name: np.zeros(shape, dtype=self.dtype) for name, shape in self.shapes.items()}
        advantage = advantage.astype(self.dtype)[:, None] / B
        weight = self.dtype(self.entropy_weight / B)
        dh = np.zeros((B, H), dtype=self.dtype)
        for step in reversed(dec.steps):
            d_logits = advantage * step.score + weight * step.entropy_grad
            h = step.h
            if step.role < 0:
                n_ops = d_logits.shape[1]
                g["op_w"][step.c][:, :n_ops] += h.T @ d_logits
                g["op_b"][step.c, :n_ops] += d_logits.sum(axis=0)
                dh += d_logits @ P["op_w"][step.c][:, :n_ops].T
            else:
                every_kind = np.zeros((B, 3, R), dtype=self.dtype)
                every_kind[np.arange(B), step.kind] = d_logits
                every_kind = every_kind.reshape(B, 3 * R)
                g["reg_w"] += h.T @ every_kind
                g["reg_b"] += every_kind.sum(axis=0).reshape(3, R)
                dh += every_kind @ P["reg_w"].T
            dh = self._cell_backward(dh, step, P, g)
        for name in self.shapes:
            self.view(name, grad)[...] += g[name]

    def _cell_backward(self, dh, step: Step, P: dict, g: dict) -> np.ndarray:
        """d/d h_prev from d/d h, on the rows where the step was a decision; the cell's
        parameter gradients added to ``g``."""
        H, U = self.H, P["U"]
        h_prev, (z, r, n) = step.h_prev, step.gates
        active = step.active[:, None]
        d_new = dh * active
        d_prev = dh * ~active + d_new * z
        d_n = d_new * (1.0 - z) * (1.0 - n * n)
        d_rh = d_n @ U[:, 2 * H:].T
        g["U"][:, 2 * H:] += (r * h_prev).T @ d_n
        d_prev += d_rh * r
        d_zr = np.concatenate([d_new * (h_prev - n) * z * (1.0 - z),
                               d_rh * h_prev * r * (1.0 - r)], axis=1)
        g["U"][:, :2 * H] += h_prev.T @ d_zr
        d_prev += d_zr @ U[:, :2 * H].T
        dx = np.concatenate([d_zr, d_n], axis=1)
        g["tok"] += _onehot(step.tokens, self.n_tokens, self.dtype).T @ dx
        g["step"][step.c] += _onehot(step.types, N_TYPES, self.dtype).T @ dx
        g["slot"][step.c, step.i] += dx.sum(axis=0)
        return d_prev

    def decision_objective(self, dec: Decisions, advantage: np.ndarray, theta) -> float:
        """What ``_add_decision_gradient`` differentiates, for the decisions of ``dec`` replayed
        with parameters ``theta`` (the gradient check's reference)."""
        B = advantage.shape[0]
        P = self._params(theta)
        h = np.zeros((B, self.H), dtype=self.dtype)
        total = 0.0
        for step in dec.steps:
            h, _ = self._cell(h, step, P)
            p = softmax(self._logits(h, step, P), step.valid)
            logp = log_probs(p)
            chosen = logp[np.arange(B), step.choice]
            entropy = -(p * logp).sum(axis=1)
            total += float((step.active * (advantage * chosen
                                           + self.entropy_weight * entropy)).sum()) / B
        return total


def _onehot(index: np.ndarray, n: int, dtype) -> np.ndarray:
    out = np.zeros((index.shape[0], n), dtype=dtype)
    out[np.arange(index.shape[0]), index] = 1.0
    return out
