"""Each component as a Python function of the registers it reads (before simplification).

A kernel's parameters are the registers the component reads before writing them (the
features and the label first), plus ``seed`` and ``call`` when it draws random numbers; it
returns the state registers it writes.  The ``jit`` flavour renders Predict and Learn as
element loops under numba (not Setup, and not a component that draws: the draws are
pure Python).
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import codegen
from ..notation import EXPORT_NUMPY, render, render_loop_block
from .dataflow import Dataflow
from .registers import raw_name, zero_source


@dataclass(frozen=True)
class Kernel:
    component: str
    params: tuple         # raw names, plus "seed" and "call" when random ops draw
    returns: tuple        # registers
    source: str
    jit: bool = False


_SCRATCH = {"TV": "_tv = np.zeros(N_FEATURES)", "TM": "_tm = np.zeros((N_FEATURES, N_FEATURES))"}


def make_kernel(flow: Dataflow, component: str, jit: bool, *, state: tuple,
                module_level: frozenset) -> Kernel | None:
    """The component's function, returning the registers of ``state`` it writes; None when
    it has no instructions or writes no state.  Registers in ``module_level`` (constants
    and zeros) are module names, not parameters."""
    comp = flow.program.component(component)
    if not comp:
        return None
    random = any(ins.op.is_random for ins in comp)
    use_loops = jit and component != "setup" and not random
    params, body = _inputs(flow, component, module_level)
    if random:
        params += ["seed", "call"]
    if use_loops:
        body += [line for key, line in _SCRATCH.items() if any(key in ins.op.loop for ins in comp)]
    body += _statements(flow, component, use_loops,
                        set(params) | {raw_name(reg) for reg in flow.exposed[component]})
    returns = tuple(reg for reg in state if reg in flow.written[component])
    if not returns:
        return None  # e.g. a Setup that only sets module constants
    body.append("return " + ", ".join(raw_name(r) for r in returns))
    doc = (f'"""{component.capitalize()}: {len(comp)} live instruction(s) of '
           f'{flow.sizes[component]}."""')
    decorator = '@njit(cache=True, error_model="numpy")\n' if use_loops else ""
    source = (f"{decorator}def _{component}({', '.join(params)}):\n    {doc}\n"
              + codegen.indent("\n".join(body), 4) + "\n")
    return Kernel(component, tuple(params), returns, source, use_loops)


def _inputs(flow: Dataflow, component: str, module_level: frozenset) -> tuple[list, list]:
    """(parameters, initialising lines) for the registers the component reads first."""
    params, body = [], []
    for reg in flow.exposed[component]:
        if component == "setup":
            body.append(f"{raw_name(reg)} = {zero_source(reg)}  # memory starts at 0")
        elif reg in module_level:
            continue  # a module constant, or 0
        elif reg == flow.label and component == "predict":
            body.append(f"{raw_name(reg)} = {zero_source(reg)}  # the label is 0 during Predict")
        else:
            params.append(raw_name(reg))
    params.sort(key=lambda n: (n != raw_name(flow.features), n != raw_name(flow.label)))
    return params, body


def _statements(flow: Dataflow, component: str, use_loops: bool, allocated: set) -> list:
    body = []
    for pos, ins in enumerate(flow.program.component(component)):
        if use_loops:
            body += render_loop_block(ins, flow.program.memory.features, allocated)
        else:
            stream = flow.streams.get((component, pos))
            body.append(f"{render(ins, EXPORT_NUMPY, features=flow.program.memory.features, stream=stream)}"
                        f"  # {ins.show()}")
    return body
