"""Regularized evolution and random search (reference_spec.md section 7): tournament,
the ring of slots, ids and parents, initialization, determinism.

Runs through ``azcompile.search.engine.island.Island`` (the object a search drives) on the tiny config
tests/data/unit_evolution.toml: F = 4, memory 4/3/1, population 8, two short linear tasks.
"""
from __future__ import annotations

import collections
import re
from pathlib import Path

import numpy as np
import pytest

from azcompile.rng import new_state, next_int
from azcompile.search.engine import evaluator
from azcompile.search.run import initial
from azcompile.search.run.config import build_task_list, parse
from azcompile.search.engine.evolution import tournament
from azcompile.search.run.island_kit import eval_settings, mutator_spec
from azcompile.search.engine.island import Island
from azcompile.search.engine.mutator import NOT_MUTATED, RANDOMIZE_ALGORITHM, mutate

BASE = Path(__file__).resolve().parent / "data" / "unit_evolution.toml"


def config(**evolution):
    """The unit config with [evolution] keys replaced or added."""
    text = BASE.read_text()
    for key, value in evolution.items():
        text = re.sub(rf"^{key} = .*\n", "", text, flags=re.M)
        text = text.replace("[evolution]\n", f"[evolution]\n{key} = {value!r}\n".replace("'", '"'))
    return parse(text, str(BASE))


def make_island(cfg, seed=1):
    tasks = build_task_list(cfg.search_tasks, "search_tasks")
    init_sizes, _, _ = cfg.size_bounds()
    init = initial.build(cfg.evolution["initial_population"], cfg.memory, init_sizes)
    return Island(cfg, mutator_spec(cfg), init, tasks, eval_settings(cfg), seed=seed,
                  batch_size=cfg.run["batch_size"])


def program(isl, slot):
    return isl.pop.program(slot, isl.memory)


def live(code, data, size):
    return [(code[c, : size[c]].tolist(), data[c, : size[c]].tolist()) for c in range(3)]


@pytest.fixture(scope="module")
def cfg():
    return config()


# ---- tournament -------------------------------------------------------------------------------

def test_tournament_picks_the_first_drawn_strictly_best():
    fitness = np.array([0.2, 0.9, 0.5, 0.9, 0.1, 0.9])
    winners = collections.Counter()
    for seed in range(400):
        rng = new_state(seed)
        replay = rng.copy()
        draws = [next_int(replay, 6) for _ in range(3)]
        best = max(fitness[d] for d in draws)
        expected = next(d for d in draws if fitness[d] == best)   # first drawn among ties
        got = tournament(fitness, 3, rng)
        assert got == expected, (seed, draws, got)
        assert rng[0] == replay[0]      # exactly T draws
        winners[got] += 1
    # with replacement: the worst can win only when all three draws are slot 4
    assert set(winners) <= {0, 1, 2, 3, 4, 5}
    assert winners[1] > 0 and winners[3] > 0 and winners[5] > 0


def test_tournament_of_one_is_uniform_and_larger_ones_favour_the_best():
    fitness = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    rng = new_state(17)
    counts = collections.Counter(int(tournament(fitness, 1, rng)) for _ in range(5000))
    assert all(abs(counts[i] / 5000 - 0.2) < 0.025 for i in range(5))
    # T = 3 with replacement: P(best wins) = 1 - (4/5)^3 = 0.488
    counts = collections.Counter(int(tournament(fitness, 3, rng)) for _ in range(5000))
    assert abs(counts[4] / 5000 - 0.488) < 0.03
    assert abs(counts[0] / 5000 - 0.2 ** 3) < 0.006


def test_tournament_all_equal_returns_the_first_draw():
    fitness = np.full(7, 0.5)
    for seed in range(50):
        rng = new_state(seed)
        first = next_int(rng.copy(), 7)
        assert tournament(fitness, 4, rng) == first


# ---- initialization ------------------------------------------------------------------------

def test_initialize_evaluates_every_slot(cfg):
    isl = make_island(cfg, seed=5)
    isl.initialize(3)
    assert isl.initialized == 3 and list(isl.pop.ids[:3]) == [0, 1, 2]
    assert list(isl.pop.ids[3:]) == [-1] * 5
    isl.initialize(100)
    assert isl.initialized == 8
    pop = isl.pop
    assert list(pop.ids) == list(range(8)) and int(isl.next_id[0]) == 8
    assert list(pop.parents) == [-1] * 8 and list(pop.mutations) == [NOT_MUTATED] * 8
    assert int(isl.stats[evaluator.S_INDIVIDUALS]) == 8
    tasks = build_task_list(cfg.search_tasks, "search_tasks")
    check = evaluator.Evaluator(tasks, cfg.memory, eval_settings(cfg))
    for slot in range(8):
        assert pop.fitness[slot] == check.fitness(program(isl, slot))


