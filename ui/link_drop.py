"""A link dragged from a pin and dropped on empty canvas: the add menu opens there, offering
only the node types that can take (or give) the pin's type, and the chosen node is added
under the mouse and linked, as one undo step.

Dear PyGui's node editor (imnodes) has ``IsLinkDropped`` inside but no callback for it, so,
as other Dear PyGui users do, :class:`LinkDropWatcher` watches each frame: the left button
going down on a pin, then going up over empty canvas with no link made in between.

The type filter (:func:`compatible`) is pure: the engine's own rule, ``PortType.accepts``
(its CONVERSIONS table), the one :meth:`Graph.check_link` refuses links with.
"""
from __future__ import annotations

from afx_graph.errors import AfxError
from afx_graph.registry import Registry
from afx_graph.ui.link_hints import LinkHints, Pin

PIN_REACH = 12.0         # screen px from a pin's centre (at zoom 1) that still grabs it


def port_for(spec, kind: str, ptype) -> str | None:
    """The port of a new node of ``spec`` a link dragged from a ``kind`` pin of type
    ``ptype`` goes to: for an output, an input (or linkable param) that accepts it, inputs
    before params and the same type before a conversion; for an input, an output it accepts.
    None when there is none."""
    if kind == "out":
        best = None
        for rank_group, names in ((0, list(spec.inputs)),
                                  (2, [n for n, p in spec.params.items() if p.linkable])):
            for name in names:
                t = spec.input_type(name)
                if t is None or not t.accepts(ptype):
                    continue
                rank = rank_group + (0 if t is ptype else 1)
                if best is None or rank < best[0]:
                    best = (rank, name)
        return best[1] if best else None
    best = None
    for name, o in spec.outputs.items():
        if ptype.accepts(o.type):
            rank = 0 if o.type is ptype else 1
            if best is None or rank < best[0]:
                best = (rank, name)
    return best[1] if best else None


def compatible(registry: Registry, kind: str, ptype) -> dict[str, str]:
    """``{type id: port}`` of every registered node type with a port a link dragged from a
    ``kind`` pin ('out' or 'in') of type ``ptype`` can go to, in the registry's order."""
    out = {}
    for spec in registry.specs():
        port = port_for(spec, kind, ptype)
        if port is not None:
            out[spec.id] = port
    return out


def pin_type(graph, pin: Pin):
    """The type of a pin of the graph (None for a node of unknown type)."""
    n = graph.nodes.get(pin.node)
    if n is None or n.spec is None:
        return None
    if pin.kind == "out":
        o = n.spec.outputs.get(pin.port)
        return o.type if o else None
    return n.spec.input_type(pin.port)


