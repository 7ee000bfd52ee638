"""Search fitness (azcompile.search.engine.evaluator) against per-task engine runs and the reference's evaluator,
FEC, train budget (reference_spec.md sections 4.5, 8, 9), plus this project's canonical
fitness cache, static pre-filter and hurdles.

All tasks use F = 4 and memory 4/3/1 (the demo's), so the search kernels compile once.
"""
from __future__ import annotations

import numpy as np
import pytest

from azcompile import engine
from azcompile.program import Memory, Program, instructions
from azcompile.rng import new_state
from azcompile.search.engine import evaluator as E
from azcompile.search.run import initial
from azcompile.search.engine import mutator as mu
from azcompile.search.data.registry import build_tasks
from azcompile.search.data.tasks import TaskSpec

MEM = Memory(4, 3, 1, 4)
DETERMINISTIC_OPS = [
    ["SCALAR_CONST_SET_OP", "VECTOR_CONST_SET_OP", "SCALAR_SUM_OP"],
    ["VECTOR_INNER_PRODUCT_OP", "SCALAR_SUM_OP", "SCALAR_PRODUCT_OP", "VECTOR_MEAN_OP",
     "MATRIX_VECTOR_PRODUCT_OP", "SCALAR_ABS_OP"],
    ["SCALAR_DIFF_OP", "SCALAR_PRODUCT_OP", "SCALAR_VECTOR_PRODUCT_OP", "VECTOR_SUM_OP",
     "VECTOR_OUTER_PRODUCT_OP", "MATRIX_SUM_OP", "SCALAR_CONST_SET_OP"],
]


@pytest.fixture(scope="module")
def tasks():
    """Four tasks (an even count, for the median): three linear, one nonlinear."""
    return build_tasks([TaskSpec("scalar_linear_regression", 4, 40, 20, 3),
                        TaskSpec("scalar_2layer_nn_regression", 4, 32, 16, 1)])


def per_task(program, tasks, train_steps=None):
    return [engine.run(program, t.x_train, t.y_train, t.x_valid, t.y_valid,
                       eval_type=t.eval_type, order=t.order, seed=0, engine="interp",
                       train_steps=train_steps).fitness for t in tasks]


def random_programs(n, seed=1, sizes=(2, 3, 5), op_lists=DETERMINISTIC_OPS):
    sp = mu.MutatorSpec.build(op_lists, ["alter_param"], [0, 0, 0], [9, 9, 9], [4, 3, 1], 1.0)
    rng = new_state(seed)
    out = []
    for _ in range(n):
        code = np.zeros((3, 8, 4), dtype=np.int32)
        data = np.zeros((3, 8, 4))
        size = np.array(sizes, dtype=np.int32)
        mu.randomize_program(rng, code, data, size, sp.ops, sp.n_ops, sp.memory)
        out.append(Program.from_arrays(code, data, size, MEM))
    return out


def linear(lr=0.01, extra_setup=(), extra_predict=(), extra_learn=()):
    """The reference's LINEAR_ALGORITHM with optional extra instructions."""
    return Program(
        setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 2, (lr,)), *extra_setup]),
        predict=instructions([("VECTOR_INNER_PRODUCT_OP", 1, 0, 1), *extra_predict]),
        learn=instructions([("SCALAR_DIFF_OP", 0, 1, 3), ("SCALAR_PRODUCT_OP", 2, 3, 3),
                            ("SCALAR_VECTOR_PRODUCT_OP", 3, 0, 2), ("VECTOR_SUM_OP", 1, 2, 1),
                            *extra_learn]),
        memory=MEM)


def stats(ev):
    return dict(zip(E.STAT_NAMES, (int(x) for x in ev.stats)))


def evaluator(tasks, seed=0, **settings):
    return E.Evaluator(tasks, MEM, E.EvalSettings(canonical_cache_size=4096, **settings), seed=seed)


# ---- fitness = combination of per-task executor fitness ------------------------------------------

