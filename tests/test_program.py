"""Programs: the IR, its JSON form (versioned, pure data) and the errors malformed files give."""
from __future__ import annotations

import builtins
import copy
import importlib
import json
import math
import pickle

import numpy as np
import pytest

from azcompile import ops
from azcompile.program import (FORMAT_NAME, FORMAT_VERSION, Instruction, Memory, Program,
                               ProgramError, from_json, load, loads)
from programs import readme_linear_regression


def linear_regression(lr=0.001):
    """The reference README's hand-written linear regression."""
    return readme_linear_regression(lr, meta={"task": "linear", "fitness": 0.99, "tags": ["demo"]})


def every_op_program():
    """One instruction of every op, with data where the op takes data (including -0.0)."""
    mem = Memory(5, 4, 3, 8)
    rows = []
    for op in ops.OPS:
        first = {"S": 1, "V": 1, "M": 0}
        in1 = {"S": 4, "V": 3, "M": 2}.get(op.in1, 0)
        in2 = {"S": 0, "V": 0, "M": 1}.get(op.in2, 0)
        out = first.get(op.out, 0) + (op.id % 3 if op.out else 0)
        data = {
            ops.NO_DATA: (0.0, 0.0, 0.0, 0.0),
            ops.SCALAR_CONST: (-0.0 if op.id % 2 else 0.123456789012345678, 0, 0, 0),
            ops.VECTOR_CONST: (0.0, 0.7, -1.5e-7, 0.0),
            ops.MATRIX_CONST: (0.0, 0.25, 0.999, 3.0e5),
            ops.GAUSSIAN: (0.0, -0.3, 0.1, 0.0),
            ops.UNIFORM: (0.0, 0.9, -0.9, 0.0),
        }[op.data]
        rows.append(Instruction(op, in1, in2, out, data))
    return Program(setup=rows[:20], predict=rows[20:45], learn=rows[45:], memory=mem,
                   meta={"note": "every op"})


def bits(program):
    return [(ins.op.id, ins.in1, ins.in2, ins.out,
             tuple(np.float64(x).view(np.uint64) for x in ins.data))
            for comp in program.components for ins in comp]


# ---- round trip ----------------------------------------------------------------------------

@pytest.mark.parametrize("make", [linear_regression, every_op_program])
def test_json_round_trip(make, tmp_path):
    prog = make()
    text = prog.dumps()
    again = loads(text)
    assert again == prog
    assert bits(again) == bits(prog)          # exact bits: -0.0 stays -0.0, no float drift
    assert again.memory == prog.memory
    assert again.meta == prog.meta
    assert again.dumps() == text              # stable text
    path = tmp_path / "p.json"
    prog.save(path)
    assert bits(load(path)) == bits(prog)
    assert not [p for p in tmp_path.iterdir() if p.name != "p.json"]   # no temp files left


def test_json_form_is_plain_and_versioned():
    doc = json.loads(linear_regression().dumps())
    assert doc["format"] == FORMAT_NAME == "azcompile.program"
    assert doc["version"] == FORMAT_VERSION == 1
    assert doc["memory"] == {"scalars": 4, "vectors": 3, "matrices": 1, "features": 4}
    assert doc["setup"] == [{"op": "SCALAR_CONST_SET_OP", "out": 2, "data": [0.001, 0, 0, 0]}]
    assert doc["predict"] == [{"op": "VECTOR_INNER_PRODUCT_OP", "in1": 0, "in2": 1, "out": 1}]
    assert doc["learn"][0] == {"op": "SCALAR_DIFF_OP", "in1": 0, "in2": 1, "out": 3}


def test_float32_fields_are_rounded_and_activation_is_not():
    ins = Instruction.make("VECTOR_CONST_SET_OP", out=1, data=(0.1, 0.1, 0.1, 0.1))
    assert ins.data[0] == 0.1                       # activation_data: float64
    assert ins.data[1:] == (float(np.float32(0.1)),) * 3
    again = loads(Program(setup=(ins,)).dumps()).setup[0]
    assert again.data == ins.data


def test_arrays_round_trip():
    prog = every_op_program()
    code, data, size = prog.to_arrays()
    assert code.dtype == np.int32 and data.dtype == np.float64 and list(size) == [20, 25, 20]
    assert bits(Program.from_arrays(code, data, size, prog.memory)) == bits(prog)
    code2, _, _ = prog.to_arrays(capacity=40)
    assert code2.shape == (3, 40, 4)
    with pytest.raises(ProgramError, match="capacity"):
        prog.to_arrays(capacity=10)


def test_listing_is_the_papers_notation():
    text = linear_regression().listing()
    assert text == ("def Setup():\n  s2 = 0.001\ndef Predict():\n  s1 = dot(v0, v1)\n"
                    "def Learn():\n  s3 = s0 - s1\n  s3 = s3 * s2\n  v2 = s3 * v0\n"
                    "  v1 = v1 + v2\n")


