"""The editor's model without a display: every edit, its undo and redo, the clipboard,
files, the unsaved flag, autosave and recovery."""
from __future__ import annotations

from pathlib import Path

import pytest

from afx_graph import GraphEditError, Link, default_registry, dumps, load_graph, load_patch
from afx_graph.patchfile.patch import to_data
from afx_graph.ui.controller import EditorController


def links(c) -> set[str]:
    return {str(l) for l in c.graph.links()}


def state(c) -> dict:
    """Everything the patch file holds (node order aside: a node put back by undo is
    listed last)."""
    return to_data(c.graph.to_patch())


def test_new_patch_is_empty_and_clean(controller):
    assert controller.graph.nodes == {}
    assert not controller.dirty
    assert controller.title == "untitled"
    assert not controller.can_undo


def test_add_node_undo_redo(controller):
    nid = controller.add_node("cppn", (100, 40))
    assert nid == "cppn"
    assert controller.graph.nodes[nid].ui["pos"] == [100, 40]
    assert controller.dirty and controller.title == "untitled *"
    assert controller.undo()
    assert nid not in controller.graph.nodes
    assert not controller.dirty
    assert controller.redo()
    assert controller.graph.nodes[nid].ui["pos"] == [100, 40]
    assert controller.add_node("cppn") not in ("cppn", None)     # a fresh id


def test_add_unknown_type_is_refused_with_a_suggestion(controller):
    with pytest.raises(GraphEditError, match="did you mean 'cppn'"):
        controller.add_node("cpnn")
    assert not controller.can_undo


def test_delete_nodes_restores_them_with_their_links(controller, demo):
    controller.open(demo)
    before = state(controller)
    assert controller.delete_nodes(["spectrum", "coords"]) == 2
    assert "spectrum" not in controller.graph.nodes
    assert not any("spectrum" in l for l in links(controller))
    controller.undo()
    assert state(controller) == before
    controller.redo()
    assert "coords" not in controller.graph.nodes
    controller.undo()
    assert state(controller) == before


def test_delete_nodes_and_links_in_one_step(controller, demo):
    controller.open(demo)
    before = state(controller)
    assert controller.delete(["coords"], [("field", "punch")]) == 2
    assert "beats.beat -> field.punch" not in links(controller)
    controller.undo()
    assert state(controller) == before
    assert not controller.can_undo


def test_delete_a_node_of_unknown_type_undoes_exactly(controller, tmp_path):
    p = tmp_path / "odd.yaml"
    p.write_text("afx: 1\nnodes:\n  a: {type: field.coords}\n"
                 "  weird: {type: no.such.node, params: {x: 1}, inputs: {coords: a.coords}}\n"
                 "  f: {type: cppn, params: {hidden: 9999}, inputs: {coords: a.coords}}\n")
    controller.open(p)
    before = state(controller)
    controller.delete_nodes(["weird", "f"])           # not restorable through the API: snapshot
    assert set(controller.graph.nodes) == {"a"}
    controller.undo()
    assert state(controller) == before
    controller.redo()
    assert set(controller.graph.nodes) == {"a"}


def test_link_replaces_and_undo_restores_the_old_link(controller, demo):
    controller.open(demo)
    assert controller.link("spectrum", "bass", "field", "punch") is None
    assert "spectrum.bass -> field.punch" in links(controller)
    assert "beats.beat -> field.punch" not in links(controller)
    controller.undo()
    assert "beats.beat -> field.punch" in links(controller)
    assert "spectrum.bass -> field.punch" not in links(controller)
    controller.redo()
    assert "spectrum.bass -> field.punch" in links(controller)


def test_refused_link_gives_the_engines_reason(controller, demo):
    controller.open(demo)
    before = state(controller)
    reason = controller.link("field", "image", "spectrum", "audio")
    assert reason and "AUDIO" in reason and "IMAGE" in reason
    cycle = controller.link("field", "image", "field", "scale")
    assert cycle
    assert state(controller) == before and not controller.dirty


def test_unlink_and_undo(controller, demo):
    controller.open(demo)
    old = controller.unlink("field", "features")
    assert old == Link("spectrum", "features", "field", "features")
    assert "spectrum.features -> field.features" not in links(controller)
    assert controller.unlink("field", "features") is None          # nothing left to remove
    controller.undo()
    assert "spectrum.features -> field.features" in links(controller)


def test_move_is_one_step_for_a_selection(controller, demo):
    controller.open(demo)
    assert controller.move_nodes({"music": (0, 0), "field": (600, 100)})
    assert controller.graph.nodes["music"].ui["pos"] == [0, 0]
    assert not controller.move_nodes({"music": (0, 0)})            # no change, no step
    controller.undo()
    assert controller.graph.nodes["music"].ui["pos"] == [20, 40]
    assert controller.graph.nodes["field"].ui["pos"] == [544, 80]
    assert not controller.dirty


