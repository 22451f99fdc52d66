"""The patch file: its meaning as plain Python data (no torch, no UI), loading and saving.

Format (DESIGN.md section 4)::

    afx: 1
    meta: {name: Demo}
    requires: {afx: 0.1.0}       # written on save: see afx_graph/requires.py
    settings: {size: [640, 360], fps: 30, duration: 10}
    nodes:
      music: {type: audio.synth, params: {tempo: 120}}
      video:
        type: output.video
        params: {path: out/demo.mp4}
        inputs: {image: field.image, audio: music.audio}
        ui: {pos: [620, 80]}

Saving is stable: keys in a fixed order, so save -> load -> save gives the same bytes.

``requires`` (optional on loading, always written on saving) records the afx version that
saved the patch and the third-party node packs its nodes come from, with their versions and
the types each gives the patch::

    requires:
      afx: 0.1.0
      packs:
        fancy-nodes:
          version: '1.2'
          types: [fancy.glow]

Built-in nodes need no pack entry. Reading it, checking it and the messages it gives (a node
of a pack that is not installed names the pack; a patch saved by a newer afx gets a warning)
are in :mod:`afx_graph.patchfile.requires`. A patch saved before ``requires`` existed gains it the
first time it is saved again.
"""
from __future__ import annotations

import copy
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from afx_graph.media import files
from afx_graph.patchfile import requires as _requires, safe_yaml
from afx_graph.errors import Issue, PatchError
from afx_graph.settings import whole

FORMAT_VERSION = 1
TOP_KEYS = ("afx", "meta", "requires", "settings", "expose", "subpatches", "nodes", "ui")
NODE_KEYS = ("type", "version", "mode", "params", "inputs", "ui")
NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")     # use fullmatch: '$' also matches before a final newline
PORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# format migrations: FORMAT_MIGRATIONS[n] turns a version-n document into version n+1
FORMAT_MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


@dataclass
class NodeEntry:
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)     # port -> "node.port"
    ui: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    mode: str | None = None        # "bypass" (passes its input through) or "mute" (silent)


MODES = ("bypass", "mute")


@dataclass
class Patch:
    nodes: dict[str, NodeEntry] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None                 # where it was loaded from / saved to
    issues: list[Issue] = field(default_factory=list)   # structural problems found on load
    warnings: list[str] = field(default_factory=list)   # what loading changed (embedded.py)
    requires: _requires.Requires | None = None   # as read; saving writes what it needs now
    ui: dict[str, Any] = field(default_factory=dict)    # editor-only (frames): the engine ignores it
    subpatches: dict[str, Any] = field(default_factory=dict)   # inline definitions (subpatch.py)
    expose: dict[str, Any] | None = None     # what a subpatch file offers (subpatch.py)
    # files a patch taken from a render names outside the render's folder (embedded.py):
    # (node, param) -> (the value, why it is refused); refused while the value is unchanged
    outside: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return str(self.path) if self.path else "<patch>"

    @property
    def base_dir(self) -> Path:
        """Folder that relative asset paths resolve against."""
        return self.path.parent if self.path else Path.cwd()


def parse_link(text: Any) -> tuple[str, str] | None:
    """'node.port' -> (node, port); None if it is not of that form."""
    if not isinstance(text, str) or text.count(".") != 1:
        return None
    node, port = text.split(".")
    if not NODE_ID.fullmatch(node) or not PORT_NAME.fullmatch(port):
        return None
    return node, port


SUBPATCH_TYPE = "subpatch"      # a node that holds a subpatch (afx_graph.subpatches)


def inline_types(subpatches) -> list[str]:
    """The node types the inline definitions use (for ``requires``: a pack used only inside
    a subpatch is needed all the same)."""
    out = []
    for raw in (subpatches or {}).values() if isinstance(subpatches, dict) else ():
        nodes = raw.get("nodes") if isinstance(raw, dict) else None
        for e in (nodes or {}).values() if isinstance(nodes, dict) else ():
            t = e.get("type") if isinstance(e, dict) else e if isinstance(e, str) else None
            if isinstance(t, str) and t != SUBPATCH_TYPE:
                out.append(t)
    return out


