"""Module assembly: the plan's component functions in the module template, with the
docstring, the constants, the helpers, the functional API and the task's estimator.

The estimator's class name must not rebind anything else the module defines; that is
checked on the assembled module, where every top-level name is known.
"""
from __future__ import annotations

import inspect

import libcst as cst

from .. import __version__, codegen, liveness, rng
from ..notation import literal, tidy
from ..program import Program
from . import helpers
from .kernels import Kernel, make_kernel
from .options import CLASS_NAME_HINT, ExportError
from .passes import Rename, hoist_learning_rate, prune_module, simplify_source
from .plan import Plan, scalar_names
from .preprocessing import Preprocessing, preprocessing_block, preprocessing_lines
from .registers import COMPONENTS, M, Reg, S, V, raw_name, sort_key, zero_source

_TASK_TEMPLATE = {"rms_error": "export_regression.py.tmpl", "accuracy": "export_binary.py.tmpl",
                  "multiclass": "export_multiclass.py.tmpl"}
_NORMALISATION = {"rms_error": "any normalisation", "accuracy": "the sigmoid",
                  "multiclass": "the softmax"}
_ROLE_TEXT = {"features": "features", "label": "label", "prediction": "prediction",
              "constant": "constant, set in Setup", "zero": "always 0: nothing writes it",
              "activation": "state: written by Predict, read by Learn",
              "state": "state: kept across examples", "temporary": "temporary"}
_NO_KERNEL = {"setup": "    # Setup writes nothing that later calls read (constants are module-level)",
              "predict": "    # Predict writes nothing: the prediction keeps its last value",
              "learn": "    # Learn writes nothing that later calls read"}
# helpers.py from this line on is what modules carry; its RNG block is replaced by the
# pure-Python twins' source.
_HELPERS_START = "\n# ---- numeric helpers"  # at the start of a line
_HELPERS_RNG = ("# The draws are plain Python in azcompile.rng, which rebinds their names to jitted versions;\n"
                "# their text (the one copy) runs here, as it runs in every exported module.\n"
                'exec(compile(_rng.py_rng_source(), "azcompile.rng draws", "exec"))  # the RNG draws')


def helper_source() -> str:
    """The helpers exactly as exported modules define them."""
    text = inspect.getsource(helpers)
    text = text[text.index(_HELPERS_START) + 1:]
    if _HELPERS_RNG not in text:
        raise RuntimeError("azcompile/export/helpers.py lost its RNG block")  # our own file
    return text.replace(_HELPERS_RNG, rng.py_rng_source())


def assemble_module(program: Program, plan: Plan, *, class_name: str, jit: bool,
                    provenance: list, preprocessing: Preprocessing | None = None) -> str:
    """The module's text (``provenance``: the docstring's provenance lines;
    ``preprocessing``: the standardisation the estimator applies, if any)."""
    kernels = {name: make_kernel(plan, name, jit, state=plan.state,
                                 module_level=plan.module_level) for name in COMPONENTS}
    functions, constants = [], _constant_lines(plan)
    for kernel in kernels.values():
        if kernel is not None:
            code, line = _component_function(plan, kernel)
            functions.append(code)
            constants = "\n".join(x for x in (constants, line) if x)
    task = plan.task
    text = codegen.template("export_module.py.tmpl").substitute(
        DOCSTRING=_docstring(program, plan, class_name, provenance, jit, preprocessing),
        JIT_IMPORT="from numba import njit\n" if any(k and k.jit for k in kernels.values()) else "",
        FEATURES=program.memory.features, CONSTANTS=constants,
        HELPERS=helper_source(), KERNELS="\n\n".join(functions),
        STATE_ZEROS=", ".join(f'"{plan.key(reg)}": {_state_zero(reg)}' for reg in plan.state),
        SETUP_BODY=_body(plan, kernels["setup"], "setup"),
        PREDICT_BODY=_body(plan, kernels["predict"], "predict"),
        LEARN_BODY=_body(plan, kernels["learn"], "learn"),
        OUTPUT_NAME="class scores" if plan.vector_task else "prediction",
        NORMALISATION=_NORMALISATION[task.eval_type],
        PREPROCESSING=preprocessing_block(preprocessing) if preprocessing else "",
        TASK=codegen.template(_TASK_TEMPLATE[task.eval_type]).substitute(
            CLASS_NAME=class_name, NUM_CLASSES=task.num_classes,
            BASE="_Preprocessed" if preprocessing else "_Estimator"))
    module = prune_module(cst.parse_module(text))
    _check_class_name_is_free(module, class_name)
    return tidy(module.code)


def _component_function(plan: Plan, kernel: Kernel) -> tuple[str, str]:
    """(the simplified, renamed function's code, a module constant line it needs or "")."""
    func = simplify_source(kernel.source, _entry_env(plan, kernel.component), scalar_names(plan))
    func = func.visit(Rename({raw_name(reg): name for reg, name in plan.names.items()}))
    line = ""
    if kernel.component == "learn" and plan.name_mode == "auto":
        func, line = hoist_learning_rate(func, set(plan.names.values()))
    return cst.Module([]).code_for_node(func).strip() + "\n", line


