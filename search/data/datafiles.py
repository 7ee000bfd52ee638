"""Data files read defensively: CSV text, numpy's .npy / .npz, IDX (MNIST) and CIFAR-10 batches.

A data file may be truncated, corrupt or hostile.  Every size a file declares (an .npy or IDX
header, a zip member) is checked against the bytes actually there and against the limits below
before anything is allocated; nothing is ever unpickled except through an unpickler that builds
plain arrays (``_ArrayUnpickler``); and every failure is one ``DatasetError`` line naming the
file, the problem and the fix.  A path is checked with ``azcompile.files``' stat check before
it is opened; labels are checked to be class ids (``class_ids``) as they are read.
"""
from __future__ import annotations

import csv
import gzip
import io
import lzma
import math
import pickle
import struct
import warnings
import zipfile
import zlib
from array import array
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from azcompile.files import DIRECTORY, NotRegularFile, one_line, regular_file_size

from .tasks import TaskError

MAX_ARRAY_BYTES = 8 << 30      # one array read from disk (CIFAR-10's training set: 150 MB)
MAX_CSV_BYTES = 512 << 20      # parsed in Python; larger data loads faster as .npy / .npz
MAX_PICKLE_BYTES = 1 << 30     # a CIFAR-10 python batch is 31 MB
MAX_LABEL = 2 ** 31 - 1        # class ids are small integers; 1e300 must not wrap to int64
MAX_CLASSES = 1000             # binary tasks enumerate class pairs: 1000 classes = 499,500
MAX_DIMS = 32
_CHUNK = 16 << 20


class DatasetError(TaskError):
    """Data that cannot become a task; the message names the problem and the fix."""