def test_linear_fitness_equals_mean_of_engine_runs(tasks):
    ev = evaluator(tasks)
    fits = per_task(linear(), tasks)
    assert ev.fitness(linear()) == pytest.approx(np.mean(fits), rel=0, abs=1e-15)
    assert len(set(fits)) == 4 and 0.0 < min(fits) and max(fits) < 1.0


def test_random_programs_fitness_equals_mean_of_engine_runs(tasks):
    ev = evaluator(tasks)
    nonzero = 0
    for program in random_programs(60):
        expected = np.mean(per_task(program, tasks))
        assert ev.fitness(program) == pytest.approx(expected, rel=0, abs=1e-15), program.listing()
        nonzero += expected > 0
    assert nonzero > 30
    s = stats(ev)
    assert s["individuals"] == 60 and s["evaluations"] + s["canonical_hits"] == 60


def test_median_is_the_upper_middle_element(tasks):
    """MEDIAN_FITNESS_COMBINATION: element n // 2 after sorting; no averaging for even n."""
    ev = evaluator(tasks, combination="median")
    distinguished = 0
    for program in [linear(), linear(0.05)] + random_programs(30, seed=2):
        fits = sorted(per_task(program, tasks))
        got = ev.fitness(program)
        assert got == fits[2]
        distinguished += fits[1] != fits[2]
    assert distinguished > 10


def test_stats_count_individuals_and_train_steps(tasks):
    ev = evaluator(tasks)
    ev.fitness(linear())
    s = stats(ev)
    full = sum(t.max_train_steps for t in tasks)
    assert s["individuals"] == 1 and s["evaluations"] == 1 and s["canonical_misses"] == 1
    assert s["train_steps"] == s["executed_train_steps"] == full
    assert s["fec_hits"] == s["fec_misses"] == 0


def test_training_failure_scores_zero(tasks):
    """|error| > max_abs_error in the first epoch: that task's fitness is 0."""
    exploding = Program(setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 2, (1000.0,))]),
                        predict=instructions([("SCALAR_SUM_OP", 2, 0, 1)]), memory=MEM)
    assert evaluator(tasks).fitness(exploding) == 0.0
    assert evaluator(tasks, max_abs_error=2000.0).fitness(exploding) > 0.0


# ---- random ops -------------------------------------------------------------------------------

def noisy_linear():
    """Linear regression whose weights start from a Gaussian draw (a random op in Setup)."""
    return linear(extra_setup=[("VECTOR_GAUSSIAN_SET_OP", 0, 0, 1, (0.0, 0.0, 0.5))])


def test_random_ops_are_deterministic_given_the_seed(tasks):
    a = evaluator(tasks, seed=5).fitness(noisy_linear())
    b = evaluator(tasks, seed=5).fitness(noisy_linear())
    c = evaluator(tasks, seed=6).fitness(noisy_linear())
    assert a == b
    assert a != c   # the random op really draws from the evaluator's stream


def test_random_op_seed_changes_per_evaluation_but_not_for_deterministic_programs(tasks):
    """Each full evaluation takes a fresh seed from the main stream (the reference shares one
    generator); a deterministic program does not care."""
    ev = evaluator(tasks, seed=8)
    first = ev.fitness(noisy_linear())
    ev.fitness(linear(0.02))
    ev2 = evaluator(tasks, seed=8)
    ev2.fitness(linear(0.02))                  # consumes the first seed
    assert ev2.fitness(noisy_linear()) != first
    assert ev.fitness(linear(0.03)) == np.mean(per_task(linear(0.03), tasks))


# ---- FEC ------------------------------------------------------------------------------------

def plus_label(program, op="SCALAR_SUM_OP"):
    """s1 = s1 +/- s0 at the end of Predict: s0 is 0 there, so the behaviour is unchanged but
    the code (and its canonical hash) differs."""
    return program.with_components(program.setup,
                                   program.predict + instructions([(op, 1, 0, 1)]), program.learn)


