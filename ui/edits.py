"""Undoable edits of a :class:`~afx_graph.Graph`, each made through the graph's editing API.

A command records what it needs to go back (the link an input had before, the value a param
had before) when it is first done, so ``do`` / ``undo`` / ``do`` gives the same graph again.
Edits the API cannot invert (deleting a node of an unknown type, or one holding a param value
the graph would refuse today) are recorded as whole-patch snapshots instead: undo swaps in a
graph rebuilt from the patch as it was (see :class:`Snapshot`).
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

from afx_graph import Graph, Link, Patch

MISSING = object()          # "no explicit value": the param shows its default
_serials = itertools.count(1)


class Command:
    label = "edit"

    def __init__(self):
        self.serial = next(_serials)     # identifies the state after this command (dirty flag)

    def do(self, ctl) -> None:          # ctl: the EditorController (its .graph is the graph)
        raise NotImplementedError

    def undo(self, ctl) -> None:
        raise NotImplementedError


class AddNode(Command):
    def __init__(self, type_id: str, node_id: str, params: dict | None = None,
                 ui: dict | None = None):
        super().__init__()
        self.type_id, self.node_id = type_id, node_id
        self.params, self.ui = dict(params or {}), dict(ui or {})
        self.label = f"add {node_id}"

    def do(self, ctl) -> None:
        ctl.graph.add_node(self.type_id, self.node_id, params=self.params, ui=self.ui)

    def undo(self, ctl) -> None:
        ctl.graph.remove_node(self.node_id)


@dataclass
class NodeRecord:
    """Enough of a node to put it back: type, explicit params and layout."""
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    ui: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, graph: Graph, nid: str) -> "NodeRecord":
        n = graph.nodes[nid]
        return cls(nid, n.spec.id if n.spec else n.type, dict(n.params), dict(n.ui))


class RemoveNodes(Command):
    """Delete nodes with every link into or out of them; undo puts nodes and links back."""

    def __init__(self, graph: Graph, ids: list[str]):
        super().__init__()
        self.records = [NodeRecord.of(graph, i) for i in ids]
        gone = set(ids)
        self.links = [l for l in graph.links() if l.src in gone or l.dst in gone]
        self.label = f"delete {', '.join(ids)}" if len(ids) <= 3 else f"delete {len(ids)} nodes"

    def do(self, ctl) -> None:
        for r in self.records:
            ctl.graph.remove_node(r.id)

    def undo(self, ctl) -> None:
        for r in self.records:
            ctl.graph.add_node(r.type, r.id, params=r.params, ui=r.ui)
        for l in self.links:
            ctl.graph.connect(l.src, l.src_port, l.dst, l.dst_port)


class Connect(Command):
    """Link an output to an input; remembers the link it replaced."""

    def __init__(self, link: Link):
        super().__init__()
        self.link = link
        self.replaced: Link | None = None
        self.label = f"link {link}"

    def do(self, ctl) -> None:
        l = self.link
        self.replaced = ctl.graph.connect(l.src, l.src_port, l.dst, l.dst_port)

    def undo(self, ctl) -> None:
        ctl.graph.disconnect(self.link.dst, self.link.dst_port)
        if self.replaced is not None:
            r = self.replaced
            ctl.graph.connect(r.src, r.src_port, r.dst, r.dst_port)


class Disconnect(Command):
    def __init__(self, link: Link):
        super().__init__()
        self.link = link
        self.label = f"unlink {link}"

    def do(self, ctl) -> None:
        ctl.graph.disconnect(self.link.dst, self.link.dst_port)

    def undo(self, ctl) -> None:
        l = self.link
        ctl.graph.connect(l.src, l.src_port, l.dst, l.dst_port)


class SetMode(Command):
    """Bypass, mute, or run again (None) a set of nodes."""

    def __init__(self, graph: Graph, ids: list[str], mode: str | None):
        super().__init__()
        self.before = {i: graph.nodes[i].mode for i in ids}
        self.mode = mode
        what = {"bypass": "bypass", "mute": "mute", None: "unbypass/unmute"}[mode]
        self.label = f"{what} {', '.join(ids)}" if len(ids) <= 3 else f"{what} {len(ids)} nodes"

    def do(self, ctl) -> None:
        for nid in self.before:
            ctl.graph.set_mode(nid, self.mode)

    def undo(self, ctl) -> None:
        for nid, mode in self.before.items():
            ctl.graph.set_mode(nid, mode)


class Move(Command):
    """Node positions (``ui.pos``): layout only, but saved in the patch, so undoable."""

    def __init__(self, moves: dict[str, tuple[list | None, list]], label: str | None = None):
        super().__init__()
        self.moves = moves          # id -> (old pos, new pos); None: it had no position
        self.label = label or ("move " + (next(iter(moves)) if len(moves) == 1
                                          else f"{len(moves)} nodes"))

    def do(self, ctl) -> None:
        for nid, (_, new) in self.moves.items():
            ctl.graph.set_ui(nid, pos=list(new))

    def undo(self, ctl) -> None:
        for nid, (old, _) in self.moves.items():
            ctl.graph.set_ui(nid, pos=list(old) if old is not None else None)


class SetParam(Command):
    """A param's value; ``MISSING`` means "back to the default" (no explicit value)."""

    def __init__(self, node: str, name: str, old: Any, new: Any):
        super().__init__()
        self.node, self.name, self.old, self.new = node, name, old, new
        self.label = f"set {node}.{name}"

    @staticmethod
    def _apply(graph: Graph, node: str, name: str, value: Any) -> None:
        if value is MISSING:
            graph.reset_param(node, name)
        else:
            graph.set_param(node, name, value)

    def do(self, ctl) -> None:
        self._apply(ctl.graph, self.node, self.name, self.new)

    def undo(self, ctl) -> None:
        self._apply(ctl.graph, self.node, self.name, self.old)


