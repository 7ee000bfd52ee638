"""How tests/data/notation_golden.json was made: run once, at commit b24af21, BEFORE
azcompile/notation.py existed, with the renderers that notation replaced:
codegen._interp_branch / _instruction_block / candidate_source, export._fill /
_numpy_statement / _loop_block / _literal and program.show_instruction.

It cannot run after that change (those functions are gone); it is kept as the record of
what the golden file holds.  Usage (at b24af21): python tests/data/make_notation_golden.py
"""
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from azcompile import codegen, export, ops  # noqa: E402
from azcompile.program import Instruction, show_instruction  # noqa: E402
from test_codegen import every_op_program  # noqa: E402

NAN, INF = math.nan, math.inf
F32_5_6 = float(np.float32(5 / 6))
DATA = {
    ops.NO_DATA: [(0, 0, 0, 0)],
    ops.SCALAR_CONST: [(0.375, 0, 0, 0), (-1e-7, 0, 0, 0), (1e300, 0, 0, 0), (-0.0, 0, 0, 0),
                       (INF, 0, 0, 0), (-INF, 0, 0, 0), (NAN, 0, 0, 0)],
    ops.VECTOR_CONST: [(0, f, v, 0) for f in (0.0, 0.6, F32_5_6, 0.999, 1.0, 1.5, -0.1, -0.5,
                                              -1.0, NAN, INF)
                       for v in (-1.25, NAN)],
    ops.MATRIX_CONST: [(0, f, g, 2.5) for f, g in ((0.3, 0.9), (1.0, 0.0), (-0.2, 1.7),
                                                   (-3.0, 0.5), (NAN, 0.5), (0.5, INF))],
    ops.GAUSSIAN: [(0, 0.5, 0.25, 0), (0, -0.5, 1e-3, 0), (0, INF, NAN, 0)],
    ops.UNIFORM: [(0, -0.5, 0.5, 0), (0, 0.75, -0.25, 0), (0, -INF, INF, 0)],
}
OPERANDS = [(0, 1, 2), (3, 2, 1)]
FEATURES = (4, 6)


def attempt(render):
    try:
        return render()
    except Exception as exc:  # the golden records refusals too
        return {"error": type(exc).__name__}


def case(op, operands, data, features, stream):
    ins = Instruction(op, *operands, data)
    row = {"op": op.name, "operands": list(operands), "data": [repr(x) for x in ins.data],
           "features": features, "stream": stream,
           "show": show_instruction(op, *operands, ins.data),
           "candidate": attempt(lambda: codegen._instruction_block(ins, stream, features)),
           "export_numpy": attempt(lambda: export._numpy_statement(
               ins, features, stream if op.is_random else None)),
           "export_fill_numpy": attempt(lambda: export._fill(
               op.numpy, ins, features, stream if op.is_random else None, loop=False))}
    if not op.is_random:
        row["export_fill_loop"] = attempt(lambda: export._fill(op.loop, ins, features, None,
                                                              loop=True))
        row["export_loop_new"] = attempt(lambda: export._loop_block(ins, features, set()))
        row["export_loop_allocated"] = attempt(lambda: export._loop_block(
            ins, features, {f"{ {'S': 's', 'V': 'v', 'M': 'm'}.get(op.out, '')}{ins.out}"}))
    return row


def main():
    cases = [case(op, operands, data, features, 3)
             for op in ops.OPS for operands in OPERANDS for data in DATA[op.data]
             for features in FEATURES]
    golden = {
        "made_at": "b24af21 (see tests/data/make_notation_golden.py)",
        "interp": {op.name: codegen._interp_branch(op) for op in ops.OPS},
        "cases": cases,
        "export_literal": {repr(x): export._literal(x)
                           for x in (0.0, -0.0, 0.1, -2.5, 1e300, 5e-324, INF, -INF, NAN)},
        "candidate_source": {str(f): codegen.candidate_source(every_op_program(f), 0x1234ABCD)
                             for f in FEATURES},
        "interpreter_source": codegen.interpreter_source(),
        "cost": dict(ops.COMPUTE_COST),
    }
    path = ROOT / "tests" / "data" / "notation_golden.json"
    path.write_text(json.dumps(golden, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    print(path, len(cases), "cases")


if __name__ == "__main__":
    main()
