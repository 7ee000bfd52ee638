"""Time per batch of the RL controller's policies (``[controller] policy``): sampling and the
REINFORCE update of a batch of demo programs (README, "Search strategies").

    python tests/bench/bench_controller.py [--batch 1000] [--repeats 6]

Prints, per policy, the median over ``repeats`` batches of the sampling and the update time.
The fitness fed to the update is random (the update's cost does not depend on it).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from azcompile.rng import new_state
from azcompile.search.api import config_dict, make_config
from azcompile.search.engine.evaluator import blank_program
from azcompile.search.engine.island import POLICIES


def time_policy(policy: str, batch: int, repeats: int) -> tuple[float, float]:
    doc = config_dict("demo")
    doc["evolution"]["strategy"] = "rl"
    doc["controller"] = {"policy": policy}
    cfg = make_config(doc)
    controller = POLICIES[policy](cfg, blank_program(cfg.capacity), 1)
    rng, fitness = new_state(1), np.random.default_rng(1)
    sampling, updating = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _programs, decisions = controller.sample(batch, rng)
        t1 = time.perf_counter()
        controller.update(decisions, fitness.random(batch))
        sampling.append(t1 - t0)
        updating.append(time.perf_counter() - t1)
    return float(np.median(sampling)), float(np.median(updating))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    print(f"demo, batch of {args.batch} programs, median of {args.repeats} batches")
    for policy in POLICIES:
        sample, update = time_policy(policy, args.batch, args.repeats)
        print(f"{policy:8s} sampling {sample * 1e3:7.1f} ms   update {update * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
