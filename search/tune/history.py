"""The tuning's record on disk (``tuning.json``): every setting tried and its scores.

It is the tuning's checkpoint.  Samplers are deterministic, so a resumed tuning runs the
same procedure from the start and answers each evaluation from this record where it can;
only what was not recorded is evaluated.  The file is rewritten atomically (readers and a
crash see the old record or the new one), at most every ``checkpoint_seconds`` while
evaluations run and at the end of each phase.  Everything read back is checked before use.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from azcompile.files import read_text_file
from azcompile.jit_cache import atomic_write_text
from azcompile.program import Program

from ..engine.evaluator import DRAW_COMBINATIONS
from ..engine.validate import CheckpointError
from .errors import TuneError
from .methods import METHODS

FORMAT_NAME = "azcompile.tuning"
FORMAT_VERSION = 1
MAX_BYTES = 256 << 20
# Options a record written before they existed was made with (one draw per task).
_OPTIONS_ADDED = {"draws": 1, "draw_combination": "mean"}


def recorded(options):
    """A record's options, with the values of options added since (as its tuning ran)."""
    return {**_OPTIONS_ADDED, **options} if isinstance(options, dict) else options


@dataclass(frozen=True)
class TuneOptions:
    """What a tuning does; a resumed one must do the same."""

    method: str = "random"
    trials: int = 100          # settings tried besides the program's own
    seed: int = 0
    halving: bool = False      # successive halving over the search tasks
    hyperband: bool = False    # with halving: Hyperband's brackets in turn
    eta: int = 3               # halving keeps the best 1/eta per rung
    top: int = 3               # best settings (by search fitness) scored on the select tasks
    decades: float = 2.0       # a constant's range: its value x 10^[-decades, +decades]
    draws: int = 1             # random-op draws per task of a program with random ops
    draw_combination: str = "mean"   # a task's score over its draws: mean, median or worst

    def __post_init__(self):
        if self.method not in METHODS:
            raise TuneError(f"unknown tuning method {self.method!r}; choose one of "
                            f"{', '.join(METHODS)}")
        for name, low in (("trials", 1), ("eta", 2), ("top", 1), ("seed", 0), ("draws", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise TuneError(f"tuning option {name} must be an integer >= {low}, got "
                                f"{value!r}")
        if not (_finite(self.decades) and 0.0 < self.decades <= 30.0):
            raise TuneError(f"tuning option decades must be a number in (0, 30], got "
                            f"{self.decades!r}")
        if self.draw_combination not in DRAW_COMBINATIONS:
            raise TuneError(f"tuning option draw_combination must be one of "
                            f"{', '.join(DRAW_COMBINATIONS)}, got {self.draw_combination!r}")
        for name in ("halving", "hyperband"):
            if not isinstance(getattr(self, name), bool):
                raise TuneError(f"tuning option {name} must be true or false, got "
                                f"{getattr(self, name)!r}")
        if self.hyperband and not self.halving:
            raise TuneError("hyperband brackets are a kind of halving: give --halving with "
                            "--hyperband")

    def flags(self) -> str:
        """These options as ``azc tune`` flags (for messages)."""
        text = f"--method {self.method} --trials {self.trials} --seed {self.seed}"
        if self.halving:
            text += f" --halving --eta {self.eta}" + (" --hyperband" if self.hyperband else "")
        text += f" --top {self.top} --decades {self.decades:g}"
        if self.draws > 1:
            text += f" --draws {self.draws} --draw-combination {self.draw_combination}"
        return text


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class History:
    """The record of one tuning of one program on one configuration's tasks."""

    def __init__(self, path: Path, options: TuneOptions, program: Program, fingerprint: str,
                 labels: list[str], checkpoint_seconds: float = 5.0):
        self.path = Path(path)
        self.checkpoint_seconds = checkpoint_seconds
        self.doc = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "options": asdict(options),
                    "fingerprint": fingerprint, "program": program.to_json(),
                    "constants": list(labels), "trials": [], "select": {},
                    "elapsed": 0.0, "done": False}
        self.asked = 0                   # trials asked in this session (replay position)
        self.dirty = False
        self.last_save = time.monotonic()
        self.started = time.monotonic()
        self.elapsed_before = 0.0

    # ---- trials -----------------------------------------------------------------------------
    def trial(self, point) -> int:
        """The id of the next trial, at ``point``: recorded (then it must be the recorded
        point: a sampler replays its own asks) or new."""
        point = [float(x) for x in point]
        trials = self.doc["trials"]
        i = self.asked
        self.asked += 1
        if i < len(trials):
            if trials[i]["point"] != point:
                raise CheckpointError(f"{self.path}: trial {i} was at {trials[i]['point']}, but "
                                      f"the sampler now asks {point} (another version of its "
                                      "package?); delete the file to tune afresh")
            return i
        trials.append({"point": point, "search": []})
        self.dirty = True
        return i

    def search_scores(self, i: int) -> list[float]:
        return self.doc["trials"][i]["search"]

    def add_search_score(self, i: int, value: float) -> None:
        self.doc["trials"][i]["search"].append(float(value))
        self.changed()

    def select_score(self, i: int):
        """The recorded select fitness of trial ``i``, or None."""
        return self.doc["select"].get(str(i))

    def add_select_score(self, i: int, value: float) -> None:
        self.doc["select"][str(i)] = float(value)
        self.changed()

    @property
    def trials(self) -> list[dict]:
        return self.doc["trials"]

    # ---- saving -----------------------------------------------------------------------------
    def changed(self) -> None:
        self.dirty = True
        if time.monotonic() - self.last_save >= self.checkpoint_seconds:
            self.save()

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def save(self) -> None:
        self.doc["elapsed"] = round(self.elapsed(), 3)
        atomic_write_text(self.path, json.dumps(self.doc, allow_nan=False) + "\n")
        self.dirty = False
        self.last_save = time.monotonic()

    def finish(self) -> None:
        self.doc["done"] = True
        self.save()

    # ---- resuming ---------------------------------------------------------------------------
    def restore(self) -> None:
        """Take over the record in ``path`` (it must be this tuning's: same options, program,
        configuration and constants)."""
        text = read_text_file(self.path, kind="tuning record", limit=MAX_BYTES,
                              error=CheckpointError, expected="a tuning.json that azc tune wrote")
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise CheckpointError(f"{self.path}: not a readable tuning record; delete it to tune "
                                  "afresh") from None
        self._check(doc)
        self.doc = doc
        self.elapsed_before = float(doc["elapsed"])
        self.started = time.monotonic()

    def _check(self, doc) -> None:
        where, fresh = str(self.path), "delete it to tune afresh"
        if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
            raise CheckpointError(f"{where}: not a tuning record (format is not {FORMAT_NAME!r}); "
                                  f"{fresh}")
        if doc.get("version") != FORMAT_VERSION:
            raise CheckpointError(f"{where}: tuning record version {doc.get('version')!r:.20} is "
                                  f"not {FORMAT_VERSION}; {fresh}")
        mine = self.doc
        if recorded(doc.get("options")) != mine["options"]:
            raise CheckpointError(f"{where}: made with other options "
                                  f"({_flags(recorded(doc.get('options')))}); resume with those, "
                                  f"or {fresh}")
        doc["options"] = mine["options"]
        for key, what in (("fingerprint", "another configuration"), ("program", "another program"),
                          ("constants", "another program")):
            if doc.get(key) != mine[key]:
                raise CheckpointError(f"{where}: tunes {what} than this one; {fresh}")
        self._check_scores(doc, where, fresh)

    def _check_scores(self, doc, where, fresh) -> None:
        dims = len(self.doc["constants"])
        trials = doc.get("trials")
        ok = isinstance(trials, list) and all(
            isinstance(t, dict) and set(t) == {"point", "search"}
            and isinstance(t["point"], list) and len(t["point"]) == dims
            and all(_finite(x) and 0.0 <= x <= 1.0 for x in t["point"])
            and isinstance(t["search"], list) and all(_finite(x) for x in t["search"])
            for t in trials)
        select = doc.get("select")
        ok = ok and isinstance(select, dict) and all(
            isinstance(k, str) and k.isdigit() and int(k) < len(trials) and _finite(v)
            for k, v in select.items())
        ok = ok and _finite(doc.get("elapsed")) and isinstance(doc.get("done"), bool)
        if not ok:
            raise CheckpointError(f"{where}: the record of trials is damaged; {fresh}")


def _flags(options) -> str:
    try:
        return TuneOptions(**options).flags()
    except (TypeError, TuneError):
        return "unreadable"
