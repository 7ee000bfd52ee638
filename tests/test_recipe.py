"""The reference's data recipe (generate_datasets.py): projected, standardized, stratified splits
as the reference makes them, and their cache."""
import numpy as np
import pytest
from data_helpers import binary, fresh_cache  # noqa: F401
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from azcompile.eval_type import ACCURACY
from azcompile.search.data import cache, recipe
from azcompile.search.data.sources import load_source


def reference_recipe(pos, neg, seed, features, per_class=None):
    """generate_datasets.py, step by step, on the digits."""
    x, y = load_digits(return_X_y=True)
    xp, xn = x[y == pos][:per_class], x[y == neg][:per_class]
    data = np.concatenate([xp, xn])
    labels = np.concatenate([np.ones(len(xp)), np.zeros(len(xn))])
    n = len(labels)
    n_test = n_valid = int(round(0.1 * n))
    n_train = n - n_test - n_valid
    tr, te, ytr, yte = train_test_split(data, labels, train_size=n_train + n_valid,
                                        test_size=n_test, random_state=seed, stratify=labels)
    tr, va, ytr, yva = train_test_split(tr, ytr, train_size=n_train, test_size=n_valid,
                                        random_state=seed, stratify=ytr)
    state = np.random.get_state()
    np.random.seed(seed)
    matrix = np.random.randn(data.shape[1], features)
    np.random.set_state(state)
    scaler = StandardScaler().fit(tr @ matrix)
    f32 = lambda a: scaler.transform(a @ matrix).astype(np.float32).astype(np.float64)  # noqa: E731
    return f32(tr), ytr, f32(va), yva, f32(te), yte


@pytest.mark.parametrize("per_class", [None, 50])
def test_binary_task_follows_the_reference_recipe(per_class):
    xtr, ytr, xva, yva, xte, yte = reference_recipe(3, 8, 7, 16, per_class)
    opts = {} if per_class is None else {"examples_per_class": per_class}
    task = binary(n_train=len(ytr), n_valid=len(yva), data_seed=7, positive_class=3,
                  negative_class=8, **opts)
    assert task.info["projection_seed"] == 7 and task.name == "binary_digits-pos_3-neg_8-dim_16-seed_7"
    np.testing.assert_allclose(task.x_train, xtr, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(task.x_valid, xva, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(task.x_test, xte, rtol=1e-6, atol=1e-6)
    assert np.array_equal(task.y_train, ytr) and np.array_equal(task.y_valid, yva)
    assert np.array_equal(task.y_test, yte)


def test_projected_splits_are_standardized_stratified_and_prefixed():
    prep = recipe.prepare(load_source(), (0, 1), (1, 0), seed=4, features=8)
    np.testing.assert_allclose(prep.x_train.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(prep.x_train.std(axis=0), 1.0, atol=1e-5)
    overall = np.concatenate([prep.y_train, prep.y_valid, prep.y_test]).mean()
    for ys in (prep.y_train, prep.y_valid, prep.y_test):
        assert abs(ys.sum() - overall * len(ys)) <= 1.0   # stratified to within one example
    task = binary(features=8, n_train=100, n_valid=20, data_seed=4, positive_class=0,
                  negative_class=1, max_supported_data_seed=10)
    assert task.x_train.shape == (100, 8) and task.x_valid.shape == (20, 8)
    assert np.array_equal(task.x_train, prep.x_train[:100])     # the reference reads a prefix
    assert task.eval_type == ACCURACY and task.num_classes == 0


def test_prepared_tasks_are_cached():
    binary(data_seed=3, positive_class=0, negative_class=1)
    n = len(cache.PREPARED)
    binary(data_seed=13, positive_class=0, negative_class=1, n_train=50)   # same seed 3, smaller
    assert len(cache.PREPARED) == n
    binary(data_seed=3, positive_class=0, negative_class=1, features=8)
    assert len(cache.PREPARED) == n + 1
