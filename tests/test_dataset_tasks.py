"""The dataset task types: options checked with useful messages, tasks built from specs."""
import numpy as np
import pytest
from data_helpers import BINARY, MULTI, binary, fresh_cache, multi  # noqa: F401

from azcompile.eval_type import ACCURACY, MULTICLASS, RMS_ERROR
from azcompile.search.data.datafiles import DatasetError
from azcompile.search.data.dataset_tasks import projected_binary_task, projected_multiclass_task
from azcompile.search.data.registry import build_tasks
from azcompile.search.data.tasks import TaskError, TaskSpec


def test_user_data_becomes_projected_tasks(tmp_path):
    rng = np.random.RandomState(1)
    y = np.arange(300) % 3
    x = rng.randn(300, 10) + y[:, None]
    np.savez(tmp_path / "d.npz", X=x, y=y)
    task = binary(features=4, n_train=150, n_valid=20, path=str(tmp_path / "d.npz"),
                  positive_class=2, negative_class=0)
    assert task.x_train.shape == (150, 4) and set(task.y_train) == {0.0, 1.0}
    m = multi(features=4, n_train=200, n_valid=30, path=str(tmp_path / "d.npz"))
    assert m.num_classes == 3 and set(m.y_train) == {0.0, 1.0, 2.0}


def test_multiclass_task():
    t = multi(n_train=1200, n_valid=180, data_seed=1003)
    assert t.eval_type == MULTICLASS and t.num_classes == 10
    assert t.info["projection_seed"] == 1003 % 1000
    assert set(np.unique(t.y_train)) == set(range(10)) and len(t.x_test) == 0   # no test split
    counts = np.bincount(t.y_valid.astype(int), minlength=10)
    assert counts.min() >= 17 and counts.max() <= 19   # stratified: 1797 digits, 180 valid
    sub = multi(features=4, n_train=100, n_valid=20, classes=[7, 2, 5])
    assert sub.num_classes == 3 and sub.info["classes"] == [7, 2, 5]


def test_few_shot_and_fast_training_variants():
    few = build_tasks([TaskSpec(BINARY, 16, 80, 30, num_train_epochs=100, eval_type=ACCURACY,
                                options={"positive_class": 0, "negative_class": 1})])[0]
    assert few.n_train == 80 and few.max_train_steps == 8000 and len(few.order) == 8000
    assert sorted(few.order[80:160]) == list(range(80))      # each epoch is a permutation
    fast = build_tasks([TaskSpec(MULTI, 16, 800, 100, num_train_epochs=10, eval_type=MULTICLASS)])[0]
    assert fast.n_train == 800 and fast.max_train_steps == 8000


@pytest.mark.parametrize("kwargs, error, match", [
    ({"colour": "red"}, TaskError, r"unknown option\(s\) \['colour'\]"),
    ({"positive_class": 1}, TaskError, "both positive_class and negative_class"),
    ({"positive_class": 1, "negative_class": 1}, TaskError, "must differ"),
    ({"positive_class": 1, "negative_class": 12}, DatasetError, "class 12 has no examples"),
    ({"positive_class": "1", "negative_class": 2}, TaskError, "positive_class must be an integer"),
    ({"held_out_pairs": [[1, 2, 3]]}, TaskError, "list of class pairs"),
    ({"pairs": [[0, 1]], "held_out_pairs": [[1, 0]]}, DatasetError, "no class pair left"),
    ({"pairs": "most"}, TaskError, "'all', 'search', 'held_out'"),
    ({"dataset": "imagenet"}, DatasetError, "unknown dataset 'imagenet'"),
    ({"min_supported_data_seed": 5, "max_supported_data_seed": 5}, TaskError, "min_supported"),
    ({"valid_fraction": 1.5}, TaskError, r"valid_fraction must be a number in \[0, 1\)"),
    ({"n_train": 5000}, DatasetError, "too few examples: asked for 5000 train"),
    ({"n_valid": 500}, DatasetError, "too few examples.*num_valid_examples"),
    ({"examples_per_class": 3, "positive_class": 0, "negative_class": 1, "n_train": 3,
      "n_valid": 1}, DatasetError, "too few examples for a stratified split"),
    ({"split": "test"}, DatasetError, "digits dataset has no test split"),
    ({"label_column": "y"}, DatasetError, "for user files"),
    ({"label_column": ["y"]}, DatasetError, "label_column must be a column name or number"),
    ({"features": 0}, TaskError, "features_size must be an integer >= 1"),
    ({"positive_class": 0, "negative_class": 1, "held_out_pairs": [[1]]}, TaskError,
     "list of class pairs"),
])
def test_bad_binary_specs(kwargs, error, match):
    with pytest.raises(error, match=match):
        binary(**kwargs)


def test_bad_eval_types_and_multiclass_specs():
    with pytest.raises(TaskError, match="eval_type = 'accuracy'"):
        projected_binary_task(16, 100, 20, 0, 0, 1, RMS_ERROR)
    with pytest.raises(TaskError, match="eval_type = 'multiclass'"):
        projected_multiclass_task(16, 100, 20, 0, 0, 1, ACCURACY)
    with pytest.raises(DatasetError, match="features_size 8 < 10 classes"):
        multi(features=8)
    with pytest.raises(TaskError, match=r"unknown option\(s\) \['positive_class'\]"):
        multi(positive_class=1)
    with pytest.raises(DatasetError, match=r"classes \[11\] have no examples"):
        multi(classes=[1, 11])
    with pytest.raises(TaskError, match="at least two distinct"):
        multi(classes=[1, 1])


def test_dataset_error_is_a_task_error():
    assert issubclass(DatasetError, TaskError)


def test_huge_features_give_one_error_and_no_warning(tmp_path, recwarn):
    path = tmp_path / "huge.csv"
    path.write_text("".join(f"1e308,{i},{i % 2}\n" for i in range(50)))
    with pytest.raises(DatasetError, match=r"features as large as 1e\+308 .*rescale"):
        binary(features=2, n_train=20, n_valid=5, path=str(path))
    assert not recwarn.list                # used to print five RuntimeWarnings first
