"""Every render carries its patch (DESIGN.md section 11).

Each MP4 and PNG afx writes holds, as text, the patch that made it: the patch as rendered,
after the command-line overrides (``--set``, ``--audio``, ``--size``...), with the settings of
that run written out (size, fps, the duration as rendered, start):

* MP4: the container tag ``afx-patch``, an ``mdta`` key in ``moov/udta/meta`` (FFmpeg's mp4
  muxer writes custom keys with ``movflags=use_metadata_tags``; ``ffprobe`` lists it);
* PNG: an ``iTXt`` chunk with the keyword ``afx-patch`` (zlib-compressed), after ``IHDR``.

Reading it back walks the file's boxes or chunks here, reading their headers and the one tag,
never the video or the pixels (FFmpeg would allocate whatever size a tag claims), so a hostile
file costs no more than a patch file: the text is capped at :data:`safe_yaml.MAX_BYTES` before
it is read or decompressed, then parsed by the same safe loader as a ``.yaml`` file.

Paths typed on a command line are absolute and name folders of the machine that rendered;
the embedded copy keeps only their file names (a shared video does not tell where its maker
keeps their music). A patch loaded from an MP4 whose ``audio.file`` is not beside the video
takes its sound from the video itself, with a warning.

A render comes from someone else, so its patch gets a bundle's trust, not a patch file's: it
reads only files beside the render (in its folder, relative paths, no way out through
``..`` or a link; see confine.py), or files the user names on the command line. A file it
names elsewhere is refused: where the command line can replace it (a param of one of the
patch's own nodes: ``--audio``, ``--set``) validation refuses it while it is unchanged
(``Patch.outside``); anywhere else (subpatch sources, definitions) loading refuses it.
"""
from __future__ import annotations

import os
import stat
import struct
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from afx_graph.patchfile import safe_yaml
from afx_graph.errors import Issue, PatchError
from afx_graph.patchfile.patch import Patch, dumps
from afx_graph.settings import KEYS as SETTING_KEYS

KEY = "afx-patch"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# first boxes of an MP4 / MOV file (QuickTime files may start with 'wide', 'free' or 'moov')
_MP4_FIRST = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"})
MAX_PARTS = 100_000          # boxes or chunks walked: a file of tiny boxes is not read for ever
MAX_KEYS_BOX = 1 << 20       # bytes of an MP4 'keys' box read (the names of the tags)
AUDIO_FILE = "audio.file"
NO_PATCH = "no afx patch inside (was it written by afx?)"


# -- writing ------------------------------------------------------------------------------
def patch_of(graph) -> Patch:
    """``graph`` (a :class:`~afx_graph.graph.Graph`, overrides applied) as the patch to embed:
    absolute paths (typed on a command line) keep only their file name."""
    from afx_graph.subpatches import definitions as subpatch
    patch = graph.to_patch()
    try:        # subpatch files go in as definitions: the render alone re-renders
        patch = subpatch.self_contained(patch, graph.registry)
    except subpatch.SubpatchError:
        pass                                  # a render of it failed before this anyway
    for nid, entry in patch.nodes.items():
        spec = graph.nodes[nid].spec if nid in graph.nodes else None
        if spec is None:
            continue
        for name, value in entry.params.items():
            p = spec.params.get(name)
            if p is not None and p.kind in ("path", "output") and isinstance(value, str):
                entry.params[name] = _portable(value)
    for raw in patch.subpatches.values():    # and inside the definitions
        for e in (raw.get("nodes") or {}).values() if isinstance(raw, dict) else ():
            params = e.get("params") if isinstance(e, dict) else None
            if not isinstance(params, dict) or e.get("type") not in graph.registry:
                continue
            for name, p in graph.registry.get(e["type"]).params.items():
                if p.kind in ("path", "output") and isinstance(params.get(name), str):
                    params[name] = _portable(params[name])
    patch.path = None
    return patch


def _portable(value: str) -> str:
    try:
        full = os.path.expanduser(value)
    except (RuntimeError, ValueError):
        return value
    if not os.path.isabs(full):
        return value
    return os.path.basename(os.path.normpath(full)) or value


def _number(x: float) -> int | float:
    x = float(x)
    return int(x) if x.is_integer() else x


