"""What the program file says about itself: the task it was evolved for and its provenance.

Provenance text (a config named ``Anna's run #1``, say) is written into the module's
docstring with quotes, backslashes and unprintable characters as escapes, so it reads back
as given and can never end the docstring.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..eval_type import EvalType
from ..program import ProgramError

_MAX_TEXT = 80
_PROVENANCE_ROWS = (
    ("task", "task"), ("config_name", "config"), ("select_fitness", "select fitness"),
    ("final_fitness", "final fitness"), ("seed", "seed"), ("generation", "found at generation"),
    ("found_at_seconds", "found after (s)"),
)


def docstring_text(text: str) -> str:
    """``text`` as it may stand inside the module's triple-quoted docstring: printable
    characters as they are, except the double quote and the backslash; those and every
    other character (newlines, control and bidirectional-format characters) as Python
    escapes.  The docstring then reads back as ``text``, and nothing in it can end it."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1])   # \n, \x1b, \u202e, ...
    return "".join(out)


def _shorten(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _plain_text(value) -> str:
    """A provenance value as one short line of text (not yet escaped)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, str):
        return _shorten(value)
    if isinstance(value, dict):
        # Flat entries only: nested detail stays in the run directory.
        parts = [f"{k}={_plain_text(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                 if not isinstance(v, (dict, list))]
        return _shorten(", ".join(parts), 2 * _MAX_TEXT)
    return _shorten(json.dumps(value, default=str))


def provenance_lines(meta: dict) -> list[str]:
    """``label: value`` lines for the known provenance keys; other keys are not written."""
    if not isinstance(meta, dict):
        raise ProgramError("provenance must be a dict")
    return [f"{label}: {docstring_text(_plain_text(meta[key]))}"
            for key, label in _PROVENANCE_ROWS if key in meta]


@dataclass(frozen=True)
class Task:
    """What the exported driver must do around the program."""

    eval_type: str = "rms_error"
    num_classes: int = 0

    @property
    def mode(self) -> int:
        """The liveness task mode: which registers the driver reserves."""
        return EvalType.parse(self.eval_type).task_mode


def resolve_task(meta: dict, features: int, eval_type=None, num_classes=None) -> Task:
    """The eval type (see ``EvalType.of_meta``) and, for multiclass, the class count: the
    argument first, then ``meta`` (or ``meta['task']``)."""
    chosen = EvalType.of_meta(meta, eval_type).config_name
    if chosen != "multiclass":
        return Task(chosen, 0)
    task_meta = meta.get("task") if isinstance(meta.get("task"), dict) else {}
    k = num_classes if num_classes is not None else meta.get("num_classes",
                                                              task_meta.get("num_classes"))
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 2 <= k <= features:
        raise ProgramError(f"a multiclass program needs num_classes between 2 and the feature "
                           f"size {features} (in meta or as an option), got {k!r:.40}")
    return Task(chosen, int(k))
