"""The Python search API: run_search on the CLI's engine (run directory, hall of fame, warm
start, interrupt and resume) and the scikit-learn estimators (fit/score against scikit-learn's
linear models, raw data through the export's preprocessing, clone, pickle, Pipeline,
GridSearchCV, pandas and CSV input).  Budgets are counted in individuals, so every run is
deterministic; feature sizes are 4 and 10 only (each new size compiles the interpreter)."""
from __future__ import annotations

import importlib.util
import pickle
import signal

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from azcompile.eval_type import EvalType
from azcompile.search.api import EvolvedClassifier, EvolvedRegressor, config_dict, run_search
from azcompile.search.run import config as config_mod
from azcompile.search.run.config import ConfigError
from azcompile.search.run.hall import live_size
from cli_checks import assert_user_error, run_azc

SMALL = dict(population_size=100, max_seconds=None, num_tasks=4)


def _module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- run_search: the demo, its hall of fame, a warm start, an interrupt -------------------------

def _demo(early_select=True) -> dict:
    doc = config_dict("demo")
    doc["experiment"]["early_select"] = early_select
    return doc


@pytest.fixture(scope="module")
def solved_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    return run_search(_demo(), out, seed=3, max_individuals=400_000, progress=False)


def test_the_demo_run_from_python_solves_it_and_leaves_a_run_directory(solved_demo):
    result = solved_demo
    assert result.select_fitness > 0.9999 and result.final_fitness > 0.9999
    for name in ("config.toml", "events.jsonl", "checkpoint.npz", "best_program.json",
                 "hall_of_fame.json"):
        assert (result.run_dir / name).is_file(), name


def test_the_hall_of_fame_lists_the_winner_and_smaller_programs_with_their_fitness(solved_demo):
    hall = solved_demo.hall_of_fame
    mode = EvalType.RMS_ERROR.task_mode
    winner = live_size(solved_demo.program, mode)
    sizes = [entry["size"] for entry in hall]
    assert sizes == sorted(sizes) and winner in sizes
    at_winner = hall[sizes.index(winner)]
    assert at_winner["fitness"] >= solved_demo.search_fitness
    smaller = [entry for entry in hall if entry["size"] < winner]
    assert smaller and all(0 < e["fitness"] < at_winner["fitness"] for e in smaller)
    assert all(live_size(e["program"], mode) == e["size"] for e in hall)
    shown = run_azc("show", solved_demo.run_dir, "--hall-of-fame")
    assert shown.returncode == 0, shown.stderr
    assert f"size {winner:3d}  search fitness {at_winner['fitness']:.6f}" in shown.stdout
    assert f"size {smaller[-1]['size']:3d}  search fitness" in shown.stdout


def test_azc_show_hall_of_fame_of_a_folder_without_one_is_one_error(tmp_path):
    assert_user_error(run_azc("show", tmp_path, "--hall-of-fame"), "no hall_of_fame.json")


def test_a_warm_start_from_the_solved_run_resolves_it_in_a_fraction_of_the_individuals(
        solved_demo, tmp_path):
    warm = run_search(_demo(), tmp_path / "warm", seed=4, warm_start=solved_demo.run_dir,
                      max_individuals=400_000, progress=False)
    assert warm.select_fitness > 0.9999
    assert warm.individuals < 0.1 * solved_demo.individuals
    recorded = (tmp_path / "warm" / "config.toml").read_text()
    assert f'initial_population = "from:{solved_demo.run_dir.resolve()}' in recorded


def test_a_warm_start_from_a_program_of_other_memory_is_one_config_error(solved_demo, tmp_path):
    doc = _demo()
    doc["memory"]["scalars"] = 5
    with pytest.raises(ConfigError, match="has memory .* the configuration"):
        run_search(doc, tmp_path / "bad", warm_start=solved_demo.run_dir / "best_program.json",
                   max_individuals=1000, progress=False)


def test_an_interrupt_stops_with_a_checkpoint_and_resume_finishes_the_run(tmp_path, capsys):
    doc = _demo(early_select=False)
    doc["evolution"]["population_size"] = 100
    out = tmp_path / "run"
    seen = []

    def interrupt_once(record):
        seen.append(record["event"])
        if record["event"] == "progress" and seen.count("progress") == 2:
            signal.raise_signal(signal.SIGINT)

    from azcompile.search.api import session

    before = signal.getsignal(signal.SIGINT)   # default_int_handler; SIG_IGN under `cmd &`
    original = session.LineProgress.event
    session.LineProgress.event = lambda self, record: (original(self, record),
                                                       interrupt_once(record))
    try:
        stopped = run_search(doc, out, seed=1, max_individuals=30_000)
    finally:
        session.LineProgress.event = original
    assert stopped.interrupted and stopped.program is None
    err = capsys.readouterr().err
    assert "interrupt: saving a checkpoint" in err and "resume=True" in err
    assert signal.getsignal(signal.SIGINT) is before      # the caller's handler is back
    done = run_search(out=out, resume=True, progress=False)
    assert not done.interrupted and done.program is not None
    assert done.individuals == 30_000


