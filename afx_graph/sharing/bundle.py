"""Bundles: a patch and the files it reads in one zip (``afx pack``, ``afx unpack``,
``afx run piece.afxpack``; DESIGN.md section 11, issue 13).

Layout of a bundle::

    manifest.json          {"afx_bundle": 1, "patch": "patch.yaml",
                            "files": [{"name", "size", "sha256"}, ...]}  (every other entry)
    patch.yaml             the patch, its file params rewritten to the names below
    assets/song.wav        a file from the patch's folder keeps its path under assets/
    assets/looks/x.safetensors
    assets/intro.wav       a file from elsewhere (packed only with --allow-outside, or typed
                           on the command line: --audio) gets a flat safe name

The patch is always stored as ``patch.yaml`` (its own name stays in the bundle's name), so
``afx run`` and people find it without reading the manifest. Output paths are left as they are.

A bundle comes from someone else, so unpacking trusts nothing in it: every entry name is a
plain relative path inside the folder (no ``..``, no absolute path, drive letter or
backslash), every entry is a regular file (no links, folders or devices), the entries are
exactly the manifest's files, their number and sizes are capped (declared and as actually
read: reading stops at the declared size), their sha256 must match, and every file the
patch can reach, through its subpatch files at any depth, must be inside the bundle
(confine.py). It is unpacked into a temporary folder beside the target and renamed at the
end (into an empty folder that is there, moved: that folder is never replaced), so a refused
bundle leaves nothing behind. Nothing in it is ever run.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import hashlib
import json
import os
import re
import shutil
import stat
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

from afx_graph.sharing import confine
from afx_graph.media import files, paths
from afx_graph.patchfile import safe_yaml
from afx_graph.subpatches import definitions as subpatch
from afx_graph.errors import AfxError, Issue, PatchError, escape_controls
from afx_graph.patchfile.patch import Patch, dumps
from afx_graph.patchfile.patch import read_patch

FORMAT = 1                       # "afx_bundle" in the manifest
MANIFEST = "manifest.json"
PATCH_NAME = "patch.yaml"
ASSETS = "assets"
SUFFIX = ".afxpack"

MAX_ENTRIES = 1000               # entries in a bundle, the manifest included
MAX_FILE = 1 << 30               # bytes in one file
MAX_TOTAL = 2 << 30              # bytes in all files together
MAX_MANIFEST = 1 << 20           # bytes of manifest.json
MAX_DIRECTORY = 4 << 20          # bytes of the zip's central directory (read before the entries)
MAX_NAME = 1024                  # bytes in an entry name
MAX_PART = 255                   # bytes in one part of it
MAX_DEPTH = 32                   # parts in it
CHUNK = 1 << 20

# already compressed: stored as they are (deflate would cost time and gain nothing)
_STORED = {".mp3", ".m4a", ".aac", ".ogg", ".opus", ".flac", ".mp4", ".mov", ".mkv", ".webm",
           ".png", ".jpg", ".jpeg", ".webp", ".zip", ".gz", ".xz"}
# what zipfile raises for a damaged or odd zip (it checks CRCs and local headers as it reads)
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, struct.error,
               NotImplementedError, RuntimeError, ValueError)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)   # fixed: the same patch packs to the same bytes


def size_text(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


# -- what goes in ---------------------------------------------------------------------------
@dataclass
class _Named:
    """A file a patch names: where, and the nodes that read it."""
    node: str                    # 'music', or '#definition/node' inside a definition
    param: str
    value: str
    readers: list                # (spec, param, params) of each node that reads the file
    params: dict | None = None   # the definition's own params dict holding it (to rewrite)


def _file_params(patch: Patch, registry) -> Iterator[_Named]:
    """Every input-file param (kind "path") with a value, in patch order, after each node's
    migration (so an old patch's renamed params are found too), a subpatch node's exposed
    ones included; then those inside the patch's inline definitions."""
    from afx_graph.graph import Graph
    graph = Graph.from_patch(patch, registry)
    defs = patch.subpatches or {}
    for nid, n in graph.nodes.items():
        if n.spec is None:
            continue
        for name, p in n.spec.params.items():
            value = n.param(name)
            if p.kind == "path" and isinstance(value, str) and value:
                readers = _follow(n.params.get(subpatch.SOURCE), name, defs, registry) \
                    if n.type == subpatch.TYPE else [(n.spec, name, _filled(n.spec, n.params))]
                yield _Named(nid, name, value, readers)
    yield from _definition_file_params(patch, registry)


def _definition_file_params(patch: Patch, registry) -> Iterator[_Named]:
    """The input-file params inside the patch's inline subpatch definitions (named
    ``#def/node``), with the definition's params dict that holds each."""
    defs = patch.subpatches or {}
    for dname, raw in defs.items():
        nodes = raw.get("nodes") if isinstance(raw, dict) else None
        for inner, e in (nodes or {}).items() if isinstance(nodes, dict) else ():
            if not isinstance(e, dict) or not isinstance(e.get("params"), dict):
                continue
            params, label = e["params"], f"#{dname}/{inner}"
            if e.get("type") == subpatch.TYPE:         # what it gives its exposed params
                for name, value in params.items():
                    if name != subpatch.SOURCE and isinstance(value, str) and value:
                        readers = _follow(params.get(subpatch.SOURCE), name, defs, registry)
                        if readers:
                            yield _Named(label, name, value, readers, params)
                continue
            try:
                spec = registry.get(e.get("type"))
            except (KeyError, TypeError):       # an unknown type names no file we know
                continue
            for name, p in spec.params.items():
                value = params.get(name)
                if p.kind == "path" and isinstance(value, str) and value:
                    yield _Named(label, name, value, [(spec, name, _filled(spec, params))],
                                 params)


def _filled(spec, params: dict) -> dict:
    return {name: params.get(name, p.default) for name, p in spec.params.items()}


def _follow(source, param: str, defs: dict, registry, depth: int = 0) -> list:
    """(spec, param, params) of the nodes an exposed ``param`` of the definition ``source``
    ('#name') sets, through nested subpatch nodes; only input-file params."""
    raw = defs.get(source[1:]) if isinstance(source, str) and source.startswith("#") else None
    if not isinstance(raw, dict) or depth > subpatch.MAX_DEPTH:
        return []
    expose = raw.get("expose") if isinstance(raw.get("expose"), dict) else {}
    table = expose.get("params") if isinstance(expose.get("params"), dict) else {}
    targets = table.get(param)
    nodes = raw.get("nodes") if isinstance(raw.get("nodes"), dict) else {}
    out = []
    for target in targets if isinstance(targets, list) else [targets]:
        if not isinstance(target, str) or "." not in target:
            continue
        node, inner = target.rsplit(".", 1)
        e = nodes.get(node)
        e = {"type": e} if isinstance(e, str) else e
        if not isinstance(e, dict):
            continue
        params = e.get("params") if isinstance(e.get("params"), dict) else {}
        if e.get("type") == subpatch.TYPE:
            out += _follow(params.get(subpatch.SOURCE), inner, defs, registry, depth + 1)
            continue
        try:
            spec = registry.get(e.get("type"))
        except (KeyError, TypeError):           # an unknown type names no file we know
            continue
        if inner in spec.params and spec.params[inner].kind == "path":
            out.append((spec, inner, _filled(spec, params)))
    return out


def _source(value: str, base: Path) -> Path:
    """The absolute path a file param names (``..`` folded, links kept)."""
    return Path(os.path.abspath(paths.resolve_asset(value, base)))


def _inside(src: Path, base: Path) -> bool:
    """``src`` (absolute, folded) is in the folder ``base``, once links are followed too."""
    return base in src.parents and \
        Path(os.path.realpath(base)) in Path(os.path.realpath(src)).parents


def _unreadable(named: list[_Named], src: Path, cache: dict) -> tuple[_Named, str] | None:
    """The first place naming ``src`` whose node cannot read it there, and why; None when
    every node that reads it can.

    A node says so through its ``file_problem`` hook (spec.py): None, or why not ("cannot
    be read as audio: ..."). A node without one cannot vouch for a file, and a bundle never
    carries a file no node vouches for."""
    for f in named:
        if not f.readers:
            return f, "cannot be checked: afx cannot tell which node reads it"
        for spec, param, params in f.readers:
            check = spec.hook("file_problem")
            if check is None:
                return f, (f"cannot be checked: node type '{spec.id}' does not say which files "
                           "it reads, so a bundle does not carry it")
            key = (spec.id, param, src)
            if key not in cache:
                try:
                    cache[key] = check(param, str(src), params)
                except Exception as e:  # noqa: BLE001 a node pack's reader may fail any way: unreadable
                    cache[key] = f"cannot be read ({type(e).__name__}: {e})"
            if cache[key]:
                why = str(cache[key]).splitlines()[0]
                return f, why if len(why) <= 300 else why[:297] + "..."
    return None


def bundle_assets(patch: Patch, registry, *, typed=frozenset(),
                  outside_ok: bool = False) -> tuple[list[tuple[str, Path]], list[str]]:
    """(name in the bundle, absolute path) of every file the patch reads, each once, in patch
    order; and a line for each one packed from outside the patch's folder. Raises
    PatchError naming the node and field of a file that a bundle does not carry:

    * missing, not a regular file, or too large;
    * outside the patch's folder (links followed), unless the user named it on the command
      line (``typed``: (node, param) pairs) or ``outside_ok`` (``--allow-outside``);
    * not readable by the node that reads it (audio that does not decode, a look or weights
      file that does not parse: see ``_unreadable``);
    * one whose name in the bundle, or their number, ``afx unpack`` would refuse.

    Every param of kind "path" counts (audio files, look files, weights)."""
    base = Path(os.path.abspath(patch.base_dir))
    found: dict[Path, list[_Named]] = {}
    for f in _file_params(patch, registry):
        found.setdefault(_source(f.value, base), []).append(f)
    if len(found) + 2 > MAX_ENTRIES:           # checked before a file is read
        raise PatchError([Issue(f"it reads {len(found)} files; a bundle holds at most "
                                f"{MAX_ENTRIES - 2} besides the patch and its manifest "
                                f"({MAX_ENTRIES} entries in all)", patch.file)])
    names, out, outside, issues, total, cache = _Names(), [], [], [], 0, {}
    for src, named in found.items():
        f = named[0]
        where = (patch.file, f.node, f"params.{f.param}")
        problem = paths.input_problem(src)
        if problem:
            issues.append(Issue(problem, *where))
            continue
        inside = _inside(src, base)
        if not inside and not any((n.node, n.param) in typed for n in named):
            if not outside_ok:
                what = (f"{src} is a symbolic link to {os.path.realpath(src)}, outside"
                        if base in src.parents else f"{src} is outside")
                issues.append(Issue(
                    f"{what} the patch's folder ({base}); a bundle carries only the files "
                    f"beside its patch: copy it beside the patch and name it from there (or "
                    f"pack with --allow-outside to carry it from where it is)", *where))
                continue
            outside.append(f"{src} (node '{f.node}' params.{f.param})")
        size = src.stat().st_size
        if size > MAX_FILE:
            issues.append(Issue(f"{src} is {size_text(size)}; a bundle file is at most "
                                f"{size_text(MAX_FILE)}", *where))
            continue
        bad = _unreadable(named, src, cache)
        if bad:
            g, why = bad
            issues.append(Issue(f"{src} {why}; a bundle carries only files their node reads",
                                patch.file, g.node, f"params.{g.param}"))
            continue
        total += size
        parts = src.relative_to(base).parts if base in src.parents else (src.name,)
        name = names.claim(PurePosixPath(ASSETS, *map(_safe_part, parts)).as_posix())
        problem = name_problem(name)
        if problem:
            issues.append(Issue(f"{src} would be '{name}' in the bundle, which afx unpack "
                                f"refuses ({problem}): move it nearer the patch, or give it a "
                                "shorter name", *where))
            continue
        out.append((name, src))
    if not issues and total > MAX_TOTAL:
        issues.append(Issue(f"the files add up to {size_text(total)}; a bundle holds at most "
                            f"{size_text(MAX_TOTAL)}", patch.file))
    if issues:
        raise PatchError(issues)
    return out, outside


def _safe_part(part: str) -> str:
    """One part of a name: letters, digits, ``._- `` (any other character becomes ``_``),
    at most 100 characters, never ``.`` or ``..``."""
    part = re.sub(r"[^\w.\- ]", "_", part).strip()
    if len(part) > 100:
        stem, dot, suffix = part.rpartition(".")
        part = (stem[:90] + dot + suffix[:9]) if dot and stem else part[:100]
    return "_" if part in ("", ".", "..") else part


def _fold(name: str) -> str:
    """How a name compares on a case-insensitive or normalising file system (macOS, Windows)."""
    return unicodedata.normalize("NFC", name).casefold()


class _Names:
    """Names handed out so far; ``claim`` never gives one that clashes with them (the same
    up to case, or a file where another name needs a folder)."""

    def __init__(self):
        self.files, self.folders = {_fold(MANIFEST), _fold(PATCH_NAME)}, set()

    def _above(self, name: str) -> set[str]:
        parts = name.split("/")
        return {_fold("/".join(parts[:i])) for i in range(1, len(parts))}

    def free(self, name: str) -> bool:
        key = _fold(name)
        return key not in self.files and key not in self.folders \
            and not self._above(name) & self.files

    def claim(self, name: str) -> str:
        """``name``, or ``name-2``, ``name-3``...; flat under assets/ where a folder on its
        way is taken by a file."""
        if self._above(name) & self.files:
            name = f"{ASSETS}/{name.rsplit('/', 1)[-1]}"
        folder, _, last = name.rpartition("/")
        stem, dot, suffix = last.rpartition(".")
        if not stem:
            stem, dot, suffix = last, "", ""
        candidate, i = name, 1
        while not self.free(candidate):
            i += 1
            candidate = f"{folder}/{stem}-{i}{dot}{suffix}"
        parts = candidate.split("/")
        self.folders |= {_fold("/".join(parts[:i])) for i in range(1, len(parts))}
        self.files.add(_fold(candidate))
        return candidate


def rewritten_patch(patch: Patch, registry, assets: list[tuple[str, Path]]) -> Patch:
    """The patch with every file param named in ``assets`` pointing at its bundle name
    (in its subpatch definitions too)."""
    from afx_graph.graph import Graph
    graph = Graph.from_patch(patch, registry)
    base = Path(os.path.abspath(patch.base_dir))
    name_of = {src: name for name, src in assets}
    for f in _file_params(patch, registry):
        name = name_of.get(_source(f.value, base))
        if name is not None and f.params is None and f.node in graph.nodes:
            graph.nodes[f.node].params[f.param] = name
    for f in _definition_file_params(graph, registry):      # graph's own copy of them
        name = name_of.get(_source(f.value, base))
        if name is not None:
            f.params[f.param] = name
    out = graph.to_patch()
    out.path = None
    return out


# -- writing --------------------------------------------------------------------------------
@dataclass
class Packed:
    path: Path
    entries: int                 # files in the zip, the manifest included
    size: int                    # bytes of the bundle
    content: int                 # bytes of the files in it
    outside: list[str] = dataclasses.field(default_factory=list)   # packed from elsewhere


def write_bundle(patch: Patch, registry, out: Path, *, overwrite: bool, typed=frozenset(),
                 outside_ok: bool = False) -> Packed:
    """Pack ``patch`` and its files into ``out`` (temporary file beside it, renamed at the
    end; an existing ``out`` is replaced only with ``overwrite``). Everything ``afx unpack``
    would refuse is refused first, with the same limits (see ``bundle_assets``)."""
    try:       # subpatch files go in as definitions of the patch: one patch, its files
        patch = subpatch.self_contained(patch, registry)
    except subpatch.SubpatchError as e:
        raise AfxError(str(e), file=patch.file) from None
    assets, outside = bundle_assets(patch, registry, typed=typed, outside_ok=outside_ok)
    text = dumps(rewritten_patch(patch, registry, assets)).encode("utf-8")
    sizes = [(PATCH_NAME, len(text))] + [(name, src.stat().st_size) for name, src in assets]
    problem = _listing_problem(sizes)
    if problem is None and len(text) > safe_yaml.MAX_BYTES:
        problem = f"its patch would be {size_text(len(text))}; a patch is at most " \
                  f"{size_text(safe_yaml.MAX_BYTES)}"
    if problem is None:                  # the hashes are not known yet: as long as any
        size = len(_manifest([{"name": n, "size": k, "sha256": "0" * 64} for n, k in sizes]))
        if size > MAX_MANIFEST:
            problem = f"its manifest would be {size_text(size)}; a manifest is at most " \
                      f"{size_text(MAX_MANIFEST)}"
    if problem:
        raise AfxError(f"afx unpack would refuse this bundle: {problem}", file=patch.file)
    out = Path(os.path.abspath(out))
    for src in [src for _, src in assets] + ([patch.path] if patch.path else []):
        if os.path.realpath(src) == os.path.realpath(out):
            raise AfxError(f"{out} is the patch or a file it reads; choose another name",
                           field="-o")
    try:
        files.check_target(out, overwrite=overwrite)
    except AfxError as e:
        raise AfxError(e.issue.message, field="-o") from None
    created = files.make_folders(out.parent)
    tmp = files.partial_path(out)
    listed = []
    try:
        with files.writing(out):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                         0o666)
            with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w") as zf:
                listed.append(_add(zf, PATCH_NAME, data=text))
                for name, src in assets:
                    listed.append(_add(zf, name, src=src))
                _add(zf, MANIFEST, data=_manifest(listed))
            files.commit_file(tmp, out, overwrite=overwrite)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        files.remove_created_folders(created)
        raise
    return Packed(out, len(listed) + 1, out.stat().st_size, sum(e["size"] for e in listed),
                  outside)


