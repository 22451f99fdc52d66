"""Each node's time per frame in the preview, drawn as a small badge just under the node's
bottom-right corner, and BYPASSED / MUTED just above a node in that mode (in the gaps the
layout keeps between nodes), on a layer in front of the node editor: a badge never changes a node's size, so nodes never grow into each other. The
slowest node, when it takes a large share of the frame, also gets a hot title bar
(:meth:`NodeViews.show_hot`). View > Cook times turns them off."""
from __future__ import annotations

import time

import dearpygui.dearpygui as dpg

from afx_graph.ui.theme import MUTED

LAYER = "afx.cook.layer"
EVERY = 0.5                # seconds between updates of the times
HOT = (245, 150, 60)
MODE_COLOURS = {"bypass": (140, 180, 240), "mute": (170, 170, 175)}


class CookTimes:
    def __init__(self, app):
        self.app = app
        self.shown = True
        self.ms: dict[str, float] = {}        # per node shown here
        self.hot: str | None = None
        self._at = 0.0
        self._key = None

    def build(self) -> None:
        dpg.add_viewport_drawlist(front=True, tag=LAYER)

    def menu(self) -> None:
        dpg.add_menu_item(label="Cook times", tag="afx.menu.cook", check=True, default_value=True,
                          callback=lambda s, a: self.show(bool(a)))

    def show(self, shown: bool) -> None:
        self.shown = shown
        self._key = None
        if not shown:
            self.app.views.show_hot({})

    def measure(self) -> dict[str, float]:
        """The preview worker's times by the nodes shown here (a subpatch: what it holds)."""
        ms = self.app.worker.cook_ms
        prefix = self.app.controller.preview_prefix
        out = {}
        for nid in self.app.views.views:
            key = prefix + nid
            mine = [v for k, v in ms.items() if k == key or k.startswith(key + "/")]
            if mine:
                out[nid] = sum(mine)
        return out

    def update(self, hidden: bool = False, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._at >= EVERY:
            self._at = now
            self.ms = self.measure() if self.shown else {}
            self.hot = self.app.views.show_hot(self.ms) if self.shown else None
        modes = {nid: v.mode for nid, v in self.app.views.views.items() if v.mode}
        rects = self.app.canvas.screen_rects() if (self.ms or modes) and not hidden else {}
        ox, oy = self.app.canvas.origin()
        w, h = self.app.canvas.size()
        key = (tuple(sorted((k, round(v, 1)) for k, v in self.ms.items())), self.hot,
               tuple(sorted((k, tuple(round(v) for v in r)) for k, r in rects.items())),
               round(ox), round(oy), round(w), round(h), hidden, tuple(sorted(modes.items())))
        if key == self._key:
            return
        self._key = key
        dpg.delete_item(LAYER, children_only=True)
        font = 11
        for nid, t in self.ms.items():
            r = rects.get(nid)
            if r is None or t < 0.05:
                continue
            text = f"{t:.1f} ms"
            tw = len(text) * font * 0.55
            x, y = r[0] + r[2] - tw, r[1] + r[3] + 2
            if x < ox or y < oy or x + tw > ox + w or y + font > oy + h:
                continue                    # off the canvas
            dpg.draw_text((x, y), text, size=font, color=HOT if nid == self.hot else MUTED,
                          parent=LAYER)
        for nid, mode in modes.items():     # what a bypassed or muted node does instead
            r = rects.get(nid)
            if r is None:
                continue
            text = "BYPASSED" if mode == "bypass" else "MUTED"
            tw = len(text) * font * 0.6
            x, y = r[0] + r[2] - tw, r[1] - font - 3
            if x >= ox and y >= oy and x + tw <= ox + w:
                dpg.draw_text((x, y), text, size=font, color=MODE_COLOURS[mode], parent=LAYER)
