"""Helpers that write and read media for tests, at run time (nothing is committed)."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from afx_graph.media.wav import write_wav  # noqa: F401 - re-exported for the tests


def beat_track(seconds: float, sr: int = 22050, bpm: float = 120.0) -> np.ndarray:
    """Decaying 60 Hz kicks on every beat over a quiet high tone: (1, n) float32."""
    t = np.arange(int(seconds * sr)) / sr
    phase = (t % (60.0 / bpm))
    kick = np.sin(2 * np.pi * 60 * t) * np.exp(-phase * 12)
    return (0.8 * kick + 0.05 * np.sin(2 * np.pi * 3000 * t))[None].astype(np.float32)


def read_video(path: Path) -> dict:
    """Decode an MP4: frames as uint8 (N, H, W, 3), stream facts, audio facts."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = {"width": v.codec_context.width, "height": v.codec_context.height,
                "codec": v.codec_context.name, "pix_fmt": v.codec_context.pix_fmt,
                "rate": float(v.average_rate), "video_duration": float(v.duration * v.time_base),
                "audio": None}
        if c.streams.audio:
            a = c.streams.audio[0]
            info["audio"] = {"codec": a.codec_context.name, "rate": a.codec_context.sample_rate,
                             "channels": a.codec_context.channels,
                             "duration": float(a.duration * a.time_base)}
        info["frames"] = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    return info
