"""astromask's imports of itself: no cycles, no import of the package top, layers respected.

The checks are those of ``tools/check_imports.py``; the tests on small
packages written to ``tmp_path`` show that the checker finds each kind of
problem (and passes a clean package).
"""

import importlib.util
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("check_imports", ROOT / "tools" / "check_imports.py")
checker = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(checker)

PACKAGE = ROOT / "astromask"


@pytest.fixture(scope="module")
def real_graph():
    return checker.import_graph(PACKAGE)


def test_real_package_has_no_cycles(real_graph):
    assert checker.cycles(real_graph) == []


def test_real_package_has_no_top_imports():
    assert checker.top_imports(PACKAGE) == []


def test_real_package_respects_layers(real_graph):
    assert checker.layer_violations(real_graph) == []


# ---------------------------------------------------------------------------
# The checker on synthetic packages
# ---------------------------------------------------------------------------


def make_package(tmp_path, files):
    """Write ``{relative path: source}`` under ``tmp_path/pkg``; return that folder."""
    package = tmp_path / "pkg"
    for name, source in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return package


CLEAN = {
    "__init__.py": """
        __version__ = "1.0"
        from pkg.high import run
    """,
    "low.py": "import os\n",
    "sub/__init__.py": "",
    "sub/mid.py": "from .. import low\n",
    "high.py": """
        from pkg.sub import mid

        def run():
            from pkg import low
            return low, mid
    """,
}
CLEAN_LAYERS = [["pkg.low"], ["pkg.sub", "pkg.sub.*"], ["pkg.high"]]


def test_clean_package_passes(tmp_path, capsys):
    package = make_package(tmp_path, CLEAN)
    graph = checker.import_graph(package)
    assert graph == {
        "pkg": {"pkg.high"},
        "pkg.high": {"pkg.low", "pkg.sub", "pkg.sub.mid"},
        "pkg.low": set(),
        "pkg.sub": set(),
        "pkg.sub.mid": {"pkg.low"},
    }
    assert checker.cycles(graph) == []
    assert checker.top_imports(package) == []
    assert checker.layer_violations(graph, CLEAN_LAYERS, {}) == []
    assert checker.main([str(package), "--no-layers"]) == 0
    assert capsys.readouterr().out == (
        "5 modules, 5 imports, no cycles, no import of the package top (layers not checked)\n"
    )


