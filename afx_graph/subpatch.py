"""Subpatches: a group of nodes used as one node, defined inline in a patch or in a patch file
of its own (a library of reusable pieces: editing that file updates every patch using it).

Format::

    subpatches:                     # inline definitions, by name
      glow:
        expose:
          inputs:  {image: [blur.image, mix.a]}   # what an outside link into 'image' feeds
          outputs: {image: mix.out}                # what a link out of 'image' takes
          params:  {radius: blur.radius}           # a param of the subpatch node sets these
        nodes:
          blur: {type: image.blur, params: {radius: 8}, inputs: {}}
          mix:  {type: image.blend, inputs: {b: blur.out}}
    nodes:
      halo:
        type: subpatch
        params: {source: "#glow", radius: 12}     # '#name': inline; else a patch file's path
        inputs: {image: field.image}

A subpatch file is a patch with ``expose:`` at its top (and, usually, no output node); its
relative paths (audio, looks, its own subpatch files) resolve against its own folder, and
its '#name' sources against its own ``subpatches:``.

The engine never plans a subpatch node: :func:`flatten` replaces each by its nodes, with ids
``halo/blur`` (so an error names its path: node 'halo/blur' params.radius), before planning;
a grouped patch renders the same frames at the same speed. A subpatch node's ports and
params (:func:`spec_for`) come from what it exposes. Refused: a definition that includes
itself (directly or through others), nesting deeper than :data:`MAX_DEPTH`, more than
:data:`MAX_NODES` nodes once flattened (a definition used twice in one used twice in ... is
exponential: each definition's spec and size are worked out once per library tree, and the
size is checked before anything is expanded), and a link across the boundary that would make a cycle (checked on the
subpatch node as a whole, like any node).
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import AfxError, Issue, PatchError
from .spec import In, NodeSpec, Out, Param, ParamValueError

TYPE = "subpatch"
SEP = "/"
SOURCE = "source"
MAX_DEPTH = 8
MAX_NODES = 4000
EXPOSE_KEYS = ("inputs", "outputs", "params")


class SubpatchError(Exception):
    """Why a subpatch cannot be used (the message names the definition)."""


class _Subpatch:
    """The class of every synthesized subpatch spec: it never runs (flatten replaces it)."""

    def process(self, ctx, **values):      # pragma: no cover - flatten runs first
        raise RuntimeError("a subpatch node is flattened before it runs")


@dataclass
class Definition:
    source: str                          # as referenced: '#glow' or 'lib/glow.yaml'
    where: str                           # for messages: 'patch.yaml#glow', 'lib/glow.yaml'
    base_dir: Path                       # its relative paths resolve here
    nodes: dict                          # id -> NodeEntry
    inputs: dict[str, list[tuple[str, str]]]
    outputs: dict[str, tuple[str, str]]
    params: dict[str, list[tuple[str, str]]]
    library: "Library"                   # where its own '#name' sources resolve
    key: tuple                           # identity, for self-inclusion checks
    meta: dict = field(default_factory=dict)


class Library:
    """The definitions one document can name: its inline ``subpatches:`` and files beside
    it. Files are read once per library tree (``cache``)."""

    def __init__(self, inline: dict | None, base_dir: Path, file: str,
                 cache: dict | None = None, ident: str | None = None):
        self.inline = inline if isinstance(inline, dict) else {}
        self.base_dir = Path(base_dir)
        self.file = file                 # for messages: as the patch names it
        self.ident = ident or file       # for identity: two files never share one
        self.cache = cache if cache is not None else {}

    def resolve(self, source: Any, chain: tuple = ()) -> Definition:
        if not isinstance(source, str) or not source.strip():
            raise SubpatchError("a subpatch needs a source: '#name' of a definition in this "
                                "patch's subpatches, or the path of a subpatch file")
        if len(chain) >= MAX_DEPTH:
            raise SubpatchError(f"subpatches nest more than {MAX_DEPTH} deep "
                                f"({' -> '.join(_name(k) for k in chain)})")
        if source.startswith("#"):
            name = source[1:]
            key = (self.ident, name)
            raw = self.inline.get(name)
            if raw is None:
                known = ", ".join(f"#{n}" for n in self.inline) or "none"
                raise SubpatchError(f"no subpatch '{source}' in {self.file} (defined: {known})")
            where = f"{self.file}{source}"
            base, library, meta = self.base_dir, self, {}
        else:
            try:
                path = (self.base_dir / os.path.expanduser(source)).resolve()
            except (RuntimeError, OSError, ValueError) as e:     # a symlink loop, a NUL
                raise SubpatchError(f"subpatch file {source}: cannot be read ({e})") from None
            key = (str(path), "")
            where = source
            raw, library, meta = self._file(path, source)
            base = path.parent
        if key in chain:
            names = [_name(k) for k in chain] + [_name(key)]
            raise SubpatchError(f"subpatch '{source}' includes itself ({' -> '.join(names)})")
        # one Definition per definition and library tree: a definition used many times (in
        # one used many times...) is read once, not once per use (that was exponential)
        memo = self.cache.setdefault(_DEFINITIONS, {})
        got = memo.get((key, source))
        if got is not None and got[0] is raw:
            return got[1]
        d = _definition(source, where, base, raw, library, key, meta)
        memo[(key, source)] = (raw, d)
        return d

    def _file(self, path: Path, source: str):
        from .patch import load_patch
        if str(path) not in self.cache:
            try:
                p = load_patch(path)
            except PatchError as e:
                self.cache[str(path)] = SubpatchError(f"subpatch file {source}: {e.lines[0]}")
            else:
                if p.issues:
                    i = p.issues[0]
                    where = (f"node '{i.node}' " if i.node else "") + (f"{i.field}: " if i.field else "")
                    self.cache[str(path)] = SubpatchError(
                        f"subpatch file {source}: {where}{i.message}")
                elif not isinstance(p.expose, dict):
                    self.cache[str(path)] = SubpatchError(
                        f"{source} is a patch, not a subpatch file (it has no 'expose:')")
                else:
                    lib = Library(p.subpatches, path.parent, source, self.cache, str(path))
                    self.cache[str(path)] = ({"expose": p.expose, "nodes": p.nodes}, lib, p.meta)
        got = self.cache[str(path)]
        if isinstance(got, SubpatchError):
            raise got
        return got


def _name(key: tuple) -> str:
    """A definition's name in a message: '#name' inline, the file's name for a file."""
    return f"#{key[1]}" if key[1] else Path(key[0]).name


