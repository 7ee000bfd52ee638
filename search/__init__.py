"""azcompile.search: the search for algorithms, in rooms by role.

``data`` (tasks and the data they come from) <- ``engine`` (evaluation, mutation, islands)
<- ``run`` (a search run: config, experiment, run directory, checkpoints) <- ``cli`` (the
``azc`` command).  A room imports only from the rooms before it.
"""
from pathlib import Path

from azcompile.jit_cache import guard_numba_cache

# Our numba functions inline azcompile's: their cache folder is fingerprinted by both sources.
guard_numba_cache(Path(__file__).resolve().parent)
