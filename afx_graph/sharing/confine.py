"""What a patch from someone else may read: only files inside one folder (issue 20).

A bundle's patch (``afx unpack``, ``afx run piece.afxpack``) and a patch taken from a render
(``afx run gift.mp4``) come from someone else. Each may name only files inside its folder
(the bundle's, the render's): relative paths that stay inside it, links followed. That holds
for every file the patch can reach: its nodes' files, those of its inline subpatch
definitions, the subpatch files it names and everything they name in turn, to any depth,
and the values its subpatch nodes give their exposed params. A subpatch file is read only
once it is known to be inside.

:func:`outside_files` lists what breaks the rule; bundle.py refuses a bundle for any of it,
embedded.py holds a render's patch to it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Callable

from afx_graph.subpatches import definitions as subpatch
from afx_graph.subpatches import flatten
from afx_graph.errors import AfxError, Issue, PatchError

MAX_FILES = 1000                 # subpatch files followed (a bundle holds at most 1000 files)

ABSOLUTE = "an absolute path"
LEAVES = "'..' leads out of the folder"
LINK = "a symbolic link leads out of the folder"
OUT = "it leads out of the folder"


@dataclass
class Outside:
    """One file named outside the folder."""
    file: str                    # the patch or subpatch file that names it, as shown
    node: str                    # 'music', '#definition/node', or 'halo/music' (flattened)
    field: str                   # 'params.path', 'params.source'
    value: str                   # as written
    why: str                     # ABSOLUTE, LEAVES, LINK or OUT
    top: bool                    # a param of one of the patch's own (non-subpatch) nodes
    path: str | None = None      # where it leads (absolute), when known

    def issue(self, message: str) -> Issue:
        return Issue(message, self.file, self.node, self.field)


def _inside(full: Path, folder: Path) -> bool:
    real, root = os.path.realpath(full), os.path.realpath(folder)
    return folder in full.parents and Path(root) in Path(real).parents


def problem(value: str, base: Path, folder: Path) -> str | None:
    """Why ``value``, a path as a patch names it (relative to ``base``), is not a file inside
    ``folder``: ABSOLUTE, LEAVES or LINK; None when it is inside."""
    if value.startswith("~") or "\x00" in value or PurePosixPath(value).is_absolute() \
            or PureWindowsPath(value).is_absolute() or PureWindowsPath(value).drive:
        return ABSOLUTE
    full = Path(os.path.abspath(Path(base) / value))
    if folder not in full.parents:
        return LEAVES
    if not _inside(full, folder):
        return LINK
    return None


def _entries(doc, top: bool):
    """(label, type, params, version, a top node?) of every node of a patch and of its
    inline definitions."""
    for nid, e in doc.nodes.items():
        yield nid, e.type, e.params, e.version, top and e.type != subpatch.TYPE
    for dname, raw in (doc.subpatches or {}).items():
        nodes = raw.get("nodes") if isinstance(raw, dict) else None
        for inner, e in (nodes or {}).items() if isinstance(nodes, dict) else ():
            if isinstance(e, str):
                e = {"type": e}
            if not isinstance(e, dict):
                continue
            params = e.get("params") if isinstance(e.get("params"), dict) else {}
            yield f"#{dname}/{inner}", e.get("type"), params, e.get("version", 1), False


def _migrated(spec, params: dict, version) -> dict:
    if isinstance(version, int) and not isinstance(version, bool) and version < spec.version \
            and spec.migrate is not None:
        try:
            return dict(spec.migrate(dict(params), version))
        except Exception:                # the patch's own checks say what is wrong
            return params
    return params


def _read(path: Path):
    """A subpatch file as a patch, without the checks a render's patch gets on loading
    (this walk makes them, against the outer folder)."""
    from afx_graph.sharing import embedded
    from afx_graph.patchfile.patch import loads
    from afx_graph.patchfile.patch import read_patch
    if embedded.media_kind(path):
        text, _ = embedded.read_text(path)
        return loads(text, path=path)
    return read_patch(path)


def outside_files(patch, folder: str | os.PathLike, registry,
                  shown: Callable[[Path], str] = str) -> list[Outside]:
    """Every file ``patch`` can reach that is not inside ``folder`` (see the module's text).
    ``shown`` names a subpatch file in messages."""
    folder = Path(os.path.abspath(folder))
    found: list[Outside] = []
    seen: set[str] = set()
    queue = [(patch, Path(os.path.abspath(patch.base_dir)), patch.file, True)]
    while queue:
        doc, base, file, top = queue.pop(0)
        for label, typ, params, version, top_node in _entries(doc, top):
            if typ == subpatch.TYPE:
                source = params.get(subpatch.SOURCE)
                if not isinstance(source, str) or not source or source.startswith("#"):
                    continue
                why = problem(source, base, folder)
                if why:
                    found.append(Outside(file, label, f"params.{subpatch.SOURCE}", source, why,
                                         False))
                    continue
                path = Path(os.path.abspath(base / source))
                key = os.path.realpath(path)
                if key in seen or len(seen) >= MAX_FILES:
                    continue
                seen.add(key)
                try:
                    queue.append((_read(path), path.parent, shown(path), False))
                except AfxError:
                    pass                 # not a patch: the subpatch node's own check says so
                continue
            try:
                spec = registry.get(typ)
            except Exception:
                continue                 # an unknown type: validation names it
            values = _migrated(spec, params, version)
            for name, p in spec.params.items():
                value = values.get(name)
                if p.kind == "path" and isinstance(value, str) and value:
                    why = problem(value, base, folder)
                    if why:
                        found.append(Outside(file, label, f"params.{name}", value, why, top_node,
                                             os.path.abspath(base / os.path.expanduser(value))))
    if not any(o.field == f"params.{subpatch.SOURCE}" for o in found):
        reported = {os.path.realpath(o.path) for o in found if o.path}
        for o in _flattened(patch, folder, registry):
            if os.path.realpath(o.path) not in reported:
                reported.add(os.path.realpath(o.path))
                found.append(o)
    return found


def _flattened(patch, folder: Path, registry) -> list[Outside]:
    """What the nodes inside subpatches read once the values their subpatch nodes give them
    are in (every subpatch file is known to be inside by now)."""
    from afx_graph.graph import Graph
    try:
        graph = Graph.from_patch(patch, registry)
        if not subpatch.has_subpatches(graph) or graph.subpatch_problems:
            return []
        flat = flatten.flatten(graph)
    except (AfxError, PatchError, subpatch.SubpatchError, RecursionError):
        return []                        # validation says what is wrong; nothing is read
    out = []
    for nid, n in graph.nodes.items():       # what the patch's subpatch nodes give them
        if n.type != subpatch.TYPE or n.spec is None:
            continue
        try:
            d = graph.library().resolve(n.params.get(subpatch.SOURCE))
        except subpatch.SubpatchError:
            continue
        base = Path(os.path.abspath(d.base_dir))
        for name, p in n.spec.params.items():
            value = n.params.get(name)
            if name != subpatch.SOURCE and p.kind == "path" and isinstance(value, str) \
                    and value:
                why = problem(value, base, folder)
                if why:
                    out.append(Outside(patch.file, nid, f"params.{name}", value, why, False,
                                       os.path.abspath(base / os.path.expanduser(value))))
    base = Path(os.path.abspath(flat.base_dir))
    for nid, n in flat.nodes.items():         # and theirs, at any depth
        if subpatch.SEP not in nid or n.spec is None:
            continue
        for name, p in n.spec.params.items():
            value = n.params.get(name)
            if p.kind == "path" and isinstance(value, str) and value:
                full = Path(os.path.abspath(base / os.path.expanduser(value)))
                if not _inside(full, folder):
                    out.append(Outside(patch.file, nid, f"params.{name}", value,
                                       OUT if folder not in full.parents else LINK, False,
                                       str(full)))
    return out
