"""The CPPN neural field: an untrained MLP over (x, y, r, time, audio features) -> RGB.

Lessons of the earlier prototype kept here: Xavier init with gain 5 (at gain 1 the signal dies
through the periodic activations and every frame is the same grey), coordinates at +-0.5,
time mapped to [-1, 1], audio features amplified ~3x relative to the coordinates.

Speed: the first layer is split into a per-pixel part (coordinates, computed once per render
size) and a per-frame part (time, audio), so per frame it costs one add; the hidden layers run
on the whole batch on a GPU and in cache-sized pixel chunks on a CPU.
"""
from __future__ import annotations

import math
import os
import time

import torch

from afx_graph import COORDS, IMAGE, VECTOR, In, Out, Param, node

from afx_graph.nodes import palettes
from afx_graph.nodes.field import coordinate_grid

ACTIVATIONS = {
    "sin": torch.sin,
    "cos": torch.cos,
    "gaussian": lambda x: torch.exp(-x * x),
    "tanh": torch.tanh,
}
CYCLES = ("sin,cos,gaussian,tanh", "sin", "cos", "gaussian", "tanh", "sin,tanh", "gaussian,sin",
          "tanh,gaussian")
N_TIME = 4            # t (render progress), sin and cos of the cycle phase, slow sin
COLOR_MODES = ("palette", "hsv", "rgb")
CPU_CHUNK = 4096      # pixels per chunk on a CPU: hidden activations stay in cache (~2x faster than 16K)


class CPPNWeights:
    """Deterministic weights for a seed: the same seed gives the same field on any device."""

    def __init__(self, *, seed: int, n_in: int, hidden: int, layers: int, gain: float,
                 device: torch.device, dtype: torch.dtype):
        g = torch.Generator().manual_seed(int(seed))

        def xavier(fan_in, fan_out):
            std = gain * math.sqrt(2.0 / (fan_in + fan_out))
            return torch.randn(fan_in, fan_out, generator=g) * std

        self.first = xavier(n_in, hidden)                 # rows: x, y, r, time..., features...
        self.first_bias = torch.randn(hidden, generator=g) * 0.5
        # directions the first layer drifts along over time
        self.drift = xavier(3, hidden), xavier(3, hidden)
        self.hidden = [(xavier(hidden, hidden), torch.randn(hidden, generator=g) * 0.5)
                       for _ in range(layers - 1)]
        self.last = xavier(hidden, 3) / gain        # unit gain: `contrast` scales the colours
        self.last_bias = torch.zeros(3)
        to = dict(device=device, dtype=dtype)
        self.first, self.first_bias = self.first.to(**to), self.first_bias.to(**to)
        self.drift = tuple(d.to(**to) for d in self.drift)
        self.hidden = [(w.to(**to), b.to(**to)) for w, b in self.hidden]
        self.last, self.last_bias = self.last.to(**to), self.last_bias.to(**to)

    @property
    def parameters(self) -> int:
        n = self.first.numel() + self.first_bias.numel() + self.last.numel() + 3
        return n + sum(w.numel() + b.numel() for w, b in self.hidden)


# exp() of float32 inputs below about -87.3 (results that underflow to a denormal or 0) takes a
# slow path in ATen's vectorised exp, ~60x per element (measured with torch 2.13 on x86_64):
# with gain 5 many gaussian inputs land there. exp(-87) = 1.6e-38 is as good as 0.
GAUSSIAN_FLOOR = -87.0


def gaussian_(x: torch.Tensor) -> torch.Tensor:
    """In place: exp(-x * x), with the exponent held at ``GAUSSIAN_FLOOR`` or above."""
    return x.mul_(x).neg_().clamp_(min=GAUSSIAN_FLOOR).exp_()


IN_PLACE = {ACTIVATIONS["sin"]: torch.Tensor.sin_, ACTIVATIONS["cos"]: torch.Tensor.cos_,
            ACTIVATIONS["gaussian"]: gaussian_, ACTIVATIONS["tanh"]: torch.Tensor.tanh_}


