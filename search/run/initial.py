"""The reference's hard-coded algorithms: initial populations and train-budget baselines."""
from __future__ import annotations

from azcompile.program import Memory, Program, instructions
from azcompile.reference_programs import linear, neural_net

from .config import ConfigError


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
