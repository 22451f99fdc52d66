"""Flattening: a graph with every subpatch node replaced by the nodes it holds (ids
``outer/inner``), for planning and validation.

This module sits below ``afx_graph.graph`` (it never imports it): it fills the empty
:class:`~afx_graph.graph.FlatGraph` that ``graph.flat_shell()`` hands it, through the graph's
public methods, so ``Graph.validate`` can check inside subpatches without an import cycle."""
from __future__ import annotations

import copy
from pathlib import Path

from afx_graph.errors import Issue, PatchError
from afx_graph.patchfile.patch import NodeEntry, parse_link
from afx_graph.spec import NodeSpec
from afx_graph.subpatches.definitions import (MAX_NODES, SEP, SOURCE, TYPE, Library,
                                              SubpatchError, _absolute_paths, _closest,
                                              expanded_size, spec_for)


def flatten(graph):
    """A graph with every subpatch node replaced by its nodes (ids ``outer/inner``), for
    planning and validation. Raises PatchError naming the node when one cannot be used."""
    flat = graph.flat_shell()             # a FlatGraph (afx_graph.graph), not yet filled
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
            flat.add_entry(full, e)
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
            flat.add_entry(nid, _entry_of(n))
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


def _entry_of(n):
    return NodeEntry(n.type, dict(n.params), {}, dict(n.ui), n.version, n.mode)


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


