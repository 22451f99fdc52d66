"""Modulation: picking, shaping and generating the numbers that drive parameters.

* ``features.select``  one named column of a feature timeline (e.g. ``bass``)
* ``math.remap``       map a range onto another through a curve
* ``math.combine``     add, multiply, mix... two scalars
* ``math.lfo``         sine / saw / triangle / square / random oscillator, in Hz or synced to beats
* ``math.envelope``    attack/release follower
* ``math.pulse``       a decaying pulse each time a trigger crosses a threshold
* ``math.walk``        a seeded latent point that steps, and a step count, on each event

Scalars are ``(B,)`` float tensors, one value per frame of the batch; every node here but
``features.select`` runs per frame and gets its numeric params in that form too. The stateful nodes (lfo, envelope, pulse) compute frame after frame on the
host in float64 and keep their state between batches, so a render gives the same numbers
whatever the batch size; ``reset()`` (called at the start of every render) forgets the past.
Their per-frame work is a handful of floats, so a loop over the batch costs next to nothing.
"""
from __future__ import annotations

import math
import random

import numpy as np
import torch

from afx_graph import SCALAR, TIMELINE, VECTOR, In, Out, Param, Timeline, node
from afx_graph.errors import NodeInputError

BIG = 1.0e6           # range of free-valued params (a linked value is clamped to it)


def to_device(values: np.ndarray, ctx) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32), device=ctx.device)


def frame_step(ctx) -> float:
    """Seconds between two video frames."""
    return 1.0 / float(ctx.fps)


# -- features.select ------------------------------------------------------------------------

@node("features.select", category="Modulation", uses=())
class Select:
    """Select feature

    Picks columns of a feature timeline by name ("bass", "band3", "beat") or by position ("0"),
    several separated by commas. Link the result into any numeric parameter to drive it.

    Design: the output is a (one-column) TIMELINE, not a per-frame SCALAR. Choosing a column
    does not depend on time, so the node stays static: it runs once per render and is cached,
    and the engine samples the column at each frame's time wherever a SCALAR is expected
    (SCALAR and VECTOR inputs accept timelines). A SCALAR output would have made this node and
    everything upstream of its consumers per-frame for no gain; the timeline also still fits
    VECTOR inputs (a CPPN's features) and other timeline nodes."""

    features = In(TIMELINE, doc="a feature timeline, e.g. features.spectrum's features")
    feature = Param(str, "bass", doc="column name or 0-based index; several separated by commas")
    out = Out(TIMELINE, doc="the selected column(s)")

    def process(self, ctx, features, feature):
        names = list(features.names)
        wanted = [w.strip() for w in str(feature).split(",")]
        idx = []
        for w in wanted:
            if w in names:
                idx.append(names.index(w))
                continue
            try:
                i = int(w)
            except ValueError:
                i = None
            if i is not None and -len(names) <= i < len(names):
                idx.append(i % len(names))
                continue
            what = f"no column {w!r}" if w else "no column named"
            raise NodeInputError(f"{what} in this timeline (columns: {', '.join(names)}; or an "
                                 f"index 0..{len(names) - 1})", field="feature")
        return {"out": Timeline(features.values[:, idx], features.fps,
                                tuple(names[i] for i in idx), features.start)}


# -- math.remap -----------------------------------------------------------------------------

CURVES = ("linear", "ease-in", "ease-out", "smoothstep", "exp")


def apply_curve(t: torch.Tensor, curve: str, power) -> torch.Tensor:
    """Shape a position ``t`` (0..1 maps to 0..1; outside it the curve carries on smoothly)."""
    if curve == "linear":
        return t
    if curve == "ease-in":
        return torch.sign(t) * t.abs() ** power
    if curve == "ease-out":
        u = 1 - t
        return 1 - torch.sign(u) * u.abs() ** power
    if curve == "smoothstep":
        return t * t * (3 - 2 * t)
    if curve == "exp":     # (e^(k t) - 1) / (e^k - 1); k = power; tends to linear as k -> 0
        k = torch.as_tensor(power, dtype=t.dtype, device=t.device).clamp(min=1e-4)
        return torch.expm1(k * t) / torch.expm1(k)
    raise ValueError(curve)


