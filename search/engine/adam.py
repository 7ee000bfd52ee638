"""Adam (Kingma & Ba), the optimiser of the learners the search trains besides evolution:
the RL controller's policy (which ascends) and the differentiable relaxation (which
descends).  Their parameters and both moments are kept in the checkpoint
(validate.adam_state checks them on load)."""
from __future__ import annotations

import numpy as np

BETAS, EPS = (0.9, 0.999), 1e-8


def step(m: np.ndarray, v: np.ndarray, grad: np.ndarray, count, lr: float) -> np.ndarray:
    """Adam's ``count``-th step (counted from 1) for ``grad``: updates the moments ``m`` and
    ``v`` in place and returns the change to add to the parameters (to ascend) or subtract
    (to descend)."""
    b1, b2 = BETAS
    m[...] = b1 * m + (1 - b1) * grad
    v[...] = b2 * v + (1 - b2) * grad * grad
    m_hat = m / (1 - b1 ** count)
    v_hat = v / (1 - b2 ** count)
    return lr * m_hat / (np.sqrt(v_hat) + EPS)
