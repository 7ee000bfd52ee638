"""Sources and the data files they read: file formats read back exactly, bad data refused with
useful messages (the hostile corpus is in test_hostile_data.py)."""
import gzip
import os
import pickle
import re
import struct

import numpy as np
import pytest
from data_helpers import fresh_cache, make_cifar, make_idx_dataset, write_idx  # noqa: F401

from azcompile.search.data import cache
from azcompile.search.data.datafiles import DatasetError, read_idx
from azcompile.search.data.sources import load_source


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_read_back_exactly(tmp_path, gz):
    written = make_idx_dataset(tmp_path, gz=gz)
    images, labels = written["train"]
    assert np.array_equal(read_idx(tmp_path / f"train-images-idx3-ubyte{'.gz' if gz else ''}"), images)
    src = load_source("mnist", data_dir=tmp_path)
    assert src.x.shape == (200, 784) and np.array_equal(src.x, images.reshape(200, -1))
    assert np.array_equal(src.y, labels)
    test = load_source("fashion_mnist", data_dir=tmp_path, split="test")
    assert np.array_equal(test.x, written["t10k"][0].reshape(30, -1))


def test_idx_found_in_torchvision_layout(tmp_path):
    make_idx_dataset(tmp_path / "MNIST" / "raw")
    assert load_source("mnist", data_dir=tmp_path).x.shape == (200, 784)


def test_missing_idx_file_names_file_folder_and_url(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_source("mnist", data_dir=tmp_path)
    msg = str(err.value)
    assert "train-images-idx3-ubyte" in msg and str(tmp_path) in msg and "https://" in msg


def test_missing_data_dir_suggests_digits():
    with pytest.raises(DatasetError, match="data_dir.*digits"):
        load_source("mnist")
    with pytest.raises(DatasetError, match="not a folder"):
        load_source("cifar10", data_dir="/nonexistent/azc")


def test_bad_idx_files(tmp_path):
    make_idx_dataset(tmp_path, gz=False)
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">3I", 200, 28, 28) + b"\x00" * 100)
    with pytest.raises(DatasetError, match="truncated"):
        load_source("mnist", data_dir=tmp_path)
    images.write_bytes(b"PK\x03\x04 not idx at all")
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(images)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"\x00" * 1000)[:20])
    with pytest.raises(DatasetError, match="corrupt gzip"):
        read_idx(broken)


def test_idx_labels_out_of_range(tmp_path):
    make_idx_dataset(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(200) % 12).astype(np.uint8), False)
    with pytest.raises(DatasetError, match="labels out of range.*0..9"):
        load_source("mnist", data_dir=tmp_path)


def test_idx_mismatched_lengths(tmp_path):
    make_idx_dataset(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(150) % 10).astype(np.uint8), False)
    with pytest.raises(DatasetError, match="mismatched lengths: 200 .* 150"):
        load_source("mnist", data_dir=tmp_path)


def test_cifar_pickle_batches_read_back_as_hwc(tmp_path):
    batches = make_cifar(tmp_path)
    src = load_source("cifar10", data_dir=tmp_path)
    raw = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    assert src.x.shape == (100, 3072) and src.x.dtype == np.uint8
    # Stored channel-major (R plane, G plane, B plane); read as TFDS flattens (h, w, c).
    n, h, w, c = 7, 5, 9, 2
    assert src.x[n, (h * 32 + w) * 3 + c] == raw[n, c * 1024 + h * 32 + w]
    assert np.array_equal(src.y, np.tile(np.arange(10), 10))
    assert load_source("cifar10", data_dir=tmp_path / "cifar-10-batches-py", split="test").x.shape == (20, 3072)


def test_cifar_binary_equals_pickle(tmp_path):
    make_cifar(tmp_path / "a", seed=3)
    make_cifar(tmp_path / "b", binary_format=True, seed=3)
    a = load_source("cifar10", data_dir=tmp_path / "a")
    b = load_source("cifar10", data_dir=tmp_path / "b")
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
        load_source("cifar10", data_dir=tmp_path)
    assert not (tmp_path / "pwned").exists()


