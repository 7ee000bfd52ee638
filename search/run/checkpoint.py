"""Checkpoints: the whole search state in one ``.npz``, replaced atomically.

The state is a flat dict of numpy arrays plus one JSON document of scalars; caches are
included, so a resumed run continues exactly as the uninterrupted one would have.

A checkpoint is read as untrusted input: the numba kernels index memory without bounds
checks, so nothing from it may reach them before it is checked.  This module reads the file
defensively (every member's declared size is checked against the bytes it holds before
anything is allocated) and records the configuration the run was made with
(``config_document``), which resume compares with the configuration it is given.  The checks
callers compose on what it returns (fields, array shapes, dtypes, value ranges) are in
``engine.validate``.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from azcompile.files import one_line
from azcompile.program import Program, ProgramError, from_json
from azcompile.jit_cache import atomic_write_bytes

# The checks on stored state (fields, arrays, ranges) live in engine.validate: the engine checks
# an island's state with them too.
from ..engine.validate import ABSENT, CheckpointError, describe

FORMAT = "azcompile.checkpoint/2"
_INFO = "__info__"


def run_program(doc: dict, where: str, memory) -> Program:
    """``doc['program']`` read as a Program of the run's ``memory`` (the best program, a hall
    entry), or one CheckpointError naming ``where``."""
    try:
        program = from_json(doc["program"])
    except ProgramError as exc:
        raise CheckpointError(f"'{where}.program': {exc}") from None
    if program.memory.as_dict() != memory.as_dict():
        raise CheckpointError(f"'{where}.program' has memory {program.memory.as_dict()}")
    return program


def save(path: Path, arrays: dict, info: dict) -> None:
    """Write atomically: a crash leaves the previous checkpoint in place (OSError passes)."""
    buffer = io.BytesIO()
    doc = json.dumps({"format": FORMAT, **info}, allow_nan=False)
    np.savez(buffer, **{_INFO: np.frombuffer(doc.encode(), dtype=np.uint8)}, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load(path: Path) -> tuple[dict, dict]:
    """(arrays, info) of a checkpoint file; CheckpointError (one line) if it cannot be read."""
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {_member_key(m): _read_member(archive, m) for m in archive.infolist()}
    except CheckpointError as exc:
        raise CheckpointError(f"{path} is damaged ({exc})") from None
    except Exception as exc:  # noqa: BLE001  (zip, zlib, numpy and OS errors of a bad file)
        raise CheckpointError(f"{path} is unreadable ({one_line(exc, named=True)[:200]})"
                              ) from None
    raw = arrays.pop(_INFO, None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"{path} is not an azcompile checkpoint (no {_INFO} record)")
    try:
        info = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path} is damaged ({_INFO}: {one_line(exc, named=True)[:200]})"
                              ) from None
    if not isinstance(info, dict):
        raise CheckpointError(f"{path} is damaged ({_INFO} is not a JSON object)")
    if info.get("format") != FORMAT:
        raise CheckpointError(f"{path} was written in another checkpoint format "
                              f"({describe(info.get('format'))}, this azcompile reads {FORMAT!r})")
    return arrays, info


def _member_key(member: zipfile.ZipInfo) -> str:
    if not member.filename.endswith(".npy"):
        raise CheckpointError(f"member {member.filename!r} is not an array")
    return member.filename[:-4]


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> np.ndarray:
    """One array, its header checked first: a header may declare any shape."""
    with archive.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise CheckpointError(f"{member.filename}: unsupported .npy version {version}")
        shape, fortran, dtype = read_header(fh)
        if dtype.hasobject:
            raise CheckpointError(f"{member.filename}: object arrays are not allowed")
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if declared > member.file_size:
            raise CheckpointError(f"{member.filename} declares {declared} bytes but holds "
                                  f"{member.file_size}")
    with archive.open(member) as fh:
        return np.lib.format.read_array(fh, allow_pickle=False)


# ---- the configuration a run was made with ---------------------------------------------------

# Keys that do not change what the search computes, or that resume checks on their own:
# the worker count (checked against the checkpoint's) and where dataset files are looked up.
_IGNORED_RUN_KEYS = ("workers", "checkpoint_seconds", "worker_timeout")
# Keys added after runs were checkpointed: at their default they are left out, so the hash of
# an older run's configuration stays what it was.
_OMITTED_AT_DEFAULT = {"migration": "deterministic"}
_EVOLUTION_ADDED = {   # the same for [evolution]: crossover came later
    "crossover_prob": 0.0, "speciation": False, "species_width": 0.05,
    "random_draws": 1, "draw_combination": "mean"}
# [selection] and [[promotion_tasks]] came later: at their defaults they are left out, so
# older checkpoints still resume.
_SELECTION_DEFAULT = {"candidates": 1, "alpha": 0.05, "random_draws": 1, "draw_combination": "mean"}
_CONTROLLER_ADDED = {"policy": "bigram", "hidden": 32}   # the same for [controller]: the GRU came later
_IGNORED_TASK_OPTIONS = ("data_dir",)


def config_document(cfg) -> dict:
    """The configuration as plain JSON data, as a checkpoint records it and resume compares it
    (defaults filled in, so equal settings written differently compare equal)."""
    m = cfg.memory
    return {
        "memory": {"scalars": m.scalars, "vectors": m.vectors, "matrices": m.matrices},
        "ops": dict(zip(("setup", "predict", "learn"), (list(x) for x in cfg.ops))),
        "sizes": dict(cfg.sizes),
        "evolution": {k: v for k, v in cfg.evolution.items()
                      if _EVOLUTION_ADDED.get(k, object()) != v},
        "fec": cfg.fec,
        "hurdles": cfg.hurdles, "train_budget": cfg.train_budget,
        "experiment": dict(cfg.experiment),
        **({"controller": {k: v for k, v in cfg.controller.items()
                           if _CONTROLLER_ADDED.get(k, object()) != v}}
           if cfg.evolution["strategy"] == "rl" else {}),
        **({"relaxation": dict(cfg.relaxation)}
           if cfg.evolution["strategy"] == "relaxation" else {}),
        "run": {k: v for k, v in cfg.run.items() if k not in _IGNORED_RUN_KEYS
                and _OMITTED_AT_DEFAULT.get(k, object()) != v},
        **{name: [_task_document(s) for s in getattr(cfg, name)]
           for name in ("search_tasks", "select_tasks", "final_tasks")},
        **({"selection": dict(cfg.selection)} if cfg.selection != _SELECTION_DEFAULT else {}),
        **({"promotion_tasks": [_task_document(s) for s in cfg.promotion_tasks]}
           if cfg.promotion_tasks else {}),
    }


def _task_document(spec) -> dict:
    doc = {k: v for k, v in spec.__dict__.items() if k != "options"}
    doc["data_seeds"] = [int(x) for x in spec.data_seeds]
    doc["param_seeds"] = [int(x) for x in spec.param_seeds]
    doc.update({k: v for k, v in spec.options.items() if k not in _IGNORED_TASK_OPTIONS})
    return json.loads(json.dumps(doc, default=str))


def document_hash(doc: dict) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


def config_changes(old: dict, new: dict, limit: int = 2) -> str:
    """What differs between two config documents, e.g. ``memory.vectors: 3 -> 2``."""
    a, b = _flatten(old), _flatten(new)
    keys = list(dict.fromkeys([*a, *b]))
    changed = [k for k in keys if a.get(k, ABSENT) != b.get(k, ABSENT)]
    parts = [f"{k}: {describe(a.get(k, ABSENT))} -> {describe(b.get(k, ABSENT))}"
             for k in changed[:limit]]
    if len(changed) > limit:
        parts.append(f"and {len(changed) - limit} more")
    return ", ".join(parts) or "no difference"


def _flatten(doc, prefix="") -> dict:
    if isinstance(doc, dict):
        out = {}
        for key, value in doc.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(doc, list) and doc and all(isinstance(x, dict) for x in doc):
        out = {}
        for i, value in enumerate(doc):
            out.update(_flatten(value, f"{prefix}[{i}]"))
        return out
    return {prefix: doc}
