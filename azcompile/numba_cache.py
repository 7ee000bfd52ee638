"""numba's cache folder, chosen before any numba function of azcompile is defined.

Every module of ours that defines numba functions imports this first (``rng`` does, and the
others import ``rng`` before they define anything).  It is not done in ``azcompile/__init__``:
that stays free of numba, so a program can set up its signal handling before the second
numba takes to import (``azc`` does).
"""
from .jit_cache import guard_numba_cache

guard_numba_cache()
