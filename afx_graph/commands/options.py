"""Number options of the commands, read by us rather than by argparse: a value argparse cannot
read (``--steps 1e12`` for a whole number, ``--fps fast``) or one out of range gets one
``error: --OPTION: ...`` line that gives the allowed range, the same for every command.

``type=whole("--steps", 1, 1_000_000)`` or ``type=number("--fps", 1, 240)`` in
``add_argument``: the parser calls it on the text and an :class:`AfxError` leaves argparse
as it is (it only catches its own, ValueError and TypeError)."""
from __future__ import annotations

import math
from typing import Callable

from ..errors import AfxError, escape_controls


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
