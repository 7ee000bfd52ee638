"""The reference's hard-coded algorithms: initial populations and train-budget baselines."""
from __future__ import annotations

from azcompile.program import Memory, Program, instructions

from .config import ConfigError


def linear(memory: Memory) -> Program:
    """Linear regression by SGD, learning rate 0.01 (needs 4 scalars, 3 vectors)."""
    return Program(
        setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 2, (0.01,))]),
        predict=instructions([("VECTOR_INNER_PRODUCT_OP", 1, 0, 1)]),
        learn=instructions([("SCALAR_DIFF_OP", 0, 1, 3), ("SCALAR_PRODUCT_OP", 2, 3, 3),
                            ("SCALAR_VECTOR_PRODUCT_OP", 3, 0, 2), ("VECTOR_SUM_OP", 1, 2, 1)]),
        memory=memory)


def neural_net(memory: Memory) -> Program:
    """2-layer ReLU net with biases, lr 0.01, init stdev 0.1 (needs 5 scalars, 9 vectors,
    2 matrices)."""
    return Program(
        setup=instructions([("VECTOR_GAUSSIAN_SET_OP", 0, 0, 2, (0.0, 0.0, 0.1)),
                            ("MATRIX_GAUSSIAN_SET_OP", 0, 0, 0, (0.0, 0.0, 0.1)),
                            ("SCALAR_CONST_SET_OP", 0, 0, 3, (0.01,))]),
        predict=instructions([("MATRIX_VECTOR_PRODUCT_OP", 0, 0, 3), ("VECTOR_SUM_OP", 3, 1, 3),
                              ("VECTOR_MAX_OP", 3, 5, 4), ("VECTOR_INNER_PRODUCT_OP", 4, 2, 1),
                              ("SCALAR_SUM_OP", 1, 2, 1)]),
        learn=instructions([("SCALAR_DIFF_OP", 0, 1, 4), ("SCALAR_PRODUCT_OP", 3, 4, 4),
                            ("SCALAR_SUM_OP", 2, 4, 2), ("SCALAR_VECTOR_PRODUCT_OP", 4, 4, 6),
                            ("VECTOR_SUM_OP", 2, 6, 2), ("SCALAR_VECTOR_PRODUCT_OP", 4, 2, 7),
                            ("VECTOR_HEAVYSIDE_OP", 3, 0, 8), ("VECTOR_PRODUCT_OP", 8, 7, 7),
                            ("VECTOR_SUM_OP", 1, 7, 1), ("VECTOR_OUTER_PRODUCT_OP", 7, 0, 1),
                            ("MATRIX_SUM_OP", 0, 1, 0)]),
        memory=memory)


def damaged_neural_net(memory: Memory) -> Program:
    """The neural net without its two Gaussian initialisations (the nonlinear test's start)."""
    net = neural_net(memory)
    return net.with_components(net.setup[2:], net.predict, net.learn)


def no_op(memory: Memory) -> Program:
    return Program(memory=memory)


# "random" starts from NO_OPs that the search then randomizes (the reference's generator).
BUILDERS = {"linear": linear, "neural_net": neural_net, "damaged_neural_net": damaged_neural_net,
            "no_op": no_op, "random": no_op}
NEEDS = {"linear": (4, 3, 1), "neural_net": (5, 9, 2), "damaged_neural_net": (5, 9, 2)}


def build(name: str, memory: Memory, sizes_init) -> Program:
    """The named algorithm padded with NO_OPs to the initial sizes (never truncated)."""
    need = NEEDS.get(name)
    if need and (memory.scalars < need[0] or memory.vectors < need[1] or memory.matrices < need[2]):
        raise ConfigError(f"initial_population '{name}' needs at least {need[0]} scalars, "
                          f"{need[1]} vectors and {need[2]} matrices in [memory]")
    program = BUILDERS[name](memory)
    comps = []
    for comp, size in zip(program.components, sizes_init):
        pad = max(size - len(comp), 0)
        comps.append(tuple(comp) + instructions([("NO_OP", 0, 0, 0)]) * pad)
    return program.with_components(*comps).validate()