def test_function_level_import_cycle_is_found(tmp_path, capsys):
    package = make_package(
        tmp_path,
        {
            "a.py": "from pkg import b\n",
            "b.py": """
                def late():
                    try:
                        import pkg.a
                    except ImportError:
                        pass
            """,
            "c.py": "from pkg.c import x\n",
        },
    )
    graph = checker.import_graph(package)
    assert checker.cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"], ["pkg.c", "pkg.c"]]
    assert checker.main([str(package), "--no-layers"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "cycle: pkg.a -> pkg.b -> pkg.a",
        "cycle: pkg.c -> pkg.c",
    ]


def test_cycles_cover_a_whole_component():
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": {"a"}, "d": {"a"}}
    assert checker.cycles(graph) == [["a", "b", "a"], ["c", "a", "b", "c"]]


def test_import_through_a_package_runs_its_init(tmp_path):
    package = make_package(
        tmp_path,
        {
            "sub/__init__.py": "from pkg import user\n",
            "sub/leaf.py": "from pkg.sub import helper\n",  # its own package: no cycle
            "sub/helper.py": "",
            "user.py": "import pkg.sub.leaf\n",
        },
    )
    graph = checker.import_graph(package)
    assert graph["pkg.user"] == {"pkg.sub", "pkg.sub.leaf"}
    assert graph["pkg.sub.leaf"] == {"pkg.sub.helper"}
    assert checker.cycles(graph) == [["pkg.sub", "pkg.user", "pkg.sub"]]


def test_imports_of_the_package_top_are_found(tmp_path):
    package = make_package(
        tmp_path,
        {
            "__init__.py": "from pkg.a import f\n__version__ = '1.0'\n",
            "a.py": """
                from pkg import __version__, b

                def f():
                    import pkg
                    return pkg
            """,
            "b.py": "from . import __version__\n",
            "sub/__init__.py": "",
            "sub/c.py": "from .. import a, flag\n",
        },
    )
    assert checker.top_imports(package) == [
        "pkg/a.py:2: from pkg import __version__",
        "pkg/a.py:5: import pkg",
        "pkg/b.py:1: from . import __version__",
        "pkg/sub/c.py:1: from .. import flag",
    ]
    graph = checker.import_graph(package)
    assert graph["pkg.a"] == {"pkg.b"}  # no edge to the top: that is the rule above
    assert graph["pkg.sub.c"] == {"pkg.a"}


def test_relative_imports_resolve(tmp_path):
    package = make_package(
        tmp_path,
        {
            "base.py": "",
            "sub/__init__.py": "from . import first\nfrom .first import NAME\n",
            "sub/first.py": "NAME = 1\n",
            "sub/deep/__init__.py": "",
            "sub/deep/leaf.py": """
                from . import sibling
                from .. import first
                from ..first import NAME
                from ...base import x
                from .... import beyond
            """,
            "sub/deep/sibling.py": "",
        },
    )
    graph = checker.import_graph(package)
    assert graph["pkg.sub"] == {"pkg.sub.first"}
    assert graph["pkg.sub.deep.leaf"] == {"pkg.base", "pkg.sub.deep.sibling", "pkg.sub.first"}


def test_type_checking_imports_are_skipped(tmp_path):
    package = make_package(
        tmp_path,
        {
            "a.py": """
                import typing
                from typing import TYPE_CHECKING

                if TYPE_CHECKING:
                    from pkg import b
                if typing.TYPE_CHECKING:
                    import pkg
                else:
                    from pkg import c
            """,
            "b.py": "from pkg import a\n",
            "c.py": "",
        },
    )
    graph = checker.import_graph(package)
    assert graph["pkg.a"] == {"pkg.c"}
    assert checker.cycles(graph) == []
    assert checker.top_imports(package) == []


def test_upward_layer_import_is_reported(tmp_path):
    files = {**CLEAN, "low.py": "def f():\n    from pkg.sub import mid\n"}
    graph = checker.import_graph(make_package(tmp_path, files))
    assert checker.layer_violations(graph, CLEAN_LAYERS, {}) == [
        "layers: pkg.low (layer 0) imports pkg.sub (layer 1)",
        "layers: pkg.low (layer 0) imports pkg.sub.mid (layer 1)",
    ]


def test_unplaced_and_twice_placed_modules_are_reported():
    graph = {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": set()}
    assert checker.layer_violations(graph, [["pkg.a"], ["pkg.a", "pkg.c"]], {}) == [
        "placed twice: pkg.a matches layer 0, layer 1",
        "unplaced: pkg.b (give it a place in LAYERS or SIDE)",
    ]


def test_side_modules():
    layers = [["pkg.low"], ["pkg.mid"], ["pkg.top"]]
    side = {"metrics": ["pkg.metrics"], "training": ["pkg.training", "pkg.training.*"]}
    graph = {
        "pkg.low": set(),
        "pkg.mid": {"pkg.metrics"},  # below side_users
        "pkg.top": {"pkg.metrics", "pkg.training"},
        "pkg.metrics": {"pkg.low", "pkg.mid", "pkg.training"},  # mid is above side_base
        "pkg.training": {"pkg.metrics", "pkg.training.loop", "pkg.low"},
        "pkg.training.loop": {"pkg.training"},
    }
    problems = checker.layer_violations(
        graph, layers, side, side_base=0, side_imports={"training": ["metrics"]}, side_users=2
    )
    assert problems == [
        "layers: pkg.metrics (side group metrics) imports pkg.mid (layer 1)",
        "layers: pkg.metrics (side group metrics) imports pkg.training (side group training)",
        "layers: pkg.mid (layer 1) imports pkg.metrics (side group metrics)",
    ]


def test_main_reports_layers_and_fails(tmp_path, capsys):
    package = make_package(tmp_path, {"a.py": ""})
    assert checker.main([str(package)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "unplaced: pkg.a (give it a place in LAYERS or SIDE)",
    ]
