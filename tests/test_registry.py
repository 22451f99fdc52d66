import importlib
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


# At least these types, from every family of the node library (a family whose module went
# missing is skipped silently by load_builtins, so its types must be named here).
BUILTIN_TYPES = {
    "Audio": {"audio.file", "audio.synth"},
    "Features": {"features.spectrum", "features.onsets", "features.project"},
    "Field": {"field.coords"},
    "Neural": {"cppn"},
    "Patterns": {"pattern.fractal", "pattern.organic", "pattern.flowing", "pattern.geometric",
                 "pattern.auto"},
    "Image": {"image.blend", "image.blur", "image.color", "image.feedback",
              "image.kaleidoscope", "image.transform"},
    "Modulation": {"features.select", "math.combine", "math.envelope", "math.lfo",
                   "math.pulse", "math.remap"},
    "Embeddings": {"embed.timbre", "embed.openl3", "embed.vggish", "embed.yamnet"},
    "Output": {"output.video", "output.frames"},
}


def test_builtins_load():
    """Every family of the built-in library is registered, and every type can be found in
    the editor's menu and `afx nodes`: a category, a title line, a doc for each param."""
    import re
    from pathlib import Path
    library = Path(__file__).resolve().parents[1] / "nodes"
    families = {p.stem for p in library.glob("*.py")
                if re.search(r"^NODES = ", p.read_text(), re.MULTILINE)}
    assert len(families) >= 10

    reg = Registry().load_builtins()
    assert reg.load_errors == []
    missing = {t for ids in BUILTIN_TYPES.values() for t in ids if t not in reg}
    assert not missing, f"built-in node types not registered: {sorted(missing)}"
    for category, ids in BUILTIN_TYPES.items():
        for type_id in ids:
            assert reg.get(type_id).category == category, type_id
    # every module of the library contributes its nodes
    modules = {s.cls.__module__.rsplit(".", 1)[-1] for s in reg.specs()}
    assert modules == families          # found by walking the package, none forgotten
    for spec in reg.specs():
        assert spec.source == "builtin", spec.id
        assert spec.category.strip(), f"{spec.id} has no category"
        assert spec.doc.strip() and spec.title.strip() and spec.title != spec.id, \
            f"{spec.id} has no doc line"
        undocumented = [n for n, p in spec.params.items() if not p.doc.strip()]
        assert not undocumented, f"{spec.id}: params without a doc line: {undocumented}"


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


EVIL_MODULE = """
from pathlib import Path
Path(__file__).with_name("imported.marker").write_text("imported")

from afx_graph import SCALAR, Out, node

@node("afx_evil_pack.Evil", category="Evil")
class Evil:
    \"\"\"Evil\"\"\"
    out = Out(SCALAR)
    def process(self, ctx):
        return {"out": 0.0}

NODES = [Evil]
"""


@pytest.mark.parametrize("type_id", ["afx_evil_pack", "afx_evil_pack.Evil",
                                     "afx_evil_pack:Evil"])
def test_patch_never_imports_code(tmp_path, monkeypatch, type_id):
    """A type id that names an importable module is just an unknown type: loading and
    validating the patch (as `afx validate` and `afx run` do, with the real registry) never
    imports, let alone runs, that module, even when it lies next to the patch."""
    from afx_graph import Graph, load_graph, loads

    (tmp_path / "afx_evil_pack.py").write_text(EVIL_MODULE)
    marker = tmp_path / "imported.marker"
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "afx_evil_pack", raising=False)
    patch = tmp_path / "patch.yaml"
    patch.write_text(f"afx: 1\nnodes:\n  x: {{type: '{type_id}'}}\n")
    reg = Registry().load_builtins().load_entry_points()
    g = load_graph(patch, reg)
    issues = [str(i) for i in g.validate()]
    assert any(f"unknown node type '{type_id}'" in i for i in issues), issues
    assert not marker.exists(), "the module named in the patch was imported"
    assert "afx_evil_pack" not in sys.modules and type_id not in reg
    # the module is importable and marks its import: had anything imported it, it would show
    try:
        importlib.import_module("afx_evil_pack")
        assert marker.exists()
    finally:
        sys.modules.pop("afx_evil_pack", None)

    g = Graph.from_patch(loads("afx: 1\nnodes:\n  x: {type: os.system}\n"), reg)
    assert any("unknown node type 'os.system'" in str(i) for i in g.validate())
