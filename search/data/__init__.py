"""Tasks and the data they are built from.

tasks (Task, TaskSpec, the synthetic generators) and registry (every task type, in one
table); for real data: datafiles (file formats, read defensively) <- sources (where examples
come from) <- pairs and recipe (the reference's class pairs and data recipe) <- dataset_tasks
(the dataset task types), with cache (loaded sources, prepared splits); baselines (the
paper's hand-designed programs).
"""
