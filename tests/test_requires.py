"""A saved patch says what it needs (issue 13): the afx version that saved it and the node packs
its nodes come from. Saving writes it, loading reads it (old patches have none), a node of a
pack that is not installed names the pack, and a patch saved by a newer afx gets a warning."""
from pathlib import Path

import pytest

from afx_graph import Graph, Registry, dumps, load_patch, loads, save_patch
from afxcli import run_afx
from afx_graph.cli import main
from afx_graph.patchfile.requires import afx_version, graph_warnings, newer, version_key

TESTS = Path(__file__).parent
VERSION = afx_version()

OLD = """\
afx: 1
meta: {name: Old}
settings: {size: [64, 48], fps: 25, duration: 2.0}
nodes:
  clock: test.clock
  img: {type: test.image, inputs: {level: clock.out}}
  sink: {type: test.sink, inputs: {image: img.out}}
"""

NEEDS_FANCY = """\
afx: 1
requires:
  afx: 0.1.0
  packs:
    fancy-nodes:
      version: '1.2'
      types: [fancy.glow]
settings: {size: [64, 48], fps: 25, duration: 2.0}
nodes:
  clock: test.clock
  glow: {type: fancy.glow, params: {radius: 3}, inputs: {level: clock.out}}
  img: {type: test.image}
  sink: {type: test.sink, inputs: {image: img.out}}
"""


@pytest.fixture
def packed():
    """The fixture pack registered as the node pack 'afx-fixture' 1.0 (as an entry point of
    that distribution would register it)."""
    import fixture_pack
    reg = Registry()
    reg.register_all(fixture_pack.NODES, source="afx.nodes:fixture", pack=("afx-fixture", "1.0"))
    return reg


def test_afx_version_is_the_distributions():
    from importlib.metadata import version
    assert VERSION == version("afx")
    assert version_key(VERSION) is not None


def test_version_order():
    assert newer("0.10.0", "0.9.3") and newer("1.2.1", "1.2") and not newer("1.2.0", "1.2")
    assert not newer("0.1.0", "0.1.0") and not newer("banana", "0.1.0") and not newer(None, "1")


def test_an_old_patch_loads_and_gains_requires_on_save(registry, tmp_path):
    p = loads(OLD)
    assert p.requires.afx is None and not p.issues
    text = dumps(Graph.from_patch(p, registry).to_patch())
    assert f"meta:\n  name: Old\nrequires:\n  afx: {VERSION}\nsettings:\n" in text
    assert "packs" not in text                   # nodes registered by code name no pack
    save_patch(loads(text), tmp_path / "a.yaml")   # round trip, saved twice: the same bytes
    save_patch(Graph.from_patch(load_patch(tmp_path / "a.yaml"), registry).to_patch(),
               tmp_path / "b.yaml")
    assert (tmp_path / "a.yaml").read_text() == text == (tmp_path / "b.yaml").read_text()
    assert load_patch(tmp_path / "b.yaml").requires.afx == VERSION


def test_save_lists_the_packs_the_nodes_use_and_only_those(packed):
    g = Graph.from_patch(loads(OLD), packed)
    text = dumps(g.to_patch())
    assert (f"requires:\n  afx: {VERSION}\n  packs:\n    afx-fixture:\n      version: '1.0'\n"
            "      types: [test.clock, test.image, test.sink]\nsettings:") in text
    back = loads(text)
    assert back.requires.packs["afx-fixture"].types == ("test.clock", "test.image", "test.sink")
    assert dumps(Graph.from_patch(back, packed).to_patch()) == text
    g.remove_node("clock")
    assert "types: [test.image, test.sink]" in dumps(g.to_patch())
    for nid in list(g.nodes):
        g.remove_node(nid)
    assert "packs" not in dumps(g.to_patch())     # no node left that needs it


def test_a_node_of_a_pack_that_is_not_installed_names_the_pack(registry):
    g = Graph.from_patch(loads(NEEDS_FANCY), registry)
    found = [str(i) for i in g.validate(check_files=False)]
    assert found == ["<patch>: node 'glow' type: unknown node type 'fancy.glow' from node pack "
                     "'fancy-nodes' 1.2, which is not installed (pip install fancy-nodes)"]
    # opening and saving without the pack loses nothing: the node and what it needs stay
    text = dumps(g.to_patch())
    assert "    fancy-nodes:\n      version: '1.2'\n      types: [fancy.glow]\n" in text
    assert "glow:\n    type: fancy.glow\n    params:\n      radius: 3\n" in text


def test_a_type_the_installed_pack_lacks_says_so(packed):
    text = NEEDS_FANCY.replace("fancy-nodes", "afx-fixture").replace("fancy.glow", "test.glow")
    g = Graph.from_patch(loads(text), packed)
    found = [str(i) for i in g.validate(check_files=False)]
    assert found == ["<patch>: node 'glow' type: unknown node type 'test.glow' from node pack "
                     "'afx-fixture' 1.2; the installed 'afx-fixture' 1.0 does not have it "
                     "(pip install -U afx-fixture)"]


