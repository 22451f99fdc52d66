"""Below the preview: the selected node's title, type, doc and problems (and which of its
outputs the preview shows), or, with no single node selected, the patch's settings form."""
from __future__ import annotations

import dearpygui.dearpygui as dpg

from afx_graph.subpatches import definitions as subpatch

from afx_graph.ui.palette import paragraphs
from afx_graph.ui.param_panel import ParamPanel
from afx_graph.ui.theme import ERROR, MUTED, OK, WARNING

INSPECT = "afx.inspect"
SETTINGS_INPUTS = ("afx.set.size", "afx.set.fps", "afx.set.duration")


class Inspector:
    def __init__(self, app, width: int):
        self.app = app
        self.wrap = width - 30
        self._shown = object()          # what it shows now: redrawn only when that changes
        self.params = ParamPanel(app)

    def invalidate(self) -> None:
        self._shown = object()

    def update(self) -> None:
        app = self.app
        c, worker = app.controller, app.worker
        sel = tuple(c.selection)
        g = c.graph
        one = sel[0] if len(sel) == 1 and sel[0] in g.nodes else None
        # rebuilt when what it shows changes shape; a param's new value is shown in place (a
        # field being typed into, a handle being dragged, stays under the mouse)
        key = (sel, id(g), worker.errors_serial, app.problems.serial, repr(g.expose),
               self._links_of(g, one) if one else repr(c.outer[0].graph.settings if c.outer
                                                        else g.settings),
               g.nodes[one].type if one else None)
        if key == self._shown:
            if one:
                self.params.refresh()
            return
        self._shown = key
        dpg.delete_item(INSPECT, children_only=True)
        self.params.node = None
        if one:
            self._node(g.nodes[one])
        else:
            self._settings(c.outer[0].graph.settings if c.outer else g.settings,
                           inside=bool(c.outer))

    @staticmethod
    def _links_of(g, node: str) -> tuple:
        return tuple(sorted((port, link.src, link.src_port)
                            for port, link in g.inputs_of(node).items()))

    def _node(self, n) -> None:
        app = self.app
        dpg.add_text(f"{n.id}", parent=INSPECT, color=OK)
        if n.spec is None:
            dpg.add_text(f"unknown type '{n.type}'", parent=INSPECT, color=WARNING)
        else:
            dpg.add_text(f"{n.spec.id}  ({n.spec.category}, {n.spec.rate})", parent=INSPECT, color=MUTED)
            if len(n.spec.outputs) > 1:
                node_id = n.id
                target = app.worker.target
                shown = target[1] if target[0] == n.id else None
                with dpg.group(horizontal=True, parent=INSPECT):
                    dpg.add_text("preview output")
                    dpg.add_combo(list(n.spec.outputs), tag="afx.inspect.port", width=170,
                                  default_value=shown or resolve_port(n.spec),
                                  callback=lambda s_, a: app.worker.set_target(node_id, a))
            if n.spec.params:
                self.params.build(INSPECT, n, self.wrap)
                dpg.add_separator(parent=INSPECT)
            dpg.add_text(paragraphs(n.spec.doc), parent=INSPECT, wrap=self.wrap)
            if n.type == subpatch.TYPE:
                node_id = n.id
                with dpg.group(horizontal=True, parent=INSPECT):
                    dpg.add_button(label="Go inside (Ctrl+E)", callback=lambda: app.enter(node_id))
                    dpg.add_button(label="Ungroup (Ctrl+Shift+G)",
                                   callback=lambda: app.ungroup(node_id))
            if app.controller.outer and not n.spec.sink:
                self._expose(n)
        if n.id in app.worker.errors:
            dpg.add_text(f"failed: {app.worker.errors[n.id]}", parent=INSPECT, color=ERROR,
                         wrap=self.wrap)
        if n.id in app.problems.by_node:
            dpg.add_text(app.problems.by_node[n.id], parent=INSPECT, color=WARNING, wrap=self.wrap)

    def _expose(self, n) -> None:
        """Inside a subpatch: what of this node the subpatch offers, and a way to offer more."""
        c = self.app.controller
        dpg.add_separator(parent=INSPECT)
        dpg.add_text("Offered by the subpatch", parent=INSPECT, color=MUTED)
        mine = []
        for kind, table in (c.graph.expose or {}).items():
            for name, targets in (table or {}).items():
                for t in targets if isinstance(targets, list) else [targets]:
                    if isinstance(t, str) and t.rsplit(".", 1)[0] == n.id:
                        mine.append((kind, name, t))
        for kind, name, t in mine:
            with dpg.group(horizontal=True, parent=INSPECT):
                dpg.add_button(label="x", width=22,
                               callback=lambda s_, a, u: c.unexpose(u[0], u[1]), user_data=(kind, name))
                dpg.add_text(f"{kind[:-1]} '{name}' = {t}")
        choices = ([f"input {p}" for p in n.spec.input_ports()] +
                   [f"output {p}" for p in n.spec.outputs] +
                   [f"param {p}" for p in n.spec.params])
        if not choices:
            return
        node_id = n.id
        with dpg.group(horizontal=True, parent=INSPECT):
            dpg.add_combo(choices, default_value=choices[0], width=190, tag="afx.inspect.expose")
            dpg.add_button(label="Offer it", callback=lambda: self.expose(node_id))

    def expose(self, node: str) -> None:
        kind, port = dpg.get_value("afx.inspect.expose").split(" ", 1)
        reason = self.app.controller.expose({"input": "inputs", "output": "outputs",
                                             "param": "params"}[kind], node, port)
        if reason:
            self.app.status(f"cannot offer {node}.{port}: {reason}", "warning")
        else:
            self.app.status(f"the subpatch now offers {node}.{port} (as '{port}')", "ok")

    def _settings(self, s: dict, inside: bool = False) -> None:
        """The patch's settings; inside a subpatch, those of the patch it belongs to (what
        the preview renders with), shown but edited outside."""
        if inside:
            dpg.add_text("Patch settings (of the patch around this subpatch: edit them there)",
                         parent=INSPECT, color=MUTED, wrap=self.wrap)
        else:
            dpg.add_text("Patch settings", parent=INSPECT, color=MUTED)
        size = s.get("size") if isinstance(s.get("size"), list) else [640, 360]
        with dpg.group(horizontal=True, parent=INSPECT):
            dpg.add_text("size")
            dpg.add_input_intx(tag="afx.set.size", size=2, width=150, default_value=list(size) + [0, 0],
                               enabled=not inside,
                               on_enter=True, callback=lambda s_, a: self.set(
                                   "size", [int(a[0]), int(a[1])]))
            dpg.add_text("fps")
            dpg.add_input_float(tag="afx.set.fps", width=90, default_value=float(s.get("fps") or 30),
                                enabled=not inside,
                                step=0, on_enter=True, format="%.3g",
                                callback=lambda s_, a: self.set("fps", a))
        with dpg.group(horizontal=True, parent=INSPECT):
            dpg.add_text("duration")
            dpg.add_input_float(tag="afx.set.duration", width=90, step=0, on_enter=True, format="%.2f",
                                enabled=not inside,
                                default_value=float(s.get("duration") or 0),
                                callback=lambda s_, a: self.set("duration", a if a > 0 else None))
            dpg.add_text("s (0: the audio's length)", color=MUTED)
        other = self.app.problems.other
        if other:
            dpg.add_text("\n".join(other[:6]), parent=INSPECT, color=WARNING, wrap=self.wrap)
        dpg.add_text("Select a node to preview it and read what it does.", parent=INSPECT, color=MUTED,
                     wrap=self.wrap)

    def set(self, key: str, value) -> None:
        """A settings field edited (Enter)."""
        reason = self.app.controller.set_settings(**{key: value})
        if reason:
            self.app.status(f"settings: {reason}", "error")
            self.invalidate()


def resolve_port(spec) -> str:
    """The output the preview shows for a node unless told otherwise: its first image."""
    from afx_graph import IMAGE
    return next((p for p, o in spec.outputs.items() if o.type is IMAGE), next(iter(spec.outputs)))