def _manifest(listed: list[dict]) -> bytes:
    return (json.dumps({"afx_bundle": FORMAT, "patch": PATCH_NAME, "files": listed},
                       indent=1) + "\n").encode()


def _add(zf: zipfile.ZipFile, name: str, *, data: bytes | None = None,
         src: Path | None = None) -> dict:
    """Write one regular-file entry, hashing what is written; its manifest line."""
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.create_system = 3
    info.compress_type = zipfile.ZIP_STORED if PurePosixPath(name).suffix.lower() in _STORED \
        else zipfile.ZIP_DEFLATED
    h, size = hashlib.sha256(), 0
    with zf.open(info, "w") as dst:
        if data is not None:
            h.update(data)
            dst.write(data)
            size = len(data)
        else:
            with open(src, "rb") as f:
                while size <= MAX_FILE and (chunk := f.read(CHUNK)):
                    h.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            if size > MAX_FILE:        # grew while we read it
                raise AfxError(f"{src} grew past {size_text(MAX_FILE)} while it was packed")
    return {"name": name, "size": size, "sha256": h.hexdigest()}


# -- reading --------------------------------------------------------------------------------
def name_problem(name: str) -> str | None:
    """Why an entry name cannot be unpacked safely inside a folder, or None."""
    if not name:
        return "it has no name"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME:
        return f"its name is longer than {MAX_NAME} bytes"
    if escape_controls(name) != name:
        return "its name holds control or invisible characters"
    if "\\" in name:
        return "its name holds a backslash (a Windows path)"
    if name.startswith("/"):
        return "it is an absolute path"
    if ":" in name:
        return "its name holds ':' (a drive letter or a Windows stream)"
    parts = name.split("/")
    if ".." in parts:
        return "it leaves the folder ('..')"
    if name.endswith("/"):
        return "it is a folder entry; a bundle holds only files"
    if any(p in ("", ".") for p in parts):
        return "its name has an empty or '.' part"
    if len(parts) > MAX_DEPTH:
        return f"it is more than {MAX_DEPTH} folders deep"
    if any(len(p.encode("utf-8")) > MAX_PART for p in parts):
        return f"a part of its name is longer than {MAX_PART} bytes"
    return None


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    problem = name_problem(info.filename)
    if problem:
        return problem
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if info.create_system == 3 and kind not in (0, stat.S_IFREG):
        what = {stat.S_IFLNK: "a symbolic link", stat.S_IFDIR: "a folder",
                stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
                stat.S_IFSOCK: "a socket"}.get(kind, "not a regular file")
        return f"it is {what}; a bundle holds only regular files"
    if info.external_attr & 0x10:                      # MS-DOS folder attribute
        return "it is a folder entry; a bundle holds only files"
    if info.flag_bits & 0x1:
        return "it is encrypted"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"it uses compression method {info.compress_type} (afx reads stored or deflated)"
    return None


