"""Baselines: hand-written programs in our IR that the engine runs like any evolved program."""
import numpy as np
import pytest

from azcompile.engine import run

from azcompile.eval_type import ACCURACY, MULTICLASS
from azcompile.search.data import baselines as B
from azcompile.search.data import pairs
from azcompile.search.data.dataset_tasks import projected_binary_task, projected_multiclass_task
from azcompile.search.data.tasks import TaskError

F = 16


def pair_task(pos, neg, data_seed=0, epochs=1, n_train=250, n_valid=35):
    return projected_binary_task(F, n_train, n_valid, data_seed, 0, epochs, ACCURACY,
                                 positive_class=pos, negative_class=neg)


def digits_multiclass(data_seed=0, epochs=3):
    return projected_multiclass_task(F, 1400, 170, data_seed, 0, epochs, MULTICLASS)


@pytest.mark.parametrize("name", sorted(B.BASELINES))
@pytest.mark.parametrize("features", [4, 16])
def test_baselines_are_valid_programs(name, features):
    program = B.BASELINES[name].build(features, lr=0.05).validate()
    assert program.memory.features == features and program.meta["lr"] == 0.05


def test_logistic_regression_is_sgd_on_the_log_loss():
    """The program computes exactly what a numpy SGD loop computes."""
    task = pair_task(2, 7)
    lr = 0.1
    result = run(B.logistic_regression(F, lr), task.x_train, task.y_train, task.x_valid,
                 task.y_valid, eval_type=ACCURACY, engine="interp")
    w, b = np.zeros(F), 0.0
    for x, y in zip(task.x_train, task.y_train):
        p = 1.0 / (1.0 + np.exp(-(np.dot(w, x) + b)))
        w, b = w + lr * (y - p) * x, b + lr * (y - p)
    np.testing.assert_allclose(result.valid_predictions[:, 0], task.x_valid @ w + b, rtol=1e-9, atol=1e-12)
    assert result.fitness == np.mean((task.x_valid @ w + b > 0) == (task.y_valid > 0.5))


def test_logistic_regression_solves_an_easy_digits_pair():
    task = pair_task(0, 1)
    result = run(B.logistic_regression(F, 0.1), task.x_train, task.y_train, task.x_valid,
                 task.y_valid, eval_type=ACCURACY, engine="interp")
    assert result.fitness > 0.9


def test_neural_net_learns_and_its_init_depends_on_the_seed():
    task = pair_task(0, 1, epochs=3)
    scores = B.evaluate(B.BASELINES["neural_net"], 0.03, [task, task])
    assert min(scores) > 0.85
    a, b = (run(B.neural_net(F), task.x_train, task.y_train, task.x_valid, task.y_valid,
                eval_type=ACCURACY, seed=s, engine="interp").valid_predictions for s in (0, 1))
    assert np.isfinite(a).all() and not np.array_equal(a, b)


def test_multiclass_baselines_beat_chance():
    task = digits_multiclass()
    soft = B.evaluate(B.BASELINES["softmax_regression"], 0.03, [task])[0]
    net = B.evaluate(B.BASELINES["softmax_neural_net"], 0.01, [task])[0]
    assert soft > 0.75 and net > 0.6    # chance is 0.1


def test_grid_search_picks_a_finite_lr_from_the_grid():
    tasks = [pair_task(3, 5, data_seed=s) for s in range(2)]
    lr, score = B.tune_lr(B.BASELINES["logistic_regression"], tasks, lrs=(1e-4, 1e-2, 1.0))
    assert lr in (1e-4, 1e-2, 1.0) and np.isfinite(lr) and 0.5 < score <= 1.0


def test_baseline_report_on_search_and_held_out_pairs():
    search, held = pairs.pair_split()
    tune = [pair_task(*p) for p in search[::6]]
    evaluate = [pair_task(*p) for p in held[:3]]
    rows = B.baseline_report(tune, evaluate, lrs=(0.01, 0.1))
    assert [r.name for r in rows] == ["logistic_regression", "neural_net"]
    for name, lr, mean, per_task in rows:
        assert lr in (0.01, 0.1) and len(per_task) == 3 and mean == pytest.approx(np.mean(per_task))
        assert mean > 0.75
    text = B.format_report(rows)
    assert "logistic_regression" in text and "neural_net" in text
    test_rows = B.baseline_report(tune, evaluate, ["logistic_regression"], lrs=(0.1,), split="test")
    assert len(test_rows) == 1 and len(test_rows[0].per_task) == 3


def test_multiclass_report_uses_multiclass_baselines():
    rows = B.baseline_report([digits_multiclass(1, epochs=1)], [digits_multiclass(2, epochs=1)],
                             lrs=(0.03,))
    assert [r.name for r in rows] == ["softmax_regression", "softmax_neural_net"]


def test_report_refuses_bad_requests():
    binary, multi = pair_task(0, 1), digits_multiclass(epochs=1)
    with pytest.raises(TaskError, match="unknown baseline 'svm'"):
        B.baseline_report([binary], [binary], ["svm"])
    with pytest.raises(TaskError, match="does not solve tasks"):
        B.baseline_report([multi], [multi], ["neural_net"])
    with pytest.raises(TaskError, match="mix eval types"):
        B.baseline_report([binary, multi], [binary])
    with pytest.raises(TaskError, match="same eval type"):
        B.baseline_report([binary], [multi])
    with pytest.raises(TaskError, match="at least one task"):
        B.baseline_report([], [binary])
    with pytest.raises(TaskError, match="split must be 'valid' or 'test'"):
        B.evaluate(B.BASELINES["neural_net"], 0.1, [binary], split="train")
    assert len(B.baseline_report([binary], [binary], "logistic_regression", lrs=(0.1,))) == 1
    with pytest.raises(TaskError, match="no test examples"):
        B.evaluate(B.BASELINES["softmax_regression"], 0.1, [multi], split="test")
    with pytest.raises(TaskError, match="does not solve tasks"):
        B.baseline_report([binary], [binary], ["linear_regression"])


# ---- regression configs and the azc baseline command ----------------------------------------

def test_regression_tasks_get_linear_regression_not_logistic():
    """The same linear program is logistic regression only on classification tasks."""
    from azcompile.search.data.synthetic import linear_task

    tasks = [linear_task(4, 100, 50, 11000 + i, 1000 + i) for i in range(2)]
    rows = B.baseline_report(tasks, tasks, lrs=(0.01, 0.1))
    assert [r.name for r in rows] == ["linear_regression", "neural_net"]
    assert rows[0].mean_accuracy > 0.99     # the demo's task is linear
    program = B.BASELINES["linear_regression"].build(4, lr=0.1)
    assert program.meta["baseline"] == "linear_regression"
    assert program.to_json()["setup"] == B.logistic_regression(4, 0.1).to_json()["setup"]


def test_baseline_command_on_the_demo(tmp_path):
    from tests.cli_checks import assert_user_error, run_azc

    refused = run_azc("baseline", "demo", "--split", "test")
    assert_user_error(refused, "select_tasks have no test examples", "only train and valid",
                      "--split valid")
    # The suggested command works; programs are scored beside the baselines, the same way.
    program = tmp_path / "linear.json"
    B.linear_regression(4, lr=0.1).save(program)
    done = run_azc("baseline", "demo", "--split", "valid", "--program", program)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["baseline", "lr", "mean", "min", "max", "tasks"]
    assert [line.split()[0] for line in lines[1:]] == ["linear_regression", "neural_net",
                                                        "linear.json"]
    assert lines[3].split()[1] == "-" and float(lines[3].split()[2]) > 0.99
