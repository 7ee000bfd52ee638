"""Registers as the export sees them: ``(kind, address)`` pairs such as ``("V", 1)``."""
from __future__ import annotations

from .. import ops as _ops

S, V, M = _ops.SCALAR, _ops.VECTOR, _ops.MATRIX
COMPONENTS = ("setup", "predict", "learn")

Reg = tuple  # (kind, address)


def raw_name(reg: Reg) -> str:
    """The paper's name of a register: ``s2``, ``v0``, ``m1``."""
    return {S: "s", V: "v", M: "m"}[reg[0]] + str(reg[1])


def sort_key(reg: Reg):
    """Scalars, then vectors, then matrices; by address within a kind."""
    return ("SVM".index(reg[0]), reg[1])


def reads(ins) -> list:
    """The registers an instruction reads (a partial write reads its output too)."""
    op = ins.op
    regs = [(op.in1, ins.in1)] if op.in1 else []
    regs += [(op.in2, ins.in2)] if op.in2 else []
    if op.partial_write:
        regs.append((op.out, ins.out))
    return regs


def writes(ins) -> list:
    return [(ins.op.out, ins.out)] if ins.op.out else []


def zero_source(reg: Reg) -> str:
    """The value memory starts with, as source of the exported module."""
    return {S: "0.0", V: "np.zeros(N_FEATURES)", M: "np.zeros((N_FEATURES, N_FEATURES))"}[reg[0]]
