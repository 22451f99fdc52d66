"""The bottom line: the last message (coloured by level; an error also pops up as a toast by
the mouse for a few seconds) and the count of the patch's problems, listed in its tooltip.

:class:`Problems` is what validation says, split into the problems of a node (shown on the
node and in the inspector) and the others (the patch's settings, its file)."""
from __future__ import annotations

import time

import dearpygui.dearpygui as dpg

from afx_graph.ui.theme import ERROR, MUTED, OK, TEXT, WARNING

STATUS = "afx.status"
PROBLEMS = "afx.problems"
TOAST = "afx.toast"
LEVELS = {"error": ERROR, "ok": OK, "warning": WARNING}


class Problems:
    def __init__(self):
        self.by_node: dict[str, str] = {}     # node -> its first problem
        self.other: list[str] = []
        self.serial = 0                       # counts changes of by_node

    def check(self, graph) -> list[str]:
        """Validate ``graph``; returns every problem as a line."""
        by_node: dict[str, str] = {}
        other = []
        for i in graph.validate():
            text = f"{i.field}: {i.message}" if i.field else i.message
            if i.node and i.node in graph.nodes:
                by_node.setdefault(i.node, text)
            else:
                other.append(f"{i.node}: {text}" if i.node else text)
        if by_node != self.by_node:
            self.by_node = by_node
            self.serial += 1
        self.other = other
        return [f"{n}: {m}" for n, m in by_node.items()] + other


class StatusBar:
    def __init__(self, left_edge: int, on_problems=lambda: None):
        self.text = ""
        self.on_problems = on_problems      # a click on "N problems"
        self.left_edge = left_edge          # toasts stay right of the palette
        self.built = False
        self._toast_until = 0.0

    def build(self) -> None:
        with dpg.group(horizontal=True):
            dpg.add_text("", tag=STATUS)
            dpg.add_text("", tag=PROBLEMS, color=WARNING)
            with dpg.tooltip(PROBLEMS):
                dpg.add_text("", tag=f"{PROBLEMS}.list", wrap=600)
                dpg.add_text("click: go to the first node with a problem", color=MUTED)
            with dpg.item_handler_registry(tag=f"{PROBLEMS}.handlers"):
                dpg.add_item_clicked_handler(callback=lambda: self.on_problems())
            dpg.bind_item_handler_registry(PROBLEMS, f"{PROBLEMS}.handlers")
        self.built = True

    def build_toast(self) -> None:
        with dpg.window(tag=TOAST, show=False, no_title_bar=True, autosize=True, no_move=True,
                        min_size=(60, 20), no_focus_on_appearing=True, no_resize=True):
            dpg.add_text("", tag=f"{TOAST}.text", color=ERROR, wrap=420)

    def show(self, text: str, level: str = "info", *, toast: bool = True) -> None:
        self.text = text
        if not self.built:
            return
        dpg.set_value(STATUS, text)
        dpg.configure_item(STATUS, color=LEVELS.get(level, TEXT))
        if level == "error" and toast:
            self.toast(text)

    def problems(self, lines: list[str]) -> None:
        n = len(lines)
        dpg.set_value(PROBLEMS, f"   {n} problem{'s' if n != 1 else ''}" if n else "")
        dpg.set_value(f"{PROBLEMS}.list", "\n".join(lines[:30]))

    def toast(self, text: str, seconds: float = 4.0) -> None:
        dpg.set_value(f"{TOAST}.text", text)
        mx, my = dpg.get_mouse_pos(local=False)
        vw = dpg.get_viewport_client_width()
        x = int(min(max(mx + 16, self.left_edge + 20), vw - 460))
        y = int(max(my + 16, 40))
        dpg.configure_item(TOAST, show=True, pos=[x, y])
        self._toast_until = time.monotonic() + seconds

    def update(self) -> None:
        if self._toast_until and time.monotonic() > self._toast_until:
            self._toast_until = 0.0
            dpg.configure_item(TOAST, show=False)
