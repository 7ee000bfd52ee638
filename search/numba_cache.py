"""numba's cache folder for the search's numba functions, which inline azcompile's: it is
fingerprinted by both packages' sources.  Every search module that defines numba functions
imports this first."""
from pathlib import Path

import azcompile.numba_cache  # noqa: F401  (azcompile's own folder first)
from azcompile.jit_cache import guard_numba_cache

guard_numba_cache(Path(__file__).resolve().parent)