def test_set_param_undo_back_to_default(controller, demo):
    controller.open(demo)
    assert "scale" not in controller.graph.nodes["field"].params
    assert controller.set_param("field", "scale", 7.5) is None
    assert controller.param_value("field", "scale") == 7.5
    controller.undo()
    assert "scale" not in controller.graph.nodes["field"].params   # the default again
    assert controller.set_param("field", "scale", 99.0) == "99 is above the maximum 50"
    assert controller.set_param("field", "activations", "nope").startswith("'nope' is not one of")
    assert controller.undo_label is None or "scale" not in controller.undo_label


def test_slider_drag_is_one_undo_step(controller, demo):
    controller.open(demo)
    for v in (0.4, 0.5, 0.7, 0.9, 1.2):
        assert controller.set_param("field", "audio_gain", v, live=True) is None
    assert controller.param_value("field", "audio_gain") == 1.2
    controller.end_param_edit()                       # the mouse is released
    for v in (2.0, 3.0):
        controller.set_param("field", "audio_gain", v, live=True)
    controller.end_param_edit()
    controller.undo()
    assert controller.param_value("field", "audio_gain") == 1.2
    controller.undo()
    assert controller.param_value("field", "audio_gain") == 0.1
    assert not controller.can_undo and not controller.dirty
    controller.redo()
    assert controller.param_value("field", "audio_gain") == 1.2


def test_a_drag_on_another_param_starts_a_new_step(controller, demo):
    controller.open(demo)
    controller.set_param("field", "scale", 2.0, live=True)
    controller.set_param("field", "drift", 0.5, live=True)
    controller.set_param("field", "drift", 0.6, live=True)
    controller.undo()
    assert controller.param_value("field", "drift") == 0.0
    assert controller.param_value("field", "scale") == 2.0


def test_reset_param(controller, demo):
    controller.open(demo)
    controller.reset_param("field", "audio_gain")
    assert controller.param_value("field", "audio_gain") == 0.5
    controller.undo()
    assert controller.param_value("field", "audio_gain") == 0.1


def test_copy_paste_keeps_links_between_copied_nodes(controller, demo):
    controller.open(demo)
    controller.select(["spectrum", "field"])
    assert controller.copy() == 2
    new = controller.paste()
    assert new == ["spectrum2", "field2"]
    g = controller.graph
    assert g.nodes["spectrum2"].type == "features.spectrum"
    assert g.nodes["spectrum2"].params == g.nodes["spectrum"].params
    assert g.nodes["spectrum2"].ui["pos"] == [324, 60]              # offset from [284, 20]
    assert "spectrum2.features -> field2.features" in links(controller)
    assert not any(l.dst == "spectrum2" for l in g.links())          # music -> it: not copied
    assert controller.selection == new
    again = controller.paste()                                         # cascades further
    assert g.nodes[again[0]].ui["pos"] == [364, 100]
    controller.undo()
    controller.undo()                                                  # one step per paste
    assert set(g.nodes) == {"music", "spectrum", "beats", "coords", "field", "video", "walk", "shift"}


def test_paste_at_a_point_and_duplicate(controller, demo):
    controller.open(demo)
    controller.copy(["coords", "field"])
    new = controller.paste(at=(1000, 500))
    # the copied group's top-left corner goes there: coords was at [284, 581], field at [544, 80]
    assert controller.graph.nodes[new[0]].ui["pos"] == [1000, 1001]
    assert controller.graph.nodes[new[1]].ui["pos"] == [1260, 500]
    clip = controller.clipboard
    dup = controller.duplicate(["music"])
    assert dup == ["music2"] and controller.clipboard is clip
    assert controller.graph.nodes["music2"].params == {"tempo": 120.0, "seed": 3, "length": 12.0}


def test_save_load_round_trip_is_byte_identical(controller, demo, tmp_path):
    controller.open(demo)
    a = controller.save(tmp_path / "a.yaml")
    assert not controller.dirty and controller.path == a
    assert to_data(load_patch(a)) == to_data(load_patch(demo))          # the same patch
    c2 = EditorController(recovery=tmp_path / "rec2")
    c2.open(a)
    b = c2.save(tmp_path / "b.yaml")
    assert a.read_bytes() == b.read_bytes()                            # the same bytes
    c2.add_node("field.coords", (10, 600), node_id="grid")
    c2.set_param("grid", "scale", 2.5)
    c2.link("grid", "coords", "field", "coords")
    c2.save()
    c3 = EditorController(recovery=tmp_path / "rec3")
    c3.open(b)
    assert c3.dumps() == b.read_text()
    assert c3.graph.nodes["grid"].ui == {"pos": [10, 600]}
    assert "grid.coords -> field.coords" in links(c3)


