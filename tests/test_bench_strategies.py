"""``azc bench --strategies``: the per-strategy configs and the table (the runs themselves are
the bench's; README "Search strategies" shows a measured table)."""
from __future__ import annotations

import pytest

from azcompile.search.cli.bench_strategies import (OTHER_SECTIONS, STRATEGIES, format_comparison,
                                                   strategy_configs, with_keys, without_section)
from azcompile.search.run.config import load
from cli_checks import assert_user_error, run_azc


@pytest.mark.parametrize("config", ["demo", "nonlinear"])
def test_each_strategy_is_the_config_with_its_keys_and_the_early_select_check(tmp_path, config):
    # nonlinear too: random search and rl write its Setup and keep the damaged net's
    # Predict and Learn (no ops there)
    configs = strategy_configs(config, tmp_path)
    assert list(configs) == list(STRATEGIES)
    base = load(config)
    for label, path in configs.items():
        cfg = load(path)
        assert cfg.experiment["early_select"] and cfg.experiment["sufficient_fitness"] == 0.9999
        assert cfg.experiment["max_experiments"] == 0      # the budget, not one experiment
        for key, value in STRATEGIES[label].items():
            assert cfg.evolution[key] == value
        for section, keys in OTHER_SECTIONS.get(label, {}).items():
            assert {k: getattr(cfg, section)[k] for k in keys} == keys
        assert cfg.controller["policy"] == ("gru" if label == "rl-gru" else "bigram")
        same = {k: v for k, v in cfg.evolution.items() if k not in STRATEGIES[label]}
        assert same == {k: base.evolution[k] for k in same}
        assert cfg.ops == base.ops and cfg.sizes == base.sizes and cfg.memory == base.memory
        assert cfg.selection == base.selection and cfg.tune is None    # nonlinear tunes


def test_without_section_drops_one_table_and_keeps_the_rest():
    text = "a = 1\n\n[tune]  # tuned\nmethod = \"random\"\n# note\ntrials = 3\n\n[run]\nseed = 2\n"
    assert without_section(text, "tune") == "a = 1\n\n[run]\nseed = 2\n"
    assert without_section("[tune]\ntrials = 3\n", "tune") == ""
    assert without_section(text, "fec") == text


def test_with_keys_replaces_a_key_and_adds_a_missing_section():
    text = "[evolution]\nstrategy = \"evolution\"\nmutate_prob = 0.9\n"
    out = with_keys(text, "evolution", {"strategy": "rl", "speciation": True})
    assert out.count("strategy") == 1 and 'strategy = "rl"' in out and "speciation = true" in out
    assert "[controller]\nlearning_rate = 0.1" in with_keys(out, "controller", {"learning_rate": 0.1})


def test_the_table_has_one_row_per_strategy():
    run = {"runs": [{"seed": 1, "solved": True, "individuals": 5000, "seconds": 2.0}],
           "solved": 1, "of": 1, "median_individuals": 5000.0, "median_seconds": 2.0, "median_select": 0.99995}
    none = {"runs": [{"seed": 1, "error": "boom"}], "solved": 0, "of": 1,
            "median_individuals": None, "median_seconds": None}
    text = format_comparison({"config": "demo", "budget": 9000, "seeds": [1],
                              "strategies": {"evolution": run, "rl": none}})
    lines = text.splitlines()
    assert lines[2].split() == ["evolution", "1/1", "5,000", "2.0", "0.99995"]
    assert lines[3].split() == ["rl", "0/1", "-", "-", "-"] and lines[4] == "rl seed 1: boom"


def test_an_unknown_config_is_one_error(tmp_path):
    assert_user_error(run_azc("bench", "--strategies", "--config", "nosuch", "--json",
                              tmp_path / "b.json"), "nosuch")
