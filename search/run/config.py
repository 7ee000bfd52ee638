"""Search configuration: TOML mirroring the reference's SearchExperimentSpec and flags.

Every key is checked: an unknown key (with a suggestion), a wrong type or a bad value gives a
``ConfigError`` whose message names the key and what is allowed.  Relative data paths (a task's
``path``, ``labels_path``, ``data_dir``) resolve against the config file's folder, or against
the top-level ``base_dir`` key, which ``Config.run_dir_text`` records for the run directory.
See examples/*.toml and the README's configuration reference for the full list of keys.
"""
from __future__ import annotations

import difflib
import math
import os
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from azcompile import ops as _ops
from azcompile import reference_programs
from azcompile.eval_type import EvalType, config_names
from azcompile.files import read_text_file
from azcompile.liveness import MAX_REGISTERS
from azcompile.program import Memory

from ..data.registry import TASK_TYPES, build_tasks
from ..data.tasks import TaskError, TaskSpec
from ..engine.evaluator import DRAW_COMBINATIONS, KERNEL_DRAW_COMBINATIONS
from ..engine.mutator import MUTATION_NAMES
from ..tune import METHODS as TUNE_METHODS

INITIAL_POPULATIONS = ("no_op", "random", "linear", "neural_net", "damaged_neural_net")
WARM_START = "from:"        # initial_population = "from:PATH": a program file or a run directory


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key and the fix."""


# ---- the schema: section -> key -> (checker, default); REQUIRED marks mandatory keys ------
REQUIRED = object()


def _int(low=None, high=None):
    def check(key, v):
        if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 62:
            v = int(v)           # allow 2e8 for large step counts
        if not isinstance(v, int) or isinstance(v, bool):
            raise ConfigError(f"{key}: must be an integer, got {v!r}")
        if low is not None and v < low:
            raise ConfigError(f"{key}: must be >= {low}, got {v}")
        if high is not None and v > high:
            raise ConfigError(f"{key}: must be <= {high}, got {v}")
        return v
    return check


def _float(low=None, high=None, low_open=False):
    def check(key, v):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise ConfigError(f"{key}: must be a finite number, got {v!r}")
        if low is not None and (v < low or (low_open and v == low)):
            raise ConfigError(f"{key}: must be {'>' if low_open else '>='} {low}, got {v}")
        if high is not None and v > high:
            raise ConfigError(f"{key}: must be <= {high}, got {v}")
        return float(v)
    return check


def _bool(key, v):
    if not isinstance(v, bool):
        raise ConfigError(f"{key}: must be true or false, got {v!r}")
    return v


def _speciation(key, v):
    # true is the fitness band's first spelling: kept as written, so the configuration
    # record of a run checkpointed then stays what it was
    if v in (False, True, "fitness", "fec"):
        return v
    raise ConfigError(f"{key}: must be false, \"fitness\" (or true) or \"fec\"; got {v!r}")


def _choice(*allowed):
    def check(key, v):
        if v not in allowed:
            raise ConfigError(f"{key}: must be one of {', '.join(map(repr, allowed))}; got {v!r}")
        return v
    return check


def _initial_population(key, v):
    if v in INITIAL_POPULATIONS or (isinstance(v, str) and v.startswith(WARM_START)
                                    and len(v) > len(WARM_START)):
        return v
    raise ConfigError(f"{key}: must be one of {', '.join(map(repr, INITIAL_POPULATIONS))} or "
                      f"\"from:PATH\" (a program file or a run directory to start from); got {v!r}")


def _str(key, v):
    if not isinstance(v, str):
        raise ConfigError(f"{key}: must be a string, got {v!r}")
    return v


def _op_list(key, v):
    if not isinstance(v, list):
        raise ConfigError(f"{key}: must be a list of op names like [\"SCALAR_SUM_OP\"], got {v!r}")
    names = []
    for item in v:
        try:
            names.append(_ops.lookup(item).name)
        except KeyError:
            close = difflib.get_close_matches(str(item).upper(), list(_ops.BY_NAME), n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (`azc ops` lists them)"
            raise ConfigError(f"{key}: unknown op {item!r}{hint}") from None
    return names


def _mutation_list(key, v):
    if not isinstance(v, list) or not v:
        raise ConfigError(f"{key}: must be a non-empty list of mutation types "
                          f"({', '.join(MUTATION_NAMES)})")
    for item in v:
        if item not in MUTATION_NAMES:
            raise ConfigError(f"{key}: unknown mutation {item!r}; allowed: {', '.join(MUTATION_NAMES)}")
    return list(v)


SCHEMA = {
    "memory": {"scalars": (_int(2), 4), "vectors": (_int(1), 3), "matrices": (_int(1), 1)},
    "ops": {"setup": (_op_list, []), "predict": (_op_list, []), "learn": (_op_list, [])},
    "sizes": {
        "setup_init": (_int(0), REQUIRED), "predict_init": (_int(0), REQUIRED),
        "learn_init": (_int(0), REQUIRED),
        "setup_min": (_int(0), None), "predict_min": (_int(0), None), "learn_min": (_int(0), None),
        "setup_max": (_int(1), None), "predict_max": (_int(1), None), "learn_max": (_int(1), None),
    },
    "evolution": {
        "strategy": (_choice("evolution", "random", "rl", "relaxation"), "evolution"),
        "population_size": (_int(1), 1000),
        "tournament_size": (_int(1), 10),
        "initial_population": (_initial_population, "no_op"),
        "mutate_prob": (_float(0.0, 1.0), 0.9),
        "mutations": (_mutation_list, REQUIRED),
        "max_train_steps": (_int(1), 80_000_000_000),
        "fitness_combination": (_choice("mean", "median"), "mean"),
        "max_abs_error": (_float(0.0, low_open=True), 100.0),
        "progress_every": (_int(1), 10_000),
        "prefilter": (_bool, False),
        "budget_accounting": (_choice("reference", "executed"), "reference"),
        # Crossover (regularized evolution only): the share of children recombined from the
        # parent and a mate; with speciation the mate is of the parent's species: a band of
        # search fitness species_width wide ("fitness", or true as before), or the members
        # whose FEC probe on the first task behaves alike ("fec").
        "crossover_prob": (_float(0.0, 1.0), 0.0),
        "speciation": (_speciation, False),
        "species_width": (_float(0.0, 1.0, low_open=True), 0.05),
        # Honest fitness: a program with live random ops runs on random_draws random-op
        # seeds, each task's fitness the mean or the worst draw (1: the reference's one draw).
        "random_draws": (_int(1, 1000), 1),
        "draw_combination": (_choice(*KERNEL_DRAW_COMBINATIONS), "mean"),
    },
    # How an experiment's winner is chosen (run.selection): its `candidates` best distinct
    # members by search fitness go through the funnel (the select tasks, then the promotion
    # tasks); after each stage the ones a one-sided paired Wilcoxon test puts below the
    # stage's leader at level `alpha` drop out; select and final evaluation of a program
    # with random ops uses `random_draws` draws combined as `draw_combination`.
    "selection": {
        "candidates": (_int(1, 10_000), 1),
        "alpha": (_float(0.0, 1.0), 0.05),
        "random_draws": (_int(1, 1000), 1),
        "draw_combination": (_choice(*DRAW_COMBINATIONS), "mean"),
    },
    # The RL controller (evolution.strategy = "rl"; engine.controller): Adam's step size,
    # the weight of the entropy bonus and the decay of the reward baseline; the policy, an
    # op-bigram table or a GRU (engine.gru_policy) of `hidden` units.
    "controller": {
        "learning_rate": (_float(0.0, 1.0, low_open=True), 0.05),
        "entropy_weight": (_float(0.0), 0.01),
        "baseline_decay": (_float(0.0, 1.0), 0.9),
        "policy": (_choice("bigram", "gru"), "bigram"),
        "hidden": (_int(1, 512), 32),
    },
    # The differentiable relaxation (evolution.strategy = "relaxation"; engine.relaxation):
    # the skeleton's lengths (default sizes.*_init), Adam's steps and step size, the softmax
    # temperature, the independent skeletons trained at once, the spread of the initial op
    # logits and the examples of the relaxed loss.
    "relaxation": {
        "setup_length": (_int(0), None), "predict_length": (_int(0), None),
        "learn_length": (_int(0), None),
        "steps": (_int(1), 300),
        "learning_rate": (_float(0.0, 10.0, low_open=True), 0.1),
        "temperature": (_float(0.0, low_open=True), 1.0),
        "final_temperature": (_float(0.0, low_open=True), 0.1),
        "restarts": (_int(1, 1000), 8),
        "init_scale": (_float(0.0), 0.1),
        # the relaxed loss trains on the first train_examples of each search task's training
        # order and validates on its first valid_examples (as FEC's fingerprint does)
        "train_examples": (_int(1), 10), "valid_examples": (_int(1), 10),
    },
    "fec": {
        "num_train_examples": (_int(1, 100), REQUIRED), "num_valid_examples": (_int(1, 100), REQUIRED),
        "cache_size": (_int(2), 100_000), "forget_every": (_int(0), 100),
    },
    "hurdles": {
        "train_fraction": (_float(0.0, 1.0, low_open=True), 0.25),
        "percentile": (_float(0.0, 100.0), 75.0),
        "update_every": (_int(1), 100), "window": (_int(2), 1000),
    },
    "train_budget": {
        "baseline": (_choice("neural_net", "linear", "no_op"), "neural_net"),
        "threshold_factor": (_float(0.0, low_open=True), 2.0),
    },
    "experiment": {
        "max_experiments": (_int(0), 1),
        "sufficient_fitness": (_float(), None),
        "randomize_task_seeds": (_bool, False),
        "early_select": (_bool, False),
        "select_engine": (_choice("interp", "compiled", "auto"), "auto"),
    },
    "run": {
        "seed": (_int(0, 2 ** 63), 0), "checkpoint_seconds": (_float(0.0), 30.0),
        "batch_size": (_int(1), 1000), "workers": (_int(0), 1),
        "migrate_every": (_int(1), 10_000), "migrants": (_int(0), None),
        "max_seconds": (_float(0.0), None), "max_individuals": (_int(1), None),
        # "deterministic": islands meet at barriers (reproducible); "async": no barrier.
        "migration": (_choice("deterministic", "async"), "deterministic"),
        "worker_timeout": (_float(0.0, low_open=True), 600.0),
    },
    # The optional last stage of a search: the best program's constants tuned (search.tune).
    "tune": {
        "method": (_choice(*TUNE_METHODS), "random"), "trials": (_int(1), 100),
        "seed": (_int(0, 2 ** 63), None),       # None: the run's seed
        "halving": (_bool, False), "hyperband": (_bool, False), "eta": (_int(2), 3),
        "top": (_int(1), 3),
        "decades": (_float(0.0, 30.0, low_open=True), 2.0),
        # a program with random ops scores each task over its draws (None: as [selection])
        "random_draws": (_int(1, 1000), None),
        "draw_combination": (_choice(*DRAW_COMBINATIONS), None),
    },
}
def _absolute_dir(key, v):
    if not isinstance(v, str) or not os.path.isabs(v):
        raise ConfigError(f"{key}: must be an absolute folder path (without it, relative data "
                          f"paths resolve against the config file's folder), got {v!r}")
    return v


TOP_LEVEL = {"name": _str, "base_dir": _absolute_dir}
# Task options naming files or folders: relative ones resolve against the config's folder.
DATA_PATH_OPTIONS = ("path", "labels_path", "data_dir")
TASK_LISTS = ("search_tasks", "select_tasks", "promotion_tasks", "final_tasks")
TASK_KEYS = {
    "type": (_str, REQUIRED), "features": (_int(1, 256), REQUIRED),
    "num_train_examples": (_int(1), REQUIRED), "num_valid_examples": (_int(1), REQUIRED),
    "num_tasks": (_int(1), 1), "num_train_epochs": (_int(1), 1),
    "eval_type": (_choice(*config_names()), EvalType.RMS_ERROR.config_name),
    "data_seeds": (None, []), "param_seeds": (None, []),
}


@dataclass
class Config:
    name: str
    memory: Memory
    ops: list                      # [setup, predict, learn] op-name lists
    sizes: dict
    evolution: dict
    fec: dict | None
    hurdles: dict | None
    train_budget: dict | None
    experiment: dict
    run: dict
    search_tasks: list
    select_tasks: list
    final_tasks: list
    source_text: str = ""
    source_path: str = ""
    extras: dict = field(default_factory=dict)
    base_dir: str = ""             # where relative data paths were resolved from
    run_dir_text: str = ""         # for RUN_DIR/config.toml: source_text with base_dir pinned
    tune: dict | None = None       # [tune]: tune the best program's constants at the end
    controller: dict = field(default_factory=dict)   # [controller], defaults filled in
    selection: dict = field(default_factory=dict)    # [selection], defaults filled in
    promotion_tasks: list = field(default_factory=list)   # the funnel's stage after select
    relaxation: dict = field(default_factory=dict)   # [relaxation], defaults filled in

    @property
    def features(self) -> int:
        return self.memory.features

    @property
    def op_names(self) -> list:
        """Every op name of the Setup, Predict and Learn lists."""
        return [name for names in self.ops for name in names]

    def size_bounds(self):
        init = [self.sizes[f"{c}_init"] for c in ("setup", "predict", "learn")]
        low = [self.sizes.get(f"{c}_min") for c in ("setup", "predict", "learn")]
        high = [self.sizes.get(f"{c}_max") for c in ("setup", "predict", "learn")]
        low = [i if lo is None else lo for i, lo in zip(init, low)]
        high = [max(i, 1) if hi is None else hi for i, hi in zip(init, high)]
        return init, low, high

    @property
    def capacity(self) -> int:
        """Instruction slots per component: room for the largest size plus one (TRADE), the
        initial program's included (the damaged neural net's Learn is longer than the
        nonlinear test's learn_max)."""
        init, _, high = self.size_bounds()
        start = _longest_start(self.evolution["initial_population"], self.memory)
        return max(max(init), max(high), start) + 1


