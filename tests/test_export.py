"""Export: standalone modules that reproduce the engine, read like hand-written code, pass
scikit-learn's estimator checks, and refuse program files that try to inject code.

Exactness: every comparison with the engine here is bit for bit (NaN where the engine has
NaN).  The export sums left to right and calls the C library's math functions, as the engine
does, instead of np.dot / np.sum / numpy's own exp; so no tolerance is needed.

These tests go through ``export_program`` end to end.  The package's parts have their own
files: test_export_plan.py (plan, dataflow, names), test_export_passes.py (simplification
passes), test_export_helpers.py (the helpers modules carry) and test_export_golden.py (the
exported text, byte for byte); the ``azc export`` command is tested in test_inspect_cli.py.
"""
import ast
import importlib.util
import json
import re
import subprocess
import sys
import textwrap
import warnings
from dataclasses import replace
from pathlib import Path

import libcst as cst
import numpy as np
import pytest

from azcompile import ops, reference_programs
from azcompile.engine import run
from azcompile.eval_type import ACCURACY, MULTICLASS, RMS_ERROR
from azcompile.export import ExportError, export_program, prune_module
from azcompile.program import (FIRST_OUT, Instruction, Memory, Program, ProgramError,
                               instructions, loads)
from azcompile.program import load as load_program
from programs import RUN_META, readme_linear_regression
from azcompile.search.data.synthetic import linear_task, nonlinear_task

EVAL = {"rms_error": RMS_ERROR, "accuracy": ACCURACY, "multiclass": MULTICLASS}
N_RANDOM = 200
DATA = Path(__file__).resolve().parent / "data"
K = 3  # classes of the multiclass cases


def linear_regression() -> Program:
    """The README's program: SGD on a linear model, learning rate 0.001."""
    return readme_linear_regression(meta=dict(RUN_META))


def neural_net(features: int = 4) -> Program:
    """Reference NEURAL_NET_ALGORITHM: 2-layer ReLU net with biases, lr 0.01."""
    return reference_programs.neural_net(Memory(5, 9, 2, features))


def neural_net_multiclass(features: int = 4) -> Program:
    """The NN's hidden layer as class scores (v2) for a multi-class task."""
    nn = neural_net(features)
    return nn.with_components(nn.setup, nn.predict[:3] + instructions(
        [("MATRIX_VECTOR_PRODUCT_OP", 0, 4, 2)]), nn.learn[-2:])


# ---- random programs over the whole op set -------------------------------------------------

RANDOM_MEMORY = Memory(5, 5, 3, 4)


def random_instruction(rng, op) -> Instruction:
    def address(kind, out=False):
        if kind is None:
            return 0
        low = FIRST_OUT[kind] if out else 0
        return int(rng.integers(low, RANDOM_MEMORY.count(kind)))

    d = [0.0] * 4
    if op.data == ops.SCALAR_CONST:
        d[0] = float(rng.uniform(-1, 1) * 10.0 ** rng.integers(-1, 2))
    elif op.data == ops.VECTOR_CONST:
        d[1], d[2] = rng.uniform(0, 1), rng.uniform(-1, 1)
    elif op.data == ops.MATRIX_CONST:
        d[1], d[2], d[3] = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(-1, 1)
    elif op.data in (ops.GAUSSIAN, ops.UNIFORM):
        d[1], d[2] = rng.uniform(-1, 1), rng.uniform(-1 if op.data == ops.UNIFORM else 0, 1)
    return Instruction(op, address(op.in1), address(op.in2), address(op.out, True), tuple(d))


def random_program(rng, eval_type: str) -> Program:
    comps = [[random_instruction(rng, ops.OPS[int(rng.integers(0, ops.NUM_OPS))])
              for _ in range(n)] for n in (rng.integers(0, 5), rng.integers(1, 7), rng.integers(0, 9))]
    if rng.random() < 0.85:  # most programs end Predict by writing the prediction
        want = ops.VECTOR if eval_type == "multiclass" else ops.SCALAR
        choices = [o for o in ops.OPS if o.out == want and not o.partial_write]
        ins = random_instruction(rng, choices[int(rng.integers(0, len(choices)))])
        comps[1].append(replace(ins, out=2 if want == ops.VECTOR else 1))
    return Program(*comps, memory=RANDOM_MEMORY)


