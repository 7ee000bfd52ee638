"""Example configurations (installed as ``search.examples``; ``azc search demo`` runs demo.toml)."""
