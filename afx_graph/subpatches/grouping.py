"""Grouping nodes into a subpatch and ungrouping one (the editor's Group and Ungroup): patch
edits above the graph (a group must not make a cycle, which takes a graph to see)."""
from __future__ import annotations

import copy
from typing import Any

from afx_graph.errors import AfxError
from afx_graph.graph import Graph, cycle_issues
from afx_graph.subpatches.definitions import (SOURCE, TYPE, Library, SubpatchError,
                                              _relative_paths, _unique, entry_spec, spec_for)


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
    from afx_graph.patchfile.patch import NodeEntry, node_data
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


