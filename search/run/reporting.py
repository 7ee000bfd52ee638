"""Progress: the snapshot the display shows, and the progress events of the log."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..engine import evaluator
from .archipelago import Archipelago
from .rundir import RunDir
from .state import SearchState


class Stopwatch:
    """The run's elapsed seconds: those of earlier sessions (the state's) plus this one's."""

    def __init__(self, started: float | None = None):
        self.started = time.monotonic() if started is None else started

    def elapsed(self, state: SearchState) -> float:
        return state.elapsed + (time.monotonic() - self.started)


@dataclass
class Snapshot:
    """What the progress display shows."""

    experiment: int
    individuals: int
    total_individuals: int
    elapsed: float
    rate: float
    mean: float
    stdev: float
    best: float
    best_select: float | None
    canonical_hit_rate: float
    fec_hit_rate: float
    prefiltered: int
    hurdle_stop_rate: float
    phase: str
    extra: dict = field(default_factory=dict)
    islands: list = field(default_factory=list)    # per island: individuals, per_s, best
    migrations: int = 0


class Progress:
    def __init__(self, state: SearchState, run_dir: RunDir, every: int,
                 elapsed: Callable[[], float], show: Callable[[Snapshot], None] | None):
        self.state = state
        self.run_dir = run_dir
        self.every = every                  # individuals between progress events
        self.elapsed = elapsed
        self.show = show
        self.per_island_events = False      # progress events list the islands (async mode)
        self._island_starts: dict = {}      # island -> (experiment, seconds, individuals)

    def per_island(self, islands: Archipelago) -> list[dict]:
        """Each island's individuals this experiment, their rate since it started (or was
        restarted) and its best fitness."""
        now, out = time.monotonic(), []
        for i, isl in enumerate(islands.islands):
            n = int(isl.stats[evaluator.S_INDIVIDUALS])
            start = self._island_starts.get(i)
            if start is None or start[0] != self.state.experiment or n < start[2]:
                start = self._island_starts[i] = (self.state.experiment, now, n)
            seconds = now - start[1]
            out.append({"individuals": n,
                        "per_s": round((n - start[2]) / seconds) if seconds > 0 else 0,
                        "best": round(float(isl.fitness.max()), 6)})
        return out

    def snapshot(self, islands: Archipelago, phase: str) -> Snapshot:
        st, state = islands.stats(), self.state
        n = int(st[evaluator.S_INDIVIDUALS])
        filled = islands.initialized if phase == "init" else islands.size
        f = islands.fitness(filled) if filled else np.zeros(1)
        mean = float(f.mean())
        stdev = float(np.sqrt(max(float((f * f).mean()) - mean * mean, 0.0)))
        fec_total = st[evaluator.S_FEC_HITS] + st[evaluator.S_FEC_MISSES]
        elapsed = self.elapsed()
        return Snapshot(state.experiment, n, state.total_individuals, elapsed,
                        state.total_individuals / elapsed if elapsed > 0 else 0.0, mean, stdev,
                        float(f.max()), state.best["score"] if state.best else None,
                        st[evaluator.S_CANON_HITS] / max(n, 1), st[evaluator.S_FEC_HITS] / max(fec_total, 1),
                        int(st[evaluator.S_PREFILTERED]),
                        st[evaluator.S_HURDLE_STOPS] / max(st[evaluator.S_HURDLE_TESTS], 1), phase,
                        islands=self.per_island(islands) if len(islands.islands) > 1 else [],
                        migrations=state.migrations)

    def after_sweep(self, islands: Archipelago) -> None:
        """A progress event every ``every`` individuals (and after the first sweep)."""
        stats = islands.stats()
        n = int(stats[evaluator.S_INDIVIDUALS])
        if self.state.last_progress >= 0 and n < self.state.last_progress + self.every:
            return
        self.state.last_progress = n
        snap = self.snapshot(islands, "evolve")
        self.run_dir.event("progress", experiment=self.state.experiment, individuals=n,
                           elapsed=round(snap.elapsed, 3), mean=snap.mean, stdev=snap.stdev,
                           best=snap.best, canonical_hit_rate=round(snap.canonical_hit_rate, 4),
                           fec_hit_rate=round(snap.fec_hit_rate, 4),
                           train_steps=int(stats[evaluator.S_TRAIN_STEPS]),
                           **self._island_fields(snap))

    def _island_fields(self, snap: Snapshot) -> dict:
        """Per island and in total, in async mode.  (A deterministic run's log stays as it
        was: runs are compared by it, and its islands take the same steps anyway.)"""
        if not self.per_island_events:
            return {}
        return {"per_s": round(snap.rate), "migrations": snap.migrations, "islands": snap.islands}

    def show_now(self, islands: Archipelago | None, phase: str) -> None:
        if self.show and islands is not None:
            self.show(self.snapshot(islands, phase))


def event_line(record: dict) -> str | None:
    """The log line for an event, in the reference's format; None for events not shown
    (new bests, migrations: the progress lines and the panel carry them)."""
    kind = record["event"]
    if kind == "progress":
        line = (f"indivs={record['individuals']}, elapsed_secs={int(record['elapsed'])}, "
                f"mean={record['mean']:.6f}, stdev={record['stdev']:.6f}, "
                f"best fit={record['best']:.6f}, canonical hits={record['canonical_hit_rate']:.0%}, "
                f"fec hits={record['fec_hit_rate']:.0%}")
        if "islands" in record:         # async mode: the islands' own pace
            line += (f", indivs/s={record['per_s']}, migrations={record['migrations']}, "
                     "islands=" + " ".join(f"[{i}: {x['per_s']}/s best {x['best']:.4f}]"
                                           for i, x in enumerate(record["islands"])))
        return line
    if kind == "island_lost":
        return f"island {record['island']} lost ({record['reason']}); restarting it"
    if kind == "island_restarted":
        return (f"island {record['island']} restarted from {record['source']} "
                f"({record['individuals']} individuals)")
    if kind == "experiment_start":
        return f"experiment {record['experiment']} started"
    if kind == "experiment_end":
        sel = record["select_fitness"]
        return (f"experiment {record['experiment']}: search fitness for candidate = "
                f"{record['search_fitness']:.6f}, select fitness = "
                f"{'n/a' if sel is None else f'{sel:.6f}'}")
    if kind == "selection":
        return _selection_line(record)
    if kind == "early_select":
        return (f"early select check: search {record['search_fitness']:.6f}, "
                f"select {record['select_fitness']:.6f}")
    if kind == "stopped":
        return f"stopping: {record['reason']}"
    if kind == "resumed":
        return f"resumed at experiment {record['experiment']}, {record['individuals']} individuals"
    return None


def _selection_line(record: dict) -> str:
    """The funnel in one line: how many candidates reached each stage, the winner, and how
    many passed the search but failed the select tasks."""
    cands = record["candidates"]
    winner = cands[record["winner"]]
    promoted = sum("promotion" in c for c in cands)
    line = (f"selection: {len(cands)} candidates on the select tasks"
            + (f", {promoted} promoted" if promoted else "")
            + f"; winner #{record['winner'] + 1} (search {winner['search_fitness']:.6f}, "
            f"select {winner['select'] or 0.0:.6f})")
    if record["failed_select"]:
        line += (f"; {len(record['failed_select'])} passed the search but failed "
                 "the select tasks")
    return line
