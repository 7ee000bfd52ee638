"""The search state and the island protocol: checkpoints written before the state became one
dataclass still resume to the same end, the dataclass's fields are exactly the checkpoint's,
and the coordinator drives any island that implements the protocol."""
from __future__ import annotations

import json
import lzma
import shutil
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from azcompile.search.engine.island import Island
from azcompile.search.engine.island_protocol import IslandProtocol
from azcompile.search.run import checkpoint as ckpt
from azcompile.search.run import config as config_mod
from azcompile.search.run.archipelago import Archipelago
from azcompile.search.run.experiment import RunOptions, Search
from azcompile.search.run.state import SearchState, check_checkpoint
from azcompile.search.run.workers import RemoteIsland

ROOT = Path(__file__).resolve().parent.parent
# Run directories stopped mid-evolution by the code of commit fd23498 (before SearchState),
# with the events and best program that code gave when it resumed them to the end.  The
# checkpoint is stored xz-compressed (it is 16 MB, mostly an empty canonical cache).
FROZEN = ROOT / "tests" / "data" / "checkpoint_v2"
TIMING = {"time", "elapsed", "rate", "profile", "found_at_seconds"}


def _unpack(name: str, tmp_path: Path) -> Path:
    run = tmp_path / name
    shutil.copytree(FROZEN / name / "run", run)
    packed = run / "checkpoint.npz.xz"
    (run / "checkpoint.npz").write_bytes(lzma.decompress(packed.read_bytes()))
    packed.unlink()
    return run


# Counters added to the statistics after that commit (today's code reports them too).
NEW_STATS = {"executed_instructions"}


def _events(run: Path) -> list[dict]:
    events = [{k: v for k, v in json.loads(line).items() if k not in TIMING}
              for line in (run / "events.jsonl").read_text().splitlines()]
    for event in events:
        if "stats" in event:
            event["stats"] = {k: v for k, v in event["stats"].items() if k not in NEW_STATS}
    return events


@pytest.fixture(scope="module", params=["w1", "w2"])
def resumed(request, tmp_path_factory) -> tuple[str, Path]:
    """A frozen run (1 or 2 workers) resumed to its end by today's code."""
    run = _unpack(request.param, tmp_path_factory.mktemp("frozen"))
    Search(config_mod.load(run / "config.toml"), RunOptions(out=run, resume=True)).run()
    return request.param, run


def test_a_checkpoint_of_the_old_code_resumes_to_the_same_end(resumed):
    name, run = resumed
    expected = [json.loads(line) for line in
                (FROZEN / name / "expected_events.jsonl").read_text().splitlines()]
    assert _events(run) == expected
    best = json.loads((run / "best_program.json").read_text())
    best["meta"].pop("found_at_seconds")
    assert best == json.loads((FROZEN / name / "expected_best_program.json").read_text())


def test_each_experiment_s_profile_times_that_experiment_alone(resumed):
    """Worker processes are kept between experiments; the profile's clock must still start
    anew with each (it once ran on from the first, so later experiments claimed its time)."""
    _, run = resumed
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    started = {e["experiment"]: e["time"] for e in events if e["event"] == "experiment_start"}
    ends = [e for e in events if e["event"] == "experiment_end" and e["experiment"] in started]
    assert len(ends) >= 2
    for end in ends:
        assert end["profile"]["seconds"] <= end["time"] - started[end["experiment"]] + 0.01


def test_the_state_writes_back_exactly_the_checkpoint_it_read(tmp_path):
    run = _unpack("w1", tmp_path)
    arrays, info = ckpt.load(run / "checkpoint.npz")
    state = check_checkpoint(config_mod.load(run / "config.toml"), arrays, info)
    own_arrays, own_info = state.checkpoint()
    assert own_info == {k: v for k, v in info.items() if k != "format"}
    assert list(own_info) == [k for k in info if k != "format"]     # in the same order too
    assert set(own_arrays) == {k for k in arrays if not k.startswith("island")}
    for key, value in own_arrays.items():
        assert value.dtype == arrays[key].dtype and np.array_equal(value, arrays[key])


def test_the_checkpoint_s_info_keys_are_the_dataclass_fields():
    frozen = ["experiment", "phase", "last_progress", "best_search", "early_checked", "best",
              "total_individuals", "elapsed", "events", "seed", "search_specs", "lineages",
              "done", "workers", "migrations", "max_seconds", "max_individuals", "config",
              "config_sha256", "config_name",
              "hall_of_fame"]   # added later: stored when not empty, missing in old checkpoints
    info = [f.name for f in fields(SearchState) if "array" not in f.metadata]
    assert info == frozen and SearchState.array_names() == {"rng"}