def _definition(source, where, base, raw, library, key, meta) -> Definition:
    from .patch import NodeEntry, from_data
    if not isinstance(raw, dict):
        raise SubpatchError(f"subpatch {where}: a definition is a mapping with 'expose' and 'nodes'")
    nodes = raw.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        raise SubpatchError(f"subpatch {where}: it has no nodes")
    if not all(isinstance(e, NodeEntry) for e in nodes.values()):       # raw, from a patch
        parsed = from_data({"afx": 1, "nodes": nodes}, path=None)
        if parsed.issues:
            i = parsed.issues[0]
            raise SubpatchError(f"subpatch {where}: node '{i.node}' {i.field or ''}: {i.message}"
                                .replace(" : ", ": "))
        entries = parsed.nodes
    else:                               # already NodeEntry objects (a file read by load_patch)
        entries = nodes
    expose = raw.get("expose")
    if expose is None:
        expose = {}
    if not isinstance(expose, dict):
        raise SubpatchError(f"subpatch {where}: expose is a mapping with inputs, outputs, params")
    bad = [k for k in expose if k not in EXPOSE_KEYS]
    if bad:
        raise SubpatchError(f"subpatch {where}: expose has '{bad[0]}' (expected inputs, outputs, params)")

    def targets(kind: str, many: bool):
        out = {}
        table = expose.get(kind) or {}
        if not isinstance(table, dict):
            raise SubpatchError(f"subpatch {where}: expose.{kind} is a mapping of name -> node.port")
        for name, value in table.items():
            name = str(name)
            if name == SOURCE:
                raise SubpatchError(f"subpatch {where}: expose.{kind}: '{SOURCE}' is taken "
                                    "(it names the subpatch)")
            items = value if isinstance(value, list) else [value]
            pairs = []
            for v in items:
                if not isinstance(v, str) or v.count(".") < 1:
                    raise SubpatchError(f"subpatch {where}: expose.{kind}.{name}: {v!r} is not "
                                        "node.port")
                node, port = v.rsplit(".", 1)
                if node not in entries:
                    raise SubpatchError(f"subpatch {where}: expose.{kind}.{name} names no node "
                                        f"'{node}'")
                pairs.append((node, port))
            if not pairs or (not many and len(pairs) != 1):
                raise SubpatchError(f"subpatch {where}: expose.{kind}.{name} names "
                                    f"{'one node.port' if not many else 'node.port items'}")
            out[name] = pairs if many else pairs[0]
        return out

    return Definition(source, where, base, entries, targets("inputs", True),
                      targets("outputs", False), targets("params", True), library, key, meta)