# ---- the estimators ---------------------------------------------------------------------------

# The estimator tests use four columns: kernels are compiled per feature size, and four is the
# demo's, which the suite compiles anyway (a new size costs minutes on a cold numba cache).
@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return train_test_split(X[["age", "sex", "bmi", "bp"]], y, random_state=0)


@pytest.fixture(scope="module")
def fitted_regressor(diabetes, tmp_path_factory):
    X_train, _, y_train, _ = diabetes
    return EvolvedRegressor(max_individuals=20_000, initial_population="linear",
                            run_dir=tmp_path_factory.mktemp("reg"), **SMALL).fit(X_train, y_train)


def test_the_regressor_scores_on_held_out_diabetes_beside_linear_regression(
        diabetes, fitted_regressor):
    X_train, X_test, y_train, y_test = diabetes
    evolved = fitted_regressor.score(X_test, y_test)
    linear = LinearRegression().fit(X_train, y_train).score(X_test, y_test)
    assert linear - 0.05 < evolved < 1.0, (evolved, linear)
    assert fitted_regressor.run_dir_.is_dir() and "def Learn():" in fitted_regressor.listing_
    assert fitted_regressor.hall_of_fame_ and "search fitness" in fitted_regressor.hall_of_fame()


def test_the_export_carries_the_columns_and_the_standardisation_and_predicts_alike(
        diabetes, fitted_regressor, tmp_path):
    X_train, X_test, y_train, _ = diabetes
    module = _module(fitted_regressor.export(tmp_path / "diabetes_algo.py"))
    assert "      2  bmi" in module.__doc__ and "Preprocessing" in module.__doc__
    np.testing.assert_allclose(module.X_MEAN, X_train.to_numpy().mean(axis=0))
    assert module.Y_MEAN == pytest.approx(y_train.mean())
    # the estimator's own prediction is the exported module's, trained on the same rows
    assert np.all(np.isfinite(fitted_regressor.predict(X_test)))
    exported = module.EvolvedAlgorithm()
    exported.__dict__.update(fitted_regressor.algorithm_.__dict__)
    np.testing.assert_array_equal(exported.predict(X_test.to_numpy()),
                                  fitted_regressor.predict(X_test))
    with pytest.warns(UserWarning, match="scales from the mean"):
        exported.predict(X_test.to_numpy() * 100)


def test_raw_data_scores_within_0_01_r2_of_the_same_data_standardised(tmp_path):
    rng = np.random.default_rng(5)
    X = rng.normal(2.0, 3.0, size=(400, 4))
    y = 40.0 + X @ np.array([1.5, -2.0, 0.5, 3.0]) * 10 + rng.normal(0, 1.0, 400)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    ys = (y - y.mean()) / y.std()
    scores = []
    for data, target, name in ((X, y, "raw"), (Xs, ys, "std")):
        est = EvolvedRegressor(max_individuals=5_000, initial_population="linear",
                               run_dir=tmp_path / name, **SMALL).fit(data[:300], target[:300])
        module = _module(est.export(tmp_path / f"{name}.py"))
        default = module.EvolvedAlgorithm().fit(data[:300], target[:300])
        scores.append(default.score(data[300:], target[300:]))
    assert scores[1] > 0.9 and abs(scores[0] - scores[1]) < 0.01, scores


def test_binary_and_multiclass_classifiers_beside_logistic_regression(tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X[:, :4], y, random_state=0)
    binary = EvolvedClassifier(max_individuals=5_000, initial_population="linear", run_dir=tmp_path,
                               **SMALL)
    binary.fit(X_train, np.where(y_train == 1, "benign", "malignant"))
    assert set(binary.predict(X_test)) <= {"benign", "malignant"}
    accuracy = binary.score(X_test, np.where(y_test == 1, "benign", "malignant"))
    logistic = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_train, y_train)
    assert accuracy > 0.8, (accuracy, logistic.score(X_test, y_test))
    assert binary.predict_proba(X_test).shape == (len(X_test), 2)
    X, y = load_iris(return_X_y=True)
    multi = EvolvedClassifier(max_individuals=2_000, run_dir=tmp_path, **SMALL).fit(X, y)
    assert list(multi.classes_) == [0, 1, 2] and set(multi.predict(X)) <= {0, 1, 2}


def test_clone_pickle_pipeline_and_grid_search(diabetes, fitted_regressor):
    X_train, X_test, y_train, _ = diabetes
    copy = clone(fitted_regressor)
    assert copy.get_params() == fitted_regressor.get_params() and not hasattr(copy, "run_dir_")
    again = pickle.loads(pickle.dumps(fitted_regressor))
    np.testing.assert_array_equal(again.predict(X_test), fitted_regressor.predict(X_test))
    tiny = dict(SMALL, max_individuals=500, initial_population="linear")
    pipe = make_pipeline(StandardScaler(), EvolvedRegressor(**tiny)).fit(X_train, y_train)
    assert np.all(np.isfinite(pipe.predict(X_test)))
    grid = GridSearchCV(EvolvedRegressor(**tiny), {"epochs": [1, 2]}, cv=2).fit(X_train, y_train)
    assert grid.best_params_["epochs"] in (1, 2) and np.isfinite(grid.best_score_)


