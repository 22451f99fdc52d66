"""Zoom, pan and fit as a view transform (ui/view.py, no display): every example fits the
canvas of a laptop and of a full-HD screen, whole or (too wide to read whole) from its
sources at the smallest readable zoom (node text at 11 px), zooming is reversible and keeps the point under
the mouse, and looking never changes a patch position. The window sizing and the screen
query's parsing are here too; test_window_view.py checks the same in a real window."""
from __future__ import annotations

import functools
from pathlib import Path

import pytest

from afx_graph import load_patch
from afx_graph.registry import default_registry
from afx_graph.ui import screen, view
from afx_graph.ui.view import STEP, View

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "graphs").glob("*.yaml"))

# the node editor's canvas in the window afx edit opens on these screens (measured in the
# real window: the window less the palette, the preview panel, the menu and status bars)
CANVAS = {(1366, 768): (716, 641), (1920, 1080): (1030, 897)}


@functools.lru_cache(maxsize=None)
def node_rects(path: Path) -> dict[str, tuple]:
    """The nodes of an example as rectangles at zoom 1 (sizes as the editor draws them,
    roughly: a title and one row per port or param)."""
    reg = default_registry()
    out = {}
    for nid, n in load_patch(path).nodes.items():
        spec = reg.get(n.type)
        rows = len(spec.inputs) + len(spec.params) + len(spec.outputs)
        out[nid] = (*n.ui["pos"], 240.0, 38.0 + 23.0 * rows)
    return out


@pytest.mark.parametrize("screen_size", sorted(CANVAS))
def test_fit_puts_every_node_of_every_example_inside_the_canvas(screen_size):
    assert view.window_size(screen_size)[0] - CANVAS[screen_size][0] == 650   # the panels' share
    cw, ch = CANVAS[screen_size]
    for pan in ((0, 0), (-137, 55)):                 # imnodes panned by the user: folded in
        canvas = (-pan[0], -pan[1], cw, ch)
        minimap = (canvas[0] + cw * (1 - view.MINIMAP), canvas[1] + ch * (1 - view.MINIMAP),
                   cw * view.MINIMAP, ch * view.MINIMAP)
        for path in EXAMPLES:
            rects = node_rects(path)
            v = view.fit(rects.values(), canvas)
            assert view.ZOOM_MIN <= v.zoom <= view.FIT_MAX      # text never below 11 px
            box = view.bounds([v.rect_to_grid(r) for r in rects.values()])
            if v.zoom == view.ZOOM_MIN and not view.inside(box, canvas):
                # too wide to read whole: its left edge (the sources) shows, the minimap
                # shows the rest
                assert box[0] == pytest.approx(canvas[0] + view.MARGIN), path.name
                continue
            for nid, r in rects.items():
                g = v.rect_to_grid(r)
                assert view.inside(g, canvas), (path.name, screen_size, nid, g, canvas)
                clear = (g[0] + g[2] <= minimap[0] or g[1] + g[3] <= minimap[1])
                assert clear, (path.name, nid, "under the minimap")
            # and not needlessly small: unless at zoom 1, it spans most of the canvas one way
            assert v.zoom == view.FIT_MAX or box[2] > 0.75 * cw or box[3] > 0.75 * ch


def test_the_readable_zoom_is_the_editors_font_at_11_px():
    from afx_graph.ui.theme import FONT_SIZE
    assert view.FONT_PX == FONT_SIZE
    assert view.ZOOM_MIN * FONT_SIZE == pytest.approx(11.0)
    assert View().zoom_at(0.01, (0, 0)).zoom == view.ZOOM_MIN


def test_zoom_in_then_out_returns_to_the_same_view():
    v = View(0.8, (31.5, -12.25))
    for anchor in ((0, 0), (400, 300), (-50, 820)):
        back = v.zoom_at(STEP, anchor).zoom_at(1 / STEP, anchor)
        assert back.zoom == pytest.approx(v.zoom)
        assert back.offset == pytest.approx(v.offset)
    # three notches in, three out, about the same point
    w = v
    for _ in range(3):
        w = w.zoom_at(STEP, (200, 100))
    for _ in range(3):
        w = w.zoom_at(1 / STEP, (200, 100))
    assert (w.zoom, *w.offset) == pytest.approx((v.zoom, *v.offset))


def test_zoom_keeps_the_point_under_the_mouse():
    v = View(0.55, (80.0, 40.0))
    mouse = (333.0, 217.0)
    under = v.to_patch(mouse)
    for factor in (STEP, 1 / STEP, STEP ** 3, 0.01, 100.0):     # the last two are clamped
        z = v.zoom_at(factor, mouse)
        assert z.to_patch(mouse) == pytest.approx(under)
        assert view.ZOOM_MIN <= z.zoom <= view.ZOOM_MAX
    assert v.zoom_at(100.0, mouse).zoom == view.ZOOM_MAX
    assert v.zoom_at(0.01, mouse).zoom == view.ZOOM_MIN


def test_patch_to_screen_to_patch_is_the_identity():
    views = [View(), View(0.25, (13.7, -400.0)), View(0.617, (12.66, 179.18)), View(1.5, (-3, 5))]
    for path in EXAMPLES:
        for r in node_rects(path).values():
            p = r[:2]
            for v in views:
                back = v.to_patch(v.to_grid(p))
                assert back == pytest.approx(p, abs=1e-9)
                assert [round(c) for c in back] == list(p)       # integer positions exactly
    v = View(0.8, (10, 10))
    assert v.panned(25, -7).to_patch(v.to_grid((100, 50))) == pytest.approx((100 - 25 / 0.8, 50 + 7 / 0.8))


def test_fit_corner_cases():
    canvas = (0, 0, 800, 600)
    empty = view.fit([], canvas)
    assert empty.zoom == 1 and empty.to_patch((view.MARGIN, view.MARGIN)) == (0, 0)
    small = view.fit([(100, 100, 200, 100)], canvas)
    assert small.zoom == view.FIT_MAX                         # never magnified by a fit
    cx, cy = small.to_grid((200, 150))
    assert abs(cx - 400) < 1e-6                               # centred (above the minimap)
    huge = view.fit([(0, 0, 20000, 300)], canvas)
    assert huge.zoom == view.ZOOM_MIN                         # too big: the sources show
    assert huge.to_grid((0, 0))[0] == pytest.approx(view.MARGIN)
    fixed = view.fit([(0, 0, 3000, 300)], canvas, lo=1.0, hi=1.0)     # no font to scale: pan only
    assert fixed.zoom == 1.0


def test_window_size_fits_the_screen():
    assert view.window_size((1920, 1080)) == (1680, 960)
    w, h = view.window_size((1366, 768))
    assert (w, h) == (1366, 768 - view.SCREEN_RESERVE)
    assert view.window_size((2560, 1440)) == view.DEFAULT_WINDOW
    assert view.window_size(None) == (1280, 720)
    assert view.window_size((1024, 600)) == (1024, 600)
    assert screen.parse_xdpyinfo("screen #0:\n  dimensions:    1366x768 pixels (361x203 millimeters)\n") \
        == (1366, 768)
    assert screen.parse_xdpyinfo("no screen here") is None
