"""Hostile data and program files: a generated corpus of broken CSV, .npy, .npz, IDX, CIFAR-10
and program files.

Every case must fail as a user error.  In-process, each goes through the real loader, which must
raise its error class (DatasetError / ProgramError) with one line naming the problem, and emit
no warning.  A subset of about forty goes through the real CLI (``azc search CONFIG`` with the
bad file as a search task's data, ``azc show`` / ``azc export`` for program files): exit status
2, one ``error:`` line, no traceback.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from cli_checks import ROOT, assert_user_error, run_azc
from numpy.lib import format as npy_format
from data_helpers import fresh_cache, make_cifar, make_idx_dataset, write_idx  # noqa: F401

from azcompile import program as prog_mod
from azcompile.eval_type import ACCURACY
from azcompile.program import ProgramError
from azcompile.search.data.datafiles import MAX_ARRAY_BYTES, DatasetError
from azcompile.search.data.dataset_tasks import projected_binary_task
from azcompile.search.data.sources import load_source
from configs import SMALL_SEARCH


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], dict]    # writes files into a folder; returns the task options
    needles: tuple
    cli: bool = False                # also run through the CLI


# --- file builders ---------------------------------------------------------------------------

def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=True)
    return buf.getvalue()


def npy_header(descr, shape, fortran=False, version=(1, 0)) -> bytes:
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    writer = npy_format.write_array_header_1_0 if version == (1, 0) else \
        npy_format.write_array_header_2_0
    writer(buf, header)
    return buf.getvalue()


def zip_bytes(members: dict, method=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def patch_zip(data: bytes, flag_bits=None, method=None) -> bytes:
    """Set the general-purpose flags / compression method in the local and central headers."""
    out = bytearray(data)
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(signature)
        while at >= 0:
            if flag_bits is not None:
                out[at + flag_at:at + flag_at + 2] = struct.pack("<H", flag_bits)
            if method is not None:
                out[at + flag_at + 2:at + flag_at + 4] = struct.pack("<H", method)
            at = out.find(signature, at + 4)
    return bytes(out)


def good_xy(n=40, d=3):
    rng = np.random.RandomState(0)
    return rng.randn(n, d), np.arange(n) % 2


def good_npz(**overrides) -> bytes:
    x, y = good_xy()
    members = {"X.npy": npy_bytes(x), "y.npy": npy_bytes(y)}
    members.update(overrides)
    return zip_bytes(members)


def csv_text(rows, header="a,b,label") -> str:
    return header + "\n" + "".join(r + "\n" for r in rows)


def good_rows(n=40):
    return [f"{i % 7}.5,{i % 3},{i % 2}" for i in range(n)]


# --- case families ---------------------------------------------------------------------------

def file_case(name, filename, content, *needles, cli=False, **options):
    """One file (bytes or text) as the task's ``path``."""
    def build(folder: Path) -> dict:
        data = content() if callable(content) else content
        target = folder / filename
        if isinstance(data, str):
            target.write_text(data, encoding="utf-8")
        else:
            target.write_bytes(data)
        return {"path": filename, **options}
    return Case(name, build, needles, cli)


def npy_pair_case(name, features: bytes, labels: bytes, *needles, cli=False):
    def build(folder: Path) -> dict:
        (folder / "x.npy").write_bytes(features)
        (folder / "y.npy").write_bytes(labels)
        return {"path": "x.npy", "labels_path": "y.npy"}
    return Case(name, build, needles, cli)


def special_case(name, make, *needles, cli=False, **options):
    """A path that is not a regular file (made by ``make(folder) -> path``)."""
    def build(folder: Path) -> dict:
        return {"path": str(make(folder)), **options}
    return Case(name, build, needles, cli)


def idx_case(name, corrupt, *needles, cli=False):
    def build(folder: Path) -> dict:
        make_idx_dataset(folder / "mnist", gz=False, per_class=3)
        corrupt(folder / "mnist")
        return {"dataset": "mnist", "data_dir": "mnist"}
    return Case(name, build, needles, cli)


def cifar_case(name, corrupt, *needles, binary=False, cli=False):
    def build(folder: Path) -> dict:
        make_cifar(folder / "cifar", binary_format=binary, per_batch=4)
        sub = "cifar-10-batches-bin" if binary else "cifar-10-batches-py"
        corrupt(folder / "cifar" / sub)
        return {"dataset": "cifar10", "data_dir": "cifar"}
    return Case(name, build, needles, cli)


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe.csv")
    return folder / "pipe.csv"