# -- loading ----------------------------------------------------------------------------------
def read_patch(path: str | os.PathLike) -> Patch:
    """Read a patch file (YAML). Raises PatchError for a file that cannot be a patch at all;
    smaller structural problems are collected in ``patch.issues`` for validation to report.
    A render or a bundle given as a patch: ``afx_graph.sharing.opening.load_patch``."""
    path = Path(path)
    raw = read_capped(path, safe_yaml.MAX_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PatchError([Issue("not a text file (not UTF-8)", str(path))]) from None
    return loads(text, path=path)


_NOT_REGULAR = ((stat.S_ISDIR, "is a folder, not a patch file"),
                (stat.S_ISFIFO, "is a FIFO (named pipe), not a patch file"),
                (stat.S_ISCHR, "is a character device, not a patch file"),
                (stat.S_ISBLK, "is a block device, not a patch file"),
                (stat.S_ISSOCK, "is a socket, not a patch file"))


def _not_regular(mode: int) -> str | None:
    for test, why in _NOT_REGULAR:
        if test(mode):
            return why
    return None if stat.S_ISREG(mode) else "is not a regular file, not a patch file"


def read_capped(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, whatever its size claims.

    A FIFO, device or socket is refused from ``stat`` without opening it (opening a FIFO for
    reading blocks until a writer comes; /dev/zero never ends); the file is opened non-blocking
    and checked again, so one swapped in between cannot hang the read; and no more than
    ``limit + 1`` bytes are ever read (a file that grows, or a /proc file that claims size 0)."""
    file = str(path)
    too_big = f"a patch is at most {limit // 1024} KiB"
    try:
        st = os.stat(path)
        why = _not_regular(st.st_mode)
        if why:
            raise PatchError([Issue(why, file)])
        if st.st_size > limit:
            raise PatchError([Issue(f"file is {st.st_size // 1024} KiB; {too_big}", file)])
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) \
            | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags)
        try:
            why = _not_regular(os.fstat(fd).st_mode)
            if why:
                raise PatchError([Issue(why, file)])
            chunks, size = [], 0
            while size <= limit:
                chunk = os.read(fd, min(1 << 20, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise PatchError([Issue("no such file", file)]) from None
    except IsADirectoryError:
        raise PatchError([Issue("is a folder, not a patch file", file)]) from None
    except PermissionError:
        raise PatchError([Issue("permission denied", file)]) from None
    except OSError as e:
        raise PatchError([Issue(f"cannot read: {e.strerror or e}", file)]) from None
    if size > limit:
        raise PatchError([Issue(f"file is more than {limit // 1024} KiB; {too_big}", file)])
    return b"".join(chunks)


def loads(text: str, *, path: Path | None = None) -> Patch:
    file = str(path) if path else "<patch>"
    try:
        data = safe_yaml.load(text)
    except safe_yaml.YamlRejected as e:
        raise PatchError([Issue(str(e), file)]) from None
    return from_data(data, path=path)


def from_data(data: Any, *, path: Path | None = None) -> Patch:
    file = str(path) if path else "<patch>"
    if not isinstance(data, dict):
        raise PatchError([Issue("a patch is a mapping with 'afx', 'settings' and 'nodes'", file)])
    version = data.get("afx")
    if version is None:
        raise PatchError([Issue(f"missing format version (add 'afx: {FORMAT_VERSION}' at the top)",
                                file, field="afx")])
    version = whole(version) if whole(version) is not None else version   # 1.0 is 1
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PatchError([Issue(f"format version must be a whole number, got {version!r}",
                                file, field="afx")])
    if version > FORMAT_VERSION:
        raise PatchError([Issue(f"this patch uses format afx: {version}, newer than this afx "
                                f"understands ({FORMAT_VERSION}); upgrade afx to open it",
                                file, field="afx")])
    while version < FORMAT_VERSION:
        data = FORMAT_MIGRATIONS[version](dict(data))
        version += 1

    issues: list[Issue] = []
    for key in data:
        if key not in TOP_KEYS:
            issues.append(Issue(f"unknown top-level key (expected {', '.join(TOP_KEYS)})", file,
                                field=str(key)))
    meta = _mapping(data.get("meta"), file, None, "meta", issues)
    settings = _mapping(data.get("settings"), file, None, "settings", issues)
    raw_nodes = _mapping(data.get("nodes"), file, None, "nodes", issues)
    requires = _requires.parse(data.get("requires"), file, issues)
    if "nodes" not in data:
        issues.append(Issue("missing 'nodes'", file, field="nodes"))

    nodes: dict[str, NodeEntry] = {}
    for nid, raw in raw_nodes.items():
        if not isinstance(nid, str) or not NODE_ID.fullmatch(nid):
            # a key YAML reads as a number, true/false/yes/no or null is not a name either
            issues.append(Issue("node ids are letters, digits, '_' and '-' and start with a "
                                "letter", file, str(nid)))
            continue
        if isinstance(raw, str):   # shorthand "id: type"
            raw = {"type": raw}
        if not isinstance(raw, dict):
            issues.append(Issue("a node is a mapping with 'type', 'params', 'inputs'", file, nid))
            continue
        for key in raw:
            if key not in NODE_KEYS:
                issues.append(Issue(f"unknown key (expected {', '.join(NODE_KEYS)})", file, nid,
                                    str(key)))
        typ = raw.get("type")
        if not isinstance(typ, str) or not typ:
            issues.append(Issue("missing node type", file, nid, "type"))
            continue
        ver = raw.get("version", 1)
        ver = whole(ver) if whole(ver) is not None else ver
        if not isinstance(ver, int) or isinstance(ver, bool) or ver < 1:
            issues.append(Issue(f"version must be a whole number >= 1, got {ver!r}", file, nid,
                                "version"))
            ver = 1
        params = {str(k): v for k, v in _mapping(raw.get("params"), file, nid, "params", issues).items()}
        inputs = {}
        for port, src in _mapping(raw.get("inputs"), file, nid, "inputs", issues).items():
            inputs[str(port)] = src   # syntax is checked by validation, with the rest
        ui = _mapping(raw.get("ui"), file, nid, "ui", issues)
        mode = raw.get("mode")
        if mode is not None and mode not in MODES:
            issues.append(Issue(f"mode is bypass or mute, got {mode!r}", file, nid, "mode"))
            mode = None
        nodes[nid] = NodeEntry(typ, params, inputs, dict(ui), ver, mode)
    patch_ui = _mapping(data.get("ui"), file, None, "ui", issues)
    subpatches = _mapping(data.get("subpatches"), file, None, "subpatches", issues)
    for name in list(subpatches):
        if not isinstance(name, str) or not NODE_ID.fullmatch(name):
            issues.append(Issue("subpatch names are letters, digits, '_' and '-' and start with "
                                "a letter", file, None, f"subpatches.{name}"))
            subpatches.pop(name)
    expose = data.get("expose")
    if expose is not None and not isinstance(expose, dict):
        issues.append(Issue(f"expected a mapping, got {type(expose).__name__}", file, None, "expose"))
        expose = None
    return Patch(nodes, dict(settings), dict(meta), path, issues, requires=requires,
                 ui=copy.deepcopy(patch_ui), subpatches=copy.deepcopy(subpatches),
                 expose=copy.deepcopy(expose))


def _mapping(value, file, node, fieldname, issues) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        issues.append(Issue(f"expected a mapping, got {type(value).__name__}", file, node, fieldname))
        return {}
    return value


# -- saving -----------------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    pass


def _repr_list(dumper, data):
    flow = all(isinstance(v, (int, float, str, bool)) or v is None for v in data) and len(data) <= 8
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _repr_list)
_Dumper.add_representer(tuple, _repr_list)


def node_data(e: NodeEntry) -> dict[str, Any]:
    """A node as the file holds it."""
    d: dict[str, Any] = {"type": e.type}
    if e.version != 1:
        d["version"] = e.version
    if e.mode:
        d["mode"] = e.mode
    if e.params:
        d["params"] = {k: _plain(v) for k, v in e.params.items()}
    if e.inputs:
        d["inputs"] = dict(e.inputs)
    if e.ui:
        d["ui"] = {k: _plain(v) for k, v in e.ui.items()}
    return d


def to_data(patch: Patch) -> dict:
    nodes = {nid: node_data(e) for nid, e in patch.nodes.items()}
    data: dict[str, Any] = {"afx": FORMAT_VERSION}
    if patch.meta:
        data["meta"] = {k: _plain(v) for k, v in patch.meta.items()}
    used = [e.type for e in patch.nodes.values()] + inline_types(patch.subpatches)
    data["requires"] = _requires.to_data(patch.requires, used)
    if patch.settings:
        data["settings"] = {k: _plain(v) for k, v in patch.settings.items()}
    if patch.expose is not None:
        data["expose"] = _plain(patch.expose)
    if patch.subpatches:
        data["subpatches"] = _plain(patch.subpatches)
    data["nodes"] = nodes
    if patch.ui:
        data["ui"] = _plain(patch.ui)
    return data


def _plain(v):
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):   # numpy scalars
        return v.item()
    return v


def dumps(patch: Patch) -> str:
    return yaml.dump(to_data(patch), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100)


def save_patch(patch: Patch, path: str | os.PathLike) -> Path:
    """Write atomically (temporary file beside it, then rename): a failure never leaves a
    half-written patch where the old one was."""
    path = Path(path)
    files.write_file(path, dumps(patch).encode("utf-8"), overwrite=True)
    patch.path = path
    return path


