"""azcompile.search: the search for algorithms, in rooms by role.

``data`` (tasks and the data they come from) <- ``engine`` (evaluation, mutation, islands)
<- ``run`` (a search run: config, experiment, run directory, checkpoints) <- ``cli`` (the
``azc`` command).  A room imports only from the rooms before it.  Importing the package
imports nothing (no numba): ``azc`` sets up its Ctrl-C handling first.
"""