class SetSettings(Command):
    """The patch's ``settings:`` (size, fps, duration, start)."""

    def __init__(self, old: dict, new: dict):
        super().__init__()
        self.old, self.new = dict(old), dict(new)
        self.label = "change settings"

    def do(self, ctl) -> None:
        ctl.graph.set_settings(self.new)

    def undo(self, ctl) -> None:
        ctl.graph.set_settings(self.old)


class SetPatchUi(Command):
    """The patch's editor-only ``ui:`` entry ``key`` (frames)."""

    def __init__(self, key: str, old, new, label: str):
        super().__init__()
        self.key, self.old, self.new, self.label = key, old, new, label

    def do(self, ctl) -> None:
        ctl.graph.set_patch_ui(self.key, self.new)

    def undo(self, ctl) -> None:
        ctl.graph.set_patch_ui(self.key, self.old)


class SetExpose(Command):
    """What the subpatch being edited offers (its ``expose:``)."""

    def __init__(self, old, new, label: str):
        super().__init__()
        self.old, self.new, self.label = old, new, label

    def do(self, ctl) -> None:
        ctl.graph.expose = copy.deepcopy(self.new)

    def undo(self, ctl) -> None:
        ctl.graph.expose = copy.deepcopy(self.old)


class Compound(Command):
    """Several commands as one undo step (a paste: nodes and the links between them)."""

    def __init__(self, commands: list[Command], label: str):
        super().__init__()
        self.commands, self.label = list(commands), label

    def do(self, ctl) -> None:
        done = []
        try:
            for c in self.commands:
                c.do(ctl)
                done.append(c)
        except BaseException:
            for c in reversed(done):       # all or nothing
                c.undo(ctl)
            raise

    def undo(self, ctl) -> None:
        for c in reversed(self.commands):
            c.undo(ctl)


class Snapshot(Command):
    """An edit recorded as the whole patch before and after it; undo and redo swap in a graph
    rebuilt from the saved patch (for edits the graph API cannot take back)."""

    def __init__(self, before: Patch, after: Patch, label: str):
        super().__init__()
        self.before, self.after, self.label = before, after, label

    def do(self, ctl) -> None:
        ctl._swap_graph(self.after)

    def undo(self, ctl) -> None:
        ctl._swap_graph(self.before)
