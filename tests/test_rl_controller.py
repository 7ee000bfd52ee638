"""The RL controller (``evolution.strategy = "rl"``, engine.controller): valid samples within
the config's ops and sizes, REINFORCE improves the sampled fitness, a fixed seed
reproduces, its state checkpoints (checked on load; kill -9 and resume), config errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from azcompile.rng import new_state
from azcompile.search.cli.lineage_view import render_chain
from azcompile.search.engine.island import Island
from azcompile.search.engine.mutator import MUTATION_LABELS, SAMPLED
from azcompile.search.engine.population import check_instructions
from azcompile.search.engine.validate import CheckpointError
from azcompile.search.run.config import parse
from azcompile.search.run.island_kit import eval_settings
from cli_checks import assert_user_error, run_azc
from configs import with_section
from test_search_run import azc_in_process
from kill_resume import killed_and_resumed, run_to_end
from test_evolution import BASE, assert_clean, make_island

TINY = Path(__file__).resolve().parent / "data" / "tiny.toml"
POP = 32
NEEDLE_IN_A_PROCESS = "learning_rate"


def rl_config(controller: str = "learning_rate = 0.1"):
    text = (BASE.read_text().replace("[evolution]\n", '[evolution]\nstrategy = "rl"\n')
            .replace("population_size = 8", f"population_size = {POP}")
            .replace("batch_size = 8", f"batch_size = {POP}"))
    return parse(f"{text}\n[controller]\n{controller}\n", str(BASE))


def _run(cfg, seed, batches):
    isl = make_island(cfg, seed=seed)
    isl.initialize(POP)
    means = []
    for _ in range(batches):
        isl.evolve(POP)
        means.append(float(isl.log.fitness[:POP].mean()))
    return isl, means


def test_samples_are_valid_programs_of_the_config_s_ops_and_sizes():
    cfg = rl_config()
    isl = make_island(cfg)
    batch, _ = isl.controller.sample(64, new_state(5))
    check_instructions(batch.code, cfg.memory, "sample")
    init, _, _ = cfg.size_bounds()
    assert (batch.size == np.array(init)).all()
    for c, names in enumerate(cfg.ops):
        allowed = set(isl.controller.ops[c].tolist())
        assert set(batch.code[:, c, :init[c], 0].ravel().tolist()) == allowed   # all used
    assert_clean(batch)
    assert len({batch.code[k].tobytes() for k in range(64)}) > 60


def test_reinforce_improves_the_mean_sampled_fitness():
    isl, means = _run(rl_config(), seed=1, batches=60)
    assert np.mean(means[-5:]) > np.mean(means[:5]) + 0.02, (means[:5], means[-5:])
    assert (isl.pop.mutations == SAMPLED).all() and MUTATION_LABELS[SAMPLED] == "rl_sample"
    assert (isl.pop.parents == -1).all()
    assert_clean(isl.pop)


def test_a_fixed_seed_reproduces_and_the_state_continues_the_run():
    cfg = rl_config()
    whole, _ = _run(cfg, seed=4, batches=6)
    half, _ = _run(cfg, seed=4, batches=3)
    resumed = make_island(cfg, seed=99)
    resumed.restore({k: v.copy() for k, v in half.state("").items()}, "")
    for isl in (half, resumed):
        for _ in range(3):
            isl.evolve(POP)
        assert np.array_equal(whole.pop.code, isl.pop.code)
        assert np.array_equal(whole.pop.fitness, isl.pop.fitness)
        assert np.array_equal(whole.controller.theta, isl.controller.theta)
        assert np.array_equal(whole.controller.adam_v, isl.controller.adam_v)
    other, _ = _run(cfg, seed=5, batches=6)
    assert not np.array_equal(whole.controller.theta, other.controller.theta)


@pytest.mark.parametrize("name, value, needle", [
    ("rl_theta", np.nan, "not finite"), ("rl_adam_v", -1.0, "negative"),
    ("rl_counters", 0.5, "whole numbers")])
def test_a_damaged_controller_state_is_refused(name, value, needle):
    cfg = rl_config()
    isl, _ = _run(cfg, seed=2, batches=1)
    arrays = {k: v.copy() for k, v in isl.state("i0_").items()}
    arrays[f"i0_{name}"][0] = value
    with pytest.raises(CheckpointError, match=needle):
        Island.check_state(arrays, "i0_", cfg, eval_settings(cfg))
    arrays.pop(f"i0_{name}")
    with pytest.raises(CheckpointError, match="missing"):
        Island.check_state(arrays, "i0_", cfg, eval_settings(cfg))


def test_an_rl_run_killed_and_resumed_ends_as_an_uninterrupted_one(tmp_path):
    path = tmp_path / "tiny_rl.toml"
    path.write_text(TINY.read_text().replace("[evolution]\n", '[evolution]\nstrategy = "rl"\n')
                    .replace("max_experiments = 3", "max_experiments = 1")
                    .replace("max_train_steps = 3_000_000", "max_train_steps = 800_000"))
    reference = run_to_end(path, tmp_path / "ref", seed=11)
    assert reference == killed_and_resumed(path, tmp_path / "killed", seed=11,
                                           progress_before_kill=3)
    assert "rl_sample" in render_chain(tmp_path / "killed")     # its lineage says what made it


@pytest.mark.parametrize("edit, needle", [
    ("[controller]\nlearning_rate = 0.1\n", "[controller] configures strategy 'rl'"),
    ('[evolution]\nstrategy = "rl"\n[controller]\nlearning_rate = 0\n', "learning_rate"),
    ('[evolution]\nstrategy = "rl"\n[controller]\nbaseline_decay = 2\n', "baseline_decay"),
    ('[evolution]\nstrategy = "rl"\n[controller]\nentropy = 0.1\n', "entropy_weight"),
])
def test_bad_controller_settings_are_one_config_error(tmp_path, edit, needle):
    path = tmp_path / "bad.toml"
    path.write_text(with_section(TINY.read_text(), edit, "controller"))
    # one case through a real process (the exit status and stderr as a user sees them)
    run = run_azc if needle == NEEDLE_IN_A_PROCESS else azc_in_process
    assert_user_error(run("search", path, "--out", tmp_path / "run"), needle)
