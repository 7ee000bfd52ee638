"""The discovery experiments under examples/: their task sets hold out what they claim to,
and each script runs end to end at a tiny budget and prints its table."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from azcompile.search.api import config_dict
from azcompile.search.api.toml_text import dumps
from azcompile.search.run.config import build_task_list, load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _pairs_and_projections(tasks):
    return ({(t.info["positive_class"], t.info["negative_class"]) for t in tasks},
            {t.info["projection_seed"] for t in tasks})


@pytest.mark.parametrize("name", ["digits_experiment", "digits_fast_training"])
def test_final_tasks_use_held_out_pairs_under_projections_never_searched(name):
    cfg = load(EXAMPLES / f"{name}.toml")
    search, select, final = (build_task_list(getattr(cfg, n), n)
                             for n in ("search_tasks", "select_tasks", "final_tasks"))
    search_pairs, search_projections = _pairs_and_projections(search)
    select_pairs, _ = _pairs_and_projections(select)
    final_pairs, final_projections = _pairs_and_projections(final)
    assert len(search_projections) >= 5                 # several projections in the search set
    # digits_experiment's 20 search tasks are 15 distinct ones: after the 8 default data seeds
    # the reference's rule counts on from the last (11004, 11005...) and meets 5 of them again.
    assert len({t.data_seed for t in search}) >= 10
    assert len(final_pairs) == 9 and final_pairs == select_pairs
    assert not final_pairs & search_pairs
    assert final_projections == {100, 101} and not final_projections & search_projections


def _tiny_config(name: str, tmp_path: Path) -> Path:
    """The experiment's config with 3 search tasks and a 3-trial tuning stage."""
    doc = config_dict(EXAMPLES / f"{name}.toml")
    doc["search_tasks"][0]["num_tasks"] = 3
    doc["tune"]["trials"] = 3
    path = tmp_path / f"{name}.toml"
    path.write_text(dumps(doc))
    return path


def _run(script: str, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_digits_experiment_runs_and_prints_its_table(tmp_path):
    config = _tiny_config("digits_experiment", tmp_path)
    out = tmp_path / "digits"
    done = _run("digits_experiment.py", "--seeds", 1, "--individuals", 300, "--minutes", 2,
                "--workers", 1, "--config", config, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "| projection | evolved | logistic regression | 2-layer MLP |" in done.stdout
    assert "| 100 |" in done.stdout and "| 101 |" in done.stdout
    assert (out / "digits_experiment.json").exists() and (out / "seed_1").is_dir()


def test_the_adaptation_experiment_runs_and_exports_its_best_winner(tmp_path):
    config = _tiny_config("digits_fast_training", tmp_path)
    out = tmp_path / "adapt"
    done = _run("adaptation_experiment.py", "--runs", 1, "--individuals", 300, "--minutes", 2,
                "--workers", 1, "--config", config, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "beat SGD:" in done.stdout and "of 1" in done.stdout
    assert "def _learn(" in done.stdout
    assert (out / "best_algorithm.py").read_text().startswith('"""EvolvedAlgorithm')


def test_the_nonlinear_experiment_compares_both_selection_rules(tmp_path):
    out = tmp_path / "nonlinear"
    done = _run("nonlinear_experiment.py", "--seeds", 2, "--individuals", 2000, "--draws", 3,
                "--out", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("honest: the bundled example")
    assert "\nreference: the reference's rule" in done.stdout
    assert done.stdout.count("| 2 | 2,000 |") == 2
    assert "final over 3 inits: mean / median / worst" in done.stdout
    assert (out / "nonlinear.json").exists() and (out / "honest_seed_2").is_dir()
    # the bundled example tunes its winner; the reference's rule does not
    assert (out / "honest_seed_2" / "tuned.json").exists()
    assert not (out / "reference_seed_2" / "tuned.json").exists()


def test_a_bad_dataset_choice_is_one_error_line(tmp_path):
    done = _run("digits_experiment.py", "--dataset", "mnist", "--out", tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: --dataset mnist needs --data-dir")
    assert "Traceback" not in done.stderr


def test_the_digits_experiment_reads_mnist_files_from_a_data_dir(tmp_path):
    from data_helpers import make_idx_dataset

    sys.path.insert(0, str(EXAMPLES))
    try:
        import experiment_kit as kit
    finally:
        sys.path.remove(str(EXAMPLES))
    make_idx_dataset(tmp_path / "mnist", per_class=200)
    doc = kit.experiment_config(EXAMPLES / "digits_experiment.toml", "mnist", tmp_path / "mnist")
    final = kit.tasks_of(doc, "final_tasks")
    assert {t.info["dataset"] for t in final} == {"mnist"}
    assert sorted({kit.projection_of(t) for t in final}) == [100, 101]
