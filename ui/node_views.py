"""The node editor's items, kept in step with the graph (dearpygui).

Nothing here holds graph data of its own: :meth:`NodeViews.sync` reads the controller's graph
and adds, removes or updates dearpygui items until they show it (nodes, links, param values,
which params are driven by a link, positions). Item tags encode what they stand for
(``afx.in.<node>.<port>``...), so a callback can always be mapped back to the graph.

Positions go through :attr:`NodeViews.view` (zoom and pan, see view.py): a node sits at
``view.to_grid(its ui: pos)``, and only a node the user drags gets a new patch position.
At a zoom other than 1 the sizes, indents and wrap widths given to the items are scaled
(the font and spacing are scaled by the canvas, see canvas.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import dearpygui.dearpygui as dpg

from afx_graph import Graph

from afx_graph.ui import widgets
from afx_graph.ui.view import View
from afx_graph.ui.theme import ERROR, MUTED, WARNING, Themes

EDITOR = "afx.editor"
NODE_TEXT_WIDTH = 236        # wrap width of messages inside a node
HOT_SHARE = 0.4              # the slowest node is tinted when it takes this share of a frame
HOT_MS = 5.0                 # ... and at least this long


def node_tag(nid: str) -> str:
    return f"afx.node.{nid}"


def in_tag(nid: str, port: str) -> str:
    return f"afx.in.{nid}.{port}"


def out_tag(nid: str, port: str) -> str:
    return f"afx.out.{nid}.{port}"


def param_tag(nid: str, name: str) -> str:
    return f"afx.param.{nid}.{name}"


def link_tag(dst: str, port: str) -> str:
    return f"afx.link.{dst}.{port}"


def parse_tag(tag) -> tuple[str, str, str | None] | None:
    """'afx.in.field.scale' -> ('in', 'field', 'scale'); ints are looked up as aliases."""
    if isinstance(tag, int):
        tag = dpg.get_item_alias(tag)
    if not isinstance(tag, str) or not tag.startswith("afx."):
        return None
    parts = tag.split(".")
    if len(parts) == 3:
        return parts[1], parts[2], None
    if len(parts) == 4:
        return parts[1], parts[2], parts[3]
    return None


def _free_alias(tag: str) -> None:
    if dpg.does_alias_exist(tag):
        if dpg.does_item_exist(tag):
            dpg.delete_item(tag)
        if dpg.does_alias_exist(tag):
            dpg.remove_alias(tag)


@dataclass
class NodeView:
    nid: str
    key: tuple                      # (type, spec id): a different one means rebuild
    tag: str
    widgets: dict[str, widgets.ParamWidget] = field(default_factory=dict)
    linked: dict[str, str | None] = field(default_factory=dict)
    pos: list | None = None         # the grid position last put on / read from the item
    ppos: tuple | None = None       # the patch position it stands for (None: the patch has none)
    scaled: list = field(default_factory=list)    # (item, "width" | "indent" | "wrap", base)
    message: tuple | None = None    # (text, severity) shown in the node
    hot: bool = False               # the slowest node, tinted
    mode: str | None = None         # bypassed / muted: its own title colour
    theme: int | str | None = None  # the title theme bound now


class NodeViews:
    def __init__(self, themes: Themes, *, on_param, on_browse, param_handlers: str):
        self.themes = themes
        self.on_param = on_param            # widget callback (sender, app_data, user_data)
        self.on_browse = on_browse          # "..." of a path param
        self.param_handlers = param_handlers
        self.views: dict[str, NodeView] = {}
        self.links: dict[tuple[str, str], tuple] = {}     # (dst, port) -> (src, src_port)
        self.text_inputs: set[str] = set()
        self.view = View()
        self.drawn_zoom = 1.0               # the zoom of the sizes the items report now
        self.tooltip_font = None            # tooltips keep the normal font at any zoom
        self.tooltip_theme = None

    # -- everything at once -----------------------------------------------------------------
    def clear(self) -> None:
        for key in list(self.links):
            self._remove_link(key)
        for nid in list(self.views):
            self.remove(nid)

    def sync(self, graph: Graph, *, active: str | None = None, positions: bool = True) -> None:
        """Make the editor show ``graph``. ``active``: the widget the user is working, left
        alone. ``positions=False`` while a node is being dragged."""
        for nid in list(self.views):
            n = graph.nodes.get(nid)
            if n is None or self.views[nid].key != _key(n):
                self.remove(nid)
        for nid in graph.nodes:
            if nid not in self.views:
                self.create(graph, nid)
        want = {(l.dst, l.dst_port): (l.src, l.src_port) for l in graph.links()}
        for key, src in list(self.links.items()):
            if want.get(key) != src:
                self._remove_link(key)
        for key, src in want.items():
            if key not in self.links:
                self._add_link(key, src)
        for nid, view in self.views.items():
            self._refresh(graph, view, active)
            if positions:
                self._place(view, _patch_pos(graph.nodes[nid].ui.get("pos")))

    def _place(self, view: NodeView, ppos) -> None:
        view.ppos = ppos if ppos is not None else view.ppos
        if view.ppos is None:
            return
        g = [int(round(v)) for v in self.view.to_grid(view.ppos)]
        if g != view.pos:
            dpg.set_item_pos(view.tag, g)
            view.pos = g

    def set_view(self, view: View) -> None:
        """Show the patch through ``view``: nodes move (and are scaled) on the screen, the
        patch's positions stay as they are."""
        rescale = view.zoom != self.view.zoom
        self.view = view
        for v in self.views.values():
            if rescale:
                self._scale(v)
            self._place(v, None)

    def moved(self) -> dict[str, list]:
        """Nodes the user has dragged since their position was last known, with their new
        patch positions."""
        out = {}
        for nid, view in self.views.items():
            g = [int(v) for v in dpg.get_item_pos(view.tag)]
            if g != view.pos:
                view.pos = g
                p = [int(round(v)) for v in self.view.to_patch(g)]
                view.ppos = tuple(p)
                out[nid] = p
        return out

    def sizes(self) -> dict[str, tuple[float, float]]:
        """The nodes' drawn sizes in patch units (the screen size at zoom 1). Until the
        next frame is drawn after a zoom, items report their sizes at the zoom before."""
        out = {}
        z = self.drawn_zoom
        for nid, view in self.views.items():
            w, h = dpg.get_item_rect_size(view.tag)
            if w > 0 and h > 0:
                out[nid] = (float(w) / z, float(h) / z)
        return out

    # -- zoom -------------------------------------------------------------------------------
    def _collect_scaled(self, view: NodeView) -> None:
        """Record the sizes the node's items were built with (at zoom 1); tooltips keep
        the unzoomed font and spacing."""
        def walk(item):
            for children in dpg.get_item_children(item).values():
                for c in children:
                    kind = dpg.get_item_type(c)
                    if kind.endswith("mvTooltip"):
                        if self.tooltip_font is not None:
                            dpg.bind_item_font(c, self.tooltip_font)
                        if self.tooltip_theme is not None:
                            dpg.bind_item_theme(c, self.tooltip_theme)
                        continue
                    conf = dpg.get_item_configuration(c)
                    for key in ("width", "indent", "wrap"):
                        if isinstance(conf.get(key), int) and conf[key] > 0:
                            view.scaled.append((c, key, conf[key]))
                    walk(c)
        walk(view.tag)

    def _scale(self, view: NodeView) -> None:
        z = self.view.zoom
        for item, key, base in view.scaled:
            if dpg.does_item_exist(item):
                dpg.configure_item(item, **{key: max(1, int(round(base * z)))})

    # -- one node ---------------------------------------------------------------------------
    def create(self, graph: Graph, nid: str) -> NodeView:
        n = graph.nodes[nid]
        spec = n.spec
        tag = node_tag(nid)
        _free_alias(tag)
        ppos = _patch_pos(n.ui.get("pos"))
        pos = [int(round(v)) for v in self.view.to_grid(ppos if ppos is not None else (0, 0))]
        view = NodeView(nid, _key(n), tag, pos=pos, ppos=ppos)
        title = f"{nid}   {spec.id if spec else n.type}"
        with dpg.node(label=title, tag=tag, parent=EDITOR, pos=pos, user_data=nid):
            if spec is None:
                self._unknown_body(graph, nid)
            else:
                self._body(graph, nid, view)
            with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static, tag=f"afx.msgattr.{nid}",
                                    show=False):
                dpg.add_text("", tag=f"afx.msg.{nid}", wrap=NODE_TEXT_WIDTH, color=ERROR)
        view.mode = n.mode
        self._theme(view)
        self._collect_scaled(view)
        if self.view.zoom != 1:
            self._scale(view)
        self.views[nid] = view
        return view

    def _body(self, graph: Graph, nid: str, view: NodeView) -> None:
        spec = graph.nodes[nid].spec
        for name, decl in spec.inputs.items():
            t = in_tag(nid, name)
            _free_alias(t)
            with dpg.node_attribute(tag=t, attribute_type=dpg.mvNode_Attr_Input, user_data=(nid, name),
                                    shape=dpg.mvNode_PinShape_Circle if decl.optional
                                    else dpg.mvNode_PinShape_CircleFilled):
                txt = dpg.add_text(f"{name}" + ("" if decl.optional else " *"), color=decl.type.color)
                with dpg.tooltip(txt):
                    dpg.add_text(f"{name}: {decl.type}{' (optional)' if decl.optional else ' (required)'}")
                    if decl.doc:
                        dpg.add_text(decl.doc, wrap=320, color=MUTED)
            dpg.bind_item_theme(t, self.themes.pin(decl.type))
        widest = widgets.WIDTH          # the output labels line up with the widest widget
        for name, p in spec.params.items():
            t = in_tag(nid, name) if p.linkable else f"afx.static.{nid}.{name}"
            _free_alias(t)
            wtag = param_tag(nid, name)
            _free_alias(wtag)
            _free_alias(f"{wtag}.browse")
            _free_alias(f"{wtag}.linked")
            with dpg.node_attribute(tag=t, user_data=(nid, name),
                                    attribute_type=dpg.mvNode_Attr_Input if p.linkable
                                    else dpg.mvNode_Attr_Static,
                                    shape=dpg.mvNode_PinShape_Circle):
                w = widgets.build(p, graph.nodes[nid].param(name), tag=wtag, label=name,
                                  callback=self.on_param, user_data=(nid, name),
                                  browse_callback=self.on_browse)
                dpg.add_text("", tag=f"{wtag}.linked", show=False, color=(130, 170, 255))
                with dpg.tooltip(wtag):
                    dpg.add_text(_param_help(name, p), wrap=340)
                dpg.bind_item_handler_registry(wtag, self.param_handlers)
            if p.linkable:
                dpg.bind_item_theme(t, self.themes.pin(p.port_type))
            view.widgets[name] = w
            widest = max(widest, w.width)
            view.linked[name] = None
            if w.kind in widgets.TEXT_KINDS:
                self.text_inputs.add(wtag)
        for name, o in spec.outputs.items():
            t = out_tag(nid, name)
            _free_alias(t)
            with dpg.node_attribute(tag=t, attribute_type=dpg.mvNode_Attr_Output, user_data=(nid, name)):
                label = f"{name}"
                width = widgets.text_width(label, 8.0)
                txt = dpg.add_text(label, color=o.type.color,
                                   indent=max(0, int(widest + 70 - width)))
                with dpg.tooltip(txt):
                    dpg.add_text(f"{name}: {o.type}")
                    if o.doc:
                        dpg.add_text(o.doc, wrap=320, color=MUTED)
            dpg.bind_item_theme(t, self.themes.pin(o.type))

    def _unknown_body(self, graph: Graph, nid: str) -> None:
        n = graph.nodes[nid]
        hint = graph.registry.suggest(n.type)
        with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static):
            dpg.add_text(f"unknown node type '{n.type}'" + (f"\n(did you mean '{hint}'?)" if hint else ""),
                         color=WARNING, wrap=NODE_TEXT_WIDTH)
            dpg.add_text("kept as it is; saved unchanged", color=MUTED)
        for port in graph.inputs_of(nid):
            t = in_tag(nid, port)
            _free_alias(t)
            with dpg.node_attribute(tag=t, attribute_type=dpg.mvNode_Attr_Input, user_data=(nid, port)):
                dpg.add_text(port, color=MUTED)
        outs = sorted({l.src_port for l in graph.links() if l.src == nid})
        for port in outs:
            t = out_tag(nid, port)
            _free_alias(t)
            with dpg.node_attribute(tag=t, attribute_type=dpg.mvNode_Attr_Output, user_data=(nid, port)):
                dpg.add_text(port, color=MUTED, indent=120)

    def remove(self, nid: str) -> None:
        for key in [k for k, s in self.links.items() if k[0] == nid or s[0] == nid]:
            self._remove_link(key)
        view = self.views.pop(nid, None)
        if view is None:
            return
        for name, w in view.widgets.items():
            self.text_inputs.discard(w.tag)
        if dpg.does_item_exist(view.tag):
            dpg.delete_item(view.tag)

    def _refresh(self, graph: Graph, view: NodeView, active: str | None) -> None:
        n = graph.nodes[view.nid]
        if n.mode != view.mode:
            view.mode = n.mode
            self._theme(view)
        if n.spec is None:
            return
        links = graph.inputs_of(view.nid)
        for name, w in view.widgets.items():
            link = links.get(name)
            src = f"{link.src}.{link.src_port}" if link else None
            if src != view.linked.get(name):
                view.linked[name] = src
                dpg.configure_item(w.tag, show=src is None)
                if w.browse:
                    dpg.configure_item(w.browse, show=src is None)
                lt = f"{w.tag}.linked"
                dpg.configure_item(lt, show=src is not None)
                if src is not None:
                    dpg.set_value(lt, f"{name} {self.themes.arrow()} {src}")
            if w.tag != active:
                value = widgets.to_widget(w.param, n.param(name))
                try:
                    if dpg.get_value(w.tag) != value:
                        dpg.set_value(w.tag, value)
                except (TypeError, ValueError):
                    pass

    # -- links ------------------------------------------------------------------------------
    def _add_link(self, key: tuple[str, str], src: tuple[str, str]) -> None:
        a, b = out_tag(*src), in_tag(*key)
        if not (dpg.does_item_exist(a) and dpg.does_item_exist(b)):
            return       # a port the spec does not have: validation reports it
        t = link_tag(*key)
        _free_alias(t)
        dpg.add_node_link(a, b, parent=EDITOR, tag=t)
        self.links[key] = src

    def _remove_link(self, key: tuple[str, str]) -> None:
        self.links.pop(key, None)
        t = link_tag(*key)
        if dpg.does_item_exist(t):
            dpg.delete_item(t)

    # -- messages ---------------------------------------------------------------------------
    def show_hot(self, ms: dict[str, float]) -> str | None:
        """The slowest node, when it takes at least HOT_SHARE of the frame and HOT_MS, gets a
        hot title bar so it is obvious (a colour: the node's size stays as it is). Returns
        it, or None."""
        total = sum(ms.values())
        hot = max(ms, key=ms.get) if ms else None
        if hot is not None and (ms[hot] < HOT_MS or ms[hot] < HOT_SHARE * total):
            hot = None
        for nid, view in self.views.items():
            if (nid == hot) != view.hot:
                view.hot = nid == hot
                self._theme(view)
        return hot

    def _theme(self, view: NodeView) -> None:
        """A node's title colour: failed, else bypassed/muted, else the slowest, else its
        category's."""
        t = self.themes
        if view.message and view.message[1] == "error":
            theme = t.error_node
        elif view.mode is not None:
            theme = t.bypassed_node if view.mode == "bypass" else t.muted_node
        elif view.hot:
            theme = t.hot_node
        elif view.key[1] is None:
            theme = t.unknown_node
        else:
            theme = t.category(view.key[2])
        if theme != view.theme:
            view.theme = theme
            dpg.bind_item_theme(view.tag, theme)

    def show_messages(self, errors: dict[str, str], issues: dict[str, str]) -> None:
        """Red title and message for a node that failed; an orange message for a problem
        found by validation (a missing input, a value out of range)."""
        for nid, view in self.views.items():
            if nid in errors:
                msg = (errors[nid], "error")
            elif nid in issues:
                msg = (issues[nid], "issue")
            else:
                msg = None
            if msg == view.message:
                continue
            view.message = msg
            attr, txt = f"afx.msgattr.{nid}", f"afx.msg.{nid}"
            if msg is None:
                dpg.configure_item(attr, show=False)
            else:
                dpg.set_value(txt, ("failed: " if msg[1] == "error" else "") + msg[0])
                dpg.configure_item(txt, color=ERROR if msg[1] == "error" else WARNING)
                dpg.configure_item(attr, show=True)
            self._theme(view)


def _patch_pos(pos) -> tuple | None:
    if (isinstance(pos, (list, tuple)) and len(pos) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos)):
        return float(pos[0]), float(pos[1])
    return None


def _key(n) -> tuple:
    return (n.type, n.spec.id if n.spec else None, n.spec.category if n.spec else None)


def _param_help(name: str, p) -> str:
    t = "list" if p.type is tuple else p.type.__name__
    lines = [f"{name} ({t})"]
    if p.doc:
        lines.append(p.doc)
    if p.choices is not None:
        lines.append("one of: " + ", ".join(map(str, p.choices)))
    elif p.min is not None or p.max is not None:
        lo = "" if p.min is None else f"{p.min:g}"
        hi = "" if p.max is None else f"{p.max:g}"
        lines.append(f"range {lo} .. {hi}")
    d = list(p.default) if p.type is tuple else p.default
    lines.append(f"default {d!r}")
    if p.linkable:
        lines.append("link a scalar or timeline into its pin to drive it")
    lines.append("right-click: back to the default")
    return "\n".join(lines)
