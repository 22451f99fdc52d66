"""Render settings (size, fps, duration, start): from a patch's ``settings:`` and the command
line, checked against limits that keep a typo from asking for a 100000x100000 frame."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from afx_graph.errors import Issue

MAX_SIDE = 8192
MAX_PIXELS = 8192 * 4608
MIN_SIDE = 8
MAX_FPS = 240
MAX_DURATION = 6 * 3600
DEFAULT_SIZE = (640, 360)
DEFAULT_FPS = 30.0


@dataclass(frozen=True)
class RenderSettings:
    size: tuple[int, int] = DEFAULT_SIZE     # (width, height)
    fps: float = DEFAULT_FPS
    duration: float | None = None            # None: the length of the patch's audio
    start: float = 0.0                       # seconds into the audio where frame 0 sits
    # "offline": the feature nodes analyse the whole track (look-ahead, per-track ranges);
    # "causal": they see only past audio, fed in blocks as a live input feeds it
    analysis: str = "offline"
    # afx live: audio arrives as the show runs; a file source "play"s through the speakers
    # or stays "silent" (its sound comes from elsewhere); "": a render
    live: str = ""

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    def frame_count(self, duration: float) -> int:
        return max(1, int(math.floor(duration * self.fps + 1e-6)))

    def with_(self, **kw) -> "RenderSettings":
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


KEYS = ("size", "fps", "duration", "start", "analysis")
ANALYSES = ("offline", "causal")


def whole(value) -> int | None:
    """An int, or a float with no fraction (64.0: JSON and YAML writers produce those), as an
    int; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def check_size(value, where: str = "size") -> tuple[tuple[int, int] | None, str | None]:
    sides = [whole(v) for v in value] if isinstance(value, (list, tuple)) else []
    if len(sides) != 2 or None in sides:
        return None, f"expected [width, height] in whole pixels, got {value!r}"
    w, h = sides
    if min(w, h) < MIN_SIDE:
        return None, f"{w}x{h} is too small (at least {MIN_SIDE} pixels a side)"
    if max(w, h) > MAX_SIDE or w * h > MAX_PIXELS:
        return None, f"{w}x{h} is too large (at most {MAX_SIDE} pixels a side, {MAX_PIXELS // 1_000_000} megapixels)"
    return (w, h), None


def check_number(name, value, lo, hi, allow_zero=False) -> tuple[float | None, str | None]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None, f"expected a number, got {value!r}"
    if value < lo or (value == lo and not allow_zero and lo == 0) or value > hi:
        rng = f"from {lo:g} to {hi:g}" if allow_zero or lo else f"above 0 and at most {hi:g}"
        return None, f"{value:g} is out of range ({name} is {rng})"
    return float(value), None


# what a render without a length is refused with (afx run, before any node runs; afx validate)
NO_LENGTH = "settings.duration is not set and the patch has no audio to take the length from"


def past_end(start: float, total: float | None) -> str | None:
    """Why a render cannot start at ``start`` in audio ``total`` seconds long, or None."""
    if total is not None and start >= total - 1e-9:
        return f"the render starts at {start:g} s, past the end of the audio ({total:.2f} s long)"
    return None


def from_patch(settings: dict, file: str) -> tuple[RenderSettings, list[Issue]]:
    issues: list[Issue] = []
    out = RenderSettings()
    for key in settings:
        if key not in KEYS:
            issues.append(Issue(f"unknown setting (expected {', '.join(KEYS)})", file,
                                field=f"settings.{key}"))
    if "size" in settings:
        size, err = check_size(settings["size"])
        if err:
            issues.append(Issue(err, file, field="settings.size"))
        else:
            out = replace(out, size=size)
    for key, lo, hi, zero in (("fps", 1, MAX_FPS, False), ("duration", 0, MAX_DURATION, False),
                              ("start", 0, MAX_DURATION, True)):
        if settings.get(key) is not None:
            v, err = check_number(key, settings[key], lo, hi, zero)
            if err:
                issues.append(Issue(err, file, field=f"settings.{key}"))
            else:
                out = replace(out, **{key: v})
    if settings.get("analysis") is not None:
        if settings["analysis"] in ANALYSES:
            out = replace(out, analysis=settings["analysis"])
        else:
            issues.append(Issue(f"expected one of {', '.join(ANALYSES)}, got "
                                f"{settings['analysis']!r}", file, field="settings.analysis"))
    return out, issues
