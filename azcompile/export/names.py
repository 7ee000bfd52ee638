"""Register roles and the Python names the exported module gives registers.

Roles: the driver's ``features``, ``label`` and ``prediction``; a ``constant`` (a scalar
only Setup writes, with a value known at export); a ``zero`` (read, never written);
``state`` that persists across calls, of which an ``activation`` is state Predict always
writes before Learn reads it (a hidden layer, say); and ``temporary`` locals.
"""
from __future__ import annotations

from .dataflow import Dataflow
from .registers import M, Reg, S, V, raw_name, sort_key

ROLES = ("features", "label", "prediction", "constant", "zero", "activation", "state",
         "temporary")
_PREFIX = {"zero": {S: "ZERO", V: "ZEROS", M: "ZERO_MATRIX"},
           "activation": {S: "a", V: "h", M: "H"},
           "state": {S: "b", V: "w", M: "W"},
           "temporary": {S: "t", V: "tv", M: "tm"}}
_ALWAYS_NUMBERED = ("t", "tv", "tm")
# Ops whose listed inputs scale the other input: a constant read only there, in Learn,
# reads as a step size.
_PRODUCT_OPS = {"SCALAR_PRODUCT_OP": (0, 1), "SCALAR_VECTOR_PRODUCT_OP": (0,),
                "SCALAR_MATRIX_PRODUCT_OP": (0,)}


def register_roles(flow: Dataflow, constants, state: tuple) -> dict:
    """The role of every register the program or the driver uses."""
    roles = {flow.features: "features", flow.label: "label", flow.prediction: "prediction"}
    for reg in sorted(flow.registers - set(roles), key=sort_key):
        if reg in constants:
            roles[reg] = "constant"
        elif reg in flow.zeros:
            roles[reg] = "zero"
        elif reg in state and flow.is_activation(reg):
            roles[reg] = "activation"
        elif reg in state:
            roles[reg] = "state"
        else:
            roles[reg] = "temporary"
    return roles


def register_names(flow: Dataflow, roles: dict, mode: str) -> dict:
    """Names by role (``auto``: ``x``, ``w``, ``LEARNING_RATE``, ``t1``...) or the raw
    addresses (``raw``)."""
    if mode == "raw":
        return {reg: raw_name(reg) for reg in roles}
    vector = flow.vector_task
    names = {flow.features: "x", flow.label: "y_onehot" if vector else "y",
             flow.prediction: "scores" if vector else "prediction"}
    groups: dict[str, list] = {}
    for reg in sorted(set(roles) - set(names), key=sort_key):
        if roles[reg] == "constant":
            prefix = "LEARNING_RATE" if _is_learning_rate(flow, reg) else "C"
        else:
            prefix = _PREFIX[roles[reg]][reg[0]]
        groups.setdefault(prefix, []).append(reg)
    for prefix, members in groups.items():
        numbered = len(members) > 1 or prefix in _ALWAYS_NUMBERED
        sep = "_" if prefix.isupper() else ""
        for i, reg in enumerate(members, 1):
            names[reg] = f"{prefix}{sep}{i}" if numbered else prefix
    return names


def _uses(flow: Dataflow, reg: Reg):
    """(component, op name, input position) of every read of ``reg`` after Setup."""
    for name in ("predict", "learn"):
        for ins in flow.program.component(name):
            for pos, (kind, addr) in enumerate(((ins.op.in1, ins.in1), (ins.op.in2, ins.in2))):
                if kind is not None and (kind, addr) == reg:
                    yield name, ins.op.name, pos


def _is_learning_rate(flow: Dataflow, reg: Reg) -> bool:
    """A constant that only scales quantities inside Learn reads as a step size."""
    uses = list(_uses(flow, reg))
    return bool(uses) and all(comp == "learn" and pos in _PRODUCT_OPS.get(op, ())
                              for comp, op, pos in uses)