class LinkDropWatcher:
    """Per frame (:meth:`update`): a press on a pin lights the pins its link can go to
    (link_hints.py); a release on empty canvas with no new link: :meth:`dropped`, which
    opens the filtered add menu (what tests call directly)."""

    def __init__(self, app):
        self.app = app
        self.start: Pin | None = None
        self._links = None
        self._down = False
        self._pending = None          # (pin, mouse, frames to wait): the link callback runs first
        self.hints = LinkHints(app.themes)   # the pins the dragged link can go to, lit

    # -- per frame -------------------------------------------------------------------------
    def update(self) -> None:
        import dearpygui.dearpygui as dpg
        from afx_graph.ui.node_views import EDITOR
        down = dpg.is_mouse_button_down(dpg.mvMouseButton_Left)
        if self._pending is not None:
            pin, mouse, wait = self._pending
            if wait > 0:
                self._pending = (pin, mouse, wait - 1)
            else:
                self._pending = None
                if self._wiring() == self._links:
                    self.dropped(pin, mouse)
        if down and not self._down:
            self.start = self.pin_at(dpg.get_mouse_pos(local=False)) if dpg.is_item_hovered(EDITOR) else None
            self._links = self._wiring() if self.start else None
            if self.start is not None:
                self.hints.show(self.app.controller.graph, self.start, self.app.canvas.view.zoom)
        elif not down and self._down and self.start is not None:
            self.hints.clear()
            mouse = dpg.get_mouse_pos(local=False)
            if dpg.is_item_hovered(EDITOR) and not self._over_node():
                self._pending = (self.start, mouse, 1)
            self.start = None
        self._down = down

    def _wiring(self):
        return frozenset(str(l) for l in self.app.controller.graph.links())

    def _over_node(self) -> bool:
        import dearpygui.dearpygui as dpg
        return any(dpg.does_item_exist(v.tag) and dpg.is_item_hovered(v.tag)
                   for v in self.app.views.views.values())

    def pin_at(self, mouse) -> Pin | None:
        """The pin under a screen point: imnodes draws an input's pin on its node's left edge
        and an output's on the right edge, level with the middle of the attribute's row."""
        import dearpygui.dearpygui as dpg
        from afx_graph.ui.node_views import in_tag, out_tag
        g = self.app.controller.graph
        reach = PIN_REACH * max(0.5, self.app.canvas.view.zoom)
        rects = self.app.canvas.screen_rects()
        for nid, n in g.nodes.items():
            if n.spec is None or nid not in rects:
                continue
            x, y, w, h = rects[nid]
            if not (x - reach <= mouse[0] <= x + w + reach and y <= mouse[1] <= y + h):
                continue
            ports = [("in", p, in_tag(nid, p), x) for p in n.spec.input_ports()]
            ports += [("out", p, out_tag(nid, p), x + w) for p in n.spec.outputs]
            for kind, port, tag, px in ports:
                row = _row(tag)
                if row is None:
                    continue
                ay, ah = row
                if abs(mouse[0] - px) <= reach and abs(mouse[1] - (ay + ah / 2)) <= max(reach, ah / 2):
                    return Pin(kind, nid, port)
        return None

    # -- the drop --------------------------------------------------------------------------
    def dropped(self, pin: Pin, mouse=None) -> list[str]:
        """A link from ``pin`` dropped at ``mouse`` (screen; default: where the mouse is):
        the add menu opens there filtered to the types that fit. Returns their ids."""
        app = self.app
        ptype = pin_type(app.controller.graph, pin)
        if ptype is None:
            return []
        fits = compatible(app.registry, pin.kind, ptype)
        if not fits:
            app.status(f"no node type can {'take' if pin.kind == 'out' else 'give'} {ptype}", "warning")
            return []
        at = None
        if mouse is not None:
            x, y = app.canvas.screen_to_patch(mouse)
            at = (int(round(x)), int(round(y)))
        app.open_add_menu(at, only=fits, then=lambda type_id, pos: self.add(pin, type_id, pos),
                          title=f"{'Take' if pin.kind == 'out' else 'Give'} {ptype} "
                                f"({pin.node}.{pin.port})", screen=mouse)
        return list(fits)

    def add(self, pin: Pin, type_id: str, pos) -> str | None:
        """The chosen type: added at ``pos`` (patch units) and linked to ``pin``, one undo step."""
        app = self.app
        port = port_for(app.registry.get(type_id), pin.kind, pin_type(app.controller.graph, pin))
        try:
            nid = app.controller.add_linked(type_id, pos, pin.kind, pin.node, pin.port, port)
        except AfxError as e:        # the message says why; anything else is a bug
            app.status(f"cannot add {type_id}: {getattr(getattr(e, 'issue', None), 'message', e)}",
                       "error")
            return None
        a, b = ((pin.node, pin.port), (nid, port)) if pin.kind == "out" else ((nid, port), (pin.node, pin.port))
        app.status(f"added {nid} and linked {a[0]}.{a[1]} -> {b[0]}.{b[1]} (Ctrl+Z undoes both)", "ok")
        return nid


def _row(tag) -> tuple[float, float] | None:
    """(top, height) on the screen of a node attribute's row: the attributes have no rect of
    their own in Dear PyGui, their visible children do."""
    import dearpygui.dearpygui as dpg
    if not dpg.does_item_exist(tag):
        return None
    top = bottom = None
    for child in dpg.get_item_children(tag, 1) or []:
        state = dpg.get_item_state(child)
        if "rect_min" not in state or not state.get("visible", True):
            continue
        (_, y), (_, h) = state["rect_min"], state["rect_size"]
        if h <= 0:
            continue
        top = y if top is None else min(top, y)
        bottom = y + h if bottom is None else max(bottom, y + h)
    return None if top is None else (top, bottom - top)
