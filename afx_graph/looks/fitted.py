"""Look files: a coordinate network fitted to a person's images (``afx fit``), rendered by the
``field.look`` node.

The network is a SIREN (sine activations, Sitzmann et al. 2020) whose hidden layers are
shifted by a learned code per image ("shift modulations", as in Functa, Dupont et al. 2022):
``h = sin(w0 * (h @ W + b + code @ M))``. One network holds every keyframe; moving the code
from one image's code to another's moves the picture between them, and a small offset to the
code changes it without losing its structure. Chosen over Fourier features + a ReLU MLP by
measurement on a 2-core CPU (see the commit that added it): at the same cost per pixel the
SIREN fits a photo-like 128x128 image ~3 dB better in the same time.

Coordinates: the network sees the image's shorter side spanning -1..1 (twice the frame of
``field.coords``, where it spans -0.5..0.5), pixel centres, y down. Outside an image's
rectangle the renderer mirrors the coordinates back into it.

The file is safetensors (never pickle): float32 tensors ``layer{i}.weight`` (in, out),
``layer{i}.bias``, ``rgb.weight``, ``rgb.bias``, ``modulation`` (latent, layers * width) and
``codes`` (images, latent), with metadata strings (format, architecture, sizes, the images'
names, sizes and PSNR, the afx version, how it was fitted).
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

FORMAT = "afx.look"
FORMAT_VERSION = 1
ARCHITECTURE = "siren-shift"
# Defaults chosen by measurement (commit message of afx fit): 64 wide x 4 sine layers renders
# 256x256 at preview rate on a 2-core CPU and fits a 128x128 photo-like image past 30 dB.
WIDTH, LAYERS, LATENT, W0 = 64, 4, 32, 30.0
LEARNING_RATE = 2e-3
WARMUP = 100                  # steps of a linear ramp up to the learning rate
SNAPSHOT_EVERY = 10           # steps between copies of the best state so far
DIVERGED = 10.0               # a loss this many times the best so far: go back, calmer
MAX_SETBACKS = 8
# pixels of each image per training step, drawn at random: small batches and many steps fit
# better in the same time than whole images (measured: afx fit's commit message)
BATCH_PER_IMAGE = 2048
EVAL_CHUNK = 65536
MAX_FILE_BYTES = 64 * 1024 ** 2
MAX_WIDTH, MAX_LAYERS, MAX_LATENT, MAX_IMAGES = 1024, 16, 1024, 256
CPU_CHUNK = 4096              # pixels per chunk when rendering on a CPU (stays in cache)
GPU_CHUNK = 1 << 18


class LookFileError(ValueError):
    """A file that is not a usable look file; the message says why (without the path)."""


@dataclass
class ImageInfo:
    name: str
    width: int
    height: int
    psnr: float | None = None

    @property
    def half_extent(self) -> tuple[float, float]:
        """Half width and half height of the image in the network's frame (shorter side 1)."""
        short = min(self.width, self.height)
        return self.width / short, self.height / short


@dataclass
class Look:
    """A fitted look: the network's tensors and what is known about it."""

    tensors: dict[str, torch.Tensor]
    images: list[ImageInfo]
    width: int = WIDTH
    layers: int = LAYERS
    latent: int = LATENT
    w0: float = W0
    info: dict[str, str] = field(default_factory=dict)   # how it was fitted (metadata)

    @property
    def codes(self) -> torch.Tensor:
        return self.tensors["codes"]

    @property
    def parameters(self) -> int:
        return sum(t.numel() for t in self.tensors.values())

    def metadata(self) -> dict[str, str]:
        from afx_graph import __version__
        meta = {
            "format": FORMAT, "format_version": str(FORMAT_VERSION),
            "architecture": ARCHITECTURE, "width": str(self.width), "layers": str(self.layers),
            "latent": str(self.latent), "w0": repr(float(self.w0)),
            "images": json.dumps([{"name": i.name, "width": i.width, "height": i.height,
                                   "psnr": None if i.psnr is None else round(i.psnr, 2)}
                                  for i in self.images]),
            "afx_version": __version__,
        }
        meta.update({k: str(v) for k, v in self.info.items() if k not in meta})
        return meta

    def to_bytes(self) -> bytes:
        from safetensors.torch import save
        tensors = {k: v.detach().to("cpu", torch.float32).contiguous()
                   for k, v in self.tensors.items()}
        return save(tensors, metadata=self.metadata())

    def to(self, device: torch.device) -> "Look":
        return Look({k: v.to(device) for k, v in self.tensors.items()}, self.images, self.width,
                    self.layers, self.latent, self.w0, dict(self.info))


