"""Choosing an experiment's winner (search.run.selection): the reference's rule by default,
and the funnel: the best distinct candidates through the select and the promotion tasks, a
paired Wilcoxon test deciding who goes on."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from azcompile.search.engine import evaluator
from azcompile.search.run import config as config_mod
from azcompile.search.run.experiment import RunOptions, Search

ROOT = Path(__file__).resolve().parent.parent
TINY = (ROOT / "tests" / "data" / "tiny.toml").read_text()
PROMOTION = """
[[promotion_tasks]]
type = "scalar_linear_regression"
features = 4
num_train_examples = 200
num_valid_examples = 50
num_tasks = 12
"""
FUNNEL = TINY.replace("max_experiments = 3", "max_experiments = 2") + """
[selection]
candidates = 6
alpha = 0.2
""" + PROMOTION


def run(tmp_path: Path, text: str, name: str) -> list[dict]:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    Search(config_mod.load(path), RunOptions(out=tmp_path / name, seed=5,
                                             config_arg=str(path))).run()
    return [json.loads(line) for line in (tmp_path / name / "events.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def funnel_events(tmp_path_factory):
    return run(tmp_path_factory.mktemp("funnel"), FUNNEL, "funnel")


def test_the_funnel_scores_distinct_candidates_and_promotes_by_the_test(funnel_events):
    selections = [e for e in funnel_events if e["event"] == "selection"]
    ends = [e for e in funnel_events if e["event"] == "experiment_end"]
    assert len(selections) == len(ends) >= 1
    for sel, end in zip(selections, ends):
        cands = sel["candidates"]
        assert 1 < len(cands) <= 6
        searched = [c["search_fitness"] for c in cands]
        assert searched == sorted(searched, reverse=True)     # best search fitness first
        assert all("select" in c for c in cands)               # everyone sees the select tasks
        for c in cands:
            if c.get("dropped") == "select":                   # the test dropped it ...
                assert c["select_p"] < 0.2 and "promotion" not in c
        promoted = [c for c in cands if "promotion" in c]       # ... the others go on
        assert promoted and all(c["select_p"] >= 0.2 for c in promoted if c.get("select_p") != 1.0)
        winner = cands[sel["winner"]]
        assert winner["promotion"] == max(c["promotion"] for c in promoted)
        assert end["select_fitness"] == pytest.approx(winner["select"])
        assert end["search_fitness"] == winner["search_fitness"]


def test_a_fixed_seed_reproduces_the_funnel(funnel_events, tmp_path):
    again = run(tmp_path, FUNNEL, "again")
    strip = ({k: v for k, v in e.items() if k not in ("time", "elapsed", "profile")}
             for e in again if e["event"] == "selection")
    assert list(strip) == [{k: v for k, v in e.items() if k not in ("time", "elapsed", "profile")}
                           for e in funnel_events if e["event"] == "selection"]


def test_one_candidate_without_promotion_is_the_reference_rule(tmp_path):
    """selection.candidates = 1 (the default): no funnel event, and the select fitness is the
    search's best scored on the select tasks with the logged seeds."""
    events = run(tmp_path, TINY.replace("max_experiments = 3", "max_experiments = 1"), "one")
    assert not [e for e in events if e["event"] == "selection"]
    end = next(e for e in events if e["event"] == "experiment_end")
    best = max((e for e in events if e["event"] == "new_best"), key=lambda e: e["fitness"])
    assert end["search_fitness"] == best["fitness"]


def test_the_funnel_reports_candidates_that_pass_search_but_fail_select(tmp_path):
    """Select tasks with two training examples: candidates that solve the search tasks fail
    there, and the selection event lists them."""
    head, select = FUNNEL.split("[[select_tasks]]")
    select = select.replace("num_train_examples = 200", "num_train_examples = 2", 1)
    text = (head + "[[select_tasks]]" + select).replace("max_experiments = 2",
                                                         "max_experiments = 1")
    text = text.replace("sufficient_fitness = 0.999", "sufficient_fitness = 0.5")
    events = run(tmp_path, text, "fail")
    sel = next(e for e in events if e["event"] == "selection")
    expected = [k for k, c in enumerate(sel["candidates"])
                if c["search_fitness"] > 0.5 and not c["select"] > 0.5]
    assert expected and sel["failed_select"] == expected


def test_the_log_line_names_the_winner_and_the_failures(funnel_events):
    from azcompile.search.run.reporting import event_line
    sel = next(e for e in funnel_events if e["event"] == "selection")
    line = event_line(sel)
    assert line.startswith(f"selection: {len(sel['candidates'])} candidates on the select tasks")
    assert f"winner #{sel['winner'] + 1} " in line
    failed = dict(sel, failed_select=[0, 1])
    assert event_line(failed).endswith("; 2 passed the search but failed the select tasks")
