"""Zoom, pan and "fit the patch" in the node editor (dearpygui side of view.py).

Dear PyGui's node editor (imnodes) has no zoom and no call to set its panning, so, as other
imnodes users do, zooming moves the nodes and scales what they are drawn with together:
the node positions go through a :class:`~afx_graph.ui.view.View`, the editor's font is
swapped for one of ``FONT_SIZE * zoom`` pixels, its spacing and pin sizes come from a theme
scaled by the zoom, and the widths the node items were built with are scaled
(:meth:`NodeViews.set_view`). None of it touches the patch: ``ui: pos`` changes only when a
node is dragged.

Keys: Ctrl+wheel zooms about the mouse, + and - about the canvas centre, Home or F fits the
patch to the canvas; the wheel pans up and down (Shift+wheel: sideways); the middle button
still pans as imnodes does (measured, see :meth:`Canvas.pan`). Every patch opens fitted.
"""
from __future__ import annotations

from pathlib import Path

import dearpygui.dearpygui as dpg

from afx_graph.ui import view as geometry
from afx_graph.ui.node_views import EDITOR, NodeViews
from afx_graph.ui.theme import FONT_CANDIDATES, FONT_SIZE
from afx_graph.ui.view import STEP, View

CANVAS = "afx.canvas"            # the group holding the node editor: its rect_min is the origin
WHEEL_PAN = 60                   # screen pixels per wheel notch
NODE_PADDING = (8, 4)            # as the global theme (theme.py), scaled with the zoom
GRAB = 4                         # a node slider's grab: px wide at zoom 1
SLIDER_GRAB = (110, 150, 215, 95)
SLIDER_GRAB_ACTIVE = (130, 175, 240, 150)
FIT_PASSES = 2                   # fit, let the nodes be drawn at the new zoom, fit again
ZOOM_KEYS_IN = ("mvKey_Plus", "mvKey_Add")
ZOOM_KEYS_OUT = ("mvKey_Minus", "mvKey_Subtract")
FIT_KEYS = ("mvKey_Home", "mvKey_F")


