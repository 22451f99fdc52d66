"""Issue 13: subpatches in the editor's model: group, ungroup, enter, edit, leave (no display)."""
from __future__ import annotations

import shutil

from afx_graph import load_patch
from afx_graph.patchfile.patch import dumps

RHYTHM = ["beats", "walk", "shift"]


def test_group_then_ungroup_each_one_undo_step(controller, demo):
    c = controller
    c.open(demo)
    before = c.dumps()
    nid = c.group(RHYTHM, "rhythm")
    assert nid == "rhythm" and c.selection == ["rhythm"]
    assert set(RHYTHM).isdisjoint(c.graph.nodes) and c.graph.validate() == []
    assert c.undo() and c.dumps() == before
    assert c.redo() and "rhythm" in c.graph.nodes
    ids = c.ungroup("rhythm")
    assert sorted(ids) == sorted(RHYTHM) and c.dumps() == before
    assert c.undo() and "rhythm" in c.graph.nodes
    assert c.group(["video"]) is None and "output" in c.last_refusal


def test_enter_edit_and_leave_an_inline_subpatch(controller, demo, tmp_path):
    c = controller
    c.open(shutil.copy(demo, tmp_path / "demo.yaml"))
    c.group(RHYTHM, "rhythm")
    c.save()
    assert c.enter("rhythm") is None
    assert c.title == "demo.yaml > rhythm" and set(c.graph.nodes) == set(RHYTHM)
    assert c.set_param("walk", "size", 0.5) is None
    assert c.dirty and c.title.endswith(" *")
    assert "size: 0.5" in c.dumps()            # autosave holds the whole patch, edit folded in
    assert c.leave() is None
    assert c.title == "demo.yaml *" and c.selection == ["rhythm"]
    assert c.graph.subpatches["rhythm"]["nodes"]["walk"]["params"]["size"] == 0.5
    assert c.undo_label == "edit subpatch rhythm"
    assert c.undo() and "size" not in c.graph.subpatches["rhythm"]["nodes"]["walk"].get("params", {})
    assert c.redo()
    c.save()
    assert load_patch(tmp_path / "demo.yaml").subpatches["rhythm"]["nodes"]["walk"]["params"]["size"] == 0.5


def test_save_inside_an_inline_subpatch_writes_the_whole_patch(controller, demo, tmp_path):
    c = controller
    c.open(shutil.copy(demo, tmp_path / "demo.yaml"))
    c.group(RHYTHM, "rhythm")
    c.enter("rhythm")
    c.set_param("beats", "decay", 0.5)
    saved = c.save()
    p = load_patch(saved)
    assert set(p.nodes) >= {"music", "rhythm", "video"}          # not the subpatch alone
    assert p.subpatches["rhythm"]["nodes"]["beats"]["params"]["decay"] == 0.5
    assert not c.dirty


def test_a_subpatch_file_is_saved_before_leaving_and_the_patch_sees_the_change(controller, tmp_path):
    c = controller
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "tone.yaml").write_text(
        "afx: 1\nexpose:\n  inputs: {image: c.image}\n  outputs: {image: c.out}\n"
        "nodes:\n  c: {type: image.color}\n")
    (tmp_path / "p.yaml").write_text(
        "afx: 1\nnodes:\n  field: cppn\n"
        "  tone: {type: subpatch, params: {source: lib/tone.yaml}, inputs: {image: field.image}}\n"
        "  video: {type: output.video, params: {path: o.mp4}, inputs: {image: tone.image}}\n")
    c.open(tmp_path / "p.yaml")
    assert "hue" not in c.graph.nodes["tone"].spec.params
    assert c.enter("tone") is None and c.title == "p.yaml > tone.yaml"
    assert c.expose("params", "c", "hue") is None
    assert c.expose("outputs", "c", "nothing") is not None     # no such output: refused
    c.set_param("c", "hue", 0.25)
    assert "unsaved" in c.leave()                        # the file first
    c.save()
    assert c.leave() is None
    assert c.graph.nodes["tone"].spec.params["hue"].default == 0.25
    assert not c.dirty                                   # the patch itself did not change


def test_expose_is_an_undoable_edit_inside_and_refused_outside(controller, demo):
    c = controller
    c.open(demo)
    assert "enter a subpatch" in c.expose("params", "field", "seed")
    c.group(RHYTHM, "rhythm")
    c.enter("rhythm")
    assert c.expose("params", "walk", "size", "step") is None
    assert c.graph.expose["params"] == {"step": "walk.size"}
    assert c.expose("params", "beats", "decay", "step") is None      # one param drives two
    assert c.graph.expose["params"]["step"] == ["walk.size", "beats.decay"]
    c.undo()
    assert c.graph.expose["params"] == {"step": "walk.size"}
    c.leave()
    assert c.graph.nodes["rhythm"].spec.params["step"].default == 1.0
    assert c.set_param("rhythm", "step", 0.5) is None
