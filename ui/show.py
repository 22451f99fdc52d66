"""The show window of ``afx live``: the patch's picture alone, full screen on a chosen monitor,
no editor. Keys: T (or Space) taps the tempo, F toggles full screen, O the overlay (input
level, tempo, frame rate, latency, warnings), L the latency test (the screen flashes white on
each onset, to film speaker and screen together), Q or Esc quits.

Dear PyGui draws one viewport; the picture is a dynamic texture the size of the frame,
letterboxed into the window. The show (afx_graph.run.live.LiveShow) renders on this thread,
between UI frames: a frame is rendered when its time has come on the audio clock."""
from __future__ import annotations

import time

import dearpygui.dearpygui as dpg
import numpy as np

from afx_graph.ui.performance import letterbox

TEX = "afx.show.texture"
IMAGE = "afx.show.image"
OVERLAY = "afx.show.overlay"
WINDOW = "afx.show.window"
FLASH_ONSET = 0.6            # onset strength that flashes the latency test


class ShowWindow:
    def __init__(self, show, *, size=(1280, 720), fullscreen: bool = False, screen: int = 0,
                 overlay: bool = True, title: str = "afx live"):
        self.show = show
        h, w = show.settings.size[1], show.settings.size[0]
        self.frame_shape = (h, w)
        self.overlay = overlay
        self.latency_test = False
        self.quit = False
        self.frames_shown: list[float] = []
        self._rgba = np.ones((h, w, 4), np.float32)
        dpg.create_context()
        with dpg.texture_registry():
            dpg.add_raw_texture(w, h, self._rgba.reshape(-1), format=dpg.mvFormat_Float_rgba,
                                tag=TEX)
        with dpg.theme() as theme:
            with dpg.theme_component(dpg.mvAll):
                dpg.add_theme_color(dpg.mvThemeCol_WindowBg, (0, 0, 0, 255))
                dpg.add_theme_style(dpg.mvStyleVar_WindowPadding, 0, 0)
                dpg.add_theme_style(dpg.mvStyleVar_WindowBorderSize, 0)
        with dpg.window(tag=WINDOW, no_title_bar=True, no_move=True, no_resize=True,
                        no_collapse=True, no_scrollbar=True, no_saved_settings=True):
            dpg.add_image(TEX, tag=IMAGE)
        dpg.bind_item_theme(WINDOW, theme)
        # the overlay on a dark translucent panel of its own: readable over a white frame
        with dpg.theme() as panel:
            with dpg.theme_component(dpg.mvAll):
                dpg.add_theme_color(dpg.mvThemeCol_WindowBg, (0, 0, 0, 170))
                dpg.add_theme_style(dpg.mvStyleVar_WindowPadding, 10, 8)
                dpg.add_theme_style(dpg.mvStyleVar_WindowBorderSize, 0)
        with dpg.window(tag=f"{OVERLAY}.panel", no_title_bar=True, no_move=True,
                        no_resize=True, no_collapse=True, no_scrollbar=True, autosize=True,
                        no_saved_settings=True, no_focus_on_appearing=True, pos=(8, 8)):
            dpg.add_text("", tag=OVERLAY, color=(235, 235, 240))
        dpg.bind_item_theme(f"{OVERLAY}.panel", panel)
        with dpg.handler_registry():
            dpg.add_key_press_handler(callback=self._key)
        x = screen_origin(screen)
        dpg.create_viewport(title=title, width=size[0], height=size[1], x_pos=x, y_pos=0)
        dpg.setup_dearpygui()
        dpg.show_viewport()
        dpg.set_primary_window(WINDOW, True)
        if fullscreen:
            dpg.toggle_viewport_fullscreen()
        self._laid_out = None

    # -- keys --------------------------------------------------------------------------------------
    def _key(self, sender, key):
        if key in (dpg.mvKey_Q, dpg.mvKey_Escape):
            self.quit = True
        elif key in (dpg.mvKey_T, dpg.mvKey_Spacebar):
            self.show.tap()
        elif key == dpg.mvKey_F:
            dpg.toggle_viewport_fullscreen()
        elif key == dpg.mvKey_O:
            self.overlay = not self.overlay
        elif key == dpg.mvKey_L:
            self.latency_test = not self.latency_test

    # -- one UI frame -----------------------------------------------------------------------------
    def step(self) -> bool:
        """Render the frame that is due (if one is), draw, and say whether to go on."""
        frame = self.show.next_frame(wait=0.0)
        if frame is not None:
            rgb = frame.image.astype(np.float32) / 255.0
            if self.latency_test and self._onset() >= FLASH_ONSET:
                rgb = np.ones_like(rgb)
            self._rgba[..., :3] = rgb
            dpg.set_value(TEX, self._rgba.reshape(-1))
            now = time.perf_counter()
            self.frames_shown.append(now)
            del self.frames_shown[:-120]
        self._layout()
        dpg.set_value(OVERLAY, self.overlay_text() if self.overlay else "")
        dpg.configure_item(f"{OVERLAY}.panel", show=self.overlay)
        dpg.render_dearpygui_frame()
        return not self.quit and dpg.is_dearpygui_running()

    def run(self) -> None:
        try:
            while self.step():
                pass
        finally:
            self.close()

    def close(self) -> None:
        self.show.close()
        dpg.destroy_context()

    def overlay_text(self) -> str:
        s = self.show
        shown = self.frames_shown
        fps = (len(shown) - 1) / (shown[-1] - shown[0]) if len(shown) > 2 and \
            shown[-1] > shown[0] else 0.0
        p50, p95 = s.latency()
        lat = "latency --" if p50 is None else f"latency {p50 * 1000:.0f} ms (p95 {p95 * 1000:.0f})"
        level = s.level
        bar = "#" * int(round(min(level, 1.0) * 20))
        lines = [f"in  {bar:<20} {20 * np.log10(max(level, 1e-5)):5.1f} dB",
                 f"tempo {s.tempo():5.1f} BPM   {fps:4.1f} fps   {lat}",
                 "T tap   F full screen   O overlay   L latency test   Q quit"]
        if s.overflows:
            lines.append(f"input overflows: {s.overflows}")
        lines += [f"warning: {w}" for w in s.warnings]
        if self.latency_test:
            lines.append("LATENCY TEST: white on each onset")
        return "\n".join(lines)

    # -- inside ------------------------------------------------------------------------------------
    def _layout(self) -> None:
        vw, vh = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
        h, w = self.frame_shape
        if (vw, vh) != self._laid_out:
            self._laid_out = (vw, vh)
            x, y, iw, ih = letterbox(w, h, vw, vh)
            dpg.configure_item(IMAGE, pos=(x, y), width=iw, height=ih)

    def _onset(self) -> float:
        for outs in self.show.run.static.values():
            for v in outs.values():
                feed = getattr(v, "feed", None)
                a = getattr(feed, "analyser", None)
                if a is not None and "onset" in a.names and len(a.rows):
                    return float(a.rows[-1, a.names.index("onset")])
        return 0.0


def screen_origin(screen: int) -> int:
    """The x of monitor ``screen`` (0: the first), where the window opens: monitors side by side
    as X11 and most desktops arrange them, read from xrandr when there is one."""
    if screen <= 0:
        return 0
    import shutil
    import subprocess
    if shutil.which("xrandr"):
        try:
            out = subprocess.run(["xrandr", "--listactivemonitors"], capture_output=True,
                                 text=True, timeout=5).stdout
        except (OSError, subprocess.TimeoutExpired):
            return 0
        xs = []
        for line in out.splitlines()[1:]:
            geom = next((p for p in line.split() if "x" in p and "+" in p), None)
            if geom:
                xs.append(int(geom.split("+")[1]))
        xs.sort()
        if screen < len(xs):
            return xs[screen]
    return 0
