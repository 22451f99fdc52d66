"""Param widgets built from a node spec's :class:`~afx_graph.Param` (dearpygui).

Which widget a param gets:

* number -> drag (clamped to whatever bound there is): a click selects, a drag changes the
  value by a step that fits the range, a double-click (or Ctrl+click) types it;
* ``choices`` -> combo; ``bool`` -> checkbox;
* ``str`` of kind ``path`` -> text + "..." (open dialog), kind ``output`` -> text + "..." (save
  dialog), kind ``color`` -> colour editor, other text -> text field (committed on Enter or
  when the field loses focus);
* ``tuple`` -> drag_floatN (N <= 4), else N drag fields.

Values go through :func:`to_widget` / :func:`from_widget` so the patch keeps its canonical
form (a choice stays an int if it is one, a colour stays the type the spec declares).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import dearpygui.dearpygui as dpg

from afx_graph.spec import Param

WIDTH = 112
LIVE_KINDS = {"drag_float", "drag_int", "tuple", "color"}
TEXT_KINDS = {"text", "path", "output", "tuple_text", "device"}


@dataclass
class ParamWidget:
    tag: str          # the value widget
    kind: str
    param: Param
    browse: str | None = None    # the "..." button of a path
    width: int = 0               # the value widget's width at zoom 1


def kind_of(p: Param) -> str:
    if p.choices is not None:
        return "combo"
    if p.type is bool:
        return "checkbox"
    if p.type is str:
        if p.kind == "color":
            return "color"
        if p.kind in ("path", "output", "device"):
            return p.kind
        return "text"
    if p.type is tuple:
        if p.kind == "color" and len(p.default) in (3, 4):
            return "color"
        return "tuple" if len(p.default) <= 4 else "tuple_text"
    # never a slider on a node face: a click on one jumped the value to where it landed
    return "drag_int" if p.type is int else "drag_float"


def _fmt(p: Param) -> str:
    span = (p.max - p.min) if p.min is not None and p.max is not None else abs(p.default) * 10 + 10
    return "%.3f" if span <= 10 else "%.2f" if span <= 1000 else "%.1f"


def drag_step(p: Param) -> float:
    """How much one pixel of a drag moves a number (on the node face and the parameter
    panel's handle): the range (up to 1000 of it) over 400 px, so the useful part of a range
    is a comfortable drag; without a range, 1% of the default's size."""
    if p.min is not None and p.max is not None:
        step = min(float(p.max - p.min), 1000.0) / 400.0
    else:
        step = max(abs(float(p.default)), 1.0) * 0.01
    return max(step, 1.0 / 16) if p.type is int else step


def build(p: Param, value, *, tag: str, label: str, callback, user_data, width: int = WIDTH,
          browse_callback=None, full: bool = False) -> ParamWidget:
    """Add the widget for one param (inside the current container). ``full``: exactly
    ``width`` wide (the parameter panel), not sized to a node face."""
    k = kind_of(p)
    v = to_widget(p, value)
    common = dict(tag=tag, label=label, callback=callback, user_data=user_data, width=width)
    lo = p.min if p.min is not None else None
    hi = p.max if p.max is not None else None
    if k in ("drag_float", "drag_int"):
        add = dpg.add_drag_float if k == "drag_float" else dpg.add_drag_int
        kw = {"speed": drag_step(p)}     # on the node face: Alt finer, Shift coarser
        if k == "drag_float":
            kw["format"] = _fmt(p)
        if lo is not None:
            kw["min_value"] = lo if k == "drag_float" else int(lo)
        if hi is not None:
            kw["max_value"] = hi if k == "drag_float" else int(min(hi, 2**31 - 1))
        if lo is not None or hi is not None:
            kw["clamped"] = True
            kw.setdefault("min_value", -1e30 if k == "drag_float" else -(2**31))
            kw.setdefault("max_value", 1e30 if k == "drag_float" else 2**31 - 1)
        add(default_value=v, **kw, **common)
    elif k in ("combo", "device"):
        if k == "combo":
            choices = [str(c) for c in p.choices]
        else:                         # the inputs this machine has (afx devices), and the value
            choices = list(dict.fromkeys(["", v, *input_names()]))
        common["width"], arrow = (width, True) if full else combo_width(choices, width)
        dpg.add_combo(choices, default_value=v, no_arrow_button=not arrow, **common)
    elif k == "checkbox":
        common.pop("width")
        dpg.add_checkbox(default_value=v, **common)
    elif k == "color":
        dpg.add_color_edit(default_value=v, no_alpha=not (p.type is tuple and len(p.default) == 4),
                           display_type=dpg.mvColorEdit_uint8, **common)
    elif k == "tuple":
        n = len(p.default)
        kw = {}
        if p.min is not None or p.max is not None:
            kw = {"min_value": p.min if p.min is not None else -1e30,
                  "max_value": p.max if p.max is not None else 1e30, "clamped": True}
        dpg.add_drag_floatx(default_value=list(v) + [0.0] * (4 - n), size=max(2, n),
                            speed=0.01, format="%.3f", **kw, **common)
    else:   # text, path, output, tuple_text (numbers separated by commas)
        with dpg.group(horizontal=True):
            field = width - (28 if k in ("path", "output") else 0)
            if k == "output" and not full:
                # "out/demo.mp4" was cut to "out/demo.mp": an output node ends a chain, on
                # the right, so it may grow (an input file's node has neighbours to its right)
                field = int(min(COMBO_MAX, max(field, text_width(str(v)) + 2 * COMBO_PAD)))
            dpg.add_input_text(default_value=v, on_enter=True, **{**common, "width": field})
            if k in ("path", "output") and browse_callback is not None:
                b = dpg.add_button(label="...", width=24, callback=browse_callback,
                                   user_data=user_data, tag=f"{tag}.browse")
                with dpg.tooltip(b):
                    dpg.add_text("choose a file" if k == "path" else "choose where to write")
                return ParamWidget(tag, k, p, b, width=field + 28)
    return ParamWidget(tag, k, p, width=common.get("width", width))


def input_names() -> list[str]:
    """The names of the audio inputs (empty where PortAudio is missing or lists none)."""
    from afx_graph.errors import AfxError
    from afx_graph.media.capture import input_devices
    try:
        return [d.name for d in input_devices()]
    except AfxError:
        return []


COMBO_MAX = WIDTH + 40          # a node stays within the examples' 240 px columns
COMBO_ARROW = 28                # the arrow button and the frame's padding
COMBO_PAD = 8                   # the frame's padding alone


def combo_width(choices, width: int = WIDTH) -> tuple[int, bool]:
    """A combo's width (at zoom 1) for its longest choice, within ``width..COMBO_MAX``, and
    whether it keeps its arrow: a choice too long for the arrow beside it gets the arrow's
    room (the combo still opens on a click; its tooltip lists the choices)."""
    longest = max((text_width(c) for c in choices), default=0.0)
    if longest + COMBO_ARROW <= COMBO_MAX:
        return int(max(width, longest + COMBO_ARROW)), True
    return int(min(COMBO_MAX, longest + COMBO_PAD)), False


def text_width(text: str, per_char: float = 7.5) -> float:
    """Pixels ``text`` takes in the current font (``per_char`` each before a font is ready)."""
    try:
        size = dpg.get_text_size(text)
        if size and size[0] > 0:
            return float(size[0])
    except Exception:
        pass
    return per_char * len(text)


def to_widget(p: Param, value):
    k = kind_of(p)
    if k == "combo":
        return str(value)
    if k == "checkbox":
        return bool(value)
    if k == "color":
        return _color_to_widget(p, value)
    if k == "tuple":
        return [float(x) for x in value]
    if k == "tuple_text":
        return ", ".join(f"{float(x):g}" for x in value)
    if k in TEXT_KINDS:
        return "" if value is None else str(value)
    if p.type is int:
        return int(value)
    return float(value)


def from_widget(p: Param, raw):
    """Widget value -> param value (may still be refused by the param's own checks)."""
    k = kind_of(p)
    if k == "combo":
        for c in p.choices:
            if str(c) == raw:
                return c
        return raw
    if k == "checkbox":
        return bool(raw)
    if k == "color":
        return _color_from_widget(p, raw)
    if k == "tuple":
        return tuple(float(x) for x in list(raw)[:len(p.default)])
    if k == "tuple_text":
        try:
            return tuple(float(x) for x in str(raw).replace(";", ",").split(",") if x.strip())
        except ValueError:
            return str(raw)        # refused by the param, with its message
    if k in TEXT_KINDS:
        return str(raw)
    if p.type is int:
        return int(round(raw))
    return shortest(raw)


def shortest(x) -> float:
    """A float a widget gave (single precision: 0.2 arrives as 0.20000000298023224) as the
    shortest decimal that reads back as the same single-precision number (0.2)."""
    import numpy as np
    x = float(x)
    if not math.isfinite(x):
        return x
    return float(np.format_float_positional(np.float32(x), unique=True, trim="-"))


def _color_to_widget(p: Param, value):
    if p.type is str:
        s = str(value or "#000000").lstrip("#")
        try:
            rgb = [int(s[i:i + 2], 16) for i in (0, 2, 4)]
        except ValueError:
            rgb = [0, 0, 0]
        return rgb + [255]
    vals = [float(x) for x in value]
    scale = 255.0 if max(vals, default=0) <= 1.0 else 1.0
    out = [int(round(v * scale)) for v in vals]
    return out + [255] * (4 - len(out))


def _color_from_widget(p: Param, raw):
    vals = [float(v) for v in raw]         # dpg.get_value of a colour edit: 0..255
    if p.type is str:
        return "#" + "".join(f"{int(round(max(0, min(255, v)))):02x}" for v in vals[:3])
    n = len(p.default)
    scale = 1.0 / 255.0 if max((float(x) for x in p.default), default=0) <= 1.0 else 1.0
    return tuple(round(v * scale, 4) for v in vals[:n])
