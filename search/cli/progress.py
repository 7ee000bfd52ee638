"""Live progress: a rich panel on a terminal, reference-style log lines otherwise."""
from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..run.reporting import event_line


_SHOWN_ISLANDS = 8      # rows of the panel; the rest are summed in one


def _fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


class PlainProgress:
    """One line per progress event, in the reference's format, plus experiment results."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def snapshot(self, snap) -> None:
        pass

    def event(self, record: dict) -> None:
        line = event_line(record)
        if line is not None:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        pass


class LiveProgress(PlainProgress):
    """A panel redrawn a few times a second, with event lines printed above it."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console()
        super().__init__(self.console.file)
        self.live = Live(self._table(None), console=self.console, refresh_per_second=4,
                         transient=True)
        self.live.start()
        self._last = 0.0

    def _table(self, snap) -> Table:
        table = Table(show_header=False, box=None, padding=(0, 2))
        if snap is None:
            table.add_row("starting", "compiling kernels (first run of a feature size only)")
            return table
        table.add_row("experiment", str(snap.experiment), "phase", snap.phase)
        table.add_row("individuals", f"{snap.total_individuals:,}", "per second", _fmt_rate(snap.rate))
        table.add_row("best fitness", f"{snap.best:.6f}", "population mean", f"{snap.mean:.6f}")
        table.add_row("canonical cache", f"{snap.canonical_hit_rate:.0%}", "FEC hits",
                      f"{snap.fec_hit_rate:.0%}")
        best_select = "-" if snap.best_select is None else f"{snap.best_select:.6f}"
        table.add_row("best select", best_select, "elapsed", f"{snap.elapsed:,.1f} s")
        if snap.islands:
            table.add_row("islands", str(len(snap.islands)), "migrations", f"{snap.migrations:,}")
        for i, isl in enumerate(snap.islands[:_SHOWN_ISLANDS]):
            table.add_row(f"  island {i}", f"{isl['individuals']:,} ({_fmt_rate(isl['per_s'])}/s)",
                          "best", f"{isl['best']:.6f}")
        if len(snap.islands) > _SHOWN_ISLANDS:
            rest = snap.islands[_SHOWN_ISLANDS:]
            table.add_row(f"  {len(rest)} more", f"{sum(x['per_s'] for x in rest):,}/s", "best",
                          f"{max(x['best'] for x in rest):.6f}")
        return table

    def snapshot(self, snap) -> None:
        now = time.monotonic()
        if now - self._last >= 0.2:
            self._last = now
            self.live.update(self._table(snap))

    def event(self, record: dict) -> None:
        line = event_line(record)
        # Progress is the panel's job; an event without a line prints nothing (printing ""
        # would leave a blank line above the panel, one per new best).
        if record["event"] != "progress" and line is not None:
            self.live.console.print(line)

    def close(self) -> None:
        self.live.stop()


def make_progress(plain: bool | None = None):
    if plain is None:
        plain = not sys.stdout.isatty()
    return PlainProgress() if plain else LiveProgress()
