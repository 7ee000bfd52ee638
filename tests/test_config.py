"""Search configuration: every shipped config parses; malformed ones give a ConfigError that
names the key, and through the CLI exactly one ``error:`` line and exit status 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from azcompile.search.run import config
from azcompile.search.run.config import ConfigError, load, parse
from configs import SMALL_SEARCH

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "tests" / "data").glob("*.toml")) + sorted((ROOT / "examples").glob("*.toml"))

GOOD = """\
name = "unit_config"

""" + SMALL_SEARCH + """mutate_prob = 0.9
mutations = ["alter_param", "randomize_instruction"]
max_train_steps = 10_000

[fec]
num_train_examples = 10
num_valid_examples = 10

[[search_tasks]]
type = "scalar_linear_regression"
features = 4
num_train_examples = 20
num_valid_examples = 10
eval_type = "rms_error"

[[select_tasks]]
type = "scalar_linear_regression"
features = 4
num_train_examples = 20
num_valid_examples = 10
"""


def edit(old, new, text=GOOD):
    assert old in text, old
    return text.replace(old, new, 1)


# (id, config text, strings the message must contain)
BAD = [
    ("selection_candidates_zero", GOOD + "\n[selection]\ncandidates = 0\n",
     ["selection.candidates", ">= 1"]),
    ("selection_unknown_key", GOOD + "\n[selection]\nrandom_draw = 3\n",
     ["selection.random_draw", "did you mean 'random_draws'"]),
    ("draw_combination_choice", edit("mutate_prob = 0.9", 'mutate_prob = 0.9\ndraw_combination = "best"'),
     ["evolution.draw_combination", "mean"]),
    ("promotion_without_select", GOOD.replace("[[select_tasks]]", "[[promotion_tasks]]"),
     ["[[promotion_tasks]]", "add [[select_tasks]]"]),
    ("unknown_key", edit("population_size = 10", "populaton_size = 10\npopulation_size = 10"),
     ["evolution.populaton_size", "did you mean 'population_size'"]),
    ("unknown_section", edit("[fec]", "[fecc]"), ["'fecc'", "did you mean 'fec'"]),
    ("unknown_task_key", edit("eval_type = \"rms_error\"", "eval_typ = \"rms_error\""),
     ["search_tasks[0].eval_typ", "did you mean 'eval_type'"]),
    ("wrong_type", edit("population_size = 10", 'population_size = "ten"'),
     ["evolution.population_size", "integer"]),
    ("wrong_type_bool", edit("mutate_prob = 0.9", "mutate_prob = true"),
     ["evolution.mutate_prob", "number"]),
    ("negative_population", edit("population_size = 10", "population_size = -5"),
     ["evolution.population_size", ">= 1"]),
    ("mutate_prob_above_one", edit("mutate_prob = 0.9", "mutate_prob = 1.5"),
     ["evolution.mutate_prob", "<= 1"]),
    ("tournament_too_large", edit("tournament_size = 3", "tournament_size = 11"),
     ["evolution.tournament_size", "evolution.population_size"]),
    ("all_ops_empty", edit('setup = ["SCALAR_CONST_SET_OP"]', "setup = []",
                           edit('predict = ["VECTOR_INNER_PRODUCT_OP"]', "predict = []",
                                edit('learn = ["SCALAR_DIFF_OP", "SCALAR_PRODUCT_OP", '
                                     '"SCALAR_VECTOR_PRODUCT_OP", "VECTOR_SUM_OP"]', "learn = []"))),
     ["ops", "empty"]),
    ("random_init_without_ops", edit('predict = ["VECTOR_INNER_PRODUCT_OP"]', "predict = []"),
     ["ops.predict", "sizes.predict_init"]),
    ("unknown_op", edit('"SCALAR_PRODUCT_OP", "SCALAR_VECTOR', '"SCALAR_PRODUKT_OP", "SCALAR_VECTOR'),
     ["ops.learn", "SCALAR_PRODUKT_OP", "did you mean SCALAR_PRODUCT_OP"]),
    ("ops_not_a_list", edit('setup = ["SCALAR_CONST_SET_OP"]', 'setup = "SCALAR_CONST_SET_OP"'),
     ["ops.setup", "list"]),
    ("unknown_mutation", edit('"randomize_instruction"]', '"randomise_instruction"]'),
     ["evolution.mutations", "randomise_instruction"]),
    ("no_mutations", edit('mutations = ["alter_param", "randomize_instruction"]', "mutations = []"),
     ["evolution.mutations"]),
    ("bad_eval_type", edit('eval_type = "rms_error"', 'eval_type = "rmse"'),
     ["search_tasks[0].eval_type", "rms_error"]),
    ("eval_type_not_allowed_for_task", edit('eval_type = "rms_error"', 'eval_type = "accuracy"'),
     ["search_tasks[0].eval_type", "rms_error"]),
    ("mismatched_features", edit('[[select_tasks]]\ntype = "scalar_linear_regression"\nfeatures = 4',
                                 '[[select_tasks]]\ntype = "scalar_linear_regression"\nfeatures = 8'),
     ["select_tasks[0].features", "8"]),
    ("unknown_task_type", edit('type = "scalar_linear_regression"', 'type = "scalar_linear_regresion"'),
     ["search_tasks[0].type", "did you mean 'scalar_linear_regression'"]),
    ("missing_required", edit("setup_init = 1\n", ""), ["sizes.setup_init"]),
    ("missing_search_tasks", GOOD[: GOOD.index("[[search_tasks]]")], ["search_tasks"]),
    ("fec_too_many_examples", edit("num_train_examples = 10\n", "num_train_examples = 101\n"),
     ["fec.num_train_examples", "<= 100"]),
    ("min_above_max", edit("learn_init = 4", "learn_init = 4\nlearn_min = 5\nlearn_max = 3"),
     ["sizes.learn_min", "sizes.learn_max"]),
    ("no_writable_vector", edit("vectors = 3", "vectors = 1"),
     ["ops.learn", "writes a vector", "memory.vectors"]),
    ("section_not_a_table", edit("[fec]\nnum_train_examples = 10\nnum_valid_examples = 10\n", "",
                                 edit('name = "unit_config"\n', 'name = "unit_config"\nfec = 3\n')),
     ["[fec]", "table"]),
    ("not_toml", edit("[evolution]", "[evolution"), ["not valid TOML"]),
    ("not_toml_value", edit("population_size = 10", "population_size = "), ["not valid TOML"]),
]


def test_good_base_config_parses():
    cfg = parse(GOOD)
    assert cfg.name == "unit_config" and cfg.evolution["population_size"] == 10
    assert cfg.features == 4 and cfg.fec["forget_every"] == 100


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_configs_parse(path):
    cfg = config.load(path)
    assert cfg.search_tasks and cfg.evolution["mutations"]
    assert cfg.capacity > max(max(cfg.size_bounds()[0]), 1) - 1


def test_mismatched_features_case_is_what_it_says():
    text = dict((k, t) for k, t, _ in BAD)["mismatched_features"]
    assert text.count("features = 8") == 1
    assert text.index("features = 8") > text.index("[[select_tasks]]")


@pytest.mark.parametrize("case, text, needles", BAD, ids=[b[0] for b in BAD])
def test_bad_config_raises_config_error_naming_the_key(case, text, needles):
    with pytest.raises(ConfigError) as info:
        parse(text, "bad.toml")
    message = str(info.value)
    for needle in needles:
        assert needle in message, (case, message)
    assert "\n" not in message


def test_defaults_fill_in():
    cfg = parse(GOOD)
    assert cfg.evolution["fitness_combination"] == "mean"
    assert cfg.evolution["max_abs_error"] == 100.0
    assert cfg.evolution["strategy"] == "evolution"
    assert cfg.hurdles is None and cfg.train_budget is None
    assert cfg.search_tasks[0].num_tasks == 1 and cfg.search_tasks[0].num_train_epochs == 1
    init, low, high = cfg.size_bounds()
    assert init == low == [1, 1, 4] and high == [1, 1, 4]     # fixed sizes by default


def test_large_step_counts_may_be_written_as_floats():
    cfg = parse(edit("max_train_steps = 10_000", "max_train_steps = 2e8"))
    assert cfg.evolution["max_train_steps"] == 200_000_000
    with pytest.raises(ConfigError, match="evolution.max_train_steps"):
        parse(edit("max_train_steps = 10_000", "max_train_steps = 2.5"))


def test_load_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        config.load(tmp_path / "nope.toml")


# ---- through the CLI ------------------------------------------------------------------------------

CLI_CASES = [b for b in BAD if b[0] in {
    "unknown_key", "wrong_type", "negative_population", "tournament_too_large", "all_ops_empty",
    "random_init_without_ops", "unknown_op", "unknown_mutation", "bad_eval_type",
    "eval_type_not_allowed_for_task", "mismatched_features", "not_toml", "no_writable_vector"}]


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """Run all bad configs through ``azc search`` at once (processes in parallel)."""
    base = tmp_path_factory.mktemp("bad_configs")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = {}
    for case, text, _ in CLI_CASES + [("missing_file", None, None)]:
        path = base / f"{case}.toml"
        if text is not None:
            path.write_text(text)
        out = base / f"{case}_run"
        procs[case] = (subprocess.Popen(
            [sys.executable, "-m", "azcompile.search.cli", "search", str(path), "--out", str(out)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), out)
    results = {}
    for case, (proc, out) in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        results[case] = (proc.returncode, stdout, stderr, out)
    return results


@pytest.mark.parametrize("case", [c[0] for c in CLI_CASES] + ["missing_file"])
def test_cli_reports_one_error_line(cli_results, case):
    code, stdout, stderr, out = cli_results[case]
    assert code == 2, (case, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (case, stderr)
    assert "Traceback" not in stderr + stdout
    assert not out.exists()          # nothing is created for a config that cannot run
    needles = {c: n for c, _, n in CLI_CASES}.get(case, ["no such config file"])
    for needle in needles:
        assert needle in lines[0], (case, lines[0])


# ---- data paths: relative to the config's folder, recorded for the run directory --------------

DATA_CONFIG = GOOD[: GOOD.index("[[search_tasks]]")] + """\
[[search_tasks]]
type = "projected_binary_classification"
path = "data/d.csv"
features = 4
num_train_examples = 20
num_valid_examples = 4
"""


def _experiment(folder: Path, text: str = DATA_CONFIG) -> Path:
    (folder / "data").mkdir(parents=True)
    rows = "".join(f"{i % 7}.5,{i % 3},{i % 5},{i % 2}\n" for i in range(40))
    (folder / "data" / "d.csv").write_text("a,b,c,label\n" + rows)
    (folder / "cfg.toml").write_text(text)
    return folder / "cfg.toml"


def test_relative_data_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    # They used to resolve from the current directory: "data file 'data/d.csv' not found".
    _experiment(tmp_path / "exp")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    cfg = config.load("../exp/cfg.toml")
    assert cfg.search_tasks[0].options["path"] == str(tmp_path / "exp" / "data" / "d.csv")
    assert cfg.base_dir == str(tmp_path / "exp")
    assert config.build_task_list(cfg.search_tasks, "search_tasks")[0].n_train == 20


def test_the_run_directory_copy_resolves_the_same_data_from_anywhere(tmp_path, monkeypatch):
    cfg = config.load(_experiment(tmp_path / "exp"))
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "config.toml").write_text(cfg.run_dir_text)       # what the run directory saves
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    again = config.load(run / "config.toml")                 # what --resume reloads
    assert again.search_tasks[0].options == cfg.search_tasks[0].options
    assert again.run_dir_text == again.source_text == cfg.run_dir_text   # saved once, stable
    assert cfg.run_dir_text.endswith(cfg.source_text)        # the user's text, byte for byte
    first, second = (config.build_task_list(c.search_tasks, "search_tasks")[0]
                     for c in (cfg, again))
    assert np.array_equal(first.x_train, second.x_train)


def test_base_dir_key_wins_and_must_be_absolute(tmp_path):
    _experiment(tmp_path / "exp")
    text = f"base_dir = {json.dumps(str(tmp_path / 'exp'))}\n" + DATA_CONFIG
    cfg = parse(text, "x.toml", base_dir="/somewhere/else")
    assert cfg.search_tasks[0].options["path"] == str(tmp_path / "exp" / "data" / "d.csv")
    assert cfg.run_dir_text == text
    with pytest.raises(ConfigError, match="base_dir: must be an absolute folder path"):
        parse('base_dir = "exp"\n' + DATA_CONFIG)


@pytest.mark.parametrize("folder", ["Anna's \"tiny\" run", "back\\slash", "exp#1 [x]", "tab\tline",
                                    "new\nline", "ünïcødé ✓", 'q"""q', "q'''q", "del\x7fete"])
