"""Checkpoints as untrusted input: reading a damaged file is one CheckpointError, and every
array and field a resume takes is checked against the configuration before a kernel sees it
(the kernels index memory without bounds checks)."""
from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from azcompile.ops import BY_NAME
from azcompile.search.run import checkpoint as ckpt
from azcompile.search.run import config as config_mod
from azcompile.search.run.checkpoint import CheckpointError
from azcompile.search.run.experiment import RunOptions, Search
from azcompile.search.run.state import ConfigMismatch, check_checkpoint

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny.toml"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A genuine mid-run checkpoint of the tiny config (stopped in phase 'evolve')."""
    out = tmp_path_factory.mktemp("ckpt") / "run"
    steps = iter(range(40))
    search = Search(config_mod.load(TINY), RunOptions(out=out, seed=3,
                                                       should_stop=lambda: next(steps) >= 39))
    search.run()
    assert search.interrupted and search.phase == "evolve"
    return out / "checkpoint.npz"


@pytest.fixture
def state(saved):
    arrays, info = ckpt.load(saved)
    return {k: v.copy() for k, v in arrays.items()}, copy.deepcopy(info)


@pytest.fixture(scope="module")
def cfg():
    return config_mod.load(TINY)


def test_a_genuine_checkpoint_passes_and_gives_the_run_s_tasks(state, cfg):
    arrays, info = state
    specs = check_checkpoint(cfg, arrays, info).search_specs
    assert [list(s.data_seeds) for s in specs] == [d["data_seeds"] for d in info["search_specs"]]
    assert info["format"] == ckpt.FORMAT and info["seed"] == 3 and info["workers"] == 1
    assert info["config_sha256"] == ckpt.document_hash(ckpt.config_document(cfg))
    assert "max_seconds" in info and "max_individuals" in info


# ---- reading the file -------------------------------------------------------------------------

def _rewrite(saved: Path, tmp_path: Path, edit) -> Path:
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(edit(saved.read_bytes()))
    return path


def _flip(data: bytes, at: float) -> bytes:
    b = bytearray(data)
    b[int(len(b) * at)] ^= 0x10
    return bytes(b)


def _npz(**members) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    return buf.getvalue()


