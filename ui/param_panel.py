"""The parameter panel: every parameter of the selected node at full size in the inspector.

Each row: the name (its doc on hover), a typed field (Enter commits; a number is typed, never
jumped to by a click), a drag handle ``<>`` (drag left/right; Shift: ten times finer, Ctrl: ten
times coarser; the speed fits the parameter's range), ``R`` (reset to the default; shown
only where the value differs), and where a link drives the parameter, that link as a button
that selects the node it comes from. The last slot of a row (``afx.param.learn.<name>``) is
where MIDI/OSC learn will sit.

Rows are built when the selection changes and refreshed in place while values change (an
undo, a drag on the node face), so a field being typed into or a handle being dragged is never
rebuilt under the mouse.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import dearpygui.dearpygui as dpg

from afx_graph.spec import Param
from afx_graph.ui import widgets
from afx_graph.ui.theme import MUTED

PANEL = "afx.param.panel"
NAME_W = 104             # the name column
HANDLE_W = 26            # the drag handle
RESET_W = 22
FINE, COARSE = 0.1, 10.0  # Shift and Ctrl on the drag handle


@dataclass
class Row:
    name: str
    param: Param
    field: str                 # the typed field (or the widget of a non-number)
    kind: str                  # "number" or the widgets.kind_of() of the others
    handle: str | None = None
    reset: str | None = None
    link: str | None = None    # the button showing the link that drives it
    shown: object = None       # the value the field shows


def is_number(p: Param) -> bool:
    return p.choices is None and p.type in (int, float)


def tidy(p: Param, value: float, step: float):
    """A dragged value as a person would type it: an int for an int; a float rounded to two
    digits finer than the step (so a save holds 0.35, not 0.35000000000000003), within range."""
    if p.min is not None:
        value = max(value, p.min)
    if p.max is not None:
        value = min(value, p.max)
    if p.type is int:
        return int(round(value))
    digits = max(0, 2 - int(math.floor(math.log10(step)))) if step > 0 else 6
    return round(float(value), digits)


class ParamPanel:
    """The rows of one node's parameters, inside the inspector (``parent``)."""

    def __init__(self, app):
        self.app = app
        self.node: str | None = None
        self.rows: dict[str, Row] = {}
        self._drag: dict | None = None          # the handle being dragged: row, last x, value

    # -- building -------------------------------------------------------------------------------
    def build(self, parent, node, width: int) -> None:
        self.node, self.rows, self._drag = node.id, {}, None
        field_w = max(80, width - NAME_W - HANDLE_W - RESET_W - 40)   # 5 gaps of 8 px
        links = self.app.controller.graph.inputs_of(node.id)
        with dpg.group(tag=PANEL, parent=parent):
            for name, p in node.spec.params.items():
                self._row(node, name, p, field_w, links.get(name))

    def _row(self, node, name: str, p: Param, field_w: int, link) -> None:
        tag = f"afx.param.{name}"
        value = node.param(name)
        with dpg.group(horizontal=True):
            label = dpg.add_text(name)
            with dpg.tooltip(label):
                dpg.add_text(f"{name}: {p.doc or ''}".rstrip(": "), wrap=340)
                if p.min is not None or p.max is not None:
                    dpg.add_text(f"range {p.min if p.min is not None else '-'} .. "
                                 f"{p.max if p.max is not None else '-'}; default {p.default!r}",
                                 color=MUTED)
            dpg.add_spacer(width=max(0, NAME_W - int(widgets.text_width(name))))
            row = Row(name, p, f"{tag}.field", "number" if is_number(p) else widgets.kind_of(p))
            if link is not None:
                row.link = f"{tag}.link"
                dpg.add_button(label=f"<- {link.src}.{link.src_port}", tag=row.link,
                               width=field_w + HANDLE_W + 8,
                               callback=lambda s, a, u: self.app.select([u]), user_data=link.src)
                with dpg.tooltip(row.link):
                    dpg.add_text("driven by this link: click to select the node it comes from")
            elif row.kind == "number":
                add = dpg.add_input_int if p.type is int else dpg.add_input_double
                kw = {} if p.type is int else {"format": "%.6g"}
                add(tag=row.field, default_value=value, width=field_w, step=0, on_enter=True,
                    callback=lambda s, a, u: self.commit(u, a), user_data=name, **kw)
                row.handle = f"{tag}.drag"
                dpg.add_button(label="<>", tag=row.handle, width=HANDLE_W)
                with dpg.tooltip(row.handle):
                    dpg.add_text("drag left or right to change it (Shift: finer, Ctrl: coarser)")
            else:
                widgets.build(p, value, tag=row.field, label="", user_data=name, width=field_w,
                              full=True,
                              callback=lambda s, a, u: self.commit(u, widgets.from_widget(
                                  self.rows[u].param, dpg.get_value(s))),
                              browse_callback=lambda s, a, u: self.app.dialogs.show_param(
                                  self.node, u, self.rows[u].param.kind or "path"))
            if link is None:
                self.app.keys.text_inputs.add(row.field)        # its keys are its own
            row.reset = f"{tag}.reset"
            dpg.add_button(label="R", tag=row.reset, width=RESET_W, show=False,
                           callback=lambda s, a, u: self.reset(u), user_data=name)
            with dpg.tooltip(row.reset):
                dpg.add_text(f"reset: back to the default, {p.default!r}")
            dpg.add_group(tag=f"afx.param.learn.{name}", horizontal=True)   # MIDI/OSC learn
        row.shown = value
        self.rows[name] = row
        self._show_reset(row, value)

    # -- editing --------------------------------------------------------------------------------
    def commit(self, name: str, value) -> None:
        """A typed value (Enter) or a chosen one: one undo step, or the reason it is refused."""
        if self.node is None:
            return
        reason = self.app.set_param(self.node, name, value)
        self.refresh(force=True)
        if reason is None:
            self.app.status(f"{self.node}.{name} = {self.app.controller.graph.nodes[self.node].param(name)!r}",
                            "info")

    def reset(self, name: str) -> None:
        if self.node in self.app.controller.graph.nodes:
            self.app.controller.reset_param(self.node, name)
            self.refresh(force=True)

    def poll(self, mouse_x: float | None = None, shift: bool | None = None,
             ctrl: bool | None = None) -> None:
        """Each frame: a drag of a handle in progress moves its value (the mouse, Shift and
        Ctrl as given, else read from dearpygui)."""
        if self.node is None or self.node not in self.app.controller.graph.nodes:
            return
        active = next((r for r in self.rows.values()
                       if r.handle and dpg.does_item_exist(r.handle) and dpg.is_item_active(r.handle)),
                      None)
        x = dpg.get_mouse_pos(local=False)[0] if mouse_x is None else mouse_x
        if active is None:
            if self._drag is not None:
                self._drag = None
                self.app.controller.end_param_edit()
            return
        if self._drag is None or self._drag["row"] is not active:
            value = self.app.controller.graph.nodes[self.node].param(active.name)
            self._drag = {"row": active, "x": x, "value": float(value)}
            return
        shift = (dpg.is_key_down(dpg.mvKey_LShift) or dpg.is_key_down(dpg.mvKey_RShift)) \
            if shift is None else shift
        ctrl = (dpg.is_key_down(dpg.mvKey_LControl) or dpg.is_key_down(dpg.mvKey_RControl)) \
            if ctrl is None else ctrl
        dx = x - self._drag["x"]
        if dx == 0:
            return
        p = active.param
        step = widgets.drag_step(p) * (FINE if shift else COARSE if ctrl else 1.0)
        self._drag["x"] = x
        self._drag["value"] += dx * step
        value = tidy(p, self._drag["value"], step)
        self.app.controller.set_param(self.node, active.name, value, live=True)
        self.refresh(force=True)

    # -- showing --------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Show the graph's values in the fields (not in one being typed into)."""
        g = self.app.controller.graph
        if self.node not in g.nodes:
            return
        n = g.nodes[self.node]
        for row in self.rows.values():
            value = n.param(row.name)
            if (value == row.shown and not force) or row.link or not dpg.does_item_exist(row.field):
                continue
            if dpg.is_item_active(row.field):
                continue
            shown = value if row.kind == "number" else widgets.to_widget(row.param, value)
            dpg.set_value(row.field, shown)
            row.shown = value
            self._show_reset(row, value)

    def _show_reset(self, row: Row, value) -> None:
        if row.reset and dpg.does_item_exist(row.reset):
            dpg.configure_item(row.reset, show=value != row.param.default)
