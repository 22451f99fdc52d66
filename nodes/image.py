"""Image operators: IMAGE in, IMAGE out, on whole frame batches.

Every operator runs per frame on ``(B, H, W, 3)`` batches and, like every per-frame node,
receives its numeric params as ``(B,)`` tensors, one value per frame, whether linked or not
(the executor's normal form, see ``afx_graph.types``); the output has the batch's B frames.

Resolution independence: geometry is measured in fractions of the image's short side
(the same centred, aspect-correct frame as ``field.coords``), and pixel sizes are given "at
1080p" and scaled with the image height, so a patch looks the same at 360p and at 4K.

Geometric operators sample with :func:`torch.nn.functional.grid_sample` (bilinear) and share
one choice of what lies beyond the image's edge: ``reflect`` (mirror, seamless), ``wrap``
(tile), ``clamp`` (stretch the border pixels) or ``black``.

``image.feedback`` is the one stateful operator: each frame sees the previous frame's output,
so it walks the batch frame by frame and keeps the last output between batches.

Speed: the maths runs channels-first (``(B, 3, H, W)``, one contiguous plane per channel).
With the channel innermost, every op that broadcasts over the 3 channels (a grey level, a
per-pixel weight) runs an unvectorised 3-element inner loop, measured ~10x slower on a CPU.
Outputs are therefore ``(B, H, W, 3)`` *views* of channels-first memory (``permute``): valid
IMAGE values that the next operator takes without a copy; code that needs a particular
memory layout should call ``.contiguous()`` / ``.reshape()``, not ``.view()``. On a CPU the
per-pixel chains also run one frame at a time, so their temporaries stay in cache.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from afx_graph import IMAGE, In, Out, Param, node

from afx_graph.nodes import palettes

EDGES = ("reflect", "wrap", "clamp", "black")
_PADDING = {"reflect": "reflection", "clamp": "border", "black": "zeros", "wrap": "border"}
EDGE_DOC = "beyond the image's edge: reflect (mirror), wrap (tile), clamp (stretch) or black"
LUMA = (0.2126, 0.7152, 0.0722)        # Rec. 709 luminance weights
REFERENCE_FPS = 30.0                   # feedback params are "per frame at 30 fps"


# -- shared helpers -------------------------------------------------------------------------

def planar(image: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) -> (B, 3, H, W) contiguous (free when it already is underneath)."""
    return image.permute(0, 3, 1, 2).contiguous()


def as_image(p: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> the (B, H, W, 3) IMAGE view of the same memory."""
    return p.permute(0, 2, 3, 1)


def frames(p: torch.Tensor, n: int) -> torch.Tensor:
    return p.expand(n, *p.shape[1:]) if p.shape[0] != n else p


def height_scale(image: torch.Tensor) -> float:
    """Pixel sizes are given at 1080p: multiply by this for an IMAGE (B, H, W, 3)."""
    return image.shape[1] / 1080.0


def _is(value: torch.Tensor, literal: float) -> bool:
    """Whether a per-frame param is ``literal`` in every frame of the batch (its work can be
    skipped)."""
    return bool((value == literal).all())


def _px(value: torch.Tensor, dtype: torch.dtype = torch.float32, ndim: int = 4) -> torch.Tensor:
    """A per-frame param (B,) shaped to broadcast over (B, ...) tensors of ``ndim``."""
    return value.to(dtype).reshape((-1,) + (1,) * (ndim - 1))


def by_frame(fn, n: int, *args) -> torch.Tensor:
    """``fn(*args)`` for a batch of ``n`` frames. On a CPU it runs frame by frame so the
    temporaries of a chain of per-pixel ops stay in cache (2-4x faster than whole-batch
    temporaries at 640x360); on a GPU the whole batch goes at once. Tensor args with ``n``
    leading rows are sliced per frame; anything else is passed as is."""
    dev = next((a.device for a in args if isinstance(a, torch.Tensor)), None)
    if n == 1 or dev is None or dev.type != "cpu":
        return fn(*args)
    outs = [fn(*(a[i:i + 1] if isinstance(a, torch.Tensor) and a.ndim and a.shape[0] == n > 1
                 else a for a in args)) for i in range(n)]
    return torch.cat([frames(o, 1) for o in outs])


@lru_cache(maxsize=16)
def pixel_grid(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, H, W) x and y of each pixel centre: centred, y pointing up, the short side spanning
    -0.5..0.5 (the frame of ``field.coords``, with y flipped to the usual maths sense)."""
    short = min(width, height)
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5 - width / 2) / short
    ys = -(torch.arange(height, device=device, dtype=torch.float32) + 0.5 - height / 2) / short
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return x[None], y[None]


