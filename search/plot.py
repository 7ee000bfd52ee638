"""``azc plot``: best and mean population fitness over individuals evaluated."""
from __future__ import annotations

from pathlib import Path

from .config import ConfigError
from .rundir import read_events


def progress_series(run_dir: Path):
    """(individuals, best, mean, experiment starts) across all experiments of a run."""
    xs, best, mean, starts = [], [], [], []
    offset = 0
    last = 0
    for event in read_events(run_dir):
        if event["event"] == "experiment_start" and xs:
            offset = xs[-1]
            starts.append(offset)
        if event["event"] == "progress":
            last = offset + event["individuals"]
            xs.append(last)
            best.append(event["best"])
            mean.append(event["mean"])
    return xs, best, mean, starts


def plot_run(run_dir: Path, output: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("azc plot needs matplotlib: pip install 'azcompile[plot]'") from None
    if not (run_dir / "events.jsonl").exists():
        raise ConfigError(f"{run_dir} has no events.jsonl: is it a run directory?")
    xs, best, mean, starts = progress_series(run_dir)
    if not xs:
        raise ConfigError(f"{run_dir} has no progress events yet")
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot(xs, best, label="best in population", color="tab:blue")
    ax.plot(xs, mean, label="population mean", color="tab:orange", alpha=0.8)
    for i, x in enumerate(starts):
        ax.axvline(x, color="grey", linestyle=":", linewidth=1,
                   label="new experiment" if i == 0 else None)
    ax.set_xlabel("individuals evaluated")
    ax.set_ylabel("search fitness")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"azc search: {run_dir.name}")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(output)
    plt.close(fig)
