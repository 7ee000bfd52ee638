"""Configs built in Python as TOML text: the run directory records a config as TOML (its
``config.toml``, which a resume reads back), so a config made in code is written out in
the same layout a file would have.  ``dumps`` writes the subset configs use (top-level
values, tables of values, arrays of tables); ``loads`` is tomllib's."""
from __future__ import annotations

import math
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..run.config import ConfigError, TASK_LISTS, toml_string

loads = tomllib.loads


def value_text(value, key: str) -> str:
    """One TOML value (strings, booleans, integers, finite floats, lists of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{key}: must be a finite number, got {value!r}")
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v, key) for v in value) + "]"
    if hasattr(value, "item") and hasattr(value, "dtype"):     # a numpy scalar
        return value_text(value.item(), key)
    raise ConfigError(f"{key}: a config value must be a string, number, boolean or list, got "
                      f"{type(value).__name__}")


def _table_lines(table: dict, where: str) -> list[str]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table (a dict)")
    return [f"{key} = {value_text(value, f'{where}.{key}')}" for key, value in table.items()]


def dumps(doc: dict) -> str:
    """The TOML text of a config document (keys as in a config file)."""
    if not isinstance(doc, dict):
        raise ConfigError("a config must be a dict in the layout of a config file")
    top = {k: v for k, v in doc.items() if not isinstance(v, (dict, list)) or
           (isinstance(v, list) and k not in TASK_LISTS)}
    lines = _table_lines(top, "config")
    for key, value in doc.items():
        if isinstance(value, dict):
            lines += ["", f"[{key}]"] + _table_lines(value, key)
        elif key in TASK_LISTS:
            if not isinstance(value, list):
                raise ConfigError(f"{key} must be a list of task tables")
            for i, task in enumerate(value):
                lines += ["", f"[[{key}]]"] + _table_lines(task, f"{key}[{i}]")
    return "\n".join(lines) + "\n"