def task_data(rng, eval_type: str, features: int, n_train: int = 8, n_valid: int = 5):
    xtr, xva = rng.normal(size=(n_train, features)), rng.normal(size=(n_valid, features))
    if eval_type == "rms_error":
        return xtr, rng.normal(size=n_train), xva, rng.normal(size=n_valid)
    classes = 2 if eval_type == "accuracy" else K
    return (xtr, rng.integers(0, classes, n_train) * 1.0, xva,
            rng.integers(0, classes, n_valid) * 1.0)


# ---- running exported modules in a clean interpreter ---------------------------------------

# The engine's protocol through the module's functional API: Setup, then per training
# example train_step (which stops, as the engine does, on a NaN or too-large error), then a
# validation pass of predict calls (an RMS pass stops at the first too-large error).
HARNESS = '''
import importlib.abc, importlib.util, json, sys

# Run with `python -I -S`: no site-packages, no PYTHONPATH, no repository; the only
# third-party packages are the ones linked into the site directory given as argv[3].
sys.path.insert(0, sys.argv[3])
import numpy as np


class NoAzcompile(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("azcompile", "search"):
            raise ImportError("exported modules must not import " + name)


sys.meta_path.insert(0, NoAzcompile())
assert importlib.util.find_spec("json") and not any("main" in p.split("/")[-1:] for p in sys.path)
for absent in ("sklearn", "scipy", "click", "libcst") + tuple(json.loads(sys.argv[4])):
    assert importlib.util.find_spec(absent) is None, absent + " is importable"


def protocol(mod, xtr, ytr, xva, yva, seed, eval_type, outputs, limit=100.0):
    state = mod.setup(seed)
    train, valid = [], np.full((len(xva), outputs), np.nan)
    for x, y in zip(xtr, ytr):
        prediction, learned = mod.train_step(state, x, y, limit)
        train.append(np.atleast_1d(prediction))
        if not learned:
            return np.array(train).reshape(-1, outputs), valid
    for t, (x, y) in enumerate(zip(xva, yva)):
        valid[t] = np.atleast_1d(mod.predict(state, x))
        if eval_type == "rms_error" and not abs(y - valid[t, 0]) <= limit:
            break
    return np.array(train).reshape(-1, outputs), valid


cases = json.load(open(sys.argv[1]))
data = np.load(cases["data"])
out = {}
for case in cases["cases"]:
    spec = importlib.util.spec_from_file_location(case["name"], case["path"])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    name = case["name"]
    out[name + "/train"], out[name + "/valid"] = protocol(
        mod, *(data[name + "/" + k] for k in ("xtr", "ytr", "xva", "yva")), case["seed"],
        case["eval_type"], case["outputs"])
assert not any(m.split(".")[0] == "azcompile" for m in sys.modules)
np.savez(sys.argv[2], **out)
'''


def only_packages(site: Path, packages: tuple) -> Path:
    """A site directory in which ``packages`` (and their bundled shared libraries) are the
    only third-party code: a machine with just numpy installed, as far as imports go."""
    site.mkdir()
    for name in packages:
        root = Path(importlib.util.find_spec(name).origin).parent
        (site / name).symlink_to(root)
        libs = root.parent / f"{name}.libs"
        if libs.exists():
            (site / libs.name).symlink_to(libs)
    return site


def run_isolated(tmp_path, cases: list) -> dict:
    """Write each (name, source, data, seed, eval_type) module to tmp_path and run them in a
    `python -I -S` subprocess that can import numpy and nothing else of ours or anyone's;
    ``--jit`` modules run in a second one that can import numpy and numba."""
    plain = [c for c in cases if not c[0].endswith("_jit")]
    jit = [c for c in cases if c[0].endswith("_jit")]
    out = {}
    for label, group, packages, absent in (
            ("numpy_only", plain, ("numpy",), ["numba", "llvmlite"]),
            ("numpy_numba", jit, ("numpy", "numba", "llvmlite"), [])):
        if group:
            workdir = tmp_path / label
            workdir.mkdir()
            site = only_packages(workdir / "site", packages)
            out.update(_run_group(workdir, group, site, absent))
    return out


