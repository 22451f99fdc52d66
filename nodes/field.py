"""Coordinate grids that neural fields and pattern generators are evaluated over."""
from __future__ import annotations

import torch

from afx_graph import COORDS, Out, Param, node


def coordinate_grid(width: int, height: int, scale: float = 1.0,
                    device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) float32 grid of x, y, r. Centred, aspect-correct: the shorter side spans
    -0.5..0.5 (times ``scale``), the longer side proportionally more; pixel centres are sampled
    so the grid looks the same at any resolution."""
    short = min(width, height)
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5 - width / 2) / short
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5 - height / 2) / short
    y, x = torch.meshgrid(ys * scale, xs * scale, indexing="ij")
    return torch.stack([x, y, torch.sqrt(x * x + y * y)], dim=-1)


@node("field.coords", category="Field", uses=("size", "device"))
class Coords:
    """Coordinate grid

    x, y and r (distance from the centre) for the output size. Centred and aspect-correct:
    the shorter side spans -0.5..0.5 at scale 1."""

    scale = Param(float, 1.0, min=0.01, max=100.0, doc="zoom out (>1) or in (<1)")
    coords = Out(COORDS, doc="(H, W, 3): x, y, r")

    def process(self, ctx, scale):
        return {"coords": coordinate_grid(ctx.width, ctx.height, scale, ctx.device)}


NODES = [Coords]