def test_a_hand_written_pack_without_types_is_named_for_unknown_types(registry):
    text = NEEDS_FANCY.replace("""    fancy-nodes:
      version: '1.2'
      types: [fancy.glow]
""", "    fancy-nodes: 1.2\n")
    p = loads(text)
    assert not p.issues and p.requires.packs["fancy-nodes"].version == "1.2"
    g = Graph.from_patch(p, registry)
    found = [str(i) for i in g.validate(check_files=False)]
    assert found == ["<patch>: node 'glow' type: unknown node type 'fancy.glow'; the patch needs "
                     "node pack 'fancy-nodes' 1.2, not installed (pip install fancy-nodes)"]
    assert "    fancy-nodes:\n      version: '1.2'\n" in dumps(g.to_patch())


def test_a_typo_is_still_a_typo(registry):
    g = Graph.from_patch(loads(NEEDS_FANCY.replace("img: {type: test.image}",
                                                   "img: {type: test.imag}")), registry)
    found = [str(i) for i in g.validate(check_files=False)]
    assert "<patch>: node 'img' type: unknown node type 'test.imag' (did you mean " \
           "'test.image'?)" in found


def test_malformed_requires_is_reported_with_file_and_field():
    for value, where in (("[1, 2]", "requires"), ("{afx: [1]}", "requires.afx"),
                         ("{packs: {a: {types: x}}}", "requires.packs.a.types"),
                         ("{packs: {'bad name': '1'}}", "requires.packs.bad name"),
                         ("{pip: x}", "requires.pip")):
        p = loads(f"afx: 1\nrequires: {value}\nnodes: {{}}\n")
        assert [i.field for i in p.issues] == [where], value


def test_a_patch_saved_by_a_newer_afx_warns_and_still_validates(tmp_path, capsys):
    demo = (TESTS.parent / "graphs" / "demo.yaml").read_text()
    assert f"requires:\n  afx: {VERSION}\n" in demo
    p = tmp_path / "demo.yaml"
    p.write_text(demo.replace(f"requires:\n  afx: {VERSION}\n", "requires:\n  afx: 99.0.0\n"))
    assert main(["validate", str(p)]) == 0
    err = capsys.readouterr().err
    assert err == (f"warning: {p}: the patch was saved by afx 99.0.0, newer than this afx "
                   f"{VERSION}; if something in it is refused or looks different, upgrade afx\n")


def test_a_newer_pack_than_installed_warns(packed):
    text = dumps(Graph.from_patch(loads(OLD), packed).to_patch()).replace("'1.0'", "'2.1'")
    g = Graph.from_patch(loads(text), packed)
    assert g.validate(check_files=False) == []
    assert graph_warnings(g) == ["<patch>: the patch was saved with node pack 'afx-fixture' 2.1, "
                                 "newer than the installed 1.0; if its nodes are refused or look "
                                 "different, pip install -U afx-fixture"]


def test_an_installed_entry_point_pack_is_recorded_by_its_distribution(tmp_path, monkeypatch):
    """End to end: a pack installed as a distribution with an `afx.nodes` entry point (found
    on sys.path as pip leaves it) is saved under the distribution's name and version; without
    it, `afx validate` names it. (A fresh process finding the entry point:
    tests/test_cli_engine.py.)"""
    import importlib

    from afx_graph import default_registry
    site = tmp_path / "site"
    dist = site / "afx_fixture-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: afx-fixture\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[afx.nodes]\nfixture = fixture_pack\n")
    (tmp_path / "old.yaml").write_text(OLD)
    with monkeypatch.context() as m:
        m.syspath_prepend(str(site))
        importlib.invalidate_caches()
        r = Registry().load_builtins().load_entry_points()
        saved = dumps(Graph.from_patch(load_patch(tmp_path / "old.yaml"), r).to_patch())
    importlib.invalidate_caches()
    default_registry.cache_clear()                   # built without the pack
    assert ("  packs:\n    afx-fixture:\n      version: '1.0'\n"
            "      types: [test.clock, test.image, test.sink]\n") in saved
    (tmp_path / "saved.yaml").write_text(saved)
    r = run_afx("validate", "saved.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert ("error: saved.yaml: node 'clock' type: unknown node type 'test.clock' from node pack "
            "'afx-fixture' 1.0, which is not installed (pip install afx-fixture)") in r.stderr


def test_the_editor_opens_an_old_patch_unmodified_and_saves_it_in_the_current_format(tmp_path):
    """A patch saved before `requires` existed opens with nothing marked modified; saving it
    writes the current format, so it gains its `requires` (like a node migrated to its
    current version) and from then on open + save gives the same bytes."""
    from afx_graph.ui.controller import EditorController
    demo = (TESTS.parent / "graphs" / "demo.yaml").read_text()
    old = tmp_path / "old.yaml"
    old.write_text(demo.replace(f"requires:\n  afx: {VERSION}\n", ""))
    c = EditorController(recovery=tmp_path / "recovery")
    c.open(old)
    assert not c.dirty
    c.save()
    assert old.read_text() == demo
    c2 = EditorController(recovery=tmp_path / "recovery2")
    c2.open(old)
    c2.save()
    assert old.read_text() == demo