def test_csv_through_pandas_keeps_the_column_names(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 4)), columns=["height", "width", "depth", "mass"])
    frame["price"] = frame @ np.array([1.0, 2.0, 0.0, -1.0]) + 5.0
    frame.to_csv(tmp_path / "items.csv", index=False)
    table = pd.read_csv(tmp_path / "items.csv")
    est = EvolvedRegressor(max_individuals=1_000, initial_population="linear", **SMALL)
    est.fit(table.drop(columns="price"), table["price"])
    assert list(est.feature_names_in_) == ["height", "width", "depth", "mass"]
    text = est.export(tmp_path / "items.py").read_text()
    assert "      3  mass" in text
    with pytest.raises(ValueError, match="feature names"):
        est.predict(table.drop(columns="price").rename(columns={"mass": "weight"}))


def test_a_hall_of_fame_entry_that_does_not_fit_the_config_is_one_checkpoint_error(solved_demo):
    from azcompile.search.run.checkpoint import CheckpointError
    from azcompile.search.run.hall import load_entries
    from azcompile.search.run.state import SearchState

    cfg = config_mod.load(solved_demo.run_dir / "config.toml")
    entry = dict(solved_demo.hall_of_fame[0], program=solved_demo.program.to_json())
    entry["size"] = live_size(solved_demo.program, EvalType.RMS_ERROR.task_mode)
    assert load_entries(cfg, {str(entry["size"]): entry})
    with pytest.raises(CheckpointError, match="holds size"):
        load_entries(cfg, {"1": entry})
    with pytest.raises(CheckpointError, match="malformed"):
        load_entries(cfg, {"1": {"size": 1}})
    assert "hall_of_fame" not in SearchState.new(cfg, seed=0, workers=1, max_seconds=None,
                                                 max_individuals=None).checkpoint()[1]


def test_azc_search_warm_start_starts_a_new_run_from_another_runs_best(solved_demo, tmp_path):
    out = tmp_path / "warm"
    done = run_azc("search", "demo", "--out", out, "--seed", 2, "--plain", "--max-individuals",
                   3000, "--warm-start", solved_demo.run_dir, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "best fit=0.99" in done.stdout
    assert_user_error(run_azc("search", "--resume", out, "--warm-start", solved_demo.run_dir),
                      "--warm-start starts a new run")


def test_a_preprocessed_export_runs_the_engine_bit_for_bit_on_the_search_s_own_tasks(
        diabetes, fitted_regressor, tmp_path):
    from azcompile.engine import run
    from azcompile.search.run.config import build_task_list

    module = _module(fitted_regressor.export(tmp_path / "bits.py"))
    cfg = config_mod.load(fitted_regressor.run_dir_ / "config.toml")
    task = build_task_list(cfg.final_tasks, "final_tasks")[0]
    engine = run(fitted_regressor.best_program_, task.x_train, task.y_train, task.x_valid,
                 task.y_valid, seed=0, engine="interp")
    state = module.setup(seed=0)
    train = [module.train_step(state, x, y, 100.0)[0] for x, y in zip(task.x_train, task.y_train)]
    valid = [module.predict(state, x) for x in task.x_valid]
    np.testing.assert_array_equal(train, engine.train_predictions[:, 0])
    np.testing.assert_array_equal(valid, engine.valid_predictions[:, 0])
    # the task's features are the export's standardisation of the raw rows, to the bit
    raw = np.load(fitted_regressor.run_dir_ / "data.npz")["X"]
    rows = np.random.default_rng(task.data_seed).permutation(len(raw))
    np.testing.assert_array_equal(module.standardise_features(raw[rows[:len(task.x_valid)]]),
                                  task.x_valid)


@pytest.mark.parametrize("value, needle", [("from:missing.json", "initial_population"),
                                           ("from:", "from:PATH"), (".", "must be one of")])
def test_a_bad_warm_start_is_one_error_line(tmp_path, value, needle):
    doc = config_dict("demo")
    doc["evolution"]["initial_population"] = value
    from azcompile.search.api.toml_text import dumps

    (tmp_path / "c.toml").write_text(dumps(doc))
    assert_user_error(run_azc("search", tmp_path / "c.toml", "--out", tmp_path / "run"), needle)


def test_warm_start_true_continues_from_the_last_fit_with_a_larger_budget(diabetes, tmp_path):
    X_train, _, y_train, _ = diabetes
    est = EvolvedRegressor(max_individuals=2_000, warm_start=True, run_dir=tmp_path, **SMALL)
    first = est.fit(X_train, y_train).search_result_
    est.set_params(max_individuals=6_000)
    second = est.fit(X_train, y_train).search_result_
    assert second.run_dir != first.run_dir
    assert f'"from:{first.run_dir.resolve()}"' in (second.run_dir / "config.toml").read_text()
    assert second.search_fitness >= first.search_fitness