def assert_distinct_random_programs(isl, cfg, slots):
    """The members in ``slots`` are valid, have the init sizes, draw every instruction from
    its component's op list, and all differ."""
    allowed = [set(names) for names in cfg.ops]
    listings = set()
    for slot in slots:
        prog = program(isl, slot).validate()
        assert [len(c) for c in prog.components] == [2, 1, 4]
        for comp, names in zip(prog.components, allowed):
            assert all(ins.op.name in names for ins in comp)
        listings.add(prog.listing())
    assert len(listings) == len(slots)


def test_random_initial_population(cfg):
    """RANDOM_ALGORITHM: init sizes, every instruction drawn from its component's op list."""
    isl = make_island(cfg, seed=6)
    isl.initialize(8)
    assert_distinct_random_programs(isl, cfg, range(8))


def test_fixed_initial_population():
    cfg = config(initial_population="linear")
    isl = make_island(cfg, seed=6)
    isl.initialize(8)
    expected = initial.build("linear", cfg.memory, [2, 1, 4])
    for slot in range(8):
        assert program(isl, slot).components == expected.components
    assert len(set(isl.pop.fitness)) == 1 and isl.pop.fitness[0] > 0


# ---- the generation loop ---------------------------------------------------------------------

def test_evolve_replaces_slots_in_ring_order(cfg):
    isl = make_island(cfg, seed=7)
    isl.initialize(8)
    isl.evolve(5)
    assert isl.cursor == 5
    assert list(isl.pop.ids) == [8, 9, 10, 11, 12, 5, 6, 7]
    isl.evolve(5)
    assert isl.cursor == 2
    assert list(isl.pop.ids) == [16, 17, 10, 11, 12, 13, 14, 15]
    assert int(isl.next_id[0]) == 18
    # the oldest individual is always the one replaced: ids rise around the ring
    isl.evolve(6)
    assert isl.cursor == 0 and list(isl.pop.ids) == list(range(16, 24))
    assert int(isl.stats[evaluator.S_INDIVIDUALS]) == 8 + 16


def test_parents_and_children_follow_tournament_and_mutation(cfg):
    """Each child is mutate(tournament winner), with the rng draws in the reference's order:
    tournament, then the mutation (probability, type, ...), then evaluation."""
    isl = make_island(cfg, seed=8)
    isl.initialize(8)
    T = cfg.evolution["tournament_size"]
    mut = isl.mutator
    kinds = collections.Counter()
    for step in range(40):
        slot = isl.cursor
        fitness, ids = isl.pop.fitness.copy(), isl.pop.ids.copy()
        replay = isl.rng.copy()
        winner = tournament(fitness, T, replay)
        code, data, size = (isl.pop.code[winner].copy(), isl.pop.data[winner].copy(),
                            isl.pop.size[winner].copy())
        kind = mutate(replay, evaluator.ProgramBuffers(code, data, size), mut.arrays(),
                      mut.mutate_prob)
        isl.evolve(1)
        assert isl.pop.parents[slot] == ids[winner]
        assert isl.pop.mutations[slot] == kind
        assert isl.pop.ids[slot] == 8 + step
        assert live(isl.pop.code[slot], isl.pop.data[slot], isl.pop.size[slot]) == \
            live(code, data, size)
        # the batch log says the same
        log = isl.log
        assert int(log.counts[0]) == 1
        assert log.ids[0] == 8 + step and log.parents[0] == ids[winner]
        assert log.mutations[0] == kind and log.parent_fitness[0] == fitness[winner]
        assert log.fitness[0] == isl.pop.fitness[slot]
        kinds[int(kind)] += 1
    assert kinds[NOT_MUTATED] > 0 and len(kinds) >= 4


def test_children_fitness_is_their_evaluation(cfg):
    isl = make_island(cfg, seed=9)
    isl.initialize(8)
    isl.evolve(8)
    tasks = build_task_list(cfg.search_tasks, "search_tasks")
    check = evaluator.Evaluator(tasks, cfg.memory, eval_settings(cfg))
    for slot in range(8):
        prog = program(isl, slot).validate()
        assert isl.pop.fitness[slot] == check.fitness(prog)
        init, low, high = cfg.size_bounds()
        sizes = [len(c) for c in prog.components]
        assert all(lo <= n <= max(i, hi - 1) for n, i, lo, hi in zip(sizes, init, low, high))


def test_mutate_prob_zero_copies_the_parent():
    cfg = config(mutate_prob=0.0)
    isl = make_island(cfg, seed=10)
    isl.initialize(8)
    before = {int(i): (live(isl.pop.code[s], isl.pop.data[s], isl.pop.size[s]), isl.pop.fitness[s])
              for s, i in enumerate(isl.pop.ids)}
    executed = int(isl.stats[evaluator.S_EXECUTED_STEPS])
    isl.evolve(8)
    for slot in range(8):
        parent = int(isl.pop.parents[slot])
        assert isl.pop.mutations[slot] == NOT_MUTATED
        if parent in before:
            code, fit = before[parent]
            assert live(isl.pop.code[slot], isl.pop.data[slot], isl.pop.size[slot]) == code
            assert isl.pop.fitness[slot] == fit
    # unmutated copies of deterministic programs are canonical-cache hits: nothing runs
    assert int(isl.stats[evaluator.S_EXECUTED_STEPS]) == executed
    assert int(isl.stats[evaluator.S_CANON_HITS]) == 8