def _end_record(f) -> tuple[int, int]:
    """(entries, central directory bytes) the zip's end record claims, read the way zipfile
    reads it, before zipfile parses the directory (it keeps every entry in memory)."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    span = min(size, 22 + 0xFFFF + 20)
    f.seek(size - span)
    tail = f.read(span)
    at = len(tail) - 22
    if not (at >= 0 and tail[at:at + 4] == b"PK\x05\x06" and tail[-2:] == b"\0\0"):
        at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile("File is not a zip file")
    entries, directory = struct.unpack("<HL", tail[at + 10:at + 16])
    # zip64: zipfile reads the record just before the locator, whatever offset it gives
    if at >= 76 and tail[at - 20:at - 16] == b"PK\x06\x07" \
            and tail[at - 76:at - 72] == b"PK\x06\x06":
        entries, directory = struct.unpack("<QQ", tail[at - 76 + 32:at - 76 + 48])
    f.seek(0)
    return entries, directory


def _read_manifest(zf: zipfile.ZipFile, shown: str) -> dict:
    def bad(why: str) -> AfxError:
        return AfxError(f"{MANIFEST}: {why}", file=shown)

    try:
        info = zf.getinfo(MANIFEST)
    except KeyError:
        raise AfxError(f"no {MANIFEST} in it: not an afx bundle (make one with afx pack)",
                       file=shown) from None
    if info.file_size > MAX_MANIFEST:
        raise bad(f"{size_text(info.file_size)}; a manifest is at most {size_text(MAX_MANIFEST)}")
    try:
        with zf.open(info) as f:
            raw = f.read(MAX_MANIFEST + 1)
    except _ZIP_ERRORS as e:
        raise bad(f"cannot be read: {e}") from None
    if len(raw) > MAX_MANIFEST:
        raise bad(f"more than {size_text(MAX_MANIFEST)}")

    def no_repeats(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("a key appears twice")
        return dict(pairs)

    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=no_repeats)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise bad(f"not readable JSON ({e})") from None
    if not isinstance(data, dict):
        raise bad("not a JSON object")
    version = data.get("afx_bundle")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad("no bundle format version ('afx_bundle')")
    if version > FORMAT:
        raise bad(f"bundle format {version} is newer than this afx reads ({FORMAT}); "
                  "upgrade afx to open it")
    listed = data.get("files")
    if not isinstance(listed, list):
        raise bad("'files' is not a list")
    if len(listed) + 1 > MAX_ENTRIES:        # before looking at each one
        raise bad(f"it lists {len(listed)} files; a bundle holds at most {MAX_ENTRIES - 1}")
    for i, e in enumerate(listed):
        if not (isinstance(e, dict) and isinstance(e.get("name"), str)
                and isinstance(e.get("size"), int) and not isinstance(e.get("size"), bool)
                and isinstance(e.get("sha256"), str)
                and re.fullmatch(r"[0-9a-f]{64}", e["sha256"])):
            raise bad(f"files[{i}] is not {{name, size, sha256}}")
    problem = _listing_problem([(e["name"], e["size"]) for e in listed])
    if problem:
        raise bad(problem)
    out = {e["name"]: e for e in listed}
    patch = data.get("patch")
    if not isinstance(patch, str) or patch not in out:
        raise bad("'patch' does not name one of its files")
    return {"patch": patch, "files": out, "total": sum(e["size"] for e in listed)}


def _listing_problem(listed: list[tuple[str, int]]) -> str | None:
    """Why a bundle of these files ((name, size), its manifest besides) is refused, or None:
    the one place of the limits on them, for ``afx unpack`` reading a manifest and for
    ``afx pack`` before it writes one."""
    if len(listed) + 1 > MAX_ENTRIES:
        return f"it lists {len(listed)} files; a bundle holds at most {MAX_ENTRIES - 1}"
    seen, total = set(), 0
    for name, size in listed:
        problem = name_problem(name)
        if problem:
            return f"'{name}': {problem}"
        if name == MANIFEST or _fold(name) in seen:
            return f"'{name}' is listed twice"
        seen.add(_fold(name))
        if not 0 <= size <= MAX_FILE:
            return (f"'{name}' is declared as {size_text(size)}; a bundle file is at most "
                    f"{size_text(MAX_FILE)}")
        total += size
        if total > MAX_TOTAL:
            return (f"its files add up to more than {size_text(MAX_TOTAL)}, the most a bundle "
                    "holds")
    return None


@dataclass
class Unpacked:
    folder: Path
    patch: Path
    entries: int                 # files written, the manifest included
    size: int                    # bytes written


def unpack_bundle(bundle: str | os.PathLike, target: str | os.PathLike, registry=None,
                  *, shown: str | None = None) -> Unpacked:
    """Check and unpack ``bundle`` into ``target``, a folder that must not exist or be
    empty. With a ``registry``, the patch must also name no file outside the folder.
    Raises AfxError (nothing left behind) for anything amiss."""
    bundle, target = Path(bundle), Path(os.path.abspath(target))
    shown = shown or str(bundle)
    if os.path.islink(target):          # named as a link, to a folder or to nothing
        raise AfxError(f"cannot unpack into {target}: "
                       f"{files.target_problem(target, folder=True)}", field="-o")
    if os.path.lexists(target) and not target.is_dir():
        raise AfxError(f"{target} already exists and is not a folder; unpack into a new "
                       "folder", field="-o")
    if target.is_dir() and any(target.iterdir()):
        raise AfxError(f"{target} already exists and is not empty; unpack into a new folder",
                       field="-o")
    problem = files.target_problem(target, folder=True)
    if problem:
        raise AfxError(f"cannot unpack into {target}: {problem}", field="-o")
    with _open_bundle(bundle, shown) as zf:
        manifest, entries = _check_entries(zf, shown)
        created = files.make_folders(target.parent)
        tmp = files.partial_path(target)
        try:
            with files.writing(target):
                os.mkdir(tmp)
                written = _extract(zf, entries, manifest, tmp, shown)
                written += _extract(zf, [zf.getinfo(MANIFEST)], None, tmp, shown)
            if registry is not None:
                _check_patch_inside(tmp, manifest["patch"], registry, shown)
            with files.writing(target):
                if os.path.lexists(target):
                    _fill(tmp, target)             # an empty folder that is there stays
                    os.rmdir(tmp)
                else:
                    try:
                        os.rename(tmp, target)
                    except OSError as e:
                        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                            raise
                        raise AfxError(f"{target} appeared while unpacking and is not an "
                                       "empty folder; it was left as it is",
                                       field="-o") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            files.remove_created_folders(created)
            raise
    return Unpacked(target, target / manifest["patch"], len(entries) + 1, written)


def _fill(tmp: Path, target: Path) -> None:
    """Move what was unpacked into ``tmp`` into ``target``, an empty folder that is there
    (perhaps the current one): the folder itself is never replaced, nor anything that
    appears in it meanwhile; on any failure what was moved in goes back."""
    if not target.is_dir() or target.is_symlink() or any(target.iterdir()):
        raise AfxError(f"{target} is no longer an empty folder; it was left as it is",
                       field="-o")
    moved = []
    try:
        for name in sorted(os.listdir(tmp)):
            if os.path.lexists(target / name):
                raise AfxError(f"{target / name} appeared while unpacking; {target} was left "
                               "as it was", field="-o")
            os.rename(tmp / name, target / name)
            moved.append(name)
    except BaseException:
        for name in reversed(moved):
            with contextlib.suppress(OSError):
                os.rename(target / name, tmp / name)
        raise


def folder_name(bundle: str | os.PathLike, shown: str | None = None) -> str:
    """The folder ``afx unpack`` makes for ``bundle`` when not told one: its name less
    ``.afxpack``. Raises AfxError when that is not a plain, visible folder name (``.``,
    ``..``, empty, hidden, control characters): such a name could be the current folder or
    one above it."""
    name = Path(bundle).name
    stem = name[:-len(SUFFIX)] if name.lower().endswith(SUFFIX) else Path(name).stem
    if stem in ("", ".", "..") or stem.startswith(".") or stem != stem.strip() \
            or escape_controls(stem) != stem or "/" in stem or "\\" in stem:
        raise AfxError(f"cannot name a folder after this bundle ('{escape_controls(stem)}' is "
                       "not a plain folder name); unpack it with -o DIR",
                       file=shown or str(bundle))
    return stem


@contextlib.contextmanager
def _open_bundle(bundle: Path, shown: str):
    try:
        st = os.stat(bundle)
    except FileNotFoundError:
        raise AfxError("no such file", file=shown) from None
    except OSError as e:
        raise AfxError(f"cannot read it: {files.environment_reason(e) or e.strerror}",
                       file=shown) from None
    if not stat.S_ISREG(st.st_mode):
        raise AfxError(f"it is {files.what_is(st)}, not a bundle", file=shown)
    fd = os.open(bundle, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise AfxError("it is not a regular file, not a bundle", file=shown)
        try:
            count, directory = _end_record(f)
            if count > MAX_ENTRIES:
                raise AfxError(f"it has {count} entries; a bundle holds at most {MAX_ENTRIES}",
                               file=shown)
            if directory > MAX_DIRECTORY:
                raise AfxError(f"its zip directory is {size_text(directory)}; a bundle's is at "
                               f"most {size_text(MAX_DIRECTORY)}", file=shown)
            zf = zipfile.ZipFile(f)
        except _ZIP_ERRORS as e:
            raise AfxError(f"not a readable bundle (zip): {e}", file=shown) from None
        with zf:
            yield zf


def _check_entries(zf: zipfile.ZipFile, shown: str):
    """The manifest and the file entries, after checking every entry and that they are
    exactly the manifest's files."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise AfxError(f"it has {len(infos)} entries; a bundle holds at most {MAX_ENTRIES}",
                       file=shown)
    seen = {}
    for info in infos:
        problem = _entry_problem(info)
        if problem:
            raise AfxError(f"entry '{escape_controls(info.filename)}': {problem}", file=shown)
        key = _fold(info.filename)
        if key in seen:
            raise AfxError(f"entry '{info.filename}' appears twice (or twice up to case)",
                           file=shown)
        seen[key] = info
    folders = {_fold("/".join(i.filename.split("/")[:k])) for i in infos
               for k in range(1, i.filename.count("/") + 1)}
    for key, info in seen.items():
        if key in folders:
            raise AfxError(f"entry '{info.filename}' is a file and a folder of other entries",
                           file=shown)
    manifest = _read_manifest(zf, shown)
    listed = manifest["files"]
    entries = [i for i in infos if i.filename != MANIFEST]
    for info in entries:
        e = listed.get(info.filename)
        if e is None:
            raise AfxError(f"entry '{info.filename}' is not in its manifest", file=shown)
        if info.file_size != e["size"]:
            raise AfxError(f"entry '{info.filename}': the zip says {info.file_size} bytes, "
                           f"the manifest {e['size']}", file=shown)
    missing = sorted(set(listed) - {i.filename for i in entries})
    if missing:
        raise AfxError(f"its manifest lists '{missing[0]}', which is not in it"
                       + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                       file=shown)
    return manifest, entries


