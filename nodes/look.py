"""``field.look``: a look fitted to a person's images (``afx fit``), rendered at any size,
morphing between its keyframes and pushed by the music."""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from afx_graph import COORDS, IMAGE, VECTOR, In, Out, Param, node
from afx_graph.errors import NodeInputError
from afx_graph.looks.fitted import LookFileError, Renderer, load_look

from afx_graph.nodes.field import coordinate_grid

EDGES = ("mirror", "field")


def _bad(message: str) -> NodeInputError:
    return NodeInputError(message, field="path")


def read_look(path: str):
    """The look in ``path``; every problem is a NodeInputError on ``path``."""
    if not path or not str(path).strip():
        raise _bad("no look file given (make one with afx fit IMAGE... -o look.safetensors)")
    file = Path(path)
    try:
        if file.is_dir():
            raise _bad(f"'{file}' is a folder, not a look file")
        if not file.exists():
            raise _bad(f"file not found: {file}")
        return load_look(file)
    except LookFileError as e:
        raise _bad(f"'{file.name}': {e}") from None
    except (OSError, ValueError) as e:
        raise _bad(f"cannot read '{file.name}': {getattr(e, 'strerror', None) or e}") from None


@node("field.look", category="Neural", rate="frame")
class FittedLook:
    """Fitted look

    A neural field fitted to your own images with `afx fit` (a .safetensors look file),
    rendered at any size. `morph` moves between its keyframes (0 = the first image, 1 = the
    second, ...); link audio into `latent` (scaled by `push`) to move it near a keyframe
    without losing the picture, and into `zoom` or `hue`."""

    coords = In(COORDS, optional=True,
                doc="coordinate grid (default: field.coords at scale 1): symmetry, warps")
    latent = In(VECTOR, optional=True,
                doc="features that push the picture's code, e.g. features.spectrum")
    path = Param(str, "", kind="path", required=True,
                 doc="look file from afx fit; a relative path is read from the patch's folder")
    morph = Param(float, 0.0, min=0.0, max=256.0,
                  doc="keyframe: 0 = first image, 1 = second...; in between, a blend of codes")
    wrap = Param(bool, False, doc="morph past the last keyframe goes on to the first")
    push = Param(float, 0.5, min=0.0, max=8.0,
                 doc="how far the latent input moves the code (its fine detail and colour; "
                     "the layout stays): 1 shifts the last layer's phases ~1 radian")
    zoom = Param(float, 1.0, min=0.05, max=50.0, doc="zoom in (> 1) or out (< 1)")
    hue = Param(float, 0.0, min=-3600.0, max=3600.0,
                doc="colour rotation about the grey axis in degrees (360 = full circle)")
    edges = Param(str, "mirror", choices=EDGES,
                  doc="outside the picture: mirror it, or let the field go on by itself")
    seed = Param(int, 0, min=0, max=2**31 - 1, linkable=False,
                 doc="picks how the latent input's dimensions map onto the code")
    image = Out(IMAGE)

    @staticmethod
    def file_problem(param: str, path: str, params: dict) -> str | None:
        """Why ``path`` is no look file, or None (``afx pack`` carries only files their node
        reads)."""
        try:
            read_look(path)
        except NodeInputError as e:
            return f"cannot be read as a look file: {e.issue.message}"
        return None

    def __init__(self):
        self._key = None
        self._renderer: Renderer | None = None
        self._grid_key = None
        self._grid = None
        self._proj_key = None
        self._proj = None

    def renderer(self, path: str, device: torch.device) -> Renderer:
        try:
            st = os.stat(path) if path else None
            stamp = (st.st_mtime_ns, st.st_size) if st else None
        except (OSError, ValueError):
            stamp = None
        key = (path, stamp, str(device))
        if key != self._key or self._renderer is None:
            self._renderer = Renderer(read_look(path), device)
            self._key = key
        return self._renderer

    def grid(self, ctx) -> torch.Tensor:
        key = (ctx.width, ctx.height, str(ctx.device))
        if key != self._grid_key:
            self._grid = coordinate_grid(ctx.width, ctx.height, 1.0, ctx.device)[..., :2].reshape(-1, 2)
            self._grid_key = key
        return self._grid

    def projection(self, dims: int, latent: int, seed: int, device) -> torch.Tensor:
        """A fixed (dims, latent) map from the input features to the code, unit gain per
        output dimension whatever the number of features."""
        key = (dims, latent, seed, str(device))
        if key != self._proj_key:
            g = torch.Generator().manual_seed(int(seed))
            self._proj = (torch.randn(dims, latent, generator=g) / math.sqrt(dims)).to(device)
            self._proj_key = key
        return self._proj

    def process(self, ctx, coords, latent, path, morph, wrap, push, zoom, hue, edges, seed):
        r = self.renderer(path, ctx.device)
        if coords is None:
            xy = self.grid(ctx)
            h, w = ctx.height, ctx.width
        else:
            c = coords.to(ctx.device)
            h, w = c.shape[-3], c.shape[-2]
            xy = c[..., :2].reshape(*c.shape[:-3], h * w, 2)
        offset = None
        if latent is not None and bool((push != 0).any()):
            v = torch.nan_to_num(latent.float()).clamp(-10, 10)
            p = self.projection(v.shape[1], r.look.latent, seed, ctx.device)
            offset = (v.to(ctx.device) @ p) * (push.to(ctx.device)[:, None] * r.code_scale)
        rgb = r.render(xy, morph, offset=offset, zoom=zoom, hue=hue / 360.0, wrap=wrap,
                       edges=edges)
        return {"image": rgb.view(morph.shape[0], h, w, 3).to(ctx.dtype)}

    @staticmethod
    def pixel_floats(params, device) -> tuple[int, int]:
        """Floats per pixel (see afx_graph.engine.memory): the coordinate grid once; per frame the
        output (the network runs in cache-sized pixel chunks)."""
        return 2, 3


NODES = [FittedLook]