def test_what_the_editor_saves_renders(controller, tmp_path, monkeypatch):
    from afx_graph import Graph
    from afx_graph.run.render import RunOptions, render_graph
    controller.add_node("field.coords", (20, 20), node_id="grid")
    controller.add_node("cppn", (300, 20), node_id="field")
    controller.add_node("output.frames", (600, 20), node_id="frames")
    assert controller.link("grid", "coords", "field", "coords") is None
    assert controller.link("field", "image", "frames", "image") is None
    controller.set_param("field", "hidden", 8)
    controller.set_settings(size=[32, 24], fps=10, duration=0.3)
    p = controller.save(tmp_path / "made.yaml")
    monkeypatch.chdir(tmp_path)
    g = Graph.from_patch(load_patch(p), controller.registry)
    stats, outs = render_graph(g, RunOptions(device="cpu"))
    assert stats.frames == 3
    assert len(list((tmp_path / "out" / "frames").glob("*.png"))) == 3


def test_dirty_flag_follows_the_saved_state(controller, demo, tmp_path):
    controller.open(demo)
    assert not controller.dirty and controller.title == "demo.yaml"
    controller.set_param("music", "tempo", 128.0)
    assert controller.dirty and controller.title == "demo.yaml *"
    controller.undo()
    assert not controller.dirty
    controller.redo()
    controller.save(tmp_path / "s.yaml")
    assert not controller.dirty
    controller.undo()                     # back before the save: unsaved again
    assert controller.dirty
    controller.redo()
    assert not controller.dirty
    controller.move_nodes({"music": (5, 5)})            # layout is part of the file
    assert controller.dirty


def test_settings_edit_and_refusal(controller, demo):
    controller.open(demo)
    assert controller.set_settings(duration=4.0) is None
    assert controller.graph.settings["duration"] == 4.0
    assert "too large" in controller.set_settings(size=[100000, 100000])
    controller.undo()
    assert "duration" not in controller.graph.settings


def test_save_without_a_path_is_refused(controller):
    with pytest.raises(Exception, match="Save As"):
        controller.save()


def test_open_a_broken_file_keeps_the_current_patch(controller, demo, tmp_path):
    controller.open(demo)
    controller.set_param("music", "seed", 9)
    bad = tmp_path / "bad.yaml"
    bad.write_text("afx: 99\nnodes: {}\n")
    with pytest.raises(Exception, match="newer"):
        controller.open(bad)
    assert controller.param_value("music", "seed") == 9 and controller.dirty


def test_autosave_and_recovery(tmp_path, demo):
    now = [1000.0]
    rec = tmp_path / "rec"
    c = EditorController(recovery=rec, autosave_seconds=30, clock=lambda: now[0])
    c.open(demo)
    assert c.maybe_autosave() is None                         # nothing unsaved
    c.set_param("field", "seed", 1234)
    now[0] += 10
    assert c.maybe_autosave() is None                         # not yet due
    now[0] += 25
    f = c.maybe_autosave()
    assert f is not None and f.parent == rec and f.exists()
    # the editor dies here; the next start offers the work back
    c2 = EditorController(recovery=rec)
    recs = c2.list_recoveries()
    assert len(recs) == 1 and recs[0].path == Path(demo).resolve() and recs[0].nodes == 8
    assert "demo.yaml" in recs[0].describe()
    c2.restore_recovery(recs[0])
    assert c2.param_value("field", "seed") == 1234
    assert c2.dirty and c2.path == Path(demo).resolve()
    saved = c2.save(tmp_path / "kept.yaml")
    assert not list(rec.glob("*.yaml"))                       # gone after a successful save
    assert load_patch(saved).nodes["field"].params["seed"] == 1234


def test_recovery_of_a_never_saved_patch_and_discard(tmp_path):
    rec = tmp_path / "rec"
    c = EditorController(recovery=rec)
    c.add_node("cppn", (0, 0))
    f = c.autosave()
    assert f.name.startswith("untitled-")
    c2 = EditorController(recovery=rec)
    (r,) = c2.list_recoveries()
    assert r.path is None and r.name == "untitled"
    c2.discard_recovery(r)
    assert c2.list_recoveries() == []