def test_cifar_missing_and_malformed_files(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"data_batch_1.*tar xzf cifar-10-python.tar.gz.*cs.toronto.edu"):
        load_source("cifar10", data_dir=tmp_path)
    make_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").unlink()
    with pytest.raises(DatasetError, match="data_batch_4 not found"):
        load_source("cifar10", data_dir=tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(DatasetError, match="dict with 'data' and 'labels'"):
        load_source("cifar10", data_dir=tmp_path)
    make_cifar(tmp_path / "bin", binary_format=True)
    (tmp_path / "bin" / "cifar-10-batches-bin" / "data_batch_2.bin").write_bytes(b"\x01" * 3000)
    with pytest.raises(DatasetError, match="3073 bytes"):
        load_source("cifar10", data_dir=tmp_path / "bin")


def test_csv_with_header_and_named_label_column(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("label,a,b\n1,0.5,2\n0,1.5,3\n\n2,2.5,4\n")
    src = load_source(path=path, label_column="label")
    assert np.array_equal(src.x, [[0.5, 2], [1.5, 3], [2.5, 4]]) and np.array_equal(src.y, [1, 0, 2])
    cache.clear()
    src = load_source(path=path, label_column=0)
    assert np.array_equal(src.y, [1, 0, 2])


def test_csv_without_header_uses_last_column(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("0.5,2,1\n1.5,3,0\n")
    src = load_source(path=path)
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
        load_source(path=path, label_column=label_column)


def test_npy_pair_and_npz(tmp_path):
    x = np.random.RandomState(0).randn(40, 5)
    y = np.arange(40) % 3
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "d.npz", X=x, y=y)
    a = load_source(path=tmp_path / "x.npy", labels_path=tmp_path / "y.npy")
    b = load_source(path=tmp_path / "d.npz")
    assert np.array_equal(a.x, x) and np.array_equal(b.x, x) and np.array_equal(a.y, b.y)
    # Images stored as (n, h, w) are flattened.
    np.savez(tmp_path / "img.npz", X=np.zeros((4, 2, 3)) + np.arange(4)[:, None, None], y=[0, 1, 0, 1])
    assert load_source(path=tmp_path / "img.npz").x.shape == (4, 6)


def test_bad_numpy_files(tmp_path):
    np.savez(tmp_path / "keys.npz", features=np.zeros((3, 2)), labels=[0, 1, 0])
    with pytest.raises(DatasetError, match=r"needs arrays 'X'.*'features', 'labels'"):
        load_source(path=tmp_path / "keys.npz")
    np.savez(tmp_path / "short.npz", X=np.zeros((10, 2)), y=np.arange(9) % 2)
    with pytest.raises(DatasetError, match="mismatched lengths: 10 feature rows but 9 labels"):
        load_source(path=tmp_path / "short.npz")
    np.save(tmp_path / "x.npy", np.zeros((4, 2)))
    with pytest.raises(DatasetError, match="labels_path"):
        load_source(path=tmp_path / "x.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="object arrays are refused"):
        load_source(path=tmp_path / "x.npy", labels_path=tmp_path / "obj.npy")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="cannot read"):
        load_source(path=tmp_path / "junk.npz")
    (tmp_path / "data.parquet").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"\.csv, \.npy or \.npz"):
        load_source(path=tmp_path / "data.parquet")
    with pytest.raises(DatasetError, match="not found"):
        load_source(path=tmp_path / "nope.csv")
    np.savez(tmp_path / "onehot.npz", X=np.zeros((3, 2)), y=np.eye(3))
    with pytest.raises(DatasetError, match="one class id per example.*argmax"):
        load_source(path=tmp_path / "onehot.npz")


@pytest.mark.parametrize("label, shown", [("1e300", "1e+300"), ("9223372036854775808", "9.22"),
                                          ("1e19", "1e+19"), ("2147483648", "2147483648")])
def test_huge_csv_labels_are_refused_not_wrapped(tmp_path, label, shown):
    # 1e300 used to become class -9223372036854775808 (astype int64 wraps) and the run went on.
    path = tmp_path / "big.csv"
    path.write_text("a,b,y\n1,2,0\n3,4,1\n5,6," + label + "\n")
    with pytest.raises(DatasetError, match=rf"labels out of range: label {re.escape(shown)}.* at "
                                           "line 4"):
        load_source(path=path)


def test_uint64_labels_are_refused_not_wrapped(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((4, 2)), y=np.array([0, 1, 1, 2 ** 63], np.uint64))
    with pytest.raises(DatasetError, match="labels out of range.*at row 3"):
        load_source(path=tmp_path / "d.npz")


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
        load_source(path=special if isinstance(special, str) else path, dataset="csv")


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
        load_source(path=tmp_path / "x.npy", labels_path=tmp_path / "y.npy")