def size_text(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def regular_file(path: Path, what: str, option: str, empty_ok: bool = False) -> int:
    """The size of ``path``, or a DatasetError saying what it is instead of a data file
    (``empty_ok``: the caller reports an empty file itself)."""
    try:
        size = regular_file_size(path)
    except FileNotFoundError:
        raise DatasetError(f"{what} {str(path)!r} not found; check the {option} option") from None
    except NotRegularFile as exc:
        if exc.kind == DIRECTORY:
            raise DatasetError(f"{what} {str(path)!r} is a directory, not a file; set {option} "
                               "to the data file itself") from None
        raise DatasetError(f"{what} {str(path)!r} is {exc.kind}, not a regular file; set "
                           f"{option} to a data file") from None
    except OSError as exc:
        raise DatasetError(f"{what} {str(path)!r} cannot be accessed ({one_line(exc)}); check "
                           f"the {option} option and the file's permissions") from None
    if size == 0 and not empty_ok:
        raise empty_file(path, what, option)
    return size


def empty_file(path: Path, what: str, option: str) -> DatasetError:
    return DatasetError(f"{what} {str(path)!r} is empty (0 bytes); check the {option} option")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({one_line(exc)})") from None


def _check_limit(path, declared: int, limit: int, what: str, fix: str) -> None:
    if declared > limit:
        raise DatasetError(f"{path}: {what} is {size_text(declared)}, more than the limit of "
                           f"{size_text(limit)}; {fix}")


# --- labels ----------------------------------------------------------------------------------

def class_ids(y, origin, row_name=None) -> np.ndarray:
    """Labels as int64 class ids in 0..MAX_LABEL, else a DatasetError naming the first bad
    one (``row_name(i)`` names example i, e.g. its CSV line; default ``row i``)."""
    try:
        y = np.asarray(y)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DatasetError(f"{origin}: labels are not an array of class ids ({one_line(exc)})"
                           ) from None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetError(f"{origin}: labels must be one class id per example (shape (n,)), got "
                           f"shape {y.shape}; convert one-hot labels with argmax")
    if y.dtype.kind not in "iuf":
        raise DatasetError(f"{origin}: labels must be integer class ids 0..K-1, got dtype "
                           f"{y.dtype}")
    with np.errstate(invalid="ignore"):
        bad = (y < 0) | (y > MAX_LABEL)
        if y.dtype.kind == "f":
            bad |= ~np.isfinite(y) | (y != np.round(y))
    if bad.any():
        i = int(np.argmax(bad))
        where = f"row {i}" if row_name is None else row_name(i)
        raise DatasetError(f"{origin}: labels out of range: label {y[i].item()!r} at {where} is "
                           f"not an integer class id in 0..{MAX_LABEL} ({int(bad.sum())} bad "
                           "labels); labels must be class ids 0..K-1")
    return y.astype(np.int64)


def check_class_count(classes: int, origin) -> None:
    if classes > MAX_CLASSES:
        raise DatasetError(f"{origin}: {classes} distinct labels, more than the limit of "
                           f"{MAX_CLASSES} classes; labels must be class ids 0..K-1 (is "
                           "label_column an id or a regression target? bin or map the labels "
                           "to fewer classes)")


# --- CSV -------------------------------------------------------------------------------------

def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _csv_text(path: Path, size: int) -> str:
    _check_limit(path, size, MAX_CSV_BYTES, "the CSV file",
                 "convert it once to .npz (np.savez(path, X=features, y=labels)), which loads "
                 "without parsing")
    raw = _read_bytes(path)
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise DatasetError(f"{path}: line {line} holds a NUL byte: this is binary data, not a "
                           "CSV text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DatasetError(f"{path}: line {line} is not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                           "save the CSV as UTF-8, e.g. iconv -f latin1 -t utf-8 in.csv > "
                           "out.csv") from None


def _csv_rows(path: Path, text: str):
    """(line number, fields) of every non-blank row."""
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            hint = ("; CSV fields are numbers, so this is not a CSV file or a quote is not "
                    "closed" if "field limit" in str(exc) else "")
            raise DatasetError(f"{path}: line {reader.line_num}: {one_line(exc)}{hint}") from None
        if any(c.strip() for c in row):
            yield reader.line_num, row


def _label_index(path: Path, header, width: int, label_column) -> int:
    if label_column is None:
        return width - 1
    if isinstance(label_column, str):
        if header is None:
            raise DatasetError(f"{path}: label_column {label_column!r} is a name but the CSV has "
                               "no header row; add one or give the column number")
        if label_column not in header:
            raise DatasetError(f"{path}: no column named {label_column!r}; columns: {header}")
        return header.index(label_column)
    if isinstance(label_column, int) and -width <= label_column < width:
        return label_column % width   # bools were refused by the option checks
    raise DatasetError(f"{path}: label_column must be a column name or a number in "
                       f"{-width}..{width - 1}, got {label_column!r}")


def read_csv(path: Path, size: int, label_column):
    """(features, labels, row_name): numbers only, the same columns on every row;
    ``row_name(i)`` is example i's line in the file."""
    header, width = None, None
    values, lines = array("d"), array("q")
    for line, row in _csv_rows(path, _csv_text(path, size)):
        if width is None:
            width = len(row)
            if not all(_is_number(c) for c in row):
                header = [c.strip() for c in row]
                continue
        if len(row) != width:
            raise DatasetError(f"{path}: line {line} has {len(row)} fields, expected {width}; "
                               "every row needs the same columns (comma-separated)")
        for j, cell in enumerate(row):
            try:
                values.append(float(cell))
            except ValueError:
                col = header[j] if header else j
                raise DatasetError(f"{path}: line {line}, column {col!r}: {cell[:40]!r} is not a "
                                   "number; features and labels must be numeric (map class "
                                   "names to integers 0..K-1, fill or drop missing values)"
                                   ) from None
        lines.append(line)
    if width is None:
        raise DatasetError(f"{path}: the CSV file is empty")
    if not lines or width < 2:
        raise DatasetError(f"{path}: a CSV needs at least one data row and two columns "
                           "(features, then the label)")
    label_index = _label_index(path, header, width, label_column)
    table = np.frombuffer(values, dtype=np.float64).reshape(-1, width)
    return (np.delete(table, label_index, axis=1), table[:, label_index].copy(),
            lambda i: f"line {lines[i]}")


# --- .npy / .npz -----------------------------------------------------------------------------

_NUMBER_KINDS = "biufc"   # bool, int, uint, float, complex; the callers say which they accept


_MAX_HEADER = 10000   # numpy's own limit on the header text
# Failures of the file or zip stream under a header (numpy's parser raises ValueError).
_STREAM_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError)


