"""The digits discovery experiment (issue 15, experiment 1): evolved vs tuned baselines on
held-out class pairs under projections the search never used.

Per seed: a search with examples/digits_experiment.toml (20 search tasks from the 36 search
pairs and projections 0-9, selection on the 9 held-out pairs under projections 0 and 1, the
winner's constants tuned by the config's [tune] stage), then logistic regression and the
paper's 2-layer MLP with learning rates tuned on the same search tasks; all three scored on
the final tasks (the 9 held-out pairs under projections 100 and 101), per projection.  The
table gives mean ± standard error over the seeds, and evolved minus logistic regression
(paired by seed) against two standard errors.

    python examples/digits_experiment.py --seeds 1 2 3 4 5 --minutes 10 --out runs/digits-exp

Everything follows from the seeds and the budget: with --individuals the searches stop at a
count of individuals and the table is reproducible; with --minutes alone they stop at a time
and the count depends on the machine's speed.  --dataset mnist / fashion_mnist / cifar10
with --data-dir runs the same experiment on those files.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import experiment_kit as kit

from azcompile.program import ProgramError
from azcompile.search.data.tasks import TaskError
from azcompile.search.run.config import ConfigError
from azcompile.search.run.rundir import RunDirError

BASELINES = {"logistic_regression": "logistic regression", "neural_net": "2-layer MLP"}
METHODS = {"evolved": "evolved", **BASELINES}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5],
                        help="search seeds, one search each (default: 1 2 3 4 5)")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="time limit per search, compiling included (default: 10)")
    parser.add_argument("--individuals", type=int, default=None,
                        help="stop each search at this many individuals (reproducible)")
    parser.add_argument("--workers", type=int, default=2, help="islands per search (default: 2)")
    parser.add_argument("--config", default=str(kit.HERE / "digits_experiment.toml"))
    parser.add_argument("--dataset", default="digits", choices=kit.IMAGE_DATASETS)
    parser.add_argument("--data-dir", default=None,
                        help="folder with the MNIST / Fashion-MNIST / CIFAR-10 files")
    parser.add_argument("--out", type=Path, default=Path("runs/digits-experiment"),
                        help="folder for the runs (seed_N/) and digits_experiment.json / .md")
    return parser.parse_args(argv)


def run_seed(doc, tasks, args, seed: int) -> dict:
    """One seed: the search, the tuned baselines, per-projection accuracy of each."""
    winner, result = kit.search(doc, args.out / f"seed_{seed}", seed, args.minutes,
                                args.individuals, args.workers)
    scores = {"evolved": kit.program_scores(winner, tasks["final_tasks"], seed)}
    lrs, on_search = {}, {}
    tuned = kit.baseline_scores(tasks["search_tasks"], tasks["final_tasks"], BASELINES, seed)
    for name, (lr, per_task, search_mean) in tuned.items():
        lrs[name], scores[name], on_search[name] = lr, per_task, search_mean
    per_projection = {name: kit.by_projection(tasks["final_tasks"], s)
                      for name, s in scores.items()}
    return {"seed": seed, "budget": kit.budget_of(result, args.individuals), "lr": lrs,
            "baselines_on_search_tasks": on_search,
            "per_task": scores, "per_projection": per_projection,
            "program": winner.listing()}


def summary_table(runs, projections) -> tuple[str, dict]:
    """Mean ± SE over seeds per projection and method, and evolved - LR against 2 SE."""
    rows, verdict = [], {}
    for p in projections:
        values = {m: [r["per_projection"][m][p] for r in runs] for m in METHODS}
        diff = [e - lr for e, lr in zip(values["evolved"], values["logistic_regression"])]
        mean, se = kit.mean_se(diff)
        verdict[p] = {"difference": mean, "se": se, "exceeds_2se": bool(mean > 2 * se)}
        rows.append([p] + [kit.pm(values[m]) for m in METHODS] +
                     [f"{mean:+.4f} ± {se:.4f}", "yes" if mean > 2 * se else "no"])
    header = (["projection"] + [METHODS[m] for m in METHODS] +
              ["evolved − LR (paired)", "> 2 SE"])
    return kit.markdown_table(header, rows), verdict


def seed_table(runs, projections) -> str:
    header = (["seed", "individuals", "s", "stopped by",
               "evolved on search tasks: as searched / re-scored / tuned",
               "LR / MLP on search tasks", "select", "LR lr", "MLP lr"] +
              [f"evolved / LR / MLP, proj {p}" for p in projections])
    rows = []
    for r in runs:
        b = r["budget"]
        cells = [" / ".join(f"{r['per_projection'][m][p]:.4f}" for m in METHODS)
                 for p in projections]
        fitness = " / ".join("-" if v is None else f"{v:.4f}" for v in
                             (b["search_fitness"], b["rescored_search_fitness"],
                              b["tuned_search_fitness"]))
        rows.append([r["seed"], f"{b['individuals']:,}", f"{b['seconds']:.0f}", b["stopped_by"],
                     fitness, " / ".join(f"{r['baselines_on_search_tasks'][m]:.4f}"
                                         for m in BASELINES),
                     f"{b['select_fitness']:.4f}", f"{r['lr']['logistic_regression']:.3g}",
                     f"{r['lr']['neural_net']:.3g}"] + cells)
    return kit.markdown_table(header, rows)


def main(argv=None) -> int:
    args = parse_args(argv)
    doc = kit.experiment_config(args.config, args.dataset, args.data_dir)
    tasks = {name: kit.tasks_of(doc, name) for name in ("search_tasks", "final_tasks")}
    projections = sorted({kit.projection_of(t) for t in tasks["final_tasks"]})
    runs = []
    for seed in args.seeds:
        runs.append(run_seed(doc, tasks, args, seed))
        b = runs[-1]["budget"]
        scores = "; ".join(f"{METHODS[m]} " + " / ".join(f"{v:.4f}" for v in
                                                         runs[-1]["per_projection"][m].values())
                           for m in METHODS)
        print(f"seed {seed}: {b['individuals']:,} individuals in {b['seconds']:.0f} s, select "
              f"{b['select_fitness']:.4f}; held-out accuracy per projection: {scores}",
              flush=True)
    table, verdict = summary_table(runs, projections)
    n_pairs = len(tasks["final_tasks"]) // len(projections)
    text = "\n\n".join([
        f"{args.dataset}: mean held-out accuracy over {n_pairs} held-out pairs per projection "
        f"(never searched), {len(runs)} seeds {args.seeds}, mean ± standard error over seeds",
        table, seed_table(runs, projections)])
    print(text)
    kit.write_outputs(args.out, "digits_experiment",
                      {"args": {k: str(v) for k, v in vars(args).items()}, "runs": runs,
                       "verdict": {str(p): v for p, v in verdict.items()}}, text)
    print(f"(written to {args.out / 'digits_experiment.json'} and .md)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ConfigError, TaskError, ProgramError, RunDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