# -- specs -------------------------------------------------------------------------------------
_DEFINITIONS = ("memo", "definitions")   # Library.cache keys besides the files' paths
_SHAPES = ("memo", "shapes")


@dataclass(frozen=True)
class _Shape:
    """What a definition makes, worked out once per definition (not once per use)."""
    spec: NodeSpec
    size: int            # its nodes once flattened, nested subpatch nodes included
    height: int          # levels of definitions: 1 holds no subpatch, 2 holds one of those...


def entry_spec(entry, library: Library, registry, chain: tuple = ()) -> NodeSpec:
    """The spec of a node entry: the registry's, or the one a subpatch's definition makes.
    A subpatch over :data:`MAX_NODES` nodes once flattened is refused here, from the sizes of
    its definitions (each worked out once), before anything is expanded."""
    return _entry_shape(entry, library, registry, chain)[0]


def expanded_size(entry, library: Library, registry, chain: tuple = ()) -> int:
    """How many nodes ``entry`` stands for once flattened (1 for a plain node)."""
    return _entry_shape(entry, library, registry, chain)[1]


def _entry_shape(entry, library: Library, registry, chain: tuple) -> tuple[NodeSpec, int, int]:
    if entry.type != TYPE:
        return registry.get(entry.type), 1, 0
    d = library.resolve(entry.params.get(SOURCE), chain)
    shape = _shape(d, registry, chain + (d.key,))
    return shape.spec, 1 + shape.size, shape.height


def spec_for(d: Definition, registry, chain: tuple = ()) -> NodeSpec:
    """The ports and params of a subpatch node: those its definition exposes, typed by the
    nodes inside (an exposed input feeding several ports is optional only if all are)."""
    return _shape(d, registry, chain).spec


def _shape(d: Definition, registry, chain: tuple) -> _Shape:
    """``chain``: the definitions from the top down to ``d``, ``d`` included."""
    memo = d.library.cache.setdefault(_SHAPES, {})
    got = memo.get((d.key, d.source))
    if got is not None and got[0] is d and got[1] is registry:
        shape = got[2]
        # what held as a part of one definition holds as a part of another, unless it now
        # nests too deep (then work it out again, to name the chain that does)
        if shape.height < 2 or len(chain) + shape.height - 2 < MAX_DEPTH:
            return shape
    shape = _work_out(d, registry, chain)
    memo[(d.key, d.source)] = (d, registry, shape)
    return shape


def _work_out(d: Definition, registry, chain: tuple) -> _Shape:
    specs = {}
    size, height = 0, 1

    def inner(node: str) -> NodeSpec:
        nonlocal size, height
        if node not in specs:
            try:
                spec, n, h = _entry_shape(d.nodes[node], d.library, registry, chain)
            except KeyError as e:       # an unknown type inside
                raise SubpatchError(f"subpatch {d.where}: node '{node}': {e.args[0] if e.args else e}") from None
            specs[node] = spec
            size, height = size + n, max(height, h + 1)
        return specs[node]

    for node in d.nodes:
        if inner(node).sink:
            raise SubpatchError(f"subpatch {d.where}: '{node}' is an output; a subpatch holds "
                                "no output node (link its picture out and render it outside)")
    if size > MAX_NODES:
        through = " -> ".join(_name(k) for k in chain[:-1])
        raise SubpatchError(f"more than {MAX_NODES} nodes once subpatches are expanded: "
                            f"subpatch {d.where} alone is {size}"
                            + (f" (used through {through})" if through else ""))
    inputs = {}
    for name, pairs in d.inputs.items():
        types, optional = [], True
        for node, port in pairs:
            s = inner(node)
            t = s.input_type(port)
            if t is None:
                raise SubpatchError(f"subpatch {d.where}: expose.inputs.{name}: '{node}' has no "
                                    f"input '{port}'")
            types.append(t)
            decl = s.inputs.get(port)
            optional = optional and (decl is None or decl.optional)
        inputs[name] = In(types[0], optional=optional, doc=f"into {', '.join(f'{n}.{p}' for n, p in pairs)}",
                          name=name)
    outputs = {}
    for name, (node, port) in d.outputs.items():
        o = inner(node).outputs.get(port)
        if o is None:
            raise SubpatchError(f"subpatch {d.where}: expose.outputs.{name}: '{node}' has no "
                                f"output '{port}'")
        outputs[name] = Out(o.type, doc=f"from {node}.{port}", name=name)
    params = {SOURCE: Param(str, d.source, doc="the definition: '#name' in this patch, or a "
                                              "subpatch file", linkable=False, name=SOURCE)}
    for name, pairs in d.params.items():
        node, pname = pairs[0]
        p = inner(node).params.get(pname)
        if p is None:
            raise SubpatchError(f"subpatch {d.where}: expose.params.{name}: '{node}' has no "
                                f"param '{pname}'")
        value = d.nodes[node].params.get(pname, p.default)
        try:
            value = p.coerce(value)
        except ParamValueError:     # the inner node's own check reports it
            value = p.default
        params[name] = replace(p, default=value, name=name,
                               doc=p.doc or f"{node}.{pname}")
    title = d.meta.get("name") if isinstance(d.meta.get("name"), str) else d.source.lstrip("#")
    spec = NodeSpec(id=TYPE, cls=_Subpatch, category="Subpatch", version=1,
                    doc=f"{title}\n\nSubpatch {d.where}: {len(d.nodes)} nodes.",
                    inputs=inputs, outputs=outputs, params=params, rate="static")
    return _Shape(spec, size, height)


