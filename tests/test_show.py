"""Showing programs: the raw, canonical, python and kernel views (the `azc show` command
is tested in test_inspect_cli.py)."""
import io

import pytest

from azcompile import codegen, liveness
from azcompile.export import export_program
from azcompile.program import ProgramError
from azcompile.show import VIEWS, render, show
from tests.test_export import linear_regression


def with_dead_code():
    program = linear_regression()
    return program.with_components(program.setup, program.predict + program.learn[:1],
                                   program.learn)


def test_raw_view_is_the_paper_listing():
    program = with_dead_code()
    assert render(program, "raw") == program.listing()
    assert render(program, "raw").splitlines()[:3] == ["def Setup():", "  s2 = 0.001",
                                                       "def Predict():"]


def test_canonical_view_drops_dead_code_and_names_the_hash():
    program = with_dead_code()
    text = render(program, "canonical")
    canon, chash = liveness.canonical(program)
    assert text.splitlines()[0] == f"# canonical form {chash:016x}: 6 of 7 instructions live"
    assert text.endswith(canon.listing())
    predict = text[text.index("def Predict():"):text.index("def Learn():")]
    assert predict.count("\n") == 2  # the dead s3 = s0 - s1 in Predict is gone


def test_python_views_are_the_export_and_the_kernel():
    program = linear_regression()
    assert render(program, "python") == export_program(program)
    canon, chash = liveness.canonical(program)
    assert render(program, "kernel") == codegen.candidate_source(canon, chash)
    with pytest.raises(ProgramError, match="unknown view"):
        render(program, "pretty")
    assert set(VIEWS) == {"raw", "canonical", "python", "kernel"}


def test_show_highlights_only_when_asked_or_on_a_terminal():
    plain, colored = io.StringIO(), io.StringIO()
    show(linear_regression(), "python", file=plain)  # StringIO is not a terminal
    show(linear_regression(), "python", file=colored, color=True)
    assert "\x1b[" not in plain.getvalue() and "\x1b[" in colored.getvalue()
    assert "def _learn" in plain.getvalue()


def test_canonical_view_takes_the_task_mode_from_the_eval_type():
    """Argument first, then meta (by name or code); no class count needed to read it."""
    program = linear_regression()
    vector = liveness.canonical(program, liveness.VECTOR_TASK)
    scalar = liveness.canonical(program, liveness.SCALAR_TASK)
    assert vector[1] != scalar[1]   # the modes reserve different registers: a real test
    assert render(program, "canonical", eval_type="multiclass").endswith(vector[0].listing())
    for meta_type in ("multiclass", 5):
        tagged = type(program)(*program.components, program.memory, {"eval_type": meta_type})
        assert f"{vector[1]:016x}" in render(tagged, "canonical")
        assert f"{scalar[1]:016x}" in render(tagged, "canonical", eval_type="rms_error")
    with pytest.raises(ProgramError, match="eval type"):
        render(program, "canonical", eval_type="ranking")