def test_random_search_fills_slots_with_random_programs():
    cfg = config(strategy="random")
    isl = make_island(cfg, seed=11)
    isl.initialize(8)
    isl.evolve(8)
    for slot in range(8):
        assert isl.pop.parents[slot] == -1
        assert isl.pop.mutations[slot] == RANDOMIZE_ALGORITHM
    assert_distinct_random_programs(isl, cfg, range(8))
    assert list(isl.pop.ids) == list(range(8, 16))


def test_random_search_ignores_fitness():
    """Random search draws no tournament: the programs do not depend on the fitness values."""
    cfg = config(strategy="random")
    a, b = make_island(cfg, seed=12), make_island(cfg, seed=12)
    a.initialize(8)
    b.initialize(8)
    b.pop.fitness[:] = np.linspace(0, 1, 8)[::-1]
    a.evolve(8)
    b.evolve(8)
    assert np.array_equal(a.pop.code, b.pop.code) and np.array_equal(a.pop.data, b.pop.data)


def test_search_improves_on_its_initial_population(cfg):
    """Selection pressure: after 200 children the population is clearly fitter on average
    (0.37 -> 0.47 for this seed), and its best never got worse."""
    isl = make_island(cfg, seed=13)
    isl.initialize(8)
    start_best, start_mean = isl.pop.fitness.max(), isl.pop.fitness.mean()
    for _ in range(25):
        isl.evolve(8)
    assert isl.pop.fitness.mean() > start_mean + 0.05
    assert isl.pop.fitness.max() >= start_best


# ---- determinism ----------------------------------------------------------------------------

def _run(cfg, seed, children=40):
    isl = make_island(cfg, seed=seed)
    isl.initialize(8)
    isl.evolve(children - 8 * (children // 8))
    for _ in range(children // 8):
        isl.evolve(8)
    return isl


@pytest.mark.parametrize("strategy", ["evolution", "random"])
def test_same_seed_same_population(strategy):
    cfg = config(strategy=strategy)
    a, b, c = _run(cfg, 21), _run(cfg, 21), _run(cfg, 22)
    for name in ("code", "data", "size", "fitness", "ids", "parents", "mutations"):
        assert np.array_equal(getattr(a.pop, name), getattr(b.pop, name)), name
    assert np.array_equal(a.stats, b.stats) and a.rng[0] == b.rng[0] and a.cursor == b.cursor
    assert not np.array_equal(a.pop.code, c.pop.code)


def assert_clean(pop):
    """Rows past each component's size are zero (nothing stale is kept or checkpointed)."""
    for slot in range(pop.size.shape[0]):
        for c in range(3):
            n = pop.size[slot, c]
            assert not pop.code[slot, c, n:].any() and not pop.data[slot, c, n:].any(), (slot, c)


@pytest.mark.parametrize("strategy", ["evolution", "random"])
def test_population_arrays_hold_nothing_past_the_sizes(strategy):
    isl = _run(config(strategy=strategy), 41, children=48)
    assert_clean(isl.pop)
    log = isl.log
    for j in range(int(log.counts[1])):
        for c in range(3):
            assert not log.snap_code[j, c, log.snap_size[j, c]:].any()


def test_resume_from_state_continues_identically(cfg):
    """The island's arrays are its whole state: restoring them continues the same run."""
    a = _run(cfg, 31, children=16)
    state = {k: v.copy() for k, v in a.state("").items()}
    b = make_island(cfg, seed=999)
    b.restore(state, "")
    a.evolve(8)
    b.evolve(8)
    assert np.array_equal(a.pop.code, b.pop.code) and np.array_equal(a.pop.fitness, b.pop.fitness)
    assert a.rng[0] == b.rng[0]


def test_a_random_search_killed_and_resumed_ends_as_an_uninterrupted_one(tmp_path):
    """strategy = "random" survives kill -9 and --resume like evolution, and a fixed seed
    reproduces it."""
    from kill_resume import killed_and_resumed, run_to_end

    tiny = Path(__file__).resolve().parent / "data" / "tiny.toml"
    path = tmp_path / "tiny_random.toml"
    path.write_text(tiny.read_text().replace("[evolution]\n", '[evolution]\nstrategy = "random"\n')
                    .replace("max_experiments = 3", "max_experiments = 1")
                    .replace("max_train_steps = 3_000_000", "max_train_steps = 800_000"))
    reference = run_to_end(path, tmp_path / "ref", seed=11)
    assert reference == run_to_end(path, tmp_path / "again", seed=11)
    assert reference == killed_and_resumed(path, tmp_path / "killed", seed=11,
                                           progress_before_kill=3)