# -- flattening --------------------------------------------------------------------------------
def inline_types(subpatches) -> list[str]:
    """The node types the inline definitions use (for ``requires``: a pack used only inside
    a subpatch is needed all the same)."""
    out = []
    for raw in (subpatches or {}).values() if isinstance(subpatches, dict) else ():
        nodes = raw.get("nodes") if isinstance(raw, dict) else None
        for e in (nodes or {}).values() if isinstance(nodes, dict) else ():
            t = e.get("type") if isinstance(e, dict) else e if isinstance(e, str) else None
            if isinstance(t, str) and t != TYPE:
                out.append(t)
    return out


def has_subpatches(graph) -> bool:
    return any(n.type == TYPE for n in graph.nodes.values())


def flatten(graph):
    """A graph with every subpatch node replaced by its nodes (ids ``outer/inner``), for
    planning and validation. Raises PatchError naming the node when one cannot be used."""
    from .graph import Graph
    from .patch import parse_link
    flat = Graph(graph.registry, path=graph.path)
    flat.meta, flat.settings = dict(graph.meta), dict(graph.settings)
    flat.user_outputs = set(graph.user_outputs)
    flat.requires = graph.requires
    flat.revision = graph.revision
    flat.flattened_from = graph
    library = graph.library()
    outs: dict[tuple[str, str], tuple[str, str]] = {}     # (subpatch, output) -> inner source
    ins: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (subpatch, input) -> inner targets
    count = [0]
    subpatch_specs: dict[str, NodeSpec] = {}      # the subpatch nodes flattened away, by path
    inside: dict[str, tuple[str, list[str]]] = {}   # their prefix -> (definition, its node ids)

    def add(nid: str, entry, lib: Library, base: Path, chain: tuple, prefix: str) -> None:
        count[0] += 1
        if count[0] > MAX_NODES:
            raise SubpatchError(f"more than {MAX_NODES} nodes once subpatches are expanded")
        full = prefix + nid
        if entry.type != TYPE:
            e = copy.copy(entry)
            e.params = _absolute_paths(entry, graph.registry, base, graph.base_dir)
            flat._insert(full, e)
            return
        d = lib.resolve(entry.params.get(SOURCE), chain)
        spec = spec_for(d, graph.registry, chain + (d.key,))      # checks what it exposes
        subpatch_specs[full] = spec
        inside[full + SEP] = (d.where, list(d.nodes))
        overrides: dict[str, dict] = {}      # the values this node sets on exposed params
        for name, pairs in d.params.items():
            if name in entry.params:
                for node, pname in pairs:
                    overrides.setdefault(node, {})[pname] = entry.params[name]
        for inner_id, inner in d.nodes.items():
            if inner_id in overrides:
                inner = copy.copy(inner)
                inner.params = {**inner.params, **overrides[inner_id]}
            add(inner_id, inner, d.library, d.base_dir, chain + (d.key,), full + SEP)
        for name, (node, port) in d.outputs.items():
            outs[(full, name)] = (full + SEP + node, port)
        for name, pairs in d.inputs.items():
            ins[(full, name)] = [(full + SEP + n, p) for n, p in pairs]
        for name, pairs in d.params.items():       # a link into an exposed (linkable) param
            if spec.params[name].linkable:
                ins[(full, name)] = [(full + SEP + n, p) for n, p in pairs]
        links.extend((full + SEP + dst, port, src_text, full + SEP)
                     for dst, e in d.nodes.items() for port, src_text in e.inputs.items())

    total, over = 0, None       # the size from each definition's, before expanding any
    for nid, n in graph.nodes.items():
        try:
            total += expanded_size(_entry_of(n), library, graph.registry) \
                if n.type == TYPE else 1
        except SubpatchError as e:
            raise PatchError([Issue(str(e), graph.file, nid, f"params.{SOURCE}")]) from None
        if total > MAX_NODES and over is None:
            over = nid
    if over is not None:
        raise PatchError([Issue(f"more than {MAX_NODES} nodes once subpatches are expanded "
                                f"({total} in all)", graph.file, over, f"params.{SOURCE}")])
    links: list[tuple[str, str, str, str]] = []          # (dst, port, "src.port", prefix)
    for nid, n in graph.nodes.items():
        if n.type == TYPE:
            entry = _entry_of(n)
            try:
                add(nid, entry, library, graph.base_dir, (), "")
            except SubpatchError as e:
                raise PatchError([Issue(str(e), graph.file, nid, f"params.{SOURCE}")]) from None
        else:
            flat._insert(nid, _entry_of(n))
    for l in graph.links():
        links.append((l.dst, l.dst_port, f"{l.src}.{l.src_port}", ""))

    def source(node: str, port: str) -> tuple[str, str]:
        seen = 0
        while (node, port) in outs:
            node, port = outs[(node, port)]
            seen += 1
            if seen > MAX_NODES:
                break
        return node, port

    def targets(node: str, port: str) -> list[tuple[str, str]]:
        if (node, port) not in ins:
            return [(node, port)]
        out = []
        for n, p in ins[(node, port)]:
            out += targets(n, p)
        return out

    flat.exposed = {k: source(*v) for k, v in outs.items()}    # (subpatch, output) -> inner
    flat.feeds = ins                        # (subpatch, input or param) -> what it feeds
    hinted = 0
    for dst, port, text, prefix in links:
        # a link inside a definition that leads nowhere is the flat graph's to report (by its
        # path: node 'halo/blur' inputs.radius), as the same link outside would be; links of
        # the patch itself were checked on it
        parsed = parse_link(text) if prefix else tuple(text.rsplit(".", 1))
        problem = None
        if parsed is None:
            problem = f"{text!r} is not of the form node.port (e.g. music.audio)"
        elif prefix and (prefix + parsed[0]) not in flat.nodes \
                and (prefix + parsed[0]) not in subpatch_specs:
            where, names = inside[prefix]
            hinted += 1         # a hint costs a pass over the names: the first few (linear)
            hint = _closest(parsed[0], names) if hinted <= 20 else None
            problem = (f"links to '{text}' but subpatch {where} has no node '{parsed[0]}'" +
                       (f" (did you mean '{hint}'?)" if hint else
                        " (a subpatch links only its own nodes; expose an input for the rest)"
                        if hinted <= 20 else ""))
        if problem:
            flat.file_issues.append(Issue(problem, graph.file, dst, f"inputs.{port}"))
            continue
        src_node, src_port = source(prefix + parsed[0], parsed[1])
        if src_node not in flat.nodes:
            if prefix and src_node in subpatch_specs:
                outs_ = ", ".join(subpatch_specs[src_node].outputs) or "none"
                flat.file_issues.append(Issue(
                    f"'{parsed[0]}' (subpatch) has no output '{src_port}' (outputs: {outs_})",
                    graph.file, dst, f"inputs.{port}"))
            continue
        for d_node, d_port in targets(dst, port):
            if d_node in flat.nodes:
                flat.g.add_edge(src_node, d_node, key=d_port, src_port=src_port)
            elif prefix and d_node in subpatch_specs:
                ports = ", ".join(subpatch_specs[d_node].input_ports()) or "none"
                flat.file_issues.append(Issue(f"unknown input port (inputs: {ports})",
                                              graph.file, d_node, f"inputs.{d_port}"))
    return flat


