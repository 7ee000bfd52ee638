"""Crossover for regularized evolution (``evolution.crossover_prob``, ``speciation``): valid
children that mix both parents, mates of the parent's species, runs without crossover as
before bit for bit, kill -9 and resume, config errors."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from azcompile.rng import new_state
from azcompile.search.engine import evaluator
from azcompile.search.engine.evolution import crossover, mate_tournament
from azcompile.search.engine.island import Island
from azcompile.search.engine.validate import CheckpointError
from azcompile.search.engine.mutator import CROSSOVER, MUTATION_LABELS
from azcompile.search.engine.population import check_instructions
from azcompile.search.run import checkpoint as ckpt
from azcompile.search.run.config import parse
from azcompile.search.run.island_kit import eval_settings
from cli_checks import assert_user_error, run_azc
from test_search_run import azc_in_process
from kill_resume import killed_and_resumed, run_to_end
from test_evolution import BASE, assert_clean, make_island

TINY = Path(__file__).resolve().parent / "data" / "tiny.toml"
NEEDLE_IN_A_PROCESS = "crossover_prob is 0"


def config(**evolution):
    """The unit evolution config with [evolution] keys added (TOML spelling)."""
    lines = "".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}\n"
                    for k, v in evolution.items())
    return parse(BASE.read_text().replace("[evolution]\n", f"[evolution]\n{lines}"), str(BASE))


def _evolved(cfg, seed, children):
    isl = make_island(cfg, seed=seed)
    isl.initialize(8)
    for _ in range(children // 8):
        isl.evolve(8)
    return isl


def _digest(isl) -> str:
    h = hashlib.sha256()
    for name in ("code", "data", "size", "fitness", "ids", "parents", "mutations"):
        h.update(np.ascontiguousarray(getattr(isl.pop, name)).tobytes())
    # The statistics as that code kept them (the executed-instructions counter came later).
    h.update(isl.stats[:evaluator.S_INSTRUCTIONS].tobytes())
    h.update(isl.rng.tobytes())
    return h.hexdigest()[:16]


def test_without_crossover_a_run_is_bit_identical_to_before():
    """The digest of this run was taken with the code before crossover existed: with
    crossover_prob = 0 the loop makes exactly the same draws."""
    assert _digest(_evolved(config(), 5, 64)) == "ada811c708b4f7cc"
    assert _digest(_evolved(config(crossover_prob=0.0), 5, 64)) == "ada811c708b4f7cc"


def _rows(code, data, size, c):
    return [(tuple(code[c, i]), tuple(data[c, i])) for i in range(size[c])]


def test_crossover_children_are_valid_and_mix_both_parents():
    cfg = config()
    isl = _evolved(cfg, 7, 48)            # insert/remove mutations: parents of several sizes
    pop, mut = isl.pop, isl.breeding.mutator
    _, low, high = cfg.size_bounds()
    rng = new_state(11)
    mixed = 0
    for trial in range(200):
        a, b = trial % 8, (trial * 3 + 1) % 8
        if a == b:
            continue
        child = evaluator.ProgramBuffers(pop.code[a].copy(), pop.data[a].copy(), pop.size[a].copy())
        crossover(rng, child, pop.code[b], pop.data[b], pop.size[b], mut.n_ops)
        check_instructions(child.code, cfg.memory, "child")
        assert all(low[c] <= child.size[c] <= high[c] for c in range(3))
        from_a = from_b = False
        for c in range(3):
            rows = _rows(child.code, child.data, child.size, c)
            ra, rb = _rows(pop.code[a], pop.data[a], pop.size[a], c), _rows(
                pop.code[b], pop.data[b], pop.size[b], c)
            # each component is one parent's whole, or each row is a parent's row at its place
            assert rows in (ra, rb) or all(r in (ra[i:i + 1] + rb[i:i + 1])
                                           for i, r in enumerate(rows)), (trial, c)
            from_a |= any(i < len(ra) and r == ra[i] and (i >= len(rb) or r != rb[i])
                          for i, r in enumerate(rows))
            from_b |= any(i < len(rb) and r == rb[i] and (i >= len(ra) or r != ra[i])
                          for i, r in enumerate(rows))
        mixed += from_a and from_b
        assert_clean(evaluator.ProgramBuffers(child.code[None], child.data[None], child.size[None]))
    assert mixed > 40


def test_mates_come_from_the_parent_s_species():
    fitness = np.array([0.10, 0.12, 0.55, 0.56, 0.58, 0.90, 0.91, 0.30])
    # behaviour signatures across the fitness bands: species of their own
    signature = np.array([7, 9, 9, 7, 9, 7, 7, 5], dtype=np.uint64)
    rng = new_state(3)
    for parent in range(8):
        band = np.floor(fitness[parent] / 0.05)
        for _ in range(50):
            mate = mate_tournament(fitness, 3, rng, parent, 0.05, signature, False)
            assert mate != parent
            assert mate == -1 or np.floor(fitness[mate] / 0.05) == band
            mate = mate_tournament(fitness, 3, rng, parent, 0.05, signature, True)
            assert mate != parent and (mate == -1 or signature[mate] == signature[parent])
    assert {mate_tournament(fitness, 3, rng, 7, 0.05, signature, False)
            for _ in range(50)} == {-1}                                       # alone
    assert {mate_tournament(fitness, 3, rng, 7, 0.0, signature, True) for _ in range(50)} == {-1}
    assert {mate_tournament(fitness, 3, rng, 0, 0.0, signature, False)
            for _ in range(200)} >= {5, 6}
    assert {mate_tournament(fitness, 3, rng, 0, 0.0, signature, True)
            for _ in range(200)} == {-1, 3, 5, 6}


@pytest.mark.parametrize("speciation", [False, True, '"fec"'])
def test_a_crossover_run_logs_crossover_children(speciation):
    cfg = config(crossover_prob=0.5, speciation=speciation, species_width=0.2)
    isl = _evolved(cfg, 9, 64)
    kinds = set(isl.pop.mutations.tolist()) | set(isl.log.mutations.tolist())
    assert CROSSOVER in kinds and MUTATION_LABELS[CROSSOVER] == "crossover"
    assert_clean(isl.pop)
    again = _evolved(cfg, 9, 64)
    assert _digest(isl) == _digest(again)          # a fixed seed reproduces the run
    assert _digest(isl) != _digest(_evolved(config(), 9, 64))


def test_a_crossover_run_killed_and_resumed_ends_as_an_uninterrupted_one(tmp_path):
    """With behaviour species: the members' signatures are checkpointed state."""
    path = tmp_path / "tiny_crossover.toml"
    path.write_text(TINY.read_text().replace(
        "[evolution]\n", "[evolution]\ncrossover_prob = 0.3\nspeciation = \"fec\"\n")
        .replace("max_experiments = 3", "max_experiments = 1"))
    reference = run_to_end(path, tmp_path / "ref", seed=11)
    assert reference == killed_and_resumed(path, tmp_path / "killed", seed=11,
                                           progress_before_kill=4)


