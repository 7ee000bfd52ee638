"""What every island of a configuration is built from, and islands in this process.

A search and each of its worker processes build islands the same way (``IslandKit``), so
both take it from here rather than from each other.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from azcompile.program import Program

from ..data.tasks import TaskSpec
from ..engine import evaluator
from ..engine.island import Island
from ..engine.mutator import MutatorSpec
from . import initial
from .config import Config, build_task_list


def eval_settings(cfg: Config) -> evaluator.EvalSettings:
    fec_cfg, hurdles, budget = cfg.fec, cfg.hurdles, cfg.train_budget
    s = evaluator.EvalSettings(combination=cfg.evolution["fitness_combination"],
                               max_abs_error=cfg.evolution["max_abs_error"],
                               prefilter=cfg.evolution["prefilter"],
                               random_draws=cfg.evolution["random_draws"],
                               draw_combination=cfg.evolution["draw_combination"])
    if fec_cfg:
        s.fec = True
        s.fec_train = fec_cfg["num_train_examples"]
        s.fec_valid = fec_cfg["num_valid_examples"]
        s.fec_cache_size = fec_cfg["cache_size"]
        s.fec_forget_every = fec_cfg["forget_every"]
    if hurdles:
        s.hurdles = True
        s.hurdle_fraction = hurdles["train_fraction"]
        s.hurdle_percentile = hurdles["percentile"]
        s.hurdle_every = hurdles["update_every"]
        s.hurdle_window = hurdles["window"]
    if budget:
        init, _, _ = cfg.size_bounds()
        base = initial.build(budget["baseline"], cfg.memory, init)
        s.budget = True
        s.budget_factor = budget["threshold_factor"]
        s.budget_setup_cost, s.budget_step_cost = evaluator.budget_costs(base)
    return s


def mutator_spec(cfg: Config) -> MutatorSpec:
    init, low, high = cfg.size_bounds()
    m = cfg.memory
    return MutatorSpec.build(cfg.ops, cfg.evolution["mutations"], low, high,
                             [m.scalars, m.vectors, m.matrices], cfg.evolution["mutate_prob"])


def batch_size(cfg: Config) -> int:
    """Generations per step: the run's batch, at most one sweep of the population."""
    return min(cfg.run["batch_size"], cfg.evolution["population_size"])


@dataclass(frozen=True)
class IslandKit:
    cfg: Config
    mutator: MutatorSpec
    settings: evaluator.EvalSettings
    init_program: Program
    batch_size: int

    @classmethod
    def of(cls, cfg: Config) -> "IslandKit":
        init_sizes, _, most = cfg.size_bounds()
        init = initial.build(cfg.evolution["initial_population"], cfg.memory, init_sizes, most)
        return cls(cfg, mutator_spec(cfg), eval_settings(cfg), init, batch_size(cfg))

    def island(self, specs: Sequence[TaskSpec], seed: int) -> Island:
        tasks = build_task_list(specs, "search_tasks")
        return Island(self.cfg, self.mutator, self.init_program, tasks, self.settings,
                      seed=seed, batch_size=self.batch_size)


class LocalIslands:
    """``engine.island_protocol.IslandMaker`` for islands in this process: new ones per experiment."""

    def __init__(self, kit: IslandKit):
        self.kit = kit

    def islands(self, specs, seeds) -> list[Island]:
        return [self.kit.island(specs, seed) for seed in seeds]

    def close(self) -> None:
        pass        # nothing outlives an experiment here
