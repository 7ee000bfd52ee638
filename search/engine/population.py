"""The population as arrays: programs, fitness, identities and lineage fields per slot."""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from azcompile.ops import NUM_OPS, OP_ARRAYS
from azcompile.program import FIRST_OUT, Program

from . import validate
from .mutator import MUTATION_LABELS

_KIND_FIELDS = ((1, OP_ARRAYS["in1_kind"], "in1"), (2, OP_ARRAYS["in2_kind"], "in2"),
                (3, OP_ARRAYS["out_kind"], "out"))
_KINDS = ("S", "V", "M")       # kind codes 1, 2, 3 (0: the operand is unused)
# The population's arrays as the kernels take them (fields as Population's).
PopulationArrays = namedtuple("PopulationArrays",
                              "code data size fitness ids parents mutations signature")


@dataclass
class Population:
    code: np.ndarray       # int32[P, 3, L, 4]
    data: np.ndarray       # float64[P, 3, L, 4]
    size: np.ndarray       # int32[P, 3]
    fitness: np.ndarray    # float64[P]
    ids: np.ndarray        # int64[P]: individual number (order of evaluation)
    parents: np.ndarray    # int64[P]: the parent's id, -1 for initial individuals
    mutations: np.ndarray  # int32[P]: the mutation that made it (-1: copy or initial)
    signature: np.ndarray  # uint64[P]: behaviour fingerprint (speciation "fec"; else 0)

    FIELDS = ("code", "data", "size", "fitness", "ids", "parents", "mutations", "signature")

    @classmethod
    def empty(cls, P: int, capacity: int) -> "Population":
        return cls(np.zeros((P, 3, capacity, 4), dtype=np.int32), np.zeros((P, 3, capacity, 4)),
                   np.zeros((P, 3), dtype=np.int32), np.zeros(P), np.full(P, -1, dtype=np.int64),
                   np.full(P, -1, dtype=np.int64), np.full(P, -1, dtype=np.int32),
                   np.zeros(P, dtype=np.uint64))

    @staticmethod
    def check_values(arrays: dict, prefix: str, memory) -> None:
        """Checkpointed population arrays (shapes already checked) hold programs the kernels
        can run: valid op ids and register indices in every row, sizes within capacity."""
        code = arrays[f"{prefix}code"]
        check_instructions(code, memory, f"{prefix}code")
        # A component holds at most capacity - 1 instructions: TRADE inserts one more first.
        validate.within(arrays[f"{prefix}size"], f"{prefix}size", 0, code.shape[2] - 1)
        for name in ("ids", "parents"):
            validate.within(arrays[f"{prefix}{name}"], f"{prefix}{name}", -1, 2 ** 62)
        validate.within(arrays[f"{prefix}mutations"], f"{prefix}mutations", min(MUTATION_LABELS),
                    max(MUTATION_LABELS))

    def arrays(self) -> PopulationArrays:
        return PopulationArrays(*(getattr(self, f) for f in self.FIELDS))

    @property
    def capacity(self) -> int:
        return self.code.shape[2]

    def program(self, slot: int, memory, meta=None):
        return Program.from_arrays(self.code[slot], self.data[slot], self.size[slot], memory, meta)

    def best_slot(self) -> int:
        """The first slot with the greatest fitness (the reference's candidate rule)."""
        return int(np.argmax(self.fitness))

    def summary(self) -> tuple[float, float, float]:
        """(mean, stdev, best) as the reference prints them."""
        f = self.fitness
        mean = float(f.mean())
        var = float((f * f).mean() - mean * mean)
        return mean, float(np.sqrt(max(var, 0.0))), float(f.max())


def check_instructions(code: np.ndarray, memory, where: str) -> None:
    """Every instruction row ``(op, in1, in2, out)`` of ``code[..., 4]`` is one the kernels
    can execute: a known op, each operand it uses a register of its kind (outputs never the
    reserved s0 / v0), each operand it does not use zero."""
    if code.size == 0:
        return
    ops = code[..., 0]
    validate.within(ops, f"{where} (op ids)", 0, NUM_OPS - 1)
    counts = np.array([1, memory.scalars, memory.vectors, memory.matrices])
    first_out = np.array([0] + [FIRST_OUT[k] for k in _KINDS])
    for column, kind_of_op, name in _KIND_FIELDS:
        kind = kind_of_op[ops]
        low = first_out[kind] if name == "out" else 0
        values = code[..., column]
        bad = (values < low) | (values >= counts[kind])
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise validate.CheckpointError(
                f"{where}{list(at)}: {name} = {int(values[at])} is not a register this "
                f"op can use with memory {memory.as_dict()}")
