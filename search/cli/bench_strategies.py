"""``azc bench --strategies``: every search strategy on one config, under one budget.

Each strategy is the config with a few ``[evolution]`` keys set (``STRATEGIES``; and
``[controller]`` keys for the GRU policy, ``OTHER_SECTIONS``), run as
``azc search`` for each seed with ``--max-individuals BUDGET`` and the early select check
(``experiment.sufficient_fitness = 0.9999``, ``early_select = true``): a run stops as soon as
a candidate scores above 0.9999 on the select tasks, so its individuals and elapsed time at
the end are its individuals- and time-to-solve.  Experiments repeat until the budget is
spent (``experiment.max_experiments = 0``, as the demo already has), so a config whose one
experiment ends early (nonlinear's 1e8 train steps) still gets the whole budget.  Everything
else (program space, evaluator, caches, experiment length, selection) is the config's, the same
for every strategy, but a ``[tune]`` stage: it would tune each run's winner after the run, the
same for every strategy and no part of what is compared.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..run.config import bundled_examples, load
from .bench import _parallel, run_search

SOLVED = 0.9999
# label: the [evolution] keys that make the strategy
STRATEGIES = {
    "evolution": {},
    "evolution+crossover": {"crossover_prob": 0.2},
    "evolution+crossover+speciation": {"crossover_prob": 0.2, "speciation": True},
    "evolution+crossover+fec-species": {"crossover_prob": 0.2, "speciation": "fec"},
    "random": {"strategy": "random"},
    "rl": {"strategy": "rl"},
    "rl-gru": {"strategy": "rl"},
    "relaxation": {"strategy": "relaxation"},
}
# label: the keys of other sections that make the strategy (section: keys)
OTHER_SECTIONS = {"rl-gru": {"controller": {"policy": "gru"}}}


def _toml(value) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value).replace("'", '"')


def with_keys(text: str, section: str, keys: dict) -> str:
    """``text`` with ``keys`` set in ``[section]`` (any line setting them elsewhere removed:
    these key names occur in one section only)."""
    for key in keys:
        text = re.sub(rf"^{key}\s*=.*\n", "", text, flags=re.M)
    lines = "".join(f"{key} = {_toml(v)}\n" for key, v in keys.items())
    header = re.search(rf"^\[{section}\][ \t]*(#.*)?\n", text, re.M)
    if header is None:
        return f"{text.rstrip()}\n\n[{section}]\n{lines}"
    return text[:header.end()] + lines + text[header.end():]


def without_section(text: str, section: str) -> str:
    """``text`` without its ``[section]`` table (its header, keys and comments up to the next
    table)."""
    return re.sub(rf"^\[{section}\][ \t]*(#.*)?\n(?:(?!\[).*\n?)*", "", text, flags=re.M)


def strategy_configs(config: str, workdir: Path, only=None) -> dict[str, Path]:
    """One config file per strategy (label -> path), from a bundled example or a file."""
    load(config)                 # refuse a bad config before any run starts (ConfigError)
    examples = bundled_examples()
    text = examples[config] if config in examples else Path(config).read_text(encoding="utf-8")
    text = with_keys(without_section(text, "tune"), "experiment",
                     {"sufficient_fitness": SOLVED, "early_select": True, "max_experiments": 0})
    out = {}
    for label, keys in STRATEGIES.items():
        if only and label not in only:
            continue
        path = workdir / f"{Path(config).stem}_{label.replace('+', '_')}.toml"
        edited = with_keys(text, "evolution", keys)
        for section, section_keys in OTHER_SECTIONS.get(label, {}).items():
            edited = with_keys(edited, section, section_keys)
        path.write_text(edited)
        load(path)               # each edited config is one the search accepts
        out[label] = path
    return out


def compare(config: str, seeds, budget: int, workdir: Path, only=None, echo=print) -> dict:
    """Every strategy for every seed (two runs at a time, one core each): per strategy the
    runs and the success rate, median individuals- and seconds-to-solve over solved runs."""
    configs = strategy_configs(config, workdir, only)
    results = {"config": config, "budget": budget, "seeds": list(seeds), "strategies": {}}
    for label, path in configs.items():
        echo(f"bench: {label} ...")
        jobs = [lambda s=s: run_search(path, workdir / f"{path.stem}_{s}", "--seed", s,
                                       "--max-individuals", budget) for s in seeds]
        results["strategies"][label] = _summary(list(zip(seeds, _parallel(jobs))))
    return results


def _summary(runs) -> dict:
    rows = []
    for seed, res in runs:
        if "error" in res:
            rows.append({"seed": seed, "error": res["error"]})
            continue
        select = res["final"]["select_fitness"]
        rows.append({"seed": seed, "solved": select is not None and select > SOLVED,
                     "individuals": res["individuals"], "seconds": res["elapsed_s"],
                     "select_fitness": select})
    solved = [r for r in rows if r.get("solved")]

    def median(key, among):
        return float(np.median([r[key] for r in among])) if among else None

    # the best select fitness of every finished run (a run with no candidate counts as 0)
    finished = [dict(r, select_fitness=r["select_fitness"] or 0.0) for r in rows if "error" not in r]
    return {"runs": rows, "solved": len(solved), "of": len(rows),
            "median_individuals": median("individuals", solved),
            "median_seconds": median("seconds", solved),
            "median_select": median("select_fitness", finished)}


def format_comparison(r: dict) -> str:
    lines = [f"strategies on {r['config']}, seeds {r['seeds'][0]}-{r['seeds'][-1]}, budget "
             f"{r['budget']:,} individuals per run (solved: select fitness > {SOLVED}; medians "
             f"over solved runs; best select fitness: median over all runs)",
             f"{'strategy':32s} {'solved':>7s} {'individuals to solve':>21s} "
             f"{'seconds to solve':>17s} {'best select fitness':>20s}"]
    for label, s in r["strategies"].items():
        ind = f"{s['median_individuals']:,.0f}" if s["median_individuals"] is not None else "-"
        sec = f"{s['median_seconds']:.1f}" if s["median_seconds"] is not None else "-"
        best = s.get("median_select")
        best = f"{best:.5f}" if best is not None else "-"
        lines.append(f"{label:32s} {s['solved']:>3d}/{s['of']:<3d} {ind:>21s} {sec:>17s} "
                     f"{best:>20s}")
    errors = [f"{label} seed {x['seed']}: {x['error']}" for label, s in r["strategies"].items()
              for x in s["runs"] if "error" in x]
    return "\n".join(lines + errors)
