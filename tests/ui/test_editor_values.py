"""Setting values in the editor: a click on a node's value never changes it, a double-click
types it (and opens nothing on the canvas), the parameter panel in the inspector shows every
parameter at full size with typed entry, a drag handle (Shift finer, Ctrl coarser), reset and
the link that drives it; saved values are the shortest decimals.

The clicks are real: xdotool moves Xvfb's pointer and presses its buttons (XTEST)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from afx_graph import load_patch


def dpg():
    import dearpygui.dearpygui as d
    return d


def xdotool(*args) -> None:
    if shutil.which("xdotool") is None:
        pytest.fail("xdotool is not installed (.ci/run installs it: apt-get install xdotool)")
    subprocess.run(["xdotool", *map(str, args)], check=True, timeout=10)


def click(app, times: int = 1, hold: float = 0.11) -> None:
    """Press and release the left button where the pointer is, ``times`` in a row, each
    state held ``hold`` seconds while the window draws frames: dearpygui reads the button's
    state once a frame (a press and release between two frames would be missed), and a
    double-click must fit in ImGui's 0.3 s."""
    if shutil.which("xdotool") is None:
        xdotool()
    steps = []
    for _ in range(times):
        steps += ["mousedown", "1", "sleep", str(hold), "mouseup", "1", "sleep", str(hold)]
    p = subprocess.Popen(["xdotool", *steps])
    while p.poll() is None:
        app.step(1)
    app.step(2)


def point_at(app, x: int, y: int) -> None:
    xdotool("mousemove", x - 2, y)
    app.step(1)
    xdotool("mousemove", x, y)
    app.step(2)


def centre_right(tag) -> tuple[int, int]:
    """A point in the right part of a widget, on its middle line (where a click on a slider
    jumped it up; screen = viewport: Xvfb has no window manager, the viewport is at 0,0)."""
    (x, y), (w, h) = dpg().get_item_rect_min(tag), dpg().get_item_rect_size(tag)
    return int(x + w * 0.55), int(y + h / 2)


def widget(app, node, name):
    return app.views.views[node].widgets[name].tag


def visible(app, node, name) -> None:
    """Zoom the canvas to 1 around ``node`` so its widgets are a real size on screen."""
    app.canvas.fit_now()
    app.step(3)


def test_a_click_on_a_node_value_selects_it_and_does_not_change_it(demo_app):
    app = demo_app
    visible(app, "coords", "folds")
    before = app.controller.graph.nodes["coords"].param("folds")
    x, y = centre_right(widget(app, "coords", "folds"))
    point_at(app, x, y)
    click(app)
    app.step(4)
    assert app.controller.graph.nodes["coords"].param("folds") == before     # was 6 -> 17
    assert not app.controller.can_undo                    # no edit happened


def test_a_double_click_on_a_node_value_types_it_and_opens_no_search(demo_app):
    from afx_graph.ui.app import ADDMENU
    app = demo_app
    visible(app, "field", "contrast")
    tag = widget(app, "field", "contrast")
    x, y = centre_right(tag)
    point_at(app, x, y)
    click(app, 2)
    app.step(2)
    assert not dpg().is_item_shown(ADDMENU)              # it opened "Add node here"
    assert dpg().is_item_active(tag)                       # typing into the value
    xdotool("key", "ctrl+a")
    xdotool("type", "1.75")
    xdotool("key", "Return")
    app.step(6)
    assert app.controller.graph.nodes["field"].param("contrast") == 1.75
    assert not dpg().is_item_shown(ADDMENU)
    xdotool("mousemove", 5, 5)
    app.step(2)


def test_the_parameter_panel_shows_every_param_with_typed_entry_and_reset(demo_app):
    app = demo_app
    app.select(["field"])
    app.step(3)
    panel = app.inspector.params
    spec = app.controller.graph.nodes["field"].spec
    assert list(panel.rows) == list(spec.params)
    for name, row in panel.rows.items():
        tag = row.link or row.field
        assert dpg().does_item_exist(tag) and dpg().is_item_shown(tag), name
        assert dpg().get_item_rect_size(tag)[0] >= 150, name        # full size, not node size
    row = panel.rows["contrast"]
    assert dpg().get_value(row.field) == pytest.approx(1.2)
    assert dpg().is_item_shown(row.reset)                  # 1.2 is not the default
    panel.commit("contrast", 0.85)                         # typed, then Enter
    app.step(2)
    assert app.controller.graph.nodes["field"].param("contrast") == 0.85
    panel.commit("contrast", 99.0)                         # above the range: refused, said why
    app.step(2)
    assert app.controller.graph.nodes["field"].param("contrast") == 0.85
    assert "contrast" in app.status_bar.text
    assert dpg().get_value(row.field) == pytest.approx(0.85)
    panel.reset("contrast")
    app.step(2)
    default = spec.params["contrast"].default
    assert app.controller.graph.nodes["field"].param("contrast") == default
    assert not dpg().is_item_shown(row.reset)
    app.undo()
    app.step(2)
    assert dpg().get_value(row.field) == pytest.approx(0.85)         # refreshed in place
    app.undo()
    app.step(2)
    assert app.controller.graph.nodes["field"].param("contrast") == 1.2


def test_a_linked_param_shows_its_link_and_selects_where_it_comes_from(demo_app):
    app = demo_app
    app.select(["field"])
    app.step(3)
    rows = app.inspector.params.rows
    linked = [r for r in rows.values() if r.link]
    assert {r.name for r in linked} == {"palette_shift"} | ({"punch"} & set(rows))
    row = rows["palette_shift"]
    assert dpg().get_item_label(row.link) == "<- shift.out"
    cb = dpg().get_item_callback(row.link)
    cb(row.link, None, dpg().get_item_user_data(row.link))
    app.step(3)
    assert app.controller.selection == ["shift"]
    assert list(app.inspector.params.rows) == list(app.controller.graph.nodes["shift"].spec.params)