def _longest_start(name: str, memory: Memory) -> int:
    """The most instructions a component of the named initial program holds (0 for the empty
    ones and a warm start, which must fit the configured maximum sizes).  The builders do
    not check the memory: one too small for the program is run.initial's to refuse."""
    if name not in reference_programs.STARTS:
        return 0
    return max(len(c) for c in reference_programs.STARTS[name](memory).components)


def _suggest(key, known):
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else f"; allowed: {', '.join(sorted(known))}"


def _section(doc, name, schema, present_required=True):
    raw = doc.get(name, {})
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    out = {}
    for key in raw:
        if key not in schema:
            raise ConfigError(f"unknown key '{name}.{key}'{_suggest(key, schema)}")
    for key, (check, default) in schema.items():
        if key in raw:
            out[key] = check(f"{name}.{key}", raw[key]) if check else raw[key]
        elif default is REQUIRED:
            if present_required:
                raise ConfigError(f"missing key '{name}.{key}'")
        else:
            out[key] = default
    return out


def _seed_list(key, v):
    if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2 ** 32 for x in v):
        raise ConfigError(f"{key}: must be a list of integer seeds in [0, 2^32), got {v!r}")
    return tuple(v)


def _task_spec(where, raw) -> TaskSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: each task entry must be a table ([[...]])")
    known = dict(TASK_KEYS)
    values = {}
    options = {}
    for key, value in raw.items():
        if key in known:
            check = known[key][0]
            values[key] = check(f"{where}.{key}", value) if check else value
        else:
            options[key] = value
    task_type = TASK_TYPES.get(values.get("type"))
    if "eval_type" not in values and task_type and task_type.eval_types:
        # Each task type has a natural eval type (binary tasks: accuracy, ...).
        natural = task_type.eval_types[0]
        values["eval_type"] = EvalType(natural).config_name
    for key, (_, default) in known.items():
        if key not in values:
            if default is REQUIRED:
                raise ConfigError(f"missing key '{where}.{key}'")
            values[key] = default
    if values["type"] not in TASK_TYPES:
        raise ConfigError(f"{where}.type: unknown task type {values['type']!r}"
                          f"{_suggest(values['type'], TASK_TYPES)}")
    allowed_eval = TASK_TYPES[values["type"]].eval_types
    eval_type = int(EvalType.parse(values["eval_type"]))
    if allowed_eval and eval_type not in allowed_eval:
        # The reference refuses these too (e.g. linear regression must be RMS_ERROR); the
        # generators would otherwise silently ignore the requested eval type.
        names = [EvalType(code).config_name for code in allowed_eval]
        raise ConfigError(f"{where}.eval_type: a {values['type']} task needs eval_type "
                          f"{' or '.join(map(repr, names))}, got {values['eval_type']!r}")
    if options and values["type"] in ("scalar_linear_regression", "scalar_2layer_nn_regression"):
        key = sorted(options)[0]
        raise ConfigError(f"unknown key '{where}.{key}'{_suggest(key, known)}")
    return TaskSpec(values["type"], values["features"], values["num_train_examples"],
                    values["num_valid_examples"], values["num_tasks"], values["num_train_epochs"],
                    eval_type,
                    _seed_list(f"{where}.data_seeds", values["data_seeds"]),
                    _seed_list(f"{where}.param_seeds", values["param_seeds"]), options)