def test_fec_hit_returns_the_cached_fitness(tasks):
    ev = evaluator(tasks, fec=True, fec_train=10, fec_valid=10)
    a = ev.fitness(linear())
    s0 = stats(ev)
    assert s0["fec_misses"] == 4 and s0["fec_hits"] == 0
    assert s0["executed_train_steps"] == 4 * 10 + sum(t.max_train_steps for t in tasks)
    b = ev.fitness(plus_label(linear()))
    s1 = stats(ev)
    assert b == a
    assert s1["canonical_misses"] == 2 and s1["canonical_hits"] == 0
    assert s1["fec_hits"] == 4 and s1["fec_misses"] == 4
    # only the probes ran: 10 steps per task
    assert s1["executed_train_steps"] - s0["executed_train_steps"] == 4 * 10
    # a behaviour change misses
    ev.fitness(linear(0.02))
    assert stats(ev)["fec_misses"] == 8


def test_fec_hit_answers_from_the_cache_not_from_a_run(tasks):
    """The fitness of a hit is whatever the cache holds for that fingerprint (per task)."""
    ev = evaluator(tasks, fec=True)
    ev.fitness(linear())
    keys, values = ev.evaluation.caches.fec.keys, ev.evaluation.caches.fec.values
    order = {int(k): i for i, k in enumerate(keys)}
    assert len(order) >= 4
    values[:] = 0.125          # tamper with every cached per-task fitness
    values[order[int(ev.evaluation.workspace.fec_keys[3])]] = 0.5   # the last task's entry
    assert ev.fitness(plus_label(linear())) == (0.125 * 3 + 0.5) / 4


def test_fec_forget_every_forces_re_evaluation(tasks):
    ev = evaluator(tasks, fec=True, fec_forget_every=2)
    ev.fitness(linear())                                     # inserted, count 1
    ev.fitness(plus_label(linear()))                         # hit, count 2: dropped
    assert stats(ev)["fec_hits"] == 4
    before = stats(ev)["executed_train_steps"]
    ev.fitness(plus_label(linear(), "SCALAR_DIFF_OP"))       # same behaviour, re-evaluated
    s = stats(ev)
    assert s["fec_hits"] == 4 and s["fec_misses"] == 8
    assert s["executed_train_steps"] - before == 4 * 10 + sum(t.max_train_steps for t in tasks)


def test_fec_fitness_equals_full_fitness_for_new_behaviour(tasks):
    with_fec = evaluator(tasks, fec=True)
    for program in random_programs(30, seed=3):
        assert with_fec.fitness(program) == pytest.approx(np.mean(per_task(program, tasks)),
                                                          rel=0, abs=1e-15) or \
            stats(with_fec)["fec_hits"] > 0


# ---- canonical (dead-code) fitness cache --------------------------------------------------------

def with_dead_code(program):
    """Extra instructions whose results can never reach a prediction."""
    return program.with_components(
        program.setup + instructions([("SCALAR_CONST_SET_OP", 0, 0, 3, (0.7,))]),
        program.predict,
        program.learn + instructions([("VECTOR_SUM_OP", 0, 0, 2)]))


def test_canonical_cache_hit_costs_no_execution(tasks):
    ev = evaluator(tasks)
    a = ev.fitness(linear())
    before = stats(ev)
    b = ev.fitness(with_dead_code(linear()))
    after = stats(ev)
    assert a == b
    assert after["canonical_hits"] == before["canonical_hits"] + 1
    assert after["executed_train_steps"] == before["executed_train_steps"]
    assert after["evaluations"] == before["evaluations"]
    # the reference would have trained it: the budget counter is charged as if it had
    assert after["train_steps"] - before["train_steps"] == sum(t.max_train_steps for t in tasks)
    assert after["individuals"] == before["individuals"] + 1


def test_canonical_cache_with_fec_charges_the_probe(tasks):
    ev = evaluator(tasks, fec=True, fec_train=10)
    ev.fitness(linear())
    before = stats(ev)
    ev.fitness(with_dead_code(linear()))
    after = stats(ev)
    assert after["executed_train_steps"] == before["executed_train_steps"]
    assert after["train_steps"] - before["train_steps"] == 4 * 10