def _extract(zf, infos, manifest, folder: Path, shown: str) -> int:
    """Write ``infos`` under ``folder`` (fresh, ours), counting and hashing what is read:
    no entry yields more than its declared size, and each must match its manifest line."""
    written = 0
    for info in infos:
        e = manifest["files"][info.filename] if manifest else None
        cap = e["size"] if e else MAX_MANIFEST
        parts = info.filename.split("/")
        where = folder
        for p in parts[:-1]:
            where = where / p
            with contextlib.suppress(FileExistsError):
                os.mkdir(where)
        fd = os.open(where / parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL
                     | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o666)
        h, got = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as dst:
            try:
                with zf.open(info) as src:
                    while chunk := src.read(min(CHUNK, cap + 1 - got)):
                        got += len(chunk)
                        if got > cap:
                            raise AfxError(f"entry '{info.filename}' holds more than the "
                                           f"{cap} bytes it declares", file=shown)
                        h.update(chunk)
                        dst.write(chunk)
            except _ZIP_ERRORS as err:
                raise AfxError(f"entry '{info.filename}' cannot be read: {err}",
                               file=shown) from None
        written += got
        if e and (got != e["size"] or h.hexdigest() != e["sha256"]):
            raise AfxError(f"entry '{info.filename}' does not match its manifest (sha256 or "
                           "size): the bundle is damaged or was changed", file=shown)
    return written


