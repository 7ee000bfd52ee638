"""The tuner's user-facing error."""
from __future__ import annotations


class TuneError(ValueError):
    """Tuning that cannot run as asked (nothing to tune, a method's package missing, options
    that do not fit); the message names the problem and the fix."""
