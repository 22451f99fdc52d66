"""Writing audio to a WAV file (for the benchmark, the gallery and tests)."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_wav(path: str | Path, samples: np.ndarray, sr: int) -> Path:
    """(channels, n) or (n,) float in [-1, 1] -> 16-bit PCM WAV (mono or stereo)."""
    samples = np.atleast_2d(samples)
    layout = {1: "mono", 2: "stereo"}[samples.shape[0]]
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=sr, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T.reshape(1, -1)),
                                           format="s16", layout=layout)
        frame.sample_rate = sr
        for p in [*s.encode(frame), *s.encode(None)]:
            c.mux(p)
    return Path(path)
