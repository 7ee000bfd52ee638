"""The plan of an export: dataflow, constants, state, register roles and names.

Built once by ``build_plan`` and immutable: every decision about registers is made here,
before any function is assembled.  A scalar that only Setup writes, and whose value Setup
computes from literals, becomes a named module constant; the registers Predict and Learn
read before writing them (other than constants, zeros and the driver's features and
label) live in the caller's ``state``, the prediction first.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Mapping

from ..program import Program
from .dataflow import Dataflow, analyse
from .kernels import make_kernel
from .names import register_names, register_roles
from .passes import constant_value, returned_values, simplify_source
from .provenance import Task
from .registers import Reg, S, raw_name, sort_key


@dataclass(frozen=True)
class Plan(Dataflow):
    constants: Mapping[Reg, float]   # register -> value (module constants)
    state: tuple                     # registers kept in ``state`` (the prediction first)
    roles: Mapping[Reg, str]         # register -> role (see ``names``)
    names: Mapping[Reg, str]         # register -> Python name
    name_mode: str                   # "auto" or "raw"

    @property
    def module_level(self) -> frozenset:
        """Registers that are module names (constants and zeros), not function arguments."""
        return frozenset(self.constants) | self.zeros

    def key(self, reg: Reg) -> str:
        """The register's key in ``state`` (the prediction keeps its role name)."""
        if reg == self.prediction:
            return "scores" if self.vector_task else "prediction"
        return self.names[reg]


def scalar_names(flow: Dataflow) -> set:
    """Raw names of the scalar registers (the simplification passes treat them as such)."""
    return {raw_name(reg) for reg in flow.registers if reg[0] == S}


def build_plan(program: Program, task: Task, name_mode: str, jit: bool) -> Plan:
    flow = analyse(program, task)
    constants = find_constants(flow, jit)
    state = _state(flow, constants)
    roles = register_roles(flow, constants, state)
    return Plan(**{f.name: getattr(flow, f.name) for f in fields(Dataflow)},
                constants=MappingProxyType(constants), state=state,
                roles=MappingProxyType(roles),
                names=MappingProxyType(register_names(flow, roles, name_mode)),
                name_mode=name_mode)


def _state(flow: Dataflow, constants) -> tuple:
    return (flow.prediction,) + tuple(sorted(flow.carried - set(constants) - flow.zeros,
                                             key=sort_key))


def find_constants(flow: Dataflow, jit: bool) -> dict:
    """Scalars only Setup writes whose value folds to a number: register -> value."""
    state = _state(flow, {})
    later = set(flow.written["predict"]) | set(flow.written["learn"])
    candidates = [reg for reg in state[1:] if reg[0] == S and reg not in later
                  and reg in flow.written["setup"]]
    kernel = make_kernel(flow, "setup", jit, state=state, module_level=flow.zeros)
    if not candidates or kernel is None:
        return {}
    simplified = simplify_source(kernel.source, {}, scalar_names(flow))
    values = dict(zip(kernel.returns, returned_values(simplified)))
    return {reg: constant_value(values[reg]) for reg in candidates
            if constant_value(values.get(reg)) is not None}