def test_register_renaming_hits_the_canonical_cache(tasks):
    """Renaming a non-reserved register gives the same canonical program."""
    renamed = Program(
        setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 3, (0.01,))]),
        predict=instructions([("VECTOR_INNER_PRODUCT_OP", 2, 0, 1)]),
        learn=instructions([("SCALAR_DIFF_OP", 0, 1, 2), ("SCALAR_PRODUCT_OP", 3, 2, 2),
                            ("SCALAR_VECTOR_PRODUCT_OP", 2, 0, 1), ("VECTOR_SUM_OP", 2, 1, 2)]),
        memory=MEM)
    ev = evaluator(tasks)
    a = ev.fitness(linear())
    assert ev.fitness(renamed) == a == np.mean(per_task(renamed, tasks))
    assert stats(ev)["canonical_hits"] == 1


# ---- train budget -----------------------------------------------------------------------------

HEAVY = [("MATRIX_MATRIX_PRODUCT_OP", 0, 0, 0)] * 6


def budget_evaluator(tasks, baseline, factor=2.0, **kw):
    setup_cost, step_cost = E.budget_costs(baseline)
    return evaluator(tasks, budget=True, budget_factor=factor, budget_setup_cost=setup_cost,
                     budget_step_cost=step_cost, **kw)


def cost(program):
    c = E.budget_costs(program)
    return c[0], c[1]


def test_budget_accepts_the_baseline_and_rejects_expensive_programs(tasks):
    ev = budget_evaluator(tasks, linear())
    assert ev.fitness(linear()) == np.mean(per_task(linear(), tasks))
    assert stats(ev)["budget_rejects"] == 0
    heavy = linear(extra_learn=HEAVY)          # live? irrelevant: every instruction costs
    s_cost, p_cost = cost(heavy)
    b_setup, b_step = cost(linear())
    assert all(s_cost + t.max_train_steps * p_cost > 2 * (b_setup + t.max_train_steps * b_step)
               for t in tasks)
    before = stats(ev)
    assert ev.fitness(heavy) == 0.0
    after = stats(ev)
    assert after["budget_rejects"] - before["budget_rejects"] == 4
    assert after["executed_train_steps"] == before["executed_train_steps"]


def test_budget_decision_matches_the_reference_formula(tasks):
    """candidate cost <= factor x baseline cost, per task with N = its train examples."""
    baseline = linear()
    b_setup, b_step = cost(baseline)
    ev = budget_evaluator(tasks, baseline, factor=1.6)
    checked_rejects = checked_accepts = 0
    for program in random_programs(80, seed=4, sizes=(1, 2, 4)) + random_programs(
            40, seed=5, sizes=(2, 1, 7)):
        s_cost, p_cost = cost(program)
        accept = [s_cost + t.max_train_steps * p_cost <= 1.6 * (b_setup + t.max_train_steps * b_step)
                  for t in tasks]
        before = stats(ev)
        got = ev.fitness(program)
        if stats(ev)["canonical_hits"] > before["canonical_hits"]:
            continue
        assert stats(ev)["budget_rejects"] - before["budget_rejects"] == accept.count(False)
        fits = [f if ok else 0.0 for f, ok in zip(per_task(program, tasks), accept)]
        assert got == pytest.approx(np.mean(fits), rel=0, abs=1e-15)
        checked_rejects += not all(accept)
        checked_accepts += all(accept)
    assert checked_rejects > 10 and checked_accepts > 10


