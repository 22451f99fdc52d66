"""Coordinate grids that neural fields and pattern generators are evaluated over."""
from __future__ import annotations

import math

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


SYMMETRY = ("none", "mirror", "quad", "radial")


def symmetric(coords: torch.Tensor, symmetry: str, folds: int) -> torch.Tensor:
    """(H, W, 3) x, y, r folded: ``mirror`` reflects the right half onto the left, ``quad``
    both axes, ``radial`` folds the angle into one mirrored wedge of 2 pi / ``folds`` (a
    kaleidoscope of ``folds``-fold symmetry). r is unchanged by every fold."""
    x, y, r = coords.unbind(-1)
    if symmetry == "mirror":
        x = x.abs()
    elif symmetry == "quad":
        x, y = x.abs(), y.abs()
    elif symmetry == "radial":
        wedge = 2 * math.pi / folds
        a = torch.remainder(torch.atan2(y, x), wedge)
        a = torch.minimum(a, wedge - a)
        x, y = r * torch.cos(a), r * torch.sin(a)
    return torch.stack([x, y, r], dim=-1)


def warped(coords: torch.Tensor, amount: float, size: float, seed: int) -> torch.Tensor:
    """Domain warp: x and y pushed along by two rounds of seeded sines of each other, by up
    to ``amount`` (in short-side units) with features ``size`` across; r follows."""
    g = torch.Generator().manual_seed(int(seed))
    x, y, _ = coords.unbind(-1)
    for _ in range(2):
        f = (2 * math.pi / size) * (0.7 + 0.6 * torch.rand(2, generator=g))
        ph = 2 * math.pi * torch.rand(2, generator=g)
        x, y = (x + amount * torch.sin(f[0].item() * y + ph[0].item()),
                y + amount * torch.sin(f[1].item() * x + ph[1].item()))
    return torch.stack([x, y, torch.sqrt(x * x + y * y)], dim=-1)


@node("field.coords", category="Field", uses=("size", "device"))
class Coords:
    """Coordinate grid

    x, y and r (distance from the centre) for the output size. Centred and aspect-correct:
    the shorter side spans -0.5..0.5 at scale 1. `symmetry` folds the plane (mirror, four
    quadrants, or `folds`-fold radial: a kaleidoscope), and `warp` bends it with smooth
    seeded waves, so a field evaluated over it inherits that form."""

    scale = Param(float, 1.0, min=0.01, max=100.0, doc="zoom out (>1) or in (<1)")
    symmetry = Param(str, "none", choices=SYMMETRY,
                     doc="fold the plane: mirror (left-right), quad (both axes), radial (folds)")
    folds = Param(int, 6, min=2, max=32, linkable=False, doc="radial symmetry: number of wedges")
    warp = Param(float, 0.0, min=0.0, max=1.0, linkable=False,
                 doc="domain warp strength, in fractions of the short side")
    warp_size = Param(float, 0.5, min=0.02, max=10.0, linkable=False,
                      doc="size of the warp's waves, in fractions of the short side")
    seed = Param(int, 1, min=0, max=2**31 - 1, linkable=False, doc="picks the warp's waves")
    coords = Out(COORDS, doc="(H, W, 3): x, y, r")

    def process(self, ctx, scale, symmetry, folds, warp, warp_size, seed):
        c = coordinate_grid(ctx.width, ctx.height, scale, ctx.device)
        if symmetry != "none":      # fold first: a warp of folded coordinates keeps the symmetry
            c = symmetric(c, symmetry, int(folds))
        if warp > 0:
            c = warped(c, warp * scale, warp_size * scale, seed)
        return {"coords": c}


NODES = [Coords]
