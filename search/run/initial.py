"""The reference's hard-coded algorithms: initial populations and train-budget baselines."""
from __future__ import annotations

from pathlib import Path

from azcompile import program as program_file
from azcompile.program import Memory, Program, ProgramError, instructions
from azcompile.reference_programs import STARTS

from .config import WARM_START, ConfigError


def no_op(memory: Memory) -> Program:
    return Program(memory=memory)


# "random" starts from NO_OPs that the search then randomizes (the reference's generator).
BUILDERS = {**STARTS, "no_op": no_op, "random": no_op}
NEEDS = {"linear": (4, 3, 1), "neural_net": (5, 9, 2), "damaged_neural_net": (5, 9, 2)}


def warm_start_program(path, memory: Memory) -> Program:
    """The program a warm start begins from: a program file, or a run directory's best
    (``best_program.json``).  Its memory must be the configuration's."""
    path = Path(path)
    source = path / "best_program.json" if path.is_dir() else path
    if path.is_dir() and not source.is_file():
        raise ConfigError(f"evolution.initial_population: {path} holds no best_program.json; "
                          "name a program file or a run directory that found a program")
    try:
        program = program_file.load(source)
    except ProgramError as exc:
        raise ConfigError(f"evolution.initial_population: {exc}") from None
    if program.memory.as_dict() != memory.as_dict():
        raise ConfigError(f"evolution.initial_population: {source} has memory "
                          f"{program.memory.as_dict()}, the configuration {memory.as_dict()}; "
                          "start from a program of a run with the same [memory] and features")
    return program


def build(name: str, memory: Memory, sizes_init, sizes_max=None) -> Program:
    """The named algorithm (or ``from:PATH``'s program) padded with NO_OPs to the initial
    sizes (never truncated: a component longer than ``sizes_max`` is refused)."""
    if name.startswith(WARM_START):
        program = warm_start_program(name[len(WARM_START):], memory)
        for comp, pieces, most in zip(("setup", "predict", "learn"), program.components,
                                      sizes_max or sizes_init):
            if len(pieces) > max(most, 1):
                raise ConfigError(f"evolution.initial_population: the program's {comp} has "
                                  f"{len(pieces)} instructions, more than sizes.{comp}_max "
                                  f"({most}); raise it or start from a smaller program")
        return _padded(Program(program.setup, program.predict, program.learn, memory), sizes_init)
    need = NEEDS.get(name)
    if need and (memory.scalars < need[0] or memory.vectors < need[1] or memory.matrices < need[2]):
        raise ConfigError(f"initial_population '{name}' needs at least {need[0]} scalars, "
                          f"{need[1]} vectors and {need[2]} matrices in [memory]")
    return _padded(BUILDERS[name](memory), sizes_init)


def _padded(program: Program, sizes_init) -> Program:
    comps = []
    for comp, size in zip(program.components, sizes_init):
        pad = max(size - len(comp), 0)
        comps.append(tuple(comp) + instructions([("NO_OP", 0, 0, 0)]) * pad)
    return program.with_components(*comps).validate()
