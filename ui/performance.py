"""The performance view: the preview alone, as large as the window, with the music, for
showing a piece or playing it live (Preview > Performance view, or F5).

Dear PyGui draws one viewport, so the view is a borderless window over the whole editor;
F11 makes the viewport full screen (move the editor to the second monitor first to show the
piece there). While it is open the preview renders at its largest size and plays; Esc (or F5)
brings the editor back as it was: the preview size and play state it had.
"""
from __future__ import annotations

import time

import dearpygui.dearpygui as dpg

from afx_graph.ui.preview import SIZES
from afx_graph.ui.preview_panel import TEX, TEX_SIDE

WINDOW = "afx.performance"
IMAGE = "afx.performance.image"
HINT = "afx.performance.hint"
THEME = "afx.performance.theme"
HINT_SECONDS = 4.0


def letterbox(frame_w: int, frame_h: int, area_w: int, area_h: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of a frame_w x frame_h picture scaled to fill area_w x area_h without
    distortion, centred: bars above and below or left and right."""
    if frame_w <= 0 or frame_h <= 0 or area_w <= 0 or area_h <= 0:
        return 0, 0, max(area_w, 0), max(area_h, 0)
    scale = min(area_w / frame_w, area_h / frame_h)
    w, h = max(1, round(frame_w * scale)), max(1, round(frame_h * scale))
    return (area_w - w) // 2, (area_h - h) // 2, w, h


class PerformanceView:
    def __init__(self, panel, worker):
        self.panel, self.worker = panel, worker
        self.showing = False
        self.fullscreen = False
        self._before: tuple[int, bool] | None = None    # preview size, playing
        self._opened = 0.0
        self._laid_out: tuple | None = None

    def toggle(self) -> None:
        self.close() if self.showing else self.open()

    def open(self) -> None:
        if self.showing:
            return
        w = self.worker
        self._before = (w.size, w.clock.playing)
        w.set_size(max(SIZES), w.aspect)              # the sharpest picture the preview makes
        if not dpg.does_item_exist(THEME):
            with dpg.theme(tag=THEME):
                with dpg.theme_component(dpg.mvAll):
                    dpg.add_theme_color(dpg.mvThemeCol_WindowBg, (0, 0, 0, 255))
                    dpg.add_theme_style(dpg.mvStyleVar_WindowPadding, 0, 0)
                    dpg.add_theme_style(dpg.mvStyleVar_WindowBorderSize, 0)
        with dpg.window(tag=WINDOW, no_title_bar=True, no_move=True, no_resize=True,
                        no_collapse=True, no_scrollbar=True, no_saved_settings=True,
                        pos=(0, 0), width=dpg.get_viewport_client_width(),
                        height=dpg.get_viewport_client_height()):
            dpg.add_image(TEX, tag=IMAGE, pos=(0, 0))
            dpg.add_text("Esc: back to the editor   Space: play / pause   F6: live input   "
                         "F11: full screen",
                         tag=HINT, pos=(12, 8), color=(160, 160, 170))
        dpg.bind_item_theme(WINDOW, THEME)
        dpg.focus_item(WINDOW)
        self.showing, self._opened, self._laid_out = True, time.monotonic(), None
        w.play()
        self.update()

    def close(self) -> None:
        if not self.showing:
            return
        if self.fullscreen:
            self.toggle_fullscreen()
        dpg.delete_item(WINDOW)
        self.showing = False
        size, playing = self._before or (self.worker.size, False)
        self.worker.set_size(size, self.worker.aspect)
        if not playing:
            self.worker.pause()

    def toggle_fullscreen(self) -> None:
        dpg.toggle_viewport_fullscreen()
        self.fullscreen = not self.fullscreen

    def press(self, key: int) -> bool:
        """Keys while the view is open; True when the view used the key."""
        if not self.showing or key == dpg.mvKey_F6:     # F6 (live input) is the editor's
            return False
        if key in (dpg.mvKey_Escape, dpg.mvKey_F5):
            self.close()
        elif key == dpg.mvKey_Spacebar:
            self.panel.toggle()
        elif key == dpg.mvKey_F11:
            self.toggle_fullscreen()

        return True            # the editor underneath gets no keys while the view is up

    def update(self) -> None:
        """Each UI frame: follow the window's size and the preview's picture size."""
        if not self.showing:
            return
        vw, vh = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
        fh, fw = self.panel.shape if self.panel.shape else (9, 16)
        if (vw, vh, fw, fh) != self._laid_out:
            self._laid_out = (vw, vh, fw, fh)
            dpg.configure_item(WINDOW, width=vw, height=vh, pos=(0, 0))
            x, y, w, h = letterbox(fw, fh, vw, vh)
            dpg.configure_item(IMAGE, pos=(x, y), width=w, height=h,
                               uv_max=(fw / TEX_SIDE, fh / TEX_SIDE))
        dpg.configure_item(HINT, show=time.monotonic() - self._opened < HINT_SECONDS)

    def geometry(self) -> dict:
        """Where the picture is drawn (tests and screenshots)."""
        pos = dpg.get_item_configuration(IMAGE)
        return {"viewport": (dpg.get_viewport_client_width(), dpg.get_viewport_client_height()),
                "image": (*dpg.get_item_pos(IMAGE), pos["width"], pos["height"]),
                "frame": self.panel.shape}
