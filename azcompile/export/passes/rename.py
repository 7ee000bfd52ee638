"""Register renaming: raw register names (``s2``) become the plan's names (``LEARNING_RATE``).

Guarantee: only names of values change (not attribute fields such as ``np.zeros`` or
keyword names); the plan's names are distinct, so no two registers merge.
"""
from __future__ import annotations

import libcst as cst

from .nodes import Substitute


class Rename(Substitute):
    def __init__(self, mapping: dict):
        """``mapping``: raw name -> new name."""
        super().__init__({k: cst.Name(v) for k, v in mapping.items()})
