"""A small node pack for engine tests: no audio, no neural nets, cheap and inspectable."""
from __future__ import annotations

import numpy as np
import torch

from afx_graph import AUDIO, IMAGE, SCALAR, TIMELINE, VECTOR, Audio, In, Out, Param, Timeline, node
from afx_graph.errors import NodeInputError


@node("test.number", category="Test")
class Number:
    """A constant scalar."""
    value = Param(float, 1.0, min=-100.0, max=100.0, doc="the number")
    out = Out(SCALAR)

    def process(self, ctx, value):
        return {"out": value}


@node("test.timeline", category="Test")
class Ramp:
    """A timeline whose row i holds i (one row per frame)."""
    frames = Param(int, 100, min=1, max=100000, doc="rows")
    out = Out(TIMELINE)

    def process(self, ctx, frames):
        return {"out": Timeline(np.arange(frames, dtype=np.float32), ctx.fps, ("ramp",))}


@node("test.tone", category="Test")
class Tone:
    """A quiet sine tone of a given length."""
    seconds = Param(float, 2.0, min=0.1, max=60.0, doc="length")
    audio = Out(AUDIO)

    def process(self, ctx, seconds):
        sr = 8000
        t = np.arange(int(sr * seconds)) / sr
        return {"audio": Audio(np.sin(2 * np.pi * 220 * t)[None].astype(np.float32) * 0.1, sr)}


@node("test.clock", category="Test", rate="frame")
class Clock:
    """Seconds of each frame."""
    out = Out(SCALAR)

    def process(self, ctx):
        return {"out": ctx.t}


@node("test.add", category="Test")
class Add:
    """a + b (per frame when either is)."""
    a = In(SCALAR)
    b = In(SCALAR, optional=True)
    out = Out(SCALAR)

    def process(self, ctx, a, b):
        return {"out": a + (0.0 if b is None else b)}


@node("test.vec", category="Test")
class Vec:
    """Passes a vector through."""
    v = In(VECTOR)
    out = Out(VECTOR)

    def process(self, ctx, v):
        return {"out": v}


@node("test.image", category="Test")
class Image:
    """A horizontal gradient times `level`."""
    level = Param(float, 0.5, min=0.0, max=1.0, doc="brightness")
    out = Out(IMAGE)

    def process(self, ctx, level):
        x = torch.linspace(0, 1, ctx.width, device=ctx.device)
        img = x.view(1, 1, -1, 1).expand(1, ctx.height, ctx.width, 3)
        lv = level.view(-1, 1, 1, 1) if isinstance(level, torch.Tensor) else torch.tensor(level)
        return {"out": img * lv}


@node("test.accum", category="Test", rate="frame", stateful=True)
class Accum:
    """Running sum of its input over the frames of a render (stateful)."""
    x = In(SCALAR)
    out = Out(SCALAR)

    def __init__(self):
        self.reset()

    def reset(self):
        self.total = 0.0

    def process(self, ctx, x):
        out = []
        for v in x.tolist():
            self.total += v
            out.append(self.total)
        return {"out": torch.tensor(out, device=ctx.device)}


@node("test.sink", category="Test", rate="frame", sink=True)
class Sink:
    """Collects the mean of each frame it sees."""
    image = In(IMAGE)
    value = In(SCALAR, optional=True)
    out = Out(SCALAR)
    log: list = []

    def begin(self, ctx):
        self.frames, self.values, self.batches = [], [], []

    def process(self, ctx, image, value):
        self.batches.append(len(ctx.frames))
        self.frames += ctx.frames.tolist()
        img = image.expand(ctx.batch, -1, -1, -1) if image.shape[0] == 1 else image
        self.means = getattr(self, "means", []) + img.mean(dim=(1, 2, 3)).tolist()
        if value is not None:
            self.values += value.tolist()
        return {"out": img.mean(dim=(1, 2, 3))}

    def finish(self, ctx):
        Sink.log.append(self)
        return {"frames": len(self.frames)}


@node("test.failing", category="Test")
class Failing:
    """Fails with a user error (like unreadable audio)."""
    path = Param(str, "", kind="path", doc="a file")
    out = Out(SCALAR)

    def process(self, ctx, path):
        raise NodeInputError("cannot read this file", field="path")


@node("test.writer", category="Test", rate="frame", sink=True)
class Writer:
    """Pretends to write a file."""
    image = In(IMAGE)
    path = Param(str, "out/x.bin", kind="output", doc="where")

    def process(self, ctx, image):
        return {}


@node("test.modern", category="Test", version=2, aliases=("test.legacy",))
class Modern:
    """Version 2 renamed `amount` to `gain`."""
    gain = Param(float, 1.0, min=0.0, max=10.0, doc="gain")
    mode = Param(str, "a", choices=("a", "b"), doc="a mode")
    out = Out(SCALAR)

    @staticmethod
    def migrate(params, from_version):
        if from_version < 2 and "amount" in params:
            params["gain"] = params.pop("amount")
        return params

    def process(self, ctx, gain, mode):
        return {"out": gain}


NODES = [Number, Ramp, Tone, Clock, Add, Vec, Image, Accum, Sink, Failing, Writer, Modern]
