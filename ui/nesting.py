"""Subpatches in the editor: group the selection into one, ungroup one, and enter one to edit
what it holds, then leave it (the breadcrumb shows where: ``demo.yaml > rhythm``).

Entering an inline definition (``#name``) edits a graph made from it; leaving folds the
edits back into the patch as one undo step (so the subpatch node's ports follow what it
now exposes). Entering a subpatch file opens that file: Save writes it, and leaving asks
for it to be saved (or its edits undone) first, then the patch around is read again, so
every node using the file shows what it now offers. While inside an inline definition,
autosave and Save work on the whole patch (:func:`document`).

Group and ungroup are the engine's (:func:`afx_graph.subpatches.definitions.group`, ``ungroup``), done as
whole-patch snapshots: one Ctrl+Z takes each back.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from afx_graph import AfxError, Graph, Patch, load_patch
from afx_graph.subpatches import definitions as subpatch
from afx_graph.subpatches import grouping
from afx_graph.patchfile.patch import from_data, node_data

from afx_graph.ui.edits import Command, Snapshot


@dataclass
class Level:
    """The patch around the subpatch being edited, as it was when the user went in."""
    graph: Graph
    undo: list[Command]
    redo: list[Command]
    saved_serial: int
    unsaved_restore: bool
    node: str                          # the subpatch node entered
    source: str                        # its source: '#name' or a file
    selection: list[str] = field(default_factory=list)

    @property
    def inline(self) -> bool:
        return self.source.startswith("#")

    @property
    def name(self) -> str:
        return self.source[1:] if self.inline else Path(self.source).name

    @property
    def dirty(self) -> bool:
        top = self.undo[-1].serial if self.undo else 0
        return self.unsaved_restore or top != self.saved_serial


def group(ctl, ids, name: str = "group") -> str | None:
    """The selected nodes into a new inline subpatch (one undo step); returns its node id,
    or None with the reason in ``ctl.last_refusal``."""
    before = ctl.graph.to_patch()
    try:
        after, nid = grouping.group(before, ids, ctl.registry, name)
    except subpatch.SubpatchError as e:
        ctl.last_refusal = str(e)
        return None
    ctl._push(Snapshot(before, after, f"group into {nid}"))
    ctl.selection = [nid]
    return nid


def ungroup(ctl, nid: str) -> list[str]:
    before = ctl.graph.to_patch()
    try:
        after, ids = grouping.ungroup(before, nid, ctl.registry)
    except subpatch.SubpatchError as e:
        ctl.last_refusal = str(e)
        return []
    ctl._push(Snapshot(before, after, f"ungroup {nid}"))
    ctl.selection = list(ids)
    return ids


def enter(ctl, nid: str) -> str | None:
    """Edit what the subpatch node ``nid`` holds. Returns None, or why it cannot."""
    g = ctl.graph
    n = g.nodes.get(nid)
    if n is None or n.type != subpatch.TYPE:
        return f"'{nid}' is not a subpatch"
    if n.spec is None:
        return g.subpatch_problems.get(nid, f"'{nid}' cannot be opened")
    source = n.params.get(subpatch.SOURCE)
    ctl.end_param_edit()
    if source.startswith("#"):
        raw = g.subpatches.get(source[1:])
        inner_patch = from_data({"afx": 1, "expose": copy.deepcopy(raw.get("expose") or {}),
                                 "subpatches": copy.deepcopy(g.subpatches),
                                 "nodes": copy.deepcopy(raw.get("nodes") or {})}, path=g.path)
    else:
        try:
            inner_patch = load_patch((g.base_dir / source).resolve())
        except (AfxError, OSError, RuntimeError) as e:      # it changed since it was read
            return f"{source}: {getattr(e, 'lines', [str(e)])[0]}"
        if ctl.dirty:
            ctl.autosave()                 # the patch around keeps its unsaved work
    inner = Graph.from_patch(inner_patch, ctl.registry)
    ctl.outer.append(Level(g, ctl._undo, ctl._redo, ctl._saved_serial, ctl._unsaved_restore,
                           nid, source, list(ctl.selection)))
    ctl.graph = inner
    ctl._undo, ctl._redo, ctl._saved_serial, ctl._unsaved_restore = [], [], 0, False
    ctl.selection = []
    ctl._emit("graph")
    return None


def leave(ctl) -> str | None:
    """Back to the patch around. Returns None, or why not yet."""
    if not ctl.outer:
        return "not inside a subpatch"
    level = ctl.outer[-1]
    inner_dirty = ctl._undo_dirty()
    if not level.inline and inner_dirty:
        return (f"{level.name} has unsaved changes: save it (Ctrl+S) or undo them before "
                "leaving")
    ctl.end_param_edit()
    inner = ctl.graph.to_patch()
    ctl.outer.pop()
    ctl.graph, ctl._undo, ctl._redo = level.graph, level.undo, level.redo
    ctl._saved_serial, ctl._unsaved_restore = level.saved_serial, level.unsaved_restore
    if level.inline:
        before = ctl.graph.to_patch()
        after = fold(before, level.name, inner)
        if after.subpatches != before.subpatches:       # one undo step in the patch around
            cmd = Snapshot(before, after, f"edit subpatch {level.name}")
            cmd.do(ctl)
            ctl._undo.append(cmd)
            ctl._redo.clear()
    else:
        ctl._swap_graph(ctl.graph.to_patch())      # read the file again: what it offers now
    ctl.selection = [level.node]
    ctl._emit("graph")
    return None


def fold(outer: Patch, name: str, inner: Patch) -> Patch:
    """``outer`` with its definition ``#name`` made of ``inner`` (and the definitions
    ``inner`` carries: the patch's own, possibly edited inside)."""
    out = copy.deepcopy(outer)
    out.subpatches = copy.deepcopy(inner.subpatches)
    out.subpatches[name] = {"expose": copy.deepcopy(inner.expose or {}),
                            "nodes": {i: node_data(e) for i, e in inner.nodes.items()}}
    return out


