"""scikit-learn estimators whose ``fit`` searches for a learning algorithm on the data.

``fit(X, y)`` turns the data into tasks (``table_tasks``): the features are standardised
with their mean and standard deviation over the rows given (and, for a regressor, the
target too); each search, select and final task is a random split of the rows (seeded
from ``random_state``: search tasks use seeds 1..num_tasks, select tasks the next four,
final tasks the four after), the search runs under ``max_seconds`` / ``max_individuals``
on ``workers`` islands, and the best program (by select fitness) is exported and trained
on as many rows as a task trained on (a random subset: an evolved algorithm is tuned to its
tasks' length), with the standardisation in the export.  ``predict`` and ``score`` use it;
``export(path)`` writes that module.  The run directory (``run_dir_``) holds the whole
search, as ``azc search`` leaves it (``azc show RUN --hall-of-fame``, ``azc lineage RUN``).
"""
from __future__ import annotations

import tempfile
import types
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from azcompile.export import export_program
from azcompile.jit_cache import atomic_write_text
from azcompile.liveness import canonical
from azcompile.eval_type import EvalType

from ..run.config import INITIAL_POPULATIONS
from ..run.hall import format_hall
from .session import run_search

# The op sets: the demo's (a linear learner is a few of these) for regression; the
# paper's baseline space for classification (examples/digits_binary.toml).
REGRESSION_OPS = ["SCALAR_CONST_SET_OP", "VECTOR_INNER_PRODUCT_OP", "SCALAR_DIFF_OP",
                  "SCALAR_PRODUCT_OP", "SCALAR_VECTOR_PRODUCT_OP", "VECTOR_SUM_OP"]
CLASSIFIER_OPS = {
    "setup": ["SCALAR_CONST_SET_OP", "SCALAR_GAUSSIAN_SET_OP", "VECTOR_GAUSSIAN_SET_OP",
              "MATRIX_GAUSSIAN_SET_OP"],
    "predict": ["SCALAR_SUM_OP", "MATRIX_VECTOR_PRODUCT_OP", "VECTOR_MAX_OP",
                "VECTOR_INNER_PRODUCT_OP", "VECTOR_SUM_OP"],
    "learn": ["SCALAR_SUM_OP", "SCALAR_DIFF_OP", "SCALAR_PRODUCT_OP", "SCALAR_VECTOR_PRODUCT_OP",
              "VECTOR_SUM_OP", "VECTOR_HEAVYSIDE_OP", "VECTOR_PRODUCT_OP",
              "VECTOR_OUTER_PRODUCT_OP", "MATRIX_SUM_OP"]}
SELECT_TASKS = FINAL_TASKS = 4
Z_MARGIN = 1.5          # an export warns beyond 1.5x the furthest standardised value fit saw


def standardisation(values: np.ndarray):
    """Mean and scale per column (a constant column gets scale 1: it stays constant)."""
    mean = values.mean(axis=0)
    scale = values.std(axis=0)
    return mean, np.where(scale > 1e-12 * np.maximum(np.abs(mean), 1.0), scale, 1.0)