def test_budget_counts_dead_code_and_the_fitness_cache_respects_it(tasks):
    """The reference's cost counts every instruction (it has no dead-code elimination): a
    bloated copy of a program can be refused while the lean one is not.  The canonical cache
    must not hand one's fitness to the other, in either order."""
    dead_heavy = [("MATRIX_MATRIX_PRODUCT_OP", 0, 0, 0)] * 6     # m0 is never read: dead
    bloated = linear(extra_learn=dead_heavy)
    lean_fitness = np.mean(per_task(linear(), tasks))

    ev = budget_evaluator(tasks, linear())
    assert ev.fitness(bloated) == 0.0
    assert ev.fitness(linear()) == lean_fitness

    ev = budget_evaluator(tasks, linear())
    assert ev.fitness(linear()) == lean_fitness
    assert ev.fitness(bloated) == 0.0
    # the same bloated program again is a cache hit (no new evaluation)
    before = stats(ev)
    assert ev.fitness(bloated) == 0.0
    assert stats(ev)["evaluations"] == before["evaluations"]


# ---- static pre-filter ---------------------------------------------------------------------------

def test_prefilter_scores_constant_predictors_zero(tasks):
    constant = Program(setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 2, (0.3,))]),
                       predict=instructions([("SCALAR_SUM_OP", 2, 0, 1)]), memory=MEM)
    noise = Program(setup=instructions([("SCALAR_GAUSSIAN_SET_OP", 0, 0, 2, (0.0, 0.0, 1.0))]),
                    predict=instructions([("SCALAR_SUM_OP", 2, 0, 1)]), memory=MEM)
    counter = Program(setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 3, (0.01,))]),
                      predict=instructions([("SCALAR_SUM_OP", 2, 0, 1)]),
                      learn=instructions([("SCALAR_SUM_OP", 2, 3, 2)]), memory=MEM)
    on = evaluator(tasks, prefilter=True)
    off = evaluator(tasks)
    for program in (constant, noise, counter):
        assert off.fitness(program) > 0.0
        before = stats(on)["prefiltered"]
        assert on.fitness(program) == 0.0
        assert stats(on)["prefiltered"] == before + 1
    assert stats(on)["executed_train_steps"] == 0


def test_prefilter_leaves_learning_programs_alone(tasks):
    label_memory = Program(predict=instructions([("SCALAR_ABS_OP", 2, 0, 1)]),
                           learn=instructions([("SCALAR_SUM_OP", 0, 3, 2)]), memory=MEM)
    on = evaluator(tasks, prefilter=True)
    off = evaluator(tasks)
    for program in (linear(), label_memory, noisy_linear()):
        assert on.fitness(program) == off.fitness(program)
    assert stats(on)["prefiltered"] == 0


def test_prefilter_is_sound_on_random_programs(tasks):
    """Every pre-filtered program predicts the same on two tasks with different data; the
    others keep their fitness."""
    on = evaluator(tasks, prefilter=True)
    off = evaluator(tasks)
    t1, t2 = tasks[0], tasks[1]
    filtered = 0
    for program in random_programs(150, seed=6, sizes=(2, 2, 3)):
        before = stats(on)
        got = on.fitness(program)
        if stats(on)["canonical_hits"] > before["canonical_hits"]:
            continue   # seen before (prefiltered or not): the cached answer
        if stats(on)["prefiltered"] > before["prefiltered"]:
            filtered += 1
            assert got == 0.0
            r1 = engine.run(program, t1.x_train, t1.y_train, t1.x_valid, t1.y_valid, engine="interp")
            r2 = engine.run(program, t2.x_train, t2.y_train, t2.x_valid, t2.y_valid, engine="interp")
            np.testing.assert_array_equal(r1.train_predictions, r2.train_predictions)
            np.testing.assert_array_equal(r1.valid_predictions, r2.valid_predictions)
        else:
            assert got == off.fitness(program)
    assert 10 < filtered < 140


# ---- hurdles ---------------------------------------------------------------------------------