def _closest(name: str, options) -> str | None:
    import difflib
    best = difflib.get_close_matches(name, list(options)[:1000], n=1, cutoff=0.6)
    return best[0] if best else None


def _entry_of(n):
    from .patch import NodeEntry
    return NodeEntry(n.type, dict(n.params), {}, dict(n.ui), n.version)


def _absolute_paths(entry, registry, base: Path, top: Path) -> dict:
    """An inner node's params with its relative input-file paths made absolute when its
    definition lives in another folder than the patch (they were relative to its file)."""
    params = dict(entry.params)
    if Path(base) == Path(top):
        return params
    try:
        spec = registry.get(entry.type)
    except (KeyError, TypeError):           # unknown type (or none): validation says so
        return params
    for name, p in spec.params.items():
        v = params.get(name)
        if p.kind == "path" and isinstance(v, str) and v and not os.path.isabs(os.path.expanduser(v)):
            params[name] = str((Path(base) / v).resolve())
    return params


def flattened_with_targets(graph, targets):
    """:func:`flatten`, and ``targets`` in it: a subpatch node stands for the nodes its
    outputs come from."""
    flat = flatten(graph)
    if targets is None:
        return flat, None
    out = []
    for t in targets:
        if t in graph.nodes and graph.nodes[t].type == TYPE:
            out += [n for (s, _), (n, _) in flat.exposed.items() if s == t and n in flat.nodes]
        else:
            out.append(t)
    return flat, list(dict.fromkeys(out))


