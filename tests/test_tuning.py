"""Constant tuning (search.tune, ``azc tune``, a search's ``[tune]`` stage): each method fixes a
mistuned learning rate, halving spends less, a seed reproduces, a kill -9 resumes, and bad
input is one ``error:`` line."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from azcompile.program import Instruction, Memory, Program, instructions, load
from azcompile.reference_programs import linear
from azcompile.search.run import config as config_mod
from azcompile.search.run.tuning import task_lists, tune_into
from azcompile.search.tune import TaskLists, TuneError, TuneOptions, median_rms_error, tune
from azcompile.search.tune import space
from cli_checks import ROOT, assert_user_error, run_azc
from configs import SMALL_SEARCH

TASKS = """
[[search_tasks]]
type = "scalar_linear_regression"
features = 4
num_train_examples = 100
num_valid_examples = 20
num_tasks = {search}

[[select_tasks]]
type = "scalar_linear_regression"
features = 4
num_train_examples = 200
num_valid_examples = 20
num_tasks = 3

[[final_tasks]]
type = "scalar_linear_regression"
features = 4
num_train_examples = 200
num_valid_examples = 20
num_tasks = 3
data_seeds = [1000000]
param_seeds = [2000000]
"""
CONFIG = SMALL_SEARCH + """\
mutations = ["alter_param"]
max_train_steps = 20000

[run]
seed = 5
""" + TASKS


def config_text(search_tasks=9, extra=""):
    return CONFIG.format(search=search_tasks) + extra


@pytest.fixture(scope="module")
def cfg():
    return config_mod.parse(config_text())


@pytest.fixture(scope="module")
def tasks(cfg) -> TaskLists:
    return task_lists(cfg)


def mistuned(rate=0.0003) -> Program:
    """The reference's linear regression with a learning rate far too small to converge."""
    p = linear(Memory(4, 3, 1, 4))
    ins = p.setup[0]
    return p.with_components([Instruction(ins.op, ins.in1, ins.in2, ins.out, (rate, 0, 0, 0))],
                             p.predict, p.learn)


def run_tune(tasks, tmp_path, name="t", **options):
    return tune(mistuned(), tasks, TuneOptions(**options), tmp_path / f"{name}.json",
                fingerprint="test", resume=False)


# ---- what is tuned ---------------------------------------------------------------------------

def test_only_live_constants_are_tuned_on_a_sign_preserving_log_scale():
    memory = Memory(4, 3, 1, 4)
    program = Program(
        setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 3, (5.0,)),        # dead: s3 rewritten
                            ("SCALAR_CONST_SET_OP", 0, 0, 3, (-0.01,)),
                            ("VECTOR_CONST_SET_OP", 0, 0, 1, (0.0, 0.5, 2.0)),
                            ("VECTOR_GAUSSIAN_SET_OP", 0, 0, 2, (0.0, 0.0, 0.1))]),
        predict=instructions([("VECTOR_INNER_PRODUCT_OP", 1, 2, 1),
                              ("SCALAR_PRODUCT_OP", 1, 3, 1)]), memory=memory)
    found = space.constants(program, 0)
    assert [c.label for c in found] == ["setup[1] value", "setup[2] value", "setup[3] mean",
                                        "setup[3] stdev"]
    rate, _, mean, stdev = found
    assert rate.at(0.5) == -0.01 and rate.at(0.0) == pytest.approx(-1e-4)
    assert rate.at(1.0) == pytest.approx(-1.0)
    assert mean.at(0.0) == -1.0 and mean.at(1.0) == 1.0          # a zero: linear in [-1, 1]
    assert stdev.at(0.75) == pytest.approx(1.0)
    moved = space.program_at(program, found, [1.0, 0.5, 0.5, 0.75])
    assert moved.setup[1].data[0] == pytest.approx(-1.0)
    assert moved.setup[2].data[1] == 0.5                             # the index stays
    assert moved.setup[0].data[0] == 5.0
    with pytest.raises(TuneError, match="nothing to tune"):
        space.require_constants(space.constants(program.with_components((), program.predict, ()),
                                                0), "it")


