"""Open whatever a user names as a patch: a patch file, a render (MP4, PNG) that carries its
patch inside it, or (refused, with what to do instead) a bundle."""
from __future__ import annotations

import os
import threading
from pathlib import Path

from afx_graph.errors import Issue, PatchError
from afx_graph.graph import Graph
from afx_graph.patchfile.patch import Patch, read_patch
from afx_graph.media import paths
from afx_graph.patchfile.patch import loads
from afx_graph.registry import Registry, default_registry
from afx_graph.sharing import confine, embedded
from afx_graph.sharing.bundle import is_bundle


def load_patch(path: str | os.PathLike) -> Patch:
    """A patch from a patch file or a render. Raises PatchError for a file that cannot be a
    patch at all; smaller problems are collected in ``patch.issues`` for validation."""
    path = Path(path)
    if embedded.media_kind(path):
        return load_render(path)
    if is_bundle(path) and os.path.isfile(path):
        raise PatchError([Issue(f"an afx bundle, not a patch file: unpack it first (afx unpack "
                                f"{path} -o DIR) and give this command DIR/patch.yaml", str(path))])
    return read_patch(path)


def load_graph(path: str | os.PathLike, registry: Registry) -> Graph:
    return Graph.from_patch(load_patch(path), registry)


def load_render(path: str | os.PathLike) -> Patch:
    """The patch inside a render, as a Patch whose folder is the render's (so relative
    paths resolve beside it), held to what a render's patch may read (see the module's
    text). From an MP4, an ``audio.file`` whose file is not there, or not beside the video,
    takes its sound from the video itself (said in ``patch.warnings``)."""
    path = Path(path)
    text, kind, sound = embedded.read_render(path)
    patch = loads(text, path=path)
    key = os.path.realpath(path)
    if key in _loading.__dict__.setdefault("paths", set()):
        raise PatchError([Issue("a render's patch uses this render as a subpatch file",
                                str(path))])
    _loading.paths.add(key)
    try:
        outside = _outside(patch, path)
    finally:
        _loading.paths.discard(key)
    moved = _sound_from_video(patch, path, outside) if kind == "mp4" and sound else set()
    rule = ("a patch taken from a render reads only files beside the render: copy the file "
            f"into {Path(os.path.abspath(path)).parent}")
    issues = [o.issue(f"'{o.value}' is outside the render's folder ({o.why}); {rule}")
              for o in outside if not o.top]
    if issues:
        raise PatchError(issues)
    for o in outside:
        param = o.field.split(".", 1)[1]
        if (o.node, param) not in moved:
            patch.outside[(o.node, param)] = (o.value, (
                f"'{o.value}' is outside the render's folder ({o.why}); {rule}, or name one "
                f"on the command line (--audio FILE, --set {o.node}.{param}=FILE)"))
    return patch


_loading = threading.local()         # renders being checked (one using itself as a subpatch)


def _outside(patch: Patch, render: Path) -> list:
    return confine.outside_files(patch, Path(os.path.abspath(render)).parent, default_registry())


def _sound_from_video(patch: Patch, video: Path, outside: list) -> set[tuple[str, str]]:
    """Point each ``audio.file`` whose file is missing or outside the folder at the video;
    the (node, param) pairs it changed."""
    far = {o.node for o in outside if o.top and o.field == "params.path"}
    moved = set()
    for nid, entry in patch.nodes.items():
        if entry.type != embedded.AUDIO_FILE:
            continue
        value = entry.params.get("path", "")
        if not isinstance(value, str):
            continue                                 # validation names what is wrong
        if value and nid not in far \
                and paths.input_problem(paths.resolve_asset(value, patch.base_dir)) is None:
            continue
        entry.params["path"] = os.path.abspath(video)
        entry.params.pop("start", None)              # the video's sound is already the span
        entry.params.pop("duration", None)
        shown = f"'{value}'" if value else "its audio file"
        patch.warnings.append(f"{video}: node '{nid}': {shown} is not beside the video; "
                              f"its sound comes from the video itself (through AAC: the pictures "
                              f"may differ a little)")
        moved.add((nid, "path"))
    start = patch.settings.get("start")
    if moved and isinstance(start, (int, float)) and not isinstance(start, bool) and start > 0:
        patch.settings["start"] = 0
        patch.warnings.append(
            f"{video}: the video's sound begins {start:g} s into the original track, so this "
            f"render starts at 0 s (give --audio TRACK --start {start:g} for the same frames)")
    return moved
