"""A search run: its configuration, the experiment loop, workers, run directory, checkpoints, lineage."""
