"""Constant tuning: the numeric constants of a fixed program optimised on the search tasks,
chosen on the select tasks, reported on the final tasks (``azc tune``, ``[tune]``).

A room after ``engine`` (it scores programs with the evaluator) and before ``run``, so that
a search can end with a tuning stage; the configuration and run directory stay in ``run``.
"""
from .errors import TuneError
from .history import TuneOptions
from .methods import INSTALL, METHODS, check_available
from .report import format_report, median_rms_error
from .tuner import Scores, TaskLists, TuneResult, tune

__all__ = ["INSTALL", "METHODS", "Scores", "TaskLists", "TuneError", "TuneOptions", "TuneResult",
           "check_available", "format_report", "median_rms_error", "tune"]