def in_place(act):
    """The in-place form of an activation (any other function: computed, then copied back)."""
    return IN_PLACE.get(act) or (lambda x: x.copy_(act(x)))


def evaluate(weights: CPPNWeights, coords: torch.Tensor, frame_in: torch.Tensor,
             scale: torch.Tensor, contrast: torch.Tensor, drift: torch.Tensor | None,
             acts: list, chunk: int | None) -> torch.Tensor:
    """Run the field for a batch of frames.

    coords (P, 3); frame_in (B, F) per-frame inputs; scale and contrast (B,);
    drift (B, 2) or None -> (B, P, 3) RGB in [0, 1]. With ``chunk``, frames go one at a time
    in chunks of that many pixels (CPU, :func:`evaluate_chunked`); without, the whole batch
    at once (GPU)."""
    if chunk:
        return evaluate_chunked(weights, coords, frame_in, scale, contrast, drift, acts, chunk)
    w = weights
    sc, ct = scale[:, None, None], contrast[:, None, None]
    px = (coords @ w.first[:3])[None]                                  # (1, P, hidden)
    if drift is not None:   # coordinates @ (first layer + drift directions)
        dw = drift[:, 0, None, None] * w.drift[0] + drift[:, 1, None, None] * w.drift[1]
        px = px + torch.einsum("pc,bch->bph", coords, dw)
    frame_part = frame_in @ w.first[3:] + w.first_bias                 # (B, hidden)
    h = acts[0](px * sc + frame_part[:, None, :])                      # (B, P, hidden)
    for i, (wh, bh) in enumerate(w.hidden):
        h = acts[(i + 1) % len(acts)](
            torch.addmm(bh, h.reshape(-1, h.shape[-1]), wh).view(h.shape))
    return torch.sigmoid((h @ w.last + w.last_bias) * ct)


def evaluate_chunked(weights: CPPNWeights, coords: torch.Tensor, frame_in: torch.Tensor,
                     scale: torch.Tensor, contrast: torch.Tensor, drift: torch.Tensor | None,
                     acts: list, chunk: int) -> torch.Tensor:
    """The CPU path of :func:`evaluate`: per frame, per ``chunk`` pixels, every layer is one
    ``addmm`` into one of two reused cache-sized buffers and an in-place activation. The
    frame's scale and drift are folded into the first layer's coordinate weights and its
    contrast into the last layer, so nothing of pixel size is made but the output.

    1.7-2x the frame rate of the same math written out of place (32x4 at 640x360 and 256x256:
    README "Speed"); the results differ from it by float rounding only (tests/test_cppn_speed.py
    holds both within 1e-4 of a float64 reference; measured up to 3e-5, for a sin-only cycle)."""
    w = weights
    n_frames, n_px = frame_in.shape[0], coords.shape[0]
    out = torch.empty(n_frames, n_px, 3, device=coords.device, dtype=coords.dtype)
    if n_px == 0:
        return out
    frame_part = torch.addmm(w.first_bias, frame_in, w.first[3:])      # (B, hidden)
    fns = [in_place(a) for a in acts]
    step = min(chunk, n_px)
    bufs = coords.new_empty(2, step, w.first.shape[1])
    for f in range(n_frames):
        first = w.first[:3]
        if drift is not None:   # coordinates @ (first layer + drift directions)
            first = first + drift[f, 0] * w.drift[0] + drift[f, 1] * w.drift[1]
        first = first * scale[f]
        last, last_bias = w.last * contrast[f], w.last_bias * contrast[f]
        for s in range(0, n_px, step):
            c = coords[s:s + step]
            h, spare = bufs[0, :c.shape[0]], bufs[1, :c.shape[0]]
            fns[0](torch.addmm(frame_part[f], c, first, out=h))
            for i, (wh, bh) in enumerate(w.hidden):
                fns[(i + 1) % len(fns)](torch.addmm(bh, h, wh, out=spare))
                h, spare = spare, h
            torch.addmm(last_bias, h, last, out=out[f, s:s + c.shape[0]]).sigmoid_()
    return out