# ---- malformed files -----------------------------------------------------------------------

def _doc():
    return json.loads(linear_regression().dumps())


def _with(mutate):
    doc = _doc()
    mutate(doc)
    return json.dumps(doc)


def _set(component, index, **fields):
    def mutate(doc):
        doc[component][index].update(fields)
    return mutate


INSTRUCTION_ERRORS = [
    ("unknown op", _set("learn", 2, op="SCALAR_FROBNICATE_OP"), "learn[2]", "unknown op"),
    ("op not a string", _set("learn", 1, op=3), "learn[1]", "op"),
    ("address out of range", _set("learn", 3, in1=7), "learn[3]", "out of range"),
    ("negative address", _set("predict", 0, in2=-1), "predict[0]", "out of range"),
    ("writes the label s0", _set("learn", 0, out=0), "learn[0]", "out of range"),
    ("writes the features v0", _set("learn", 2, out=0), "learn[2]", "out of range"),
    ("string address", _set("learn", 1, in2="2"), "learn[1]", "integer address"),
    ("float address", _set("learn", 1, in2=2.0), "learn[1]", "integer address"),
    ("bool address", _set("learn", 1, in1=True), "learn[1]", "integer address"),
    ("huge address", _set("learn", 1, in1=10 ** 30), "learn[1]", "out of range"),
    ("address of a missing operand", _set("setup", 0, in1=1), "setup[0]", "no in1"),
    ("unknown field", _set("predict", 0, comment="x"), "predict[0]", "unknown field"),
    ("data not a list", _set("setup", 0, data="0.1"), "setup[0]", "data"),
    ("data too long", _set("setup", 0, data=[0, 0, 0, 0, 0]), "setup[0]", "data"),
    ("data not numbers", _set("setup", 0, data=[True, 0, 0, 0]), "setup[0]", "data"),
    ("huge data", _set("setup", 0, data=[10 ** 400, 0, 0, 0]), "setup[0]", "finite"),
    ("data on an op without data", _set("learn", 0, data=[1, 0, 0, 0]), "learn[0]", "no data"),
    ("instruction not an object", lambda d: d["predict"].__setitem__(0, ["VECTOR_SUM_OP"]),
     "predict[0]", "object"),
]


@pytest.mark.parametrize("case", INSTRUCTION_ERRORS, ids=[c[0] for c in INSTRUCTION_ERRORS])
def test_malformed_instruction_names_it(case):
    _, mutate, where, words = case
    with pytest.raises(ProgramError) as err:
        loads(_with(mutate))
    assert where in str(err.value)
    assert words in str(err.value)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_data_names_the_instruction(literal):
    text = _with(lambda d: None).replace('"data": [0.001, 0.0, 0.0, 0.0]',
                                         f'"data": [{literal}, 0, 0, 0]')
    assert literal in text
    with pytest.raises(ProgramError, match=r"setup\[0\].*finite"):
        loads(text)


def test_non_finite_float32_field():
    # 1e300 is finite as a float64 but not as the float32 the field holds.
    with pytest.raises(ProgramError, match=r"setup\[0\].*finite"):
        loads(_with(lambda d: d["setup"].__setitem__(
            0, {"op": "SCALAR_GAUSSIAN_SET_OP", "out": 2, "data": [0, 1e300, 1, 0]})))


@pytest.mark.parametrize("fraction", [-0.25, 1.5])
def test_index_fraction_out_of_range(fraction):
    bad = {"op": "MATRIX_CONST_SET_OP", "out": 0, "data": [0, 0.5, fraction, 1.0]}
    with pytest.raises(ProgramError, match=r"predict\[1\].*index fraction"):
        loads(_with(lambda d: d["predict"].append(bad)))


FILE_ERRORS = [
    ("not JSON", "{not json", "not valid JSON"),
    ("empty file", "", "not valid JSON"),
    ("not an object", "[1, 2, 3]", "JSON object"),
    ("wrong format", _with(lambda d: d.update(format="something.else")), "format"),
    ("missing version", _with(lambda d: d.pop("version")), "version"),
    ("newer version", _with(lambda d: d.update(version=2)), "version 2"),
    ("string version", _with(lambda d: d.update(version="1")), "version"),
    ("unknown top-level field", _with(lambda d: d.update(code="import os")), "unknown top-level"),
    ("memory not an object", _with(lambda d: d.update(memory=[4, 3, 1, 4])), "memory"),
    ("memory unknown field", _with(lambda d: d["memory"].update(tensors=2)), "memory"),
    ("memory float", _with(lambda d: d["memory"].update(scalars=4.0)), "memory.scalars"),
    ("memory too small", _with(lambda d: d["memory"].update(scalars=1)), "memory.scalars"),
    ("too many registers", _with(lambda d: d["memory"].update(scalars=30, vectors=30,
                                                               matrices=10)), "at most 64"),
    ("component not a list", _with(lambda d: d.update(learn={"op": "NO_OP"})), "'learn'"),
    ("meta not an object", _with(lambda d: d.update(meta="hi")), "meta"),
    ("non-finite meta", _with(lambda d: d.update(meta={"fitness": 1e999})), "meta.fitness"),
]