def _npy_header(shape, descr="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


@pytest.mark.parametrize("name, edit, needle", [
    ("empty", lambda d: b"", "unreadable"),
    ("truncated", lambda d: d[: len(d) // 2], "unreadable"),
    ("bit flipped in an array", lambda d: _flip(d, 0.5), "unreadable"),
    ("bit flipped near the end", lambda d: _flip(d, 0.97), ""),
    ("not a zip file", lambda d: b"hello" * 100, "unreadable"),
    ("a member that is not an array", lambda d: _npz(**{"rng.txt": b"x"}), "not an array"),
    ("an object array", lambda d: _npz(**{"rng.npy": _npy_header((1,), "|O") + b"\0" * 8}),
     "object arrays"),
    ("a header declaring 36 TiB", lambda d: _npz(**{"rng.npy": _npy_header((1 << 42, 1 << 0))}),
     "declares"),
    ("no info record", lambda d: _npz(**{"rng.npy": _npy_header((1,)) + b"\0" * 8}),
     "not an azcompile checkpoint"),
])
def test_an_unreadable_file_is_one_checkpoint_error(saved, tmp_path, name, edit, needle):
    path = _rewrite(saved, tmp_path, edit)
    with pytest.raises(CheckpointError) as err:
        ckpt.load(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and needle in message


def test_another_format_is_named(tmp_path):
    path = tmp_path / "checkpoint.npz"
    ckpt.save(path, {}, {})
    doc = {"format": "azcompile.checkpoint/1"}
    np.savez(path, __info__=np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8))
    with pytest.raises(CheckpointError, match="another checkpoint format"):
        ckpt.load(path)


# ---- the contents -------------------------------------------------------------------------

def _code(arrays):
    return arrays["island0_pop_code"]


def _set_row(arrays, row):
    _code(arrays)[0, 1, 0] = row


def _cache(arrays, field):
    return arrays[f"island0_canon_cache_{field}"]


def _used_slot(arrays):
    return int(np.nonzero(_cache(arrays, "heads") >= 0)[0][0])


def _loop_a_bucket(arrays):
    heads, chain = _cache(arrays, "heads"), _cache(arrays, "chain")
    slot = heads[_used_slot(arrays)]
    chain[slot] = slot


def _wrong_bucket(arrays):
    slot = _cache(arrays, "heads")[_used_slot(arrays)]
    _cache(arrays, "keys")[slot] += np.uint64(1)


def _loop_recency(arrays):
    state = _cache(arrays, "state")
    head = int(state[0])
    _cache(arrays, "next")[int(state[1])] = head     # tail -> head
    _cache(arrays, "prev")[head] = int(state[1])


SUM = BY_NAME["SCALAR_SUM_OP"].id
ARRAY_DAMAGE = [
    ("an op id past the table", lambda a: _set_row(a, (200, 0, 0, 0)), "op ids"),
    ("a negative op id", lambda a: _set_row(a, (-1, 0, 0, 0)), "op ids"),
    ("a scalar register past memory", lambda a: _set_row(a, (SUM, 1, 2, 9)), "out = 9"),
    ("a write to the label s0", lambda a: _set_row(a, (SUM, 1, 2, 0)), "out = 0"),
    ("an unused operand set", lambda a: _set_row(a, (0, 3, 0, 0)), "in1 = 3"),
    ("a size past capacity", lambda a: a["island0_pop_size"].__setitem__((0, 2), 999), "size"),
    ("a negative size", lambda a: a["island0_pop_size"].__setitem__((0, 0), -1), "size"),
    ("an unknown mutation", lambda a: a["island0_pop_mutations"].__setitem__(0, 99), "mutations"),
    ("a cursor past the population",
     lambda a: a["island0_counters"].__setitem__(0, 100), "counters"),
    ("a hurdle ring position NaN",
     lambda a: a["island0_hurdle"].__setitem__(2, np.nan), "hurdle"),
    ("a cache head out of range", lambda a: _cache(a, "heads").__setitem__(0, 1 << 20), "heads"),
    ("a bucket chain that loops", _loop_a_bucket, "canon_cache"),
    ("an entry in the wrong bucket", _wrong_bucket, "wrong bucket"),
    ("a wrong entry count", lambda a: _cache(a, "state").__setitem__(2, 3), "counts"),
    ("a recency list that loops", _loop_recency, "recency"),
    ("an array of another dtype",
     lambda a: a.__setitem__("island0_pop_size", a["island0_pop_size"].astype(np.int64)), "int64"),
    ("an array of another shape",
     lambda a: a.__setitem__("island0_pop_fitness", np.zeros(7)), "fitness"),
    ("a missing array", lambda a: a.pop("island0_hurdle"), "missing"),
    ("an unexpected array", lambda a: a.__setitem__("island9_rng", np.zeros(1)), "unexpected"),
]


@pytest.mark.parametrize("name, damage, needle", ARRAY_DAMAGE, ids=[c[0] for c in ARRAY_DAMAGE])
def test_a_damaged_array_is_refused_before_any_kernel(state, cfg, name, damage, needle):
    arrays, info = state
    damage(arrays)
    with pytest.raises(CheckpointError) as err:
        check_checkpoint(cfg, arrays, info)
    assert needle in str(err.value) and "\n" not in str(err.value)


def _lineage_program(info, row):
    programs = info["lineages"][0]["programs"]
    key = next(iter(programs))
    programs[key][0][1][0] = row


INFO_DAMAGE = [
    ("an unknown phase", lambda i: i.__setitem__("phase", "warp"), "phase"),
    ("a missing phase", lambda i: i.pop("phase"), "'phase' is missing"),
    ("a missing seed", lambda i: i.pop("seed"), "'seed' is missing"),
    ("a negative experiment", lambda i: i.__setitem__("experiment", -4), "experiment"),
    ("a seed past 2^63", lambda i: i.__setitem__("seed", 2 ** 64), "seed"),
    ("a text where a number belongs", lambda i: i.__setitem__("elapsed", "soon"), "elapsed"),
    ("no lineage for the island", lambda i: i.__setitem__("lineages", []), "lineages"),
    ("a lineage program with a bad op",
     lambda i: _lineage_program(i, [77, 0, 0, 0]), "op ids"),
    ("a lineage that is not a record", lambda i: i["lineages"].__setitem__(0, 5), "lineages[0]"),
    ("task specs of another feature size",
     lambda i: i["search_specs"][0].__setitem__("features", 8), "search_specs[0]"),
    ("a task seed past 2^32",
     lambda i: i["search_specs"][0].__setitem__("data_seeds", [2 ** 40]), "data_seeds"),
    ("a best program with a bad register",
     lambda i: i.__setitem__("best", {"score": 0.5, "select_fitness": 0.5, "search_fitness": 0.5,
                                      "experiment": 0, "individuals": 1, "elapsed": 1.0,
                                      "program": {"format": "azcompile.program", "version": 1,
                                                  "memory": {}, "predict": [
                                                      {"op": "SCALAR_SUM_OP", "in1": 9}]}}),
     "best.program"),
]


@pytest.mark.parametrize("name, damage, needle", INFO_DAMAGE, ids=[c[0] for c in INFO_DAMAGE])
def test_a_damaged_field_is_refused(state, cfg, name, damage, needle):
    arrays, info = state
    damage(info)
    with pytest.raises(CheckpointError) as err:
        check_checkpoint(cfg, arrays, info)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_config_record_its_hash_does_not_name_is_damage(state):
    """The record is what a mismatch is described from: it must be the one hashed."""
    arrays, info = state
    info["config"]["memory"]["vectors"] = 9
    changed = config_mod.parse(TINY.read_text().replace("vectors = 3", "vectors = 2"))
    with pytest.raises(CheckpointError, match="'config'"):
        check_checkpoint(changed, arrays, info)


def test_another_configuration_is_a_mismatch_saying_what_differs(state):
    arrays, info = state
    text = TINY.read_text().replace("vectors = 3", "vectors = 2")
    with pytest.raises(ConfigMismatch) as err:
        check_checkpoint(config_mod.parse(text, "x.toml"), arrays, info)
    assert err.value.changes == "memory.vectors: 3 -> 2"


def test_the_same_configuration_written_differently_is_no_mismatch(state):
    """Defaults filled in, other name, other file, other worker count: the same search."""
    arrays, info = state
    text = TINY.read_text().replace('name = "tiny"', 'name = "other"').replace(
        "[memory]", "[memory]\n# the defaults, spelled out\nmatrices = 1").replace(
        "matrices = 1\n", "", 1).replace("seed = 7", "seed = 7\nworkers = 3")
    check_checkpoint(config_mod.parse(text, "elsewhere/other.toml"), arrays, info)


def test_config_changes_lists_the_first_differences():
    old = {"memory": {"vectors": 3, "scalars": 4}, "search_tasks": [{"features": 4}], "a": 1}
    new = {"memory": {"vectors": 2, "scalars": 5}, "search_tasks": [{"features": 8}]}
    assert ckpt.config_changes(old, new) == ("memory.vectors: 3 -> 2, memory.scalars: 4 -> 5, "
                                             "and 2 more")
    assert ckpt.config_changes(old, new, limit=4).endswith(
        "search_tasks[0].features: 4 -> 8, a: 1 -> (not set)")
