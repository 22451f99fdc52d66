"""PNG files from uint8 arrays, with PyAV's encoder (no imaging library needed)."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def encode_png(rgb: np.ndarray) -> bytes:
    """(H, W, 3) or (H, W, 4) uint8 -> PNG bytes."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    fmt = "rgba" if rgb.shape[-1] == 4 else "rgb24"
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = rgb.shape[1], rgb.shape[0], fmt
    frame = av.VideoFrame.from_ndarray(rgb, format=fmt)
    return b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)])


def write_png(path: str | Path, rgb: np.ndarray) -> Path:
    path = Path(path)
    path.write_bytes(encode_png(rgb))
    return path


def read_png(path: str | Path) -> np.ndarray:
    """A PNG (or any image PyAV reads) -> (H, W, 3) uint8."""
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")
