"""``azc plot``: best and mean population fitness over individuals evaluated."""
from __future__ import annotations

import math
from pathlib import Path

from ..run.config import ConfigError
from ..run.rundir import RunDirError, read_events

_PROGRESS_FIELDS = ("individuals", "best", "mean")


def progress_series(run_dir: Path):
    """(individuals, best, mean, experiment starts) across all experiments of a run."""
    xs, best, mean, starts = [], [], [], []
    offset = 0
    for event in read_events(run_dir):        # records are dicts with an "event" name
        kind = event["event"]
        if kind == "experiment_start" and xs:
            offset = xs[-1]
            starts.append(offset)
        if kind == "progress":
            if not all(_is_number(event.get(f)) for f in _PROGRESS_FIELDS):
                raise RunDirError(f"{run_dir / 'events.jsonl'} has a progress event without "
                                  f"numbers for {', '.join(_PROGRESS_FIELDS)}")
            xs.append(offset + event["individuals"])
            best.append(event["best"])
            mean.append(event["mean"])
    return xs, best, mean, starts


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


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
        raise ConfigError(f"{run_dir / 'events.jsonl'} has no complete progress events yet; plot the "
                          "run again once it has reported progress")
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    formats = fig.canvas.get_supported_filetypes()
    if output.suffix and output.suffix[1:].lower() not in formats:
        plt.close(fig)
        raise ConfigError(f"{output}: matplotlib cannot write {output.suffix} files; use one of "
                          f".{', .'.join(sorted(formats))} (e.g. -o progress.png)")
    ax.plot(xs, best, label="best in population", color="tab:blue")
    ax.plot(xs, mean, label="population mean", color="tab:orange", alpha=0.8)
    for i, x in enumerate(starts):
        ax.axvline(x, color="grey", linestyle=":", linewidth=1,
                   label="new experiment" if i == 0 else None)
    ax.set_xlabel("individuals evaluated")
    ax.set_ylabel("search fitness")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"azc search: {run_dir.name}", parse_math=False)   # a name is not TeX
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(output)
    except OSError as exc:
        raise RunDirError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
