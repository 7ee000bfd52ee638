"""What a program's live instructions read and write: the facts every later step uses.

Decided once on the IR (dead code removed with ``liveness``): the driver's registers, the
registers each component reads before writing them (upward-exposed: they carry values
across calls) and writes, the random stream of each random instruction, and the registers
nothing writes (always 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from .. import liveness
from ..program import (FEATURES_VECTOR, LABEL_SCALAR, LABEL_VECTOR, PREDICTION_SCALAR,
                       PREDICTION_VECTOR, Program)
from .provenance import Task
from .registers import COMPONENTS, Reg, S, V, reads, writes


@dataclass(frozen=True)
class Dataflow:
    program: Program                 # dead code removed
    task: Task
    features: Reg
    label: Reg
    prediction: Reg
    exposed: Mapping[str, tuple]     # component -> registers read before written (in order)
    written: Mapping[str, tuple]     # component -> registers written (in order)
    sizes: Mapping[str, int]         # component -> instructions before dead-code removal
    streams: Mapping[tuple, int]     # (component, live position) -> random stream id
    registers: frozenset             # every register the live program or the driver uses
    carried: frozenset               # read before written by Predict or Learn (not the driver's)
    zeros: frozenset                 # carried registers nothing writes: always 0

    @property
    def vector_task(self) -> bool:
        return self.task.mode == liveness.VECTOR_TASK

    def is_activation(self, reg: Reg) -> bool:
        """State that Predict always writes before Learn reads it (e.g. a hidden layer)."""
        return (reg in self.exposed["learn"] and reg in self.written["predict"]
                and reg not in self.exposed["predict"])


def _scan(component) -> tuple[tuple, tuple]:
    """Registers read before written (upward-exposed) and registers written, in order."""
    exposed, written = [], []
    for ins in component:
        for reg in reads(ins):
            if reg not in written and reg not in exposed:
                exposed.append(reg)
        for reg in writes(ins):
            if reg not in written:
                written.append(reg)
    return tuple(exposed), tuple(written)


def _streams(program: Program, mode: int) -> dict:
    """Stream ids as the engine numbers them (``liveness.stream_ids``), keyed by the
    instruction's position among its component's live instructions."""
    code, _, size = program.to_arrays()
    mem = program.memory
    flags = liveness.live_instructions(code, size, mem.scalars, mem.vectors, mode)
    ids = liveness.stream_ids(code, size, flags)
    streams = {}
    for c, name in enumerate(COMPONENTS):
        live_positions = [i for i in range(size[c]) if flags[c, i]]
        for pos, i in enumerate(live_positions):
            if ids[c, i] >= 0:
                streams[(name, pos)] = int(ids[c, i])
    return streams


def analyse(program: Program, task: Task) -> Dataflow:
    live = liveness.dead_code_eliminated(program, task.mode)
    vector = task.mode == liveness.VECTOR_TASK
    features = (V, FEATURES_VECTOR)
    label = (V, LABEL_VECTOR) if vector else (S, LABEL_SCALAR)
    prediction = (V, PREDICTION_VECTOR) if vector else (S, PREDICTION_SCALAR)
    exposed, written = {}, {}
    for name, comp in zip(COMPONENTS, live.components):
        exposed[name], written[name] = _scan(comp)
    carried = (set(exposed["predict"]) | set(exposed["learn"])) - {features, label, prediction}
    registers = {features, label, prediction}
    for comp in live.components:
        for ins in comp:
            registers.update(reads(ins))
            registers.update(writes(ins))
    sizes = {name: len(comp) for name, comp in zip(COMPONENTS, program.components)}
    return Dataflow(
        program=live, task=task, features=features, label=label, prediction=prediction,
        exposed=MappingProxyType(exposed), written=MappingProxyType(written),
        sizes=MappingProxyType(sizes), streams=MappingProxyType(_streams(program, task.mode)),
        registers=frozenset(registers), carried=frozenset(carried),
        zeros=frozenset(carried - set().union(*written.values())))