def test_base_dir_is_recorded_safely_for_any_folder_name(tmp_path, folder):
    base = tmp_path / folder
    _experiment(base)
    cfg = config.load(base / "cfg.toml")
    again = parse(cfg.run_dir_text, "config.toml", base_dir="/elsewhere")
    assert again.base_dir == str(base)
    assert again.search_tasks[0].options["path"] == str(base / "data" / "d.csv")


def test_absolute_and_home_paths_and_data_dir_override(tmp_path, monkeypatch):
    absolute = json.dumps(str(tmp_path / "a.csv"))
    text = DATA_CONFIG.replace('path = "data/d.csv"', f"path = {absolute}")
    assert parse(text, base_dir="/x").search_tasks[0].options["path"] == str(tmp_path / "a.csv")
    monkeypatch.setenv("HOME", str(tmp_path))
    home = parse(DATA_CONFIG.replace('"data/d.csv"', '"~/d.csv"'), base_dir="/x")
    assert home.search_tasks[0].options["path"] == str(tmp_path / "d.csv")
    mnist = parse(DATA_CONFIG.replace('path = "data/d.csv"', 'dataset = "mnist"'))
    monkeypatch.chdir(tmp_path)
    config.override_data_dir(mnist, "downloads")
    assert mnist.search_tasks[0].options["data_dir"] == str(tmp_path / "downloads")