@node("cppn", category="Neural", rate="frame", version=2)
class CPPN:
    """CPPN neural field

    (x, y, r, time, audio features, latent) -> colour through an untrained MLP with a cycle of
    periodic activations. Audio features (an optional embedding, and a `latent` vector such
    as math.walk's) shift its first layer every frame, so the field moves with the music;
    link a beat pulse into `punch` to make it hit on beats.

    Colour: in `palette` mode (the default) the field picks a position along `palette` (the
    library's one vocabulary) and `palette_shift` slides it (link a beat counter to step
    the colours); `hsv` reads the three outputs as hue, saturation and value; `rgb` is the
    raw network output (rainbow noise: every hue at once)."""

    coords = In(COORDS, optional=True, doc="coordinate grid (default: field.coords at scale 1)")
    features = In(VECTOR, optional=True, doc="audio features per frame, e.g. features.spectrum")
    embedding = In(VECTOR, optional=True, doc="a second feature vector, e.g. a learned embedding")
    latent = In(VECTOR, optional=True,
                doc="a point in a family of related fields, e.g. math.walk stepped by beats")
    hidden = Param(int, 32, min=4, max=512, linkable=False, doc="width of the hidden layers")
    layers = Param(int, 4, min=1, max=16, linkable=False, doc="number of hidden layers")
    activations = Param(str, "sin,cos,gaussian,tanh", choices=CYCLES,
                        doc="activation cycle over the layers")
    seed = Param(int, 7, min=0, max=2**31 - 1, linkable=False,
                 doc="picks the network: same seed, same field")
    gain = Param(float, 5.0, min=0.1, max=20.0, linkable=False,
                 doc="weight-init gain; low values fade to flat grey")
    scale = Param(float, 1.0, min=0.01, max=50.0, doc="coordinate scale: higher = finer detail")
    audio_gain = Param(float, 0.5, min=0.0, max=20.0, doc="how strongly audio features move the field")
    cycle = Param(float, 30.0, min=0.1, max=600.0, doc="seconds per loop of the time input: lower moves faster")
    drift = Param(float, 0.0, min=0.0, max=2.0, doc="slow drift of the weights over time")
    contrast = Param(float, 2.5, min=0.0, max=20.0,
                     doc="colour contrast: low is soft and pastel, high is saturated")
    punch = Param(float, 0.0, min=0.0, max=4.0,
                  doc="link a beat pulse here: each beat zooms in and lifts the contrast")
    latent_gain = Param(float, 1.0, min=0.0, max=20.0, doc="how far the latent input moves the field")
    color = Param(str, "palette", choices=COLOR_MODES,
                  doc="palette: a position along `palette`; hsv: hue, saturation, value; rgb: raw")
    palette = Param(str, "velvet", choices=palettes.NAMES, doc="palette of the palette mode")
    palette_shift = Param(float, 0.0, min=-1000.0, max=1000.0,
                          doc="slides the colours along the palette (link a beat counter to step them)")
    image = Out(IMAGE)

    def __init__(self):
        self._weights_key = None
        self._weights = None

    @staticmethod
    def migrate(params: dict, version: int) -> dict:
        """Version 2 adds colour modes with a palette by default; a version-1 patch was made
        with the raw network colours, and keeps them."""
        if version < 2:
            params = {"color": "rgb", **params}
        return params

    def weights(self, ctx, n_in, hidden, layers, seed, gain) -> CPPNWeights:
        key = (n_in, hidden, layers, seed, gain, ctx.device, ctx.dtype)
        if key != self._weights_key:
            self._weights = CPPNWeights(seed=seed, n_in=n_in, hidden=hidden, layers=layers,
                                        gain=gain, device=ctx.device, dtype=ctx.dtype)
            self._weights_key = key
        return self._weights

    def process(self, ctx, coords, features, embedding, latent, hidden, layers, activations, seed,
                gain, scale, audio_gain, cycle, drift, contrast, punch, latent_gain, color,
                palette, palette_shift):
        if coords is None:
            coords = coordinate_grid(ctx.width, ctx.height, 1.0, ctx.device)
        frame_in = [self.time_inputs(ctx, cycle)]
        for v in (features, embedding):
            if v is not None:   # divided by sqrt(D): the same push whatever the feature count
                v = torch.nan_to_num(v)
                frame_in.append(v * (audio_gain[:, None] / math.sqrt(v.shape[1])))
        if latent is not None:
            frame_in.append(torch.nan_to_num(latent) * (latent_gain[:, None] / math.sqrt(latent.shape[1])))
        frame_in = torch.cat(frame_in, dim=1).to(ctx.dtype)
        w = self.weights(ctx, 3 + frame_in.shape[1], hidden, layers, seed, gain)
        h, wd = coords.shape[0], coords.shape[1]
        flat = coords.reshape(-1, 3).to(ctx.dtype)
        d = None
        if bool((drift > 0).any()):
            phase = 2 * math.pi * ctx.t / 60.0
            d = torch.stack([torch.sin(phase), torch.cos(phase) - 1], dim=1)
            d = (d * drift[:, None]).to(ctx.dtype)
        acts = [ACTIVATIONS[a] for a in activations.split(",")]
        chunk = CPU_CHUNK if ctx.device.type == "cpu" else None
        zoom = 1 - 0.25 * punch / (1 + punch)           # up to 25% closer on a strong beat
        scale = (scale * zoom).to(ctx.dtype)
        contrast = (contrast * (1 + 0.6 * punch)).to(ctx.dtype)
        rgb = evaluate(w, flat, frame_in, scale, contrast, d, acts, chunk)
        if color != "rgb":
            rgb = colour(rgb, color, palette, palette_shift)
        return {"image": rgb.view(ctx.batch, h, wd, 3)}

    @staticmethod
    def pixel_floats(params, device) -> tuple[int, int]:
        """Floats per pixel (see afx_graph.engine.memory): the per-pixel first layer and the grid,
        kept for a whole batch; per frame, the output plus the hidden activations on a GPU
        (a CPU runs frames one at a time in small pixel chunks)."""
        hidden = int(params["hidden"])
        return hidden + 6, 3 + (0 if device.type == "cpu" else 3 * hidden)

    def bench(self, ctx, *, frames: int, batch: int, compile: bool = False) -> dict:
        """``afx bench cppn``'s hook: the field's own math with no graph around it (the
        weights this instance last used, the coordinates at ``ctx``'s size, a plain loop over
        ``frames`` in batches), so the engine's overhead shows next to it. With ``compile``
        on a CPU, torch.compile of the same chunk math too. Call after one process()."""
        w = self._weights
        if w is None:
            raise RuntimeError("bench() needs one process() call first (it times those weights)")
        coords = coordinate_grid(ctx.width, ctx.height, 1.0, ctx.device).reshape(-1, 3).to(ctx.dtype)
        acts = [ACTIVATIONS[a] for a in CYCLES[0].split(",")]
        chunk = CPU_CHUNK if ctx.device.type == "cpu" else None
        sync = torch.cuda.synchronize if ctx.device.type == "cuda" else (lambda: None)
        sync()
        t0 = time.perf_counter()
        with torch.inference_mode():
            for s in range(0, frames, batch):
                b = min(frames, s + batch) - s
                frame_in = torch.randn(b, w.first.shape[0] - 3, device=ctx.device, dtype=ctx.dtype)
                one = torch.ones(b, device=ctx.device, dtype=ctx.dtype)
                evaluate(w, coords, frame_in, one, one * 2.5, None, acts, chunk).float().mean().item()
        row = {"params": w.parameters, "plain_fps": frames / (time.perf_counter() - t0)}
        if compile and ctx.device.type == "cpu":
            row.update(_bench_compiled(w, coords, acts, chunk or coords.shape[0], frames))
        return row

    @staticmethod
    def time_inputs(ctx, cycle) -> torch.Tensor:
        """(B, 4): render progress in [-1, 1], the phase of a `cycle`-second loop as sin/cos,
        and a slower sine, so the field moves even without audio."""
        t = ctx.t
        phase = 2 * math.pi * t / cycle
        prog = ctx.progress * 2 - 1 if ctx.total_frames else torch.sin(phase / 4)
        return torch.stack([prog, torch.sin(phase), torch.cos(phase), torch.sin(phase / 3.7)], dim=1)


