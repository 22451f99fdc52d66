"""The progress line of the commands that take a while (``afx run``, ``afx fit``): a bar, what
is done and an ETA on one terminal line, redrawn at most 10 times a second."""
from __future__ import annotations

import math
import sys
import time

WIDTH = 30


class ProgressLine:
    """``line(fraction, text, eta)`` redraws the line (``eta`` in seconds, inf: unknown);
    ``close()`` ends it with a newline if anything was drawn."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.last = 0.0

    def __call__(self, fraction: float, text: str, eta: float) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and fraction < 1:
            return
        self.last = now
        filled = int(WIDTH * min(max(fraction, 0.0), 1.0))
        shown = f"{eta:4.0f}s" if math.isfinite(eta) else "   ?"
        self.stream.write(f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {text}  ETA {shown}")
        self.stream.flush()

    def close(self) -> None:
        if self.last:
            self.stream.write("\n")
            self.stream.flush()
