"""The hall of fame (search/run/hall.py) over islands: entries per live size, and what it
remembers between batches stays bounded however long a run goes."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from azcompile.eval_type import EvalType
from azcompile.search.run import hall
from tests.programs import README_MEMORY, readme_linear_regression


class _Islands:
    """One island in this process: its population arrays, fitness and ids (what
    HallOfFame.update reads from an Archipelago)."""

    def __init__(self, programs, fitness, ids):
        codes, sizes = zip(*((p.to_arrays(16)[0], p.to_arrays(16)[2]) for p in programs))
        pop = SimpleNamespace(code=np.stack(codes), size=np.stack(sizes))
        self.programs = list(programs)
        self.islands = [SimpleNamespace(pop=pop, memory=README_MEMORY,
                                        fitness=np.asarray(fitness, float),
                                        ids=np.asarray(ids, dtype=np.int64))]

    def program(self, island, slot):
        return self.programs[slot]


def _hall():
    cfg = SimpleNamespace(search_tasks=[SimpleNamespace(eval_type=int(EvalType.RMS_ERROR))])
    return hall.HallOfFame(cfg, SimpleNamespace(hall_of_fame={}, experiment=0,
                                                total_individuals=0))


def test_the_fittest_program_of_each_live_size_enters():
    small = readme_linear_regression()
    bigger = readme_linear_regression(learn=(("VECTOR_SUM_OP", 1, 2, 1),))   # a live extra step
    h = _hall()
    h.update(_Islands([small, bigger, small], [0.5, 0.9, 0.7], [1, 2, 3]))
    sizes = {int(k): v["fitness"] for k, v in h.state.hall_of_fame.items()}
    assert len(sizes) == 2
    assert sizes[hall.live_size(small, h.mode)] == 0.7
    assert sizes[hall.live_size(bigger, h.mode)] == 0.9


def test_the_members_remembered_between_batches_stay_the_current_tops():
    program = readme_linear_regression()
    h = _hall()
    n = 50
    for batch in range(200):     # a population whose members are all replaced every batch
        ids = np.arange(batch * n, (batch + 1) * n)
        h.update(_Islands([program] * n, np.linspace(0.1, 0.5, n), ids))
    assert len(h._seen) <= hall.TOP