class Canvas:
    def __init__(self, views: NodeViews, themes):
        self.views = views
        self.themes = themes
        self.font_path = next((p for p in FONT_CANDIDATES if Path(p).is_file()), None)
        # without a font file there is only dearpygui's fixed bitmap font: no zoom, fit pans
        self.lo, self.hi = (geometry.ZOOM_MIN, geometry.ZOOM_MAX) if self.font_path else (1.0, 1.0)
        self._fonts: dict[int, int] = {}
        self._themes: dict[float, int] = {}
        self._registry = None
        self._pan = (0.0, 0.0)
        self._fit_passes = 0
        self._settle = 0
        self._zoom_set = None               # (zoom, frame it was set in): drawn by the next

    @property
    def view(self) -> View:
        return self.views.view

    # -- building ------------------------------------------------------------------------------
    def build(self) -> None:
        """After the window: the handlers, the theme of zoom 1, tooltips unzoomed."""
        with dpg.handler_registry():
            dpg.add_mouse_wheel_handler(callback=lambda s, a: self.on_wheel(a))
        self.views.tooltip_font = self.themes.font
        with dpg.theme() as t:
            with dpg.theme_component(dpg.mvAll):
                _spacing(1.0)
        self.views.tooltip_theme = t
        self._apply_style(1.0)

    def menu(self) -> None:
        """The zoom items of the View menu (inside a ``dpg.menu``)."""
        dpg.add_menu_item(label="Fit the patch", shortcut="Home / F", callback=lambda: self.fit_now())
        dpg.add_menu_item(label="Zoom in", shortcut="+ / Ctrl+wheel", callback=lambda: self.zoom(STEP))
        dpg.add_menu_item(label="Zoom out", shortcut="- / Ctrl+wheel", callback=lambda: self.zoom(1 / STEP))
        dpg.add_menu_item(label="Actual size", callback=lambda: self.zoom(1 / self.view.zoom))

    # -- where the canvas is -------------------------------------------------------------------
    def origin(self) -> tuple[float, float]:
        """The node editor's top left on the screen."""
        x, y = dpg.get_item_rect_min(CANVAS)
        return float(x), float(y)

    def size(self) -> tuple[float, float]:
        w, h = dpg.get_item_rect_size(EDITOR)
        return float(w), float(h)

    def pan(self) -> tuple[float, float]:
        """imnodes' own panning (middle-button drags), measured on a drawn node: its content
        starts at origin + panning + grid position + node padding."""
        ox, oy = self.origin()
        z = self.view.zoom
        for v in self.views.views.values():
            if not dpg.does_item_exist(v.tag):
                continue
            w, h = dpg.get_item_rect_size(v.tag)
            if w <= 0 or h <= 0:
                continue
            sx, sy = dpg.get_item_rect_min(v.tag)
            gx, gy = dpg.get_item_pos(v.tag)
            px, py = node_padding(z)
            self._pan = (sx - ox - gx - px, sy - oy - gy - py)
            break
        return self._pan

    def rect(self) -> tuple[float, float, float, float]:
        """The canvas in grid coordinates (what the nodes' positions are in)."""
        px, py = self.pan()
        w, h = self.size()
        return -px, -py, w, h

    def visible_patch(self) -> tuple[float, float, float, float] | None:
        """The part of the patch the canvas shows (patch coordinates), clear of the minimap
        when the canvas is tall enough to leave it a strip; None before the first frame."""
        x, y, w, h = self.rect()
        if w <= 0 or h <= 0:
            return None
        margin = geometry.MARGIN
        h2 = h * (1 - geometry.MINIMAP) if h * (1 - geometry.MINIMAP) > 200 else h
        px, py = self.view.to_patch((x + margin, y + margin))
        z = self.view.zoom
        return px, py, max(1.0, (w - 2 * margin) / z), max(1.0, (h2 - 2 * margin) / z)

    def screen_to_grid(self, p) -> tuple[float, float]:
        ox, oy = self.origin()
        px, py = self.pan()
        return p[0] - ox - px, p[1] - oy - py

    def screen_to_patch(self, p) -> tuple[float, float]:
        return self.view.to_patch(self.screen_to_grid(p))

    def node_rects(self) -> dict[str, tuple[float, float, float, float]]:
        """The nodes' rectangles in patch coordinates (their sizes as drawn at zoom 1)."""
        sizes = self.views.sizes()
        out = {}
        for nid, v in self.views.views.items():
            if v.ppos is not None:
                w, h = sizes.get(nid, (220.0, 120.0))
                out[nid] = (v.ppos[0], v.ppos[1], w, h)
        return out

    def screen_rects(self) -> dict[str, tuple[float, float, float, float]]:
        """Each node's outer rectangle on the screen (for tests and screenshots)."""
        pad = node_padding(self.view.zoom)
        out = {}
        for nid, v in self.views.views.items():
            (x, y), (w, h) = dpg.get_item_rect_min(v.tag), dpg.get_item_rect_size(v.tag)
            out[nid] = (x - pad[0], y - pad[1], w, h)
        return out

    # -- changing the view ---------------------------------------------------------------------
    def set_view(self, view: View) -> None:
        if view.zoom != self.view.zoom:
            self._apply_style(view.zoom)
            self._zoom_set = (view.zoom, dpg.get_frame_count())
        self.views.set_view(view)
        self._settle = 2

    def fit_now(self) -> View:
        """Home / F: the whole patch in the canvas (and once more when the nodes have been
        drawn at the new zoom: their sizes do not scale exactly)."""
        self._fit_passes = 0
        v = geometry.fit(self.node_rects().values(), self.rect(), lo=self.lo,
                         hi=min(geometry.FIT_MAX, self.hi))
        if _differs(v, self.view):
            self.set_view(v)
            self._fit_passes = FIT_PASSES - 1
        return v

    def fit_soon(self) -> None:
        """Fit once the nodes of a patch just opened have been drawn (their sizes known)."""
        self._fit_passes = FIT_PASSES
        self._settle = 1

    @property
    def fitting(self) -> bool:
        return self._fit_passes > 0

    def zoom(self, factor: float, at_screen=None) -> View:
        """Zoom by ``factor`` about a screen point (default: the canvas centre)."""
        if at_screen is None:
            ox, oy = self.origin()
            w, h = self.size()
            at_screen = (ox + w / 2, oy + h / 2)
        v = self.view.zoom_at(factor, self.screen_to_grid(at_screen), self.lo, self.hi)
        self._fit_passes = 0
        if v != self.view:
            self.set_view(v)
        return v

    def show_node(self, nid: str) -> View | None:
        """Pan (at the same zoom) so the node is in the middle of the canvas."""
        r = self.node_rects().get(nid)
        if r is None:
            return None
        cx, cy, cw, ch = self.rect()
        z = self.view.zoom
        px, py = r[0] + r[2] / 2, r[1] + r[3] / 2
        v = View(z, (cx + cw / 2 - px * z, cy + ch / 2 - py * z))
        self._fit_passes = 0
        if _differs(v, self.view):
            self.set_view(v)
        return v

    def scroll(self, dx: float, dy: float) -> None:
        self._fit_passes = 0
        self.set_view(self.view.panned(dx, dy))

    # -- input -----------------------------------------------------------------------------------
    def on_wheel(self, delta) -> None:
        if not delta or not dpg.is_item_hovered(EDITOR) or dpg.is_mouse_button_down(0):
            return
        ctrl = any(dpg.is_key_down(k) for k in (dpg.mvKey_ModCtrl, dpg.mvKey_LControl, dpg.mvKey_RControl))
        shift = any(dpg.is_key_down(k) for k in (dpg.mvKey_ModShift, dpg.mvKey_LShift, dpg.mvKey_RShift))
        if ctrl:
            self.zoom(STEP ** float(delta), dpg.get_mouse_pos(local=False))
        elif shift:
            self.scroll(WHEEL_PAN * float(delta), 0)
        else:
            self.scroll(0, WHEEL_PAN * float(delta))

    def press(self, key: int, *, ctrl: bool = False) -> bool:
        """A key the canvas handles (the caller checked no text field has the keyboard)."""
        if key in _keys(ZOOM_KEYS_IN):
            self.zoom(STEP)
        elif key in _keys(ZOOM_KEYS_OUT):
            self.zoom(1 / STEP)
        elif key in _keys(FIT_KEYS) and not ctrl:
            self.fit_now()
        else:
            return False
        return True

    def update(self, dragging: bool) -> None:
        """Each frame: a pending fit runs when the nodes have been drawn."""
        if self._zoom_set is not None and dpg.get_frame_count() > self._zoom_set[1]:
            self.views.drawn_zoom = self._zoom_set[0]     # a frame has been drawn with it
            self._zoom_set = None
        if self._settle > 0:
            self._settle -= 1
            return
        if self._fit_passes <= 0 or dragging:
            return
        if any(dpg.get_item_rect_size(v.tag)[0] <= 0 for v in self.views.views.values()
               if dpg.does_item_exist(v.tag)):
            return                                  # not drawn yet
        passes = self._fit_passes
        self.fit_now()
        self._fit_passes = min(self._fit_passes, passes - 1)

    # -- fonts and themes ----------------------------------------------------------------------
    def _apply_style(self, zoom: float) -> None:
        if not dpg.does_item_exist(CANVAS):
            return
        dpg.bind_item_theme(CANVAS, self._theme(zoom))
        font = self._font(zoom)
        if font is not None:
            dpg.bind_item_font(CANVAS, font)

    def _font(self, zoom: float):
        if self.font_path is None:
            return None
        # rounded down: text a little smaller than the zoom, never larger, so rows do not
        # grow past the scaled positions and nodes a patch keeps apart stay apart
        size = max(5, int(FONT_SIZE * zoom + 1e-6))
        if size == FONT_SIZE and self.themes.font is not None:
            return self.themes.font
        if size not in self._fonts:
            with dpg.font_registry():
                self._fonts[size] = dpg.add_font(self.font_path, size)
        return self._fonts[size]

    def _theme(self, zoom: float) -> int:
        key = round(zoom, 3)
        if key not in self._themes:
            with dpg.theme() as t:
                with dpg.theme_component(dpg.mvAll):
                    _spacing(zoom)
            self._themes[key] = t
        return self._themes[key]


