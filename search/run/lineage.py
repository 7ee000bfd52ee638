"""Lineage: who descends from whom, by which mutation, and what each improvement looked like.

Every child the search makes is logged (id, parent, mutation, fitness, parent's fitness);
children that beat their parent also keep their program.  The record is pruned to the
ancestry of individuals still alive or ever best, so it stays about the size of the
population however long the run.  ``chain`` walks from an individual back to its initial
ancestor: the steps of discovery.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .. import numba_cache  # noqa: F401  (numba's cache folder before our functions)
from ..engine.mutator import MUTATION_LABELS

_FIELDS = ("ids", "parents", "mutations", "fitness", "parent_fitness")


@njit(cache=True)
def _ancestry_mask(ids, parents, seeds):
    """Mark ``seeds`` and all their ancestors; ``ids`` ascending, parents have smaller ids."""
    n = ids.shape[0]
    keep = np.zeros(n, dtype=np.bool_)
    for s in seeds:
        j = np.searchsorted(ids, s)
        if j < n and ids[j] == s:
            keep[j] = True
    for i in range(n - 1, -1, -1):
        if keep[i] and parents[i] >= 0:
            j = np.searchsorted(ids, parents[i])
            if j < n and ids[j] == parents[i]:
                keep[j] = True
    return keep


class Lineage:
    def __init__(self):
        self.cols = {f: [] for f in _FIELDS}
        self.programs: dict[int, tuple] = {}
        self.best_ids: list[int] = []
        self._pending = 0
        self.prune_every = 20_000

    def add_initial(self, ids, fitness) -> None:
        n = len(ids)
        self._append(np.asarray(ids, np.int64), np.full(n, -1, np.int64), np.full(n, -1, np.int32),
                     np.asarray(fitness, float), np.zeros(n))

    def _append(self, *columns) -> None:
        for f, col in zip(_FIELDS, columns):
            self.cols[f].append(np.array(col, copy=True))
        self._pending += len(columns[0])

    def add_batch(self, log, alive_ids) -> None:
        n = int(log.counts[0])
        self._append(log.ids[:n], log.parents[:n], log.mutations[:n], log.fitness[:n],
                     log.parent_fitness[:n])
        for j in range(int(log.counts[1])):
            size = log.snap_size[j].copy()
            rows = max(int(size.max()), 1)
            self.programs[int(log.snap_ids[j])] = (log.snap_code[j, :, :rows].copy(),
                                                   log.snap_data[j, :, :rows].copy(), size)
        if self._pending >= self.prune_every:
            self.prune(alive_ids)

    def mark_best(self, individual_id: int, program) -> None:
        if individual_id not in self.best_ids:
            self.best_ids.append(individual_id)
        code, data, size = program.to_arrays()
        self.programs[individual_id] = (code, data, size)

    def table(self) -> dict:
        cols = {f: (np.concatenate(v) if v else np.zeros(0)) for f, v in self.cols.items()}
        order = np.argsort(cols["ids"], kind="stable")
        return {f: c[order] for f, c in cols.items()}

    def prune(self, alive_ids) -> None:
        t = self.table()
        seeds = np.unique(np.concatenate([np.asarray(alive_ids, np.int64),
                                          np.asarray(self.best_ids, np.int64)]))
        keep = _ancestry_mask(t["ids"].astype(np.int64), t["parents"].astype(np.int64), seeds)
        self.cols = {f: [t[f][keep]] for f in _FIELDS}
        kept = set(int(i) for i in t["ids"][keep])
        self.programs = {k: v for k, v in self.programs.items() if k in kept}
        self._pending = 0

    def chain(self, individual_id: int) -> list[dict]:
        """From the initial ancestor to ``individual_id``: one row per individual."""
        t = self.table()
        index = {int(i): k for k, i in enumerate(t["ids"])}
        rows = []
        cur = individual_id
        while cur >= 0 and cur in index:
            k = index[cur]
            rows.append({"id": cur, "parent": int(t["parents"][k]),
                         "mutation": MUTATION_LABELS.get(int(t["mutations"][k]), "?"),
                         "fitness": float(t["fitness"][k]),
                         "parent_fitness": float(t["parent_fitness"][k]),
                         "has_program": cur in self.programs})
            cur = int(t["parents"][k])
        return rows[::-1]

    def chain_json(self, individual_id: int) -> dict:
        rows = self.chain(individual_id)
        for row in rows:
            prog = self.programs.get(row["id"])
            if prog is not None:
                code, data, size = prog
                row["program"] = {"code": code.tolist(), "data": data.tolist(), "size": size.tolist()}
        return {"best": individual_id, "chain": rows}

    # --- checkpoint form ----------------------------------------------------------------------
    def to_json(self) -> dict:
        t = self.table()
        return {"columns": {f: t[f].tolist() for f in _FIELDS}, "best_ids": self.best_ids,
                "programs": {str(k): [c.tolist(), d.tolist(), s.tolist()]
                             for k, (c, d, s) in self.programs.items()}}

    @classmethod
    def from_json(cls, doc: dict) -> "Lineage":
        lin = cls()
        cols = doc["columns"]
        lin._append(np.array(cols["ids"], np.int64), np.array(cols["parents"], np.int64),
                    np.array(cols["mutations"], np.int32), np.array(cols["fitness"], float),
                    np.array(cols["parent_fitness"], float))
        lin._pending = 0
        lin.best_ids = list(doc["best_ids"])
        lin.programs = {int(k): (np.array(c, np.int32), np.array(d, float), np.array(s, np.int32))
                        for k, (c, d, s) in doc["programs"].items()}
        return lin