# ---- the methods -----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["grid", "random", "cmaes", "tpe"])
def test_each_method_fixes_a_mistuned_learning_rate(tasks, tmp_path, method):
    result = run_tune(tasks, tmp_path, method=method, trials=20, seed=2)
    assert result.before.search < 0.5 and result.after.search > 0.7, result.summary()
    assert result.after.select > result.before.select
    assert median_rms_error(result.after.final_per_task) < 0.1 * median_rms_error(
        result.before.final_per_task)
    assert result.runs["search"] == 21 * len(tasks.search)
    rate = result.program.setup[0].data[0]
    assert 0.003 < rate < 0.3 and result.program.meta["tuning"]["method"] == method


def test_halving_and_hyperband_spend_fewer_task_runs_and_still_find_the_rate(tasks, tmp_path):
    plain = run_tune(tasks, tmp_path, "plain", method="random", trials=27, seed=4)
    halved = run_tune(tasks, tmp_path, "halved", method="random", trials=27, seed=4,
                      halving=True)
    hyperband = run_tune(tasks, tmp_path, "hyperband", method="random", trials=27, seed=4,
                         halving=True, hyperband=True)
    assert halved.runs["search"] < hyperband.runs["search"] < 0.8 * plain.runs["search"]
    assert halved.runs["search"] < 0.5 * plain.runs["search"]
    for result in (halved, hyperband):
        assert result.after.search > 0.7 and result.after.final > result.before.final


def test_a_seed_reproduces_the_tuning_and_another_seed_differs(tasks, tmp_path):
    first = run_tune(tasks, tmp_path, "a", method="tpe", trials=12, seed=9)
    again = run_tune(tasks, tmp_path, "b", method="tpe", trials=12, seed=9)
    other = run_tune(tasks, tmp_path, "c", method="tpe", trials=12, seed=10)
    trials = [json.loads((tmp_path / f"{n}.json").read_text())["trials"] for n in "abc"]
    assert trials[0] == trials[1] != trials[2]
    assert first.program.listing() == again.program.listing()
    assert first.after == again.after and first.runs == again.runs
    assert other.program.listing() != first.program.listing()


def test_a_grid_too_coarse_for_its_constants_is_refused(tasks, tmp_path):
    with pytest.raises(TuneError, match="at least 2"):
        run_tune(TaskLists(tasks.search[:1]), tmp_path, method="grid", trials=1)
    with pytest.raises(TuneError, match="--halving needs at least"):
        run_tune(TaskLists(tasks.search[:2]), tmp_path, method="random", halving=True)


# ---- the record: resume and kill -9 ----------------------------------------------------------