def patch_text(patch: Patch, settings, frames: int | None = None) -> str:
    """The text to embed: ``patch`` with the render's settings (a
    :class:`~afx_graph.settings.RenderSettings`) written out, and the duration as rendered
    when the number of frames is known."""
    given = dict(patch.settings)
    s: dict[str, Any] = {"size": [int(settings.size[0]), int(settings.size[1])],
                         "fps": _number(settings.fps)}
    if frames:
        s["duration"] = _number(frames / settings.fps)   # frame_count() gives `frames` back
    elif given.get("duration") is not None:
        s["duration"] = given["duration"]
    if settings.start or "start" in given:
        s["start"] = _number(settings.start)
    s.update({k: v for k, v in given.items() if k not in SETTING_KEYS})
    return dumps(replace(patch, settings=s, path=None, issues=[], warnings=[]))


def text_for(ctx) -> str | None:
    """What an output node embeds in what it writes (``ctx``: its FrameContext), or None
    when the render has no patch to carry (a render made from code) or it is too big to be
    read back."""
    if getattr(ctx, "patch", None) is None:
        return None
    text = patch_text(ctx.patch, ctx.settings, ctx.total_frames)
    return text if len(text.encode("utf-8")) <= safe_yaml.MAX_BYTES else None


# -- reading ------------------------------------------------------------------------------
def media_kind(path: str | os.PathLike) -> str | None:
    """'png' or 'mp4' when the regular file at ``path`` starts like one; None otherwise
    (anything not a regular file too: the patch reader explains those)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with _open(path) as f:
            return _kind(f.read(12))
    except (OSError, ValueError, PatchError):
        return None


def _kind(head: bytes) -> str | None:
    if head.startswith(PNG_SIGNATURE):
        return "png"
    if len(head) >= 8 and head[4:8] in _MP4_FIRST:
        return "mp4"
    return None


def _open(path) -> BinaryIO:
    """Open a regular file for reading without ever blocking (a FIFO swapped in after the
    check would block an ordinary open)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) \
        | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PatchError([Issue("is not a regular file", str(path))])
    return os.fdopen(fd, "rb")


def read_text(path: str | os.PathLike) -> tuple[str, str]:
    """(the patch text inside the render at ``path``, 'png' or 'mp4'). Raises PatchError:
    not a render, no patch inside, a patch over the size limit, damaged."""
    text, kind, _ = read_render(Path(path))
    return text, kind


