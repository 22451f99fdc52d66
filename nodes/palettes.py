"""The library's one palette vocabulary: every name means the same colours in every node.

Two kinds of palette, one namespace:

* **gradients**: colour stops from dark to light (position, "#rrggbb"); they map a level such as
  luminance (``image.color``).
* **cosine palettes** (after Inigo Quilez): ``colour(t) = a + b * cos(2 pi (c t + d))``, periodic
  in ``t``; the pattern generators walk along them.

Any node takes any name. A gradient walked past its ends bounces back (period 2), so it stays
continuous; a cosine palette mapping a level uses one period, ``t`` in [0, 1].

Three gradients of ``image.color`` used to share their names with different cosine palettes of
the pattern nodes; they are ``synthwave`` (was image.color's "neon"), ``dusk`` ("sunset") and
``lagoon`` ("ocean") now, and ``image.color`` migrates old patches (version 1 -> 2).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

TAU = 2 * math.pi

GRADIENTS: dict[str, tuple[tuple[float, str], ...]] = {
    "fire": ((0.0, "#000000"), (0.25, "#5c0a02"), (0.5, "#d63a04"), (0.75, "#ffb01f"),
             (1.0, "#fffbe6")),
    "ice": ((0.0, "#02040f"), (0.3, "#0b2a6b"), (0.6, "#2f9fd8"), (0.85, "#a8ecff"),
            (1.0, "#ffffff")),
    "synthwave": ((0.0, "#0a0014"), (0.3, "#6a00ff"), (0.55, "#ff00c8"), (0.8, "#00f0ff"),
                  (1.0, "#eaffd0")),
    "dusk": ((0.0, "#120527"), (0.3, "#5b1a66"), (0.55, "#d4386b"), (0.8, "#ff9a3d"),
             (1.0, "#ffe8a3")),
    "velvet": ((0.0, "#1a0630"), (0.3, "#5b1a66"), (0.55, "#c8386b"), (0.8, "#ea873c"),
               (1.0, "#f2d89e")),          # dusk kept clear of 0 and 255 (after H.264 too)
    "lagoon": ((0.0, "#000814"), (0.35, "#003566"), (0.65, "#0a9396"), (0.85, "#94d2bd"),
               (1.0, "#f1faee")),
    "forest": ((0.0, "#050b04"), (0.35, "#1b4332"), (0.65, "#52b788"), (0.85, "#b7e4c7"),
               (1.0, "#f4f1de")),
    "viridis": ((0.0, "#440154"), (0.25, "#3b528b"), (0.5, "#21918c"), (0.75, "#5ec962"),
                (1.0, "#fde725")),
    "rainbow": tuple((i / 6, c) for i, c in enumerate(
        ("#ff0000", "#ffff00", "#00ff00", "#00ffff", "#0000ff", "#ff00ff", "#ff0000"))),
    "grey": ((0.0, "#000000"), (1.0, "#ffffff")),
}

COSINE: dict[str, tuple[tuple[float, float, float], ...]] = {
    "spectrum": ((0.50, 0.50, 0.50), (0.50, 0.50, 0.50), (1.00, 1.00, 1.00), (0.00, 0.33, 0.67)),
    "aurora": ((0.40, 0.50, 0.55), (0.40, 0.45, 0.45), (0.50, 1.00, 1.00), (0.60, 0.10, 0.35)),
    "ember": ((0.50, 0.25, 0.08), (0.50, 0.25, 0.08), (1.00, 1.00, 1.00), (0.00, 0.06, 0.14)),
    "ocean": ((0.20, 0.45, 0.60), (0.20, 0.40, 0.40), (1.00, 1.00, 1.00), (0.55, 0.50, 0.45)),
    "neon": ((0.50, 0.50, 0.50), (0.50, 0.50, 0.50), (2.00, 1.00, 0.00), (0.50, 0.20, 0.25)),
    "candy": ((0.80, 0.50, 0.60), (0.20, 0.40, 0.30), (2.00, 1.00, 1.00), (0.00, 0.25, 0.25)),
    "sunset": ((0.55, 0.35, 0.45), (0.45, 0.35, 0.35), (1.00, 1.00, 1.00), (0.00, 0.12, 0.72)),
    "gold": ((0.55, 0.45, 0.30), (0.45, 0.40, 0.30), (1.00, 1.00, 1.00), (0.00, 0.05, 0.12)),
    "mono": ((0.50, 0.50, 0.52), (0.50, 0.50, 0.50), (1.00, 1.00, 1.00), (0.00, 0.00, 0.02)),
}

assert not set(GRADIENTS) & set(COSINE), "a palette name must mean one thing"
NAMES = tuple(COSINE) + tuple(GRADIENTS)
RENAMED = {"neon": "synthwave", "sunset": "dusk", "ocean": "lagoon"}   # image.color v1 -> v2
LUT_SIZE = 4096          # nearest entry: at most ~0.0005 from the exact gradient


def _hex(c: str) -> tuple[float, float, float]:
    return tuple(int(c[i:i + 2], 16) / 255.0 for i in (1, 3, 5))


def _cosine_at(t: np.ndarray, name: str) -> np.ndarray:
    a, b, c, d = (np.asarray(v)[:, None] for v in COSINE[name])
    return a + b * np.cos(TAU * (t[None] * c + d))


@lru_cache(maxsize=64)
def lut(name: str, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(3, LUT_SIZE) colours of ``name`` for levels 0..1 (one row per channel)."""
    t = np.linspace(0.0, 1.0, LUT_SIZE)
    if name in GRADIENTS:
        stops = GRADIENTS[name]
        pos = np.array([p for p, _ in stops])
        rgb = np.array([_hex(c) for _, c in stops])
        table = np.stack([np.interp(t, pos, rgb[:, k]) for k in range(3)], axis=0)
    else:
        table = np.clip(_cosine_at(t, name), 0.0, 1.0)
    return torch.tensor(table, dtype=dtype, device=device)


def map_level(t: torch.Tensor, name: str) -> torch.Tensor:
    """Levels (B, 1, H, W) in [0, 1] -> channels-first colours (B, 3, H, W)."""
    table = lut(name, t.device, t.dtype)
    # the index in float32: in fp16 (a GPU's default) 4095 + 0.5 rounds to 4096, one past the
    # table's end, and levels above 2048 could only reach every other entry
    idx = (t[:, 0].float().clamp(0, 1) * (LUT_SIZE - 1) + 0.5).long()
    return torch.stack([table[c][idx] for c in range(3)], dim=1)


_COSINE_TENSORS: dict = {}


def colours(t: torch.Tensor, name: str) -> torch.Tensor:
    """Colours along ``name`` at ``t`` (any shape): shape ``t.shape + (3,)``. Cosine palettes
    have period 1; gradients are walked there and back (period 2)."""
    if name in COSINE:
        key = (name, t.dtype, str(t.device))
        abcd = _COSINE_TENSORS.get(key)
        if abcd is None:
            abcd = _COSINE_TENSORS[key] = torch.tensor(COSINE[name], dtype=t.dtype).to(t.device)
        a, b, c, d = abcd
        return a + b * torch.cos(TAU * (t[..., None] * c + d))
    table = lut(name, t.device, t.dtype)
    level = 1.0 - (1.0 - torch.remainder(t.float(), 2.0)).abs()     # float32: as map_level
    idx = (level * (LUT_SIZE - 1) + 0.5).long()
    return table.T[idx]