def test_hurdles_stop_weak_children_after_the_window_fills(tasks):
    settings = dict(hurdles=True, hurdle_window=10, hurdle_every=1, hurdle_percentile=50.0,
                    hurdle_fraction=0.25)
    ev = evaluator(tasks, **settings)
    programs = random_programs(80, seed=7)
    for program in programs[:9]:
        ev.fitness(program)
    assert stats(ev)["hurdle_stops"] == 0          # the window is not full yet
    assert ev.evaluation.caches.hurdle[E.H_VALUE] == 0.0
    stopped = []
    for program in programs[9:]:
        before = stats(ev)["hurdle_stops"]
        hurdle = ev.evaluation.caches.hurdle[E.H_VALUE]
        got = ev.fitness(program)
        if stats(ev)["hurdle_stops"] > before:
            stopped.append((program, got, hurdle))
    s = stats(ev)
    assert ev.evaluation.caches.hurdle[E.H_VALUE] > 0.0
    assert s["hurdle_stops"] == len(stopped) > 0
    assert s["hurdle_tests"] == s["evaluations"]
    # a stopped child keeps its stage-1 estimate: the fitness after a quarter of the budget
    program, got, _ = stopped[0]
    short = [engine.run(program, t.x_train, t.y_train, t.x_valid, t.y_valid, order=t.order,
                        train_steps=max(1, int(t.max_train_steps * 0.25)), engine="interp").fitness
             for t in tasks]
    assert got == pytest.approx(np.mean(short), rel=0, abs=1e-15)
    # good programs pass the hurdle and keep their full fitness
    for program in (linear(), linear(0.02)):
        assert ev.fitness(program) == np.mean(per_task(program, tasks))
    assert stats(ev)["hurdle_stops"] == s["hurdle_stops"]


def test_hurdles_off_never_stop(tasks):
    ev = evaluator(tasks)
    for program in random_programs(30, seed=7):
        ev.fitness(program)
    assert stats(ev)["hurdle_stops"] == stats(ev)["hurdle_tests"] == 0


# ---- select / final evaluation -------------------------------------------------------------------

def test_evaluate_on_tasks_mean_and_median(tasks):
    fits = per_task(linear(), tasks)
    mean, per = E.evaluate_on_tasks(linear(), tasks, seed=3, engine_name="interp")
    assert per == fits and mean == pytest.approx(np.mean(fits), rel=0, abs=1e-15)
    median, _ = E.evaluate_on_tasks(linear(), tasks, seed=3, combination="median",
                                    engine_name="interp")
    assert median == sorted(fits)[2]
    a = E.evaluate_on_tasks(noisy_linear(), tasks, seed=3, engine_name="interp")
    b = E.evaluate_on_tasks(noisy_linear(), tasks, seed=3, engine_name="interp")
    c = E.evaluate_on_tasks(noisy_linear(), tasks, seed=4, engine_name="interp")
    assert a == b and a[0] != c[0]


# ---- repeats of programs with random ops (reference quirk 8) ---------------------------------------

def test_without_fec_a_repeated_random_program_is_re_evaluated(tasks):
    """The reference re-evaluates every child; a program with random ops draws afresh."""
    ev = evaluator(tasks, seed=4)
    values = [ev.fitness(noisy_linear()) for _ in range(3)]
    assert len(set(values)) == 3
    s = stats(ev)
    assert s["canonical_hits"] == 0 and s["evaluations"] == 3
    # a deterministic program still answers from the cache
    ev.fitness(linear())
    ev.fitness(linear())
    assert stats(ev)["canonical_hits"] == 1


def test_with_fec_a_repeated_random_program_answers_from_cache_until_forgotten(tasks):
    """With FEC the reference's probe (fixed FEC seed) matches and the cache answers; its hit
    counter drops the entry at forget_every, and the next repeat is re-evaluated."""
    ev = evaluator(tasks, seed=4, fec=True, fec_forget_every=3)
    first = ev.fitness(noisy_linear())
    assert ev.fitness(noisy_linear()) == first
    assert ev.fitness(noisy_linear()) == first            # third count: dropped after this
    assert stats(ev)["evaluations"] == 1
    ev.fitness(noisy_linear())
    assert stats(ev)["canonical_hits"] == 2