@node("math.remap", category="Modulation")
class Remap:
    """Remap

    Maps `value` from in_min..in_max onto out_min..out_max through a curve: linear, ease-in
    (slow start, value^power), ease-out (fast start), smoothstep (S-shaped) or exp
    (exponential, steepness = power). With `clamp` the result stays within out_min..out_max."""

    value = In(SCALAR, doc="the number to remap (a timeline is sampled per frame)")
    in_min = Param(float, -1.0, min=-BIG, max=BIG, doc="input value that maps to out_min")
    in_max = Param(float, 1.0, min=-BIG, max=BIG, doc="input value that maps to out_max")
    out_min = Param(float, 0.0, min=-BIG, max=BIG, doc="output for in_min")
    out_max = Param(float, 1.0, min=-BIG, max=BIG, doc="output for in_max")
    curve = Param(str, "linear", choices=CURVES, doc="shape of the mapping")
    power = Param(float, 2.0, min=0.01, max=100.0, doc="exponent of ease-in/ease-out, steepness of exp")
    clamp = Param(bool, True, doc="keep the result within out_min..out_max")
    out = Out(SCALAR)

    def process(self, ctx, value, in_min, in_max, out_min, out_max, curve, power, clamp):
        v = value.double()
        lo, hi = in_min.double(), in_max.double()
        span = hi - lo
        t = torch.where(span != 0, (v - lo) / torch.where(span != 0, span, 1.0),
                        (v >= lo).double())          # a zero-width input range is a step
        if clamp:
            t = t.clamp(0.0, 1.0)
        t = apply_curve(t, curve, power.double())
        a, b = out_min.double(), out_max.double()
        out = a + (b - a) * t
        return {"out": torch.nan_to_num(out).float()}


# -- math.combine ---------------------------------------------------------------------------

OPS = {
    "add": lambda a, b, m: a + b,
    "subtract": lambda a, b, m: a - b,
    "multiply": lambda a, b, m: a * b,
    "mix": lambda a, b, m: a + (b - a) * m,
    "min": lambda a, b, m: torch.minimum(a, b),
    "max": lambda a, b, m: torch.maximum(a, b),
}


@node("math.combine", category="Modulation")
class Combine:
    """Combine

    a + b, a - b, a * b, min, max, or a crossfade from a to b by `mix`. Without a link into
    b, `b_value` is used (itself linkable)."""

    a = In(SCALAR, doc="first number")
    b = In(SCALAR, optional=True, doc="second number (default: b_value)")
    op = Param(str, "add", choices=tuple(OPS), doc="how a and b combine")
    b_value = Param(float, 0.0, min=-BIG, max=BIG, doc="b when nothing is linked into b")
    mix = Param(float, 0.5, min=0.0, max=1.0, doc="for op mix: 0 gives a, 1 gives b")
    out = Out(SCALAR)

    def process(self, ctx, a, b, op, b_value, mix):
        return {"out": OPS[op](a, b_value if b is None else b, mix)}


# -- math.lfo -------------------------------------------------------------------------------

SHAPES = ("sine", "saw", "triangle", "square", "random")
SYNC = ("hz", "beats")
DEFAULT_TEMPO = 120.0


def wave(shape: str, phase: np.ndarray, seed: int) -> np.ndarray:
    """Waveforms in [-1, 1] of a phase in cycles. sine, triangle and square start at 0 / +1
    and rise together; saw ramps from -1 to 1; random holds a seeded value per cycle."""
    f = phase - np.floor(phase)
    if shape == "sine":
        return np.sin(2 * np.pi * f)
    if shape == "saw":
        return 2 * f - 1
    if shape == "triangle":
        return 1 - 4 * np.abs(np.mod(f + 0.25, 1.0) - 0.5)
    if shape == "square":
        return np.where(f < 0.5, 1.0, -1.0)
    if shape == "random":
        cycles = np.floor(phase).astype(np.int64)
        return np.array([random.Random(f"afx-lfo:{seed}:{c}").uniform(-1, 1) for c in cycles])
    raise ValueError(shape)