def _run_group(tmp_path, cases: list, site: Path, absent: list) -> dict:
    data, rows = {}, []
    for name, source, (xtr, ytr, xva, yva), seed, eval_type in cases:
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        for key, arr in (("xtr", xtr), ("ytr", ytr), ("xva", xva), ("yva", yva)):
            data[f"{name}/{key}"] = arr
        rows.append({"name": name, "path": str(path), "seed": seed, "eval_type": eval_type,
                     "outputs": K if eval_type == "multiclass" else 1})
    np.savez(tmp_path / "data.npz", **data)
    (tmp_path / "cases.json").write_text(json.dumps({"data": str(tmp_path / "data.npz"),
                                                     "cases": rows}))
    (tmp_path / "harness.py").write_text(HARNESS)
    done = subprocess.run([sys.executable, "-I", "-S", str(tmp_path / "harness.py"),
                           str(tmp_path / "cases.json"), str(tmp_path / "out.npz"), str(site),
                           json.dumps(absent)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(np.load(tmp_path / "out.npz"))


def engine_case(program, eval_type, data, seed):
    xtr, ytr, xva, yva = data
    result = run(program, xtr, ytr, xva, yva, eval_type=EVAL[eval_type], seed=seed,
                 num_classes=K if eval_type == "multiclass" else 0, engine="interp")
    return result.train_predictions, result.valid_predictions


def assert_same(got: dict, name: str, expected, program) -> None:
    train, valid = expected
    assert got[name + "/train"].shape == train.shape, (name, program.listing())
    np.testing.assert_array_equal(got[name + "/train"], train, err_msg=program.listing())
    np.testing.assert_array_equal(got[name + "/valid"], valid, err_msg=program.listing())


def test_exported_modules_reproduce_the_engine_bit_for_bit(tmp_path):
    rng = np.random.default_rng(20240601)
    cases, expected = [], {}

    def add(name, program, eval_type, data, seed, **options):
        kw = {"num_classes": K} if eval_type == "multiclass" else {}
        source = export_program(program, eval_type=eval_type, **kw, **options)
        cases.append((name, source, data, seed, eval_type))
        expected[name] = (engine_case(program, eval_type, data, seed), program)

    lr_data = task_data(rng, "rms_error", 4, n_train=1000, n_valid=50)
    lr_data = (lr_data[0], lr_data[0] @ np.array([0.5, -1.0, 2.0, 0.25]), lr_data[2],
               lr_data[2] @ np.array([0.5, -1.0, 2.0, 0.25]))
    add("linear", linear_regression(), "rms_error", lr_data, 0)
    add("linear_raw", linear_regression(), "rms_error", lr_data, 0, name_registers="raw")
    add("linear_jit", linear_regression(), "rms_error", lr_data, 0, jit=True)
    for eval_type in ("rms_error", "accuracy"):
        data = task_data(rng, eval_type, 4, n_train=100, n_valid=30)
        add(f"nn_{eval_type}", neural_net(), eval_type, data, 12345)
    add("nn_accuracy_jit", neural_net(), "accuracy", data, 12345, jit=True)
    # What searches found: the demo's winner on a demo task, a nonlinear run's on the
    # teacher-network task (1000 training examples, Gaussian-initialised weights).
    for name, make_task in (("demo_winner", lambda: linear_task(4, 100, 100, 11001, 1001)),
                            ("nonlinear_winner", lambda: nonlinear_task(4, 1000, 100, 19000, 9000))):
        task = make_task()
        add(name, load_program(DATA / f"{name}.json"), "rms_error",
            (task.x_train, task.y_train, task.x_valid, task.y_valid), 777)
    # The reference's vector min/max keep a NaN first operand (std::min): NaN predictions.
    nan_data = task_data(rng, "rms_error", 4, n_train=20, n_valid=10)
    for name in ("nan_vector_min", "nan_vector_max"):
        add(name, load_program(DATA / f"{name}.json"), "rms_error", nan_data, 0)
    add("nn_multiclass", neural_net_multiclass(), "multiclass",
        task_data(rng, "multiclass", 4, n_train=60, n_valid=20), 99)
    for i in range(N_RANDOM):
        eval_type = ("rms_error", "accuracy", "multiclass")[i % 3]
        program = random_program(rng, eval_type)
        add(f"random_{i:03d}", program, eval_type, task_data(rng, eval_type, 4),
            int(rng.integers(0, 2**63)))
    got = run_isolated(tmp_path, cases)
    for name, (engine_result, program) in expected.items():
        assert_same(got, name, engine_result, program)
    # The linear model learned (half the error of predicting 0): the comparison above is
    # between real predictions, not two arrays of NaN.
    rms = np.sqrt(np.mean((got["linear/valid"][:, 0] - lr_data[3]) ** 2))
    assert rms < 0.5 * np.sqrt(np.mean(lr_data[3] ** 2))
    for name in ("demo_winner", "nonlinear_winner"):   # the winners learned their tasks
        assert np.isfinite(got[name + "/valid"]).all()
    for name in ("nan_vector_min", "nan_vector_max"):   # training stopped at the NaN
        assert got[name + "/train"].shape == (1, 1) and np.isnan(got[name + "/train"]).all()


# ---- reading the exported code -----------------------------------------------------------

def test_linear_regression_reads_like_hand_written_code():
    text = export_program(linear_regression())
    code = text[text.index('\n"""') + 4:]  # after the docstring
    assert "LEARNING_RATE = 0.001  # s2, set in Setup" in code
    assert "def _setup" not in code  # Setup only set the learning rate
    predict = code[code.index("def _predict"):code.index("def _learn")]
    assert "prediction = _dot(x, w)  # s1 = dot(v0, v1)" in predict
    learn = code[code.index("def _learn"):code.index("# ---- functional API")]
    body = [line.strip() for line in learn.splitlines()[2:] if line.strip()]
    assert body == ["t1 = y - prediction  # s3 = s0 - s1",
                    "t1 = t1 * LEARNING_RATE  # s3 = s3 * s2",
                    "tv1 = t1 * x  # v2 = s3 * v0",
                    "w = w + tv1  # v1 = v1 + v2",
                    "return w"]
    assert "for i in range" not in code and "@njit" not in code
    assert re.search(r"^import numpy as np$", code, re.M) and "azcompile" not in code.replace(
        "azcompile 0.1.0 (azc export)", "")
    assert "def _gaussian" not in code and "_mix64" not in code  # unused helpers pruned
    # Provenance and the original listing are in the docstring.
    header = text[:text.index('\n"""')]
    for line in ("task: linear_regression", "config: demo", "select fitness: 0.9999",
                 "final fitness: 0.9998", "seed: 7", "found at generation: 1234",
                 "found after (s): 56.7", "canonical hash: ", "    def Learn():",
                 "      s3 = s0 - s1", "LEARNING_RATE    s2    constant, set in Setup"):
        assert line in header


def test_dead_code_constants_and_copies_are_simplified():
    program = linear_regression()
    extra = instructions([("SCALAR_CONST_SET_OP", 0, 0, 3, (0.5, 0, 0, 0)),
                          ("SCALAR_PRODUCT_OP", 3, 3, 3),        # folds to 0.25
                          ("SCALAR_CONST_SET_OP", 0, 0, 2, (1.0, 0, 0, 0)),
                          ("SCALAR_PRODUCT_OP", 0, 2, 2),        # s0 * 1.0: a copy of y
                          ("SCALAR_DIFF_OP", 2, 1, 2),           # y - prediction
                          ("SCALAR_PRODUCT_OP", 2, 3, 3),
                          ("SCALAR_VECTOR_PRODUCT_OP", 3, 0, 2),
                          ("VECTOR_SUM_OP", 1, 2, 1),
                          ("VECTOR_ABS_OP", 0, 0, 2)])           # dead
    program = program.with_components((), program.predict, extra)
    text = export_program(program)
    learn = text[text.index("def _learn"):text.index("# ---- functional API")]
    assert "* 0.5" not in learn and "np.abs" not in learn
    assert "t1 = y - prediction  # s2 = s2 - s1" in learn  # the copy of y was propagated
    # 0.5 * 0.5 folded to 0.25, Learn's only step size: a named constant.
    assert re.search(r"^LEARNING_RATE = 0\.25  #", text, re.M)
    assert "t2 = t1 * LEARNING_RATE  # s3 = s2 * s3" in learn


def test_export_is_stable():
    for program in (linear_regression(), neural_net()):
        first = export_program(program)
        assert export_program(program) == first
        # The simplified module is a fixed point of the pruning pass.
        assert prune_module(cst.parse_module(first)).code == first
        compile(first, "<export>", "exec")


# ---- the estimator --------------------------------------------------------------------------

def load(tmp_path, source: str, name: str):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pickling the estimator needs an importable module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("eval_type", ["rms_error", "accuracy", "multiclass"])
def test_estimator_fit_and_predict_equal_the_engine(tmp_path, eval_type):
    rng = np.random.default_rng(5)
    program = neural_net_multiclass() if eval_type == "multiclass" else neural_net()
    kw = {"num_classes": K} if eval_type == "multiclass" else {}
    module = load(tmp_path, export_program(program, eval_type=eval_type, **kw), f"est_{eval_type}")
    xtr, ytr, xva, yva = task_data(rng, eval_type, 4, n_train=80, n_valid=25)
    seed = 31337
    _, valid = engine_case(program, eval_type, (xtr, ytr, xva, yva), seed)
    model = module.EvolvedAlgorithm(random_state=seed).fit(xtr, ytr)
    assert model.n_train_steps_ == len(xtr) and not model.stopped_early_
    if eval_type == "rms_error":
        np.testing.assert_array_equal(model.predict(xva), valid[:, 0])
    elif eval_type == "accuracy":
        np.testing.assert_array_equal(model.predict(xva), (1 / (1 + np.exp(-valid[:, 0])) > 0.5) * 1.0)
        proba = model.predict_proba(xva)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    else:
        np.testing.assert_array_equal(model.predict(xva), np.argmax(valid, axis=1) * 1.0)
    # Predicting does not change the fitted state; partial_fit continues from it.
    np.testing.assert_array_equal(model.predict(xva), model.predict(xva))
    half = module.EvolvedAlgorithm(random_state=seed).partial_fit(xtr[:40], ytr[:40], classes=np.unique(ytr))
    half.partial_fit(xtr[40:], ytr[40:])
    np.testing.assert_array_equal(half.predict(xva), model.predict(xva))


def test_estimator_params_follow_sklearn_clone(tmp_path):
    from sklearn.base import clone

    module = load(tmp_path, export_program(linear_regression()), "est_clone")
    model = module.EvolvedAlgorithm(epochs=3, random_state=4, max_abs_error=None)
    copy = clone(model)
    assert copy.get_params() == {"epochs": 3, "random_state": 4, "max_abs_error": None}
    assert copy.set_params(epochs=2) is copy and copy.epochs == 2
    with pytest.raises(ValueError, match="invalid parameter 'speed'"):
        copy.set_params(speed=1)
    assert repr(model) == "EvolvedAlgorithm(epochs=3, random_state=4, max_abs_error=None)"


def _export_for_checks(program_at, eval_type, features, classes, tmp_path):
    kw = {"num_classes": classes} if eval_type == "multiclass" else {}
    source = export_program(program_at(features), eval_type=eval_type, **kw)
    return load(tmp_path, source, f"chk_{eval_type}_{features}_{classes}").EvolvedAlgorithm()


# Checks that do not apply to the multi-class export: the scores live in a vector register
# of the feature size, so a program with F features scores at most F classes.  These feed
# 3-class data with 2 features (or 1 feature), which no such program can classify.
NOT_APPLICABLE_MULTICLASS = {
    "check_estimators_overwrite_params", "check_estimators_fit_returns_self",
    "check_readonly_memmap_input", "check_classifiers_classes",
    "check_estimators_partial_fit_n_features", "check_classifiers_train", "check_fit2d_1feature",
}


@pytest.mark.parametrize("eval_type", ["rms_error", "accuracy", "multiclass"])
def test_estimator_passes_sklearn_checks(tmp_path, eval_type):
    """scikit-learn's estimator checks, all of them.

    An evolved program has a fixed feature count (and class count), while the checks make
    data with 1 to 20 features: when a check fails only because of that, it is run again
    against the same algorithm exported at the check's feature (and class) count, so every
    check tests this estimator's code.  Skipped by scikit-learn itself here: the array-API
    check (needs SCIPY_ARRAY_API); the pandas checks run (pandas is in the test extra).  The
    multi-class checks that cannot apply are in NOT_APPLICABLE_MULTICLASS.
    """
    from sklearn.utils.estimator_checks import estimator_checks_generator

    program_at = {"rms_error": linear_regression, "accuracy": neural_net,
                  "multiclass": neural_net_multiclass}[eval_type]
    if eval_type == "rms_error":
        program_at = lambda f: replace(linear_regression(), memory=Memory(4, 3, 1, f))  # noqa: E731
    made = {}

    def estimator(features, classes=K):
        key = (features, min(classes, features))
        if key not in made:
            made[key] = _export_for_checks(program_at, eval_type, *key, tmp_path)
        return made[key]

    failures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _, check in estimator_checks_generator(estimator(4), legacy=True):
            name = getattr(check, "func", check).__name__
            features, classes, error = 4, K, None
            for _ in range(4):
                try:
                    check(estimator(features, classes))
                    error = None
                    break
                except Exception as exc:  # noqa: BLE001 - the message decides what happens
                    if type(exc).__name__ == "SkipTest":
                        error = None
                        break
                    error = exc
                    text = " ".join(str(e) for e in (exc, exc.__cause__, exc.__context__))
                    wrong_f = re.search(r"X has (\d+) features, but", text)
                    wrong_k = re.search(r"needs samples of 2 to \d+ classes, got (\d+)", text)
                    if wrong_f and int(wrong_f.group(1)) != features:
                        features = int(wrong_f.group(1))
                    elif wrong_k and int(wrong_k.group(1)) <= features and int(wrong_k.group(1)) != classes:
                        classes = int(wrong_k.group(1))
                    else:
                        break
            if error is not None and not (eval_type == "multiclass"
                                          and name in NOT_APPLICABLE_MULTICLASS):
                failures.append(f"{name} (F={features}): {str(error)[:300]}")
    assert not failures, "\n".join(failures)


# ---- refusing injected code ------------------------------------------------------------------

GOOD = json.loads(json.dumps(linear_regression().to_json()))


def _variant(path: tuple, value) -> str:
    doc = json.loads(json.dumps(GOOD))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(doc)


INJECTIONS = [
    ("op name", ("learn", 0, "op"), 'SCALAR_SUM_OP"); import os; os.system("id'),
    ("op name with newline", ("predict", 0, "op"), "VECTOR_INNER_PRODUCT_OP\nimport os"),
    ("address as string", ("learn", 0, "in1"), "0]; import os; s[0"),
    ("address as code", ("learn", 1, "out"), "__import__('os')"),
    ("out as float", ("learn", 1, "out"), 3.5),
    ("data as string", ("setup", 0, "data"), ["0.001); import os; (", 0, 0, 0]),
    ("unknown field", ("learn", 0, "code"), "import os"),
    ("memory as string", ("memory", "features"), "4; import os"),
]

# Provenance text is escaped into the docstring, never refused: a config may be named
# anything (``Anna's tiny run``, ``exp#1``), and none of it may become code.
META_INJECTIONS = [
    ("apostrophe", {"config_name": "Anna's tiny run"}),
    ("hash", {"config_name": "exp#1"}),
    ("non-ASCII", {"config_name": "Zürich über alles"}),
    ("bidi override", {"config_name": "ok\u202e\nimport os #"}),
    ("terminal escape", {"task": "\x1b[2J\x1b[31mred"}),
    ("quote", {"task": 'linear"; import os; "'}),
    ("newline", {"config_name": "demo\nimport os"}),
    ("triple quote", {"task": 'x"""\nimport os\n"""'}),
    ("single triple quote", {"task": "x'''\nimport os"}),
    ("backslash", {"task": "x\\"}),
    ("nested", {"task": {"features": 4, "name": 'ok"); import os; ("'}}),
    ("key", {'seed"\nimport os': 1}),
    ("unknown key value", {"note": '"""; import os'}),
]


@pytest.mark.parametrize("label,path,value", INJECTIONS, ids=[i[0] for i in INJECTIONS])
def test_program_file_injections_are_refused(label, path, value):
    with pytest.raises(ProgramError):
        export_program(loads(_variant(path, value)))


@pytest.mark.parametrize("label,meta", META_INJECTIONS, ids=[m[0] for m in META_INJECTIONS])
def test_meta_text_is_escaped_into_the_docstring(label, meta):
    program_file = _variant(("meta",), meta)
    for text in (export_program(loads(program_file)),
                 export_program(linear_regression(), provenance=meta)):
        tree = ast.parse(text)
        # The docstring is the module's first statement and the imports follow it: no text
        # from meta ended the docstring or became a statement.
        assert isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[1], ast.Import)
        imports = {alias.name for node in ast.walk(tree)
                   if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
        assert imports <= {"math", "sys", "warnings", "numpy", "sklearn.utils", "RegressorTags",
                           "InputTags", "Tags", "TargetTags"}, imports
        doc = ast.get_docstring(tree, clean=False)
        for key, label_text in (("config_name", "config"), ("task", "task")):
            if isinstance(meta.get(key), str):   # it reads back as given
                assert f"{label_text}: {meta[key]}\n" in doc
        assert all(line.isprintable() for line in text.splitlines())   # escapes in the file


def test_safe_meta_is_written_and_long_text_truncated():
    text = export_program(linear_regression(), provenance={
        "task": "a" * 200, "config_name": "runs/demo-1.toml", "note": "not written"})
    assert "task: " + "a" * 77 + "..." in text and "config: runs/demo-1.toml" in text
    assert "not written" not in text
    text = export_program(linear_regression(), provenance={"select_fitness": float("inf")})
    assert "select fitness: inf\n" in text    # (program files refuse non-finite numbers)


def test_forged_op_rows_and_bad_options_are_refused():
    evil = replace(ops.lookup("SCALAR_SUM_OP"), numpy="O = __import__('os').getcwd()")
    program = linear_regression()
    forged = program.with_components(program.setup, (Instruction(evil, 0, 1, 1),), program.learn)
    with pytest.raises(ProgramError, match="not a row of the op table"):
        export_program(forged)
    for name in ("Evil(); import os", "class", "_Private", "Ünïcode", ""):
        with pytest.raises(ExportError, match="class name"):
            export_program(program, class_name=name)
    with pytest.raises(ExportError, match="name_registers"):
        export_program(program, name_registers="fancy")
    with pytest.raises(ProgramError, match="num_classes"):
        export_program(program, eval_type="multiclass")
    with pytest.raises(ProgramError, match="eval type"):
        export_program(program, eval_type="ranking")


@pytest.mark.parametrize("name,why", [
    ("np", "the import of numpy"), ("math", "the import of math"), ("setup", "a function"),
    ("predict", "a function"), ("train_step", "a function"), ("learn", "a function"),
    ("NotFittedError", "a class"), ("N_FEATURES", "a module constant"),
    ("LEARNING_RATE", "a module constant"), ("int", "a Python builtin"),
    ("ValueError", "a Python builtin"), ("lambda", "a Python keyword"),
    ("match", "a Python keyword")])
def test_class_names_that_would_break_the_module_are_refused(name, why):
    """A class named like something the module defines or uses would replace it: `np`,
    `setup`, `predict` and `train_step` wrote modules that failed on import or on use."""
    with pytest.raises(ExportError) as info:
        export_program(linear_regression(), class_name=name)
    message = str(info.value)
    assert why in message and "\n" not in message and "e.g. LinearLearner" in message
    assert "class LinearLearner(" in export_program(linear_regression(), class_name="LinearLearner")


def test_generated_code_holds_only_numbers_from_the_program():
    """Every literal in the kernels is a number; no string from the program file appears."""
    rng = np.random.default_rng(3)
    for i in range(20):
        text = export_program(random_program(rng, "rms_error"))
        kernels = text[text.index("# ---- the evolved program"):text.index("# ---- functional API")]
        module = cst.parse_module(textwrap.dedent(kernels))
        strings = [n.value for n in _strings(module)]
        assert all(s.startswith('"""') for s in strings), strings


def _strings(node):
    found = []

    class Visitor(cst.CSTVisitor):
        def visit_SimpleString(self, n):
            found.append(n)

    node.visit(Visitor())
    return found
