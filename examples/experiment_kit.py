"""What the discovery experiments (digits_experiment.py, adaptation_experiment.py) share:
a config's tasks, one seeded search through the public API, scores per task and per
projection, where a search's budget went, mean +- standard error, and markdown tables.

The scripts import this module from their own folder (``python examples/X.py`` puts it on
the path); everything they run goes through ``azcompile.search``'s public API, as a user's
script would.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from azcompile.program import Program, load
from azcompile.search.api import config_dict, make_config, run_search
from azcompile.search.data.baselines import (BASELINES, DEFAULT_LR_GRID, baseline_report,
                                             evaluate, score)
from azcompile.search.run.config import ConfigError, build_task_list

HERE = Path(__file__).resolve().parent
TASK_LISTS = ("search_tasks", "select_tasks", "final_tasks")
IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")


def experiment_config(path, dataset: str = "digits", data_dir=None) -> dict:
    """The config at ``path`` as a dict, its tasks switched to ``dataset`` (read from
    ``data_dir`` unless it is the bundled digits)."""
    if dataset not in IMAGE_DATASETS:
        raise ConfigError(f"--dataset must be one of {', '.join(IMAGE_DATASETS)}, got {dataset!r}")
    if dataset != "digits" and data_dir is None:
        raise ConfigError(f"--dataset {dataset} needs --data-dir, the folder with its files "
                          "(see the README's 'Real data' section for where to get them)")
    doc = config_dict(path)
    for name in TASK_LISTS:
        for spec in doc.get(name, []):
            spec["dataset"] = dataset
            spec.pop("data_dir", None)
            if data_dir is not None:
                spec["data_dir"] = str(Path(data_dir).expanduser().resolve())
    if dataset != "digits":
        doc["name"] = f"{doc['name']}_{dataset}"
    return doc


def tasks_of(doc: dict, name: str) -> list:
    """The tasks of one list (``search_tasks`` ...) of a config dict, as the search builds them."""
    cfg = make_config(doc)
    return build_task_list(getattr(cfg, name), name)


def search(doc: dict, out: Path, seed: int, minutes: float, individuals=None,
           workers: int = 1):
    """One search with the config dict: ``seed``, at most ``minutes`` (from the start,
    compiling included) and, if given, ``individuals``.  Returns (winner, result): the
    winner is the tuned program if the config has a ``[tune]`` stage, else the best one."""
    result = run_search(doc, out, seed=seed, workers=workers, max_seconds=minutes * 60.0,
                        max_individuals=individuals, progress=False)
    tuned = Path(out) / "tuned.json"
    winner = load(tuned) if tuned.exists() else result.program
    if winner is None:
        raise ConfigError(f"the search in {out} ended before it evaluated a program; give it "
                          "more time (--minutes)")
    return winner, result


def budget_of(result, individuals_asked) -> dict:
    """Where a search's budget went, from its run directory's event log: individuals, time to
    the first progress line (compiling, task preparation), the evolving rate, the share of
    children FEC or the canonical cache answered without training, and why it stopped."""
    events = [json.loads(line) for line in
              (Path(result.run_dir) / "events.jsonl").read_text().splitlines() if line.strip()]
    progress = [e for e in events if e["event"] == "progress"]
    stops = [e.get("reason", "") for e in events if e["event"] == "stopped"]
    # The [tune] stage re-scores the winner on the search tasks with its own random-op seeds
    # (before, after tuning): how much of the search's fitness was one lucky draw.
    tuned = next((e for e in events if e["event"] == "tuned"), {})
    rescored, after = tuned.get("search_fitness", (None, None))
    first, last = (progress[0], progress[-1]) if progress else ({}, {})
    span = last.get("elapsed", 0.0) - first.get("elapsed", 0.0)
    # None with fewer than two progress lines (progress_every individuals apart).
    rate = round((last["individuals"] - first["individuals"]) / span) if span > 0 else None
    return {"individuals": result.individuals, "seconds": round(result.elapsed, 1),
            "first_progress_s": first.get("elapsed"), "individuals_per_s": rate,
            "fec_hit_rate": last.get("fec_hit_rate"),
            "canonical_hit_rate": last.get("canonical_hit_rate"),
            "stopped_by": ("individuals" if individuals_asked
                           and result.individuals >= individuals_asked else "time"),
            "stop_reasons": stops,
            "search_fitness": result.search_fitness, "rescored_search_fitness": rescored,
            "tuned_search_fitness": after, "select_fitness": result.select_fitness,
            "final_fitness": result.final_fitness}


def program_scores(program: Program, tasks, seed: int) -> list[float]:
    """Accuracy of ``program`` on each task, scored exactly as the baselines are."""
    return score(lambda task: program, tasks, seed=seed)


def baseline_scores(tune_tasks, eval_tasks, names, seed: int, lrs=DEFAULT_LR_GRID) -> dict:
    """name -> (learning rate tuned on ``tune_tasks`` over ``lrs``, per-task accuracy on
    ``eval_tasks``, mean accuracy on ``tune_tasks`` with that rate)."""
    rows = baseline_report(tune_tasks, eval_tasks, programs=list(names), lrs=lrs, seed=seed)
    return {row.name: (row.lr, list(row.per_task),
                       float(np.mean(evaluate(BASELINES[row.name], row.lr, tune_tasks,
                                              seed=seed))))
            for row in rows}


def projection_of(task) -> int:
    return int(task.info["projection_seed"])


def by_projection(tasks, scores) -> dict:
    """projection seed -> mean score over the tasks under it."""
    groups: dict = {}
    for task, value in zip(tasks, scores):
        groups.setdefault(projection_of(task), []).append(value)
    return {p: float(np.mean(v)) for p, v in sorted(groups.items())}


def mean_se(values) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for a single value)."""
    values = np.asarray(values, dtype=float)
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
    return float(values.mean()), se


def pm(values, digits: int = 4) -> str:
    mean, se = mean_se(values)
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_outputs(out: Path, stem: str, results: dict, text: str) -> None:
    """``results`` as STEM.json and the printed tables as STEM.md, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / f"{stem}.md").write_text(text + "\n")