@node("math.lfo", category="Modulation", rate="frame", stateful=True)
class LFO:
    """LFO

    A low-frequency oscillator: sine, saw, triangle, square or random (a new seeded random
    value every cycle, held). `rate` is in cycles per second, or with `sync` = beats in cycles
    per beat at `tempo` (link features.onsets' tempo there): rate 1 moves once per beat, 0.25
    once per bar of four. Output = offset + amplitude * wave, the wave going -1..1; the
    defaults give 0..1.

    The phase is the running integral of the frequency, so a modulated rate speeds the wave
    up or slows it down smoothly instead of jumping; with a steady rate it is exactly
    rate * time, so every render and every start position agree."""

    shape = Param(str, "sine", choices=SHAPES, doc="waveform")
    sync = Param(str, "hz", choices=SYNC, doc="rate in cycles per second (hz) or per beat (beats)")
    rate = Param(float, 0.5, min=0.0, max=100.0, doc="cycles per second, or per beat with sync = beats")
    tempo = Param(float, DEFAULT_TEMPO, min=0.0, max=1000.0,
                  doc="beats per minute for sync = beats (0, no beat found, counts as 120)")
    amplitude = Param(float, 0.5, min=-BIG, max=BIG, doc="half the swing of the output")
    offset = Param(float, 0.5, min=-BIG, max=BIG, doc="the output's centre")
    phase = Param(float, 0.0, min=-BIG, max=BIG, doc="shift in cycles (0.25 = a quarter cycle later)")
    seed = Param(int, 0, min=0, max=2**31 - 1, linkable=False, doc="random shape: which random sequence")
    out = Out(SCALAR)

    def __init__(self):
        self.reset()

    def reset(self):
        self._last = None       # (frame, seconds, cycles, cycles per second) of the last frame

    def process(self, ctx, shape, sync, rate, tempo, amplitude, offset, phase, seed):
        times = np.asarray(ctx.times, dtype=np.float64)
        freq = rate.cpu().double().numpy()
        if sync == "beats":
            bpm = tempo.cpu().double().numpy()
            freq = freq * np.where(bpm > 0, bpm, DEFAULT_TEMPO) / 60.0
        frames = ctx.frames if ctx.frames is not None else np.zeros(1, np.int64)
        cycles = np.empty(len(times))
        last = self._last
        for i in range(len(times)):
            if last is not None and int(frames[i]) == last[0] + 1:
                c = last[2] + 0.5 * (last[3] + freq[i]) * (times[i] - last[1])
            else:       # the first frame, or a jump (seek): anchor to rate * time
                c = freq[i] * times[i]
            cycles[i] = c
            last = (int(frames[i]), times[i], c, freq[i])
        self._last = last
        w = wave(shape, cycles + phase.cpu().double().numpy(), int(seed))
        return {"out": to_device(offset.cpu().double().numpy() + amplitude.cpu().double().numpy() * w, ctx)}


# -- math.envelope --------------------------------------------------------------------------

def coefficient(seconds: np.ndarray, dt: float) -> np.ndarray:
    """Per-frame step of a one-pole follower with time constant ``seconds`` (1 for 0)."""
    with np.errstate(divide="ignore"):
        return np.where(seconds > 0, -np.expm1(-dt / np.where(seconds > 0, seconds, 1.0)), 1.0)


@node("math.envelope", category="Modulation", rate="frame", stateful=True)
class Envelope:
    """Envelope

    Follows its input with separate speeds up and down: it rises towards a higher input with
    time constant `attack` and falls towards a lower one with `release` (after that many
    seconds it has covered ~63% of the way). Smooths jittery features, or stretches short
    hits into swells."""

    value = In(SCALAR, doc="the number to follow")
    attack = Param(float, 0.05, min=0.0, max=60.0, doc="seconds to rise (time constant)")
    release = Param(float, 0.5, min=0.0, max=60.0, doc="seconds to fall (time constant)")
    out = Out(SCALAR)

    def __init__(self):
        self.reset()

    def reset(self):
        self._level = None

    def process(self, ctx, value, attack, release):
        x = value.cpu().double().numpy()
        dt = frame_step(ctx)
        up, down = coefficient(attack.cpu().double().numpy(), dt), coefficient(release.cpu().double().numpy(), dt)
        y = self._level
        out = np.empty(len(x))
        for i, v in enumerate(x):
            if y is None or not math.isfinite(y):
                y = float(v)            # start where the input starts
            elif math.isfinite(v):
                y += (up[i] if v > y else down[i]) * (v - y)
            out[i] = y
        self._level = y
        return {"out": to_device(out, ctx)}


