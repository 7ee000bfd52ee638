"""The RL controller (``evolution.strategy = "rl"``, engine.controller; its GRU policy
engine.gru_policy): valid samples within the config's ops and sizes, REINFORCE improves the
sampled fitness, the GRU's backpropagation through time matches finite differences, a fixed
seed reproduces, its state checkpoints (checked on load; kill -9 and resume; the other
policy's checkpoint refused), config errors."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from azcompile.rng import new_state
from azcompile.search.engine import evaluator
from azcompile.search.engine.gru_policy import GruController
from azcompile.search.cli.lineage_view import render_chain
from azcompile.search.engine.island import Island
from azcompile.search.engine.mutator import MUTATION_LABELS, SAMPLED
from azcompile.search.engine.population import check_instructions
from azcompile.search.engine.validate import CheckpointError
from azcompile.search.run import checkpoint as ckpt
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
POLICIES = ["bigram", "gru"]


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


def gru(controller: str = "learning_rate = 0.1") -> str:
    return f'{controller}\npolicy = "gru"'


def policy_config(policy: str):
    return rl_config(gru() if policy == "gru" else "learning_rate = 0.1")


@pytest.mark.parametrize("policy", POLICIES)
def test_samples_are_valid_programs_of_the_config_s_ops_and_sizes(policy):
    cfg = policy_config(policy)
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


@pytest.mark.parametrize("policy", POLICIES)
def test_reinforce_improves_the_mean_sampled_fitness(policy):
    isl, means = _run(policy_config(policy), seed=1, batches=60)
    assert np.mean(means[-5:]) > np.mean(means[:5]) + 0.02, (means[:5], means[-5:])
    assert (isl.pop.mutations == SAMPLED).all() and MUTATION_LABELS[SAMPLED] == "rl_sample"
    assert (isl.pop.parents == -1).all()
    assert_clean(isl.pop)


def test_the_gru_s_backpropagation_through_time_is_the_objective_s_gradient():
    """Central differences (float64) of the replayed objective, on every parameter but the
    constants' Gaussians (the bigram's code, closed form)."""
    cfg = rl_config(gru("hidden = 3\nentropy_weight = 0.3"))
    ctl = GruController(cfg, evaluator.blank_program(cfg.capacity), seed=3, dtype=np.float64)
    _, dec = ctl.sample(5, new_state(2))
    assert not all(s.active.all() for s in dec.steps)       # some operands were masked out
    advantage = np.random.default_rng(0).standard_normal(5)
    grad = np.zeros_like(ctl.theta)
    ctl._add_decision_gradient(grad, dec, advantage)
    numeric = np.zeros_like(grad)
    for j in range(ctl.offsets["mean"]):
        up, down = ctl.theta.copy(), ctl.theta.copy()
        up[j] += 1e-6
        down[j] -= 1e-6
        numeric[j] = (ctl.decision_objective(dec, advantage, up)
                      - ctl.decision_objective(dec, advantage, down)) / 2e-6
    assert np.abs(numeric).max() > 0.1
    np.testing.assert_allclose(grad, numeric, atol=1e-8)


@pytest.mark.parametrize("policy", POLICIES)
def test_a_fixed_seed_reproduces_and_the_state_continues_the_run(policy):
    cfg = policy_config(policy)
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


def test_a_gru_state_is_not_a_bigram_state_and_the_bigram_s_record_is_unchanged():
    bigram, gru_cfg = rl_config(), rl_config(gru())
    assert "policy" not in ckpt.config_document(bigram)["controller"]   # old runs' hashes
    assert ckpt.config_changes(ckpt.config_document(bigram), ckpt.config_document(gru_cfg)) \
        == 'controller.policy: (not set) -> "gru"'
    isl, _ = _run(bigram, seed=2, batches=1)
    with pytest.raises(CheckpointError, match="rl_theta"):
        Island.check_state(isl.state("i0_"), "i0_", gru_cfg, eval_settings(gru_cfg))


@pytest.mark.parametrize("policy", POLICIES)
def test_an_rl_run_killed_and_resumed_ends_as_an_uninterrupted_one(tmp_path, policy):
    path = tmp_path / "tiny_rl.toml"
    text = (TINY.read_text().replace("[evolution]\n", '[evolution]\nstrategy = "rl"\n')
            .replace("max_experiments = 3", "max_experiments = 1")
            .replace("max_train_steps = 3_000_000", "max_train_steps = 800_000"))
    path.write_text(text + (f"\n[controller]\n{gru('hidden = 8')}\n" if policy == "gru" else ""))

    def resumed_with_the_other_policy_is_refused(out):
        config = out / "config.toml"
        kept = config.read_text()
        other = (re.sub(r'^(policy = "gru"|hidden = 8)\n', "", kept, flags=re.M)
                 if policy == "gru" else f'{kept}\n[controller]\npolicy = "gru"\n')
        assert other != kept
        config.write_text(other)
        assert_user_error(run_azc("search", "--resume", out), "controller.policy")
        config.write_text(kept)

    reference = run_to_end(path, tmp_path / "ref", seed=11)
    assert reference == killed_and_resumed(path, tmp_path / "killed", seed=11,
                                           progress_before_kill=3,
                                           before_resume=resumed_with_the_other_policy_is_refused)
    assert "rl_sample" in render_chain(tmp_path / "killed")     # its lineage says what made it


@pytest.mark.parametrize("edit, needle", [
    ("[controller]\nlearning_rate = 0.1\n", "[controller] configures strategy 'rl'"),
    ('[evolution]\nstrategy = "rl"\n[controller]\nlearning_rate = 0\n', "learning_rate"),
    ('[evolution]\nstrategy = "rl"\n[controller]\nbaseline_decay = 2\n', "baseline_decay"),
    ('[evolution]\nstrategy = "rl"\n[controller]\nentropy = 0.1\n', "entropy_weight"),
    ('[evolution]\nstrategy = "rl"\n[controller]\npolicy = "lstm"\n', "controller.policy"),
    ('[evolution]\nstrategy = "rl"\n[controller]\npolicy = "gru"\nhidden = 0\n', "controller.hidden"),
    ('[evolution]\nstrategy = "rl"\n[controller]\nhidden = 16\n', 'set controller.policy = "gru"'),
])
def test_bad_controller_settings_are_one_config_error(tmp_path, edit, needle):
    path = tmp_path / "bad.toml"
    path.write_text(with_section(TINY.read_text(), edit, "controller"))
    # one case through a real process (the exit status and stderr as a user sees them)
    run = run_azc if needle == NEEDLE_IN_A_PROCESS else azc_in_process
    assert_user_error(run("search", path, "--out", tmp_path / "run"), needle)