def inner_source(flat, node: str, port: str) -> tuple[str, str]:
    """Where an output of a (top-level) subpatch node comes from in the flattened graph."""
    return flat.exposed.get((node, port), (node, port))


# -- grouping ----------------------------------------------------------------------------------
def _unique(base: str, taken) -> str:
    if base not in taken:
        return base
    i = 2
    while f"{base}{i}" in taken:
        i += 1
    return f"{base}{i}"


def _split(text) -> tuple[str, str] | None:
    if isinstance(text, str) and "." in text:
        node, port = text.rsplit(".", 1)
        return node, port
    return None


def group(patch, ids, registry, name: str = "group"):
    """``patch`` with the nodes ``ids`` moved into a new inline subpatch ``#name`` and one
    subpatch node in their place: a link from outside into them becomes an exposed input,
    a link from them to outside an exposed output. Returns (new patch, the node's id).
    Output nodes stay outside (a subpatch holds no render target)."""
    from .patch import NodeEntry, node_data
    p = copy.deepcopy(patch)
    ids = [i for i in dict.fromkeys(ids) if i in p.nodes]
    if not ids:
        raise SubpatchError("select the nodes to group")
    for i in ids:
        e = p.nodes[i]
        try:
            spec = entry_spec(e, Library(p.subpatches, p.base_dir, p.file), registry)
        except (SubpatchError, AfxError, KeyError, TypeError):   # a broken node: not an output
            spec = None
        if spec is not None and spec.sink:
            raise SubpatchError(f"'{i}' is an output: a subpatch holds no output node")
    inside = set(ids)
    name = _unique(name, set(p.subpatches))
    nid = _unique(name, set(p.nodes))
    expose_in: dict[str, list[str]] = {}
    by_source: dict[str, str] = {}
    outer_inputs: dict[str, str] = {}
    inner_nodes = {}
    for i in ids:
        e = copy.deepcopy(p.nodes[i])
        kept = {}
        for port, text in e.inputs.items():
            src = _split(text)
            if src and src[0] in inside:
                kept[port] = text
                continue
            if text not in by_source:
                by_source[text] = _unique(port, set(expose_in))
                outer_inputs[by_source[text]] = text
            expose_in.setdefault(by_source[text], []).append(f"{i}.{port}")
        e.inputs = kept
        inner_nodes[i] = node_data(e)
    expose_out: dict[str, str] = {}
    by_inner: dict[str, str] = {}
    for j, e in p.nodes.items():
        if j in inside:
            continue
        for port, text in list(e.inputs.items()):
            src = _split(text)
            if src and src[0] in inside:
                if text not in by_inner:
                    by_inner[text] = _unique(src[1], set(expose_out))
                    expose_out[by_inner[text]] = text
                e.inputs[port] = f"{nid}.{by_inner[text]}"
    positions = [p.nodes[i].ui.get("pos") for i in ids]
    positions = [q for q in positions if isinstance(q, list) and len(q) == 2
                 and all(isinstance(v, (int, float)) for v in q)]
    ui = {"pos": [round(sum(q[0] for q in positions) / len(positions)),
                  round(sum(q[1] for q in positions) / len(positions))]} if positions else {}
    expose_params: dict[str, list[str]] = {}
    if isinstance(p.expose, dict):
        # grouping inside a subpatch: what it exposes of these nodes goes through the group
        for kind, table in p.expose.items():
            if not isinstance(table, dict):
                continue
            for name_, targets in table.items():
                many = isinstance(targets, list)
                new_targets = []
                for t in targets if many else [targets]:
                    src = _split(t)
                    if not (src and src[0] in inside):
                        new_targets.append(t)
                        continue
                    if kind == "outputs":
                        if t not in by_inner:
                            by_inner[t] = _unique(src[1], set(expose_out))
                            expose_out[by_inner[t]] = t
                        new_targets.append(f"{nid}.{by_inner[t]}")
                    else:
                        bucket = expose_in if kind == "inputs" else expose_params
                        inner_name = _unique(src[1], set(expose_in) | set(expose_params))
                        bucket[inner_name] = [t]
                        new_targets.append(f"{nid}.{inner_name}")
                table[name_] = new_targets if many else new_targets[0]
    expose: dict[str, Any] = {}
    if expose_in:
        expose["inputs"] = {k: v[0] if len(v) == 1 else v for k, v in expose_in.items()}
    if expose_out:
        expose["outputs"] = dict(expose_out)
    if expose_params:
        expose["params"] = {k: v[0] if len(v) == 1 else v for k, v in expose_params.items()}
    p.subpatches[name] = {"expose": expose, "nodes": inner_nodes}
    node = NodeEntry(TYPE, {SOURCE: f"#{name}"}, outer_inputs, ui)
    first = ids[0]
    p.nodes = {k: (node if k == first else v) for k, v in p.nodes.items() if k not in inside or k == first}
    p.nodes = {(nid if k == first else k): v for k, v in p.nodes.items()}
    from .graph import Graph, cycle_issues
    loops = cycle_issues(Graph.from_patch(p, registry).g, p.file)
    if loops:
        between = sorted({l.src for l in Graph.from_patch(patch, registry).links()
                          if l.dst in inside and l.src not in inside} &
                         {l.dst for l in Graph.from_patch(patch, registry).links()
                          if l.src in inside and l.dst not in inside})
        raise SubpatchError("grouping these would make a loop through the subpatch"
                            + (f": {', '.join(between)} takes from them and feeds them; group "
                               "it too" if between else ""))
    return p, nid


