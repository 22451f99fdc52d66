"""The editor's model, with no dearpygui in it (testable without a display).

:class:`EditorController` owns the one :class:`~afx_graph.Graph` of the open patch and edits
it only through the graph's API (the UI keeps no second copy of the graph): undo/redo of
every edit, selection, clipboard (copy / paste / duplicate with the links between the
copied nodes), new / open / save / save as through :mod:`afx_graph.patchfile.patch` (what the editor
saves, ``afx run`` renders unchanged; node positions live in each node's ``ui: {pos: [x, y]}``),
and autosave of unsaved work to a recovery folder that is offered back on the next start.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, Callable

from afx_graph import (AfxError, Graph, GraphEditError, Link, Patch, default_registry,
                       dumps, load_patch, loads, save_patch)
from afx_graph import settings as settings_mod
from afx_graph.registry import Registry
from afx_graph.spec import ParamValueError

from afx_graph.ui import autosave, frames as frames_mod, layout, nesting
from afx_graph.ui.autosave import AUTOSAVE_SECONDS, Recovery, recovery_dir  # noqa: F401 (the API)
from afx_graph.ui.edits import (MISSING, AddNode, Command, Compound, Connect, Disconnect, Move,
    NodeRecord, RemoveNodes, SetExpose, SetMode, SetParam, SetPatchUi, SetSettings, Snapshot)

PASTE_OFFSET = (40, 40)
DEFAULT_SETTINGS = {"size": [640, 360], "fps": 30}


class EditorController:
    """One open patch and everything done to it.

    Listeners (``subscribe``) are called with one word after a change: ``"graph"`` (a
    different graph object: new, open, restore, snapshot undo), ``"edit"`` (the graph was
    edited, undone or redone), ``"saved"`` (the file was written), ``"selection"``.
    """

    def __init__(self, registry: Registry | None = None, *, recovery: Path | str | None = None,
                 autosave_seconds: float = AUTOSAVE_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.registry = registry if registry is not None else default_registry()
        self.recovery = Path(recovery) if recovery is not None else recovery_dir()
        self._recoveries = autosave.RecoveryFolder(self.recovery)
        self.autosave_seconds = autosave_seconds
        self._clock = clock
        self._listeners: list[Callable[[str], None]] = []
        self.selection: list[str] = []
        self.clipboard: dict | None = None
        self._pastes = 0
        self.outer: list[nesting.Level] = []     # the patches around the subpatch edited
        self.last_refusal: str | None = None
        self._preview: tuple = (None, None)
        self._reset(Graph(self.registry), None)
        self.graph.settings = dict(DEFAULT_SETTINGS)

    # -- state -----------------------------------------------------------------------------
    def _reset(self, graph: Graph, path: Path | None, *, dirty: bool = False) -> None:
        self.graph = graph
        self.outer = []
        self.graph.path = path
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._saved_serial = 0
        self._unsaved_restore = dirty          # restored from a recovery file: unsaved
        self._live: SetParam | None = None     # the param edit a slider drag is extending
        self.selection = []
        self._next_autosave = self._clock() + self.autosave_seconds
        self._emit("graph")

    @property
    def path(self) -> Path | None:
        return self.graph.path

    @property
    def dirty(self) -> bool:
        """Unsaved changes, here or in a patch around the subpatch being edited."""
        return self._undo_dirty() or any(level.dirty for level in self.outer)

    def _undo_dirty(self) -> bool:
        top = self._undo[-1].serial if self._undo else 0
        return self._unsaved_restore or top != self._saved_serial

    @property
    def title(self) -> str:
        return f"{' > '.join(nesting.breadcrumb(self))}{' *' if self.dirty else ''}"

    @property
    def inside_inline(self) -> bool:
        """Editing an inline subpatch definition (Save writes the whole patch)."""
        return bool(self.outer) and self.outer[-1].inline

    # -- subpatches (nesting.py) -----------------------------------------------------------
    def group(self, ids=None, name: str = "group") -> str | None:
        """The nodes ``ids`` (default: the selection) into a new subpatch, one undo step."""
        return nesting.group(self, self.selection if ids is None else ids, name)

    def ungroup(self, nid: str) -> list[str]:
        return nesting.ungroup(self, nid)

    def enter(self, nid: str) -> str | None:
        """Edit what a subpatch holds; None, or why not."""
        return nesting.enter(self, nid)

    def leave(self) -> str | None:
        """Back to the patch around; None, or why not yet."""
        return nesting.leave(self)

    def preview_graph(self) -> Graph:
        """What the preview renders: the patch being edited or, inside inline subpatches,
        the whole patch they belong to (their inputs come from the nodes around them)."""
        if not self.outer:
            return self.graph
        if not self.inside_inline:
            # a subpatch file edited on its own: rendered with the settings of the patch it
            # was entered from (its size, rate and length), not the defaults
            key = ("file", id(self.graph), self.graph.revision, id(self.outer[0].graph),
                   repr(self.outer[0].graph.settings))
            if self._preview[0] != key:
                g = self.graph.copy()
                g.path = self.graph.path
                g.settings = dict(self.outer[0].graph.settings)
                self._preview = (key, g)
            return self._preview[1]
        key = (id(self.graph), self.graph.revision, tuple(id(l.graph) for l in self.outer),
               tuple(l.graph.revision for l in self.outer))
        if self._preview[0] != key:
            doc = nesting.document(self)
            g = Graph.from_patch(doc, self.registry)
            g.path = self.outer[0].graph.path
            self._preview = (key, g)
        return self._preview[1]

    @property
    def preview_prefix(self) -> str:
        """How the nodes shown are named in :meth:`preview_graph` ('rhythm/' inside #rhythm)."""
        parts = []
        for level in reversed(self.outer):
            if not level.inline:
                break
            parts.insert(0, level.node)
        return "".join(f"{p}/" for p in parts)

    def expose(self, kind: str, node: str, port: str, name: str | None = None) -> str | None:
        """Inside a subpatch: offer ``node.port`` as one of its ``kind`` ('inputs',
        'outputs', 'params'), named ``name`` (default: the port's); one undo step.
        Returns None, or why not."""
        reason = nesting.check_expose(self, kind, node, port)
        if reason:
            return reason
        old = self.graph.expose
        new = nesting.exposed(old, kind, name or port, f"{node}.{port}")
        self._push(SetExpose(old, new, f"expose {node}.{port}"))
        return None

    def unexpose(self, kind: str, name: str) -> None:
        old = self.graph.expose or {}
        if name in (old.get(kind) or {}):
            new = nesting.exposed(old, kind, name, None)
            self._push(SetExpose(old, new, f"stop exposing {name}"))

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None

    def subscribe(self, fn: Callable[[str], None]) -> None:
        self._listeners.append(fn)

    def _emit(self, what: str) -> None:
        for fn in list(getattr(self, "_listeners", ())):
            fn(what)

    # -- the undo stack --------------------------------------------------------------------
    def _push(self, cmd: Command) -> None:
        """Do a command and record it (a failed command leaves nothing behind)."""
        self.end_param_edit()
        cmd.do(self)
        self._undo.append(cmd)
        self._redo.clear()
        self._emit("edit")

    def undo(self) -> bool:
        self.end_param_edit()
        if not self._undo:
            return False
        cmd = self._undo.pop()
        cmd.undo(self)
        self._redo.append(cmd)
        self._prune_selection()
        self._emit("edit")
        return True

    def redo(self) -> bool:
        self.end_param_edit()
        if not self._redo:
            return False
        cmd = self._redo.pop()
        cmd.do(self)
        self._undo.append(cmd)
        self._prune_selection()
        self._emit("edit")
        return True

    def _swap_graph(self, patch: Patch) -> None:
        """Replace the graph by one rebuilt from ``patch`` (snapshot undo/redo)."""
        old = self.graph
        g = Graph.from_patch(patch, self.registry)
        g.path, g.user_outputs = old.path, set(old.user_outputs)
        g.revision = old.revision + 1
        self.graph = g
        self._emit("graph")

    # -- editing ---------------------------------------------------------------------------
    def add_node(self, type_id: str, pos: tuple[float, float] | None = None, *,
                 params: dict | None = None, node_id: str | None = None) -> str:
        """Add a node of a registered type; returns its id. Raises GraphEditError."""
        spec = self._spec(type_id)
        nid = node_id or self.graph.new_id(spec.id)
        ui = {"pos": [int(pos[0]), int(pos[1])]} if pos is not None else {}
        self._push(AddNode(spec.id, nid, params, ui))
        return nid

    def _spec(self, type_id: str):
        try:
            return self.registry.get(type_id)
        except KeyError as e:
            raise GraphEditError(str(e), field="type") from None

    def delete_nodes(self, ids) -> int:
        ids = [i for i in dict.fromkeys(ids) if i in self.graph.nodes]
        if not ids:
            return 0
        if all(self._restorable(i) for i in ids):
            self._push(RemoveNodes(self.graph, ids))
        else:                 # unknown type or a value the API would refuse: snapshot it
            before = self.graph.to_patch()
            after = self.graph.to_patch()
            for i in ids:
                after.nodes.pop(i)
                for e in after.nodes.values():
                    e.inputs = {p: t for p, t in e.inputs.items()
                                if not (isinstance(t, str) and t.split(".")[0] == i)}
            self._push(Snapshot(before, after, f"delete {', '.join(ids)}"))
        self.selection = [s for s in self.selection if s not in ids]
        return len(ids)

    def _restorable(self, nid: str) -> bool:
        n = self.graph.nodes[nid]
        if n.spec is None or n.type != n.spec.id or n.version != n.spec.version:
            return False      # re-adding it through the API would change what is saved
        for k, v in n.params.items():
            p = n.spec.params.get(k)
            try:
                if p is None:
                    return False
                p.coerce(v)
            except ParamValueError:
                return False
        return not any(d == nid for d, _ in self.graph.dangling)

    def add_linked(self, type_id: str, pos, kind: str, node: str, port: str,
                   new_port: str) -> str:
        """Add a node of ``type_id`` at ``pos`` and link its ``new_port`` to ``node.port``
        (``kind`` 'out': that output feeds the new node; 'in': the new node feeds that
        input), as one undo step (a link dropped on empty canvas). Raises GraphEditError."""
        spec = self._spec(type_id)
        nid = self.graph.new_id(spec.id)
        ui = {"pos": [int(pos[0]), int(pos[1])]} if pos is not None else {}
        link = Link(node, port, nid, new_port) if kind == "out" else Link(nid, new_port, node, port)
        self._push(Compound([AddNode(spec.id, nid, None, ui), Connect(link)], f"add {nid} linked"))
        return nid

    def check_link(self, src: str, src_port: str, dst: str, dst_port: str) -> str | None:
        return self.graph.check_link(src, src_port, dst, dst_port)

    def link(self, src: str, src_port: str, dst: str, dst_port: str) -> str | None:
        """Link an output to an input (replacing what fed it). Returns None when done, or the
        engine's reason when the link is refused (nothing changes then)."""
        cur = self.graph.link_into(dst, dst_port)
        if cur == Link(src, src_port, dst, dst_port):
            return None
        reason = self.graph.check_link(src, src_port, dst, dst_port)
        if reason:
            return reason
        try:
            self._push(Connect(Link(src, src_port, dst, dst_port)))
        except GraphEditError as e:
            return e.issue.message
        return None

    def delete(self, nodes=(), links=()) -> int:
        """Delete nodes (with their links) and links, as one undo step. ``links`` are
        (dst, port) pairs. Returns how many things went."""
        nodes = [n for n in dict.fromkeys(nodes) if n in self.graph.nodes]
        gone = set(nodes)
        olds = [self.graph.link_into(d, p) for d, p in dict.fromkeys(links) if d in self.graph.nodes]
        olds = [l for l in olds if l is not None and l.src not in gone and l.dst not in gone]
        if nodes and not all(self._restorable(i) for i in nodes):
            n = self.delete_nodes(nodes)          # snapshot step
            for l in olds:
                self.unlink(l.dst, l.dst_port)
            return n + len(olds)
        cmds: list[Command] = [Disconnect(l) for l in olds]
        if nodes:
            cmds.append(_LazyRemove(nodes))
        if not cmds:
            return 0
        label = cmds[0].label if len(cmds) == 1 else f"delete {len(nodes)} nodes, {len(olds)} links"
        self._push(cmds[0] if len(cmds) == 1 else Compound(cmds, label))
        self.selection = [s for s in self.selection if s not in gone]
        return len(nodes) + len(olds)

    def unlink(self, dst: str, dst_port: str) -> Link | None:
        old = self.graph.link_into(dst, dst_port)
        if old is not None:
            self._push(Disconnect(old))
        return old

    def move_nodes(self, positions: dict[str, tuple[float, float]], *,
                   label: str | None = None) -> bool:
        """Record new node positions (one undo step for a dragged selection)."""
        moves = {}
        for nid, pos in positions.items():
            if nid not in self.graph.nodes:
                continue
            new = [int(round(pos[0])), int(round(pos[1]))]
            old = self.graph.nodes[nid].ui.get("pos")
            if old is None or list(old) != new:
                moves[nid] = (list(old) if old is not None else None, new)
        if not moves:
            return False
        self._push(Move(moves, label))
        return True

    def toggle_mode(self, mode: str, ids=None) -> str | None:
        """Bypass or mute the selected nodes (or ``ids``); when all of them already are,
        they run again. One undo step. Returns the mode set (None: running), or why not."""
        ids = [i for i in (self.selection if ids is None else ids) if i in self.graph.nodes]
        ids = [i for i in ids if self.graph.nodes[i].spec is not None]
        if not ids:
            return "select the nodes to bypass or mute"
        new = None if all(self.graph.nodes[i].mode == mode for i in ids) else mode
        self._push(SetMode(self.graph, ids, new))
        return None

    def param_value(self, node: str, name: str) -> Any:
        return self.graph.nodes[node].param(name)

    def set_param(self, node: str, name: str, value: Any, *, live: bool = False) -> str | None:
        """Set a param. Returns None when done, or why the value was refused.

        ``live=True`` is a widget being dragged: consecutive live values of the same param
        form ONE undo step, closed by :meth:`end_param_edit` (the widget's release) or by any
        other edit."""
        n = self.graph.nodes.get(node)
        if n is None:
            return f"there is no node '{node}'"
        if n.spec is None:
            return f"node '{node}' has an unknown type"
        if live and self._live is not None and (self._live.node, self._live.name) == (node, name):
            try:
                self.graph.set_param(node, name, value)
            except GraphEditError as e:
                return e.issue.message
            self._live.new = self.graph.nodes[node].params[name]
            self._emit("edit")
            return None
        old = n.params.get(name, MISSING)
        p = n.spec.params.get(name)
        if p is None:
            return f"'{node}' has no param '{name}'"
        try:
            new = p.coerce(value)
        except ParamValueError as e:
            return str(e)
        if old is not MISSING and old == new and type(old) is type(new):
            self.end_param_edit()
            return None
        cmd = SetParam(node, name, old, new)
        try:
            self._push(cmd)
        except GraphEditError as e:
            return e.issue.message
        if live:
            self._live = cmd
        return None

    def set_settings(self, **changes) -> str | None:
        """Change the patch's settings (size, fps, duration, start; None removes one).
        Returns None when done, or why the values were refused."""
        new = dict(self.graph.settings)
        for k, v in changes.items():
            if v is None:
                new.pop(k, None)
            else:
                new[k] = list(v) if isinstance(v, tuple) else v
        if new == self.graph.settings:
            return None
        _, issues = settings_mod.from_patch(new, self.graph.file)
        if issues:
            return "; ".join(f"{i.field}: {i.message}" for i in issues)
        self._push(SetSettings(self.graph.settings, new))
        return None

    # -- frames (editor-only boxes around groups of nodes: frames.py) -------------------------
    def add_frame(self, ids, title: str = "") -> int | None:
        """A frame around the nodes ``ids`` (one undo step); returns its index."""
        ids = [i for i in dict.fromkeys(ids) if i in self.graph.nodes]
        if not ids:
            return None
        old = self.graph.ui.get("frames")
        title = title or f"Group {len(frames_mod.frames_of(self.graph)) + 1}"
        new = frames_mod.with_frame(old, title, ids)
        self._push(SetPatchUi("frames", old, new, f"frame {title}"))
        return len(new) - 1

    def rename_frame(self, index: int, title: str) -> None:
        old = self.graph.ui.get("frames")
        if isinstance(old, list) and 0 <= index < len(old) and isinstance(old[index], dict) \
                and old[index].get("title") != title:
            self._push(SetPatchUi("frames", old, frames_mod.renamed(old, index, title),
                                  f"rename frame {title}"))

    def remove_frames(self, indexes) -> int:
        """Take frames away (their nodes stay); one undo step. Returns how many went."""
        old = self.graph.ui.get("frames")
        if not isinstance(old, list):
            return 0
        indexes = [i for i in set(indexes) if 0 <= i < len(old)]
        if not indexes:
            return 0
        new = frames_mod.without(old, indexes)
        self._push(SetPatchUi("frames", old, new or None,
                              "remove frame" if len(indexes) == 1 else f"remove {len(indexes)} frames"))
        return len(indexes)

    def frames_around(self, ids) -> list[int]:
        """The frames holding any of the nodes ``ids``."""
        ids = set(ids)
        return [f.index for f in frames_mod.frames_of(self.graph) if ids & set(f.nodes)]

    def begin_param_edit(self, node: str, name: str) -> None:
        """Start a drag: the following ``set_param(..., live=True)`` calls form one step."""
        self.end_param_edit()

    def end_param_edit(self) -> None:
        self._live = None

    commit_param_edit = end_param_edit

    def reset_param(self, node: str, name: str) -> None:
        n = self.graph.nodes[node]
        if name in n.params:
            self._push(SetParam(node, name, n.params[name], MISSING))

    # -- selection and clipboard -----------------------------------------------------------
    def select(self, ids) -> None:
        ids = [i for i in ids if i in self.graph.nodes]
        if ids != self.selection:
            self.selection = ids
            self._emit("selection")

    def _prune_selection(self) -> None:
        self.selection = [s for s in self.selection if s in self.graph.nodes]

    def copy(self, ids=None) -> int:
        """Copy nodes (default: the selection) with the links between them."""
        clip = self._clip(self.selection if ids is None else ids)
        if clip is None:
            return 0
        self.clipboard = clip
        self._pastes = 0
        return len(clip["nodes"])

    def _clip(self, ids) -> dict | None:
        ids = [i for i in dict.fromkeys(ids) if i in self.graph.nodes
               and self.graph.nodes[i].spec is not None]
        if not ids:
            return None
        inside = set(ids)
        nodes = []
        for i in ids:
            r = NodeRecord.of(self.graph, i)
            spec = self.graph.nodes[i].spec
            r.params = {k: v for k, v in r.params.items() if k in spec.params
                        and _fits(spec.params[k], v)}
            nodes.append(r)
        links = [l for l in self.graph.links() if l.src in inside and l.dst in inside]
        return {"nodes": nodes, "links": links}

    def paste(self, at: tuple[float, float] | None = None) -> list[str]:
        """Paste the clipboard as new nodes (new ids), offset from the originals (or with
        their top-left corner at ``at``); one undo step. Returns the new ids."""
        if not self.clipboard:
            return []
        self._pastes += 1
        new = self._add_copies(self.clipboard, at, self._pastes)
        return new

    def duplicate(self, ids=None) -> list[str]:
        """Copies of nodes (default: the selection) beside them; the clipboard is untouched."""
        clip = self._clip(self.selection if ids is None else ids)
        return self._add_copies(clip, None, 1) if clip else []

    def _add_copies(self, clip: dict, at, times: int) -> list[str]:
        poss = [r.ui.get("pos") for r in clip["nodes"] if r.ui.get("pos")]
        if at is not None and poss:
            dx = at[0] - min(p[0] for p in poss)
            dy = at[1] - min(p[1] for p in poss)
        elif at is not None:
            dx, dy = at
        else:
            dx, dy = PASTE_OFFSET[0] * times, PASTE_OFFSET[1] * times
        taken = set(self.graph.nodes)
        rename: dict[str, str] = {}
        cmds: list[Command] = []
        for r in clip["nodes"]:
            nid = _fresh_id(r.id, taken)
            taken.add(nid)
            rename[r.id] = nid
            ui = dict(r.ui)
            pos = ui.get("pos")
            ui["pos"] = [int(pos[0] + dx), int(pos[1] + dy)] if pos else [int(dx), int(dy)]
            cmds.append(AddNode(r.type, nid, r.params, ui))
        for l in clip["links"]:
            cmds.append(Connect(Link(rename[l.src], l.src_port, rename[l.dst], l.dst_port)))
        self._push(Compound(cmds, f"paste {len(rename)} node{'s' if len(rename) != 1 else ''}"))
        self.selection = list(rename.values())
        self._emit("selection")
        return list(rename.values())

    # -- layout ----------------------------------------------------------------------------
    def free_spot(self, sizes: dict[str, tuple[float, float]], size=(240, 160),
                  near: str | None = None, view=None) -> tuple[int, int]:
        """Where a new node goes: right of ``near`` (e.g. the selected node) if it has room
        (and is in ``view``, the visible part of the patch, when given), else the free place
        nearest the middle of ``view``, else the first free place scanning from the top
        left."""
        rects = layout.rects(self.graph, sizes)
        return layout.free_spot(rects, size, near, view=view)

    def tidy(self, sizes: dict[str, tuple[float, float]]) -> bool:
        """Lay the whole patch out in layers (sources left, outputs right, few crossings,
        no overlaps): one undo step. ``sizes`` are the nodes' drawn sizes. Returns whether
        anything moved."""
        return self.move_nodes(layout.layered(self.graph, sizes), label="tidy layout")

    def place_unplaced(self, sizes: dict[str, tuple[float, float]]) -> bool:
        """Give the nodes that have no position one (the layered layout when none has):
        an edit like any other (the patch shows unsaved, undo takes it back). Nodes that
        have a position never move on their own, even on top of each other: opening and
        saving a patch gives the same file."""
        return self.move_nodes(layout.place_missing(self.graph, sizes),
                               label="place nodes that had no position")

    # -- files -----------------------------------------------------------------------------
    def new(self) -> None:
        self._drop_recovery()
        g = Graph(self.registry)
        g.settings = dict(DEFAULT_SETTINGS)
        self._reset(g, None)

    def open(self, path: str | os.PathLike) -> list:
        """Open a patch (raises PatchError if it cannot be read at all). Returns the
        validation issues it has (shown, not fatal: the editor is where they get fixed).

        A render (MP4, PNG) opens the patch inside it as a new, untitled, unsaved patch: Save
        asks where, so YAML never lands on the video. Its relative file paths, which were
        relative to the render's folder, are made absolute; what loading changed (a sound
        taken from the video) comes first in the returned list."""
        from afx_graph.sharing import embedded
        from afx_graph.errors import Issue
        path = Path(path).expanduser().resolve()
        media = embedded.media_kind(path) is not None
        patch = load_patch(path)
        g = Graph.from_patch(patch, self.registry)
        if media:
            for n in g.nodes.values():
                for name, p in (n.spec.params.items() if n.spec else ()):
                    v = n.params.get(name)
                    if p.kind == "path" and isinstance(v, str) and v \
                            and not os.path.isabs(os.path.expanduser(v)) \
                            and (n.id, name) not in g.outside:     # refused as it is
                        g.set_param(n.id, name, str(path.parent / v))
        self._drop_recovery()
        if media:
            g.read_from = path                 # a render never writes over it (render.py)
            for n in g.nodes.values():         # subpatch files beside the render
                src = n.params.get("source") if n.type == "subpatch" else None
                if isinstance(src, str) and src and not src.startswith("#") \
                        and not os.path.isabs(os.path.expanduser(src)):
                    n.params["source"] = str(path.parent / src)
            if any(n.type == "subpatch" for n in g.nodes.values()):
                g = Graph.from_patch(g.to_patch(), self.registry)
                g.read_from = path
        self._reset(g, None if media else path, dirty=media)
        return [Issue(w) for w in patch.warnings] + g.validate()

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the patch (atomically); without a path, to where it came from."""
        self.end_param_edit()
        target = Path(path).expanduser().resolve() if path is not None else self.path
        if target is None:
            raise AfxError("this patch has no file yet: use Save As")
        if self.inside_inline and target != self.path:
            raise AfxError("leave the subpatch (Ctrl+Shift+E) to save the patch under another name")
        old_recovery = self.recovery_file
        save_patch(nesting.document(self), target)
        if self.inside_inline:          # the patch around holds these edits now: saved too
            for level in reversed(self.outer):
                if not level.inline:
                    break
                level.saved_serial = level.undo[-1].serial if level.undo else 0
                level.unsaved_restore = False
        self.graph.path = target
        self._saved_serial = self._undo[-1].serial if self._undo else 0
        self._unsaved_restore = False
        for f in {old_recovery, self.recovery_file}:
            autosave.remove(f)
        self._emit("saved")
        return target

    save_as = save

    def dumps(self) -> str:
        """The patch text Save would write now."""
        return dumps(nesting.document(self))

    # -- autosave and recovery (the files: autosave.py) -------------------------------------
    @property
    def recovery_file(self) -> Path:
        """This editor's autosave of this patch."""
        return self._recoveries.file_for(self.path)

    def autosave(self) -> Path | None:
        """Write unsaved work to the recovery file now (nothing when all is saved)."""
        if not self.dirty:
            autosave.remove(self.recovery_file)
            return None
        return self._recoveries.write(self.path, self.dumps())

    def maybe_autosave(self) -> Path | None:
        """Call often (every UI frame): autosaves when the interval has passed."""
        now = self._clock()
        if now < self._next_autosave:
            return None
        self._next_autosave = now + self.autosave_seconds
        try:
            return self.autosave()
        except OSError:
            return None          # a full disk must not take the editor down

    def list_recoveries(self) -> list[Recovery]:
        """Autosaves left by editors that are no longer running, newest first."""
        return self._recoveries.left_behind()

    def restore_recovery(self, rec: Recovery) -> None:
        """Open an autosave as unsaved work on its original file (Save writes it there)."""
        text = rec.file.read_text("utf-8")
        patch = loads(text, path=rec.path)
        g = Graph.from_patch(patch, self.registry)
        self._drop_recovery()
        self._reset(g, rec.path, dirty=True)
        if rec.file != self.recovery_file:
            autosave.remove(rec.file)
        self.autosave()

    def discard_recovery(self, rec: Recovery) -> None:
        autosave.remove(rec.file)

    def close(self) -> None:
        """The user closed the editor (after saving or choosing to discard): no recovery."""
        self._drop_recovery()

    def _drop_recovery(self) -> None:
        if hasattr(self, "graph"):
            autosave.remove(self.recovery_file)


class _LazyRemove(Command):
    """RemoveNodes that records the links when it is first done (inside a compound, after
    the explicit unlinks before it)."""

    def __init__(self, ids: list[str]):
        super().__init__()
        self.ids, self.inner = ids, None
        self.label = f"delete {', '.join(ids)}" if len(ids) <= 3 else f"delete {len(ids)} nodes"

    def do(self, ctl) -> None:
        if self.inner is None:
            self.inner = RemoveNodes(ctl.graph, self.ids)
        self.inner.do(ctl)

    def undo(self, ctl) -> None:
        self.inner.undo(ctl)


def _fits(p, v) -> bool:
    try:
        p.coerce(v)
        return True
    except ParamValueError:
        return False


def _fresh_id(old: str, taken: set[str]) -> str:
    base = re.sub(r"\d+$", "", old) or "node"
    i = 2
    while f"{base}{i}" in taken:
        i += 1
    return f"{base}{i}"