# --------------------------------------------------------------------------------------
# the network, for training
# --------------------------------------------------------------------------------------

class LookNet(torch.nn.Module):
    """The trainable form of a look (the renderer below uses the same tensors, folded)."""

    def __init__(self, images: int, *, width: int = WIDTH, layers: int = LAYERS,
                 latent: int = LATENT, w0: float = W0, generator: torch.Generator | None = None):
        super().__init__()
        self.width, self.n_layers, self.latent, self.w0 = width, layers, latent, w0
        g = generator

        def uniform(shape, bound):
            return torch.nn.Parameter((torch.rand(*shape, generator=g) * 2 - 1) * bound)

        dims = [2] + [width] * layers
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            # SIREN init: the first layer spreads over w0 / 2 radians per unit, the others keep
            # unit-variance pre-activations through the sines
            bound = 1 / a if i == 0 else math.sqrt(6 / a) / w0
            self.weights.append(uniform((a, b), bound))
            self.biases.append(uniform((b,), 1 / math.sqrt(a)))
        self.rgb_weight = uniform((width, 3), math.sqrt(6 / width) / w0)
        self.rgb_bias = torch.nn.Parameter(torch.zeros(3))
        self.modulation = uniform((latent, layers * width), 1 / (w0 * math.sqrt(latent)))
        self.codes = torch.nn.Parameter(torch.randn(images, latent, generator=g) * 0.1)

    def forward(self, x: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """x (N, 2) in the network's frame, onehot (N, images) -> RGB (N, 3), unclamped."""
        shifts = onehot @ (self.codes @ self.modulation)        # (N, layers * width)
        h = x
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            s = shifts[:, i * self.width:(i + 1) * self.width]
            h = torch.sin(self.w0 * (torch.addmm(b, h, w) + s))
        return torch.addmm(self.rgb_bias, h, self.rgb_weight) + 0.5

    def look(self, images: list[ImageInfo], info: dict | None = None) -> Look:
        t = {f"layer{i}.weight": w.detach().clone() for i, w in enumerate(self.weights)}
        t.update({f"layer{i}.bias": b.detach().clone() for i, b in enumerate(self.biases)})
        t.update({"rgb.weight": self.rgb_weight.detach().clone(),
                  "rgb.bias": self.rgb_bias.detach().clone(),
                  "modulation": self.modulation.detach().clone(),
                  "codes": self.codes.detach().clone()})
        return Look(t, images, self.width, self.n_layers, self.latent, self.w0, dict(info or {}))


def look_points(height: int, width: int, device=None) -> torch.Tensor:
    """(H * W, 2) x, y of the pixel centres in a look network's frame (shorter side -1..1,
    y down). Arguments in the order of nodes.image.pixel_grid (height, width), whose frame
    differs (short side -0.5..0.5, y up)."""
    short = min(width, height)
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5 - width / 2) * (2 / short)
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5 - height / 2) * (2 / short)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x, y], dim=-1).reshape(-1, 2)


def psnr(mse: float) -> float:
    return 10 * math.log10(1 / mse) if mse > 0 else float("inf")


@dataclass
class FitProgress:
    step: int
    steps: int
    elapsed: float
    psnr: float              # estimated from the training loss (all images together)
    budget: float | None     # seconds, when a time budget is set

    @property
    def fraction(self) -> float:
        f = self.step / self.steps
        if self.budget:
            f = max(f, self.elapsed / self.budget)
        return min(f, 1.0)

    @property
    def eta(self) -> float:
        if self.step == 0:
            return float("inf")
        left = (self.steps - self.step) * self.elapsed / self.step
        if self.budget:
            left = min(left, max(self.budget - self.elapsed, 0.0))
        return left