def test_behaviour_signatures_are_the_members_probes_and_travel_with_migrants():
    cfg = config(crossover_prob=0.5, speciation='"fec"')
    isl = _evolved(cfg, 9, 64)
    pop = isl.pop
    probe = [evaluator.behaviour_signature(pop.code[i], pop.data[i], pop.size[i], isl.evaluation)
             for i in range(isl.size)]
    assert pop.signature.tolist() == probe
    fresh = _evolved(cfg, 5, 0).pop                # random programs: behaviours differ
    differ = [(i, j) for i in range(8) for j in range(i) if fresh.fitness[i] != fresh.fitness[j]]
    assert differ and all(fresh.signature[i] != fresh.signature[j] for i, j in differ)
    other = _evolved(cfg, 4, 8)
    start = other.cursor
    other.immigrate(isl.emigrants([0, 1, 2]))
    arrived = [(start + k) % other.size for k in range(3)]
    assert other.pop.signature[arrived].tolist() == probe[:3]


def test_a_checkpoint_from_before_behaviour_species_resumes_unless_they_are_asked_for():
    cfg = config(crossover_prob=0.5, speciation=True)
    isl = _evolved(cfg, 9, 16)
    arrays = isl.state("island0_")
    del arrays["island0_pop_signature"]                      # as such a checkpoint holds
    Island.check_state(arrays, "island0_", cfg, eval_settings(cfg))
    assert not arrays["island0_pop_signature"].any()
    del arrays["island0_pop_signature"]
    fec_cfg = config(crossover_prob=0.5, speciation='"fec"')
    with pytest.raises(CheckpointError, match="start a new run"):
        Island.check_state(arrays, "island0_", fec_cfg, eval_settings(fec_cfg))


@pytest.mark.parametrize("edit, needle", [
    ("crossover_prob = 1.5", "crossover_prob"),
    ('crossover_prob = 0.2\nstrategy = "random"', "crossover_prob applies to strategy"),
    ("speciation = true", "crossover_prob is 0"),
    ("crossover_prob = 0.2\nspeciation = true\nspecies_width = 0", "species_width"),
    ('crossover_prob = 0.2\nspeciation = "signature"', '"fec"'),
])
def test_bad_crossover_settings_are_one_config_error(tmp_path, edit, needle):
    path = tmp_path / "bad.toml"
    path.write_text(TINY.read_text().replace("[evolution]\n", f"[evolution]\n{edit}\n"))
    # one case through a real process (the exit status and stderr as a user sees them)
    run = run_azc if needle == NEEDLE_IN_A_PROCESS else azc_in_process
    assert_user_error(run("search", path, "--out", tmp_path / "run"), needle)


def test_a_config_without_crossover_keeps_its_hash():
    """The new keys at their defaults are left out of the configuration record, so runs
    checkpointed before crossover existed still resume; setting one changes the hash."""
    plain = ckpt.config_document(config())
    assert not {"crossover_prob", "speciation", "species_width"} & set(plain["evolution"])
    assert "controller" not in plain
    crossed = ckpt.config_document(config(crossover_prob=0.1))
    assert crossed["evolution"]["crossover_prob"] == 0.1
    assert ckpt.document_hash(crossed) != ckpt.document_hash(plain)
