"""Golden exports: the module text for fixed programs and options, byte for byte.

``tests/data/export_golden.json.xz`` holds programs (as program-file JSON) and, for each
export option set, the exact text ``export_program`` wrote when the file was made (before
the export became a package).  The programs: the README's linear regression, the
reference neural net (also with class scores), the search winners in tests/data, and
random programs over the whole op set from tests/random_programs.py; each exported with
and without ``jit``, in both register-name modes, for every eval type that can export it.

Regenerate (only when a change of the exported text is intended) with
``python -m tests.test_export_golden``.
"""
import json
import lzma
from pathlib import Path

import numpy as np
import pytest

from azcompile import ops, reference_programs
from azcompile.export import export_program
from azcompile.program import Memory, Program, ProgramError, instructions, loads
from azcompile.program import load as load_program
from tests.programs import RUN_META, readme_linear_regression
from tests.random_programs import random_instruction

GOLDEN = Path(__file__).resolve().parent / "data" / "export_golden.json.xz"
EVAL_TYPES = ("rms_error", "accuracy", "multiclass")
N_RANDOM = 30
K = 3  # classes of the multiclass exports


def _linear_regression() -> Program:
    """The README's program, with a run's metadata."""
    return readme_linear_regression(meta=dict(RUN_META))


def _random_program(gen, eval_type: str) -> Program:
    """Random components whose inputs prefer registers written earlier; most Predicts end
    by writing the prediction register."""
    memory = Memory(5, 5, 3, 4)
    defined = {ops.SCALAR: set(), ops.VECTOR: {0}, ops.MATRIX: set()}
    comps = []
    for size in (gen.integers(0, 5), gen.integers(1, 7), gen.integers(0, 9)):
        comps.append([random_instruction(gen, memory, ops.OPS[int(gen.integers(0, ops.NUM_OPS))],
                                         defined) for _ in range(size)])
    if gen.random() < 0.85:
        want = ops.VECTOR if eval_type == "multiclass" else ops.SCALAR
        choices = [o for o in ops.OPS if o.out == want and not o.partial_write]
        ins = random_instruction(gen, memory, choices[int(gen.integers(0, len(choices)))], defined)
        comps[1].append(ins.__class__(ins.op, ins.in1, ins.in2, 2 if want == ops.VECTOR else 1,
                                      ins.data))
    return Program(*comps, memory=memory)


def _programs():
    """(name, program, option sets to export it with)."""
    nn = reference_programs.neural_net(Memory(5, 9, 2, 4))
    nn_classes = nn.with_components(nn.setup, nn.predict[:3] + instructions(
        [("MATRIX_VECTOR_PRODUCT_OP", 0, 4, 2)]), nn.learn[-2:])
    data = Path(__file__).resolve().parent / "data"
    all_four = ((False, "auto"), (False, "raw"), (True, "auto"), (True, "raw"))
    yield "linear_regression", _linear_regression(), _options(EVAL_TYPES, all_four)
    yield "neural_net", nn, (_options(["rms_error"], all_four)
                             + _options(["accuracy", "multiclass"], all_four[1:3]))
    yield "neural_net_multiclass", nn_classes, _options(["multiclass"], all_four[::3])
    for name in ("demo_winner", "nonlinear_winner", "nan_vector_min"):
        yield name, load_program(data / f"{name}.json"), _options(["rms_error"], all_four[1:3])
    gen = np.random.default_rng(20261201)
    for i in range(N_RANDOM):
        # Two of the four (jit, names) pairs per program, alternating: the suite has all
        # four for every eval type, and the test stays quick (an export takes ~0.2 s).
        eval_type = EVAL_TYPES[i % 3]
        pairs = all_four[::3] if i % 2 else all_four[1:3]
        yield f"random_{i:02d}", _random_program(gen, eval_type), _options([eval_type], pairs)


def _options(eval_types, pairs) -> list:
    return [{"eval_type": eval_type, "jit": jit, "name_registers": names,
             **({"num_classes": K} if eval_type == "multiclass" else {})}
            for eval_type in eval_types for jit, names in pairs]


def make_golden() -> dict:
    cases = []
    for name, program, variants in _programs():
        exports = []
        for options in variants:
            try:
                exports.append({"options": options, "text": export_program(program, **options)})
            except ProgramError:
                continue   # e.g. multiclass with too few features: nothing to freeze
        cases.append({"name": name, "program": program.to_json(), "exports": exports})
    return {"cases": cases}


def _load_golden() -> list:
    return json.loads(lzma.decompress(GOLDEN.read_bytes()))["cases"]


CASES = _load_golden() if GOLDEN.exists() else []


def test_golden_file_covers_the_intended_programs():
    names = [case["name"] for case in CASES]
    assert names[:3] == ["linear_regression", "neural_net", "neural_net_multiclass"]
    assert len(names) == 6 + N_RANDOM
    options = [e["options"] for case in CASES for e in case["exports"]]
    assert {o["jit"] for o in options} == {False, True}
    assert {o["name_registers"] for o in options} == {"auto", "raw"}
    assert {o["eval_type"] for o in options} == set(EVAL_TYPES)
    texts = [e["text"] for case in CASES for e in case["exports"]]
    assert any("@njit" in t for t in texts) and any("_gaussian_draws(" in t for t in texts)
    assert any("_uniform_draws(" in t for t in texts)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_export_text_is_byte_identical_to_the_golden_file(case):
    program = loads(json.dumps(case["program"]))
    for export in case["exports"]:
        assert export_program(program, **export["options"]) == export["text"], export["options"]


if __name__ == "__main__":
    GOLDEN.write_bytes(lzma.compress(json.dumps(make_golden(), sort_keys=True).encode(),
                                     preset=9 | lzma.PRESET_EXTREME))
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")
