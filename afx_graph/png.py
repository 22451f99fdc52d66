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


def read_png(path: str | Path) -> np.ndarray:
    """A PNG (or any image PyAV reads) -> (H, W, 3) uint8."""
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")