# -- math.pulse -----------------------------------------------------------------------------

@node("math.pulse", category="Modulation", rate="frame", stateful=True)
class Pulse:
    """Pulse

    Jumps to 1 each time `trigger` crosses `threshold` upwards and decays towards 0 with time
    constant `decay`: one clean hit per beat or onset (link features.onsets' beat or strength).
    It fires again only after the trigger has dropped back below the threshold (a trigger
    already above it when the render starts fires at once)."""

    trigger = In(SCALAR, doc="the signal that fires the pulse, e.g. a beat or onset strength")
    threshold = Param(float, 0.5, min=-BIG, max=BIG, doc="level the trigger must rise through")
    decay = Param(float, 0.25, min=0.0, max=60.0, doc="seconds to fall to ~37% (0: one frame)")
    out = Out(SCALAR)

    def __init__(self):
        self.reset()

    def reset(self):
        self._armed = True      # the trigger was below the threshold (or nothing seen yet)
        self._level = 0.0

    def process(self, ctx, trigger, threshold, decay):
        x = trigger.cpu().double().numpy()
        thr = threshold.cpu().double().numpy()
        keep = 1.0 - coefficient(decay.cpu().double().numpy(), frame_step(ctx))
        out = np.empty(len(x))
        armed, level = self._armed, self._level
        for i, v in enumerate(x):
            level *= keep[i]
            if v >= thr[i]:
                if armed:
                    level = 1.0
                armed = False
            elif v < thr[i]:
                armed = True
            out[i] = level
        self._armed, self._level = armed, level
        return {"out": to_device(out, ctx)}


# -- math.state -------------------------------------------------------------------------------

@node("math.state", category="Modulation", rate="frame", stateful=True)
class State:
    """Calm / busy

    The energy of the last few seconds as a state. The input (onset strength, loudness) is
    averaged over `window` seconds; when the average rises above `busy` the state turns busy,
    and it turns calm again only once the average falls below `calm`, so it does not flicker
    around one threshold. `state` eases from 0 (calm) to 1 (busy) over `fade` seconds: link it
    through math.remap into any parameter (longer trails, a stronger warp, a faster walk when
    the music gets busy). `level` is the average itself. A render starts calm."""

    value = In(SCALAR, doc="the energy to watch, e.g. features.onsets' strength or spectrum.rms")
    window = Param(float, 3.0, min=0.05, max=60.0, doc="seconds averaged (time constant)")
    busy = Param(float, 0.15, min=-BIG, max=BIG,
                 doc="average above which the state turns busy (onset strength of the built-in "
                     "synth's songs averages 0.08-0.17 over 3 s)")
    calm = Param(float, 0.1, min=-BIG, max=BIG,
                 doc="average below which it turns calm again (at most `busy`)")
    fade = Param(float, 1.0, min=0.0, max=60.0, doc="seconds a change of state takes (0: a cut)")
    state = Out(SCALAR)
    level = Out(SCALAR)

    def __init__(self):
        self.reset()

    def reset(self):
        self._level, self._busy, self._ramp = 0.0, False, 0.0

    def process(self, ctx, value, window, busy, calm, fade):
        x = value.cpu().double().numpy()
        dt = frame_step(ctx)
        follow = coefficient(window.cpu().double().numpy(), dt)
        hi, lo, fd = (p.cpu().double().numpy() for p in (busy, calm, fade))
        lo = np.minimum(lo, hi)        # calm set above busy would flip the state every frame
        level, is_busy, ramp = self._level, self._busy, self._ramp
        state, levels = np.empty(len(x)), np.empty(len(x))
        for i, v in enumerate(x):
            if math.isfinite(v):
                level += follow[i] * (v - level)
            if not is_busy and level >= hi[i]:
                is_busy = True
            elif is_busy and level <= lo[i]:
                is_busy = False
            step = dt / fd[i] if fd[i] > 0 else 1.0
            ramp = min(1.0, ramp + step) if is_busy else max(0.0, ramp - step)
            state[i] = ramp * ramp * (3.0 - 2.0 * ramp)          # eased in and out
            levels[i] = level
        self._level, self._busy, self._ramp = level, is_busy, ramp
        return {"state": to_device(state, ctx), "level": to_device(levels, ctx)}


