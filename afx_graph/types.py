"""Port types and the values that travel along links.

A port type is an object with a compatibility rule (``accepts``), never a bare string.
Values:

* ``AUDIO``     an :class:`Audio` (a whole decoded track), static.
* ``TIMELINE``  a :class:`Timeline` (T x D rows at the video frame rate, with names), static.
* ``SCALAR``    per frame: a float tensor of shape ``(B,)``.
* ``VECTOR``    per frame: a float tensor of shape ``(B, D)``.
* ``IMAGE``     a float tensor ``(B, H, W, C)`` on the device, nominally in [0, 1].

A producer may give a per-frame value in a looser form (a number, a 0-d tensor, an image with
``B`` = 1 that does not change over time); the executor hands every consumer the one form
above, float32 on the device, with ``B`` the batch (:data:`NORMALISE`).
* ``COORDS``    a float tensor ``(H, W, 3)`` holding x, y, r for the output size, static.

Which links are allowed besides same-type ones, and how the executor converts their values,
is one table, :data:`CONVERSIONS`: the graph (``accepts``), the plan (a conversion made per
frame makes its consumer per-frame), the executor (``adapt``) and the editor all read it, so a
new port type is a change in this module only. A timeline linked into a SCALAR or VECTOR input
is sampled at each frame's time; a SCALAR linked into a VECTOR input becomes a 1-D vector.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np


@dataclass(frozen=True, eq=False)
class PortType:
    id: str
    doc: str
    color: tuple[int, int, int]

    def accepts(self, source: "PortType") -> bool:
        return source is self or (source.id, self.id) in CONVERSIONS

    def __str__(self) -> str:  # used in messages: "expected IMAGE, got AUDIO"
        return self.id.upper()


AUDIO = PortType("audio", "a whole decoded audio track", (80, 200, 120))
TIMELINE = PortType("timeline", "feature rows at the video frame rate (T x D, named)", (230, 180, 60))
SCALAR = PortType("scalar", "one number per frame", (120, 170, 255))
VECTOR = PortType("vector", "several numbers per frame", (170, 130, 255))
IMAGE = PortType("image", "an RGB image batch (B x H x W x 3) on the device", (255, 110, 150))
COORDS = PortType("coords", "the x, y, r coordinate grid of the output size", (150, 220, 220))


@dataclass(frozen=True)
class Conversion:
    """How a value of one port type is made to fit an input of another."""

    convert: Callable            # (value, ctx) -> value, for a frame batch described by ctx
    per_frame: bool              # True: done for every frame batch (the consumer is per-frame)


@dataclass
class Audio:
    """A decoded track. ``samples`` keep the original channels for muxing; ``mono`` is the
    mixdown used for analysis; both are float32 in [-1, 1] at ``sr``."""

    samples: np.ndarray            # (channels, n)
    sr: int
    source: Path | None = None     # the file it came from, if any
    layout: str = "mono"
    _mono: np.ndarray | None = field(default=None, repr=False)
    # A render decodes only the span it needs: ``offset`` is where ``samples`` start in the
    # track (seconds); ``to_end`` says whether they reach the track's end.
    offset: float = 0.0
    to_end: bool = True

    @property
    def mono(self) -> np.ndarray:
        if self._mono is None:
            self._mono = np.ascontiguousarray(self.samples.mean(axis=0), dtype=np.float32)
        return self._mono

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        """Seconds of samples held (the decoded span)."""
        return self.samples.shape[1] / float(self.sr)

    @property
    def end(self) -> float:
        """Where the held span ends in the track (seconds)."""
        return self.offset + self.duration

    @property
    def total(self) -> float | None:
        """The whole track's length, when the span reaches its end; else None."""
        return self.end if self.to_end else None

    def stereo(self) -> np.ndarray:
        """``(channels <= 2, n)``: more than two channels downmixed to stereo in the usual
        way (fronts full, centre and surrounds at -3 dB, LFE left out), peak kept <= 1."""
        if self.channels <= 2:
            return self.samples
        return downmix_stereo(self.samples, self.layout)


_HALF = 0.7071


def downmix_stereo(samples: np.ndarray, layout: str) -> np.ndarray:
    """``(C, n)`` -> ``(2, n)`` by channel names of ffmpeg's layout (FL, FR, FC, LFE, BL, ...);
    an unknown layout alternates its channels left and right."""
    names: list[str] = []
    try:
        import av
        names = [c.name for c in av.AudioLayout(layout).channels]
    except Exception:
        pass
    if len(names) != samples.shape[0]:
        names = ["FL" if i % 2 == 0 else "FR" for i in range(samples.shape[0])]
    left, right = np.zeros(len(names)), np.zeros(len(names))
    for i, name in enumerate(names):
        front = name in ("FL", "FR")
        if "LFE" in name:
            continue
        if name.endswith("L") or name.endswith("LC"):
            left[i] = 1.0 if front else _HALF
        elif name.endswith("R") or name.endswith("RC"):
            right[i] = 1.0 if front else _HALF
        else:                                   # centres
            left[i] = right[i] = _HALF
    out = np.stack([left @ samples, right @ samples]).astype(np.float32)
    peak = float(np.abs(out).max()) if out.size else 0.0
    return out / peak if peak > 1.0 else out