def ungroup(patch, nid: str, registry):
    """``patch`` with the subpatch node ``nid`` replaced by the nodes of its definition
    (their own ids where free), linked as the subpatch was, its param values set on the
    nodes they drive. An inline definition no other node uses goes too. Returns (new patch,
    the new ids)."""
    p = copy.deepcopy(patch)
    entry = p.nodes.get(nid)
    if entry is None or entry.type != TYPE:
        raise SubpatchError(f"'{nid}' is not a subpatch")
    lib = Library(p.subpatches, p.base_dir, p.file)
    d = lib.resolve(entry.params.get(SOURCE))
    spec = spec_for(d, registry, (d.key,))
    taken = set(p.nodes) - {nid}
    new_id = {}
    for i in d.nodes:
        new_id[i] = _unique(i if i not in taken else f"{nid}_{i}", taken)
        taken.add(new_id[i])
    overrides: dict[str, dict] = {}
    for name, pairs in d.params.items():
        if name in entry.params:
            for node, pname in pairs:
                overrides.setdefault(node, {})[pname] = entry.params[name]
    feeds: dict[str, list[tuple[str, str]]] = {k: list(v) for k, v in d.inputs.items()}
    for name, pairs in d.params.items():
        if spec.params[name].linkable:
            feeds[name] = list(pairs)
    pos = entry.ui.get("pos") if isinstance(entry.ui.get("pos"), list) else None
    inner_pos = [e.ui.get("pos") for e in d.nodes.values() if isinstance(e.ui.get("pos"), list)]
    shift = None
    if pos and inner_pos:
        cx = sum(q[0] for q in inner_pos) / len(inner_pos)
        cy = sum(q[1] for q in inner_pos) / len(inner_pos)
        shift = (pos[0] - cx, pos[1] - cy)
    added = {}
    for i, e in d.nodes.items():
        e = copy.deepcopy(e)
        e.params = {**_relative_paths(e, registry, d.base_dir, p.base_dir),
                    **overrides.get(i, {})}
        e.inputs = {port: f"{new_id[s[0]]}.{s[1]}" if (s := _split(t)) and s[0] in new_id else t
                    for port, t in e.inputs.items()}
        if shift and isinstance(e.ui.get("pos"), list):
            e.ui["pos"] = [round(e.ui["pos"][0] + shift[0]), round(e.ui["pos"][1] + shift[1])]
        added[new_id[i]] = e
    for port, text in entry.inputs.items():
        for node, inner_port in feeds.get(port, []):
            added[new_id[node]].inputs[inner_port] = text
    for j, e in p.nodes.items():
        if j == nid:
            continue
        for port, text in list(e.inputs.items()):
            s = _split(text)
            if s and s[0] == nid and s[1] in d.outputs:
                node, out = d.outputs[s[1]]
                e.inputs[port] = f"{new_id[node]}.{out}"
    nodes = {}
    for k, v in p.nodes.items():
        if k == nid:
            nodes.update(added)
        else:
            nodes[k] = v
    p.nodes = nodes
    source = entry.params.get(SOURCE)
    if isinstance(source, str) and source.startswith("#") and not any(
            e.type == TYPE and e.params.get(SOURCE) == source for e in p.nodes.values()):
        p.subpatches.pop(source[1:], None)
    return p, list(added)