def fit_look(images: list[np.ndarray], names: list[str], *, steps: int = 3000,
             time_budget: float | None = None, seed: int = 0,
             device: torch.device | str = "cpu", width: int = WIDTH, layers: int = LAYERS,
             latent: int = LATENT, w0: float = W0, lr: float = LEARNING_RATE,
             on_progress: Callable[[FitProgress], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> Look:
    """Fit one network with one code per image to ``images`` ((H, W, 3) uint8 each, already
    at the training size). Stops after ``steps`` Adam steps or ``time_budget`` seconds,
    whichever comes first; the learning rate follows a cosine down to 5% over that span.
    The same seed, images, steps and device give the same look (a time budget that ends the
    fit early makes it depend on the machine's speed). ``should_stop`` is asked before each
    step; when it says True the fit ends with KeyboardInterrupt (as a render does)."""
    device = torch.device(device)
    g = torch.Generator().manual_seed(int(seed))
    net = LookNet(len(images), width=width, layers=layers, latent=latent, w0=w0,
                  generator=g).to(device)
    xs, ys, which = [], [], []
    for k, img in enumerate(images):
        h, w = img.shape[:2]
        xs.append(look_points(h, w))
        ys.append(torch.from_numpy(np.ascontiguousarray(img)).reshape(-1, 3).float() / 255)
        which.append(torch.full((h * w,), k, dtype=torch.long))
    x, y, which = torch.cat(xs).to(device), torch.cat(ys).to(device), torch.cat(which).to(device)
    onehot = torch.nn.functional.one_hot(which, len(images)).float()
    n, batch = x.shape[0], BATCH_PER_IMAGE * len(images)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    pick = torch.Generator().manual_seed(int(seed) + 1)
    t0 = time.perf_counter()
    step, best, calm, setbacks = 0, float("inf"), 1.0, 0
    snapshot, snapshot_step = None, -SNAPSHOT_EVERY
    while step < steps:
        if should_stop is not None and should_stop():
            raise KeyboardInterrupt
        elapsed = time.perf_counter() - t0
        if time_budget and elapsed >= time_budget:
            break
        frac = step / steps
        if time_budget:
            frac = max(frac, elapsed / time_budget)
        rate = lr * calm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        if step < WARMUP:
            rate *= (step + 1) / WARMUP
        for group in opt.param_groups:
            group["lr"] = rate
        if n > batch:
            idx = torch.randint(0, n, (batch,), generator=pick).to(device)
            bx, by, bo = x[idx], y[idx], onehot[idx]
        else:
            bx, by, bo = x, y, onehot
        loss = torch.mean((net(bx, bo) - by) ** 2)
        value = float(loss.detach())
        step += 1
        if not math.isfinite(value) or value > DIVERGED * best:
            # a sine network can blow up at a high learning rate: back to its best state,
            # at half the rate
            setbacks += 1
            if snapshot is None or setbacks > MAX_SETBACKS:
                raise FloatingPointError("the fit diverged (the loss grew without bound)")
            net.load_state_dict(snapshot[0])
            opt.load_state_dict(snapshot[1])
            calm *= 0.5
            continue
        if value < best:
            best = value
            if step - snapshot_step >= SNAPSHOT_EVERY:
                snapshot = ({k: v.detach().clone() for k, v in net.state_dict().items()},
                            copy.deepcopy(opt.state_dict()))
                snapshot_step = step
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_progress is not None:
            on_progress(FitProgress(step, steps, time.perf_counter() - t0, psnr(value),
                                    time_budget))
    seconds = time.perf_counter() - t0
    infos = []
    with torch.no_grad():
        start = 0
        for k, (img, name) in enumerate(zip(images, names)):
            h, w = img.shape[:2]
            sl = slice(start, start + h * w)
            start += h * w
            err = 0.0
            for s in range(sl.start, sl.stop, EVAL_CHUNK):
                e = min(s + EVAL_CHUNK, sl.stop)
                out = net(x[s:e], onehot[s:e]).clamp(0, 1)
                err += float(torch.sum((out - y[s:e]) ** 2))
            infos.append(ImageInfo(name, w, h, psnr(err / (h * w * 3))))
    info = {"steps": step, "seconds": round(seconds, 2), "seed": int(seed),
            "device": device.type, "learning_rate": lr, "setbacks": setbacks}
    return net.look(infos, info)


# --------------------------------------------------------------------------------------
# reading a look file
# --------------------------------------------------------------------------------------

def load_look(path: str | Path) -> Look:
    """Read and check a look file; raises :class:`LookFileError` saying what is wrong,
    OSError when the file cannot be read at all."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    size = os.stat(path).st_size
    if size == 0:
        raise LookFileError("the file is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise LookFileError(f"the file is {size / 1024 ** 2:.0f} MB; a look file is at most "
                            f"{MAX_FILE_BYTES // 1024 ** 2} MB (was it made by afx fit?)")
    data = path.read_bytes()
    try:
        meta = _header_metadata(data)
        tensors = load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as e:
        if isinstance(e, LookFileError):
            raise
        raise LookFileError("not a safetensors file (made by afx fit), or it is damaged") from None
    return _look_from(tensors, meta)


def _header_metadata(data: bytes) -> dict:
    """The ``__metadata__`` of a safetensors file's JSON header."""
    if len(data) < 8:
        raise LookFileError("not a safetensors file (it is too short)")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8 or n < 2:
        raise LookFileError("not a safetensors file (made by afx fit), or it is damaged")
    try:
        header = json.loads(data[8:8 + n])
    except (ValueError, UnicodeDecodeError):
        raise LookFileError("not a safetensors file (made by afx fit), or it is damaged") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def _look_from(tensors: dict[str, torch.Tensor], meta: dict) -> Look:
    if meta.get("format") != FORMAT:
        raise LookFileError("a safetensors file, but not an afx look (make one with afx fit)")
    try:
        version = int(meta.get("format_version", ""))
    except ValueError:
        raise LookFileError("its format_version is not a number") from None
    if version > FORMAT_VERSION:
        raise LookFileError(f"made by a newer afx (look format {version}; this afx reads "
                            f"{FORMAT_VERSION}): update afx")
    if meta.get("architecture") != ARCHITECTURE:
        raise LookFileError(f"unknown architecture {meta.get('architecture')!r}")
    try:
        width, layers, latent = (int(meta[k]) for k in ("width", "layers", "latent"))
        w0 = float(meta["w0"])
        images = [ImageInfo(str(i["name"]), int(i["width"]), int(i["height"]),
                            None if i.get("psnr") is None else float(i["psnr"]))
                  for i in json.loads(meta["images"])]
    except (KeyError, ValueError, TypeError):
        raise LookFileError("its metadata is incomplete or damaged") from None
    if not (1 <= width <= MAX_WIDTH and 1 <= layers <= MAX_LAYERS and 1 <= latent <= MAX_LATENT
            and 1 <= len(images) <= MAX_IMAGES and math.isfinite(w0)
            and all(i.width >= 1 and i.height >= 1 for i in images)):
        raise LookFileError("its metadata is out of range (damaged?)")
    shapes = {f"layer{i}.weight": (2 if i == 0 else width, width) for i in range(layers)}
    shapes.update({f"layer{i}.bias": (width,) for i in range(layers)})
    shapes.update({"rgb.weight": (width, 3), "rgb.bias": (3,),
                   "modulation": (latent, layers * width), "codes": (len(images), latent)})
    for name, shape in shapes.items():
        t = tensors.get(name)
        if t is None:
            raise LookFileError(f"the tensor {name!r} is missing")
        if tuple(t.shape) != shape:
            raise LookFileError(f"the tensor {name!r} is {tuple(t.shape)}, expected {shape}")
        if not torch.isfinite(t).all():
            raise LookFileError(f"the tensor {name!r} holds NaN or infinite values")
    known = {"format", "format_version", "architecture", "width", "layers", "latent", "w0",
             "images", "afx_version"}
    info = {k: v for k, v in meta.items() if k not in known}
    info["afx_version"] = meta.get("afx_version", "?")
    return Look({k: tensors[k].float() for k in shapes}, images, width, layers, latent, w0, info)


# --------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------

def keyframe_codes(look: Look, morph: torch.Tensor, wrap: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) morph positions -> (B, latent) codes interpolated between the keyframes and
    (B, 2) half extents of the picture (interpolated the same way). 0 is the first image,
    1 the second...; past the last it holds it, or with ``wrap`` goes on to the first."""
    codes = look.codes
    k = codes.shape[0]
    ext = torch.tensor([i.half_extent for i in look.images], dtype=codes.dtype,
                       device=codes.device)
    m = morph.to(codes.dtype)
    if k == 1:
        return codes.expand(m.shape[0], -1), ext.expand(m.shape[0], -1)
    if wrap:
        m = torch.remainder(m, k)
        i0 = torch.floor(m).long().clamp_(0, k - 1)
        i1 = (i0 + 1) % k
    else:
        m = m.clamp(0, k - 1)
        i0 = torch.floor(m).long().clamp_(0, k - 2)
        i1 = i0 + 1
    t = (m - i0.to(m.dtype))[:, None]
    return codes[i0] * (1 - t) + codes[i1] * t, ext[i0] * (1 - t) + ext[i1] * t


def mirror(v: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    """Reflect coordinates into [-half, half] (a triangle wave of period 4 * half)."""
    period = 4 * half
    return half - torch.abs(torch.remainder(v + half, period) - 2 * half)


def hue_matrix(turns: float) -> torch.Tensor:
    """3x3 rotation of RGB about the grey axis by ``turns`` (1 = a full circle), applied to
    row vectors (rgb @ R); grey stays grey."""
    a = 2 * math.pi * turns
    c, s = math.cos(a), math.sin(a)
    k = 1 / 3
    r = math.sqrt(k)
    return torch.tensor([
        [c + (1 - c) * k, k * (1 - c) + r * s, k * (1 - c) - r * s],
        [k * (1 - c) - r * s, c + (1 - c) * k, k * (1 - c) + r * s],
        [k * (1 - c) + r * s, k * (1 - c) - r * s, c + (1 - c) * k],
    ])


class Renderer:
    """A look on a device, with the sine frequency folded into its weights, ready to render
    frames: :meth:`render` takes the output grid and per-frame controls."""

    def __init__(self, look: Look, device: torch.device):
        self.look = look
        self.device = device
        t = {k: v.to(device=device, dtype=torch.float32) for k, v in look.tensors.items()}
        w0 = look.w0
        self.weights = [t[f"layer{i}.weight"] * w0 for i in range(look.layers)]
        self.biases = [t[f"layer{i}.bias"] * w0 for i in range(look.layers)]
        self.modulation = t["modulation"] * w0
        self.rgb_weight, self.rgb_bias = t["rgb.weight"], t["rgb.bias"]
        self.codes = t["codes"]
        self.look = Look(t, look.images, look.width, look.layers, look.latent, look.w0, look.info)
        # A push (an offset to the code from the music) modulates the last sine layer only:
        # through every layer it scatters the picture into noise, through the last it moves
        # colour and fine texture and the layout stays (compared by eye at pushes 0.3..2).
        # Its unit: features of rms 1 through a unit-gain map to the code, times this, move
        # that layer's phases by about 1 radian (rms).
        self.push_modulation = self.modulation[:, -look.width:]
        self.code_scale = 1.0 / max(float(self.push_modulation.pow(2).mean().sqrt())
                                    * math.sqrt(look.latent), 1e-6)

    def render(self, coords: torch.Tensor, morph: torch.Tensor, *, offset: torch.Tensor | None = None,
               zoom: torch.Tensor | None = None, hue: torch.Tensor | None = None,
               wrap: bool = False, edges: str = "mirror", chunk: int | None = None) -> torch.Tensor:
        """coords (P, 2) in field.coords' frame (shorter side of the output -0.5..0.5), or
        (B, P, 2) per frame; morph (B,); offset (B, latent) added to the code of the last
        layer (a push, see ``code_scale``); zoom (B,)
        (> 1 closer); hue (B,) in turns -> (B, P, 3) RGB in [0, 1], float32."""
        b = morph.shape[0]
        dev = self.device
        codes, ext = keyframe_codes(self.look, morph.to(dev), wrap)
        shifts = codes @ self.modulation                          # (B, layers * width)
        if offset is not None:
            shifts[:, -self.look.width:] += offset.to(dev, torch.float32) @ self.push_modulation
        zoom = torch.ones(b, device=dev) if zoom is None else zoom.to(dev, torch.float32)
        n_px = coords.shape[-2]
        out = torch.empty(b, n_px, 3, device=dev, dtype=torch.float32)
        if n_px == 0:
            return out
        step = min(chunk or (CPU_CHUNK if dev.type == "cpu" else GPU_CHUNK), n_px)
        width = self.look.width
        bufs = torch.empty(2, step, width, device=dev, dtype=torch.float32)
        for f in range(b):
            xy = coords[min(f, coords.shape[0] - 1)] if coords.dim() == 3 else coords
            xy = xy.to(dev, torch.float32) * (2.0 / zoom[f])
            if edges == "mirror":
                xy = torch.stack([mirror(xy[:, 0], ext[f, 0]), mirror(xy[:, 1], ext[f, 1])], 1)
            biases = [bias + shifts[f, i * width:(i + 1) * width]
                      for i, bias in enumerate(self.biases)]
            rgb_w, rgb_b = self.rgb_weight, self.rgb_bias + 0.5
            if hue is not None and float(hue[f]) != 0.0:
                r = hue_matrix(float(hue[f])).to(dev)
                rgb_w, rgb_b = rgb_w @ r, rgb_b @ r
            for s in range(0, n_px, step):
                c = xy[s:s + step]
                h, spare = bufs[0, :c.shape[0]], bufs[1, :c.shape[0]]
                torch.addmm(biases[0], c, self.weights[0], out=h).sin_()
                for w, bias in zip(self.weights[1:], biases[1:]):
                    torch.addmm(bias, h, w, out=spare).sin_()
                    h, spare = spare, h
                torch.addmm(rgb_b, h, rgb_w, out=out[f, s:s + c.shape[0]]).clamp_(0, 1)
        return out