@dataclass
class Timeline:
    """Feature rows sampled at ``fps`` (one row per video frame), with a name per column."""

    values: np.ndarray             # (T, D) float32
    fps: float
    names: tuple[str, ...]
    start: float = 0.0             # seconds into the track of row 0 (the decoded span's start)

    def __post_init__(self):
        self.values = np.asarray(self.values, dtype=np.float32)
        if self.values.ndim == 1:
            self.values = self.values[:, None]
        if len(self.names) != self.values.shape[1]:
            raise ValueError(f"timeline has {self.values.shape[1]} columns but {len(self.names)} names")

    @property
    def dims(self) -> int:
        return int(self.values.shape[1])

    def sample(self, times: np.ndarray) -> np.ndarray:
        """Rows at the given times (seconds), linearly interpolated, clamped at the ends."""
        pos = np.clip((np.asarray(times, dtype=np.float64) - self.start) * self.fps, 0,
                      len(self.values) - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, len(self.values) - 1)
        w = (pos - lo)[:, None].astype(np.float32)
        return self.values[lo] * (1 - w) + self.values[hi] * w

    def column(self, name: str) -> "Timeline":
        i = self.names.index(name)
        return Timeline(self.values[:, i:i + 1], self.fps, (name,), self.start)


def _rows(timeline: "Timeline", ctx) -> "torch.Tensor":
    import torch
    return torch.from_numpy(timeline.sample(ctx.times)).to(ctx.device)


def _scalars(value, ctx) -> "torch.Tensor":
    """A per-frame scalar in whatever form a producer gave it (a number, a 0-d, (1,) or (B,)
    tensor, or a one-column timeline that a live node's static output grows as the show goes:
    sampled at the frames' times) as the ``(B,)`` float32 tensor on the device that a consumer
    receives."""
    import torch

    if hasattr(value, "sample"):
        return _rows(value, ctx)[:, 0]
    if isinstance(value, torch.Tensor):
        v = value.to(ctx.device, torch.float32)
        if v.numel() == 1:
            return v.reshape(1).expand(ctx.batch)
        return v.reshape(-1)
    return torch.full((ctx.batch,), float(value), device=ctx.device)


def _vectors(value, ctx) -> "torch.Tensor":
    import torch
    v = value if isinstance(value, torch.Tensor) and value.ndim == 2 else _scalars(value, ctx)
    v = v[:, None] if v.ndim == 1 else v
    return v.expand(ctx.batch, -1) if v.shape[0] != ctx.batch else v


def _images(value, ctx) -> "torch.Tensor":
    """An image that does not change over time (B = 1) is the same picture for every frame."""
    return value.expand(ctx.batch, *value.shape[1:]) if value.shape[0] != ctx.batch else value


# (source type id, target type id) -> the conversion a link between them gets. Links between
# equal types need no entry; any pair not here is refused when the link is made.
CONVERSIONS: dict[tuple[str, str], Conversion] = {
    ("timeline", "scalar"): Conversion(lambda v, ctx: _rows(v, ctx)[:, 0], per_frame=True),
    ("timeline", "vector"): Conversion(_rows, per_frame=True),
    ("scalar", "vector"): Conversion(_vectors, per_frame=False),
}

# The one form a per-frame value of each type reaches a node in, whatever form its producer
# gave it: SCALAR (B,), VECTOR (B, D), IMAGE (B, H, W, C), float32 on the device, B the batch.
NORMALISE: dict[str, Callable] = {
    "scalar": _scalars,
    "vector": _vectors,
    "image": _images,
}


def converter(source: PortType, target: PortType) -> Callable:
    """``(value, ctx) -> value``: what a link from ``source`` into ``target`` does to a value
    for a frame batch described by ``ctx`` (a FrameContext with ``times``/``batch``): the
    conversion between the two types, then the normal form of ``target``."""
    conversion = CONVERSIONS.get((source.id, target.id))
    normalise = NORMALISE.get(target.id)
    if conversion is None and normalise is None:
        return _same
    if conversion is None:
        return normalise
    if normalise is None:
        return conversion.convert
    return lambda value, ctx: normalise(conversion.convert(value, ctx), ctx)


def _same(value, ctx):
    return value


def adapt(value, source: PortType, target: PortType, ctx) -> object:
    """``value`` from a ``source`` output made to fit a ``target`` input (see converter)."""
    return converter(source, target)(value, ctx)


def converted_per_frame(source: PortType, target: PortType) -> bool:
    """Whether a link from ``source`` into ``target`` is converted for every frame batch."""
    conversion = CONVERSIONS.get((source.id, target.id))
    return conversion is not None and conversion.per_frame
