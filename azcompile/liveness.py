"""Liveness over the whole evaluation loop, dead-code elimination, canonical form and hash.

The loop an evaluation runs is: Setup once; then per training example Predict, Learn; then
Predict per validation example.  Before each Predict and Learn the driver writes the features
(v0) and the label register (s0, or v1 for multi-class tasks), and after Predict it reads the
prediction (s1, or v2).  Liveness is the fixpoint of the backwards analysis around that cycle;
an instruction whose output is not live after it cannot reach any prediction and is removed.

The canonical form is the dead-code-free program with its non-reserved registers renamed in
order of first appearance: a permutation of zero-initialised registers, so it behaves exactly
like the original.  Its 64-bit hash keys the compiled-kernel cache and the fitness cache.

Everything here runs inside numba over array-encoded programs (see ``Program.to_arrays``), so
the search loop can call it per child.  Registers are bits of a uint64: at most 64 in all.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import numba_cache  # noqa: F401  (numba's cache folder before our functions)
from .ops import OP_ARRAYS
from .program import MAX_REGISTERS, Program
from .rng import mix64

SCALAR_TASK = 0      # label in s0, prediction in s1
VECTOR_TASK = 1      # label in v1, prediction in v2 (multi-class)

_IN1 = OP_ARRAYS["in1_kind"]
_IN2 = OP_ARRAYS["in2_kind"]
_OUT = OP_ARRAYS["out_kind"]
_PARTIAL = OP_ARRAYS["partial_write"]
_RANDOM = OP_ARRAYS["is_random"]
_ONE = np.uint64(1)
_ZERO = np.uint64(0)


@njit(cache=True, inline="always")
def reg_bit(kind, addr, S, V):
    """The bit of register (kind, addr); kind codes 1=S, 2=V, 3=M as in the op table."""
    if kind == 1:
        r = addr
    elif kind == 2:
        r = S + addr
    else:
        r = S + V + addr
    return _ONE << np.uint64(r)


@njit(cache=True, inline="always")
def driver_defs(S, mode):
    """Registers the driver writes before every Predict and Learn call."""
    if mode == SCALAR_TASK:
        return reg_bit(1, 0, S, 0) | reg_bit(2, 0, S, 0)
    return reg_bit(2, 0, S, 0) | reg_bit(2, 1, S, 0)


@njit(cache=True, inline="always")
def prediction_bit(S, mode):
    if mode == SCALAR_TASK:
        return reg_bit(1, 1, S, 0)
    return reg_bit(2, 2, S, 0)


@njit(cache=True)
def component_live_in(code, n, live_out, S, V, live_flags):
    """Backwards pass over one component; marks live instructions in ``live_flags``."""
    live = live_out
    for i in range(n - 1, -1, -1):
        op = code[i, 0]
        ok = _OUT[op]
        if ok == 0:
            live_flags[i] = False
            continue
        out_bit = reg_bit(ok, code[i, 3], S, V)
        if live & out_bit == _ZERO:
            live_flags[i] = False
            continue
        live_flags[i] = True
        if not _PARTIAL[op]:
            live &= ~out_bit
        if _IN1[op] != 0:
            live |= reg_bit(_IN1[op], code[i, 1], S, V)
        if _IN2[op] != 0:
            live |= reg_bit(_IN2[op], code[i, 2], S, V)
    return live


@njit(cache=True)
def live_instructions(code, size, S, V, mode):
    """Which instructions are live: bool[3, L]."""
    L = code.shape[1]
    flags = np.zeros((3, L), dtype=np.bool_)
    drv = driver_defs(S, mode)
    pred = prediction_bit(S, mode)
    p_in = _ZERO
    l_in = _ZERO
    # Fixpoint around Predict -> Learn -> Predict (and Predict -> Predict in validation).
    for _ in range(4 * MAX_REGISTERS):
        p_out = pred | (l_in & ~drv) | (p_in & ~drv)
        l_out = p_in & ~drv
        new_p = component_live_in(code[1], size[1], p_out, S, V, flags[1])
        new_l = component_live_in(code[2], size[2], l_out, S, V, flags[2])
        if new_p == p_in and new_l == l_in:
            break
        p_in = new_p
        l_in = new_l
    component_live_in(code[0], size[0], p_in & ~drv, S, V, flags[0])
    return flags


@njit(cache=True)
def fill_stream_ids(code, size, flags, ids):
    """Write random-op stream ids into ``ids``: the ordinal among live random instructions
    (other rows: -1).  Returns how many there are.  The search calls this per child into a
    buffer it keeps (an allocation per child is measurable there)."""
    k = 0
    for c in range(3):
        for i in range(size[c]):
            if flags[c, i] and _RANDOM[code[c, i, 0]]:
                ids[c, i] = k
                k += 1
            else:
                ids[c, i] = -1
    return k


@njit(cache=True)
def stream_ids(code, size, flags):
    """Random-op stream ids: the ordinal among live random instructions (dead ones: -1)."""
    ids = np.full((3, code.shape[1]), -1, dtype=np.int32)
    fill_stream_ids(code, size, flags, ids)
    return ids


@njit(cache=True, inline="always")
def _rename(kind, addr, maps, counters, mode):
    """Map (kind, addr) to its canonical address, allocating on first appearance."""
    # Reserved registers keep their addresses.
    if kind == 1 and addr <= 1:
        return addr
    if kind == 2 and (addr == 0 or (mode == VECTOR_TASK and addr <= 2)):
        return addr
    m = maps[kind - 1]
    if m[addr] < 0:
        m[addr] = counters[kind - 1]
        counters[kind - 1] += 1
    return m[addr]


@njit(cache=True)
def canonicalize(code, data, size, out_code, out_data, out_size, S, V, M, mode):
    """Write the canonical form into ``out_*`` and return its 64-bit hash."""
    flags = live_instructions(code, size, S, V, mode)
    width = max(S, max(V, M))
    maps = np.full((3, width), -1, dtype=np.int32)
    counters = np.array([2, 3 if mode == VECTOR_TASK else 1, 0], dtype=np.int32)
    h = np.uint64(0x84222325CBF29CE4)
    L = out_data.shape[1]
    bits = out_data.reshape(out_data.size).view(np.uint64)
    for c in range(3):
        n = 0
        for i in range(size[c]):
            if not flags[c, i]:
                continue
            op = code[c, i, 0]
            a = code[c, i, 1]
            b = code[c, i, 2]
            o = code[c, i, 3]
            if _IN1[op] != 0:
                a = _rename(_IN1[op], a, maps, counters, mode)
            if _IN2[op] != 0:
                b = _rename(_IN2[op], b, maps, counters, mode)
            o = _rename(_OUT[op], o, maps, counters, mode)
            out_code[c, n, 0] = op
            out_code[c, n, 1] = a
            out_code[c, n, 2] = b
            out_code[c, n, 3] = o
            h = mix64(h ^ np.uint64(op * 16777619 + a * 65599 + b * 257 + o))
            for k in range(4):
                # Exact bits: -0.0 differs from 0.0 (1 / -0.0 is -inf).
                out_data[c, n, k] = data[c, i, k]
                h = mix64(h ^ bits[(c * L + n) * 4 + k])
            n += 1
        out_size[c] = n
        h = mix64(h ^ np.uint64(0xC0FFEE + 1000003 * (n + 1)))
    return h


@njit(cache=True, inline="always")
def _taint_component(code, n, tainted, S, V):
    """Forward taint through one component: an output is tainted iff an input is (a partial
    write also keeps the old value's taint)."""
    for i in range(n):
        op = code[i, 0]
        ok = _OUT[op]
        if ok == 0:
            continue
        src = _ZERO
        if _IN1[op] != 0:
            src |= reg_bit(_IN1[op], code[i, 1], S, V)
        if _IN2[op] != 0:
            src |= reg_bit(_IN2[op], code[i, 2], S, V)
        out_bit = reg_bit(ok, code[i, 3], S, V)
        if _PARTIAL[op]:
            src |= out_bit
        if tainted & src != _ZERO:
            tainted |= out_bit
        else:
            tainted &= ~out_bit
    return tainted


@njit(cache=True)
def feature_dependent(code, size, S, V, mode):
    """Can the prediction depend on the features or on anything learned from labels?

    A forward taint analysis around the loop.  The features (v0) are tainted on entry to
    Predict and Learn, the label register on entry to Learn; the driver's own writes (s0 = 0,
    or v1 = 0, before Predict) clear their register.  Within a component the analysis follows
    the instructions in order (an overwrite from untainted inputs untaints); on entry to a
    component it takes the union over everything that can run before it (Setup, Learn, or a
    validation Predict), so it is sound over the whole loop.  Setup runs once, before any
    features exist.  Random ops are not taint sources (a prediction that is only noise is no
    better than a constant one).
    """
    features = reg_bit(2, 0, S, 0)
    drv = driver_defs(S, mode)
    label = drv & ~features
    pred = prediction_bit(S, mode)
    after_setup = _taint_component(code[0], size[0], _ZERO, S, V)
    before_predict = after_setup
    for _ in range(4 * MAX_REGISTERS):
        p_exit = _taint_component(code[1], size[1], (before_predict & ~drv) | features, S, V)
        if p_exit & pred != _ZERO:
            return True
        l_exit = _taint_component(code[2], size[2], (p_exit & ~drv) | features | label, S, V)
        grown = before_predict | p_exit | l_exit
        if grown == before_predict:
            break
        before_predict = grown
    return False


def canonical(program, mode: int = SCALAR_TASK):
    """The canonical Program (Python object) and its hash, for the edges of the system."""
    code, data, size = program.to_arrays()
    out_code = np.zeros_like(code)
    out_data = np.zeros_like(data)
    out_size = np.zeros(3, dtype=np.int32)
    mem = program.memory
    h = canonicalize(code, data, size, out_code, out_data, out_size,
                     mem.scalars, mem.vectors, mem.matrices, mode)
    prog = Program.from_arrays(out_code, out_data, out_size, mem, program.meta)
    return prog, int(h)


def canonical_hash(program, mode: int = SCALAR_TASK) -> int:
    return canonical(program, mode)[1]


def dead_code_eliminated(program, mode: int = SCALAR_TASK):
    """The program without dead instructions, registers as they were (for reading)."""
    code, data, size = program.to_arrays()
    mem = program.memory
    flags = live_instructions(code, size, mem.scalars, mem.vectors, mode)
    comps = [tuple(ins for ins, live in zip(comp, flags[c]) if live)
             for c, comp in enumerate(program.components)]
    return program.with_components(*comps)
