"""The ``azc`` command line: commands, run inspection, progress, plots, benchmarks."""