# ---- the island protocol -------------------------------------------------------------------

def _protocol_methods() -> set:
    return {name for name, value in vars(IslandProtocol).items()
            if callable(value) and not name.startswith("_")}


@pytest.mark.parametrize("cls", [Island, RemoteIsland])
def test_both_islands_implement_every_method_of_the_protocol(cls):
    assert _protocol_methods() <= set(dir(cls))


class _FakeIsland:
    """A third kind of island (all in Python), to show the coordinator needs nothing else."""

    def __init__(self, name, fitness, calls):
        self.name, self.calls = name, calls
        self.fitness = np.array(fitness, dtype=float)
        self.size, self.initialized, self.cursor = len(fitness), len(fitness), 0
        self.ids = np.arange(len(fitness)) + 100 * name
        self.stats = np.zeros(16, dtype=np.int64)
        self.profile = np.zeros(5, dtype=np.int64)
        self.log = None

    def start_initialize(self, count):
        self.calls.append(("start", self.name))

    def start_evolve(self, count):
        self.calls.append(("start", self.name))
        self.stats[0] += count

    def finish(self):
        self.calls.append(("finish", self.name))

    def best_slot(self):
        return int(np.argmax(self.fitness))

    def program(self, slot):
        return ("program", self.name, slot)

    def emigrants(self, slots):
        slots = np.asarray(slots)
        return (self.ids[slots], self.ids[slots], self.ids[slots], self.fitness[slots])

    def immigrate(self, members):
        self.fitness[:len(members[3])] = members[3]

    def state(self, prefix):
        return {f"{prefix}fitness": self.fitness.copy()}

    def restore(self, arrays, prefix):
        self.fitness[...] = arrays[f"{prefix}fitness"]

    def close(self):
        pass


def test_the_coordinator_starts_a_step_on_every_island_before_it_waits_for_any():
    calls = []
    islands = Archipelago([_FakeIsland(i, [0.1, 0.2], calls) for i in range(3)], 4, 1)
    assert isinstance(islands.islands[0], IslandProtocol)
    islands.evolve(2)
    assert calls == [("start", 0), ("start", 1), ("start", 2),
                     ("finish", 0), ("finish", 1), ("finish", 2)]


def test_the_coordinator_migrates_and_finds_the_best_across_any_islands():
    islands = Archipelago([_FakeIsland(0, [0.1, 0.5, 0.2, 0.3], []),
                           _FakeIsland(1, [0.9, 0.0, 0.4, 0.9], [])], 4, 2)
    assert islands.best_member() == (1, 0, 0.9)
    assert islands.program(1, 0) == ("program", 1, 0)
    assert islands.migrate_if_due(np.zeros(1, dtype=np.uint64), 0) is None     # none due yet
    islands.evolve(4)
    pooled = sorted(np.concatenate([isl.fitness for isl in islands.islands]))
    moved = islands.migrate_if_due(np.zeros(1, dtype=np.uint64), 0)
    assert (moved.individuals, moved.migrants, moved.exchanges) == (4, 2, 1)
    assert islands.migrate_if_due(np.zeros(1, dtype=np.uint64), moved.exchanges) is None
    after = sorted(np.concatenate([isl.fitness for isl in islands.islands]))
    assert after != pooled and set(after) <= set(pooled)    # members moved, none made up
    saved = islands.state()
    assert set(saved) == {"island0_fitness", "island1_fitness"}


# ---- no import circle --------------------------------------------------------------------------

def _run_room_imports() -> dict:
    """For each module of search/run, the search/run modules it imports (anywhere in it)."""
    import ast

    room = ROOT / "search" / "run"
    names = {p.stem for p in room.glob("*.py")}
    graph = {}
    for path in room.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found |= ({node.module} if node.module else {a.name for a in node.names})
        graph[path.stem] = found & names
    return graph


def test_the_run_room_has_no_import_circle():
    graph, done = _run_room_imports(), set()

    def visit(module, path):
        assert module not in path, f"import circle: {' -> '.join([*path, module])}"
        if module not in done:
            for imported in graph[module]:
                visit(imported, [*path, module])
            done.add(module)

    for module in graph:
        visit(module, [])
    assert "experiment" not in graph["workers"]