@pytest.mark.parametrize("case", FILE_ERRORS, ids=[c[0] for c in FILE_ERRORS])
def test_malformed_file(case):
    _, text, words = case
    with pytest.raises(ProgramError) as err:
        loads(text)
    assert words in str(err.value)


def test_load_reports_the_path(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(_with(_set("learn", 2, op="NOPE")))
    with pytest.raises(ProgramError) as err:
        load(path)
    assert "bad.json" in str(err.value) and "learn[2]" in str(err.value)
    with pytest.raises(ProgramError, match="no such program file"):
        load(tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProgramError):
        load(binary)


def test_memory_validation():
    with pytest.raises(ProgramError, match="memory.features"):
        Memory(4, 3, 1, 0)
    with pytest.raises(ProgramError, match="memory.vectors"):
        Memory(4, True, 1, 4)
    with pytest.raises(ProgramError, match="at most 64"):
        Memory(40, 20, 5, 4)
    assert Memory(20, 20, 20, 4).count("V") == 20     # the largest reference build fits


def test_validate_catches_programs_built_in_python():
    bad = Program(predict=(Instruction(ops.lookup("SCALAR_SUM_OP"), 0, 9, 1),))
    with pytest.raises(ProgramError, match=r"predict\[0\].*in2=9"):
        bad.validate()
    assert linear_regression().validate() == linear_regression()


# ---- loading is data only ------------------------------------------------------------------

HOSTILE = [
    "__import__('os').system('touch PWNED')",
    "SCALAR_SUM_OP; import os",
    "SCALAR_SUM_OP\nimport os",
    "exec",
    "__class__",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_op_names_are_rejected(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProgramError, match="unknown op"):
        loads(_with(_set("predict", 0, op=name)))
    assert not (tmp_path / "PWNED").exists()


def test_loading_never_executes_or_compiles(monkeypatch):
    """Loading goes through json and the validators only: no eval/exec/import/pickle, no
    code generation, no numba."""
    def forbidden(*args, **kwargs):
        raise AssertionError("loading a program must not call this")

    from azcompile import codegen, interpreter, jit_cache

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(importlib, "import_module", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(codegen, "candidate_source", forbidden)
    monkeypatch.setattr(jit_cache.KernelCache, "get", forbidden)
    monkeypatch.setattr(interpreter, "evaluate_function", forbidden)
    meta = {"note": "__import__('os').system('echo hi')", "code": "lambda: 1"}
    text = _with(lambda d: d.update(meta=meta))
    prog = loads(text)
    monkeypatch.undo()
    assert prog.meta == meta                       # meta is kept as plain data
    assert prog == linear_regression()


def test_from_json_does_not_keep_references_to_the_document():
    doc = _doc()
    prog = from_json(copy.deepcopy(doc))
    doc["learn"].clear()
    assert len(prog.learn) == 4


def test_op_lookup_and_show():
    assert ops.lookup("scalar_sum") is ops.lookup("SCALAR_SUM_OP") is ops.lookup(1)
    with pytest.raises(KeyError):
        ops.lookup(65)
    with pytest.raises(KeyError):
        ops.lookup(True)
    ins = Instruction.make("MATRIX_CONST_SET_OP", out=0, data=(0, 0.25, 0.5, -2.0))
    assert ins.show() == "m0[0.25, 0.5] = -2"
    assert Instruction.make("VECTOR_HEAVYSIDE_OP", in1=2, out=1).show() == "v1 = heaviside(v2, 1.0)"
    assert math.isclose(Instruction.make("SCALAR_CONST_SET_OP", out=3, data=(1 / 3,)).data[0],
                        1 / 3, rel_tol=0, abs_tol=0)


# ---- a generated table of hostile program files ----------------------------------------------

def _paths(value, prefix=()):
    """Every key / index path into a JSON document."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield prefix + (key,)
        yield from _paths(child, prefix + (key,))


def _replaced(doc, path, value):
    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


# Wrong types, wrong ranges and non-finite numbers, put in turn at every place of a program file.
WRONG_VALUES = [None, True, False, 0, -1, 7, 2 ** 31, 2 ** 63, -10 ** 30, 1.5, -0.0, 1e308,
                float("nan"), float("inf"), float("-inf"), "", "x", "SCALAR_SUM_OP", [], [1],
                [0, 0, 0, 0, 0], {}, {"op": "NO_OP"}, [[[[1]]]]]


@pytest.mark.parametrize("value", WRONG_VALUES, ids=[repr(v)[:20] for v in WRONG_VALUES])
def test_every_field_with_a_wrong_value_is_a_program_error_or_a_valid_program(value):
    """Each replacement either still makes a valid program (e.g. another in-range address) or
    fails as one ProgramError line; nothing else escapes, and what loads saves again."""
    doc = _doc()
    outcomes = {"loaded": 0, "refused": 0}
    for path in _paths(doc):
        text = json.dumps(_replaced(doc, path, value))     # NaN / Infinity as JSON tokens
        try:
            prog = loads(text)
        except ProgramError as exc:
            assert "\n" not in str(exc) and str(exc), (path, exc)
            outcomes["refused"] += 1
        else:
            prog.validate()
            assert loads(prog.dumps()) == prog, path
            outcomes["loaded"] += 1
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == len(list(_paths(doc)))


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE_TEXTS = [
    ("4301-digit integer",
     _with(lambda d: None).replace('"version": 1', '"version": ' + "7" * 4301), "4301 digits"),
    ("641-digit address", _with(lambda d: None).replace('"out": 2', '"out": ' + "9" * 641, 1),
     "641 digits"),
    ("640-digit address is only out of range", _with(lambda d: None).replace(
        '"out": 2', '"out": ' + "9" * 640, 1), "out of range"),
    ("nested 100000 deep", _with(lambda d: None).replace('"meta": {', '"meta": {"x": '
                                                         + _nested(100000) + ", "), "nested"),
    ("nested 500 deep", _with(lambda d: None).replace('"meta": {', '"meta": {"x": '
                                                      + _nested(500) + ", "), "32 levels"),
    ("nested 33 deep in data", _with(lambda d: d["setup"][0].update(data=json.loads(_nested(33)))),
     "32 levels"),
    ("NaN memory", _with(lambda d: None).replace('"scalars": 4', '"scalars": NaN'),
     "memory.scalars"),
    ("Infinity version", _with(lambda d: None).replace('"version": 1', '"version": Infinity'),
     "version"),
    ("NaN address", _with(lambda d: None).replace('"out": 2', '"out": NaN', 1), "integer address"),
    ("-Infinity in meta", _with(lambda d: d["meta"].update(x=[float("-inf")])), "meta.x[0]"),
    ("memory missing features", _with(lambda d: d["memory"].pop("features")), "'memory'"),
    ("memory empty", _with(lambda d: d.update(memory={})), "'memory'"),
]


@pytest.mark.parametrize("case", HOSTILE_TEXTS, ids=[c[0] for c in HOSTILE_TEXTS])
def test_hostile_text_is_one_program_error(case):
    _, text, words = case
    with pytest.raises(ProgramError) as err:
        loads(text)
    assert words in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("content, words", [
    (b"\xff\xfe\x00garbage", "byte 0xff at offset 0 is not UTF-8"),
    ('{"format": "caf\xe9"}'.encode("latin1"), "byte 0xe9 at offset 15"),
    (b"", "not valid JSON"),
])
def test_load_refuses_bytes_that_are_not_utf8_json(tmp_path, content, words):
    path = tmp_path / "p.json"
    path.write_bytes(content)
    with pytest.raises(ProgramError, match=words):
        load(path)


def test_load_checks_the_file_before_reading_it(tmp_path):
    import os

    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:
        f.truncate(64 * 2 ** 20 + 1)           # sparse: no disk used
    with pytest.raises(ProgramError, match="64 MiB"):
        load(huge)
    os.mkfifo(tmp_path / "fifo.json")
    for path, words in ((tmp_path / "fifo.json", "not a regular file"),   # would block
                        ("/dev/zero", "not a regular file"),               # would never end
                        (tmp_path, "a directory")):
        with pytest.raises(ProgramError, match=words):
            load(path)


def test_max_registers_is_defined_once():
    from azcompile import liveness, program

    assert liveness.MAX_REGISTERS is program.MAX_REGISTERS == 64


@pytest.mark.parametrize("op", ops.OPS, ids=lambda o: o.name)
def test_show_instruction_is_the_listing_target(op):
    from azcompile import notation
    from azcompile.program import show_instruction

    ins = Instruction(op, 1 if op.in1 else 0, 2 if op.in2 else 0, 1 if op.out else 0,
                      (0.5, 0.25, 0.75, -1.5))
    assert show_instruction(op, ins.in1, ins.in2, ins.out, ins.data) == ins.show() \
        == notation.render(ins, notation.LISTING)
