"""What a node sees of the render it is part of."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from afx_graph.settings import RenderSettings


@dataclass(frozen=True)
class FrameContext:
    settings: RenderSettings
    device: torch.device
    dtype: torch.dtype                    # precision for heavy per-pixel math
    out_dir: Path
    frames: np.ndarray | None = None      # absolute frame indices of this batch; None: static
    total_frames: int | None = None       # frames in the render, when known
    node: str | None = None               # id of the node being run
    overwrite: bool = False               # sinks may replace existing files (--force)
    # the Patch being rendered (overrides applied), which the outputs embed (embedded.py)
    patch: Any = field(default=None, compare=False, repr=False)

    @property
    def static(self) -> bool:
        return self.frames is None

    @property
    def size(self) -> tuple[int, int]:
        return self.settings.size

    @property
    def width(self) -> int:
        return self.settings.size[0]

    @property
    def height(self) -> int:
        return self.settings.size[1]

    @property
    def fps(self) -> float:
        return self.settings.fps

    @property
    def scale(self) -> float:
        """Pixel-size params are given at 1080p; multiply by this for the actual size."""
        return self.height / 1080.0

    @property
    def batch(self) -> int:
        return 1 if self.frames is None else len(self.frames)

    @property
    def times(self) -> np.ndarray:
        """Seconds into the audio of each frame in the batch, shape (B,)."""
        if self.frames is None:
            return np.zeros(1)
        return self.settings.start + self.frames / self.settings.fps

    @property
    def t(self) -> torch.Tensor:
        """Frame times as a float32 tensor on the device, shape (B,)."""
        return torch.as_tensor(self.times, dtype=torch.float32, device=self.device)

    @property
    def progress(self) -> torch.Tensor:
        """Position of each frame in the render, 0 at the start to 1 at the end, shape (B,)."""
        total = max((self.total_frames or 1) - 1, 1)
        return torch.as_tensor(self.frames / total if self.frames is not None else np.zeros(1),
                               dtype=torch.float32, device=self.device)

    def for_node(self, node: str) -> "FrameContext":
        return replace(self, node=node)

    def with_frames(self, frames: np.ndarray) -> "FrameContext":
        return replace(self, frames=frames)
