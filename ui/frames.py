"""Frames: a titled box drawn around a group of nodes, to say what a part of the patch does.

A frame is saved in the patch's editor-only ``ui:`` (the engine ignores it)::

    ui:
      frames:
      - {title: Rhythm, nodes: [beats, walk, shift], color: [90, 130, 200]}

It holds node ids, not a rectangle: it follows its nodes when they are dragged, grows when a
node is added to it, and a node deleted (then brought back by Ctrl+Z) leaves it and comes back.

:func:`frames_of` reads them defensively (a patch is other people's data); :func:`frame_rect`
is the geometry; :class:`FrameLayer` draws them on the node editor. Dear PyGui's node editor
draws nothing of ours between its grid and its nodes, so the frames are drawn on the
viewport's front layer: an outline and a title tab, clipped to the canvas, hidden while a
dialog or the add menu is up.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_TITLE = 200
MAX_FRAMES = 200
COLORS = ((90, 130, 200), (200, 140, 70), (110, 180, 120), (180, 100, 170), (190, 190, 100),
          (90, 180, 190))
PAD = 14.0              # space between the nodes and the outline, px at zoom 1
TITLE_H = 22.0          # the title tab's height, px at zoom 1


@dataclass(frozen=True)
class Frame:
    index: int              # its place in ``ui.frames`` (what edits name)
    title: str
    nodes: tuple[str, ...]
    color: tuple[int, int, int]


def frames_of(graph) -> list[Frame]:
    """The patch's frames, as far as they make sense: a non-list or a broken entry is
    skipped, unknown node ids are left out (they stay in the file)."""
    raw = graph.ui.get("frames") if isinstance(graph.ui, dict) else None
    if not isinstance(raw, list):
        return []
    out = []
    for i, f in enumerate(raw[:MAX_FRAMES]):
        if not isinstance(f, dict) or not isinstance(f.get("nodes"), list):
            continue
        nodes = tuple(dict.fromkeys(n for n in f["nodes"] if isinstance(n, str) and n in graph.nodes))
        title = f.get("title")
        title = title[:MAX_TITLE] if isinstance(title, str) else ""
        c = f.get("color")
        color = (tuple(int(v) for v in c) if isinstance(c, list) and len(c) == 3
                 and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in c)
                 else COLORS[i % len(COLORS)])
        out.append(Frame(i, title, nodes, color))
    return out


def frame_rect(rects, zoom: float = 1.0) -> tuple[float, float, float, float] | None:
    """The outline around node rectangles ``(x, y, w, h)`` (screen px), the title tab on
    top: (x, y, w, h) of the whole frame, or None for no rectangles."""
    rects = list(rects)
    if not rects:
        return None
    pad, title = PAD * zoom, TITLE_H * zoom
    x0 = min(r[0] for r in rects) - pad
    y0 = min(r[1] for r in rects) - pad - title
    x1 = max(r[0] + r[2] for r in rects) + pad
    y1 = max(r[1] + r[3] for r in rects) + pad
    return x0, y0, x1 - x0, y1 - y0


def clip(rect, box) -> tuple[float, float, float, float] | None:
    """``rect`` cut to ``box`` (both x, y, w, h); None when nothing is left."""
    x0, y0 = max(rect[0], box[0]), max(rect[1], box[1])
    x1, y1 = min(rect[0] + rect[2], box[0] + box[2]), min(rect[1] + rect[3], box[1] + box[3])
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def with_frame(raw, title: str, nodes, color=None) -> list:
    """``ui.frames`` with a new frame (its colour the next of :data:`COLORS`)."""
    frames = list(raw) if isinstance(raw, list) else []
    color = list(color) if color is not None else list(COLORS[len(frames) % len(COLORS)])
    frames.append({"title": str(title)[:MAX_TITLE], "nodes": list(dict.fromkeys(nodes)),
                   "color": color})
    return frames


def renamed(raw, index: int, title: str) -> list:
    frames = [dict(f) if isinstance(f, dict) else f for f in raw]
    frames[index]["title"] = str(title)[:MAX_TITLE]
    return frames


def without(raw, indexes) -> list:
    drop = set(indexes)
    return [f for i, f in enumerate(raw) if i not in drop]


LAYER = "afx.frames"
EDIT = "afx.frame.edit"


class FrameLayer:
    """Draws the frames each UI frame, and the small popup that renames or removes one
    (a double-click on its title; dearpygui side)."""

    def __init__(self, app):
        self.app = app
        self._key = None
        self.drawn: dict[int, tuple[float, float, float, float]] = {}   # index -> title tab
        self.editing: int | None = None

    def build(self) -> None:
        import dearpygui.dearpygui as dpg
        from afx_graph.ui.theme import MUTED
        dpg.add_viewport_drawlist(front=True, tag=LAYER)
        with dpg.window(tag=EDIT, show=False, popup=True, no_title_bar=True, width=320, height=90):
            dpg.add_text("Frame title (Enter renames)", color=MUTED)
            dpg.add_input_text(tag=f"{EDIT}.title", width=300, on_enter=True,
                               callback=lambda s, a: self.commit())
            with dpg.group(horizontal=True):
                dpg.add_button(label="Rename", callback=lambda: self.commit())
                dpg.add_button(label="Remove the frame", callback=lambda: self.remove())

    @property
    def text_inputs(self) -> set[str]:
        return {f"{EDIT}.title"}

    @property
    def editing_shown(self) -> bool:
        import dearpygui.dearpygui as dpg
        return dpg.is_item_shown(EDIT)

    def edit(self, index: int, screen=None) -> None:
        """The rename popup of frame ``index`` at the mouse (``screen``)."""
        import dearpygui.dearpygui as dpg
        frames = {f.index: f for f in frames_of(self.app.controller.graph)}
        if index not in frames:
            return
        self.editing = index
        mx, my = screen if screen is not None else dpg.get_mouse_pos(local=False)
        dpg.set_value(f"{EDIT}.title", frames[index].title)
        dpg.configure_item(EDIT, show=True, pos=[int(mx), int(my)])
        dpg.focus_item(f"{EDIT}.title")

    def commit(self, title: str | None = None) -> None:
        import dearpygui.dearpygui as dpg
        if self.editing is not None:
            title = dpg.get_value(f"{EDIT}.title") if title is None else title
            self.app.controller.rename_frame(self.editing, title.strip() or "Group")
        self.close()

    def remove(self) -> None:
        if self.editing is not None:
            self.app.controller.remove_frames([self.editing])
            self.app.status("removed the frame; its nodes stay (Ctrl+Z undoes)", "info")
        self.close()

    def close(self) -> None:
        import dearpygui.dearpygui as dpg
        self.editing = None
        dpg.configure_item(EDIT, show=False)

    def press(self, key: int) -> bool:
        """Enter and Escape while the popup is up are its own."""
        import dearpygui.dearpygui as dpg
        if not self.editing_shown:
            return False
        if key in (dpg.mvKey_Return, dpg.mvKey_NumPadEnter):
            self.commit()
        elif key == dpg.mvKey_Escape:
            self.close()
        return True

    def update(self, hidden: bool = False) -> None:
        import dearpygui.dearpygui as dpg
        app = self.app
        frames = [] if hidden else frames_of(app.controller.graph)
        rects = app.canvas.screen_rects() if frames else {}
        ox, oy = app.canvas.origin()
        w, h = app.canvas.size()
        box = (ox, oy, w, h)
        zoom = app.canvas.view.zoom
        key = (tuple(frames), tuple(sorted((k, tuple(round(v) for v in r)) for k, r in rects.items())),
               tuple(round(v) for v in box), round(zoom, 3))
        if key == self._key:
            return
        self._key = key
        dpg.delete_item(LAYER, children_only=True)
        self.drawn = {}
        font = max(9, round(15 * zoom))
        for f in frames:
            r = frame_rect((rects[n] for n in f.nodes if n in rects), zoom)
            if r is None:
                continue
            c = f.color
            line = (*c, 230)
            body = clip(r, box)
            if body is None:
                continue
            x, y, fw, fh = body
            dpg.draw_rectangle((x, y), (x + fw, y + fh), color=line, thickness=max(1.0, 2 * zoom),
                               rounding=0 if body != r else 6 * zoom, parent=LAYER)
            tab = clip((r[0], r[1], r[2], TITLE_H * zoom), box)
            if tab is None or tab[1] != r[1]:
                continue                    # the title is off the canvas
            tx, ty, tw, th = tab
            dpg.draw_rectangle((tx, ty), (tx + tw, ty + th), fill=(*c, 170), color=line,
                               rounding=0 if tab[:3] != (r[0], r[1], r[2]) else 6 * zoom,
                               parent=LAYER)
            chars = max(0, int((tw - 12 * zoom) / (font * 0.55)))
            text = f.title if len(f.title) <= chars else f.title[:max(0, chars - 3)] + "..."
            if text:
                dpg.draw_text((tx + 6 * zoom, ty + (th - font) / 2), text, size=font,
                              color=(250, 250, 252), parent=LAYER)
            self.drawn[f.index] = tab

    def title_at(self, p) -> int | None:
        """The frame whose title tab is under a screen point."""
        for index, (x, y, w, h) in self.drawn.items():
            if x <= p[0] <= x + w and y <= p[1] <= y + h:
                return index
        return None