def _task_list(doc, name, required):
    raw = doc.get(name)
    if raw is None:
        if required:
            raise ConfigError(f"missing [[{name}]]: at least one task spec is needed")
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{name} must be an array of tables: write [[{name}]]")
    return [_task_spec(f"{name}[{i}]", r) for i, r in enumerate(raw)]


def _resolve_data_paths(specs, base: str) -> None:
    """Relative data paths name files next to the config, wherever azc is started from."""
    for spec in specs:
        for key in DATA_PATH_OPTIONS:
            value = spec.options.get(key)
            if isinstance(value, str) and value:   # other values: the dataset loader refuses them
                spec.options[key] = os.path.join(base, os.path.expanduser(value))


def _resolve_warm_start(evolution: dict, base: str) -> None:
    """A relative ``from:PATH`` names a file next to the config, like the data paths."""
    value = evolution["initial_population"]
    if value.startswith(WARM_START):
        path = os.path.expanduser(value[len(WARM_START):])
        evolution["initial_population"] = WARM_START + os.path.join(base, path)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (quotes, backslashes and control characters escaped)."""
    escaped = []
    for ch in text:
        if ch in '"\\':
            escaped.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            escaped.append(f"\\u{ord(ch):04x}")
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def _pinned_text(text: str, doc: dict, pins: dict[str, str]) -> str:
    """The config text with ``pins`` (``base_dir``, ``name``) recorded where it does not set
    them, so that a run directory's copy resolves the same data and keeps the run's name
    wherever it is resumed from.  A top-level key may open any TOML document, so the user's
    text stays byte for byte as written below it; the result is parsed back to prove it."""
    missing = {key: value for key, value in pins.items() if key not in doc}
    if not missing:
        return text
    for key, value in missing.items():
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            raise ConfigError(f"the config's {key} {value!r} is not a UTF-8 name; set {key} at "
                              "the top of the config")
    header = "".join(f"{key} = {toml_string(value)}\n" for key, value in missing.items())
    pinned = f"# recorded by azc when the run started (see the README's configuration)\n{header}{text}"
    try:
        again = tomllib.loads(pinned)
        # repr, not ==: a nan option (refused later, by its checker) is not equal to itself.
        same = all(again.pop(key) == value for key, value in missing.items()) \
            and repr(again) == repr(doc)
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        raise ConfigError(f"cannot record {', '.join(missing)} in the config; set base_dir = "
                          "\"/absolute/folder\" and name = \"...\" at its top")
    return pinned


def parse(text: str, source_path: str = "<config>", base_dir: str | None = None) -> Config:
    """A config from TOML text.  Relative data paths resolve against the text's own
    ``base_dir`` key, else ``base_dir`` (``load`` passes the file's folder), else the current
    directory."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    allowed = set(SCHEMA) | set(TOP_LEVEL) | set(TASK_LISTS)
    for key in doc:
        if key not in allowed:
            raise ConfigError(f"unknown key '{key}'{_suggest(key, allowed)}")
    name = _str("name", doc.get("name", Path(source_path).stem))
    sections = {s: _section(doc, s, SCHEMA[s]) for s in ("memory", "ops", "sizes", "evolution",
                                                           "experiment", "run")}
    optional = {s: (_section(doc, s, SCHEMA[s]) if s in doc else None)
                for s in ("fec", "hurdles", "train_budget", "tune")}
    search = _task_list(doc, "search_tasks", True)
    select = _task_list(doc, "select_tasks", False)
    promotion = _task_list(doc, "promotion_tasks", False)
    final = _task_list(doc, "final_tasks", False)
    if promotion and not select:
        raise ConfigError("[[promotion_tasks]] is the funnel's stage after the select tasks; "
                          "add [[select_tasks]] or remove it")
    features = search[0].features
    mem = sections["memory"]
    try:
        memory = Memory(mem["scalars"], mem["vectors"], mem["matrices"], features)
    except ValueError as exc:
        raise ConfigError(f"memory: {exc}") from None
    if "base_dir" in doc:
        base = _absolute_dir("base_dir", doc["base_dir"])
    else:
        base = os.path.abspath(base_dir if base_dir is not None else os.getcwd())
    for specs in (search, select, promotion, final):
        _resolve_data_paths(specs, base)
    _resolve_warm_start(sections["evolution"], base)
    cfg = Config(name, memory, [sections["ops"][c] for c in ("setup", "predict", "learn")],
                 sections["sizes"], sections["evolution"], optional["fec"], optional["hurdles"],
                 optional["train_budget"], sections["experiment"], sections["run"], search, select,
                 final, source_text=text, source_path=str(source_path), base_dir=base,
                 run_dir_text=_pinned_text(text, doc, {"base_dir": base, "name": name}),
                 tune=optional["tune"],
                 controller=_section(doc, "controller", SCHEMA["controller"]),
                 selection=_section(doc, "selection", SCHEMA["selection"]),
                 promotion_tasks=promotion,
                 relaxation=_section(doc, "relaxation", SCHEMA["relaxation"]))
    if "controller" in doc and cfg.evolution["strategy"] != "rl":
        raise ConfigError("[controller] configures strategy 'rl'; remove it or set "
                          "evolution.strategy = \"rl\"")
    if "hidden" in doc.get("controller", {}) and cfg.controller["policy"] != "gru":
        raise ConfigError("controller.hidden sizes the GRU policy; remove it or set "
                          "controller.policy = \"gru\"")
    if "relaxation" in doc and cfg.evolution["strategy"] != "relaxation":
        raise ConfigError("[relaxation] configures strategy 'relaxation'; remove it or set "
                          "evolution.strategy = \"relaxation\"")
    _check_consistency(cfg)
    return cfg


def _check_consistency(cfg: Config) -> None:
    evo = cfg.evolution
    if evo["tournament_size"] > evo["population_size"]:
        raise ConfigError(f"evolution.tournament_size ({evo['tournament_size']}) must not exceed "
                          f"evolution.population_size ({evo['population_size']})")
    m = cfg.memory
    if m.scalars + m.vectors + m.matrices > MAX_REGISTERS:
        raise ConfigError(f"memory: at most {MAX_REGISTERS} addresses in all "
                          f"(scalars + vectors + matrices = {m.scalars + m.vectors + m.matrices})")
    if not any(cfg.ops):
        raise ConfigError("ops: every op list is empty; give at least one of ops.setup, "
                          "ops.predict, ops.learn")
    if m.vectors < 2:
        for comp, names in zip(("setup", "predict", "learn"), cfg.ops):
            for name in names:
                if _ops.lookup(name).out == _ops.VECTOR:
                    raise ConfigError(f"ops.{comp}: {name} writes a vector, but memory.vectors = "
                                      f"{m.vectors} leaves none to write (v0 holds the features); "
                                      "raise memory.vectors to at least 2")
    init, low, high = cfg.size_bounds()
    for c, comp in enumerate(("setup", "predict", "learn")):
        if init[c] > 0 and not cfg.ops[c] and evo["initial_population"] == "random":
            raise ConfigError(f"ops.{comp} is empty but sizes.{comp}_init is {init[c]}: a random "
                              f"initial population needs ops to draw from")
        if low[c] > high[c]:
            raise ConfigError(f"sizes.{comp}_min ({low[c]}) is larger than sizes.{comp}_max ({high[c]})")
    # A component without ops keeps the initial program's instructions (random search and the
    # controller write only the components with ops); from NO_OPs it would stay empty.
    from_no_ops = evo["initial_population"] in ("random", "no_op")
    if evo["strategy"] in ("random", "rl") and from_no_ops and not all(
            cfg.ops[c] or init[c] == 0 for c in range(3)):
        raise ConfigError(f"evolution.strategy = '{evo['strategy']}' needs an op list for every "
                          "component with a non-zero initial size (or an initial_population "
                          "that writes it)")
    _check_strategy_keys(cfg)
    if evo["strategy"] == "relaxation":
        _check_relaxation(cfg)
    for name in TASK_LISTS:
        for i, spec in enumerate(getattr(cfg, name)):
            if spec.features != cfg.features:
                raise ConfigError(f"{name}[{i}].features is {spec.features} but search_tasks use "
                                  f"{cfg.features}: all tasks must share one feature size")
    kinds = {spec.eval_type == EvalType.MULTICLASS for spec in cfg.search_tasks + cfg.select_tasks + cfg.final_tasks}
    if len(kinds) > 1:
        raise ConfigError("multiclass tasks cannot be mixed with scalar tasks in one config")
    if cfg.experiment["sufficient_fitness"] is not None and not cfg.select_tasks:
        raise ConfigError("experiment.sufficient_fitness needs [[select_tasks]] to check candidates on")
    if cfg.tune and cfg.tune["halving"] and _task_count(cfg.search_tasks) < cfg.tune["eta"]:
        raise ConfigError(f"tune.halving needs at least tune.eta = {cfg.tune['eta']} search "
                          f"tasks to halve over; set halving = false or lower eta")
    if cfg.tune and cfg.tune["hyperband"] and not cfg.tune["halving"]:
        raise ConfigError("tune.hyperband needs tune.halving = true (its brackets are halvings)")


def _task_count(specs) -> int:
    return sum(spec.num_tasks for spec in specs)


def _check_strategy_keys(cfg: Config) -> None:
    """Keys that only one strategy reads must not be set for another (they would be ignored)."""
    evo = cfg.evolution
    if evo["crossover_prob"] > 0 and evo["strategy"] != "evolution":
        raise ConfigError(f"evolution.crossover_prob applies to strategy 'evolution', not "
                          f"{evo['strategy']!r}; remove it or set strategy = \"evolution\"")
    if evo["speciation"] and evo["crossover_prob"] == 0:
        raise ConfigError("evolution.speciation chooses crossover mates, but "
                          "evolution.crossover_prob is 0; set crossover_prob > 0")


def _check_relaxation(cfg: Config) -> None:
    """The skeleton's lengths (by default sizes.*_init moved into the sizes' bounds) within
    those bounds, for components with ops; search tasks it can relax (rms_error); jax
    installed."""
    from ..engine.relaxation import jax_available
    init, low, high = cfg.size_bounds()
    rel = cfg.relaxation
    for c, comp in enumerate(("setup", "predict", "learn")):
        key = f"{comp}_length"
        if rel[key] is None:        # sizes.*_init within the sizes' bounds; 0 without ops
            rel[key] = min(max(init[c], low[c]), high[c]) if cfg.ops[c] else 0
        if cfg.ops[c] and not low[c] <= rel[key] <= high[c]:
            raise ConfigError(f"relaxation.{key} = {rel[key]} is outside sizes.{comp}_min.."
                              f"{comp}_max ({low[c]}..{high[c]}); choose a length in that range")
        if rel[key] > 0 and not cfg.ops[c] and init[c] > 0:
            raise ConfigError(f"relaxation.{key} = {rel[key]} but ops.{comp} is empty; give "
                              f"ops.{comp} or set {key} = 0")
    if any(spec.eval_type != EvalType.RMS_ERROR for spec in cfg.search_tasks):
        raise ConfigError("evolution.strategy = 'relaxation' relaxes rms_error search tasks "
                          "only; use eval_type = \"rms_error\" or another strategy")
    if not jax_available():
        raise ConfigError("evolution.strategy = 'relaxation' needs jax, which is not installed; "
                          "install it with: pip install 'azcompile[relax]'")


def override_data_dir(cfg: Config, data_dir: str) -> None:
    """``--data-dir``: where every file-backed dataset of the config is read from."""
    for specs in (cfg.search_tasks, cfg.select_tasks, cfg.final_tasks):
        for spec in specs:
            if spec.options.get("dataset") not in (None, "digits") and "path" not in spec.options:
                spec.options["data_dir"] = os.path.abspath(os.path.expanduser(data_dir))


def with_migration(cfg: Config, mode: str) -> Config:
    """``--migration MODE`` on a new run: the config with ``run.migration`` set, in its text
    too (the run directory's config.toml, which a resume reads, records it)."""
    if cfg.run["migration"] == mode:
        return cfg
    text = cfg.source_text
    header = re.search(r"^\[run\][ \t]*(#.*)?$", text, re.M)
    line = f'migration = "{mode}"'
    if header:
        text = f"{text[:header.end()]}\n{line}{text[header.end():]}"
    else:
        text = f"{text.rstrip()}\n\n[run]\n{line}\n"
    try:
        return parse(text, cfg.source_path, cfg.base_dir)
    except ConfigError:
        raise ConfigError(f"{cfg.source_path}: --migration cannot be added to this config; set "
                          f'migration = "{mode}" in its [run] section instead') from None


def bundled_examples() -> dict[str, str]:
    """Example configs shipped with the package: name -> TOML text."""
    root = resources.files("azcompile.search.examples")
    return {p.name[:-5]: p.read_text(encoding="utf-8") for p in root.iterdir()
            if p.name.endswith(".toml")}


MAX_CONFIG_BYTES = 16 << 20


def load(path) -> Config:
    """A config from a file, or a bundled example by name (``demo``, ``digits_binary``...)."""
    path = Path(path)
    if not path.exists() and path.suffix == "" and len(path.parts) == 1:
        examples = bundled_examples()
        if str(path) in examples:
            return parse(examples[str(path)], f"{path}.toml")
        raise ConfigError(f"{path}: no such config file or bundled example; bundled: "
                          f"{', '.join(sorted(examples))}")
    text = read_text_file(path, kind="config file", limit=MAX_CONFIG_BYTES, error=ConfigError,
                          expected="give a CONFIG.toml file or a bundled example name")
    return parse(text, str(path), base_dir=os.path.dirname(os.path.abspath(path)))


def build_task_list(specs, label: str):
    """Tasks for specs, turning data problems into config errors before any search starts."""
    try:
        return build_tasks(specs)
    except TaskError as exc:
        raise ConfigError(f"{label}: {exc}") from None