def test_clean_close_and_save_leave_no_recovery(tmp_path, demo):
    rec = tmp_path / "rec"
    c = EditorController(recovery=rec)
    c.open(demo)
    c.set_param("music", "seed", 5)
    assert c.autosave().exists()
    c.close()                                                  # the user chose "don't save"
    assert not list(rec.glob("*"))
    c.set_param("music", "seed", 6)
    c.autosave()
    c.undo()
    c.undo()                                                   # back to the file: nothing unsaved
    assert not c.dirty
    c.autosave()
    assert not list(rec.glob("*"))


def test_recovery_dir_default_and_env(monkeypatch, tmp_path):
    from afx_graph.ui.controller import recovery_dir
    monkeypatch.setenv("AFX_RECOVERY_DIR", str(tmp_path / "x"))
    assert recovery_dir() == tmp_path / "x"
    monkeypatch.delenv("AFX_RECOVERY_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert recovery_dir() == tmp_path / ".cache" / "afx" / "recovery"


def test_free_spot_does_not_overlap(controller, demo):
    from afx_graph.ui import layout
    controller.open(demo)
    rects = layout.rects(controller.graph, {})
    x, y = controller.free_spot({}, (220, 200))
    assert not any(layout.overlaps((x, y, 220, 200), r) for r in rects.values())
    x2, y2 = controller.free_spot({}, (220, 100), near="video")
    assert x2 > rects["video"][0] + rects["video"][2]


def test_the_controller_never_imports_dearpygui():
    import subprocess
    import sys
    code = ("import sys, afx_graph.ui.controller, afx_graph.ui.preview, afx_graph.ui.layout\n"
            "assert not [m for m in sys.modules if m.startswith('dearpygui')]\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


DEMO_LINKS = {"music.audio -> spectrum.audio", "music.audio -> beats.audio",
              "coords.coords -> field.coords", "spectrum.features -> field.features",
              "beats.beat -> field.punch", "field.image -> video.image",
              "music.audio -> video.audio", "beats.strength -> walk.trigger",
              "walk.steps -> shift.a", "walk.latent -> field.latent",
              "shift.out -> field.palette_shift"}


def test_dumps_matches_the_engines_format(controller, demo, tmp_path):
    """Save writes the file the engine itself writes for the same patch (what `afx run`
    reads), and a save -> load round trip keeps every node, param, link and position."""
    controller.open(demo)
    saved = controller.save(tmp_path / "same.yaml")
    engine = load_graph(demo, default_registry())        # the engine alone, not the editor
    assert saved.read_text(encoding="utf-8") == dumps(engine.to_patch())

    # edits a user makes: drag a node, change params, add a node and rewire the output
    assert controller.move_nodes({"beats": (300.4, 310.6)})
    assert controller.set_param("field", "hidden", 48) is None
    assert controller.set_param("music", "tempo", 96) is None
    geo = controller.add_node("pattern.geometric", (1000, 300), params={"sides": 5})
    assert controller.link("beats", "beat", geo, "beat") is None
    assert controller.link(geo, "image", "video", "image") is None   # replaces field.image
    assert controller.dumps() != saved.read_text(encoding="utf-8")
    saved = controller.save(tmp_path / "edited.yaml")
    assert not controller.dirty and controller.title == "edited.yaml"
    text = saved.read_text(encoding="utf-8")
    assert text == controller.dumps()

    # the engine reads back what the editor wrote: the same patch, in the same canonical text
    back = load_graph(saved, default_registry())
    assert back.validate() == []
    assert dumps(back.to_patch()) == text
    assert set(back.nodes) == {"music", "spectrum", "beats", "coords", "field", "video", "walk",
                               "shift", geo}
    assert {str(l) for l in back.links()} == (DEMO_LINKS - {"field.image -> video.image"}) | {
        f"beats.beat -> {geo}.beat", f"{geo}.image -> video.image"}
    assert back.nodes["field"].params == {"hidden": 48, "layers": 4, "seed": 7, "audio_gain": 0.1,
                                          "cycle": 600.0, "contrast": 1.2, "latent_gain": 1.0,
                                          "palette": "velvet"}
    assert back.nodes["music"].params == {"tempo": 96.0, "seed": 3, "length": 12.0}
    assert back.nodes[geo].type == "pattern.geometric" and back.nodes[geo].params == {"sides": 5}
    assert {n: v.ui.get("pos") for n, v in back.nodes.items()} == {
        "music": [20, 40], "spectrum": [284, 20], "beats": [300, 311], "coords": [284, 581],
        "field": [544, 80], "video": [826, 80], "walk": [40, 300], "shift": [40, 551],
        geo: [1000, 300]}
    assert to_data(back.to_patch()) == state(controller)

    # and the editor opens it again as it was, with nothing unsaved
    again = EditorController(recovery=tmp_path / "rec2")
    assert again.open(saved) == []
    assert state(again) == state(controller) and not again.dirty
