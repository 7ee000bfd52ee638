"""The tuning methods, each an ask/tell sampler over the unit cube (see ``space``).

Samplers are deterministic given their seed and the values told to them, which is what
resuming relies on: a resumed tuning asks again from the start and gets the same points,
and the values it tells are the recorded ones (``tuner``).  Values are fitness (higher is
better); the samplers that minimise get it negated.

- ``grid``: the full factorial grid with k points per constant, k^d <= trials;
- ``random``: uniform in the cube (log-uniform in each constant's range), as the paper
  retuned its winners;
- ``cmaes``: CMA-ES (the ``cmaes`` package) from the program's own values, step size a
  quarter of the range, asked one generation at a time;
- ``tpe``: Optuna's tree-structured Parzen estimator, asked one point at a time.

The last two need the optional extra ``tune``.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .errors import TuneError

METHODS = ("grid", "random", "cmaes", "tpe")
INSTALL = "pip install 'azcompile[tune]'"
CMA_SIGMA = 0.25        # of the unit cube: +-2 sigma spans a constant's whole range


def _missing(method: str, package: str) -> TuneError:
    return TuneError(f"--method {method} needs the package {package!r}, which is not "
                     f"installed; install it with: {INSTALL}")


def _seed32(seed: int) -> int:
    return int(seed) % (2 ** 32)


class GridSampler:
    batch = 27

    def __init__(self, dims: int, trials: int, seed: int):
        k = grid_points(dims, trials)
        if k < 2:
            raise TuneError(f"a grid over {dims} constants needs at least 2^{dims} = "
                            f"{2 ** dims} trials; give --trials {2 ** dims} or more, or use "
                            "--method random")
        axis = np.linspace(0.0, 1.0, k)
        self.points = [np.array(p) for p in itertools.product(axis, repeat=dims)]
        self.next = 0

    @property
    def size(self) -> int:
        return len(self.points)

    def ask(self, n: int) -> list:
        taken = self.points[self.next:self.next + n]
        self.next += len(taken)
        return taken

    def tell(self, points, values) -> None:
        pass


def grid_points(dims: int, trials: int) -> int:
    """The largest k with k^dims <= trials."""
    k = max(1, int(math.floor(trials ** (1.0 / dims) + 1e-9)))
    while (k + 1) ** dims <= trials:
        k += 1
    while k > 1 and k ** dims > trials:
        k -= 1
    return k


class RandomSampler:
    batch = 27
    size = None         # points it can give: no end

    def __init__(self, dims: int, trials: int, seed: int):
        self.dims = dims
        self.rng = np.random.default_rng(seed)

    def ask(self, n: int) -> list:
        return [self.rng.random(self.dims) for _ in range(n)]

    def tell(self, points, values) -> None:
        pass


class CmaesSampler:
    def __init__(self, dims: int, trials: int, seed: int):
        try:
            from cmaes import CMA
        except ImportError:
            raise _missing("cmaes", "cmaes") from None
        bounds = np.tile([0.0, 1.0], (dims, 1))
        self.cma = CMA(mean=np.full(dims, 0.5), sigma=CMA_SIGMA, bounds=bounds,
                       seed=_seed32(seed))
        self.batch = self.cma.population_size      # tell takes whole generations
        self.size = None

    def ask(self, n: int) -> list:
        return [np.asarray(self.cma.ask(), dtype=float) for _ in range(n)]

    def tell(self, points, values) -> None:
        if len(points) == self.batch:              # a cut-short last generation is not told
            self.cma.tell([(np.asarray(p), -float(v)) for p, v in zip(points, values)])


class TpeSampler:
    batch = 1           # sequential: each point sees every value before it
    size = None

    def __init__(self, dims: int, trials: int, seed: int):
        try:
            import optuna
        except ImportError:
            raise _missing("tpe", "optuna") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=_seed32(seed))
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self.dims = dims
        self.pending = {}

    def ask(self, n: int) -> list:
        points = []
        for _ in range(n):
            trial = self.study.ask()
            point = np.array([trial.suggest_float(f"c{i}", 0.0, 1.0) for i in range(self.dims)])
            self.pending[point.tobytes()] = trial
            points.append(point)
        return points

    def tell(self, points, values) -> None:
        for point, value in zip(points, values):
            self.study.tell(self.pending.pop(np.asarray(point).tobytes()), float(value))


_SAMPLERS = {"grid": GridSampler, "random": RandomSampler, "cmaes": CmaesSampler,
             "tpe": TpeSampler}


def sampler(method: str, dims: int, trials: int, seed: int):
    """The sampler of ``method`` for ``dims`` constants and a budget of ``trials`` points."""
    if method not in _SAMPLERS:
        raise TuneError(f"unknown tuning method {method!r}; choose one of {', '.join(METHODS)}")
    return _SAMPLERS[method](dims, trials, seed)


def check_available(method: str) -> None:
    """Fail now, before any work, if ``method``'s optional package is missing."""
    sampler(method, 1, 1 if method != "grid" else 2, 0)