def _relative_paths(entry, registry, base: Path, top: Path) -> dict:
    """Input-file paths of a node from a definition in ``base``, relative to ``top``."""
    params = dict(entry.params)
    if Path(base) == Path(top):
        return params
    for name, v in _absolute_paths(entry, registry, base, top).items():
        if v != params.get(name):
            params[name] = os.path.relpath(v, top)
    return params


# -- one file for sharing ----------------------------------------------------------------------
def expose_data(d: Definition) -> dict:
    """What a definition exposes, as the file holds it."""
    out: dict[str, Any] = {}
    if d.inputs:
        out["inputs"] = {k: f"{v[0][0]}.{v[0][1]}" if len(v) == 1 else [f"{n}.{p}" for n, p in v]
                         for k, v in d.inputs.items()}
    if d.outputs:
        out["outputs"] = {k: f"{n}.{p}" for k, (n, p) in d.outputs.items()}
    if d.params:
        out["params"] = {k: f"{v[0][0]}.{v[0][1]}" if len(v) == 1 else [f"{n}.{p}" for n, p in v]
                         for k, v in d.params.items()}
    return out


def self_contained(patch, registry):
    """``patch`` with every subpatch it uses, from files too (and theirs), as inline
    definitions of its own, their input-file paths relative to its folder: one file that
    needs no other patch file (what ``afx pack`` stores). Raises SubpatchError."""
    import re

    from .patch import node_data
    p = copy.deepcopy(patch)
    top = Library(p.subpatches, p.base_dir, p.file)
    defs: dict[str, Any] = {}
    named: dict[tuple, str] = {}

    def bring(source, library: Library, chain: tuple) -> str:
        d = library.resolve(source, chain)
        if d.key in named:
            return "#" + named[d.key]
        if library is top and isinstance(source, str) and source.startswith("#"):
            name = source[1:]                   # the patch's own: its name stays
        else:
            stem = Path(d.key[0]).stem if not d.key[1] else d.key[1]
            base = re.sub(r"[^A-Za-z0-9_-]", "_", stem) or "sub"
            base = base if base[0].isalpha() or base[0] == "_" else f"s_{base}"
            name = _unique(base, set(defs) | set(top.inline))
        named[d.key] = name
        defs[name] = None                       # taken while its own subpatches are brought
        nodes = {}
        for i, e in d.nodes.items():
            e = copy.deepcopy(e)
            e.params = _relative_paths(e, registry, d.base_dir, Path(p.base_dir))
            if e.type == TYPE:
                e.params[SOURCE] = bring(e.params.get(SOURCE), d.library, chain + (d.key,))
            nodes[i] = node_data(e)
        defs[name] = {"expose": expose_data(d), "nodes": nodes}
        return "#" + name

    for nid, e in p.nodes.items():
        if e.type == TYPE:
            try:
                e.params[SOURCE] = bring(e.params.get(SOURCE), top, ())
            except SubpatchError as err:
                raise SubpatchError(f"node '{nid}': {err}") from None
    p.subpatches = {k: v for k, v in defs.items() if v is not None}
    return p
