"""Issue 12, items 6 and 7, without a display: opening never moves a node (a node with no
position gets one as an edit, shown and undoable), and Tidy is a layered layout of the
patch (sources left, outputs right, no overlaps, few crossings) in one undo step."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from afx_graph.ui import layout

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "graphs").glob("*.yaml"))


def positions(c) -> dict:
    return {n: v.ui.get("pos") for n, v in c.graph.nodes.items()}


def without_positions(src: Path, dst: Path) -> Path:
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    for node in data["nodes"].values():
        node.pop("ui", None)
    dst.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return dst


def sizes_for(c, seed: int) -> dict:
    """Drawn sizes as the window reports them: not the estimates (the layout must use them)."""
    rnd = random.Random(seed)
    return {n: (rnd.uniform(170, 260), layout.estimate_size(c.graph, n)[1] * rnd.uniform(0.8, 1.3))
            for n in c.graph.nodes}


def check_layered(c, sizes) -> None:
    r = layout.rects(c.graph, sizes)
    assert set(r) == set(c.graph.nodes)                         # every node has a place
    ids = sorted(r)
    overlapping = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]
                   if layout.overlaps(r[a], r[b])]
    assert not overlapping
    backwards = [str(l) for l in c.graph.links() if not r[l.src][0] + r[l.src][2] < r[l.dst][0]]
    assert not backwards                                         # every link left to right


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_tidy_is_a_layered_layout_in_one_undo_step(controller, example, tmp_path):
    for i, path in enumerate((example, without_positions(example, tmp_path / example.name))):
        controller.open(path)
        before = positions(controller)
        sizes = sizes_for(controller, i)
        assert controller.tidy(sizes)
        assert controller.dirty
        check_layered(controller, sizes)
        assert not controller.tidy(sizes)              # tidy again: nothing left to move
        controller.undo()
        assert positions(controller) == before         # absent positions come back absent
        assert not controller.dirty


def crossings(c, sizes) -> int:
    """Links that cross between the same two columns (pins in the order of their rows)."""
    r = layout.rects(c.graph, sizes)

    def pin(node, port):
        rows = [*c.graph.nodes[node].spec.inputs, *c.graph.nodes[node].spec.params]
        return r[node][1] + (rows.index(port) if port in rows else 0) * 0.01

    ls = c.graph.links()
    n = 0
    for i, a in enumerate(ls):
        for b in ls[i + 1:]:
            if r[a.src][0] == r[b.src][0] and r[a.dst][0] == r[b.dst][0]:
                if (pin(a.src, "") - pin(b.src, "")) * (pin(a.dst, a.dst_port) - pin(b.dst, b.dst_port)) < 0:
                    n += 1
    return n


def test_layout_removes_the_crossings_of_a_naive_order(controller, tmp_path):
    # in name order, the LFOs' links to the remaps cross, and so do the remaps' links to
    # the combine's pins; in the order a, b / d, c nothing crosses
    p = tmp_path / "crossed.yaml"
    p.write_text("afx: 1\nnodes:\n"
                 "  a: {type: math.lfo}\n  b: {type: math.lfo}\n"
                 "  c: {type: math.remap, inputs: {value: b.out}}\n"
                 "  d: {type: math.remap, inputs: {value: a.out}}\n"
                 "  e: {type: math.combine, inputs: {a: d.out, b: c.out}}\n")
    controller.open(p)
    sizes = {n: (200.0, 150.0) for n in controller.graph.nodes}
    naive = {n: (20 + 270 * col, 20 + 200 * row)        # columns by depth, rows by name
             for col, names in enumerate(("ab", "cd", "e")) for row, n in enumerate(names)}
    controller.move_nodes(naive)
    assert crossings(controller, sizes) == 2
    assert controller.tidy(sizes)
    assert crossings(controller, sizes) == 0
    check_layered(controller, sizes)


def test_opening_never_moves_nodes_placing_unplaced_ones_is_an_edit(controller, tmp_path):
    # nodes on top of each other stay there: only Tidy (undoable) moves them
    p = tmp_path / "stacked.yaml"
    p.write_text("afx: 1\nnodes:\n"
                 "  m: {type: audio.synth, ui: {pos: [20, 20]}}\n"
                 "  s: {type: features.spectrum, inputs: {audio: m.audio}, ui: {pos: [20, 20]}}\n")
    controller.open(p)
    assert not controller.place_unplaced({})
    assert positions(controller) == {"m": [20, 20], "s": [20, 20]} and not controller.dirty

    # no positions at all: the layered layout, one undo step that takes them away again
    controller.open(without_positions(ROOT / "graphs" / "demo.yaml", tmp_path / "demo.yaml"))
    assert controller.place_unplaced({})
    assert controller.dirty and controller.can_undo
    check_layered(controller, {})
    controller.undo()
    assert all(p is None for p in positions(controller).values()) and not controller.dirty

    # some placed, some not: the placed ones stay, the others go where nothing is
    p.write_text("afx: 1\nnodes:\n"
                 "  m: {type: audio.synth, ui: {pos: [20, 20]}}\n"
                 "  s: {type: features.spectrum, inputs: {audio: m.audio}}\n"
                 "  b: {type: features.onsets, inputs: {audio: m.audio}}\n")
    controller.open(p)
    assert controller.place_unplaced({})
    assert positions(controller)["m"] == [20, 20]
    r = layout.rects(controller.graph, {})
    assert not layout.overlaps(r["s"], r["b"]) and r["m"][0] < r["s"][0]


def test_hidden_links_follow_the_drawn_curve(controller, tmp_path):
    """The check Tidy scores its candidates with: a link drawn straight through a node that
    is not one of its ends is found; moving that node out of the way clears it."""
    p = tmp_path / "through.yaml"
    p.write_text("afx: 1\nnodes:\n"
                 "  a: {type: math.lfo, ui: {pos: [0, 0]}}\n"
                 "  mid: {type: math.lfo, ui: {pos: [400, 0]}}\n"
                 "  b: {type: math.remap, inputs: {value: a.out}, ui: {pos: [800, 0]}}\n")
    controller.open(p)
    sizes = {n: (200.0, 200.0) for n in ("a", "mid", "b")}
    hidden = layout.hidden_links(controller.graph, sizes)
    assert [(str(l), n) for l, n in hidden] == [("a.out -> b.value", "mid")]
    controller.move_nodes({"mid": (400, 400)})
    assert layout.hidden_links(controller.graph, sizes) == []


def test_a_new_node_goes_to_the_free_place_nearest_the_middle_of_the_view():
    """Issue 12, item 9: the palette's new node lands in view, clear of the nodes there."""
    view = (1000.0, 600.0, 800.0, 500.0)                 # the visible part of the patch
    middle = (1350.0, 800.0, 220.0, 120.0)               # a node in the middle of it
    placed = {"a": (20.0, 20.0, 220.0, 120.0), "m": middle}
    x, y = layout.free_spot(placed, (220, 100), view=view)
    r = (x, y, 220, 100)
    assert not any(layout.overlaps(r, b) for b in placed.values())
    assert view[0] <= x and x + 220 <= view[0] + view[2] and view[1] <= y and y + 100 <= view[1] + view[3]
    assert abs(x + 110 - 1400) < 300 and abs(y + 50 - 850) < 300
    # an empty view: exactly in the middle
    assert layout.free_spot({"a": placed["a"]}, (220, 100), view=view) == (1290, 800)
    # beside the selected node when that is in view; not when it is off the view
    assert layout.free_spot(placed, (220, 100), near="m", view=view) == (1350, 800 + 120 + 24)
    assert layout.free_spot(placed, (220, 100), near="a", view=view)[0] >= view[0]
