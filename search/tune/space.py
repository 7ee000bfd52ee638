"""The numbers a tuner may change in a fixed program, and the box it searches them in.

Tuned are the live instructions' constants: the value of ``SCALAR_CONST_SET_OP`` (D0),
``VECTOR_CONST_SET_OP`` (D2) and ``MATRIX_CONST_SET_OP`` (D3), the mean and stdev of the
``*_GAUSSIAN_SET_OP`` ops (D1, D2) and the low and high of the ``*_UNIFORM_SET_OP`` ops (D1,
D2).  The index fractions of the vector and matrix constants choose *which* element is set:
they are structure, not a constant, and stay as they are; so does dead code.

Every method searches the unit cube, one coordinate per constant, 0.5 being the value the
program has.  A non-zero value ``v`` maps sign-preserving and log-scale onto
``sign(v) * |v| * 10^[-D, +D]`` with D = ``DECADES`` by default (a learning rate of 0.01 is
searched from 1e-4 to 1; a smaller D refines a winner that evolution has tuned already):
constants found by mutation are right in sign and wrong in scale far more often than the
other way round.  A zero has no scale: it is searched linearly in [-1, 1] (a Gaussian's
or uniform's zero stdev or bound alike).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from azcompile import ops as _ops
from azcompile.liveness import live_instructions
from azcompile.program import COMPONENTS, Instruction, Program

from .errors import TuneError

DECADES = 2.0          # default half-width of a constant's range, in powers of ten
ZERO_RANGE = 1.0       # a zero is searched in [-ZERO_RANGE, ZERO_RANGE]
LARGEST = 1e38         # scaled values stop here: D1..D3 are float32, whose max is 3.4e38

# data kind -> the data slots that are constants, with their names
TUNED_SLOTS = {
    **{kind: ((column, "value"),) for kind, column in _ops.CONST_VALUE_COLUMN.items()},
    _ops.GAUSSIAN: ((1, "mean"), (2, "stdev")),
    _ops.UNIFORM: ((1, "low"), (2, "high")),
}


@dataclass(frozen=True)
class Constant:
    """One tunable number: where it is (component, position, data slot) and its value."""

    component: int
    position: int
    slot: int
    name: str            # "value", "mean", "stdev", "low", "high"
    value: float
    instruction: str     # the instruction in the paper's notation, for reports
    decades: float = DECADES

    @property
    def label(self) -> str:
        return f"{COMPONENTS[self.component]}[{self.position}] {self.name}"

    def at(self, u: float) -> float:
        """The value at unit coordinate ``u`` (0.5: the program's own value)."""
        t = 2.0 * float(u) - 1.0                        # -1 .. 1
        if self.value == 0.0:
            return t * ZERO_RANGE
        scaled = min(abs(self.value) * 10.0 ** (t * self.decades), LARGEST)
        return float(np.sign(self.value) * scaled)


def constants(program: Program, task_mode: int, decades: float = DECADES) -> list[Constant]:
    """The live constants of ``program`` on tasks of ``task_mode`` (liveness SCALAR_TASK /
    VECTOR_TASK), in program order, each searched ``decades`` either side of its value."""
    code, _data, size = program.to_arrays()
    mem = program.memory
    live = live_instructions(code, size, mem.scalars, mem.vectors, task_mode)
    found = []
    for c, component in enumerate(program.components):
        for i, ins in enumerate(component):
            if not live[c, i]:
                continue
            for slot, name in TUNED_SLOTS.get(ins.op.data, ()):
                found.append(Constant(c, i, slot, name, float(ins.data[slot]), ins.show(),
                                      decades))
    return found


def require_constants(found: list[Constant], what: str) -> list[Constant]:
    if not found:
        raise TuneError(f"{what} has no live constants (no live *_CONST_SET_OP, "
                        "*_GAUSSIAN_SET_OP or *_UNIFORM_SET_OP instruction): nothing to tune")
    return found


def program_at(program: Program, found: list[Constant], point) -> Program:
    """``program`` with each constant set to its value at ``point`` (unit coordinates)."""
    comps = [list(c) for c in program.components]
    for const, u in zip(found, point):
        ins = comps[const.component][const.position]
        data = list(ins.data)
        data[const.slot] = const.at(u)
        comps[const.component][const.position] = Instruction(ins.op, ins.in1, ins.in2, ins.out,
                                                             tuple(data))
    return program.with_components(*comps)


def center(found: list[Constant]) -> np.ndarray:
    """The program as it is, in unit coordinates."""
    return np.full(len(found), 0.5)
