"""The preview panel (dearpygui): the picture (a dynamic texture), plots for timelines,
values and audio, and the transport: play/pause, time slider, loop, size, fps readout.

It only draws what the :class:`~afx_graph.ui.preview.PreviewWorker` publishes; the
rendering happens on the worker's thread."""
from __future__ import annotations

import time
from collections import deque

import dearpygui.dearpygui as dpg
import numpy as np

from afx_graph.ui.preview import ASPECTS, SIZES, PreviewFrame, PreviewWorker
from afx_graph.ui.theme import ERROR, MUTED, OK, WARNING

TEX = "afx.preview.tex"
IMAGE = "afx.preview.image"
PLOT = "afx.preview.plot"
X_AXIS = "afx.preview.x"
Y_AXIS = "afx.preview.y"
PLAYHEAD = "afx.preview.playhead"
TIME = "afx.preview.time"
PLAY = "afx.preview.play"
LOOP = "afx.preview.loop"
SIZE = "afx.preview.size"
ASPECT = "afx.preview.aspect"
FPS = "afx.preview.fps"
TARGET = "afx.preview.target"
VALUE = "afx.preview.value"
STATUS = "afx.preview.status"
SOUND = "afx.preview.sound"
TEX_SIDE = 512           # the texture holds the largest preview; smaller ones use a corner
HEAT_FROM = 6            # timelines with more columns than this draw as a heat map
HEAT_MAX = (1024, 128)   # at most this many time steps x columns in its texture
VIRIDIS = np.array([(0.267, 0.005, 0.329), (0.230, 0.322, 0.546), (0.128, 0.567, 0.551),
                    (0.369, 0.789, 0.383), (0.993, 0.906, 0.144)], np.float32)
HISTORY_SECONDS = 10.0


def _clock(t: float) -> str:
    return f"{int(t // 60)}:{t % 60:05.2f}"


