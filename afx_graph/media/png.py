"""PNG files from uint8 arrays, with PyAV's encoder (no imaging library needed)."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import av
import numpy as np

_AFTER_IHDR = 8 + 8 + 13 + 4          # signature, IHDR (length, type, 13 bytes, CRC)


def chunk(ctype: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type and data."""
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def text_chunk(keyword: str, text: str) -> bytes:
    """An iTXt chunk holding ``text`` (UTF-8, zlib-compressed) under ``keyword``."""
    return chunk(b"iTXt", keyword.encode("latin-1") + b"\0" + b"\x01\x00" + b"\0\0"
                 + zlib.compress(text.encode("utf-8"), 9))


def encode_png(rgb: np.ndarray, extra: bytes = b"") -> bytes:
    """(H, W, 3) or (H, W, 4) uint8 -> PNG bytes; ``extra``: chunks to put after IHDR."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    fmt = "rgba" if rgb.shape[-1] == 4 else "rgb24"
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = rgb.shape[1], rgb.shape[0], fmt
    frame = av.VideoFrame.from_ndarray(rgb, format=fmt)
    png = b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)])
    if extra:
        assert png[12:16] == b"IHDR", "PNG encoder output does not start with IHDR"
        png = png[:_AFTER_IHDR] + extra + png[_AFTER_IHDR:]
    return png


def write_png(path: str | Path, rgb: np.ndarray, extra: bytes = b"") -> Path:
    path = Path(path)
    path.write_bytes(encode_png(rgb, extra))
    return path


class ImageTooLarge(ValueError):
    """An image whose header says it is larger than the reader takes (nothing was decoded)."""


def read_png(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """A PNG (or any image PyAV reads) -> (H, W, 3) uint8. An image larger than
    ``max_pixels`` (default: the largest frame afx renders) is refused from its header with
    :class:`ImageTooLarge`, before a pixel is decoded."""
    from afx_graph.settings import MAX_PIXELS
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    size = image_size(path)
    if size is not None and size[0] * size[1] > limit:
        raise ImageTooLarge(f"the image is {size[0]}x{size[1]}, more than "
                            f"{limit // 1_000_000} megapixels")
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


# -- an image's size from its header -----------------------------------------------------------
# A decoder refuses a picture larger than it can hold (FFmpeg: about 268 million pixels) as
# invalid data, which a reader would call damaged; the header says how large it claims to be.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) as the header of a PNG, JPEG, GIF, BMP or WebP file says, without
    decoding it; None for another format, a header cut short, or a file that cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            if head[:2] == b"\xff\xd8":
                return _jpeg_size(f)
            return declared_size(head)
    except OSError:
        return None


def declared_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first 32 bytes of a PNG, GIF, BMP or WebP file, or None."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 24:
        return struct.unpack(">II", head[16:24])
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    if head[:2] == b"BM" and len(head) >= 26:
        (dib,) = struct.unpack("<I", head[14:18])
        if dib == 12:
            return struct.unpack("<HH", head[18:22])
        w, h = struct.unpack("<ii", head[18:26])
        return abs(w), abs(h)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        kind = head[12:16]
        if kind == b"VP8X":
            return (int.from_bytes(head[24:27], "little") + 1,
                    int.from_bytes(head[27:30], "little") + 1)
        if kind == b"VP8L":
            bits = int.from_bytes(head[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if kind == b"VP8 ":
            w, h = struct.unpack("<HH", head[26:30])
            return w & 0x3FFF, h & 0x3FFF
    return None


def _jpeg_size(f) -> tuple[int, int] | None:
    """The frame header's size, walking the markers after SOI (at most 10000 of them)."""
    f.seek(2)
    for _ in range(10000):
        marker = f.read(2)
        while len(marker) == 2 and marker[0] == 0xFF and marker[1] == 0xFF:   # fill bytes
            marker = marker[1:] + f.read(1)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        if 0xD0 <= marker[1] <= 0xD7 or marker[1] == 0x01:          # no length
            continue
        raw = f.read(2)
        if len(raw) < 2:
            return None
        (length,) = struct.unpack(">H", raw)
        if marker[1] in _SOF:
            body = f.read(5)
            if len(body) < 5:
                return None
            h, w = struct.unpack(">HH", body[1:5])
            return w, h
        if marker[1] in (0xD9, 0xDA) or length < 2:                 # end, or scan data
            return None
        f.seek(length - 2, 1)
    return None
