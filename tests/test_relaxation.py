"""The differentiable relaxation (``evolution.strategy = "relaxation"``, engine.relaxation):
a one-hot mixture is the interpreter's program (same fitness), training lowers the relaxed
loss, a fixed seed reproduces and the state continues a run (kill -9 and resume), config
errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from azcompile.program import instructions
from azcompile.reference_programs import linear
from azcompile.rng import new_state
from azcompile.search.engine import relaxation
from azcompile.search.engine.evaluator import ProgramBuffers, evaluate_on_tasks
from azcompile.search.engine.island import Island
from azcompile.search.engine.mutator import MUTATION_LABELS, RELAXED
from azcompile.search.engine.validate import CheckpointError
from azcompile.search.run.config import build_task_list, bundled_examples, parse
from azcompile.search.run.island_kit import eval_settings
from cli_checks import assert_user_error, run_azc
from configs import with_section
import kill_resume
from kill_resume import killed_and_resumed, run_to_end
from test_evolution import make_island
from test_search_run import azc_in_process

TINY = Path(__file__).resolve().parent / "data" / "tiny.toml"
STRATEGY = '[evolution]\nstrategy = "relaxation"\n'


def tiny_text(relax: str = "steps = 12\nrestarts = 2") -> str:
    return TINY.read_text().replace("[evolution]\n", STRATEGY) + f"\n[relaxation]\n{relax}\n"


def test_a_one_hot_mixture_has_the_interpreter_s_fitness_on_the_demo_ops():
    """The relaxed forward pass on every example, with the mixture one-hot on a program of
    the demo's ops: the engine's fitness per task (the relaxation runs the real semantics)."""
    cfg = parse(bundled_examples()["demo"].replace("[evolution]\n", STRATEGY), "demo.toml")
    tasks = build_task_list(cfg.search_tasks, "search_tasks")[:4]
    sk = relaxation.Skeleton(cfg)
    loss = relaxation.RelaxedLoss(sk, tasks, seed=1)
    base = linear(cfg.memory)
    for rate, filler in ((0.01, ("SCALAR_PRODUCT_OP", 2, 2, 3)), (0.2, ("VECTOR_SUM_OP", 2, 1, 2))):
        setup = instructions([("SCALAR_CONST_SET_OP", 0, 0, 2, (rate, 0.0, 0.0, 0.0))])
        program = base.with_components(
            setup + instructions([filler]) * 9,
            tuple(base.predict) + instructions([("SCALAR_VECTOR_PRODUCT_OP", 3, 0, 2)]),
            tuple(base.learn) + instructions([("SCALAR_DIFF_OP", 2, 3, 3)]) * 4).validate()
        mixture = sk.one_hot(ProgramBuffers(*program.to_arrays(cfg.capacity)))
        relaxed = np.asarray(loss.fitness_of_mixture(*mixture))
        _, engine = evaluate_on_tasks(program, tasks, seed=0)
        assert 0.3 < min(engine) and np.allclose(relaxed, engine, rtol=0, atol=1e-9), (
            relaxed, engine)


def _relaxation(text, seed=3):
    cfg = parse(text, str(TINY))
    relax = relaxation.Relaxation(cfg, build_task_list(cfg.search_tasks, "search_tasks"))
    return cfg, relax, new_state(seed)


def test_training_lowers_the_relaxed_loss_and_a_fixed_seed_reproduces():
    cfg, relax, rng = _relaxation(tiny_text("steps = 40\nrestarts = 2"))
    relax.run(rng, 0)
    before = relax.losses(0.1)          # at the final temperature, before and after
    relax.run(rng, 100)
    assert relax.done and relax.counters[0] == 40
    assert relax.losses(0.1).mean() < before.mean() - 0.02, (before, relax.losses(0.1))
    cfg, relax, rng = _relaxation(tiny_text())
    relax.run(rng, 1)
    relax.run(rng, 100)
    assert relax.done and relax.counters[0] == 12
    # in two pieces, and resumed from the state after the first: the same parameters
    _, again, rng2 = _relaxation(tiny_text())
    again.run(rng2, 5)
    _, resumed, _ = _relaxation(tiny_text(), seed=99)
    resumed.restore({k: v.copy() for k, v in again.state("").items()}, "")
    for other in (again, resumed):
        other.run(rng2.copy(), 100)
        assert np.array_equal(other.theta, relax.theta)
        assert np.array_equal(other.adam_v, relax.adam_v)
    _, different, rng3 = _relaxation(tiny_text(), seed=4)
    different.run(rng3, 2)
    assert not np.array_equal(different.theta[:, :8], relax.theta[:, :8])


def test_the_island_starts_evolution_from_the_argmax_programs():
    cfg = parse(tiny_text(), str(TINY))
    isl = make_island(cfg, seed=2)
    while isl.initialized < isl.size:
        isl.initialize(100)
    assert isl.stats[0] == 12 * relaxation.PROGRAMS_PER_STEP * 4 * 2 + isl.size
    assert (isl.pop.mutations == RELAXED).all() and MUTATION_LABELS[RELAXED] == "relaxation"
    programs = isl.relaxation.programs(isl.breeding.initial)
    assert np.array_equal(isl.pop.code[:2], programs.code)
    isl.evolve(100)          # regularized evolution from here
    assert (isl.pop.mutations != RELAXED).any()


def test_a_damaged_relaxation_state_is_refused():
    cfg = parse(tiny_text(), str(TINY))
    isl = make_island(cfg, seed=2)
    isl.initialize(100)
    arrays = {k: v.copy() for k, v in isl.state("i0_").items()}
    arrays["i0_relax_adam_v"][0, 0] = -1.0
    with pytest.raises(CheckpointError, match="negative"):
        Island.check_state(arrays, "i0_", cfg, eval_settings(cfg))
    arrays.pop("i0_relax_theta")
    with pytest.raises(CheckpointError, match="missing"):
        Island.check_state(arrays, "i0_", cfg, eval_settings(cfg))


def _mid_relaxation(out: Path, steps: int) -> bool:
    """The run's checkpoint holds a relaxation part way through its steps."""
    try:
        with np.load(out / "checkpoint.npz") as arrays:
            done = int(arrays["island0_relax_counters"][0])
    except (OSError, KeyError, ValueError, EOFError):
        return False
    return 0 < done < steps