def document(ctl) -> Patch:
    """What Save and autosave write: the patch being edited, with the inline definition
    being edited (and those around it) folded in."""
    patch = ctl.graph.to_patch()
    for level in reversed(ctl.outer):
        if not level.inline:
            break                     # inside a file: the document is that file
        patch = fold(level.graph.to_patch(), level.name, patch)
    return patch


def breadcrumb(ctl) -> list[str]:
    """Where the editor is: the patch, then each subpatch entered."""
    first = ctl.outer[0].graph.path if ctl.outer else ctl.graph.path
    return [first.name if first else "untitled"] + [l.name for l in ctl.outer]


def check_expose(ctl, kind: str, node: str, port: str) -> str | None:
    if not ctl.outer:
        return "enter a subpatch to choose what it offers"
    n = ctl.graph.nodes.get(node)
    if n is None or n.spec is None:
        return f"no node '{node}' here"
    ok = {"inputs": port in n.spec.input_ports(), "outputs": port in n.spec.outputs,
          "params": port in n.spec.params}.get(kind)
    if ok is None:
        return f"{kind}: expose inputs, outputs or params"
    if not ok:
        return f"'{node}' has no {kind[:-1]} '{port}'"
    if kind == "outputs" and n.spec.sink:
        return "a subpatch holds no output node"
    return None


def exposed(expose, kind: str, name: str, target: str | None) -> dict:
    """``expose`` with ``kind.name`` pointing at ``target`` (an input or a param may feed
    several: a target is added to those it has); None removes ``name``."""
    out = copy.deepcopy(expose) if isinstance(expose, dict) else {}
    table = dict(out.get(kind) or {})
    if target is None:
        table.pop(name, None)
    elif kind == "outputs" or name not in table:
        table[name] = target
    else:
        have = table[name] if isinstance(table[name], list) else [table[name]]
        table[name] = have + [target] if target not in have else have
    if table:
        out[kind] = table
    else:
        out.pop(kind, None)
    return out