def _check_header_length(fp, version) -> None:
    """Refuse a header length field beyond numpy's limit before numpy reads that many bytes
    (a version-2 header may declare 4 GiB)."""
    width = {(1, 0): 2, (2, 0): 4}.get(version)
    if width is None:
        return
    field = fp.read(width)
    if len(field) == width and int.from_bytes(field, "little") > _MAX_HEADER:
        raise ValueError(f"header length {int.from_bytes(field, 'little')} exceeds "
                         f"{_MAX_HEADER} bytes")
    fp.seek(-len(field), io.SEEK_CUR)


def _npy_header(fp, path, what: str):
    """(shape, fortran order, dtype) from an .npy header, read with numpy's own parsers."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # Python-2 era headers warn and still parse
            version = npy_format.read_magic(fp)
            _check_header_length(fp, version)
            if version == (1, 0):
                return npy_format.read_array_header_1_0(fp)
            if version == (2, 0):
                return npy_format.read_array_header_2_0(fp)
    except _STREAM_ERRORS:
        raise                                    # the container's problem: the caller says so
    except Exception as exc:  # noqa: BLE001  (arbitrary header bytes fail in many ways)
        raise DatasetError(f"{path}: the {what} is not a valid .npy array (bad header: "
                           f"{one_line(exc)[:200]}); save it with np.save") from None
    raise DatasetError(f"{path}: the {what} uses .npy format version {version[0]}.{version[1]}, "
                       "which holds no plain numeric array; save it with np.save")


def _declared_bytes(shape, dtype, path, what: str) -> int:
    if dtype.hasobject:
        raise DatasetError(f"{path}: the {what} is an object array; object arrays are refused "
                           "because loading them could run code; save a plain numeric array")
    if dtype.kind not in _NUMBER_KINDS or dtype.itemsize == 0:
        raise DatasetError(f"{path}: the {what} holds {dtype} values, not numbers; save a plain "
                           "numeric array")
    if len(shape) > MAX_DIMS or any(n < 0 for n in shape):
        raise DatasetError(f"{path}: the {what} header declares an impossible shape {shape}; the "
                           "file is corrupt")
    return math.prod(shape) * dtype.itemsize        # Python ints: no overflow


def _read_into(fp, out: np.ndarray, path, what: str) -> None:
    view = memoryview(out.reshape(-1).view(np.uint8))
    pos = 0
    while pos < len(view):
        chunk = fp.read(min(_CHUNK, len(view) - pos))
        if not chunk:
            raise DatasetError(f"{path}: the {what} ends after {pos} of {len(view)} data bytes; "
                               "the file is truncated")
        view[pos:pos + len(chunk)] = chunk
        pos += len(chunk)


def read_npy_stream(fp, available: int, path, what: str) -> np.ndarray:
    """One array from ``fp`` holding ``available`` bytes: header, then exactly the data."""
    shape, fortran, dtype = _npy_header(fp, path, what)
    nbytes = _declared_bytes(shape, dtype, path, what)
    held = available - fp.tell()
    if nbytes != held:
        raise DatasetError(f"{path}: the {what} header declares shape {shape} of {dtype} "
                           f"({size_text(nbytes)}) but the file holds {size_text(held)} of data; "
                           "the file is truncated or corrupt, save it again with np.save")
    _check_limit(path, nbytes, MAX_ARRAY_BYTES, f"the {what}", "use fewer examples or features")
    out = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
    _read_into(fp, out, path, what)
    return out.T if fortran else out


_ZIP_MAGIC = b"PK\x03\x04"


def read_npy(path: Path, size: int, what: str) -> np.ndarray:
    try:
        with path.open("rb") as fp:
            if fp.read(4) == _ZIP_MAGIC:
                raise DatasetError(f"{path}: an .npz archive, not an .npy array; save the "
                                   f"{what} with np.save, or use the .npz with keys X and y as "
                                   "path")
            fp.seek(0)
            return read_npy_stream(fp, size, path, what)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the {what} ({one_line(exc)})") from None


# Everything a damaged, encrypted or exotic zip raises while it is opened or read.
_ZIP_ERRORS = _STREAM_ERRORS + (RuntimeError, NotImplementedError, ValueError)


def _npz_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    what = f"array {info.filename!r}"
    if info.flag_bits & 0x1:
        raise DatasetError(f"{path}: {what} is encrypted; save the archive without a password "
                           "(np.savez)")
    with archive.open(info) as fp:
        return read_npy_stream(fp, info.file_size, path, what)


def read_npz(path: Path, size: int, names=("X", "y")) -> list[np.ndarray]:
    """The arrays ``names`` of an .npz archive (members ``X.npy``, ``y.npy`` as np.savez
    writes them)."""
    fix = "save with np.savez(path, X=features, y=labels)"
    try:
        with path.open("rb") as fp:
            if fp.read(6) == b"\x93NUMPY":
                raise DatasetError(f"{path}: this is a single .npy array, not an .npz archive; "
                                   f"{fix}")
        with zipfile.ZipFile(path) as archive:
            members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            missing = [n for n in names if n not in members]
            if missing:
                raise DatasetError(f"{path}: an .npz needs arrays 'X' (features) and 'y' "
                                   f"(labels); it has {sorted(members)[:20]}; {fix}")
            return [_npz_member(archive, members[n], path) for n in names]
    except DatasetError:
        raise
    except _ZIP_ERRORS as exc:
        raise DatasetError(f"{path}: cannot read the .npz archive ({one_line(exc)[:200]}); the "
                           f"file is truncated, corrupt or not made by numpy; {fix}") from None


# --- IDX (MNIST, Fashion-MNIST) --------------------------------------------------------------

_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _idx_header(fp, path):
    magic = fp.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
        raise DatasetError(f"{path}: not an IDX file (magic bytes {magic.hex() or 'missing'}, "
                           "expected 0000 then a type code such as 08 and the rank); "
                           "use the original MNIST-format files")
    ndim, dtype = magic[3], _IDX_DTYPES[magic[2]]
    raw_dims = fp.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DatasetError(f"{path}: IDX header truncated; download the file again")
    return struct.unpack(f">{ndim}I", raw_dims), dtype, 4 + 4 * ndim


def _read_idx_stream(fp, path, file_bytes):
    """``file_bytes`` is the size of an uncompressed file, None for a gzip stream."""
    dims, dtype, header = _idx_header(fp, path)
    expected = math.prod(dims) * dtype.itemsize
    if file_bytes is not None and file_bytes - header != expected:
        raise DatasetError(f"{path}: IDX header says shape {dims} ({expected} data bytes) but the "
                           f"file holds {file_bytes - header}; the file is truncated or not IDX, "
                           "download it again")
    _check_limit(path, expected, MAX_ARRAY_BYTES, "the IDX data", "download the file again")
    data = fp.read(expected + 1)
    if len(data) != expected:
        raise DatasetError(f"{path}: IDX header says shape {dims} ({expected} data bytes) but the "
                           f"file holds {len(data)}{'+' if len(data) > expected else ''}; the file "
                           "is truncated or not IDX, download it again")
    stored = np.frombuffer(data, dtype=dtype).reshape(dims)
    return stored.astype(dtype.newbyteorder("="))   # native byte order, writable


def _drain(fp, limit: int = 64 << 20) -> None:
    read = 0
    while read < limit:
        chunk = fp.read(_CHUNK)
        if not chunk:
            return
        read += len(chunk)


def read_idx(path) -> np.ndarray:
    """An IDX file (gzip-compressed or raw) as an array of its stored shape."""
    path = Path(path)
    size = regular_file(path, "IDX file", "data_dir")
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({one_line(exc)})") from None
    with raw:
        if raw.read(2) != b"\x1f\x8b":
            raw.seek(0)
            return _read_idx_stream(raw, path, size)
        raw.seek(0)
        try:
            with gzip.GzipFile(fileobj=raw) as fp:
                try:
                    return _read_idx_stream(fp, path, None)
                except DatasetError:
                    _drain(fp)   # a damaged stream explains a bad header better: say that
                    raise
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{path}: corrupt gzip file ({one_line(exc)}); download it again"
                               ) from None


# --- CIFAR-10 --------------------------------------------------------------------------------

CIFAR_RECORD = 3073   # label byte + 32 x 32 x 3 pixels


def read_cifar_binary(path: Path):
    size = regular_file(path, "cifar10 file", "data_dir")
    if size % CIFAR_RECORD:
        raise DatasetError(f"{path}: a CIFAR-10 binary batch holds records of {CIFAR_RECORD} bytes "
                           f"(label + 3072 pixels); this file has {size} bytes")
    _check_limit(path, size, MAX_ARRAY_BYTES, "the batch", "use the original CIFAR-10 files")
    records = np.frombuffer(_read_bytes(path), dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    return records[:, 1:], records[:, 0]


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only: a data file must never run code."""

    def find_class(self, module, name):
        from numpy._core import multiarray

        allowed = {("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
                   ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
                   ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                   ("_codecs", "encode"): _latin1_encode}
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")
        return allowed[(module, name)]


def _latin1_encode(text, encoding="latin1"):
    # Protocol-2 pickles written by Python 3 store bytes as _codecs.encode(str, 'latin1').
    if encoding != "latin1":
        raise pickle.UnpicklingError(f"unexpected encoding {encoding!r} in a CIFAR-10 batch")
    return text.encode("latin1")


def _cifar_labels(labels, path: Path) -> np.ndarray:
    # Checked element by element: np.asarray of a list of arrays could allocate without bound.
    if isinstance(labels, np.ndarray) and labels.ndim == 1:
        return class_ids(labels, path)
    if isinstance(labels, list) and all(type(v) is int for v in labels):
        try:
            return class_ids(np.array(labels, dtype=np.float64), path)
        except OverflowError:
            raise DatasetError(f"{path}: CIFAR-10 'labels' holds an integer too large for a "
                               "class id; labels must be 0..9") from None
    raise DatasetError(f"{path}: CIFAR-10 'labels' must be a list of integer class ids, got "
                       f"{type(labels).__name__}")


def read_cifar_pickle(path: Path, url: str):
    size = regular_file(path, "cifar10 file", "data_dir")
    _check_limit(path, size, MAX_PICKLE_BYTES, "the batch", f"use the files from {url}")
    try:
        with path.open("rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # noqa: BLE001  (arbitrary bytes fail in many ways; none runs code)
        raise DatasetError(f"{path}: not a CIFAR-10 python batch ({one_line(exc)[:200]}); use the "
                           f"files from {url}") from None
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: a CIFAR-10 batch is a dict with 'data' and 'labels', got "
                           f"{type(batch).__name__}")
    get = lambda key: batch.get(key.encode(), batch.get(key))  # noqa: E731  (bytes or str keys)
    data, labels = get("data"), get("labels")
    if not isinstance(data, np.ndarray) or labels is None:
        raise DatasetError(f"{path}: CIFAR-10 batch without 'data' array and 'labels' list "
                           f"(keys: {sorted(map(repr, batch))[:10]})")
    if data.dtype != np.uint8:
        raise DatasetError(f"{path}: CIFAR-10 'data' must be uint8 pixels, got {data.dtype}")
    return data, _cifar_labels(labels, path)