# -- math.walk --------------------------------------------------------------------------------

def walk_point(seed: int, step: int, dims: int) -> np.ndarray:
    """The walk's ``step``-th point: seeded, in [-1, 1]^dims (step 0 is the origin)."""
    if step == 0:
        return np.zeros(dims)
    return np.random.default_rng([int(seed) & 0x7FFFFFFF, step]).uniform(-1.0, 1.0, dims)


@node("math.walk", category="Modulation", rate="frame", stateful=True)
class Walk:
    """Walk

    A step through a family of related pictures on every event: each time `trigger` rises
    through `threshold` (a beat, an onset) the walk heads for a new seeded point and glides
    there over `glide` seconds with an ease-out, so the move hits on the event and settles.
    `latent` is the point (link it into a field's latent input); `steps` counts the steps,
    gliding too (link it into a palette_shift to step the colours with the same events)."""

    trigger = In(SCALAR, doc="the events that step the walk, e.g. features.onsets' beat")
    threshold = Param(float, 0.5, min=-BIG, max=BIG, doc="level the trigger must rise through")
    glide = Param(float, 0.3, min=0.0, max=60.0, doc="seconds each step takes (0: a jump)")
    size = Param(float, 1.0, min=0.0, max=10.0, doc="how far the points lie from the origin")
    every = Param(int, 1, min=1, max=64, linkable=False,
                  doc="step on every n-th event only (4: once a bar of beats)")
    dims = Param(int, 4, min=1, max=64, linkable=False, doc="dimensions of the latent point")
    seed = Param(int, 1, min=0, max=2**31 - 1, linkable=False, doc="which walk: same seed, same points")
    latent = Out(VECTOR)
    steps = Out(SCALAR)

    def __init__(self):
        self.reset()

    def reset(self):
        self._armed = True
        self._events = 0
        self._step = 0
        self._since = math.inf      # seconds since the last step began

    def process(self, ctx, trigger, threshold, glide, size, every, dims, seed):
        x = trigger.cpu().double().numpy()
        thr = threshold.cpu().double().numpy()
        gl = glide.cpu().double().numpy()
        sz = size.cpu().double().numpy()
        dt = frame_step(ctx)
        lat = np.empty((len(x), int(dims)))
        cnt = np.empty(len(x))
        for i, v in enumerate(x):
            self._since += dt
            if v >= thr[i]:
                if self._armed:
                    self._events += 1
                    if self._events % int(every) == 0:
                        self._step += 1
                        self._since = 0.0
                self._armed = False
            elif v < thr[i]:
                self._armed = True
            u = 1.0 if gl[i] <= 0 else min(1.0, self._since / gl[i])
            ease = 1.0 - (1.0 - u) ** 3                   # ease-out: fast on the event
            a = walk_point(seed, max(self._step - 1, 0), int(dims))
            b = walk_point(seed, self._step, int(dims))
            lat[i] = sz[i] * (a + (b - a) * ease)
            cnt[i] = self._step - 1 + ease if self._step else 0.0
        return {"latent": torch.as_tensor(lat, dtype=torch.float32, device=ctx.device),
                "steps": to_device(cnt, ctx)}


NODES = [Select, Remap, Combine, LFO, Envelope, Pulse, State, Walk]
