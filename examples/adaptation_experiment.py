"""The fast-training adaptation (issue 15, experiment 2; the paper's Section 4.3 at small
scale): N searches from the 2-layer neural network on digits pairs trained for one short
epoch (80 examples), each winner against SGD on the same network with a tuned constant
learning rate, on held-out pairs under projections the search never used.

Per seed: a search with examples/digits_fast_training.toml (the winner's constants tuned by
its [tune] stage), and the baseline network (the reference's NEURAL_NET_ALGORITHM, the
population's starting point) with its learning rate tuned on the search tasks over a grid
of eighth-decades.  Both are scored on the 18 final tasks with the same random-op seeds; a
winner "beats" SGD when its mean is higher, and "clearly" when the paired difference over
the tasks exceeds two standard errors.  The best winner (highest final mean) is exported
with ``azc export``'s code generator to best_algorithm.py in --out, and its Setup, Predict
and Learn are printed.

    python examples/adaptation_experiment.py --runs 6 --individuals 150000 --minutes 5
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import experiment_kit as kit

from azcompile.eval_type import ACCURACY
from azcompile.export import ExportError, export_program
from azcompile.program import ProgramError
from azcompile.search.data.tasks import TaskError
from azcompile.search.run.config import ConfigError
from azcompile.search.run.rundir import RunDirError

SGD = "neural_net"
LR_GRID = tuple(float(10.0 ** e) for e in np.arange(-3.0, 0.01, 0.125))   # 1e-3 .. 1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=6, help="searches, seeds 1..N (default: 6)")
    parser.add_argument("--minutes", type=float, default=4.0,
                        help="time limit per search, compiling included (default: 4)")
    parser.add_argument("--individuals", type=int, default=None,
                        help="stop each search at this many individuals (reproducible)")
    parser.add_argument("--workers", type=int, default=2, help="islands per search (default: 2)")
    parser.add_argument("--config", default=str(kit.HERE / "digits_fast_training.toml"))
    parser.add_argument("--out", type=Path, default=Path("runs/adaptation-experiment"),
                        help="folder for the runs (seed_N/), adaptation_experiment.json / .md "
                             "and best_algorithm.py")
    return parser.parse_args(argv)


def run_seed(doc, tasks, args, seed: int) -> dict:
    winner, result = kit.search(doc, args.out / f"seed_{seed}", seed, args.minutes,
                                args.individuals, args.workers)
    evolved = kit.program_scores(winner, tasks["final_tasks"], seed)
    (lr, sgd, sgd_search), = kit.baseline_scores(tasks["search_tasks"], tasks["final_tasks"],
                                                 [SGD], seed, lrs=LR_GRID).values()
    mean, se = kit.mean_se(np.subtract(evolved, sgd))
    return {"seed": seed, "budget": kit.budget_of(result, args.individuals), "sgd_lr": lr,
            "sgd_search_fitness": sgd_search,
            "evolved": float(np.mean(evolved)), "sgd": float(np.mean(sgd)),
            "difference": mean, "difference_se": se, "beats": bool(mean > 0),
            "beats_clearly": bool(mean > 2 * se), "program": winner.listing(),
            "winner": winner}


def runs_table(runs) -> str:
    header = ["seed", "individuals", "s", "select", "evolved", "SGD (tuned lr)",
              "evolved − SGD (± SE over tasks)", "beats", "> 2 SE"]
    rows = [[r["seed"], f"{r['budget']['individuals']:,}", f"{r['budget']['seconds']:.0f}",
             f"{r['budget']['select_fitness']:.4f}", f"{r['evolved']:.4f}",
             f"{r['sgd']:.4f} (lr {r['sgd_lr']:.3g})",
             f"{r['difference']:+.4f} ± {r['difference_se']:.4f}",
             "yes" if r["beats"] else "no", "yes" if r["beats_clearly"] else "no"]
            for r in runs]
    return kit.markdown_table(header, rows)


def exported_core(source: str) -> str:
    """Setup, Predict and Learn of an exported module (its live code), without the helpers;
    a component with no live code has no function there."""
    start = min(i for i in (source.find(f"def _{c}(") for c in ("setup", "predict", "learn"))
                if i >= 0)
    return source[start:source.index("# ---- functional API", start)].rstrip()


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.runs < 1:
        raise ConfigError(f"--runs must be at least 1, got {args.runs}")
    doc = kit.experiment_config(args.config)
    tasks = {name: kit.tasks_of(doc, name) for name in ("search_tasks", "final_tasks")}
    runs = []
    for seed in range(1, args.runs + 1):
        runs.append(run_seed(doc, tasks, args, seed))
        r = runs[-1]
        print(f"seed {seed}: {r['budget']['individuals']:,} individuals, evolved "
              f"{r['evolved']:.4f} vs SGD {r['sgd']:.4f}", flush=True)
    best = max(runs, key=lambda r: r["evolved"])
    source = export_program(best.pop("winner"), eval_type=ACCURACY, num_classes=0)
    for r in runs:
        r.pop("winner", None)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "best_algorithm.py").write_text(source)
    n_final = len(tasks["final_tasks"])
    text = "\n\n".join([
        f"fast training (80 examples, 1 epoch): {args.runs} runs, each winner against SGD "
        f"with a tuned constant learning rate on {n_final} held-out tasks (9 held-out pairs x "
        f"projections 100, 101)",
        runs_table(runs),
        f"beat SGD: {sum(r['beats'] for r in runs)} of {args.runs}; by more than 2 SE: "
        f"{sum(r['beats_clearly'] for r in runs)} of {args.runs}",
        f"best winner (seed {best['seed']}), exported to {args.out / 'best_algorithm.py'}; its "
        f"Setup, Predict and Learn:\n\n{exported_core(source)}"])
    print(text)
    kit.write_outputs(args.out, "adaptation_experiment",
                      {"args": {k: str(v) for k, v in vars(args).items()}, "runs": runs}, text)
    print(f"(written to {args.out / 'adaptation_experiment.json'} and .md)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ConfigError, TaskError, ProgramError, RunDirError, ExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
