"""The search state: one dataclass whose fields are the checkpoint.

Each field of ``SearchState`` is one entry of the checkpoint's info record (or one array),
declared with what it must be when read back: a check on the stored value and the words
for it, and, where a field needs more than JSON, how it is written (``dump``) and how it is
checked against the configuration and taken back (``load``).  Saving and restoring walk
``dataclasses.fields``; there is no second list of keys.  The islands' arrays are not part
of this dataclass: their layout is ``engine.island``'s (``Island.check_state``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace

import numpy as np

from azcompile.rng import new_state

from ..data.tasks import TaskSpec
from ..engine import validate
from ..engine.island import Island
from ..engine.population import check_instructions
from . import checkpoint as ckpt
from . import hall
from .archipelago import island_prefix
from .checkpoint import CheckpointError
from .config import Config
from .island_kit import eval_settings
from .lineage import Lineage

# of an unfinished run ("done" when finished); "tune": the [tune] stage after the final one
PHASES = ("start", "init", "evolve", "final", "tune")
_INT, _NUM = validate.is_int, validate.is_number


def _info(check, what: str, *, load=None, dump=None, added=False, **default):
    """A field stored in the info record.  ``check(value)`` must hold for the stored value
    (``what`` says what it must be).  ``dump(value)`` gives the JSON form (default: as is);
    ``load(cfg, stored)`` checks it against the configuration and gives the field's value
    (default: as stored).  An ``added`` field came after checkpoints without it were made:
    it is stored only when it is not empty, and missing means empty (its default)."""
    return field(metadata={"check": check, "what": what, "load": load, "dump": dump,
                           "added": added}, **default)


def _array(like: np.ndarray):
    """A field stored as an array, which must have the shape and dtype of ``like``."""
    return field(metadata={"array": like})


def _as_float(cfg, value) -> float:
    return float(value)


# ---- fields that need the configuration to be read back -------------------------------------

def _spec_json(spec: TaskSpec) -> dict:
    d = dict(spec.__dict__)
    d["data_seeds"] = [int(x) for x in d["data_seeds"]]
    d["param_seeds"] = [int(x) for x in d["param_seeds"]]
    return d


def _dump_specs(specs) -> list:
    return [_spec_json(s) for s in specs]


def _load_specs(cfg: Config, docs: list) -> list[TaskSpec]:
    """The search tasks the run was using: the config's, with the seeds the run drew (and the
    data directory it read from, unless this run names another)."""
    if len(docs) != len(cfg.search_tasks):
        raise CheckpointError(f"'search_specs' has {len(docs)} entries, the configuration "
                              f"{len(cfg.search_tasks)}")
    return [_load_spec(doc, spec, f"search_specs[{i}]", i)
            for i, (doc, spec) in enumerate(zip(docs, cfg.search_tasks))]


def _load_spec(doc, spec: TaskSpec, where: str, i: int) -> TaskSpec:
    if not isinstance(doc, dict):
        raise CheckpointError(f"'{where}' is not a task spec")
    seeds = {}
    for key in ("data_seeds", "param_seeds"):
        seeds[key] = tuple(validate.field(doc, key, lambda v: isinstance(v, list) and all(
            _INT(0, 2 ** 32 - 1)(x) for x in v), "a list of seeds"))
    options = doc.get("options")
    if not isinstance(options, dict) or not isinstance(options.get("data_dir", ""), str):
        raise CheckpointError(f"'{where}.options' is missing or malformed")
    fixed = {k: v for k, v in doc.items() if k not in ("data_seeds", "param_seeds", "options")}
    if (fixed != {k: v for k, v in _spec_json(spec).items() if k in fixed} or
            set(fixed) != set(spec.__dict__) - {"data_seeds", "param_seeds", "options"}):
        raise CheckpointError(f"'{where}' does not match search_tasks[{i}] of the configuration")
    kept = {"data_dir": options["data_dir"]} if "data_dir" in options else {}
    return TaskSpec(**{**spec.__dict__, **seeds, "options": {**kept, **spec.options}})


_BEST_KEYS = {"score", "select_fitness", "search_fitness", "experiment", "program", "individuals",
              "elapsed"}


def _load_best(cfg: Config, best: dict | None) -> dict | None:
    if best is None:
        return None
    if not _BEST_KEYS <= set(best) <= _BEST_KEYS | {"final_fitness"}:
        raise CheckpointError(f"'best' has the fields {sorted(best)}")
    for key in ("score", "search_fitness"):
        validate.field(best, key, _NUM(), "a number")
    for key in ("select_fitness", "final_fitness"):
        if key in best:
            validate.field(best, key, validate.optional(_NUM()), "a number or null")
    validate.field(best, "experiment", _INT(0), "an experiment number")
    validate.field(best, "individuals", _INT(0), "a count")
    validate.field(best, "elapsed", _NUM(0), "seconds")
    ckpt.run_program(best, "best", cfg.memory)
    return best


def _load_lineages(cfg: Config, docs: list) -> list[Lineage]:
    for i, doc in enumerate(docs):
        _check_lineage(doc, cfg, f"lineages[{i}]")
    return [Lineage.from_json(doc) for doc in docs]


def _check_lineage(doc, cfg: Config, where: str) -> None:
    """A lineage record (run.lineage's checkpoint form) that loads and whose programs are
    ones the listing and export can show."""
    try:
        cols = doc["columns"]
        n = len(cols["ids"])
        columns = [np.array(cols[f], dtype=t) for f, t in
                   (("ids", np.int64), ("parents", np.int64), ("mutations", np.int32),
                    ("fitness", float), ("parent_fitness", float))]
        best_ids = [int(x) for x in doc["best_ids"]]
        programs = [(int(k), np.array(c, np.int32), np.array(d, float), np.array(z, np.int32))
                    for k, (c, d, z) in doc["programs"].items()]
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
        raise CheckpointError(f"'{where}' is malformed ({type(exc).__name__})") from None
    if any(c.shape != (n,) for c in columns) or not all(isinstance(x, int) for x in best_ids):
        raise CheckpointError(f"'{where}' has columns of different lengths")
    for key, code, data, size in programs:
        rows = code.shape[1] if code.ndim == 3 else -1
        if code.shape != (3, rows, 4) or data.shape != code.shape or size.shape != (3,) \
                or rows > cfg.capacity:
            raise CheckpointError(f"'{where}' program {key} has the wrong shape")
        validate.within(size, f"{where} program {key} sizes", 0, rows)
        check_instructions(code, cfg.memory, f"{where} program {key}")


def _current_config(cfg: Config, stored: dict) -> dict:
    # The stored record is the one its hash names (check_checkpoint compared the hashes):
    # take the configuration's own, equal document rather than trust the stored copy.
    return ckpt.config_document(cfg)


# ---- the state -----------------------------------------------------------------------------

@dataclass(kw_only=True)
class SearchState:
    experiment: int = _info(_INT(0), "a whole number >= 0", default=0)
    phase: str = _info(lambda v: v in PHASES, f"one of {', '.join(PHASES)}", default="start")
    last_progress: int = _info(_INT(-1), "a whole number >= -1", default=-1)  # at the last event
    best_search: float = _info(_NUM(), "a number", load=_as_float, default=-1.0)   # this experiment
    early_checked: float = _info(_NUM(), "a number", load=_as_float, default=-1.0)
    best: dict | None = _info(lambda v: v is None or isinstance(v, dict),
                              "a candidate record or null", load=_load_best, default=None)
    total_individuals: int = _info(_INT(0), "a whole number >= 0", default=0)
    elapsed: float = _info(_NUM(0), "a number of seconds", load=_as_float, default=0.0)
    events: int = _info(_INT(0), "a line count", default=0)       # lines in the log it matches
    seed: int = _info(_INT(0, 2 ** 63), "a seed")
    search_specs: list = _info(lambda v: isinstance(v, list), "a list of task specs",
                               load=_load_specs, dump=_dump_specs)
    lineages: list = _info(lambda v: isinstance(v, list), "a list of lineages",
                           load=_load_lineages, dump=lambda ls: [lin.to_json() for lin in ls],
                           default_factory=list)
    done: bool = _info(lambda v: v is False, "false for an unfinished run", default=False)
    workers: int = _info(_INT(1, 1024), "a worker count")
    migrations: int = _info(_INT(0), "a whole number >= 0", default=0)
    max_seconds: float | None = _info(validate.optional(_NUM(0)), "a time limit or null")
    max_individuals: int | None = _info(validate.optional(_INT(1)), "a count or null")
    config: dict = _info(lambda v: isinstance(v, dict), "a configuration record",
                         load=_current_config)
    config_sha256: str = _info(lambda v: isinstance(v, str), "a hash")
    config_name: str = _info(lambda v: isinstance(v, str), "a name")
    hall_of_fame: dict = _info(lambda v: isinstance(v, dict), "a table of programs by size",
                               load=hall.load_entries, added=True, default_factory=dict)
    rng: np.ndarray = _array(np.zeros(1, dtype=np.uint64))         # a SplitMix64 state

    @classmethod
    def new(cls, cfg: Config, *, seed: int, workers: int, max_seconds, max_individuals):
        doc = ckpt.config_document(cfg)
        return cls(seed=seed, rng=new_state(seed), search_specs=list(cfg.search_tasks),
                   workers=workers, max_seconds=max_seconds, max_individuals=max_individuals,
                   config=doc, config_sha256=ckpt.document_hash(doc), config_name=cfg.name)

    def checkpoint(self, **now) -> tuple[dict, dict]:
        """(arrays, info) of this state, with the fields in ``now`` (e.g. the elapsed time
        and the event count at this moment) replaced."""
        state = replace(self, **now)
        arrays, info = {}, {}
        for f in fields(state):
            value = getattr(state, f.name)
            if "array" in f.metadata:
                arrays[f.name] = value
            elif not (f.metadata["added"] and not value):
                info[f.name] = f.metadata["dump"](value) if f.metadata["dump"] else value
        return arrays, json.loads(json.dumps(info, default=_plain))

    @classmethod
    def from_checkpoint(cls, cfg: Config, arrays: dict, info: dict) -> "SearchState":
        """The state in a checkpoint that ``check_fields`` accepted, each field checked
        against ``cfg`` as it is taken."""
        values = {}
        for f in fields(cls):
            if "array" in f.metadata:
                values[f.name] = arrays[f.name].copy()
            elif f.metadata["added"] and f.name not in info:
                continue                                    # its default: empty
            else:
                load = f.metadata["load"]
                values[f.name] = load(cfg, info[f.name]) if load else info[f.name]
        return cls(**values)

    @classmethod
    def check_fields(cls, arrays: dict, info: dict) -> None:
        """Every field present and of its kind (CheckpointError naming the first that is not)."""
        for f in fields(cls):
            if "array" in f.metadata:
                validate.array(arrays, f.name, f.metadata["array"])
            elif not (f.metadata["added"] and f.name not in info):
                validate.field(info, f.name, f.metadata["check"], f.metadata["what"])

    @classmethod
    def array_names(cls) -> set:
        return {f.name for f in fields(cls) if "array" in f.metadata}

    @property
    def has_islands(self) -> bool:
        """Whether the islands are part of the state (mid-experiment)."""
        return self.phase in ("init", "evolve")


def _plain(x):
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(type(x).__name__)


# ---- reading a checkpoint back ---------------------------------------------------------------

class ConfigMismatch(Exception):
    """The configuration given is not the one the checkpoint was made with."""

    def __init__(self, changes: str):
        super().__init__(changes)
        self.changes = changes


def recorded_config(info: dict) -> dict:
    """The configuration record of a checkpoint, if it is the one its hash names."""
    return validate.field(info, "config", lambda d: isinstance(d, dict) and
                          ckpt.document_hash(d) == info.get("config_sha256"),
                          "the configuration its hash names")


def check_checkpoint(cfg: Config, arrays: dict, info: dict) -> SearchState:
    """The state a resume takes from a checkpoint, all of it checked against ``cfg`` before
    any of it reaches a kernel.  Raises ConfigMismatch if ``cfg`` is not the configuration
    the run was made with, CheckpointError (one line) for contents that are missing or
    impossible.  (The islands' arrays stay in ``arrays``; they are checked here too.)"""
    current = ckpt.config_document(cfg)
    if ckpt.document_hash(current) != info.get("config_sha256"):
        raise ConfigMismatch(ckpt.config_changes(recorded_config(info), current))
    SearchState.check_fields(arrays, info)
    islands = info["workers"] if info["phase"] in ("init", "evolve") else 0
    _check_island_arrays(cfg, arrays, islands, info["phase"])
    if islands and len(info["lineages"]) != islands:
        raise CheckpointError(f"'lineages' has {len(info['lineages'])} entries for "
                              f"{islands} islands")
    return SearchState.from_checkpoint(cfg, arrays, info)


def _check_island_arrays(cfg: Config, arrays: dict, islands: int, phase: str) -> None:
    settings = eval_settings(cfg)
    expected = SearchState.array_names()
    for i in range(islands):
        expected |= Island.check_state(arrays, island_prefix(i), cfg, settings)
    extra = sorted(set(arrays) - expected)
    if extra:
        raise CheckpointError(f"unexpected array '{extra[0]}' for phase {phase!r} with "
                              f"{islands} islands")
    if islands:
        counters = {tuple(arrays[f"{island_prefix(i)}counters"]) for i in range(islands)}
        P = cfg.evolution["population_size"]
        if phase == "evolve" and cfg.run["migration"] == "async":
            counters = {(0, c[1]) for c in counters}   # no barrier: each at its own cursor
        if len(counters) != 1 or (phase == "evolve" and next(iter(counters))[1] != P):
            raise CheckpointError(f"island counters {sorted(counters)} do not fit phase {phase!r}")
