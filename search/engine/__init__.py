"""The evolution engine: evaluation, mutation, FEC, populations and islands."""