def colour(out: torch.Tensor, mode: str, palette: str, shift: torch.Tensor) -> torch.Tensor:
    """The field's outputs (B, P, 3) in [0, 1] as colours. ``palette``: the first output is a
    position along the palette, slid by ``shift`` (B,) (cosine palettes repeat every 1,
    gradients run there and back every 2), so every colour is one of the palette's. ``hsv``:
    hue (a full turn over the output's range), saturation (kept above half) and value."""
    if mode == "palette":
        t = out[..., 0].float() + shift.float()[:, None]
        return palettes.colours(t, palette).clamp_(0.0, 1.0).to(out.dtype)
    h, s, v = out[..., 0] * 6.0, 0.5 + 0.5 * out[..., 1], out[..., 2]
    chans = []
    for n in (5.0, 3.0, 1.0):            # HSV -> RGB without branches
        k = torch.remainder(h + n, 6.0)
        chans.append(v - v * s * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0))
    return torch.stack(chans, dim=-1)


def _bench_compiled(weights: CPPNWeights, coords, acts, chunk: int, frames: int) -> dict:
    """torch.compile of one chunk of the field (static shapes: the last chunk is padded),
    called per chunk like the CPU path; its first call (the compile, or a load from
    inductor's cache in TORCHINDUCTOR_CACHE_DIR) timed apart from the frames. Measured
    slower than the hand-fused path here, which is why the node does not use it."""
    gaussian = ACTIVATIONS["gaussian"]
    fns = [(lambda x: torch.exp(-torch.clamp(x * x, max=87.0))) if a is gaussian else a
           for a in acts]

    def chunk_rgb(c, frame_part, first, hidden, last, last_bias):
        h = fns[0](torch.addmm(frame_part, c, first))
        for i, (wh, bh) in enumerate(hidden):
            h = fns[(i + 1) % len(fns)](torch.addmm(bh, h, wh))
        return torch.sigmoid(torch.addmm(last_bias, h, last))

    n = coords.shape[0]
    padded = coords.new_zeros(-(-n // chunk) * chunk, 3)
    padded[:n] = coords
    fn = torch.compile(chunk_rgb, dynamic=False)
    w = weights

    def frame(frame_in):
        frame_part = torch.addmm(w.first_bias, frame_in, w.first[3:])[0]
        out = coords.new_empty(n, 3)
        for s in range(0, n, chunk):
            rgb = fn(padded[s:s + chunk], frame_part, w.first[:3], w.hidden, w.last * 2.5,
                     w.last_bias * 2.5)
            out[s:s + chunk] = rgb[:min(chunk, n - s)]
        return out

    cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR") or "default (/tmp/torchinductor_$USER)"
    with torch.inference_mode():
        inputs = torch.randn(frames, w.first.shape[0] - 3, dtype=coords.dtype)
        t0 = time.perf_counter()
        try:
            frame(inputs[:1])
        except Exception as e:         # no C++ compiler, or inductor cannot build here
            return {"compiled": f"unavailable ({type(e).__name__}: {str(e).splitlines()[0][:80]})"}
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(frames):
            frame(inputs[i:i + 1]).mean().item()
        return {"compiled_fps": frames / (time.perf_counter() - t0), "compile_s": first,
                "compile_cache": cache}


NODES = [CPPN]