# ---- honest fitness: several random-op draws -------------------------------------------------

def test_several_draws_score_the_mean_or_the_worst_of_single_draws(tasks):
    """With random_draws = k a program with random ops runs on the next k seeds of the main
    stream: its fitness is what k single-draw evaluations in a row give, averaged per task
    (or the worst of them), and the k runs are charged."""
    single = evaluator(tasks, seed=21)
    draws = [single.fitness(noisy_linear()) for _ in range(3)]
    assert len(set(draws)) == 3                     # three different draws
    mean = evaluator(tasks, seed=21, random_draws=3)
    assert mean.fitness(noisy_linear()) == pytest.approx(np.mean(draws), rel=1e-12)
    assert stats(mean)["train_steps"] == stats(single)["train_steps"]
    one_task = tasks[:1]
    singles = evaluator(one_task, seed=4)
    worst = min(singles.fitness(noisy_linear()) for _ in range(4))
    assert evaluator(one_task, seed=4, random_draws=4,
                     draw_combination="worst").fitness(noisy_linear()) == worst


def test_draws_leave_deterministic_programs_alone(tasks):
    one, many = evaluator(tasks, seed=3), evaluator(tasks, seed=3, random_draws=5)
    assert one.fitness(linear(0.02)) == many.fitness(linear(0.02))
    assert stats(one)["train_steps"] == stats(many)["train_steps"]


def test_task_draws_pair_up_and_draw_zero_is_the_single_draw_seed(tasks):
    per_draw = E.task_draws(noisy_linear(), tasks, seed=9, draws=4, engine_name="interp")
    assert per_draw.shape == (len(tasks), 4)
    assert len(set(per_draw[0])) == 4               # each draw its own seed
    single, per_task_single = E.evaluate_on_tasks(noisy_linear(), tasks, seed=9,
                                                  engine_name="interp")
    assert list(per_draw[:, 0]) == per_task_single
    again = E.task_draws(noisy_linear(), tasks, seed=9, draws=4, engine_name="interp")
    assert np.array_equal(per_draw, again)          # seeded: the same draws again
    worst, per_task = E.evaluate_on_tasks(noisy_linear(), tasks, seed=9, engine_name="interp",
                                          draws=4, draw_combination="worst")
    assert per_task == list(per_draw.min(axis=1)) and worst == np.mean(per_draw.min(axis=1))
    fixed = E.task_draws(linear(0.02), tasks, seed=9, draws=3, engine_name="interp")
    assert all(len(set(row)) == 1 for row in fixed)  # no random ops: one run per task


def test_only_live_random_ops_make_a_program_noisy(tasks, monkeypatch):
    """A random op whose result nothing reads is dead: the program's fitness does not depend
    on the seed, so select/final evaluation runs it once per task."""
    dead = linear(extra_setup=[("VECTOR_GAUSSIAN_SET_OP", 0, 0, 2, (0.0, 0.0, 0.5))])
    assert not E.has_random_ops(dead) and E.has_random_ops(noisy_linear())
    calls = []
    real = E.engine.run
    monkeypatch.setattr(E.engine, "run", lambda *a, **k: calls.append(1) or real(*a, **k))
    E.task_draws(dead, tasks[:2], seed=9, draws=3, engine_name="interp")
    assert len(calls) == 2
    E.task_draws(noisy_linear(), tasks[:2], seed=9, draws=3, engine_name="interp")
    assert len(calls) == 2 + 6


def test_draws_combine_by_the_mean_the_median_or_the_worst():
    per_draw = np.array([[0.9, 0.0, 0.95, 0.97, 0.99], [0.5, 0.5, 0.5, 0.5, 0.5]])
    assert list(E.combine_draws(per_draw, "mean")) == pytest.approx([0.762, 0.5])
    assert list(E.combine_draws(per_draw, "median")) == [0.95, 0.5]   # one failed draw of five
    assert list(E.combine_draws(per_draw, "worst")) == [0.0, 0.5]
