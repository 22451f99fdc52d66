import sys
import textwrap

import pytest

from afx_graph import Registry
from afx_graph.registry import UnknownNodeType


def test_unknown_type_suggests_closest(registry):
    with pytest.raises(UnknownNodeType) as e:
        registry.get("test.imag")
    assert "did you mean 'test.image'" in str(e.value)


def test_alias_resolves_to_current_id(registry):
    assert registry.get("test.legacy").id == "test.modern"


def test_builtins_load():
    reg = Registry().load_builtins()
    assert len(reg) >= 0  # families are picked up by module; see the node tests for contents


def test_entry_point_pack_is_discovered(tmp_path, monkeypatch):
    """A third-party pack installed as a distribution with an `afx.nodes` entry point."""
    pkg = tmp_path / "mypack"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        from afx_graph import SCALAR, Out, Param, node

        @node("mypack.seven", category="Third party")
        class Seven:
            """Always seven."""
            out = Out(SCALAR)
            def process(self, ctx):
                return {"out": 7.0}

        NODES = [Seven]
    '''))
    dist = tmp_path / "mypack-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mypack\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[afx.nodes]\nmypack = mypack\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry().load_entry_points()
    spec = reg.get("mypack.seven")
    assert spec.category == "Third party"
    assert spec.source == "afx.nodes:mypack"


def test_broken_pack_is_reported_not_fatal(tmp_path, monkeypatch):
    dist = tmp_path / "broken-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[afx.nodes]\nbroken = no_such_module_afx\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match="broken"):
        reg = Registry().load_entry_points()
    assert any("broken" in e for e in reg.load_errors)


def test_patch_never_imports_code(registry, tmp_path):
    """A type id that looks like a module path is just an unknown type."""
    from afx_graph import Graph, loads
    g = Graph.from_patch(loads("afx: 1\nnodes:\n  x: {type: os.system}\n"), registry)
    assert "os" not in [m for m in sys.modules if m == "os.system"]
    assert any("unknown node type 'os.system'" in str(i) for i in g.validate())
