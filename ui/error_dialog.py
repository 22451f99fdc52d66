"""The "cannot open this patch" dialog: which file, which line, what is wrong.

A patch that cannot be read at all (a YAML syntax error, not a patch, not text, missing) is
a modal dialog, not only a status-bar line that the next message replaces; the patch being
edited stays as it was. :func:`describe` turns the engine's :class:`~afx_graph.PatchError`
into (file, line, message) with no dearpygui, so it is tested without a display."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import dearpygui.dearpygui as dpg

from afx_graph import AfxError
from afx_graph.errors import escape_controls

from afx_graph.ui.theme import ERROR, MUTED

OPEN_ERROR = "afx.openerror"
WIDTH, HEIGHT = 560, 200           # HEIGHT: to centre it (the window fits its text)
MAX_LINES = 8                     # problems listed; the rest are counted
_AT_LINE = re.compile(r"\bat line (\d+)")
_READ_LIMIT = 1 << 20


@dataclass
class OpenFailure:
    file: str
    line: int | None              # 1-based; None when the problem has no place in the text
    messages: list[str]           # the first is the one the line belongs to


def describe(path, error: AfxError) -> OpenFailure:
    """Where and what: the file, the line (given in the parser's message, else the line of
    the node or top-level key the problem is about, when the file can be read) and the
    message of each problem."""
    issues = list(getattr(error, "issues", None) or [error.issue])
    file = str(issues[0].file or path)
    messages = []
    for i in issues:
        where = " ".join(p for p in (f"node '{i.node}'" if i.node else "", i.field or "") if p)
        messages.append(escape_controls(f"{where}: {i.message}" if where else i.message))
    first = issues[0]
    m = _AT_LINE.search(first.message)
    line = int(m.group(1)) if m else _line_of(path, first.node, first.field)
    return OpenFailure(file, line, messages)


def _line_of(path, node: str | None, field: str | None) -> int | None:
    """The line of ``node:`` (indented, under nodes) or of a top-level ``field:``."""
    if not node and not field:
        return None
    try:
        with open(path, "rb") as f:
            text = f.read(_READ_LIMIT).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    key = re.compile(rf"^\s+{re.escape(node)}\s*:" if node else rf"^{re.escape(field)}\s*:")
    for n, text_line in enumerate(text.splitlines(), 1):
        if key.match(text_line):
            return n
    return None


class OpenErrorDialog:
    """Modal: the file, the line and the message; what the editor holds now; OK."""

    def __init__(self, app):
        self.app = app
        self.shown: OpenFailure | None = None
        self._pending: int | None = None      # the frame show() was called in
        with dpg.window(tag=OPEN_ERROR, label="Cannot open this patch", modal=True, show=False,
                        width=WIDTH, autosize=True, no_collapse=True, no_resize=True):
            with dpg.group(horizontal=True):
                dpg.add_text("file", color=MUTED)
                dpg.add_text("", tag=f"{OPEN_ERROR}.file", wrap=WIDTH - 60)
            with dpg.group(horizontal=True, tag=f"{OPEN_ERROR}.linerow"):
                dpg.add_text("line", color=MUTED)
                dpg.add_text("", tag=f"{OPEN_ERROR}.line")
            dpg.add_text("", tag=f"{OPEN_ERROR}.msg", color=ERROR, wrap=WIDTH - 20)
            dpg.add_spacer(height=4)
            dpg.add_text("", tag=f"{OPEN_ERROR}.kept", color=MUTED, wrap=WIDTH - 20)
            dpg.add_spacer(height=4)
            dpg.add_button(label="OK", tag=f"{OPEN_ERROR}.ok", width=100, callback=lambda: self.close())

    def show(self, path, error: AfxError) -> OpenFailure:
        d = describe(path, error)
        self.shown = d
        dpg.set_value(f"{OPEN_ERROR}.file", d.file)
        dpg.set_value(f"{OPEN_ERROR}.line", str(d.line) if d.line else "")
        dpg.configure_item(f"{OPEN_ERROR}.linerow", show=d.line is not None)
        more = len(d.messages) - MAX_LINES
        dpg.set_value(f"{OPEN_ERROR}.msg", "\n".join(d.messages[:MAX_LINES])
                      + (f"\n... and {more} more" if more > 0 else ""))
        dpg.set_value(f"{OPEN_ERROR}.kept", self._what_stays())
        self._pending = dpg.get_frame_count()
        return d

    def update(self) -> None:
        """Each UI frame. The dialog opens a frame after :meth:`show`: a modal opened in the
        frame another one closes (Open chosen in the unsaved-changes prompt) is opened inside
        it and closed with it."""
        if self._pending is None or dpg.get_frame_count() <= self._pending + 1:
            return
        self._pending = None
        from afx_graph.ui.dialogs import center
        center(OPEN_ERROR, WIDTH, HEIGHT)
        dpg.configure_item(OPEN_ERROR, show=True)
        dpg.focus_item(f"{OPEN_ERROR}.ok")

    def _what_stays(self) -> str:
        c = self.app.controller
        if c.path is None and not c.graph.nodes and not c.dirty:
            return "The file was not changed. The editor goes on with a new, empty patch."
        name = Path(c.path).name if c.path else "the untitled patch"
        return f"The file was not changed, and {name} stays open as it was."

    @property
    def showing(self) -> bool:
        return self._pending is not None or bool(dpg.get_item_configuration(OPEN_ERROR)["show"])

    def text(self) -> str:
        """Everything the dialog says (for tests and the screenshot check)."""
        return "\n".join(str(dpg.get_value(f"{OPEN_ERROR}.{k}")) for k in ("file", "line", "msg", "kept"))

    def close(self) -> None:
        self._pending = None
        dpg.configure_item(OPEN_ERROR, show=False)