def _entry_env(plan: Plan, component: str) -> dict:
    """What raw names certainly hold when the component starts: after Setup, constants and
    zeros are module names, and a scalar zero is the number 0.0."""
    if component == "setup":
        return {}
    env = {raw_name(reg): cst.Name(plan.names[reg]) for reg in plan.module_level}
    env.update({raw_name(reg): cst.Float("0.0") for reg in plan.zeros if reg[0] == S})
    return env


def _call_line(plan: Plan, kernel: Kernel) -> str:
    args = []
    for param in kernel.params:
        if param in ("seed", "call"):
            args.append(f'state["{param}"]')
        elif param == raw_name(plan.features):
            args.append("x")
        elif param == raw_name(plan.label) and kernel.component == "learn":
            args.append("y")
        else:
            reg = next(r for r in plan.state if raw_name(r) == param)
            args.append(f'state["{plan.key(reg)}"]')
    call = f"_{kernel.component}({', '.join(args)})"
    targets = ", ".join(f'state["{plan.key(r)}"]' for r in kernel.returns)
    return f"{targets} = {call}" if targets else call


def _body(plan: Plan, kernel: Kernel | None, component: str) -> str:
    if kernel is None:
        return _NO_KERNEL[component]
    return f'    with np.errstate(all="ignore"):\n        {_call_line(plan, kernel)}'


def _register_rows(plan: Plan) -> list[str]:
    rows = []
    for reg in sorted(plan.names, key=sort_key):
        role = plan.roles[reg]
        name = "0.0" if role == "zero" and reg[0] == S else plan.names[reg]
        rows.append(f"    {name:<16} {raw_name(reg):<5} {_ROLE_TEXT[role]}")
    return rows


def _docstring(program: Program, plan: Plan, class_name: str, provenance: list,
               jit: bool, preprocessing: Preprocessing | None) -> str:
    mem, task = program.memory, plan.task
    chash = liveness.canonical_hash(program, task.mode)
    out_name = "scores" if plan.vector_task else "prediction"
    flavour = "numpy and numba (Predict and Learn are compiled)" if jit else "numpy only"
    head = [f"{class_name}: a learning algorithm evolved from scratch by AutoML-Zero.", ""]
    head += ["Provenance:"] + [f"    {line}" for line in provenance]
    head += [f"    eval type: {task.eval_type}"
             + (f" ({task.num_classes} classes)" if task.num_classes else ""),
             f"    canonical hash: {chash:016x}", ""]
    head += [f"Memory: {_count(mem.scalars, 'scalar')}, {_count(mem.vectors, 'vector')}, "
             f"{_count(mem.matrices, 'matrix', 'matrices')}; {mem.features} features.", "",
             "Registers (name, raw address, role):"] + _register_rows(plan)
    if preprocessing:
        head += [""] + preprocessing_lines(preprocessing)
    head += ["", "The program as evolved (paper notation, dead code included):", "",
             codegen.indent(program.listing(), 4), ""]
    head += ["Use:", "", "    state = setup(seed=0)", "    for x, y in zip(X_train, y_train):",
             "        train_step(state, x, y)", f"    {out_name} = predict(state, x_new)", "",
             f"or the estimator: {class_name}().fit(X_train, y_train).predict(X_new)", "",
             f"Generated by azcompile {__version__} (azc export); it needs {flavour}."]
    return '"""' + "\n".join(head).rstrip() + '\n"""'


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _constant_lines(plan: Plan) -> str:
    lines = [f"{plan.names[reg]} = {literal(value, non_finite=True)}  # {raw_name(reg)}, set in Setup"
             for reg, value in sorted(plan.constants.items(), key=lambda kv: sort_key(kv[0]))]
    lines += [f"{plan.names[reg]} = {zero_source(reg)}  # {raw_name(reg)}: nothing writes it"
              for reg in sorted(plan.zeros, key=sort_key) if reg[0] != S]
    return "\n".join(lines)


def _state_zero(reg: Reg) -> str:
    return {S: "np.float64(0.0)", V: "np.zeros(N_FEATURES)",
            M: "np.zeros((N_FEATURES, N_FEATURES))"}[reg[0]]


def _module_names(module: cst.Module) -> list[tuple[str, str]]:
    """(name, what it is) for every name the module binds at its top level."""
    found = []
    for stmt in module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            found.append((stmt.name.value, "a function" if isinstance(stmt, cst.FunctionDef)
                          else "a class"))
            continue
        for small in getattr(stmt, "body", ()):
            if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    bound = alias.asname.name if alias.asname else alias.name
                    found.append((cst.Module([]).code_for_node(bound).split(".")[0],
                                  f"the import of {cst.Module([]).code_for_node(alias.name)}"))
            elif isinstance(small, (cst.Assign, cst.AnnAssign)):
                targets = small.targets if isinstance(small, cst.Assign) else [small]
                for target in targets:
                    if isinstance(target.target, cst.Name):
                        found.append((target.target.value, "a module constant"))
    return found


def _check_class_name_is_free(module: cst.Module, class_name: str) -> None:
    """The estimator class must not rebind a name the module defines (``np``, ``setup``,
    ``predict``, a constant...): the module would call the class instead."""
    others = [what for name, what in _module_names(module) if name == class_name]
    others.remove("a class")   # the estimator itself
    if others:
        raise ExportError(f"class name {class_name!r} is already {others[0]} in the exported "
                          f"module; {CLASS_NAME_HINT}")