def _directory(folder: Path) -> Path:
    (folder / "folder.csv").mkdir()
    return folder / "folder.csv"


def _images(folder: Path, payload: bytes, gz=False) -> None:
    name = "train-images-idx3-ubyte"
    (folder / name).unlink()
    (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(payload) if gz else payload)


def _truncated_gzip_images(folder: Path) -> None:
    payload = bytes([0, 0, 8, 3]) + struct.pack(">3I", 30, 28, 28) + b"\0" * (30 * 28 * 28)
    (folder / "train-images-idx3-ubyte").unlink()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(payload)[:40])


def _pickle_batch(folder: Path, batch, name="data_batch_2") -> None:
    (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def _cifar_batch(data, labels):
    return {b"data": data, b"labels": labels}


_PIXELS = np.zeros((4, 3072), np.uint8)
_36_TIB = (2 ** 30, 4608)
_GOOD_LABELS = npy_bytes(np.arange(40) % 2)
_GOOD_FEATURES = npy_bytes(good_xy()[0])
_TRUNCATED_NPZ = good_npz()[:300]


def _crc_damaged_npz() -> bytes:
    data = bytearray(good_npz())
    at = data.find(b"\x93NUMPY") + 200          # inside X's data, past its header
    data[at] ^= 0xFF
    return bytes(data)


def _deflated_truncated() -> bytes:
    x, y = good_xy(400)
    data = zip_bytes({"X.npy": npy_bytes(x), "y.npy": npy_bytes(y)}, zipfile.ZIP_DEFLATED)
    return data[:len(data) // 3]


CSV_CASES = [
    file_case("label 1e300", "d.csv", csv_text(good_rows() + ["1,2,1e300"]), "1e+300", "line 42",
              cli=True),
    file_case("label 2**63", "d.csv", csv_text(good_rows() + ["1,2,9223372036854775808"]),
              "labels out of range"),
    file_case("label 1e19", "d.csv", csv_text(good_rows() + ["1,2,1e19"]), "labels out of range"),
    file_case("label 2**31", "d.csv", csv_text(good_rows() + ["1,2,2147483648"]), "0..2147483647"),
    file_case("label negative", "d.csv", csv_text(good_rows() + ["1,2,-3"]), "labels out of range"),
    file_case("label fraction", "d.csv", csv_text(good_rows() + ["1,2,1.25"]), "1.25"),
    file_case("label nan", "d.csv", csv_text(good_rows() + ["1,2,nan"]), "labels out of range"),
    file_case("label inf", "d.csv", csv_text(good_rows() + ["1,2,-inf"]), "labels out of range"),
    file_case("20000 classes", "d.csv", csv_text([f"{i},{i % 5},{i}" for i in range(20000)]),
              "20000 distinct labels", "limit of 1000", cli=True),
    file_case("1001 classes", "d.csv", csv_text([f"{i},{i % 5},{i}" for i in range(1001)]),
              "limit of 1000"),
    file_case("latin-1 header", "d.csv", csv_text(good_rows(), "a,b,\xe9tiquette").encode("latin1"),
              "line 1", "not UTF-8"),
    file_case("latin-1 cell", "d.csv", (csv_text(good_rows()) + "\xb5,1,0\n").encode("latin1"),
              "line 42", "UTF-8"),
    file_case("utf-16", "d.csv", csv_text(good_rows()).encode("utf-16"), "NUL"),
    file_case("random bytes", "d.csv",
              bytes(np.random.RandomState(1).randint(128, 256, 4000).astype(np.uint8)),
              "not UTF-8", cli=True),
    file_case("binary with NUL", "d.csv", b"a,b,y\n1,2,0\n\x00\x01\x02\n", "line 3", "NUL"),
    file_case("field over 131072", "d.csv", csv_text(good_rows() + ["1" * 200_000 + ",1,0"]),
              "field limit", cli=True),
    file_case("unclosed quote", "d.csv", csv_text(['"1,2,0'] + good_rows()), "line"),
    file_case("features 1e308", "d.csv", csv_text([f"1e308,{i},{i % 2}" for i in range(40)]),
              "1e+308", "rescale", cli=True),
    file_case("feature 1e200", "d.csv", csv_text(good_rows() + ["1e200,0,1"]), "row 40",
              "rescale"),
    file_case("feature nan", "d.csv", csv_text(good_rows() + ["nan,0,1"]), "NaN or inf"),
    file_case("feature 1e999", "d.csv", csv_text(good_rows() + ["1e999,0,1"]), "NaN or inf"),
    file_case("header only", "d.csv", "a,b,label\n", "at least one data row"),
    file_case("blank lines only", "d.csv", "\n\n  \n", "empty"),
    file_case("empty file", "d.csv", b"", "is empty"),
    file_case("one column", "d.csv", "1\n0\n1\n", "two columns"),
    file_case("ragged rows", "d.csv", csv_text(good_rows() + ["1,2"]), "line 42 has 2 fields"),
    file_case("words", "d.csv", csv_text(good_rows() + ["1,two,0"]), "'two' is not a number"),
    file_case("single class", "d.csv", csv_text(["1,2,0"] * 40), "one class only"),
    file_case("missing label column", "d.csv", csv_text(good_rows()), "no column named 'y'",
              label_column="y"),
    special_case("/dev/null", lambda folder: "/dev/null", "character device", "not a regular file",
                 cli=True, dataset="csv"),
    special_case("/dev/zero", lambda folder: "/dev/zero", "character device", dataset="csv"),
    special_case("a FIFO", _fifo, "named pipe", cli=True),
    special_case("a directory", _directory, "is a directory"),
    special_case("missing file", lambda folder: folder / "nope.csv", "not found"),
    special_case("a path through a file", lambda folder: "/etc/passwd/x.csv", "not found"),
]

NPZ_CASES = [
    file_case("npz truncated", "d.npz", _TRUNCATED_NPZ, "cannot read the .npz"),
    file_case("npz bad CRC", "d.npz", _crc_damaged_npz, "CRC", cli=True),
    file_case("npz encrypted", "d.npz", lambda: patch_zip(good_npz(), flag_bits=1), "encrypted",
              cli=True),
    file_case("npz unknown compression", "d.npz", lambda: patch_zip(good_npz(), method=99),
              "compression", cli=True),
    file_case("npz deflated, truncated", "d.npz", _deflated_truncated, "cannot read the .npz"),
    file_case("npz object member", "d.npz",
              lambda: good_npz(**{"X.npy": npy_bytes(np.array([None] * 40, dtype=object))}),
              "object arrays are refused", cli=True),
    file_case("npz pickled member", "d.npz",
              lambda: good_npz(**{"X.npy": pickle.dumps({"a": 1})}), "not a valid .npy"),
    file_case("npz bad header", "d.npz",
              lambda: good_npz(**{"X.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8 ,,   }\n"}),
              "bad header"),
    file_case("npz header 36 TiB", "d.npz",
              lambda: good_npz(**{"X.npy": npy_header("<f8", _36_TIB) + b"\0" * 64}), "36.0 TiB",
              cli=True),
    file_case("npz size within limits, data short", "d.npz",
              lambda: good_npz(**{"X.npy": npy_header("<f8", (40, 3)) + b"\0" * 100}),
              "truncated"),
    file_case("npz declared beyond the limit", "d.npz",
              lambda: good_npz(**{"X.npy": npy_header("|u1", (MAX_ARRAY_BYTES + 1,))}),
              "the file holds 0 bytes"),
    file_case("npz without X", "d.npz", lambda: zip_bytes({"y.npy": _GOOD_LABELS}), "'X'"),
    file_case("npz is an npy", "d.npz", _GOOD_FEATURES, "single .npy array"),
    file_case("npz not a zip", "d.npz", b"this is not a zip archive at all", "cannot read"),
    file_case("npz complex features", "d.npz",
              lambda: good_npz(**{"X.npy": npy_bytes(np.ones((40, 3), complex))}), "real numbers"),
    file_case("npz string features", "d.npz",
              lambda: good_npz(**{"X.npy": npy_bytes(np.array([["a"] * 3] * 40))}), "not numbers"),
    file_case("npz structured features", "d.npz",
              lambda: good_npz(**{"X.npy": npy_bytes(np.zeros(40, [("a", "<f8")]))}),
              "not numbers"),
    file_case("npz 2-D labels", "d.npz", lambda: good_npz(**{"y.npy": npy_bytes(np.eye(40))}),
              "one class id per example"),
    file_case("npz uint64 labels 2**63", "d.npz",
              lambda: good_npz(**{"y.npy": npy_bytes(np.full(40, 2 ** 63, np.uint64))}),
              "labels out of range", cli=True),
    file_case("npz bool labels", "d.npz",
              lambda: good_npz(**{"y.npy": npy_bytes(np.arange(40) % 2 == 0)}), "dtype bool"),
    file_case("npz no examples", "d.npz",
              lambda: good_npz(**{"X.npy": npy_bytes(np.zeros((0, 2, 3))),
                                  "y.npy": npy_bytes(np.zeros(0, int))}), "at least one"),
    file_case("npz mismatched lengths", "d.npz",
              lambda: good_npz(**{"y.npy": npy_bytes(np.arange(39) % 2)}), "mismatched lengths"),
    file_case("npz features 1e308", "d.npz",
              lambda: good_npz(**{"X.npy": npy_bytes(np.full((40, 3), 1e308))}), "rescale"),
    file_case("npz float16 inf", "d.npz",
              lambda: good_npz(**{"X.npy": npy_bytes(np.full((40, 3), np.inf, np.float16))}),
              "NaN or inf"),
]

NPY_CASES = [
    npy_pair_case("npy bad magic", b"NOTNUMPY" + b"\0" * 64, _GOOD_LABELS, "not a valid .npy"),
    npy_pair_case("npy header 36 TiB", npy_header("<f8", _36_TIB) + b"\0" * 100, _GOOD_LABELS,
                  "36.0 TiB", "holds 100 bytes", cli=True),
    npy_pair_case("npy truncated body", _GOOD_FEATURES[:-8], _GOOD_LABELS, "truncated"),
    npy_pair_case("npy trailing bytes", _GOOD_FEATURES + b"\0" * 8, _GOOD_LABELS, "corrupt"),
    npy_pair_case("npy version 3", b"\x93NUMPY\x03\x00" + _GOOD_FEATURES[8:], _GOOD_LABELS,
                  "version 3.0"),
    npy_pair_case("npy garbage header", b"\x93NUMPY\x01\x00\x20\x00" + b"\xff" * 32, _GOOD_LABELS,
                  "bad header"),
    npy_pair_case("npy header length 60000", b"\x93NUMPY\x01\x00\x60\xea" + b" " * 100,
                  _GOOD_LABELS, "header length"),
    npy_pair_case("npy v2 header length 4 GiB", b"\x93NUMPY\x02\x00\xff\xff\xff\xff" + b" " * 64,
                  _GOOD_LABELS, "header length"),
    npy_pair_case("npy header not a dict", b"\x93NUMPY\x01\x00\x10\x00[1, 2, 3]      \n",
                  _GOOD_LABELS, "bad header"),
    npy_pair_case("npy negative shape", npy_header("<f8", (-1, 3)), _GOOD_LABELS,
                  "impossible shape"),
    npy_pair_case("npy 40 dimensions", npy_header("<f8", (1,) * 40) + b"\0" * 8, _GOOD_LABELS,
                  "impossible shape"),
    npy_pair_case("npy object labels", _GOOD_FEATURES,
                  npy_bytes(np.array([{"a": 1}] * 40, dtype=object)), "object arrays are refused",
                  cli=True),
    npy_pair_case("npy labels are an npz", _GOOD_FEATURES, good_npz(), "an .npz archive, not"),
    npy_pair_case("npy zero-size dtype", npy_header("|V0", (40, 3)), _GOOD_LABELS, "not numbers"),
    npy_pair_case("npy datetime features", npy_bytes(np.zeros((40, 3), "M8[s]")), _GOOD_LABELS,
                  "not numbers"),
    npy_pair_case("npy labels 1e300", _GOOD_FEATURES, npy_bytes(np.full(40, 1e300)),
                  "1e+300", "row 0"),
]

IDX_CASES = [
    idx_case("idx wrong magic", lambda f: _images(f, b"PK\x03\x04 not idx"), "not an IDX file",
             cli=True),
    idx_case("idx dims overflow int64", lambda f: _images(
        f, bytes([0, 0, 0x0E, 3]) + struct.pack(">3I", 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1)),
        "truncated or not IDX"),
    idx_case("idx truncated body", lambda f: _images(
        f, bytes([0, 0, 8, 3]) + struct.pack(">3I", 30, 28, 28) + b"\0" * 99), "truncated"),
    idx_case("idx truncated header", lambda f: _images(f, bytes([0, 0, 8, 3, 0, 0])),
             "header truncated"),
    idx_case("idx gzip truncated", _truncated_gzip_images, "corrupt gzip", cli=True),
    idx_case("idx gzip declares 188 GB", lambda f: _images(
        f, bytes([0, 0, 8, 3]) + struct.pack(">3I", 60000, 28, 28 * 100000), gz=True),
        "more than the limit"),
    idx_case("idx no examples", lambda f: _images(
        f, bytes([0, 0, 8, 3]) + struct.pack(">3I", 0, 28, 28)), "at least one example"),
    idx_case("idx float labels 1e300", lambda f: write_float_labels(f, 1e300),
             "labels out of range", cli=True),
    idx_case("idx labels 12", lambda f: write_idx(f / "train-labels-idx1-ubyte",
                                                  (np.arange(30) % 13).astype(np.uint8), False),
             "expected 0..9"),
]


def write_float_labels(folder: Path, value: float) -> None:
    labels = np.full(30, value, ">f8")
    (folder / "train-labels-idx1-ubyte").write_bytes(
        bytes([0, 0, 0x0E, 1]) + struct.pack(">I", 30) + labels.tobytes())


CIFAR_CASES = [
    cifar_case("cifar binary wrong size",
               lambda f: (f / "data_batch_2.bin").write_bytes(b"\1" * 99),
               "3073 bytes", binary=True, cli=True),
    cifar_case("cifar not a dict", lambda f: _pickle_batch(f, [1, 2, 3]), "dict with 'data'"),
    cifar_case("cifar truncated pickle", lambda f: (f / "data_batch_2").write_bytes(
        pickle.dumps(_cifar_batch(_PIXELS, [0, 1, 2, 3]), protocol=2)[:500]),
        "not a CIFAR-10 python batch"),
    cifar_case("cifar labels are arrays", lambda f: _pickle_batch(
        f, _cifar_batch(_PIXELS, [_PIXELS] * 4)), "list of integer class ids", cli=True),
    cifar_case("cifar ragged labels", lambda f: _pickle_batch(
        f, _cifar_batch(_PIXELS, [[1], [2, 3], 4, 5])), "list of integer class ids"),
    cifar_case("cifar huge label", lambda f: _pickle_batch(
        f, _cifar_batch(_PIXELS, [0, 1, 10 ** 400, 2])), "too large"),
    cifar_case("cifar float pixels", lambda f: _pickle_batch(
        f, _cifar_batch(_PIXELS.astype(float), [0, 1, 2, 3])), "uint8"),
    cifar_case("cifar wrong width", lambda f: _pickle_batch(
        f, _cifar_batch(np.zeros((4, 100), np.uint8), [0, 1, 2, 3])), "(n, 3072)"),
]

DATA_CASES = CSV_CASES + NPZ_CASES + NPY_CASES + IDX_CASES + CIFAR_CASES


def _absolute(options: dict, folder: Path) -> dict:
    return {k: str(folder / v) if k in ("path", "labels_path", "data_dir") else v
            for k, v in options.items()}


@pytest.mark.parametrize("case", DATA_CASES, ids=[c.name for c in DATA_CASES])
def test_hostile_data_file_is_one_error_line(case, tmp_path):
    options = _absolute(case.build(tmp_path), tmp_path)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(DatasetError) as err:
        warnings.simplefilter("always")
        projected_binary_task(4, 20, 4, 0, 0, 1, ACCURACY, **options)
    message = str(err.value)
    assert "\n" not in message and message.strip()
    for needle in case.needles:
        assert needle.lower() in message.lower(), (needle, message)
    assert not [str(w.message) for w in caught]


def test_a_fortran_order_and_big_endian_npy_read_back_exactly(tmp_path):
    x, y = good_xy()
    np.save(tmp_path / "x.npy", np.asfortranarray(x).astype(">f8"))
    np.save(tmp_path / "y.npy", y.astype(">i2"))
    src = load_source(path=tmp_path / "x.npy", labels_path=tmp_path / "y.npy")
    assert np.array_equal(src.x, x) and np.array_equal(src.y, y)
    np.savez_compressed(tmp_path / "d.npz", X=x, y=y)
    src = load_source(path=tmp_path / "d.npz")
    assert np.array_equal(src.x, x) and np.array_equal(src.y, y)


# --- program files ---------------------------------------------------------------------------

def _program_doc() -> dict:
    return json.loads((ROOT / "tests" / "data" / "demo_winner.json").read_text())


def _with_doc(mutate) -> str:
    doc = _program_doc()
    mutate(doc)
    return json.dumps(doc, ensure_ascii=False)


def _first_with_data(doc) -> dict:
    return next(row for name in ("setup", "predict", "learn") for row in doc[name] if "data" in row)


def _replace(old: str, new: str) -> str:
    text = json.dumps(_program_doc())
    assert old in text
    return text.replace(old, new, 1)


def _sparse_file(folder: Path) -> Path:
    path = folder / "huge.json"
    with path.open("wb") as f:
        f.truncate(prog_mod.MAX_FILE_BYTES + 1)
    return path


@dataclass(frozen=True)
class ProgramCase:
    name: str
    content: object          # text, bytes, or a callable(folder) -> path
    needles: tuple
    cli: bool = False


def program_case(name, content, *needles, cli=False):
    return ProgramCase(name, content, needles, cli)


PROGRAM_CASES = [
    program_case("5000-digit version", lambda: _replace('"version": 1', '"version": ' + "1" * 5000),
                 "5000 digits", cli=True),
    program_case("5000-digit address", lambda: _replace('"out": 2', '"out": -' + "9" * 5000),
                 "5000 digits"),
    program_case("nested 100000 deep", lambda: _replace('"meta": {', '"meta": {"x": '
                                                        + "[" * 100000 + "]" * 100000 + ", "),
                 "nested", cli=True),
    program_case("nested 900 deep", lambda: _replace('"meta": {', '"meta": {"x": '
                                                     + "[" * 900 + "]" * 900 + ", "),
                 "nested more than 32"),
    program_case("nested objects in an instruction", lambda: _with_doc(
        lambda d: d["learn"][0].update(data=json.loads('{"a":' * 40 + "1" + "}" * 40))),
                 "nested"),
    program_case("binary bytes", bytes(range(256)) * 4, "not UTF-8", cli=True),
    program_case("latin-1 in meta", lambda: _with_doc(
        lambda d: d["meta"].update(note="caf\xe9")).encode("latin1"), "0xe9"),
    program_case("utf-16", lambda: json.dumps(_program_doc()).encode("utf-16"), "UTF-8"),
    program_case("over 64 MiB", _sparse_file, "64 MiB", cli=True),
    program_case("/dev/null", lambda folder: Path("/dev/null"), "not a regular file", cli=True),
    program_case("/dev/zero", lambda folder: Path("/dev/zero"), "not a regular file"),
    program_case("a FIFO", lambda folder: (os.mkfifo(folder / "p.json"), folder / "p.json")[1],
                 "not a regular file", cli=True),
    program_case("empty", "", "not valid JSON"),
    program_case("NaN data", lambda: _with_doc(
        lambda d: _first_with_data(d)["data"].__setitem__(1, float("nan"))), "finite", cli=True),
    program_case("Infinity memory", lambda: _replace('"scalars": 4', '"scalars": Infinity'),
                 "memory.scalars"),
    program_case("NaN version", lambda: _replace('"version": 1', '"version": NaN'), "version"),
    program_case("-Infinity meta", lambda: _with_doc(lambda d: d["meta"].update(x=float("-inf"))),
                 "non-finite"),
    program_case("memory without features", lambda: _with_doc(
        lambda d: d["memory"].pop("features")), "'memory'"),
    program_case("address as string", lambda: _with_doc(lambda d: d["learn"][0].update(in1="1")),
                 "integer address"),
    program_case("op as list", lambda: _with_doc(lambda d: d["learn"][0].update(op=["X"])),
                 "op name"),
    program_case("components as object", lambda: _with_doc(lambda d: d.update(learn={})),
                 "'learn'"),
    program_case("doc is a list", "[1, 2]", "JSON object", cli=True),
    program_case("BOM", lambda: ("\ufeff" + json.dumps(_program_doc())).encode("utf-8"), "BOM"),
]


def _write_program(case: ProgramCase, folder: Path) -> Path:
    content = case.content
    if callable(content):
        content = content(folder) if content.__code__.co_argcount else content()
    if isinstance(content, Path):
        return content
    path = folder / "program.json"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", PROGRAM_CASES, ids=[c.name for c in PROGRAM_CASES])
def test_hostile_program_file_is_one_error_line(case, tmp_path):
    path = _write_program(case, tmp_path)
    with pytest.raises(ProgramError) as err:
        prog_mod.load(path)
    message = str(err.value)
    assert "\n" not in message and message.strip()
    for needle in case.needles:
        assert needle.lower() in message.lower(), (needle, message)


# --- through the CLI -------------------------------------------------------------------------

CONFIG = """\
name = "hostile"

""" + SMALL_SEARCH + """mutations = ["alter_param", "randomize_instruction"]
max_train_steps = 100_000

[[search_tasks]]
type = "projected_binary_classification"
features = 4
num_train_examples = 20
num_valid_examples = 4
{options}
"""


def _toml_options(options: dict) -> str:
    return "\n".join(f"{key} = {json.dumps(value)}" for key, value in options.items())


def _cli_data_run(case: Case, base: Path):
    """The config and its data in their own folder, azc started from another one: relative data
    paths must resolve against the config's folder."""
    folder = base / "config"
    folder.mkdir(parents=True)
    options = case.build(folder)
    (folder / "hostile.toml").write_text(CONFIG.format(options=_toml_options(options)))
    (base / "cwd").mkdir()
    proc = run_azc("search", folder / "hostile.toml", "--max-individuals", "1", "--plain",
                   "--out", base / "run", cwd=base / "cwd")
    relative = any(k in ("path", "data_dir") and v[0] != "/" for k, v in options.items())
    return proc, base / "run", folder if relative else None


def _cli_program_run(case: ProgramCase, base: Path, command: str):
    base.mkdir(parents=True)
    path = _write_program(case, base)
    output = base / "out.py"
    args = ("show", path) if command == "show" else ("export", path, "-o", output)
    return run_azc(*args, cwd=base), output


CLI_DATA = [c for c in DATA_CASES if c.cli]
# Each program case runs one command, show and export in turn: both read programs the same way.
CLI_PROGRAMS = [(c, ("show", "export")[i % 2]) for i, c in enumerate(
    c for c in PROGRAM_CASES if c.cli)]


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """Every CLI case at once, four processes at a time (each costs about a second)."""
    base = tmp_path_factory.mktemp("hostile_cli")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {("data", c.name): pool.submit(_cli_data_run, c, base / f"data{i}")
                   for i, c in enumerate(CLI_DATA)}
        futures.update({("program", c.name): pool.submit(_cli_program_run, c, base / f"prog{i}",
                                                         command)
                        for i, (c, command) in enumerate(CLI_PROGRAMS)})
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("case", CLI_DATA, ids=[c.name for c in CLI_DATA])
def test_cli_hostile_data(cli_results, case):
    proc, run_dir, config_folder = cli_results[("data", case.name)]
    assert_user_error(proc, "search_tasks", *case.needles)
    if config_folder is not None:    # relative data paths: found next to the config, not in cwd
        assert str(config_folder) in proc.stderr
    assert not (run_dir / "checkpoint.npz").exists()


@pytest.mark.parametrize("case, command", CLI_PROGRAMS,
                         ids=[f"{command} {c.name}" for c, command in CLI_PROGRAMS])
def test_cli_hostile_program(cli_results, case, command):
    proc, output = cli_results[("program", case.name)]
    assert_user_error(proc, *case.needles)
    assert not output.exists()


def test_corpus_size():
    """The counts the issue's closing note reports; the CLI part stays near forty cases."""
    assert len(DATA_CASES) + len(PROGRAM_CASES) >= 100
    assert 20 <= len(CLI_DATA) + len(CLI_PROGRAMS) <= 40


def test_a_projection_matrix_beyond_the_limit_is_refused_before_allocating(tmp_path):
    # 40 MB of uint8 features, but their projection to 256 features would be a 10 GB matrix.
    x = np.zeros((8, 5_000_000), np.uint8)
    x[:, 0] = np.arange(8)
    np.savez(tmp_path / "wide.npz", X=x, y=np.arange(8) % 2)
    with pytest.raises(DatasetError, match=r"5000000 input features x features_size 256 make a "
                                           r"9\.5 GiB projection matrix"):
        projected_binary_task(256, 1, 1, 0, 0, 1, ACCURACY, path=str(tmp_path / "wide.npz"),
                              valid_fraction=0.25, test_fraction=0.25)