class PreviewPanel:
    def __init__(self, worker: PreviewWorker, width: int):
        self.worker = worker
        self.width = width
        self.buf = np.zeros((TEX_SIDE, TEX_SIDE, 4), np.float32)
        self.buf[..., 3] = 1.0
        self.flat = self.buf.reshape(-1)
        self.seen = 0
        self.data_seen = None
        self.shape = None
        self.history: deque = deque()
        self.kind = None
        self.lines: list[int] = []
        self.bars = None
        self.playline = None
        self.last: PreviewFrame | None = None
        self.dimmed = False

    def build(self, parent) -> None:
        with dpg.texture_registry(tag="afx.preview.textures"):
            dpg.add_raw_texture(TEX_SIDE, TEX_SIDE, self.flat, format=dpg.mvFormat_Float_rgba, tag=TEX)
        w = self.width - 18
        with dpg.group(parent=parent):
            with dpg.group(horizontal=True):
                dpg.add_text("Preview", color=MUTED)
                dpg.add_text("", tag=TARGET)
            dpg.add_image(TEX, tag=IMAGE, width=w, height=int(w * 9 / 16),
                          uv_min=(0, 0), uv_max=(256 / TEX_SIDE, 144 / TEX_SIDE))
            with dpg.plot(tag=PLOT, height=220, width=-1, show=False, no_menus=True,
                          no_box_select=True):
                dpg.add_plot_legend(tag=f"{PLOT}.legend", horizontal=False, outside=False,
                                    location=dpg.mvPlot_Location_NorthEast)
                dpg.add_plot_axis(dpg.mvXAxis, tag=X_AXIS, label="seconds")
                dpg.add_plot_axis(dpg.mvYAxis, tag=Y_AXIS)
                dpg.add_drag_line(tag=PLAYHEAD, color=(255, 210, 80, 255), thickness=1.5,
                                  default_value=0.0, callback=lambda s, a: self._scrub(dpg.get_value(s)))
            with dpg.theme(tag=f"{PLAYHEAD}.theme"):
                with dpg.theme_component(dpg.mvLineSeries):
                    dpg.add_theme_color(dpg.mvPlotCol_Line, (255, 70, 110, 255),
                                        category=dpg.mvThemeCat_Plots)
                    dpg.add_theme_style(dpg.mvPlotStyleVar_LineWeight, 2.0, category=dpg.mvThemeCat_Plots)
            dpg.add_text("", tag=VALUE, wrap=w)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Play", tag=PLAY, width=64, callback=lambda: self.toggle())
                dpg.add_checkbox(label="loop", tag=LOOP, default_value=self.worker.clock.loop,
                                 callback=lambda s, a: self.worker.set_loop(a))
                dpg.add_text("0:00.00 / 0:00.00", tag=f"{TIME}.text")
            dpg.add_slider_float(tag=TIME, width=-1, min_value=0.0, max_value=10.0, format="%.2f s",
                                 callback=lambda s, a: self.worker.seek(a))
            # why the preview is silent, where the user looks when they hear nothing
            note = self.worker.sound_note
            dpg.add_text(note + ("; the preview runs on the wall clock" if note else ""),
                         tag=SOUND, wrap=w, color=WARNING, show=bool(note))
            with dpg.group(horizontal=True):
                dpg.add_text("size")
                sizes = sorted(set(SIZES) | {self.worker.size})
                dpg.add_combo([str(s) for s in sizes], tag=SIZE, width=70,
                              default_value=str(self.worker.size),
                              callback=lambda s, a: self.worker.set_size(int(a)))
                dpg.add_combo(list(ASPECTS), tag=ASPECT, width=90, default_value=self.worker.aspect,
                              callback=lambda s, a: self.worker.set_size(self.worker.size, a))
                with dpg.tooltip(ASPECT):
                    dpg.add_text("patch: the render's aspect ratio, `size` on the long side\n"
                                 "square: size x size")
                dpg.add_text("", tag=FPS, color=MUTED)
            dpg.add_text("", tag=STATUS, wrap=w, color=MUTED)

    def forget(self) -> None:
        """Another patch: no picture of the last one (an empty, dark frame until the new
        patch's first frame; the status line says why nothing shows where it cannot)."""
        self.last = None
        self.seen = None
        self.buf[:] = 0.0
        self.buf[..., 3] = 1.0
        dpg.set_value(TEX, self.flat)
        dpg.set_value(TARGET, "")
        dpg.set_value(VALUE, "")
        self.kind = None
        self._set_kind("image")

    # -- transport -------------------------------------------------------------------------
    def _scrub(self, t: float) -> None:
        self._scrubbed = time.monotonic()
        self.worker.seek(max(0.0, t))

    _scrubbed = 0.0

    def toggle(self) -> None:
        if self.worker.clock.playing:
            self.worker.pause()
        else:
            self.worker.play()

    # -- each UI frame ---------------------------------------------------------------------
    def update(self, nodes=None) -> None:
        """``nodes``: the ids in the graph now; a picture of a node no longer among them
        (deleted, or its addition undone) is greyed and the header stops naming it."""
        w = self.worker
        f = w.latest()
        playing = w.clock.playing
        dpg.configure_item(PLAY, label="Pause" if playing else "Play")
        duration = max(w.duration, 1e-3)
        now = f.time if f is not None else w.clock.now()
        live = w.live_input
        dpg.configure_item(TIME, max_value=float(duration), show=live is None)
        if live is not None:          # a live input has no length to scrub: its level instead
            level = w.live_level
            meter = "|" * int(round(min(level, 1.0) * 24))
            dpg.set_value(f"{TIME}.text", f"LIVE {_clock(now)}  {live}  {meter}")
        else:
            if not dpg.is_item_active(TIME):
                dpg.set_value(TIME, float(min(now, duration)))
            dpg.set_value(f"{TIME}.text", f"{_clock(now)} / {_clock(duration)}")
        warnings = w.live_warnings
        note = w.sound_note + "; the preview runs on the wall clock" if w.sound_note else ""
        dpg.set_value(SOUND, warnings[0] if warnings else note)
        dpg.configure_item(SOUND, show=bool(warnings) or (bool(note) and live is None))
        if f is not None and f.image is not None:
            size = f"{f.image.shape[1]}x{f.image.shape[0]}"
        else:
            size = ""
        dpg.set_value(FPS, f"{w.fps:4.1f} fps {size}" if playing else f"paused {size}")
        failing = w.state == "failed"
        dpg.set_value(STATUS, w.status)
        dpg.configure_item(STATUS, color=ERROR if failing else MUTED)
        fresh = f is not None and f.serial != self.seen
        if fresh:
            self.seen = f.serial
            self.last = f
        gone = nodes is not None and self.last is not None and self.last.node not in nodes
        if (failing or gone) != self.dimmed:     # the last good picture stays, greyed
            self.dimmed = failing or gone
            dpg.configure_item(IMAGE, tint_color=(110, 110, 110, 255) if self.dimmed else (255, 255, 255, 255))
        header = "" if gone or self.last is None else f"{self.last.node}.{self.last.port}"
        if header != dpg.get_value(TARGET):
            dpg.set_value(TARGET, header)
            dpg.configure_item(TARGET, color=OK)
        if not fresh:
            return
        if f.kind == "image":
            self._show_image(f)
        else:
            self._show_plot(f)

    def _show_image(self, f: PreviewFrame) -> None:
        img = f.image
        h, w = min(img.shape[0], TEX_SIDE), min(img.shape[1], TEX_SIDE)
        self.buf[:h, :w] = img[:h, :w]
        dpg.set_value(TEX, self.flat)
        if self.shape != (h, w):
            self.shape = (h, w)
            dw = self.width - 18
            dh = int(dw * h / w)
            if dh > dw:
                dw, dh = int(dw * dw / dh), dw
            dpg.configure_item(IMAGE, width=dw, height=dh, uv_max=(w / TEX_SIDE, h / TEX_SIDE))
        self._set_kind("image")
        dpg.set_value(VALUE, "")

    def _set_kind(self, kind: str) -> None:
        if kind == self.kind:
            return
        self.kind = kind
        dpg.configure_item(IMAGE, show=kind == "image")
        dpg.configure_item(PLOT, show=kind != "image" and kind != "text")
        self._clear_series()
        self.data_seen = None
        self.history.clear()
        dpg.set_axis_limits_auto(Y_AXIS)

    def _clear_series(self) -> None:
        for item in self.lines:
            if dpg.does_item_exist(item):
                dpg.delete_item(item)
        self.lines = []
        self.bars = None
        self.playline = None

    def _show_plot(self, f: PreviewFrame) -> None:
        key = (f.node, f.port, f.kind)
        if (self.kind, getattr(self, "_plot_key", None)) != (f.kind, key):
            self.kind = None
            self._set_kind(f.kind)
            self._plot_key = key
        if f.kind in ("timeline", "audio"):
            if self.data_seen != (key, f.data_serial, id(f.series)):
                self.data_seen = (key, f.data_serial, id(f.series))
                self._clear_series()
                self._draw_series(f)
            if time.monotonic() - self._scrubbed > 0.3:      # not while it is being dragged
                dpg.set_value(PLAYHEAD, float(f.time))
            if self.playline is not None:
                dpg.set_value(self.playline, [[float(f.time)] * 2, self._play_span])
            if f.kind == "timeline" and f.value is not None:
                shown = ", ".join(f"{n} {v:+.2f}" for n, v in list(zip(f.names, f.value))[:8])
                dpg.set_value(VALUE, shown + (" ..." if len(f.names) > 8 else ""))
            else:
                dpg.set_value(VALUE, "")
        elif f.kind == "scalar":
            v = float(f.value[0]) if f.value is not None and len(f.value) else 0.0
            self.history.append((f.time, v))
            while self.history and (self.history[0][0] > f.time or
                                    f.time - self.history[0][0] > HISTORY_SECONDS):
                self.history.popleft()
            xs, ys = [h[0] for h in self.history], [h[1] for h in self.history]
            if not self.lines:
                self.lines.append(dpg.add_line_series(xs, ys, label=f.port, parent=Y_AXIS))
            else:
                dpg.set_value(self.lines[0], [xs, ys])
            dpg.fit_axis_data(X_AXIS)
            dpg.fit_axis_data(Y_AXIS)
            dpg.set_value(PLAYHEAD, float(f.time))
            dpg.set_value(VALUE, f"{f.port} = {v:.4g}")
        elif f.kind == "vector":
            vals = f.value if f.value is not None else np.zeros(1)
            xs = list(range(len(vals)))
            if self.bars is None:
                self.bars = dpg.add_bar_series(xs, vals.tolist(), label=f.port, parent=Y_AXIS, weight=0.7)
                self.lines.append(self.bars)
            else:
                dpg.set_value(self.bars, [xs, vals.tolist()])
            dpg.fit_axis_data(X_AXIS)
            dpg.set_axis_limits(Y_AXIS, min(-1.0, float(vals.min())), max(1.0, float(vals.max())))
            dpg.set_value(VALUE, ", ".join(f"{v:+.2f}" for v in vals[:12]))
        else:
            self._set_kind("text")
            dpg.set_value(VALUE, f.text)

    def _draw_series(self, f: PreviewFrame) -> None:
        """A few curves as lines with a legend; many (spectrum bands) as a heat map, one row
        per column of the timeline."""
        rows = f.series
        rate = max(f.series_rate, 1e-6)
        d = rows.shape[1]
        dpg.reset_axis_ticks(Y_AXIS)
        if d > HEAT_FROM:
            tex = self._heat_texture(rows)
            self.lines.append(dpg.add_image_series(tex, (0.0, 0.0), (len(rows) / rate, float(d)),
                                                   parent=Y_AXIS))
            names = [f.names[i] if i < len(f.names) else str(i) for i in range(d)]
            if d <= 24:
                dpg.set_axis_ticks(Y_AXIS, tuple((n, d - i - 0.5) for i, n in enumerate(names)))
        else:
            x = (np.arange(len(rows)) / rate).tolist()
            for i in range(d):
                label = f.names[i] if i < len(f.names) else str(i)
                self.lines.append(dpg.add_line_series(x, rows[:, i].tolist(), label=label,
                                                      parent=Y_AXIS))
        self.playline = None
        if d > HEAT_FROM:        # a heat map hides the drag line: a line series over it
            self.playline = dpg.add_line_series([float(f.time)] * 2, [0.0, float(d)], parent=Y_AXIS,
                                                label="now")
            self._play_span = [0.0, float(d)]
            dpg.bind_item_theme(self.playline, f"{PLAYHEAD}.theme")
            self.lines.append(self.playline)
        dpg.configure_item(f"{PLOT}.legend", show=d <= HEAT_FROM)
        dpg.fit_axis_data(X_AXIS)
        dpg.fit_axis_data(Y_AXIS)

    def _heat_texture(self, rows: np.ndarray) -> str:
        """A timeline as a picture: one row per column (first on top), time left to right,
        each column scaled to its own range, coloured like viridis."""
        t, d = rows.shape
        w, h = min(t, HEAT_MAX[0]), min(d, HEAT_MAX[1])
        xi = np.linspace(0, t - 1, w).astype(np.int64)
        yi = np.linspace(0, d - 1, h).astype(np.int64)
        v = np.nan_to_num(rows[xi][:, yi].T.astype(np.float32))          # (h, w)
        lo, hi = v.min(axis=1, keepdims=True), v.max(axis=1, keepdims=True)
        v = (v - lo) / np.maximum(hi - lo, 1e-6)
        rep = max(1, HEAT_MAX[1] // h)      # repeated rows: the texture's smoothing stays inside a row
        v = np.repeat(v, rep, axis=0)
        h = v.shape[0]
        rgba = np.ones((h, w, 4), np.float32)
        for c in range(3):
            rgba[..., c] = np.interp(v, np.linspace(0, 1, len(VIRIDIS)), VIRIDIS[:, c])
        self._heat_buf = np.ascontiguousarray(rgba.reshape(-1))
        old = getattr(self, "_heat_tex", None)
        if old is not None and dpg.does_item_exist(old):
            dpg.delete_item(old)
        self._heat_tex = dpg.add_raw_texture(w, h, self._heat_buf, format=dpg.mvFormat_Float_rgba,
                                             parent="afx.preview.textures")
        return self._heat_tex

    def region(self) -> tuple[list[int], list[int]]:
        """Where the picture is on screen: (min, max) in viewport pixels."""
        return dpg.get_item_rect_min(IMAGE), dpg.get_item_rect_max(IMAGE)