def test_a_path_that_is_not_a_string_is_left_to_the_loader():
    cfg = parse(DATA_CONFIG.replace('"data/d.csv"', "3"), base_dir="/x")
    with pytest.raises(ConfigError, match="search_tasks: path must be a file system path"):
        config.build_task_list(cfg.search_tasks, "search_tasks")


@pytest.mark.parametrize("make,words", [
    (lambda d: (os.mkfifo(d / "fifo.toml"), d / "fifo.toml")[1], "not a regular file"),  # would block
    (lambda d: Path("/dev/zero"), "not a regular file"),                                # never ends
    (lambda d: d, "a directory"),
    (lambda d: (d / "latin1.toml").write_bytes(b"name = \"caf\xe9\"\n") and d / "latin1.toml",
     "not UTF-8"),
])
def test_a_config_path_that_is_no_config_file_is_one_error(tmp_path, make, words):
    with pytest.raises(ConfigError, match=words):
        load(make(tmp_path))


def test_selection_defaults_are_the_reference_rule_and_promotion_tasks_parse():
    cfg = parse(GOOD)
    assert cfg.selection == {"candidates": 1, "alpha": 0.05, "random_draws": 1,
                             "draw_combination": "mean"}
    assert cfg.evolution["random_draws"] == 1 and cfg.promotion_tasks == []
    funnel = parse(GOOD + "\n[selection]\ncandidates = 8\nrandom_draws = 3\n"
                   + GOOD[GOOD.index("[[select_tasks]]"):].replace("select_tasks", "promotion_tasks"))
    assert funnel.selection["candidates"] == 8 and len(funnel.promotion_tasks) == 1
    median = parse(GOOD + '\n[selection]\nrandom_draws = 3\ndraw_combination = "median"\n')
    assert median.selection["draw_combination"] == "median"
    # the search kernel combines draws by the mean or the worst only
    with pytest.raises(ConfigError, match="evolution.draw_combination"):
        parse(GOOD.replace("mutate_prob = 0.9", 'mutate_prob = 0.9\ndraw_combination = "median"'))


def test_capacity_holds_the_initial_program():
    """The damaged neural net's Learn (11 instructions) is longer than the nonlinear test's
    learn_max (10): the population's slots must hold it plus one for TRADE."""
    from azcompile.search.run import initial
    cfg = load("nonlinear")
    program = initial.build("damaged_neural_net", cfg.memory, cfg.size_bounds()[0])
    assert cfg.capacity == max(len(c) for c in program.components) + 1 > cfg.size_bounds()[2][2] + 1