def _write_inputs(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tune.toml").write_text(config_text(search_tasks=6))
    mistuned().save(folder / "slow.json")
    return folder / "slow.json", folder / "tune.toml"


def _without_timing(folder: Path) -> tuple[dict, dict]:
    record = json.loads((folder / "tuning.json").read_text())
    record.pop("elapsed")
    program = json.loads((folder / "tuned.json").read_text())
    program["meta"]["tuning"].pop("elapsed")
    return record, program


def _wait_for_trials(record: Path, count: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if len(json.loads(record.read_text())["trials"]) >= count:
                return
        except (OSError, ValueError):      # not written yet (written atomically: never half)
            pass
        time.sleep(0.02)


def test_a_tuning_killed_with_sigkill_resumes_to_the_uninterrupted_result(tmp_path):
    program, config = _write_inputs(tmp_path)
    options = TuneOptions(method="cmaes", trials=300, seed=3)
    reference = tmp_path / "reference"
    tune_into(reference, load(program), config_mod.load(config), options, resume=False)
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "azcompile.search.cli", "tune", str(program),
                             str(config), "--method", "cmaes", "--trials", "300", "--seed", "3",
                             "--out", str(out), "--checkpoint-every", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    record = out / "tuning.json"
    _wait_for_trials(record, 40)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed = json.loads(record.read_text())
    assert not killed["done"] and len(killed["trials"]) < 301, "finished before the kill"
    resumed = run_azc("tune", program, config, "--out", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "untuned" in resumed.stdout and "tuned" in resumed.stdout
    assert _without_timing(out) == _without_timing(reference)


def test_resume_refuses_other_options_and_a_damaged_record(tmp_path, cfg):
    options = TuneOptions(method="random", trials=5, seed=1)
    tune_into(tmp_path, mistuned(), cfg, options, resume=False)
    with pytest.raises(TuneError, match="--resume"):
        tune_into(tmp_path, mistuned(), cfg, options, resume=False)
    from azcompile.search.engine.validate import CheckpointError

    with pytest.raises(CheckpointError, match="--method random --trials 5"):
        tune_into(tmp_path, mistuned(), cfg, TuneOptions(method="random", trials=6, seed=1),
                  resume=True)
    with pytest.raises(CheckpointError, match="another program"):
        tune_into(tmp_path, mistuned(0.1), cfg, options, resume=True)
    record = json.loads((tmp_path / "tuning.json").read_text())
    record["trials"][1]["point"] = [7.0]
    (tmp_path / "tuning.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="damaged"):
        tune_into(tmp_path, mistuned(), cfg, options, resume=True)


# ---- the CLI: bad input is one error line ----------------------------------------------------

def test_bad_input_is_one_error_line(tmp_path):
    program, config = _write_inputs(tmp_path)
    assert_user_error(run_azc("tune", tmp_path / "missing.json", config), "does not exist")
    assert_user_error(run_azc("tune", program), "give the config")
    assert_user_error(run_azc("tune", program, config, "--method", "annealing"), "--method")
    bad = tmp_path / "bad.toml"
    bad.write_text(config_text(extra='\n[tune]\nmethod = "grid"\ntrails = 5\n'))
    assert_user_error(run_azc("tune", program, bad), "tune.trails", "trials")
    fake = tmp_path / "no_extra"                  # optuna as if not installed
    (fake / "optuna").mkdir(parents=True)
    (fake / "optuna" / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = dict(os.environ, PYTHONPATH=f"{fake}{os.pathsep}{ROOT}")
    assert_user_error(run_azc("tune", program, config, "--method", "tpe", env=env),
                      "pip install 'azcompile[tune]'")


# ---- the [tune] stage of a search --------------------------------------------------------------

def test_config_tune_section_is_checked():
    with pytest.raises(config_mod.ConfigError, match="tune.method"):
        config_mod.parse(config_text(extra='\n[tune]\nmethod = "bayes"\n'))
    with pytest.raises(config_mod.ConfigError, match="tune.halving needs at least"):
        config_mod.parse(config_text(search_tasks=2, extra="\n[tune]\nhalving = true\n"))
    with pytest.raises(config_mod.ConfigError, match="tune.hyperband needs tune.halving"):
        config_mod.parse(config_text(extra="\n[tune]\nhyperband = true\n"))
    cfg = config_mod.parse(config_text(extra="\n[tune]\ntrials = 7\n"))
    assert cfg.tune["method"] == "random" and cfg.tune["trials"] == 7


def test_a_search_with_a_tune_stage_tunes_its_best_program(tmp_path):
    from azcompile.search.run.experiment import RunOptions, Search

    text = config_text(extra='\n[tune]\nmethod = "random"\ntrials = 20\n')
    text = text.replace('initial_population = "random"', 'initial_population = "linear"')
    cfg = config_mod.parse(text.replace("max_train_steps = 20000", "max_train_steps = 2000"))
    out = tmp_path / "run"
    result = Search(cfg, RunOptions(out=out, max_individuals=40)).run()
    tuned = result["tuning"]
    assert tuned["trials"] == 20 and tuned["select_fitness"][1] >= tuned["select_fitness"][0]
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "tuned" and events[-2]["event"] == "final"
    assert load(out / "tuned.json").meta["tuning"]["chosen_trial"] == tuned["chosen_trial"]
    assert json.loads((out / "tuning.json").read_text())["done"]


def test_a_tune_stage_with_nothing_to_tune_leaves_the_search_done(tmp_path):
    from azcompile.search.run.experiment import RunOptions, Search

    text = config_text(extra="\n[tune]\ntrials = 5\n").replace('"SCALAR_CONST_SET_OP"', "")
    text = text.replace('initial_population = "random"', 'initial_population = "no_op"')
    warnings = []
    result = Search(config_mod.parse(text), RunOptions(out=tmp_path / "run", max_individuals=20,
                                                       on_warning=warnings.append)).run()
    assert "tuning" not in result and result["program"] is not None
    assert warnings and "nothing to tune" in warnings[0]
    last = json.loads((tmp_path / "run" / "events.jsonl").read_text().splitlines()[-1])
    assert last["event"] == "tune_skipped"


def test_a_search_killed_in_its_tune_stage_resumes_to_the_same_tuning(tmp_path):
    text = config_text(extra='\n[tune]\nmethod = "tpe"\ntrials = 100\n')
    text = text.replace('initial_population = "random"', 'initial_population = "linear"')
    text = text.replace("seed = 5\n", "seed = 5\ncheckpoint_seconds = 0\nmax_individuals = 40\n")
    config = tmp_path / "stage.toml"
    config.write_text(text.replace("max_train_steps = 20000", "max_train_steps = 2000"))
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "azcompile.search.cli", "search", str(config),
                             "--out", str(out), "--plain"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_trials(out / "tuning.json", 20)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not json.loads((out / "tuning.json").read_text())["done"], "finished before the kill"
    resumed = run_azc("search", "--resume", out, "--plain")
    assert resumed.returncode == 0 and "Tuned constants (tpe, 100 settings)" in resumed.stdout
    cfg = config_mod.load(config)
    reference = tmp_path / "reference"
    tune_into(reference, load(out / "best_program.json"), cfg,
              TuneOptions(method="tpe", trials=100, seed=5), resume=False)
    assert _without_timing(out) == _without_timing(reference)
    events = [json.loads(x)["event"] for x in (out / "events.jsonl").read_text().splitlines()]
    assert events[-3:] == ["final", "resumed", "tuned"]


# ---- random ops: each task over several draws ------------------------------------------------

def randomly_started(rate=0.0003) -> Program:
    """The mistuned linear regression with its weights drawn at random in Setup."""
    p = mistuned(rate)
    draw = instructions([("VECTOR_GAUSSIAN_SET_OP", 0, 0, 1, (0.0, 0.0, 0.5))])
    return p.with_components([*p.setup, *draw], p.predict, p.learn)


@pytest.mark.parametrize("how", ["mean", "worst"])
def test_a_program_with_random_ops_is_scored_over_its_draws(tasks, tmp_path, how):
    from azcompile.search.engine.evaluator import combine_draws, task_draws
    from azcompile.search.tune.tuner import _seed

    few = TaskLists(tasks.search[:3], tasks.select, tasks.final)
    options = TuneOptions(method="random", trials=4, seed=3, draws=3, draw_combination=how)
    result = tune(randomly_started(), few, options, tmp_path / "t.json", fingerprint="test",
                  resume=False)
    per_task = [combine_draws(task_draws(randomly_started(), [task], draws=3, engine_name="interp",
                                         seed=_seed(3, "search", t)), how)[0]
                for t, task in enumerate(few.search)]
    assert result.before.search == pytest.approx(float(np.mean(per_task)), abs=1e-12)
    assert len(set(np.round(per_task, 9))) > 1
    assert result.runs["search"] == 3 * 5 * len(few.search)        # 5 settings, 3 draws each
    single = tune(randomly_started(), few, TuneOptions(method="random", trials=4, seed=3),
                  tmp_path / "one.json", fingerprint="test", resume=False)
    assert single.runs["search"] == 5 * len(few.search)
    assert single.before.search != result.before.search


def test_draws_default_to_the_selection_and_old_records_resume_with_one_draw(tmp_path):
    from azcompile.search.run.tuning import stage_options

    cfg = config_mod.parse(config_text(extra="\n[selection]\nrandom_draws = 4\n"
                                             "draw_combination = \"worst\"\n[tune]\ntrials = 3\n"))
    assert (stage_options(cfg, 1).draws, stage_options(cfg, 1).draw_combination) == (4, "worst")
    cfg = config_mod.parse(config_text(extra="\n[selection]\nrandom_draws = 4\n"
                                             "[tune]\nrandom_draws = 2\n"))
    assert (stage_options(cfg, 1).draws, stage_options(cfg, 1).draw_combination) == (2, "mean")
    plain = config_mod.parse(config_text())
    options = TuneOptions(method="random", trials=3, seed=1)
    tune_into(tmp_path, randomly_started(), plain, options, resume=False)
    record = json.loads((tmp_path / "tuning.json").read_text())
    for key in ("draws", "draw_combination"):        # as written before draws existed
        del record["options"][key]
    record["done"] = False
    (tmp_path / "tuning.json").write_text(json.dumps(record))
    resumed = tune_into(tmp_path, randomly_started(), plain, options, resume=True)
    assert resumed.options.draws == 1
    with pytest.raises(TuneError, match="draws"):
        TuneOptions(draws=0)
    with pytest.raises(TuneError, match="draw_combination"):
        TuneOptions(draw_combination="typical")