@lru_cache(maxsize=16)
def polar_grid(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, H, W) distance from the centre and angle (radians, counter-clockwise from +x) of
    each pixel centre of :func:`pixel_grid`."""
    x, y = pixel_grid(height, width, device)
    return torch.sqrt(x * x + y * y), torch.atan2(y, x)


def sample(p: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor, edge: str) -> torch.Tensor:
    """Bilinear lookup of channels-first images ``p`` (B or 1, 3, H, W) at source points
    ``sx, sy`` ((n, H, W) in :func:`pixel_grid` units) -> (max(B, n), 3, H, W)."""
    n = max(sx.shape[0], sy.shape[0], p.shape[0])
    h, w = p.shape[2], p.shape[3]
    dtype = p.dtype     # half precision would put sample points up to ~0.5 px off at 1080p
    p = p.float()
    short = min(h, w)
    gx = sx * (2.0 * short / w)                 # grid_sample units, align_corners=False
    gy = sy * (-2.0 * short / h)
    if edge == "wrap":
        # wrap in pixel units, then look up in a copy padded by one pixel on each side with
        # the opposite edge, so bilinear weights blend across the seam too
        px = torch.remainder((gx + 1) * (w / 2.0), w)          # [0, w): pixel-edge units
        py = torch.remainder((gy + 1) * (h / 2.0), h)
        gx = (px + 1) * (2.0 / (w + 2)) - 1
        gy = (py + 1) * (2.0 / (h + 2)) - 1
        p = F.pad(p, (1, 1, 1, 1), mode="circular")
    grid = torch.stack([gx.expand(n, -1, -1), gy.expand(n, -1, -1)], dim=-1).float()
    out = F.grid_sample(frames(p, n), grid, mode="bilinear", padding_mode=_PADDING[edge],
                        align_corners=False)
    return out.to(dtype)


def affine_source(x: torch.Tensor, y: torch.Tensor, zoom, rotate, tx, ty):
    """Where each output point comes from when the image is zoomed by ``zoom`` and rotated
    by ``rotate`` degrees (counter-clockwise) about the centre, then moved by ``(tx, ty)``
    (short-side units, y up). Params are (n, 1, 1) tensors."""
    a = torch.deg2rad(rotate)
    c, s = torch.cos(a), torch.sin(a)
    px, py = x - tx, y - ty
    return (c * px + s * py) / zoom, (c * py - s * px) / zoom


def luminance(p: torch.Tensor) -> torch.Tensor:
    """Channels-first (B, 3, H, W) -> (B, 1, H, W) Rec. 709 luma."""
    return (p[:, 0:1] * LUMA[0]).add_(p[:, 1:2], alpha=LUMA[1]).add_(p[:, 2:3], alpha=LUMA[2])


# -- blend ----------------------------------------------------------------------------------

BLEND_MODES = {
    "mix": lambda a, b: b,
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "screen": lambda a, b: 1 - (1 - a) * (1 - b),
    "overlay": lambda a, b: torch.where(a < 0.5, 2 * a * b, 1 - 2 * (1 - a) * (1 - b)),
    "difference": lambda a, b: (a - b).abs(),
    "lighten": torch.maximum,
    "darken": torch.minimum,
}


def _blend(a: torch.Tensor, b: torch.Tensor, mode: str, amount: torch.Tensor) -> torch.Tensor:
    top = BLEND_MODES[mode](a, b)
    out = top if amount.ndim == 1 else torch.lerp(a, top, amount)   # (B,): amount 1, all of b
    return out.clamp(0.0, 1.0)


@node("image.blend", category="Image")
class Blend:
    """Blend

    Combines two images: `mix` crossfades from a to b; the other modes put b over a the way
    a paint program's layer modes do, faded in by `amount`."""

    a = In(IMAGE, doc="the base image")
    b = In(IMAGE, doc="the image laid over it (resized to a's size if it differs)")
    mode = Param(str, "mix", choices=tuple(BLEND_MODES), doc="how b combines with a")
    amount = Param(float, 0.5, min=0.0, max=1.0, doc="0 shows a only, 1 the full blend")
    out = Out(IMAGE)

    def process(self, ctx, a, b, mode, amount):
        if _is(amount, 0.0):
            return {"out": a}
        pa, pb = planar(a), planar(b).to(a.dtype)
        if pb.shape[2:] != pa.shape[2:]:
            pb = F.interpolate(pb.float(), size=tuple(pa.shape[2:]), mode="bilinear",
                               align_corners=False, antialias=True).to(a.dtype)
        amt = amount if _is(amount, 1.0) else _px(amount, a.dtype)
        out = by_frame(lambda x, y, m: _blend(x, y, mode, m), ctx.batch, pa, pb, amt)
        return {"out": as_image(out)}