def _spacing(z: float) -> None:
    """The sizes of the global theme (theme.py) and of imnodes, times ``z``."""
    nodes = dict(category=dpg.mvThemeCat_Nodes)
    dpg.add_theme_style(dpg.mvStyleVar_FramePadding, 4 * z, 3 * z)
    dpg.add_theme_style(dpg.mvStyleVar_ItemSpacing, 6 * z, 4 * z)
    dpg.add_theme_style(dpg.mvStyleVar_ItemInnerSpacing, 4 * z, 4 * z)
    dpg.add_theme_style(dpg.mvStyleVar_FrameRounding, 3 * z)
    # a slider's grab is drawn under its digits: narrow and see-through, so they stay readable
    dpg.add_theme_style(dpg.mvStyleVar_GrabMinSize, max(2.0, GRAB * z))
    dpg.add_theme_color(dpg.mvThemeCol_SliderGrab, SLIDER_GRAB)
    dpg.add_theme_color(dpg.mvThemeCol_SliderGrabActive, SLIDER_GRAB_ACTIVE)
    dpg.add_theme_style(dpg.mvNodeStyleVar_NodePadding, *node_padding(z), **nodes)
    dpg.add_theme_style(dpg.mvNodeStyleVar_NodeCornerRounding, 4 * z, **nodes)
    dpg.add_theme_style(dpg.mvNodeStyleVar_PinCircleRadius, max(2.0, 4.5 * z), **nodes)
    dpg.add_theme_style(dpg.mvNodeStyleVar_PinHoverRadius, max(4.0, 10 * z), **nodes)
    dpg.add_theme_style(dpg.mvNodeStyleVar_LinkThickness, max(1.0, 2.5 * z), **nodes)
    # the grid's lines: 24 px at zoom 1, every other one dropped below 0.5 (no grey haze)
    dpg.add_theme_style(dpg.mvNodeStyleVar_GridSpacing, 24 * z * (2 if z < 0.5 else 1), **nodes)


def node_padding(z: float) -> tuple[int, int]:
    """Whole pixels: imnodes places a node's content at whole pixels, and :meth:`Canvas.pan`
    subtracts the padding to find the panning."""
    return max(1, round(NODE_PADDING[0] * z)), max(1, round(NODE_PADDING[1] * z))


def _keys(names) -> tuple[int, ...]:
    return tuple(getattr(dpg, n) for n in names if hasattr(dpg, n))


def _differs(a: View, b: View) -> bool:
    return (abs(a.zoom - b.zoom) > 1e-3 * b.zoom or abs(a.offset[0] - b.offset[0]) > 1.5
            or abs(a.offset[1] - b.offset[1]) > 1.5)
