"""Tasks and the data they are built from: task recipes, dataset readers, baselines."""