def test_the_drag_handle_moves_by_the_range_finer_with_shift_coarser_with_ctrl(demo_app, monkeypatch):
    d = dpg()
    app = demo_app
    app.select(["field"])
    app.step(3)
    panel = app.inspector.params
    row = panel.rows["contrast"]
    p = row.param
    real_active = d.is_item_active
    monkeypatch.setattr(d, "is_item_active", lambda item: item == row.handle or real_active(item))
    start = app.controller.graph.nodes["field"].param("contrast")
    step = min(p.max - p.min, 1000) / 400
    panel.poll(mouse_x=500)                 # the press
    panel.poll(mouse_x=540)                 # 40 px right
    plain = app.controller.graph.nodes["field"].param("contrast")
    assert plain == pytest.approx(start + 40 * step, abs=0.01)
    panel.poll(mouse_x=560, shift=True)     # 20 px, finer
    fine = app.controller.graph.nodes["field"].param("contrast")
    assert fine == pytest.approx(plain + 20 * step * 0.1, abs=0.01)
    panel.poll(mouse_x=530, ctrl=True)      # 30 px back, coarser: down to the minimum
    assert app.controller.graph.nodes["field"].param("contrast") == pytest.approx(
        max(p.min, fine - 30 * step * 10), abs=0.01)
    monkeypatch.setattr(d, "is_item_active", real_active)
    panel.poll(mouse_x=530)                 # the release
    app.step(2)
    app.undo()                              # the whole drag: one undo step
    app.step(2)
    assert app.controller.graph.nodes["field"].param("contrast") == start
    text = repr(app.controller.graph.nodes["field"].params)
    assert "000000" not in text


def test_a_value_set_on_a_node_face_is_saved_as_the_shortest_decimal(demo_app, tmp_path):
    app = demo_app
    app.set_param_widget("field", "contrast", 1.3)           # a single-precision widget
    app.set_param_widget("shift", "b_value", 0.2)
    assert app.save(tmp_path / "saved.yaml")
    text = (tmp_path / "saved.yaml").read_text()
    assert "contrast: 1.3\n" in text and "b_value: 0.2\n" in text, text
    assert "0000000" not in text
    p = load_patch(tmp_path / "saved.yaml")
    assert p.nodes["field"].params["contrast"] == 1.3


def test_a_click_on_the_problem_count_goes_to_the_node(demo_app):
    from afx_graph.ui.status_bar import PROBLEMS
    app = demo_app
    app.canvas.zoom(1.2)                          # the video node off the middle
    app.canvas.scroll(-300, -200)
    app.step(3)
    assert app.controller.unlink("video", "image")      # a required input left empty
    app.step(3)
    assert "problem" in dpg().get_value(PROBLEMS)
    (x, y), (w, h) = dpg().get_item_rect_min(PROBLEMS), dpg().get_item_rect_size(PROBLEMS)
    point_at(app, int(x + w * 0.6), int(y + h / 2))
    click(app)
    app.step(3)
    assert app.controller.selection == ["video"]
    cx, cy, cw, ch = app.canvas.origin() + app.canvas.size()
    r = app.canvas.screen_rects()["video"]
    assert abs(r[0] + r[2] / 2 - (cx + cw / 2)) < 30 and abs(r[1] + r[3] / 2 - (cy + ch / 2)) < 30
    assert "video" in app.status_bar.text
    app.undo()
    xdotool("mousemove", 5, 5)
    app.step(2)


def test_pasted_and_duplicated_nodes_are_selected(demo_app):
    app = demo_app
    app.select(["walk", "shift"])
    app.copy()
    new = app.paste()
    assert len(new) == 2 and app.controller.selection == new
    app.step(2)
    assert app.controller.selection == new               # the editor's own poll keeps it
    assert app.delete_selected() == 2                    # Delete acts on what was pasted
    assert not set(new) & set(app.controller.graph.nodes)
    app.select(["coords"])
    dup = app.duplicate()
    assert app.controller.selection == dup and dup[0] != "coords"
    app.undo()
    app.undo()
    app.undo()


def test_ctrl_b_bypasses_the_selected_node_in_the_preview_and_ctrl_z_brings_it_back(demo_app):
    """The preview of the video's picture with the field bypassed: the field has no image
    input, so its picture is black; muted, black too; running again, the field's picture."""
    from afx_graph.ui.cook_times import LAYER
    app = demo_app
    app.select(["field"])
    app.step(2)
    app.press(dpg().mvKey_B, ctrl=True)
    app.step(3)
    assert app.controller.graph.nodes["field"].mode == "bypass"
    assert app.views.views["field"].theme == app.themes.bypassed_node
    app.cook.update(force=True)
    app.step(2)
    drawn = [dpg().get_item_configuration(t)["text"] for t in dpg().get_item_children(LAYER, 2)]
    assert "BYPASSED" in drawn
    f = app.worker.wait_for(lambda f: f.node == "field" and f.image is not None
                            and f.image[..., :3].max() == 0.0, timeout=60)
    assert f is not None                                    # the preview shows it at once
    app.press(dpg().mvKey_B, ctrl=True)                     # again: it runs
    app.step(3)
    assert app.controller.graph.nodes["field"].mode is None
    app.undo()
    app.undo()
    app.step(3)
    assert app.controller.graph.nodes["field"].mode is None
    assert app.views.views["field"].theme != app.themes.bypassed_node
    assert app.worker.wait_for(lambda f: f.node == "field" and f.image is not None
                               and f.image[..., :3].max() > 0.1, timeout=60) is not None
