"""Random instructions for the tests: inputs biased towards registers written earlier, data
drawn as the reference's randomizer does (shared by the liveness and differential tests)."""
from azcompile import ops
from azcompile.program import FIRST_OUT, Instruction


def random_instruction(gen, mem, op, defined=None):
    """A random instruction; inputs prefer registers in ``defined`` (written earlier), so that
    random programs have data flow to speak of."""
    def addr(kind, first=0):
        return int(gen.integers(first, mem.count(kind)))

    def source(kind):
        if defined is not None and defined[kind] and gen.random() < 0.8:
            return int(gen.choice(sorted(defined[kind])))
        return addr(kind)

    in1 = source(op.in1) if op.in1 else 0
    in2 = source(op.in2) if op.in2 else 0
    out = addr(op.out, FIRST_OUT[op.out]) if op.out else 0
    u = lambda lo, hi: float(gen.uniform(lo, hi))  # noqa: E731
    data = {
        ops.NO_DATA: lambda: (0.0, 0.0, 0.0, 0.0),
        ops.SCALAR_CONST: lambda: (u(-1, 1), 0.0, 0.0, 0.0),
        ops.VECTOR_CONST: lambda: (0.0, u(0, 1), u(-1, 1), 0.0),
        ops.MATRIX_CONST: lambda: (0.0, u(0, 1), u(0, 1), u(-1, 1)),
        ops.GAUSSIAN: lambda: (0.0, u(-1, 1), u(0, 1), 0.0),
        ops.UNIFORM: lambda: (0.0, u(-1, 1), u(-1, 1), 0.0),
    }[op.data]()
    if defined is not None and op.out:
        defined[op.out].add(out)
    return Instruction(op, in1, in2, out, data)
