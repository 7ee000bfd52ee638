"""Search from Python: ``run_search`` (a config run as ``azc search`` runs it) and the
scikit-learn estimators ``EvolvedRegressor`` and ``EvolvedClassifier``.

The names are imported on first use: the estimators import scikit-learn, which the command
line (it uses ``session``) must not pay for."""
from __future__ import annotations

import importlib

_WHERE = {"EvolvedClassifier": "estimators", "EvolvedRegressor": "estimators",
          "SearchResult": "session", "config_dict": "session", "make_config": "session",
          "run_search": "session"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
