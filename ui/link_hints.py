"""While a link is dragged from a pin, the pins it can go to light up and the others dim.

:func:`targets` is pure (the engine's own :meth:`Graph.check_link`: type, cycle); the
:class:`LinkHints` binds a theme to each pin's node attribute for the drag and gives the
pins their own theme back when the button is released. The pin sizes follow the zoom
(canvas.py scales imnodes' pin radius the same way).
"""
from __future__ import annotations

from dataclasses import dataclass

LIT_RADIUS = 6.5          # px at zoom 1 (a plain pin: 4.5)
DIM = (70, 70, 78)


@dataclass(frozen=True)
class Pin:
    """The pin a link was dragged from: ``kind`` 'out' (an output) or 'in' (an input)."""
    kind: str
    node: str
    port: str


def targets(graph, pin: Pin) -> dict[tuple[str, str, str], bool]:
    """Every pin of the other kind on the other nodes, ``(kind, node, port) -> whether a
    link from ``pin`` can end there``. Nodes of unknown type have no pins to offer."""
    out: dict[tuple[str, str, str], bool] = {}
    for nid, n in graph.nodes.items():
        if nid == pin.node or n.spec is None:
            continue
        if pin.kind == "out":
            for port in n.spec.input_ports():
                out[("in", nid, port)] = graph.check_link(pin.node, pin.port, nid, port) is None
        else:
            for port in n.spec.outputs:
                out[("out", nid, port)] = graph.check_link(nid, port, pin.node, pin.port) is None
    return out


class LinkHints:
    """The themes of the pins during a drag (dearpygui side)."""

    def __init__(self, themes):
        self.themes = themes
        self.shown: dict[str, int] = {}      # attribute tag -> the theme it goes back to
        self._lit: dict[tuple, int] = {}
        self._dim: dict[float, int] = {}

    def show(self, graph, pin: Pin, zoom: float = 1.0) -> dict[tuple[str, str, str], bool]:
        import dearpygui.dearpygui as dpg
        from afx_graph.ui.node_views import in_tag, out_tag
        self.clear()
        found = targets(graph, pin)
        for (kind, nid, port), ok in found.items():
            tag = in_tag(nid, port) if kind == "in" else out_tag(nid, port)
            if not dpg.does_item_exist(tag):
                continue
            spec = graph.nodes[nid].spec
            ptype = spec.input_type(port) if kind == "in" else spec.outputs[port].type
            self.shown[tag] = self.themes.pin(ptype)
            dpg.bind_item_theme(tag, self._lit_theme(ptype, zoom) if ok else self._dim_theme(zoom))
        return found

    def clear(self) -> None:
        import dearpygui.dearpygui as dpg
        for tag, theme in self.shown.items():
            if dpg.does_item_exist(tag):
                dpg.bind_item_theme(tag, theme)
        self.shown = {}

    @property
    def active(self) -> bool:
        return bool(self.shown)

    def _lit_theme(self, ptype, zoom: float) -> int:
        import dearpygui.dearpygui as dpg
        key = (ptype.id, round(zoom, 3))
        if key not in self._lit:
            c = ptype.color
            bright = tuple(min(255, int(v * 0.5 + 128)) for v in c[:3])   # halfway to white
            with dpg.theme() as t:
                with dpg.theme_component(dpg.mvNodeAttribute):
                    nodes = dict(category=dpg.mvThemeCat_Nodes)
                    dpg.add_theme_color(dpg.mvNodeCol_Pin, bright, **nodes)
                    dpg.add_theme_color(dpg.mvNodeCol_PinHovered, (255, 255, 255), **nodes)
                    dpg.add_theme_style(dpg.mvNodeStyleVar_PinCircleRadius,
                                        max(3.0, LIT_RADIUS * zoom), **nodes)
            self._lit[key] = t
        return self._lit[key]

    def _dim_theme(self, zoom: float) -> int:
        import dearpygui.dearpygui as dpg
        key = round(zoom, 3)
        if key not in self._dim:
            with dpg.theme() as t:
                with dpg.theme_component(dpg.mvNodeAttribute):
                    nodes = dict(category=dpg.mvThemeCat_Nodes)
                    dpg.add_theme_color(dpg.mvNodeCol_Pin, DIM, **nodes)
                    dpg.add_theme_color(dpg.mvNodeCol_PinHovered, DIM, **nodes)
                    dpg.add_theme_style(dpg.mvNodeStyleVar_PinCircleRadius,
                                        max(1.5, 3.0 * zoom), **nodes)
            self._dim[key] = t
        return self._dim[key]
