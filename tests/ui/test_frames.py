"""Issue 12: frames around groups of nodes, saved in the patch's ``ui:`` (no display)."""
from __future__ import annotations

import shutil

from afx_graph import load_patch
from afx_graph.patchfile.patch import dumps, loads
from afx_graph.ui.frames import clip, frame_rect, frames_of


def test_a_frame_is_saved_with_the_patch_and_read_back(controller, demo, tmp_path):
    c = controller
    c.open(shutil.copy(demo, tmp_path / "demo.yaml"))
    index = c.add_frame(["beats", "walk", "shift"], "Rhythm")
    assert index == 0 and c.dirty
    saved = c.save()
    text = saved.read_text()
    assert "ui:\n  frames:\n" in text and "title: Rhythm" in text
    again = load_patch(saved)
    assert again.ui["frames"][0]["nodes"] == ["beats", "walk", "shift"]
    assert not again.issues                       # a known top-level key, no warning
    assert dumps(again) == text                   # saving twice gives the same bytes
    c.open(saved)
    [f] = frames_of(c.graph)
    assert (f.title, f.nodes) == ("Rhythm", ("beats", "walk", "shift"))


def test_framing_renaming_and_removing_are_undoable(controller, demo):
    c = controller
    c.open(demo)
    c.add_frame(["music", "spectrum"], "")
    assert frames_of(c.graph)[0].title == "Group 1"
    c.rename_frame(0, "Listening")
    assert frames_of(c.graph)[0].title == "Listening"
    assert c.undo() and frames_of(c.graph)[0].title == "Group 1"
    assert c.frames_around(["spectrum"]) == [0] and c.frames_around(["field"]) == []
    assert c.remove_frames([0]) == 1 and frames_of(c.graph) == []
    assert "music" in c.graph.nodes                # the nodes stay
    assert c.undo() and len(frames_of(c.graph)) == 1
    assert c.undo() and frames_of(c.graph) == []            # the rename was undone before
    assert not c.dirty


def test_a_deleted_node_leaves_its_frame_and_undo_brings_it_back(controller, demo):
    c = controller
    c.open(demo)
    c.add_frame(["beats", "walk"], "Rhythm")
    c.delete(["walk"])
    assert frames_of(c.graph)[0].nodes == ("beats",)
    c.undo()
    assert frames_of(c.graph)[0].nodes == ("beats", "walk")


def test_someone_elses_broken_frames_are_skipped_not_fatal():
    p = loads("afx: 1\nnodes:\n  a: audio.synth\nui:\n  frames:\n"
              "  - 3\n  - {title: 7, nodes: [a, nobody, 5], color: [900, 0, 0]}\n"
              "  - {nodes: oops}\n")
    from afx_graph import Graph, default_registry
    g = Graph.from_patch(p, default_registry())
    [f] = frames_of(g)
    assert f.nodes == ("a",) and f.title == "" and all(0 <= v <= 255 for v in f.color)
    assert "nobody" in dumps(g.to_patch())            # kept in the file as it was


def test_the_outline_goes_around_the_nodes_with_the_title_on_top():
    r = frame_rect([(100, 100, 50, 40), (200, 160, 60, 30)])
    x, y, w, h = r
    assert x < 100 and y < 100 - 20 and x + w > 260 and y + h > 190
    assert frame_rect([]) is None
    assert clip((0, 0, 100, 100), (50, 50, 200, 200)) == (50, 50, 50, 50)
    assert clip((0, 0, 10, 10), (50, 50, 10, 10)) is None


def test_the_schema_takes_frames_and_refuses_a_bad_one():
    import jsonschema
    import yaml

    from afx_graph import default_registry
    from afx_graph.patchfile.schema import patch_schema
    v = jsonschema.Draft202012Validator(patch_schema(default_registry()))
    base = ("afx: 1\nnodes:\n  music: audio.synth\n  field: cppn\n"
            "  video: {type: output.video, inputs: {image: field.image, audio: music.audio}}\n")
    good = yaml.safe_load(base + "ui:\n  frames:\n  - {title: Sound, nodes: [music], color: [1, 2, 3]}\n")
    assert not list(v.iter_errors(good))
    bad = yaml.safe_load(base + "ui:\n  frames:\n  - {title: Sound, color: [1, 2, 3]}\n")
    assert list(v.iter_errors(bad))                       # a frame names its nodes