def read_render(path: Path) -> tuple[str, str, bool]:
    file = str(path)
    try:
        with _open(path) as f:
            kind = _kind(f.read(12))
            if kind is None:
                raise PatchError([Issue("not a PNG or MP4 file", file)])
            size = os.fstat(f.fileno()).st_size
            if kind == "png":
                raw, sound = _png_text(f, file), False
            else:
                raw, sound = _mp4_text(f, size, file)
    except FileNotFoundError:
        raise PatchError([Issue("no such file", file)]) from None
    except PermissionError:
        raise PatchError([Issue("permission denied", file)]) from None
    except OSError as e:
        raise PatchError([Issue(f"cannot read: {e.strerror or e}", file)]) from None
    if raw is None:
        raise PatchError([Issue(NO_PATCH, file)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PatchError([Issue("the afx patch inside is not UTF-8 text", file)]) from None
    return text, kind, sound


def _too_big(size: int, file: str) -> PatchError:
    limit = safe_yaml.MAX_BYTES
    return PatchError([Issue(f"the afx patch inside is {-(-size // 1024)} KiB; a patch is at "
                             f"most {limit // 1024} KiB", file)])


def _damaged(file: str, what: str) -> PatchError:
    return PatchError([Issue(f"the afx patch inside is damaged ({what})", file)])


# PNG: chunks of (length, type, data, CRC) after the signature
def _png_text(f: BinaryIO, file: str) -> bytes | None:
    key = KEY.encode("latin-1") + b"\0"
    f.seek(len(PNG_SIGNATURE))
    for _ in range(MAX_PARTS):
        head = f.read(8)
        if len(head) < 8:
            return None
        length, ctype = struct.unpack(">I4s", head)
        if ctype == b"IEND":
            return None
        if ctype in (b"iTXt", b"tEXt", b"zTXt"):
            peek = f.read(min(length, len(key)))
            if peek == key:
                if length > safe_yaml.MAX_BYTES + 1024:        # keyword and flags besides
                    raise _too_big(length, file)
                data = peek + f.read(length - len(peek))
                crc = f.read(4)
                if len(data) < length or len(crc) < 4:
                    raise _damaged(file, "the file ends inside it")
                if struct.unpack(">I", crc)[0] != zlib.crc32(ctype + data):
                    raise _damaged(file, "its checksum does not match")
                return _png_payload(ctype, data[len(key):], file)
            f.seek(length - len(peek) + 4, os.SEEK_CUR)
        else:
            f.seek(length + 4, os.SEEK_CUR)
    return None


def _png_payload(ctype: bytes, rest: bytes, file: str) -> bytes:
    if ctype == b"tEXt":
        return rest.decode("latin-1").encode("utf-8")
    if ctype == b"zTXt":
        return _inflate(rest[1:], file).decode("latin-1").encode("utf-8")
    if len(rest) < 2:
        raise _damaged(file, "a short iTXt chunk")
    compressed, body = rest[0], rest[2:]
    for _ in range(2):                  # language tag, translated keyword
        end = body.find(b"\0")
        if end < 0:
            raise _damaged(file, "a short iTXt chunk")
        body = body[end + 1:]
    if compressed:
        return _inflate(body, file)
    if len(body) > safe_yaml.MAX_BYTES:
        raise _too_big(len(body), file)
    return body


def _inflate(data: bytes, file: str) -> bytes:
    """zlib data, never inflated past the patch size limit (a small chunk can claim
    gigabytes)."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, safe_yaml.MAX_BYTES + 1)
    except zlib.error as e:
        raise _damaged(file, f"zlib: {e}") from None
    if len(out) > safe_yaml.MAX_BYTES:
        raise PatchError([Issue(f"the afx patch inside is more than "
                                f"{safe_yaml.MAX_BYTES // 1024} KiB; a patch is at most "
                                f"{safe_yaml.MAX_BYTES // 1024} KiB", file)])
    return out


# MP4: boxes of (size, type, payload); the tag is in moov/udta/meta: keys names it, ilst holds it
class _Walk:
    def __init__(self, f: BinaryIO, file: str):
        self.f, self.file, self.count = f, file, 0

    def boxes(self, start: int, end: int):
        """(type, payload start, payload end) of each box in [start, end); stops at a box
        that does not fit (a cut file)."""
        pos = start
        while pos + 8 <= end:
            self.count += 1
            if self.count > MAX_PARTS:
                return
            self.f.seek(pos)
            head = self.f.read(8)
            if len(head) < 8:
                return
            size, typ = struct.unpack(">I4s", head)
            hdr = 8
            if size == 1:
                ext = self.f.read(8)
                if len(ext) < 8:
                    return
                size, hdr = struct.unpack(">Q", ext)[0], 16
            elif size == 0:
                size = end - pos
            if size < hdr or pos + size > end:
                return
            yield typ, pos + hdr, pos + size
            pos += size

    def child(self, typ: bytes, start: int, end: int):
        return [(s, e) for t, s, e in self.boxes(start, end) if t == typ]

    def read(self, start: int, n: int) -> bytes:
        self.f.seek(start)
        return self.f.read(n)


def _mp4_text(f: BinaryIO, size: int, file: str) -> tuple[bytes | None, bool]:
    """(the tag's bytes or None, whether the file has a sound track)."""
    w = _Walk(f, file)
    text, sound = None, False
    for ms, me in w.child(b"moov", 0, size)[:1]:
        for ts, te in w.child(b"trak", ms, me):
            for ds, de in w.child(b"mdia", ts, te):
                for hs, he in w.child(b"hdlr", ds, de):
                    sound = sound or w.read(hs + 8, 4) == b"soun"
        for us, ue in w.child(b"udta", ms, me):
            for xs, xe in w.child(b"meta", us, ue):
                if w.read(xs + 4, 4) not in (b"hdlr", b"keys", b"ilst"):
                    xs += 4                          # MP4's meta is a full box (version, flags)
                text = text if text is not None else _mdta_value(w, xs, xe, file)
    return text, sound


def _mdta_value(w: _Walk, start: int, end: int, file: str) -> bytes | None:
    index = None
    for ks, ke in w.child(b"keys", start, end)[:1]:
        if ke - ks > MAX_KEYS_BOX:
            return None
        data = w.read(ks, ke - ks)
        pos, n = 8, 1                                # version/flags, entry count
        want = b"mdta" + KEY.encode("ascii")
        while pos + 8 <= len(data):
            length = struct.unpack(">I", data[pos:pos + 4])[0]
            if length < 8 or pos + length > len(data):
                break
            if data[pos + 4:pos + length] == want:
                index = n
                break
            pos, n = pos + length, n + 1
    if index is None:
        return None
    for ls, le in w.child(b"ilst", start, end)[:1]:
        for vs, ve in w.child(struct.pack(">I", index), ls, le)[:1]:
            for ds, de in w.child(b"data", vs, ve)[:1]:
                n = de - ds - 8                      # type indicator, locale
                if n > safe_yaml.MAX_BYTES:
                    raise _too_big(n, file)
                if n < 0:
                    raise _damaged(file, "a short data box")
                return w.read(ds + 8, n)
    return None
