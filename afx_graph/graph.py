"""The graph: a patch bound to node specs, on a networkx multigraph, editable through a small
API (the editor's only way to change it), and checked in one pass that collects every error.

Edges are ``src -> dst`` with key = the destination port and attribute ``src_port``; each
input has at most one source by construction.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import networkx as nx

from afx_graph.media import paths
from afx_graph.patchfile import requires as requires_mod
from afx_graph import settings as settings_mod
from afx_graph.subpatches import definitions as subpatch_mod, flatten as flatten_mod
from afx_graph.errors import AfxError, GraphEditError, Issue, PatchError
from afx_graph.patchfile.patch import MODES, NODE_ID, NodeEntry, Patch, inline_types, parse_link
from afx_graph.registry import Registry, UnknownNodeType
from afx_graph.spec import NodeSpec, ParamValueError


@dataclass
class GraphNode:
    id: str
    type: str                                  # as written in the patch (may be an alias)
    spec: NodeSpec | None                      # None: unknown type (kept so nothing is lost)
    params: dict[str, Any] = field(default_factory=dict)   # explicit values only
    ui: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    mode: str | None = None                    # "bypass", "mute" or None (it runs)

    def param(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        return self.spec.params[name].default


@dataclass(frozen=True)
class Link:
    src: str
    src_port: str
    dst: str
    dst_port: str

    def __str__(self) -> str:
        return f"{self.src}.{self.src_port} -> {self.dst}.{self.dst_port}"


class Graph:
    def __init__(self, registry: Registry, *, path: Path | None = None):
        self.registry = registry
        self.path = path
        self.meta: dict[str, Any] = {}
        self.settings: dict[str, Any] = {}
        self.ui: dict[str, Any] = {}            # the patch's editor-only data (frames)
        self.subpatches: dict[str, Any] = {}    # inline subpatch definitions (subpatch.py)
        self.expose: dict[str, Any] | None = None   # what this patch offers as a subpatch file
        self.subpatch_problems: dict[str, str] = {}  # node -> why its subpatch cannot be used
        self.read_from: Path | None = None      # the render (MP4, PNG) the patch came out of
        self._library = None
        self.g = nx.MultiDiGraph()
        self.nodes: dict[str, GraphNode] = {}
        self.dangling: dict[tuple[str, str], Any] = {}   # (dst, port) -> link text we could not bind
        self.file_issues: list[Issue] = []
        self.requires: requires_mod.Requires | None = None    # as the patch file said
        # (node, param) output paths the user typed (-o, a save dialog): not confined
        self.user_outputs: set[tuple[str, str]] = set()
        # (node, param) input files the user named (--audio, --set): theirs, from anywhere
        self.user_inputs: set[tuple[str, str]] = set()
        # (node, param) -> (value, why): files a render's patch names outside its folder
        # (Patch.outside), refused while the value is the one the render gave
        self.outside: dict[tuple[str, str], tuple[str, str]] = {}
        self.revision = 0
        self._listeners: list[Callable[[str, str | None], None]] = []

    # -- building -------------------------------------------------------------------------
    @classmethod
    def from_patch(cls, patch: Patch, registry: Registry) -> "Graph":
        g = cls(registry, path=patch.path)
        g.meta, g.settings = dict(patch.meta), dict(patch.settings)
        g.ui = copy.deepcopy(patch.ui)
        g.subpatches, g.expose = copy.deepcopy(patch.subpatches), copy.deepcopy(patch.expose)
        g.file_issues = list(patch.issues)
        g.requires = patch.requires
        g.outside = dict(patch.outside)
        for nid, e in patch.nodes.items():
            g.add_entry(nid, e)
        for nid, e in patch.nodes.items():
            for port, text in e.inputs.items():
                parsed = parse_link(text)
                if parsed and parsed[0] in g.nodes:
                    g.g.add_edge(parsed[0], nid, key=port, src_port=parsed[1])
                else:
                    g.dangling[(nid, port)] = text
        return g

    def add_entry(self, nid: str, e: NodeEntry) -> GraphNode:
        """Add a node as a patch file holds it (type, params, ui, version), unlinked; its
        spec is looked up (a subpatch node's worked out from its definition) and an older
        version's params migrated. Links are added separately (``g.add_edge``)."""
        self.subpatch_problems.pop(nid, None)
        try:
            if e.type == subpatch_mod.TYPE:
                spec = subpatch_mod.entry_spec(e, self.library(), self.registry)
            else:
                spec = self.registry.get(e.type)
        except UnknownNodeType:
            spec = None
        except subpatch_mod.SubpatchError as err:
            spec = None
            self.subpatch_problems[nid] = str(err)
        params = dict(e.params)
        version = e.version
        if spec is not None and version < spec.version and spec.migrate is not None:
            params = dict(spec.migrate(dict(params), version))
            version = spec.version
        elif spec is not None and version < spec.version:
            version = spec.version
        n = GraphNode(nid, e.type, spec, params, dict(e.ui), version, e.mode)
        self.nodes[nid] = n
        self.g.add_node(nid)
        return n

    def library(self) -> "subpatch_mod.Library":
        """The subpatch definitions this patch can name (its own, and files beside it; a
        file is read once per graph)."""
        if self._library is None or self._library.base_dir != self.base_dir \
                or self._library.inline is not self.subpatches:
            self._library = subpatch_mod.Library(
                self.subpatches, self.base_dir, Path(self.file).name,
                ident=str(self.path.absolute()) if self.path else None)
        return self._library

    def _refused(self) -> dict[tuple[str, str], tuple[str, str]]:
        """The files a render's patch names outside its folder (see ``outside``)."""
        return self.outside

    def flat_shell(self) -> "FlatGraph":
        """An empty FlatGraph with this graph's settings, for ``subpatches.flatten`` to fill."""
        flat = FlatGraph(self)
        flat.meta, flat.settings = dict(self.meta), dict(self.settings)
        flat.user_outputs = set(self.user_outputs)
        flat.requires = self.requires
        flat.revision = self.revision
        return flat

    @property
    def file(self) -> str:
        return str(self.path) if self.path else "<patch>"

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    # -- reading --------------------------------------------------------------------------
    def links(self) -> list[Link]:
        return [Link(s, d_["src_port"], d, k) for s, d, k, d_ in self.g.edges(keys=True, data=True)]

    def link_into(self, node: str, port: str) -> Link | None:
        for s, _, k, d in self.g.in_edges(node, keys=True, data=True):
            if k == port:
                return Link(s, d["src_port"], node, k)
        return None

    def inputs_of(self, node: str) -> dict[str, Link]:
        return {k: Link(s, d["src_port"], node, k)
                for s, _, k, d in self.g.in_edges(node, keys=True, data=True)}

    def is_linked(self, node: str, port: str) -> bool:
        return self.link_into(node, port) is not None

    def descendants(self, node: str) -> set[str]:
        return nx.descendants(self.g, node)

    def resolved_params(self, node: str, out_dir: Path | None = None) -> dict[str, Any]:
        """Every param of a node with defaults filled in and file paths made absolute.
        A file a render's patch names outside its folder (``outside``) is never handed to a
        node: validation refuses it first; this is the last guard (the editor's preview)."""
        n = self.nodes[node]
        refused = self._refused()
        out = {}
        for name, p in n.spec.params.items():
            v = n.param(name)
            if p.kind == "path" and isinstance(v, str) and v:
                if (node, name) in refused and refused[(node, name)][0] == v:
                    raise AfxError(refused[(node, name)][1], file=self.file, node=node,
                                   field=f"params.{name}")
                v = str(paths.resolve_asset(v, self.base_dir))
            elif p.kind == "output" and isinstance(v, str) and v:
                v = str(Path(v) if Path(v).is_absolute() else (out_dir or Path.cwd()) / v)
            out[name] = v
        return out

    def render_settings(self) -> settings_mod.RenderSettings:
        s, issues = settings_mod.from_patch(self.settings, self.file)
        if issues:
            raise PatchError(issues)
        return s

    # -- editing (the editor's API) -------------------------------------------------------
    def subscribe(self, fn: Callable[[str, str | None], None]) -> None:
        self._listeners.append(fn)

    def _changed(self, what: str, node: str | None) -> None:
        self.revision += 1
        for fn in list(self._listeners):
            fn(what, node)

    def new_id(self, type_id: str) -> str:
        base = type_id.split(".")[-1].replace("-", "_") or "node"
        if not NODE_ID.fullmatch(base):
            base = "node"
        for i in itertools.count(1):
            nid = base if i == 1 and base not in self.nodes else f"{base}{i}"
            if nid not in self.nodes:
                return nid

    def add_node(self, type_id: str, node_id: str | None = None, *, params: dict | None = None,
                 ui: dict | None = None) -> str:
        try:
            spec = self.registry.get(type_id)
        except UnknownNodeType as e:
            raise GraphEditError(str(e), field="type") from None
        nid = node_id or self.new_id(spec.id)
        if nid in self.nodes:
            raise GraphEditError(f"a node called '{nid}' already exists", node=nid)
        if not NODE_ID.fullmatch(nid):
            raise GraphEditError("node ids are letters, digits, '_' and '-'", node=nid)
        clean = {}
        for k, v in (params or {}).items():
            clean[k] = self._coerce(nid, spec, k, v)
        self.add_entry(nid, NodeEntry(spec.id, clean, {}, dict(ui or {}), spec.version))
        self._changed("add", nid)
        return nid

    def remove_node(self, node: str) -> None:
        self._need(node)
        self.g.remove_node(node)
        del self.nodes[node]
        self.dangling = {k: v for k, v in self.dangling.items() if k[0] != node}
        self._changed("remove", node)

    def set_param(self, node: str, name: str, value: Any) -> None:
        n = self._need(node)
        if n.spec is None:
            raise GraphEditError("unknown node type", node=node, field="type")
        if n.type == subpatch_mod.TYPE and name == subpatch_mod.SOURCE:
            raise GraphEditError("a subpatch's source is fixed (ungroup it, or add another)",
                                 node=node, field=f"params.{name}")
        n.params[name] = self._coerce(node, n.spec, name, value)
        self._changed("param", node)

    def set_mode(self, node: str, mode: str | None) -> None:
        """Bypass (the node passes its first input of each output's type through), mute
        (its outputs are zeros: black, silent, still) or None (it runs)."""
        if mode is not None and mode not in MODES:
            raise GraphEditError(f"mode is bypass or mute, got {mode!r}", node=node, field="mode")
        self._need(node).mode = mode
        self._changed("param", node)

    def reset_param(self, node: str, name: str) -> None:
        self._need(node).params.pop(name, None)
        self._changed("param", node)

    def set_settings(self, settings: dict) -> None:
        """Replace the patch's ``settings:`` (checked by validation, like params): a change
        like any other, so the revision tells a preview or a cache that it happened."""
        if dict(settings) != self.settings:
            self.settings = dict(settings)
            self._changed("settings", None)

    def set_ui(self, node: str, **ui) -> None:
        """Editor-only data (layout): no effect on rendering, no revision. None removes a key."""
        n = self._need(node)
        for k, v in ui.items():
            if v is None:
                n.ui.pop(k, None)
            else:
                n.ui[k] = v
        for fn in list(self._listeners):
            fn("ui", node)

    def set_patch_ui(self, key: str, value) -> None:
        """The patch's own editor-only data (``ui:`` at the top: frames): no effect on
        rendering, no revision. None removes the key."""
        if value is None:
            self.ui.pop(key, None)
        else:
            self.ui[key] = copy.deepcopy(value)
        for fn in list(self._listeners):
            fn("ui", None)

    def check_link(self, src: str, src_port: str, dst: str, dst_port: str) -> str | None:
        """Why this link cannot be made, or None if it can (type rule of the engine)."""
        for nid in (src, dst):
            if nid not in self.nodes:
                return f"there is no node '{nid}'"
            if self.nodes[nid].spec is None:
                return f"node '{nid}' has an unknown type"
        s, d = self.nodes[src].spec, self.nodes[dst].spec
        out = s.outputs.get(src_port)
        if out is None:
            return f"'{src}' has no output '{src_port}' (outputs: {', '.join(s.outputs) or 'none'})"
        in_type = d.input_type(dst_port)
        if in_type is None:
            return f"'{dst}' has no input '{dst_port}' (inputs: {', '.join(d.input_ports()) or 'none'})"
        if not in_type.accepts(out.type):
            return (f"{in_type} input '{dst_port}' of '{dst}' cannot take {out.type} "
                    f"from '{src}.{src_port}'")
        if src == dst or nx.has_path(self.g, dst, src):
            return f"linking {src}.{src_port} -> {dst}.{dst_port} would make a cycle"
        return None

    def connect(self, src: str, src_port: str, dst: str, dst_port: str) -> Link | None:
        """Link an output to an input, replacing what fed that input; returns the old link."""
        reason = self.check_link(src, src_port, dst, dst_port)
        if reason:
            raise GraphEditError(reason, node=dst, field=f"inputs.{dst_port}")
        old = self._unlink(dst, dst_port)
        self.g.add_edge(src, dst, key=dst_port, src_port=src_port)
        self._changed("link", dst)
        return old

    def disconnect(self, dst: str, dst_port: str) -> Link | None:
        old = self._unlink(dst, dst_port)
        if old:
            self._changed("unlink", dst)
        return old

    def _unlink(self, dst: str, dst_port: str) -> Link | None:
        old = self.link_into(dst, dst_port)
        if old:
            self.g.remove_edge(old.src, dst, key=dst_port)
        self.dangling.pop((dst, dst_port), None)
        return old

    def _need(self, node: str) -> GraphNode:
        if node not in self.nodes:
            raise GraphEditError(f"there is no node '{node}'", node=node)
        return self.nodes[node]

    def _coerce(self, node: str, spec: NodeSpec, name: str, value: Any) -> Any:
        p = spec.params.get(name)
        if p is None:
            raise GraphEditError(f"unknown param (params: {', '.join(spec.params) or 'none'})",
                                 node=node, field=f"params.{name}")
        try:
            return p.coerce(value)
        except ParamValueError as e:
            raise GraphEditError(str(e), node=node, field=f"params.{name}") from None

    def copy(self) -> "Graph":
        """An independent snapshot (for a worker thread to render while editing goes on)."""
        g = Graph.from_patch(self.to_patch(), self.registry)
        g.file_issues = list(self.file_issues)     # what loading found: refused all the same
        g.user_outputs = set(self.user_outputs)
        g.user_inputs = set(self.user_inputs)
        g.revision = self.revision
        g.read_from = self.read_from
        return g

    # -- back to plain data ---------------------------------------------------------------
    def to_patch(self) -> Patch:
        nodes = {}
        for nid, n in self.nodes.items():
            order = list(n.spec.params) if n.spec else []
            params = {k: n.params[k] for k in sorted(n.params, key=lambda k: (
                order.index(k) if k in order else len(order), k))}
            inputs = {}
            port_order = n.spec.input_ports() if n.spec else []
            links = self.inputs_of(nid)
            texts = {p: f"{l.src}.{l.src_port}" for p, l in links.items()}
            texts.update({p: t for (d, p), t in self.dangling.items() if d == nid})
            for p in sorted(texts, key=lambda p: (port_order.index(p) if p in port_order
                                                  else len(port_order), p)):
                inputs[p] = texts[p]
            nodes[nid] = NodeEntry(n.type, params, inputs, dict(n.ui), n.version, n.mode)
        inner = [(t, self.registry.get(t) if t in self.registry else None)
                 for t in inline_types(self.subpatches)]
        needs = requires_mod.of_nodes([(n.type, n.spec) for n in self.nodes.values()] + inner,
                                      self.registry, self.requires)
        return Patch(nodes, dict(self.settings), dict(self.meta), self.path, requires=needs,
                     ui=copy.deepcopy(self.ui), subpatches=copy.deepcopy(self.subpatches),
                     expose=copy.deepcopy(self.expose), outside=dict(self.outside))

    # -- validation -----------------------------------------------------------------------
    def validate(self, *, out_dir: Path | None = None, check_files: bool = True) -> list[Issue]:
        """Every problem in one pass, each naming the file, node and field."""
        f = self.file
        issues = list(self.file_issues)
        issues += settings_mod.from_patch(self.settings, f)[1]
        for nid, n in self.nodes.items():
            if n.spec is None and nid in self.subpatch_problems:
                issues.append(Issue(self.subpatch_problems[nid], f, nid,
                                    f"params.{subpatch_mod.SOURCE}"))
                continue
            if n.spec is None:
                hint = self.registry.suggest(n.type)
                pack = requires_mod.unknown_type_message(n.type, self.requires, self.registry)
                issues.append(Issue(pack or f"unknown node type '{n.type}'" +
                                    (f" (did you mean '{hint}'?)" if hint else ""), f, nid, "type"))
                continue
            if n.version > n.spec.version:
                issues.append(Issue(f"saved by a newer '{n.spec.id}' (version {n.version}; this afx "
                                    f"has version {n.spec.version})", f, nid, "version"))
            issues += self._param_issues(n, out_dir, check_files)
            issues += self._input_issues(n)
        for i, ((nid, port), text) in enumerate(self.dangling.items()):
            parsed = parse_link(text)
            if parsed is None:
                issues.append(Issue(f"{text!r} is not of the form node.port (e.g. music.audio)",
                                    f, nid, f"inputs.{port}"))
            else:    # a hint costs a pass over the nodes: only for the first few (linear)
                hint = self._suggest_node(parsed[0]) if i < SUGGEST_LINKS else None
                issues.append(Issue(f"links to '{text}' but there is no node '{parsed[0]}'" +
                                    (f" (did you mean '{hint}'?)" if hint else ""),
                                    f, nid, f"inputs.{port}"))
        issues += cycle_issues(self.g, f)
        if subpatch_mod.has_subpatches(self) and not self.subpatch_problems and not issues:
            issues += self._inner_issues(out_dir, check_files)
        return issues

    def _fed_from_outside(self) -> set[str]:
        """In a subpatch (its file, or the editor inside it): the 'node.port's its exposed
        inputs feed; the patch using it links them."""
        table = (self.expose or {}).get("inputs") if isinstance(self.expose, dict) else None
        out: set[str] = set()
        for targets in (table or {}).values() if isinstance(table, dict) else ():
            out.update(t for t in (targets if isinstance(targets, list) else [targets])
                       if isinstance(t, str))
        return out

    def _inner_issues(self, out_dir, check_files) -> list[Issue]:
        """Problems inside the subpatches, named by their path (node 'halo/blur')."""
        try:
            flat = flatten_mod.flatten(self)
        except PatchError as e:
            return list(e.issues)
        fed, stack = set(), [tuple(t.rsplit(".", 1)) for t in self._fed_from_outside() if "." in t]
        while stack:                  # this patch's own exposed inputs, through its subpatches
            node, port = stack.pop()
            if (node, port) in flat.feeds:
                stack += flat.feeds[(node, port)]
            else:
                fed.add((node, f"inputs.{port}"))
        return [i for i in flat.validate(out_dir=out_dir, check_files=check_files)
                if i.node and subpatch_mod.SEP in i.node and (i.node, i.field) not in fed]

    def _param_issues(self, n: GraphNode, out_dir, check_files) -> Iterator[Issue]:
        f, spec = self.file, n.spec
        for name, value in n.params.items():
            p = spec.params.get(name)
            if p is None:
                hint = _closest(name, spec.params)
                yield Issue(f"unknown param" + (f" (did you mean '{hint}'?)" if hint else
                                                f" (params: {', '.join(spec.params) or 'none'})"),
                            f, n.id, f"params.{name}")
                continue
            try:
                value = p.coerce(value)
            except ParamValueError as e:
                yield Issue(str(e), f, n.id, f"params.{name}")
                continue
        for name, p in spec.params.items():
            if name in n.params and not _coerces(p, n.params[name]):
                continue
            value = n.param(name)
            if p.kind == "output" and isinstance(value, str):
                problem = paths.output_problem(
                    value, out_dir or Path.cwd(), folder=p.folder,
                    from_patch=(n.id, name) not in self.user_outputs,
                    patch_dir=self.base_dir if self.path else None)
                if problem:
                    yield Issue(problem, f, n.id, f"params.{name}")
            elif p.kind == "path" and (n.id, name) in self.outside \
                    and self.outside[(n.id, name)][0] == value:
                yield Issue(self.outside[(n.id, name)][1], f, n.id, f"params.{name}")
            elif p.kind == "path" and p.required and not value:
                yield Issue("no file given", f, n.id, f"params.{name}")
            elif p.kind == "path" and check_files and isinstance(value, str) and value:
                path = paths.resolve_asset(value, self.base_dir)
                problem = paths.input_problem(path)
                if problem:
                    yield Issue(problem, f, n.id, f"params.{name}")

    def _input_issues(self, n: GraphNode) -> Iterator[Issue]:
        f, spec = self.file, n.spec
        links = self.inputs_of(n.id)
        for port, link in links.items():
            src = self.nodes[link.src]
            in_type = spec.input_type(port)
            if in_type is None:
                hint = _closest(port, spec.input_ports())
                yield Issue(f"unknown input port" + (f" (did you mean '{hint}'?)" if hint else
                                                     f" (inputs: {', '.join(spec.input_ports()) or 'none'})"),
                            f, n.id, f"inputs.{port}")
                continue
            if src.spec is None:
                continue  # reported on the source node
            out = src.spec.outputs.get(link.src_port)
            if out is None:
                yield Issue(f"'{link.src}' ({src.spec.id}) has no output '{link.src_port}' "
                            f"(outputs: {', '.join(src.spec.outputs) or 'none'})",
                            f, n.id, f"inputs.{port}")
                continue
            if not in_type.accepts(out.type):
                yield Issue(f"{in_type} input cannot take {out.type} from '{link.src}.{link.src_port}'",
                            f, n.id, f"inputs.{port}")
        fed = self._fed_from_outside()
        for name, i in spec.inputs.items():
            if not i.optional and name not in links and (n.id, name) not in self.dangling \
                    and f"{n.id}.{name}" not in fed:
                yield Issue(f"required input is not connected (needs {i.type})", f, n.id,
                            f"inputs.{name}")

    def _suggest_node(self, name: str) -> str | None:
        return _closest(name, self.nodes)

    def check(self, **kw) -> "Graph":
        """Raise PatchError with every issue if the graph is not valid."""
        issues = self.validate(**kw)
        if issues:
            raise PatchError(issues)
        return self


class FlatGraph(Graph):
    """A graph with its subpatches expanded (what ``subpatches.flatten.flatten`` returns):
    node ids ``outer/inner``; what is planned and run when a patch has subpatches."""

    def __init__(self, flattened_from: Graph):
        super().__init__(flattened_from.registry, path=flattened_from.path)
        self.flattened_from = flattened_from    # the graph as the user sees it
        # (subpatch node, output) -> (inner node, port) the output comes from
        self.exposed: dict[tuple[str, str], tuple[str, str]] = {}
        # (subpatch node, input or linkable param) -> the inner (node, port)s it feeds
        self.feeds: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def _refused(self) -> dict[tuple[str, str], tuple[str, str]]:
        return self.outside or self.flattened_from.outside


SUGGEST_LINKS = 20     # dangling links that get a "did you mean" hint


def _closest(name: str, options) -> str | None:
    import difflib
    best = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return best[0] if best else None


def _coerces(p, value) -> bool:
    try:
        p.coerce(value)
        return True
    except ParamValueError:
        return False


# -- cycles -------------------------------------------------------------------------------------
MAX_NAMED = 8      # node names listed in one cycle message before "and N more"


def cycle_issues(g: nx.MultiDiGraph, file: str) -> list[Issue]:
    """One issue per group of nodes that feed each other (a strongly connected component
    with a cycle, or a node linked into itself), naming its nodes and one shortest cycle
    through the first of them. Time and memory are linear in the patch: listing every simple
    cycle is not (a dense 30-node patch has billions of them)."""
    dg = nx.DiGraph(g)                  # parallel links between two nodes count once
    found = []
    for comp in nx.strongly_connected_components(dg):
        start = min(comp)
        if len(comp) == 1 and not dg.has_edge(start, start):
            continue
        ring = _shortest_cycle(dg, start, comp)
        edges = sum(1 for u in comp for v in dg.succ[u] if v in comp)
        if edges == len(comp):          # the group is exactly one ring: name it as it is
            msg = f"nodes {_ring_text(ring)} form a cycle"
        else:
            names = sorted(comp)
            listed = ", ".join(names[:MAX_NAMED])
            if len(names) > MAX_NAMED:
                listed += f" and {len(names) - MAX_NAMED} more"
            msg = (f"{len(comp)} nodes feed each other in cycles ({listed}), "
                   f"e.g. {_ring_text(ring)}")
        found.append(Issue(msg, file, start, "inputs"))
    return sorted(found, key=lambda i: i.node)


def _shortest_cycle(dg: nx.DiGraph, start: str, comp: set[str]) -> list[str]:
    """A shortest cycle through ``start`` inside its component, as [start, ..., start]:
    breadth-first, successors in name order so the answer does not depend on dict order."""
    from collections import deque
    parent: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for v in sorted(dg.succ[u]):
            if v == start:
                path = [u]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return path[::-1] + [start]
            if v in comp and v not in parent:
                parent[v] = u
                queue.append(v)
    raise AssertionError(f"no cycle through {start}")   # unreachable: comp is strongly connected


def _ring_text(ring: list[str]) -> str:
    """'a -> b -> a'; a long ring shows its first names, how many are left out, and its end."""
    nodes = ring[:-1]
    if len(nodes) <= MAX_NAMED:
        return " -> ".join(ring)
    head, hidden = nodes[:MAX_NAMED - 1], len(nodes) - MAX_NAMED
    return " -> ".join([*head, f"... ({hidden} more)", nodes[-1], ring[-1]])
