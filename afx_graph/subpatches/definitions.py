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

from afx_graph.errors import PatchError
from afx_graph.patchfile.patch import SUBPATCH_TYPE
from afx_graph.spec import In, NodeSpec, Out, Param, ParamValueError

TYPE = SUBPATCH_TYPE
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
        from afx_graph.patchfile.patch import read_patch
        if str(path) not in self.cache:
            try:
                p = read_patch(path)
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
    from afx_graph.patchfile.patch import NodeEntry, from_data
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
def has_subpatches(graph) -> bool:
    return any(n.type == TYPE for n in graph.nodes.values())


def _closest(name: str, options) -> str | None:
    import difflib
    best = difflib.get_close_matches(name, list(options)[:1000], n=1, cutoff=0.6)
    return best[0] if best else None


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


def _unique(base: str, taken) -> str:
    if base not in taken:
        return base
    i = 2
    while f"{base}{i}" in taken:
        i += 1
    return f"{base}{i}"


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

    from afx_graph.patchfile.patch import node_data
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