class _SearchEstimator(BaseEstimator):
    """Parameters shared by the regressor and the classifier (see the module docstring)."""

    def __init__(self, *, max_seconds=60.0, max_individuals=None, workers=1, random_state=0,
                 population_size=1000, num_tasks=8, valid_fraction=0.2, max_train_examples=1000,
                 epochs=1, warm_start=False, initial_population=None, run_dir=None,
                 progress=False):
        self.max_seconds = max_seconds
        self.max_individuals = max_individuals
        self.workers = workers
        self.random_state = random_state
        self.population_size = population_size
        self.num_tasks = num_tasks
        self.valid_fraction = valid_fraction
        self.max_train_examples = max_train_examples
        self.epochs = epochs
        self.warm_start = warm_start
        self.initial_population = initial_population
        self.run_dir = run_dir
        self.progress = progress

    # ---- fit ---------------------------------------------------------------------------------
    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=self._regression)
        n_train, _ = self._sizes(len(X))
        target, task = self._encode_target(y)
        x_mean, x_scale = standardisation(X)
        z_limit = float(np.max(np.abs((X - x_mean) / x_scale))) * Z_MARGIN if X.size else 6.0
        run_dir = self._new_run_dir()
        data = run_dir / "data.npz"
        np.savez(data, X=X, y=target)
        options = {"path": str(data), "x_mean": x_mean.tolist(), "x_scale": x_scale.tolist(),
                   "z_limit": max(z_limit, 4.0), **task}
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            options["feature_names"] = [str(n) for n in names]
        start = self._warm_start_from()
        result = run_search(self._config(X.shape, options), run_dir, warm_start=start,
                            max_seconds=self.max_seconds, max_individuals=self.max_individuals,
                            workers=self.workers, progress=self.progress)
        if result.interrupted:
            raise KeyboardInterrupt(f"the search was interrupted; its checkpoint is in {run_dir} "
                                    f"(continue with run_search(out={str(run_dir)!r}, "
                                    "resume=True))")
        if result.program is None:
            raise RuntimeError(f"the search in {run_dir} found no program; give it a larger "
                               "max_seconds or max_individuals")
        self.run_dir_, self.search_result_ = run_dir, result
        self.best_program_ = result.program
        self.hall_of_fame_ = result.hall_of_fame
        self.export_source_ = export_program(result.program, eval_type=self._eval_type(),
                                             num_classes=task.get("num_classes"))
        # Trained as the search trained it: on as many examples as a task had (an evolved
        # algorithm is tuned to its task's length: a longer run can diverge), drawn at random.
        rows = np.random.default_rng(self._seed()).permutation(len(X))[:n_train]
        self._train(self.export_source_, X[rows], y[rows])
        return self

    def _seed(self) -> int:
        return 0 if self.random_state is None else int(self.random_state) % (2 ** 31)

    def _sizes(self, n_rows: int) -> tuple[int, int]:
        """(train, valid) examples per task."""
        n_valid = max(1, int(round(self.valid_fraction * n_rows)))
        n_train = min(n_rows - n_valid, self.max_train_examples)
        if n_train < 1:
            raise ValueError(f"{type(self).__name__} needs at least 2 samples (one to train on, "
                             f"one to validate), got n_samples = {n_rows}")
        return n_train, n_valid

    def _warm_start_from(self):
        if self.warm_start and hasattr(self, "run_dir_"):
            return self.run_dir_            # continue: start from the last fit's best
        named = self.initial_population is None or self.initial_population in INITIAL_POPULATIONS
        return None if named else self.initial_population

    def _new_run_dir(self) -> Path:
        if self.run_dir is None:
            return Path(tempfile.mkdtemp(prefix="azc-run-"))
        base = Path(self.run_dir)
        k = 0
        while (base / f"fit-{k}").exists():
            k += 1
        path = base / f"fit-{k}"
        path.mkdir(parents=True)
        return path

    def _config(self, shape, options) -> dict:
        n_rows, n_features = shape
        n_train, n_valid = self._sizes(n_rows)
        seed = self._seed()

        def tasks(first, count):
            return {"type": self._task_type(), "features": n_features,
                    "num_train_examples": n_train, "num_valid_examples": n_valid,
                    "num_tasks": count, "num_train_epochs": self.epochs,
                    "data_seeds": [seed * 1000 + first], "param_seeds": [seed * 1000 + first],
                    **options}

        doc = self._search_space(n_features)
        doc["name"] = type(self).__name__
        if self.initial_population in INITIAL_POPULATIONS:
            doc["evolution"]["initial_population"] = self.initial_population
        doc["evolution"].update(population_size=self.population_size,
                                tournament_size=min(10, self.population_size),
                                max_train_steps=10 ** 15, progress_every=10_000)
        doc["fec"] = {"num_train_examples": min(10, n_train), "num_valid_examples": min(10, n_valid)}
        doc["experiment"] = {"max_experiments": 1}
        doc["run"] = {"seed": seed, "checkpoint_seconds": 30.0,
                      "batch_size": min(1000, self.population_size)}
        doc["search_tasks"] = [tasks(1, self.num_tasks)]
        doc["select_tasks"] = [tasks(1 + self.num_tasks, SELECT_TASKS)]
        doc["final_tasks"] = [tasks(1 + self.num_tasks + SELECT_TASKS, FINAL_TASKS)]
        return doc

    def _train(self, source: str, X, y) -> None:
        module = _module(source)
        self.algorithm_ = module.EvolvedAlgorithm(epochs=self.epochs, random_state=0)
        self.algorithm_.fit(X, y)

    # ---- the fitted algorithm ------------------------------------------------------------------
    @property
    def listing_(self) -> str:
        """The best program in canonical form (dead code removed), as ``azc show`` prints it."""
        check_is_fitted(self, "best_program_")
        return canonical(self.best_program_, self._mode())[0].listing()

    def _mode(self) -> int:
        return EvalType.parse(self._eval_type()).task_mode

    def hall_of_fame(self) -> str:
        """The hall of fame as a table: size, search fitness, and each program."""
        check_is_fitted(self, "hall_of_fame_")
        return format_hall(self.hall_of_fame_, self._mode(), self.best_program_)

    def export(self, path) -> Path:
        """Write the fitted algorithm as a standalone module (numpy only; it takes raw data)."""
        check_is_fitted(self, "export_source_")
        atomic_write_text(Path(path), self.export_source_)
        return Path(path)

    def predict(self, X):
        check_is_fitted(self, "algorithm_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.algorithm_.predict(X)

    # Pickling: the algorithm's class lives in the exported module, made from its source.
    def __getstate__(self):
        state = dict(self.__dict__)
        if "algorithm_" in state:
            state["algorithm_"] = dict(state["algorithm_"].__dict__)
        return state

    def __setstate__(self, state):
        fitted = state.get("algorithm_")
        if isinstance(fitted, dict):
            algorithm = _module(state["export_source_"]).EvolvedAlgorithm.__new__(
                _module(state["export_source_"]).EvolvedAlgorithm)
            algorithm.__dict__.update(fitted)
            state = {**state, "algorithm_": algorithm}
        self.__dict__.update(state)


_MODULES: dict = {}


def _module(source: str) -> types.ModuleType:
    """The exported module of ``source``, made once per source text."""
    module = _MODULES.get(source)
    if module is None:
        module = types.ModuleType("azcompile_evolved_algorithm")
        exec(compile(source, "<evolved algorithm>", "exec"), module.__dict__)
        _MODULES[source] = module
    return module


class _PoorScore:
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A search under a small budget finds a weak learner: scikit-learn's checks of a
        # minimum score do not apply.
        for task_tags in (tags.regressor_tags, tags.classifier_tags):
            if task_tags is not None:
                task_tags.poor_score = True
        return tags


class EvolvedRegressor(_PoorScore, RegressorMixin, _SearchEstimator):
    """Searches for a regression algorithm (RMS error on standardised targets)."""

    _regression = True

    def _task_type(self):
        return "table_regression"

    def _eval_type(self):
        return "rms_error"

    def _search_space(self, n_features) -> dict:
        return {"memory": {"scalars": 4, "vectors": 3, "matrices": 1},
                "ops": {"setup": REGRESSION_OPS, "predict": REGRESSION_OPS,
                        "learn": REGRESSION_OPS},
                "sizes": {"setup_init": 10, "predict_init": 2, "learn_init": 8},
                "evolution": {"initial_population": "random", "mutate_prob": 0.9,
                              "mutations": ["alter_param", "randomize_instruction",
                                            "randomize_component_function"]}}

    def _encode_target(self, y):
        mean, scale = standardisation(y.reshape(-1, 1))
        return y, {"y_mean": float(mean[0]), "y_scale": float(scale[0])}


class EvolvedClassifier(_PoorScore, ClassifierMixin, _SearchEstimator):
    """Searches for a classification algorithm: binary (sigmoid, accuracy) for two classes,
    multi-class (softmax) for more; a multi-class search needs at least as many features
    as classes (class scores live in a feature-sized vector)."""

    _regression = False

    def _task_type(self):
        return ("table_binary_classification" if len(self.classes_) == 2
                else "table_multiclass_classification")

    def _eval_type(self):
        return "accuracy" if len(self.classes_) == 2 else "multiclass"

    def _search_space(self, n_features) -> dict:
        return {"memory": {"scalars": 5, "vectors": 9, "matrices": 2},
                "ops": dict(CLASSIFIER_OPS),
                "sizes": {"setup_init": 1, "predict_init": 1, "learn_init": 1,
                          "setup_min": 1, "predict_min": 1, "learn_min": 1,
                          "setup_max": 7, "predict_max": 11, "learn_max": 23},
                "evolution": {"initial_population": "no_op", "mutate_prob": 0.9,
                              "mutations": ["alter_param", "randomize_component_function",
                                            "insert_instruction", "remove_instruction"]}}

    def _encode_target(self, y):
        from sklearn.utils.multiclass import check_classification_targets

        check_classification_targets(y)
        self.classes_, index = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in the "
                             f"data; got {k} class")
        if k > 2 and k > self.n_features_in_:
            raise ValueError(f"{k} classes need at least {k} features (class scores live in a "
                             f"vector of one entry per feature); X has {self.n_features_in_}")
        return index.astype(np.float64), ({} if k == 2 else {"num_classes": k})

    def _train(self, source, X, y) -> None:
        super()._train(source, X, np.searchsorted(self.classes_, y))

    def predict(self, X):
        index = super().predict(X).astype(int)
        return self.classes_[index]

    def predict_proba(self, X):
        check_is_fitted(self, "algorithm_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.algorithm_.predict_proba(X)
