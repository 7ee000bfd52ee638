"""Checkpoints: the whole search state in one ``.npz``, replaced atomically.

The state is a flat dict of numpy arrays plus one JSON document of scalars; caches are
included, so a resumed run continues exactly as the uninterrupted one would have.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from azcompile.jit_cache import atomic_write_bytes

FORMAT = "azcompile.checkpoint/1"


class CheckpointError(RuntimeError):
    pass


def save(path: Path, arrays: dict, info: dict) -> None:
    buffer = io.BytesIO()
    doc = json.dumps({"format": FORMAT, **info}, allow_nan=False)
    np.savez(buffer, __info__=np.frombuffer(doc.encode(), dtype=np.uint8), **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load(path: Path) -> tuple[dict, dict]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "__info__"}
            info = json.loads(bytes(z["__info__"]).decode())
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint ({exc}); the run cannot be "
                              f"resumed from it") from None
    if info.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a checkpoint of this azcompile version "
                              f"(format {info.get('format')!r})")
    return arrays, info
