"""Datasets: file formats read back exactly, bad data refused with useful messages, and
projected tasks prepared by the reference's recipe (generate_datasets.py)."""
import gzip
import os
import re
import pickle
import struct

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from azcompile.engine import ACCURACY, MULTICLASS, RMS_ERROR
from azcompile.search.data import datasets as D
from azcompile.search.data.datasets import DatasetError
from azcompile.search.data.tasks import TASK_TYPES, TaskError, TaskSpec, build_tasks

BINARY = "projected_binary_classification"
MULTI = "projected_multiclass_classification"


@pytest.fixture(autouse=True)
def fresh_cache():
    D.clear_cache()
    yield
    D.clear_cache()


def binary(features=16, n_train=200, n_valid=30, data_seed=0, epochs=1, **options):
    return D.projected_binary_task(features, n_train, n_valid, data_seed, 0, epochs, ACCURACY,
                                   **options)


def multi(features=16, n_train=1000, n_valid=100, data_seed=0, epochs=1, **options):
    return D.projected_multiclass_task(features, n_train, n_valid, data_seed, 0, epochs,
                                       MULTICLASS, **options)


# --- miniature files in the standard formats ---------------------------------------------------

def write_idx(path, array, gz):
    payload = (bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
               + np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    path.write_bytes(gzip.compress(payload) if gz else payload)


def make_idx_dataset(folder, gz=True, per_class=20, seed=0):
    """train + t10k images/labels; labels cycle 0..9 so every class has per_class examples."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    out = {}
    for prefix, n in (("train", 10 * per_class), ("t10k", 30)):
        images = rng.randint(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
        out[prefix] = (images, labels)
    return out


def make_cifar(folder, binary_format=False, per_batch=20, seed=0):
    """cifar-10-batches-py (pickled dicts with bytes keys, as the Python 2 originals load
    with encoding='bytes') or cifar-10-batches-bin (3073-byte records)."""
    sub = folder / ("cifar-10-batches-bin" if binary_format else "cifar-10-batches-py")
    sub.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.randint(0, 256, (per_batch, 3072)).astype(np.uint8)
        labels = [int(i % 10) for i in range(per_batch)]
        batches[name] = (data, labels)
        if binary_format:
            records = np.concatenate([np.array(labels, np.uint8)[:, None], data], axis=1)
            (sub / f"{name}.bin").write_bytes(records.tobytes())
        else:
            batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                     b"filenames": [b"x.png"] * per_batch}
            (sub / name).write_bytes(pickle.dumps(batch, protocol=2))
    return batches


# --- IDX ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_read_back_exactly(tmp_path, gz):
    written = make_idx_dataset(tmp_path, gz=gz)
    images, labels = written["train"]
    assert np.array_equal(D.read_idx(tmp_path / f"train-images-idx3-ubyte{'.gz' if gz else ''}"), images)
    src = D.load_source("mnist", data_dir=tmp_path)
    assert src.x.shape == (200, 784) and np.array_equal(src.x, images.reshape(200, -1))
    assert np.array_equal(src.y, labels)
    test = D.load_source("fashion_mnist", data_dir=tmp_path, split="test")
    assert np.array_equal(test.x, written["t10k"][0].reshape(30, -1))


def test_idx_found_in_torchvision_layout(tmp_path):
    make_idx_dataset(tmp_path / "MNIST" / "raw")
    assert D.load_source("mnist", data_dir=tmp_path).x.shape == (200, 784)


def test_missing_idx_file_names_file_folder_and_url(tmp_path):
    with pytest.raises(DatasetError) as err:
        D.load_source("mnist", data_dir=tmp_path)
    msg = str(err.value)
    assert "train-images-idx3-ubyte" in msg and str(tmp_path) in msg and "https://" in msg


def test_missing_data_dir_suggests_digits():
    with pytest.raises(DatasetError, match="data_dir.*digits"):
        D.load_source("mnist")
    with pytest.raises(DatasetError, match="not a folder"):
        D.load_source("cifar10", data_dir="/nonexistent/azc")


def test_bad_idx_files(tmp_path):
    make_idx_dataset(tmp_path, gz=False)
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">3I", 200, 28, 28) + b"\x00" * 100)
    with pytest.raises(DatasetError, match="truncated"):
        D.load_source("mnist", data_dir=tmp_path)
    images.write_bytes(b"PK\x03\x04 not idx at all")
    with pytest.raises(DatasetError, match="not an IDX file"):
        D.read_idx(images)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"\x00" * 1000)[:20])
    with pytest.raises(DatasetError, match="corrupt gzip"):
        D.read_idx(broken)


def test_idx_labels_out_of_range(tmp_path):
    make_idx_dataset(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(200) % 12).astype(np.uint8), False)
    with pytest.raises(DatasetError, match="labels out of range.*0..9"):
        D.load_source("mnist", data_dir=tmp_path)


def test_idx_mismatched_lengths(tmp_path):
    make_idx_dataset(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(150) % 10).astype(np.uint8), False)
    with pytest.raises(DatasetError, match="mismatched lengths: 200 .* 150"):
        D.load_source("mnist", data_dir=tmp_path)


# --- CIFAR-10 ----------------------------------------------------------------------------------

def test_cifar_pickle_batches_read_back_as_hwc(tmp_path):
    batches = make_cifar(tmp_path)
    src = D.load_source("cifar10", data_dir=tmp_path)
    raw = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    assert src.x.shape == (100, 3072) and src.x.dtype == np.uint8
    # Stored channel-major (R plane, G plane, B plane); read as TFDS flattens (h, w, c).
    n, h, w, c = 7, 5, 9, 2
    assert src.x[n, (h * 32 + w) * 3 + c] == raw[n, c * 1024 + h * 32 + w]
    assert np.array_equal(src.y, np.tile(np.arange(10), 10))
    assert D.load_source("cifar10", data_dir=tmp_path / "cifar-10-batches-py", split="test").x.shape == (20, 3072)


def test_cifar_binary_equals_pickle(tmp_path):
    make_cifar(tmp_path / "a", seed=3)
    make_cifar(tmp_path / "b", binary_format=True, seed=3)
    a = D.load_source("cifar10", data_dir=tmp_path / "a")
    b = D.load_source("cifar10", data_dir=tmp_path / "b")
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_cifar_pickle_cannot_run_code(tmp_path, monkeypatch):
    make_cifar(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(pickle.dumps({b"data": _Exploit(), b"labels": []}, protocol=2))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError, match="not a CIFAR-10 python batch.*not allowed"):
        D.load_source("cifar10", data_dir=tmp_path)
    assert not (tmp_path / "pwned").exists()


def test_cifar_missing_and_malformed_files(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"data_batch_1.*tar xzf cifar-10-python.tar.gz.*cs.toronto.edu"):
        D.load_source("cifar10", data_dir=tmp_path)
    make_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").unlink()
    with pytest.raises(DatasetError, match="data_batch_4 not found"):
        D.load_source("cifar10", data_dir=tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(DatasetError, match="dict with 'data' and 'labels'"):
        D.load_source("cifar10", data_dir=tmp_path)
    make_cifar(tmp_path / "bin", binary_format=True)
    (tmp_path / "bin" / "cifar-10-batches-bin" / "data_batch_2.bin").write_bytes(b"\x01" * 3000)
    with pytest.raises(DatasetError, match="3073 bytes"):
        D.load_source("cifar10", data_dir=tmp_path / "bin")


# --- user data ---------------------------------------------------------------------------------

def test_csv_with_header_and_named_label_column(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("label,a,b\n1,0.5,2\n0,1.5,3\n\n2,2.5,4\n")
    src = D.load_source(path=path, label_column="label")
    assert np.array_equal(src.x, [[0.5, 2], [1.5, 3], [2.5, 4]]) and np.array_equal(src.y, [1, 0, 2])
    D.clear_cache()
    src = D.load_source(path=path, label_column=0)
    assert np.array_equal(src.y, [1, 0, 2])


def test_csv_without_header_uses_last_column(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("0.5,2,1\n1.5,3,0\n")
    src = D.load_source(path=path)
    assert np.array_equal(src.x, [[0.5, 2], [1.5, 3]]) and np.array_equal(src.y, [1, 0])


@pytest.mark.parametrize("text, label_column, match", [
    ("a,b,y\n1,2,0\n1,x,1\n", None, r"line 3, column 'b': 'x' is not a number"),
    ("a,b,y\n1,2,0\n1,2\n", None, "line 3 has 2 fields, expected 3"),
    ("a,b,y\n1,nan,0\n1,2,1\n", None, "NaN or inf .* row 0, column 1"),
    ("a,b,y\n1,inf,0\n1,2,1\n", None, "NaN or inf"),
    ("a,b,y\n1,2,cat\n1,2,dog\n", None, "not a number.*map class names to integers"),
    ("a,b,y\n1,2,0\n1,2,0\n", None, "one class only"),
    ("a,b,y\n1,2,0\n1,2,-1\n", None, "labels out of range"),
    ("a,b,y\n1,2,0\n1,2,0.5\n", None, "labels out of range"),
    ("a,b,y\n1,2,0\n1,2,1\n", "label", "no column named 'label'"),
    ("1,2,0\n1,2,1\n", "y", "no header row"),
    ("1,2,0\n1,2,1\n", 5, "label_column must be"),
    ("", None, "empty"),
])
def test_bad_csv(tmp_path, text, label_column, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DatasetError, match=match):
        D.load_source(path=path, label_column=label_column)


def test_npy_pair_and_npz(tmp_path):
    x = np.random.RandomState(0).randn(40, 5)
    y = np.arange(40) % 3
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "d.npz", X=x, y=y)
    a = D.load_source(path=tmp_path / "x.npy", labels_path=tmp_path / "y.npy")
    b = D.load_source(path=tmp_path / "d.npz")
    assert np.array_equal(a.x, x) and np.array_equal(b.x, x) and np.array_equal(a.y, b.y)
    # Images stored as (n, h, w) are flattened.
    np.savez(tmp_path / "img.npz", X=np.zeros((4, 2, 3)) + np.arange(4)[:, None, None], y=[0, 1, 0, 1])
    assert D.load_source(path=tmp_path / "img.npz").x.shape == (4, 6)


def test_bad_numpy_files(tmp_path):
    np.savez(tmp_path / "keys.npz", features=np.zeros((3, 2)), labels=[0, 1, 0])
    with pytest.raises(DatasetError, match=r"needs arrays 'X'.*'features', 'labels'"):
        D.load_source(path=tmp_path / "keys.npz")
    np.savez(tmp_path / "short.npz", X=np.zeros((10, 2)), y=np.arange(9) % 2)
    with pytest.raises(DatasetError, match="mismatched lengths: 10 feature rows but 9 labels"):
        D.load_source(path=tmp_path / "short.npz")
    np.save(tmp_path / "x.npy", np.zeros((4, 2)))
    with pytest.raises(DatasetError, match="labels_path"):
        D.load_source(path=tmp_path / "x.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="object arrays are refused"):
        D.load_source(path=tmp_path / "x.npy", labels_path=tmp_path / "obj.npy")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="cannot read"):
        D.load_source(path=tmp_path / "junk.npz")
    (tmp_path / "data.parquet").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"\.csv, \.npy or \.npz"):
        D.load_source(path=tmp_path / "data.parquet")
    with pytest.raises(DatasetError, match="not found"):
        D.load_source(path=tmp_path / "nope.csv")
    np.savez(tmp_path / "onehot.npz", X=np.zeros((3, 2)), y=np.eye(3))
    with pytest.raises(DatasetError, match="one class id per example.*argmax"):
        D.load_source(path=tmp_path / "onehot.npz")


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


# --- the recipe --------------------------------------------------------------------------------

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
    prep = D.prepare(D.load_source(), (0, 1), (1, 0), seed=4, features=8)
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


def test_fixed_pair_seed_rule_and_determinism():
    a = binary(data_seed=23, positive_class=1, negative_class=7, min_supported_data_seed=5,
               max_supported_data_seed=15)
    assert a.info["projection_seed"] == 5 + 23 % 10
    D.clear_cache()
    b = binary(data_seed=23, positive_class=1, negative_class=7, min_supported_data_seed=5,
               max_supported_data_seed=15)
    c = binary(data_seed=24, positive_class=1, negative_class=7, min_supported_data_seed=5,
               max_supported_data_seed=15)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_valid, b.y_valid)
    assert not np.array_equal(a.x_train, c.x_train)


def test_prepared_tasks_are_cached():
    binary(data_seed=3, positive_class=0, negative_class=1)
    n = len(D._PREPARED)
    binary(data_seed=13, positive_class=0, negative_class=1, n_train=50)   # same seed 3, smaller
    assert len(D._PREPARED) == n
    binary(data_seed=3, positive_class=0, negative_class=1, features=8)
    assert len(D._PREPARED) == n + 1


def test_hash_mix_matches_the_reference():
    # Values printed by the reference's HashMix (definitions.h) compiled with g++.
    assert D.hash_mix(1, 2) == 4095696974
    assert D.hash_mix(856572777, 11001) == 3893094001
    assert D.hash_mix(856572777, 0) == 2254264047
    assert D.hash_mix(4000000000, 7) == 487685854


def test_pair_split_36_9():
    search, held = D.pair_split()
    assert len(search) == 36 and len(held) == 9
    assert set(held) == {tuple(sorted(p)) for p in D.RECOMMENDED_HELD_OUT_PAIRS}
    assert not set(search) & set(held) and len(set(search) | set(held)) == 45


def test_drawn_pairs_respect_held_out_pairs_and_seed_range():
    held = set(D.RECOMMENDED_HELD_OUT_PAIRS)
    seen = set()
    for seed in range(60):
        t = binary(data_seed=seed, held_out_pairs=[list(p) for p in held],
                   min_supported_data_seed=20, max_supported_data_seed=25)
        pair = (t.info["positive_class"], t.info["negative_class"])
        assert pair not in held and pair[0] < pair[1]
        assert 20 <= t.info["projection_seed"] < 25
        seen.add(pair)
    assert len(seen) > 20   # uniform over 36 pairs: 60 draws cover most of them
    for seed in range(10):
        t = binary(data_seed=seed, pairs="held_out")
        assert (t.info["positive_class"], t.info["negative_class"]) in held
    again = binary(data_seed=5, pairs="search")
    assert again.name == binary(data_seed=5, held_out_pairs=[list(p) for p in held]).name


def test_task_types_are_registered_and_build_from_specs():
    assert TASK_TYPES[BINARY] is D.projected_binary_task and TASK_TYPES[MULTI] is D.projected_multiclass_task
    specs = [TaskSpec(BINARY, 8, 100, 20, num_tasks=3, eval_type=ACCURACY,
                      options={"pairs": "search"}),
             TaskSpec(MULTI, 16, 500, 50, num_tasks=2, eval_type=MULTICLASS,
                      options={"classes": [0, 1, 2, 3]})]
    tasks = build_tasks(specs)
    assert [t.features for t in tasks] == [8, 8, 8, 16, 16]
    assert tasks[3].num_classes == 4 and set(tasks[3].y_train) == {0.0, 1.0, 2.0, 3.0}


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


# --- bad specs and bad data, caught before any search --------------------------------------------

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
        D.projected_binary_task(16, 100, 20, 0, 0, 1, RMS_ERROR)
    with pytest.raises(TaskError, match="eval_type = 'multiclass'"):
        D.projected_multiclass_task(16, 100, 20, 0, 0, 1, ACCURACY)
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


# --- labels, class counts and paths that are not data files ------------------------------------

@pytest.mark.parametrize("label, shown", [("1e300", "1e+300"), ("9223372036854775808", "9.22"),
                                          ("1e19", "1e+19"), ("2147483648", "2147483648")])
def test_huge_csv_labels_are_refused_not_wrapped(tmp_path, label, shown):
    # 1e300 used to become class -9223372036854775808 (astype int64 wraps) and the run went on.
    path = tmp_path / "big.csv"
    path.write_text("a,b,y\n1,2,0\n3,4,1\n5,6," + label + "\n")
    with pytest.raises(DatasetError, match=rf"labels out of range: label {re.escape(shown)}.* at "
                                           "line 4"):
        D.load_source(path=path)


def test_uint64_labels_are_refused_not_wrapped(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((4, 2)), y=np.array([0, 1, 1, 2 ** 63], np.uint64))
    with pytest.raises(DatasetError, match="labels out of range.*at row 3"):
        D.load_source(path=tmp_path / "d.npz")


def test_too_many_classes_are_refused_before_any_pair_is_built(tmp_path, monkeypatch):
    # 20,000 labels used to build all 2e8 class pairs and exhaust memory.
    path = tmp_path / "ids.csv"
    path.write_text("".join(f"{i % 7},{i}\n" for i in range(20000)))
    monkeypatch.setattr(D, "all_pairs", lambda classes: pytest.fail("pairs were built"))
    with pytest.raises(DatasetError, match=r"20000 distinct labels.*limit of 1000 classes"):
        binary(path=str(path))
    assert D.MAX_CLASSES == 1000


def test_pairs_are_built_from_the_classes_present_only(tmp_path, monkeypatch):
    # pairs = 'search' used to enumerate every pair of range(max label + 1).
    path = tmp_path / "sparse.csv"
    path.write_text("".join(f"{i % 5}.5,{i % 3},{(i % 2) * 2_000_000_000}\n" for i in range(60)))
    built = []
    real = D.all_pairs
    monkeypatch.setattr(D, "all_pairs", lambda classes: built.append(len(classes)) or real(classes))
    task = binary(features=2, n_train=30, n_valid=5, path=str(path), pairs="search")
    assert built == [2]
    assert (task.info["positive_class"], task.info["negative_class"]) == (0, 2_000_000_000)


def test_huge_features_give_one_error_and_no_warning(tmp_path, recwarn):
    path = tmp_path / "huge.csv"
    path.write_text("".join(f"1e308,{i},{i % 2}\n" for i in range(50)))
    with pytest.raises(DatasetError, match=r"features as large as 1e\+308 .*rescale"):
        binary(features=2, n_train=20, n_valid=5, path=str(path))
    assert not recwarn.list                # used to print five RuntimeWarnings first


@pytest.mark.parametrize("make, words", [
    (lambda path: "/dev/null", "is a character device, not a regular file"),
    (lambda path: path.mkdir(), "is a directory"),
    (os.mkfifo, "is a named pipe"),
    (lambda path: path.write_bytes(b""), "is empty"),
    (lambda path: None, "not found"),
])
def test_paths_that_are_not_data_files_say_what_they_are(tmp_path, make, words):
    # /dev/null used to be reported as "not found"; a FIFO would block the loader forever.
    path = tmp_path / "d.csv"
    special = make(path)
    with pytest.raises(DatasetError, match=words):
        D.load_source(path=special if isinstance(special, str) else path, dataset="csv")


def test_npy_header_is_checked_against_the_file_before_allocating(tmp_path, monkeypatch):
    from numpy.lib import format as npy_format

    with (tmp_path / "x.npy").open("wb") as f:
        npy_format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False,
                                              "shape": (2 ** 30, 4608)})    # 36 TiB
        f.write(b"\0" * 100)
    np.save(tmp_path / "y.npy", np.arange(4) % 2)
    monkeypatch.setattr(np, "fromfile", lambda *a, **k: pytest.fail("data was read"))
    with pytest.raises(DatasetError, match=r"declares shape \(1073741824, 4608\).*36\.0 TiB.*"
                                           r"holds 100 bytes"):
        D.load_source(path=tmp_path / "x.npy", labels_path=tmp_path / "y.npy")
