"""The hall of fame: the best program the run has seen for each live size (the instruction
count of its canonical form), so a user can trade a little fitness for a simpler algorithm.

After every batch the fittest members of each island (``TOP`` of them) are measured; a
member enters when it beats the entry of its size.  Fitness is the search fitness (the
mean over the search tasks), as the population holds it.  The entries are a field of the
search state (so a checkpoint holds them and a resume continues them) and are written to
the run directory's ``hall_of_fame.json`` with every checkpoint.
"""
from __future__ import annotations

import numpy as np

from azcompile.eval_type import EvalType
from azcompile.liveness import canonical, live_instructions
from azcompile.program import Program, from_json

from ..engine import validate
from .archipelago import Archipelago
from .checkpoint import CheckpointError, run_program

TOP = 8                 # members per island measured after each batch
_KEYS = {"size", "fitness", "experiment", "individuals", "program"}


def live_size(program: Program, mode: int) -> int:
    """Instructions in the canonical form: what is left after dead code is removed."""
    code, _, size = program.to_arrays()
    return _live_count(code, size, program.memory, mode)


def _live_count(code, size, memory, mode) -> int:
    return int(live_instructions(code, size, memory.scalars, memory.vectors, mode).sum())


class HallOfFame:
    """Keeps ``state.hall_of_fame`` ({str(size): entry}) up to date from the islands."""

    def __init__(self, cfg, state):
        self.state = state
        self.mode = EvalType.of(cfg.search_tasks[0].eval_type).task_mode
        # (island, member id) of the tops measured last time: work saved only.  Only the
        # current tops are kept, so a long run's set stays TOP per island.
        self._seen: set = set()

    def update(self, islands: Archipelago) -> None:
        measured = set()
        for i, isl in enumerate(islands.islands):
            fitness = np.asarray(isl.fitness)
            top = np.argpartition(-fitness, TOP)[:TOP] if fitness.size > TOP else \
                np.arange(fitness.size)
            top = top[np.lexsort((top, -fitness[top]))]     # fittest first, then by slot
            for slot in top:
                key = (i, int(isl.ids[slot]))
                fit = float(fitness[slot])
                measured.add(key)
                if key in self._seen or not np.isfinite(fit) or fit <= 0:
                    continue
                pop = getattr(isl, "pop", None)       # an island in this process: its arrays
                if pop is None:
                    self.offer(islands.program(i, int(slot)), fit)
                    continue
                size = _live_count(pop.code[slot], pop.size[slot], isl.memory, self.mode)
                if self._enters(size, fit, False):  # a Program is made only for an entry
                    self.offer(islands.program(i, int(slot)), fit, size=size)
        self._seen = measured

    def _enters(self, size: int, fitness: float, ties: bool) -> bool:
        held = self.state.hall_of_fame.get(str(size))
        return held is None or fitness > held["fitness"] or (ties and fitness == held["fitness"])

    def offer(self, program: Program, fitness: float, *, ties: bool = False,
              size: int | None = None) -> None:
        """``program`` enters if it beats its size's entry (or equals it, with ``ties``: the
        run's best candidate takes its size's place from an equal program)."""
        size = live_size(program, self.mode) if size is None else size
        if self._enters(size, fitness, ties):
            self.state.hall_of_fame[str(size)] = {
                "size": size, "fitness": fitness, "experiment": self.state.experiment,
                "individuals": self.state.total_individuals, "program": program.to_json()}


def ranked(entries: dict) -> list[dict]:
    """The entries by size, smallest first."""
    return sorted(entries.values(), key=lambda e: e["size"])


def file_document(entries: dict) -> dict:
    return {"note": "best program per live size (canonical instruction count); fitness is "
                    "the search fitness", "entries": ranked(entries)}


def load_entries(cfg, doc) -> dict:
    """The checkpoint's hall of fame, every entry checked (programs of the run's memory)."""
    if not isinstance(doc, dict):
        raise CheckpointError("'hall_of_fame' is not a table of entries")
    for key, entry in doc.items():
        where = f"hall_of_fame[{key}]"
        if not isinstance(entry, dict) or set(entry) != _KEYS:
            raise CheckpointError(f"'{where}' is malformed")
        validate.field(entry, "size", validate.is_int(0, 3 * cfg.capacity), "a size")
        if key != str(entry["size"]):
            raise CheckpointError(f"'{where}' holds size {entry['size']}")
        validate.field(entry, "fitness", validate.is_number(), "a number")
        validate.field(entry, "experiment", validate.is_int(0), "an experiment number")
        validate.field(entry, "individuals", validate.is_int(0), "a count")
        run_program(entry, where, cfg.memory)
    return doc


def format_hall(entries: list, mode: int, best: Program | None = None) -> str:
    """The ranked entries (programs as ``Program``) as text: a line per size with its
    fitness, then its canonical listing; sizes no fitter than a smaller one are left out
    (but for the run's best program, ``best``, which is marked)."""
    lines, fittest = [], -np.inf
    best_hash = canonical(best, mode)[1] if best is not None else None
    for entry in entries:
        program, chash = canonical(entry["program"], mode)
        is_best = chash == best_hash
        if entry["fitness"] <= fittest and not is_best:
            continue
        notes = ["the run's best"] if is_best else []
        fittest = max(fittest, entry["fitness"])
        lines.append(f"size {entry['size']:3d}  search fitness {entry['fitness']:.6f}  "
                     f"(experiment {entry['experiment']}, after {entry['individuals']:,} "
                     f"individuals){''.join(f'  [{n}]' for n in notes)}")
        lines += ["    " + line for line in program.listing().splitlines()]
    return "\n".join(lines)


def read_file(path, cfg) -> list[dict]:
    """The entries of a run directory's hall_of_fame.json, checked as a checkpoint's are,
    programs as ``Program``."""
    import json

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = {str(e["size"]): e for e in doc["entries"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a readable hall of fame ({exc})") from None
    load_entries(cfg, entries)
    return [{**e, "program": from_json(e["program"])} for e in ranked(entries)]