def test_a_relaxation_run_killed_and_resumed_ends_as_an_uninterrupted_one(tmp_path, monkeypatch):
    steps = 400
    path = tmp_path / "tiny_relax.toml"
    path.write_text(tiny_text(f"steps = {steps}\nrestarts = 2")
                    .replace("max_experiments = 3", "max_experiments = 1")
                    .replace("max_train_steps = 3_000_000", "max_train_steps = 400_000"))
    reference = run_to_end(path, tmp_path / "ref", seed=11)
    # killed once a checkpoint holds a relaxation half done (not at a progress line)
    killed = tmp_path / "killed"
    monkeypatch.setattr(kill_resume, "_progress_lines",
                        lambda out: 1 if _mid_relaxation(out, steps) else 0)
    assert reference == killed_and_resumed(path, killed, seed=11, progress_before_kill=1)


@pytest.mark.parametrize("edit, needle", [
    ("[relaxation]\nsteps = 5\n", "[relaxation] configures strategy 'relaxation'"),
    (f"{STRATEGY}[relaxation]\nstep = 5\n", "relaxation.step"),
    (f"{STRATEGY}[relaxation]\nlearn_length = 7\n", "relaxation.learn_length"),
    (f"{STRATEGY}[relaxation]\ntemperature = 0\n", "relaxation.temperature"),
])
def test_bad_relaxation_settings_are_one_config_error(tmp_path, edit, needle):
    path = tmp_path / "bad.toml"
    path.write_text(with_section(TINY.read_text(), edit, "relaxation"))
    run = run_azc if needle == "relaxation.step" else azc_in_process
    assert_user_error(run("search", path, "--out", tmp_path / "run"), needle)


def test_without_jax_the_strategy_is_one_config_error(tmp_path, monkeypatch):
    monkeypatch.setattr(relaxation, "jax_available", lambda: False)
    path = tmp_path / "relax.toml"
    path.write_text(tiny_text())
    assert_user_error(azc_in_process("search", path, "--out", tmp_path / "run"), "needs jax",
                      "azcompile[relax]")
