"""The layering contract holds on the tree, and the check catches a break of it."""
from pathlib import Path

import pytest

from import_graph import (cycles, import_graph, layer, load_sources, missing_imports,
                          template_imports, upward_imports)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sources():
    return load_sources(ROOT)


def test_the_tree_keeps_its_layers(sources):
    graph = import_graph(sources)
    assert upward_imports(graph) == []
    assert cycles(graph) == []
    assert missing_imports(sources) == []
    assert template_imports(ROOT) == []


def test_the_graph_sees_relative_absolute_and_function_local_imports(sources):
    graph = import_graph(sources)
    # A sample of edges the check must see, of each kind of import statement.
    assert "azcompile.engine" in graph["azcompile.search.engine.evaluator"] or \
        "azcompile.engine" in graph["azcompile.search.engine.island"]
    assert "azcompile.search.run.config" in graph["azcompile.search.cli.commands"]
    assert any(m.startswith("azcompile.search.data.") for m in graph["azcompile.search.run.config"])
    assert layer("azcompile.ops") < layer("azcompile.search") < layer("azcompile.search.data.tasks") \
        < layer("azcompile.search.engine.fec") < layer("azcompile.search.run.config") \
        < layer("azcompile.search.cli.commands")


def _with_line(sources, module, line):
    changed = dict(sources)
    changed[module] = sources[module] + "\n\ndef _late():\n    " + line + "\n"
    return changed


@pytest.mark.parametrize("module, line, expected", [
    ("azcompile.ops", "from azcompile.search.cli import commands",
     "azcompile.ops -> azcompile.search.cli.commands"),
    ("azcompile.search.engine.fec", "from ..run import config",
     "azcompile.search.engine.fec -> azcompile.search.run.config"),
    ("azcompile.search.data.tasks", "from azcompile.search.engine import evaluator",
     "azcompile.search.data.tasks -> azcompile.search.engine.evaluator"),
])
def test_an_upward_import_fails_the_check(sources, module, line, expected):
    assert upward_imports(import_graph(_with_line(sources, module, line))) == [expected]


def test_a_circle_fails_the_check(sources):
    # fec is imported by the evaluator; an import back closes a circle within one room.
    changed = _with_line(sources, "azcompile.search.engine.fec", "from . import evaluator")
    assert ["azcompile.search.engine.evaluator", "azcompile.search.engine.fec"] in \
        cycles(import_graph(changed))


def test_an_import_of_a_module_that_does_not_exist_fails_the_check(sources):
    changed = _with_line(sources, "azcompile.ops", "from .nowhere import parse")
    assert set(missing_imports(changed)) - set(missing_imports(sources)) == \
        {"azcompile.ops: azcompile.nowhere"}


def test_a_template_that_imports_the_search_fails_the_check(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "kernel.py.tmpl").write_text(
        "from azcompile.rng import stream_base\nfrom azcompile.search.engine import fec\n")
    assert template_imports(tmp_path) == ["kernel.py.tmpl: from azcompile.search.engine import fec"]