def _check_patch_inside(folder: Path, patch_name: str, registry, shown: str) -> None:
    """A bundle's patch reads only the bundle's own files: every file it can reach, through
    any depth of subpatch files (confine.py)."""
    try:
        patch = read_patch(folder / patch_name)
        found = confine.outside_files(patch, folder, registry)
        if found:
            raise PatchError([o.issue(f"'{o.value}' is outside the bundle ({o.why}); a "
                                      "bundle's patch may only name its own files")
                              for o in found])
    except AfxError as e:
        _blame_bundle(e, folder, shown)
        raise


# -- afx run piece.afxpack ------------------------------------------------------------------
def is_bundle(path: str | os.PathLike) -> bool:
    """A ``.afxpack`` name, or a regular file that starts like a zip (a patch never does)."""
    if str(path).lower().endswith(SUFFIX):
        return True
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            return f.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def opened_bundle(path: str, registry=None) -> Iterator[str]:
    """Yield the patch to load for ``path``: a bundle is unpacked into a temporary folder
    that lasts for the block (errors inside name the bundle, not that folder); any other
    path is yielded as it is."""
    if not is_bundle(path):
        yield path
        return
    if registry is None:
        from afx_graph.registry import default_registry
        registry = default_registry()
    with tempfile.TemporaryDirectory(prefix="afx-bundle-") as tmp:
        folder = Path(tmp) / (_safe_part(Path(path).stem) or "piece")
        unpacked = unpack_bundle(path, folder, registry, shown=str(path))
        try:
            yield str(unpacked.patch)
        except AfxError as e:
            _blame_bundle(e, folder, str(path))
            raise


def running_bundles(command):
    """Wrap a command whose ``args.patch`` may be a bundle (``afx run piece.afxpack``)."""
    @functools.wraps(command)
    def wrapper(args):
        with opened_bundle(args.patch) as args.patch:
            return command(args)
    return wrapper


def _blame_bundle(e: AfxError, folder: Path, bundle: str) -> None:
    """Name the bundle, not the temporary folder that will be gone, in an error."""
    root = str(folder) + os.sep

    def fix(i: Issue) -> Issue:
        return dataclasses.replace(i, message=i.message.replace(root, f"{bundle}:"),
                                   file=i.file.replace(root, f"{bundle}:") if i.file else i.file)

    if isinstance(e, PatchError):
        e.issues = [fix(i) for i in e.issues]
    e.issue = fix(e.issue)
