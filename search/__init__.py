"""The search engine: tasks, evaluation, mutation, regularized evolution, FEC, the CLI."""