# -- transform ------------------------------------------------------------------------------

@node("image.transform", category="Image")
class Transform:
    """Transform

    Zooms, rotates and moves the image about its centre. Distances are fractions of the
    image's short side, so the motion is the same at any resolution."""

    image = In(IMAGE)
    zoom = Param(float, 1.0, min=0.05, max=20.0, doc="magnification: 2 doubles the size, 0.5 halves it")
    rotate = Param(float, 0.0, min=-3600.0, max=3600.0, doc="rotation in degrees, counter-clockwise")
    x = Param(float, 0.0, min=-4.0, max=4.0, doc="move right, in fractions of the short side")
    y = Param(float, 0.0, min=-4.0, max=4.0, doc="move up, in fractions of the short side")
    edge = Param(str, "reflect", choices=EDGES, doc=EDGE_DOC)
    out = Out(IMAGE)

    def process(self, ctx, image, zoom, rotate, x, y, edge):
        if all(_is(v, d) for v, d in ((zoom, 1.0), (rotate, 0.0), (x, 0.0), (y, 0.0))):
            return {"out": image}
        gx, gy = pixel_grid(image.shape[1], image.shape[2], image.device)
        f32 = torch.float32
        sx, sy = affine_source(gx, gy, *(_px(v, f32, 3) for v in (zoom, rotate, x, y)))
        return {"out": as_image(sample(planar(image), sx, sy, edge))}


# -- kaleidoscope ---------------------------------------------------------------------------

@node("image.kaleidoscope", category="Image")
class Kaleidoscope:
    """Kaleidoscope

    Folds the image into `segments`-fold mirror symmetry around the centre: one wedge of the
    source, mirrored and repeated all the way round. `rotate` turns the whole pattern;
    `angle` turns the wedge of the source it is made from (the look changes, the axes stay)."""

    image = In(IMAGE)
    segments = Param(int, 6, min=1, max=64, doc="number of mirror axes (rotational symmetry order)")
    rotate = Param(float, 0.0, min=-3600.0, max=3600.0, doc="turns the pattern, in degrees")
    angle = Param(float, 0.0, min=-3600.0, max=3600.0,
                  doc="which wedge of the source is mirrored, in degrees")
    zoom = Param(float, 1.0, min=0.05, max=20.0, doc="magnification of the source")
    edge = Param(str, "reflect", choices=EDGES, doc=EDGE_DOC)
    out = Out(IMAGE)

    def process(self, ctx, image, segments, rotate, angle, zoom, edge):
        radius, theta = polar_grid(image.shape[1], image.shape[2], image.device)
        f32 = torch.float32
        wedge = 2 * math.pi / _px(segments, f32, 3)
        r = radius / _px(zoom, f32, 3)
        a = torch.remainder(theta - torch.deg2rad(_px(rotate, f32, 3)), wedge)
        a = torch.minimum(a, wedge - a) + torch.deg2rad(_px(angle, f32, 3))   # mirrored halves
        return {"out": as_image(sample(planar(image), r * torch.cos(a), r * torch.sin(a), edge))}


# -- colour ---------------------------------------------------------------------------------

PALETTE_CHOICES = ("none",) + palettes.NAMES


