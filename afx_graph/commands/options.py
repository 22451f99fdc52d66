"""Number options of the commands, read by us rather than by argparse: a value argparse cannot
read (``--steps 1e12`` for a whole number, ``--fps fast``) or one out of range gets one
``error: --OPTION: ...`` line that gives the allowed range, the same for every command.

``type=whole("--steps", 1, 1_000_000)`` or ``type=number("--fps", 1, 240)`` in
``add_argument``: the parser calls it on the text and an :class:`AfxError` leaves argparse
as it is (it only catches its own, ValueError and TypeError).

:func:`add_render_options` declares the options every rendering command shares (``afx run``,
``afx sweep``, ``afx batch``), once, read the same way."""
from __future__ import annotations

import math
from typing import Callable

from afx_graph.errors import AfxError, escape_controls
from afx_graph.settings import MAX_DURATION, MAX_FPS, check_size

MAX_BATCH = 1024
# --ray of the commands that render one job per cell or song (afx sweep, afx batch)
RAY_JOBS_HELP = ("render over Ray, one task per render: 'auto' (--ray alone) joins the cluster "
                 "this machine belongs to or starts one here (AFX_RAY_CPUS sets its workers), "
                 "ADDRESS (HOST:PORT, ray://HOST:PORT) a cluster elsewhere; needs pip install "
                 "'afx[cluster]'. Every worker must see the patch's folder and the audio at the "
                 "same paths")


def _text(v: float) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


def _range(lo: float | None, hi: float | None, above: bool) -> str:
    if lo is None:
        return f"at most {_text(hi)}"
    start = f"above {_text(lo)}" if above else f"at least {_text(lo)}"
    if hi is None:
        return start
    if above:
        return f"{start} and at most {_text(hi)}"
    return f"from {_text(lo)} to {_text(hi)}"


def _typed(text: str) -> str:
    """The value as typed: bare if it reads as a number (nan, 1e400), quoted if not."""
    try:
        float(text)
        return escape_controls(text)
    except ValueError:
        return f"'{escape_controls(text)}'"


def number(option: str, lo: float | None, hi: float | None, *, above: bool = False,
           unit: str = "") -> Callable[[str], float]:
    """A finite number from ``lo`` (or above it, with ``above``) to ``hi``; None: no limit."""
    what = f"a number{f' of {unit}' if unit else ''} {_range(lo, hi, above)}"

    def read(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (lo is None or value > lo or (value == lo and not above)) \
            and (hi is None or value <= hi)
        if not ok:
            raise AfxError(f"must be {what}, not {_typed(text)}", field=option)
        return value
    return read


def whole(option: str, lo: int, hi: int, *, unit: str = "") -> Callable[[str], int]:
    """A whole number from ``lo`` to ``hi``, also written as a float (``1e3``, ``8.0``)."""
    what = f"a whole number{f' of {unit}' if unit else ''} {_range(lo, hi, False)}"

    def read(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                f = math.nan
            value = int(f) if math.isfinite(f) and f == int(f) else None
        if value is None or not lo <= value <= hi:
            raise AfxError(f"must be {what}, not {_typed(text)}", field=option)
        return value
    return read


def parse_size(text: str) -> tuple[int, int]:
    """``--size WxH``: a frame size afx can render."""
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise AfxError(f"--size: '{escape_controls(text)}' is not WIDTHxHEIGHT (e.g. 1280x720)")
    size, err = check_size([int(w), int(h)])
    if err:
        raise AfxError(f"--size: {err}")
    return size


def add_render_options(p, *, duration: bool, force: str, ray: str) -> None:
    """The options of a render: ``afx run``'s, and those a sweep or a batch passes on to every
    render (``duration``: whether the command has ``--duration``; ``force`` and ``ray``: what
    those two mean for it)."""
    p.add_argument("--size", metavar="WxH", type=parse_size, help="frame size, e.g. 1280x720")
    p.add_argument("--fps", type=number("--fps", 1, MAX_FPS), metavar="N")
    if duration:
        p.add_argument("--duration", type=number("--duration", 0, MAX_DURATION, above=True,
                                                 unit="seconds"),
                       metavar="S", help="seconds (default: the audio's)")
    else:
        p.set_defaults(duration=None)
    p.add_argument("--start", type=number("--start", 0, MAX_DURATION, unit="seconds"),
                   metavar="S", help="start this many seconds into the audio")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"),
                   help="auto: fp16 on a GPU, fp32 on a CPU (bf16 moves CPPN colours visibly)")
    p.add_argument("--batch", type=whole("--batch", 1, MAX_BATCH), metavar="N",
                   help="frames per batch (default: fit the device)")
    p.add_argument("--ray", nargs="?", const="auto", default=None, metavar="auto|ADDRESS",
                   help=ray)
    p.add_argument("--force", action="store_true", help=force)
    p.add_argument("--quiet", action="store_true", help="print errors only, no progress")
