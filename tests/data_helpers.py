"""Shared by the dataset tests: miniature files in the standard formats, the two dataset task
types with small defaults, and a fixture that empties the data caches around each test."""
import gzip
import pickle
import struct

import numpy as np
import pytest

from azcompile.eval_type import ACCURACY, MULTICLASS
from azcompile.search.data import cache
from azcompile.search.data.dataset_tasks import projected_binary_task, projected_multiclass_task

BINARY = "projected_binary_classification"
MULTI = "projected_multiclass_classification"


@pytest.fixture(autouse=True)
def fresh_cache():
    """Autouse in every test module that imports it."""
    cache.clear()
    yield
    cache.clear()


def binary(features=16, n_train=200, n_valid=30, data_seed=0, epochs=1, **options):
    return projected_binary_task(features, n_train, n_valid, data_seed, 0, epochs, ACCURACY,
                                   **options)


def multi(features=16, n_train=1000, n_valid=100, data_seed=0, epochs=1, **options):
    return projected_multiclass_task(features, n_train, n_valid, data_seed, 0, epochs,
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