def hue_shift(p: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Rotate the hue (HSV) of channels-first images by ``turns`` (1 = 360 degrees; a
    (B, 1, 1, 1) tensor), keeping value and saturation."""
    r, g, b = p[:, 0], p[:, 1], p[:, 2]
    maxc = torch.maximum(torch.maximum(r, g), b)
    delta = maxc - torch.minimum(torch.minimum(r, g), b)
    inv = torch.where(delta > 0, delta, 1.0).reciprocal_()
    h = torch.where(maxc == r, (g - b) * inv,
                    torch.where(maxc == g, (b - r) * inv + 2.0, (r - g) * inv + 4.0))
    h = h + turns[:, 0] * 6.0   # in sixths
    out = torch.empty_like(p)
    for c, n in enumerate((5.0, 3.0, 1.0)):
        # HSV -> RGB without branches: channel = v - chroma * clamp(min(k, 4 - k), 0, 1)
        k = torch.remainder(h + n, 6.0)
        f = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
        torch.sub(maxc, delta * f, out=out[:, c])
    return out


COLOUR_IDENTITY = {"hue": 0.0, "saturation": 1.0, "contrast": 1.0, "brightness": 1.0,
                   "palette_mix": 0.0, "palette_shift": 0.0}


def adjust_colour(p: torch.Tensor, palette: str, **params) -> torch.Tensor:
    """The colour chain of ``image.color`` on channels-first images. ``params`` are the
    (B, 1, 1, 1) tensors named in COLOUR_IDENTITY (hue in turns); one left out (or None) is
    at its identity and its stage is skipped."""
    hue, saturation, contrast, brightness, palette_mix, palette_shift = (
        params.get(k) for k in COLOUR_IDENTITY)
    out = p
    if hue is not None:
        out = hue_shift(out, hue)
    if saturation is not None:
        out = torch.lerp(luminance(out), out, saturation)
    if contrast is not None:
        out = (out - 0.5).mul_(contrast).add_(0.5)
    if brightness is not None:
        out = out * brightness
    if palette != "none" and palette_mix is not None:
        t = luminance(out.clamp(0.0, 1.0))
        if palette_shift is not None:            # bounce along the gradient: period 2
            t = 1.0 - (1.0 - torch.remainder(t + palette_shift, 2.0)).abs_()
        mapped = palettes.map_level(t, palette)
        out = mapped if bool((palette_mix == 1.0).all()) else torch.lerp(out, mapped, palette_mix)
    return out.clamp(0.0, 1.0)


@node("image.color", category="Image", version=2)
class Color:
    """Color

    Hue shift, saturation, contrast and brightness, then an optional gradient palette: the
    image's luminance is mapped through a colour gradient (fire, ice, neon, sunset...) and
    mixed in by `palette_mix`."""

    image = In(IMAGE)
    hue = Param(float, 0.0, min=-3600.0, max=3600.0, doc="hue shift in degrees (360 = full circle)")
    saturation = Param(float, 1.0, min=0.0, max=4.0, doc="0 is grey, 1 unchanged, above 1 more vivid")
    contrast = Param(float, 1.0, min=0.0, max=4.0, doc="spread around mid grey: 0 flat, 1 unchanged")
    brightness = Param(float, 1.0, min=0.0, max=4.0, doc="multiplies the colours: 0 black, 1 unchanged")
    palette = Param(str, "none", choices=PALETTE_CHOICES,
                    doc="palette the luminance is mapped through (the library's one vocabulary: "
                        "gradients run dark to light, cosine palettes one period)")
    palette_mix = Param(float, 1.0, min=0.0, max=1.0, doc="how much of the palette colours to use")
    palette_shift = Param(float, 0.0, min=-100.0, max=100.0,
                          doc="slides the colours along the gradient (bouncing at the ends); "
                              "link an LFO to cycle them")
    out = Out(IMAGE)

    @staticmethod
    def migrate(params: dict, version: int) -> dict:
        """Version 2: three gradients renamed, as their names meant other colours in the
        pattern nodes (see nodes/palettes.py); an old patch keeps its colours."""
        old = params.get("palette")
        if version < 2 and isinstance(old, str) and old in palettes.RENAMED:
            params = {**params, "palette": palettes.RENAMED[params["palette"]]}
        return params

    def process(self, ctx, image, hue, saturation, contrast, brightness, palette, palette_mix,
                palette_shift):
        given = {"hue": torch.remainder(hue / 360.0, 1.0),            # in turns, in [0, 1):
                 "saturation": saturation, "contrast": contrast,      # 360 is no change, and
                 "brightness": brightness}                            # half precision is exact
        if palette != "none":                                         # enough
            given.update(palette_mix=palette_mix, palette_shift=palette_shift)
        active = {k: v for k, v in given.items() if not _is(v, COLOUR_IDENTITY[k])}
        if "palette_mix" not in active:
            active.pop("palette_shift", None)
        if not active:
            return {"out": image}
        names = list(active)
        out = by_frame(lambda x, *ps: adjust_colour(x, palette, **dict(zip(names, ps))),
                       ctx.batch, planar(image), *(_px(v, image.dtype) for v in active.values()))
        return {"out": as_image(out)}


# -- blur -----------------------------------------------------------------------------------

DIRECT_SIGMA = 3.0       # wider than this many pixels: blur a downscaled copy (same look, far cheaper)
MIN_SIGMA = 0.05         # below this the blur changes nothing visible


def gaussian_kernel(sigma: float) -> list[float]:
    """Normalised taps of a Gaussian with standard deviation ``sigma``, 3 sigma each side."""
    r = max(1, int(math.ceil(3.0 * sigma)))
    w = [math.exp(-0.5 * (i / sigma) ** 2) for i in range(-r, r + 1)]
    total = math.fsum(w)
    return [v / total for v in w]


@lru_cache(maxsize=64)
def mirror_index(n: int, r: int, device: torch.device) -> torch.Tensor:
    """Indices of ``n`` samples padded by ``r`` each side, mirrored at the edges (the edge
    sample repeated, as a reflection about the image border); any ``r``, even beyond ``n``."""
    i = torch.remainder(torch.arange(-r, n + r, device=device), 2 * n)
    return torch.where(i < n, i, 2 * n - 1 - i)


def _blur_axis(x: torch.Tensor, taps: list[float], dim: int) -> torch.Tensor:
    n = x.shape[dim]
    r = (len(taps) - 1) // 2
    p = x.index_select(dim, mirror_index(n, r, x.device))
    out = p.narrow(dim, 0, n) * taps[0]
    for i in range(1, len(taps)):      # shifted multiply-adds: far faster than conv2d on a CPU
        out.add_(p.narrow(dim, i, n), alpha=taps[i])
    return out


def blur_direct(p: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian of channels-first images (N, C, H, W), mirrored at the edges."""
    taps = gaussian_kernel(sigma)
    return by_frame(lambda f: _blur_axis(_blur_axis(f, taps, 3), taps, 2), p.shape[0], p)


def gaussian_blur(p: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of channels-first images (N, C, H, W) with standard deviation ``sigma``
    pixels. Wide blurs run on a copy downscaled so the kernel stays a few pixels wide, then
    scaled back up; the blur the resampling itself adds is taken off the kernel, so the total
    width stays ``sigma`` (within ~1% of the signal, measured on white noise)."""
    if sigma < MIN_SIGMA:
        return p
    h, w = p.shape[2], p.shape[3]
    factor = int(sigma // (DIRECT_SIGMA / 1.5)) if sigma > DIRECT_SIGMA else 1
    factor = min(factor, max(1, min(h, w) // 4))
    if factor <= 1:
        return blur_direct(p, sigma)
    small = F.interpolate(p.float(), size=(max(1, round(h / factor)), max(1, round(w / factor))),
                          mode="bilinear", align_corners=False, antialias=True)
    # the down- and up-scaling act like two triangle filters of variance factor^2 / 6 each
    rest = math.sqrt(max(sigma * sigma - factor * factor / 3.0, 0.25 * factor * factor)) / factor
    return F.interpolate(blur_direct(small, rest), size=(h, w), mode="bilinear",
                         align_corners=False).to(p.dtype)


@node("image.blur", category="Image")
class Blur:
    """Blur

    Gaussian blur. `radius` is the Gaussian's width (standard deviation) in pixels of a
    1080p frame, so the look is the same at any resolution; it can be driven per frame."""

    image = In(IMAGE)
    radius = Param(float, 4.0, min=0.0, max=256.0, doc="blur radius in pixels at 1080p")
    out = Out(IMAGE)

    def process(self, ctx, image, radius):
        scale = height_scale(image)
        radii = radius.tolist()
        n = ctx.batch
        if all(r * scale < MIN_SIGMA for r in radii):
            return {"out": image}
        p = planar(image)
        if len(set(radii)) == 1:
            return {"out": as_image(gaussian_blur(p, radii[0] * scale))}
        # one radius per frame: blur each group of frames that share a radius together, so
        # a frame's result never depends on the other frames of its batch
        out = torch.empty((n,) + tuple(p.shape[1:]), dtype=p.dtype, device=p.device)
        for r in sorted(set(radii)):
            idx = [i for i, v in enumerate(radii) if v == r]
            blurred = gaussian_blur(p if p.shape[0] == 1 else p[idx], r * scale)
            out[idx] = frames(blurred, len(idx))
        return {"out": as_image(out)}


# -- feedback -------------------------------------------------------------------------------

FEEDBACK_MODES = ("max", "add", "mix")


@node("image.feedback", category="Image", rate="frame", stateful=True)
class Feedback:
    """Feedback

    The classic MilkDrop trail: every frame, the previous output is zoomed, rotated and moved
    a little, dimmed by `decay`, and combined with the new input, so anything bright leaves a
    fading, swirling trail. Motion params are per frame at 30 fps (other frame rates are
    scaled to look the same). Frames are computed in order; a render always starts afresh."""

    image = In(IMAGE, doc="the new picture each frame")
    decay = Param(float, 0.9, min=0.0, max=1.0,
                  doc="how much of the trail survives each frame (mix: weight of the trail)")
    zoom = Param(float, 1.02, min=0.5, max=2.0, doc="trail zoom per frame: above 1 flows outwards")
    rotate = Param(float, 0.0, min=-180.0, max=180.0, doc="trail rotation per frame, in degrees")
    x = Param(float, 0.0, min=-1.0, max=1.0,
              doc="trail drift right per frame, in fractions of the short side")
    y = Param(float, 0.0, min=-1.0, max=1.0,
              doc="trail drift up per frame, in fractions of the short side")
    mode = Param(str, "max", choices=FEEDBACK_MODES,
                 doc="max: brightest wins; add: glowing sum; mix: crossfade towards the trail")
    edge = Param(str, "reflect", choices=EDGES,
                 doc=EDGE_DOC + " (black shows the trail's rotated frame as straight lines)")
    out = Out(IMAGE)

    def __init__(self):
        self.reset()

    @staticmethod
    def settle(params, fps, linked):
        """Seconds until the trail of a frame has faded below half an 8-bit level: after
        that the output no longer depends on where the render started (chunks.py). A linked
        decay, or 1 (trails never fade), remembers everything."""
        if "decay" in linked:
            return None
        d = float(params["decay"])
        if d <= 0.0:
            return 0.0
        if d >= 1.0:
            return None
        return math.log(0.5 / 255.0) / math.log(d) / REFERENCE_FPS    # decay is per 1/30 s

    @staticmethod
    def fade(values, fps):
        """What of the trail survives each frame (``values``: per-frame params), for a
        render split in time when decay is driven (chunks.fading_lead)."""
        return np.clip(np.asarray(values["decay"], dtype=np.float64), 0.0, 1.0) ** (REFERENCE_FPS / fps)

    def reset(self):
        self._prev = None       # the last output, channels-first (1, 3, H, W)

    def process(self, ctx, image, decay, zoom, rotate, x, y, mode, edge):
        n = ctx.batch
        k = REFERENCE_FPS / float(ctx.fps)
        # per-frame params as (n, 1, 1), scaled from "per frame at 30 fps" to this frame rate
        p = {name: _px(v, torch.float32, 3)
             for name, v in (("decay", decay), ("zoom", zoom), ("rotate", rotate), ("x", x),
                             ("y", y))}
        gx, gy = pixel_grid(image.shape[1], image.shape[2], image.device)
        sx, sy = affine_source(gx, gy, p["zoom"] ** k, p["rotate"] * k, p["x"] * k, p["y"] * k)
        fade = (p["decay"] ** k)[..., None]                           # (n, 1, 1, 1)
        src = planar(image).float()     # the trail lives in float32 whatever the precision
        prev = self._prev
        if prev is not None and (prev.shape[1:] != src.shape[1:] or prev.device != src.device):
            prev = None     # the size or device changed (an edit in the editor): start afresh
        out = torch.empty((n,) + tuple(src.shape[1:]), dtype=src.dtype, device=src.device)
        for i in range(n):
            cur = src[i:i + 1]
            if prev is None:
                out[i] = cur[0]
            else:
                trail = sample(prev, sx[i:i + 1], sy[i:i + 1], edge)
                if mode == "mix":
                    torch.lerp(cur, trail, fade[i], out=out[i:i + 1])
                elif mode == "max":
                    torch.maximum(cur, trail.mul_(fade[i]), out=out[i:i + 1])
                else:
                    torch.add(cur, trail.mul_(fade[i]), out=out[i:i + 1]).clamp_(0.0, 1.0)
            prev = out[i:i + 1]
        self._prev = prev.clone() if prev is not None else None
        return {"out": as_image(out.to(image.dtype))}


NODES = [Blend, Transform, Kaleidoscope, Color, Blur, Feedback]
