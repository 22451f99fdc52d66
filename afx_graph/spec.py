"""Declaring a node type: one declaration feeds the registry, loader, validator, editor and
executor.

.. code-block:: python

    @node("image.blur", category="Image", version=1)
    class Blur:
        \"\"\"Gaussian blur.\"\"\"
        image  = In(IMAGE)
        radius = Param(float, 4.0, min=0.0, max=64.0, doc="blur radius in pixels at 1080p")
        out    = Out(IMAGE)

        def process(self, ctx, image, radius):
            return {"out": ...}

A numeric ``Param`` is also an optional input port: link a scalar into it and it is driven per
frame (its value then arrives as a ``(B,)`` tensor, clamped to the param's range).
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, replace
from typing import Any, Callable

from afx_graph.types import PortType, SCALAR

RATES = ("static", "frame")
# What of the render's context a static node's result can depend on (see NodeSpec.uses):
# the frame size, the frame rate, the span rendered (start and duration), the device/precision.
CONTEXT = ("size", "fps", "span", "device")
PARAM_KINDS = (None, "path", "output", "color", "text", "device")   # device: an audio input


class ParamValueError(ValueError):
    """A literal that does not fit a parameter; the message says why."""


@dataclass
class In:
    type: PortType
    optional: bool = False
    doc: str = ""
    name: str = ""


@dataclass
class Out:
    type: PortType
    doc: str = ""
    name: str = ""


@dataclass
class Param:
    type: type                      # float, int, bool, str, or tuple (fixed-length numbers)
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    doc: str = ""
    kind: str | None = None         # "path" (input file), "output" (file written), "color", "text"
    linkable: bool | None = None    # numeric params are linkable unless told otherwise
    folder: bool = False            # an "output" that is a folder the node fills (frames)
    required: bool = False          # a "path" that must be given (validation says so)
    name: str = ""

    def __post_init__(self):
        if self.type not in (float, int, bool, str, tuple):
            raise TypeError(f"unsupported param type {self.type!r}")
        if self.kind not in PARAM_KINDS:
            raise TypeError(f"unknown param kind {self.kind!r}")
        if self.choices is not None:
            self.choices = tuple(self.choices)
        if self.linkable is None:
            self.linkable = self.type in (float, int) and self.choices is None
        if self.type is tuple:
            self.default = tuple(self.default)

    @property
    def is_numeric(self) -> bool:
        return self.type in (float, int)

    @property
    def port_type(self) -> PortType:
        return SCALAR

    def coerce(self, value: Any) -> Any:
        """Check a literal from a patch or a widget and return it in canonical form."""
        t = self.type
        if t is bool:
            if isinstance(value, bool):
                return value
            raise ParamValueError(f"expected true or false, got {_show(value)}")
        if t in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamValueError(f"expected a number, got {_show(value)}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ParamValueError(f"expected a finite number, got {value}")
            if t is int:
                if isinstance(value, float) and not value.is_integer():
                    raise ParamValueError(f"expected a whole number, got {value}")
                value = int(value)
            else:
                value = float(value)
            self._check_range(value)
        elif t is str:
            if not isinstance(value, str):
                raise ParamValueError(f"expected text, got {_show(value)}")
        elif t is tuple:
            n = len(self.default)
            if not isinstance(value, (list, tuple)) or len(value) != n or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise ParamValueError(f"expected a list of {n} numbers, got {_show(value)}")
            value = tuple(float(v) for v in value)
            if not all(math.isfinite(v) for v in value):
                raise ParamValueError("expected finite numbers")
            for v in value:
                self._check_range(v)
        if self.choices is not None and value not in self.choices:
            raise ParamValueError(
                f"{_show(value)} is not one of {', '.join(map(str, self.choices))}")
        return value

    def _check_range(self, v: float) -> None:
        if self.min is not None and v < self.min:
            raise ParamValueError(f"{v:g} is below the minimum {self.min:g}")
        if self.max is not None and v > self.max:
            raise ParamValueError(f"{v:g} is above the maximum {self.max:g}")

    def to_dict(self) -> dict:
        d = {"type": self.type.__name__ if self.type is not tuple else "list",
             "default": list(self.default) if self.type is tuple else self.default, "doc": self.doc}
        for k in ("min", "max", "kind"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.choices is not None:
            d["choices"] = list(self.choices)
        d["linkable"] = bool(self.linkable)
        return d


def _show(value: Any) -> str:
    s = repr(value)
    return s if len(s) <= 40 else s[:37] + "..."


@dataclass
class NodeSpec:
    """Everything known about a node type without running it."""

    id: str
    cls: type
    category: str
    version: int
    doc: str
    inputs: dict[str, In]
    outputs: dict[str, Out]
    params: dict[str, Param]
    # "frame": runs for every frame batch; "static": runs once per render, unless a source
    # is per-frame (then it runs per frame too). See frame_form for the values it gets.
    rate: str = "static"
    stateful: bool = False          # keeps state across frames: reset() at render start
    sink: bool = False              # consumes frames (video, png, preview): a render target
    aliases: tuple[str, ...] = ()
    migrate: Callable[[dict, int], dict] | None = None
    source: str = "builtin"         # "builtin" or the entry point that registered it
    # the parts of the render context its result depends on (CONTEXT): a static result is
    # cached across changes of the others (decoding audio does not re-run for a new size)
    uses: tuple[str, ...] = CONTEXT

    @property
    def frame_form(self) -> bool:
        """Whether ``process`` gets its values in the per-frame form (tensors with a leading
        batch axis, see Executor._gather) even when it runs once for a render: a frame-rate
        node, or one with an input of a per-frame type (SCALAR, VECTOR, IMAGE); run once, it
        gets a batch of one. (Any node that runs per frame gets that form.)"""
        from afx_graph.types import NORMALISE
        return self.rate == "frame" or any(i.type.id in NORMALISE for i in self.inputs.values())

    @property
    def title(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.id

    def input_type(self, port: str) -> PortType | None:
        """Type of an input port, including linkable params; None if there is no such port."""
        if port in self.inputs:
            return self.inputs[port].type
        p = self.params.get(port)
        if p is not None and p.linkable:
            return p.port_type
        return None

    def hook(self, name: str) -> Callable | None:
        """The node class's own ``name`` hook (one of ``OPTIONAL_HOOKS``), or None where it
        has none (the documentation stubs on :class:`Node` do not count)."""
        if name not in OPTIONAL_HOOKS:
            raise ValueError(f"{name!r} is not an optional node hook ({', '.join(OPTIONAL_HOOKS)})")
        found = getattr(self.cls, name, None)    # a param may share a hook's name (fade)
        if not callable(found) or isinstance(found, (In, Out, Param)) \
                or _function(found) is _function(getattr(Node, name)):
            return None
        return found

    def input_ports(self) -> list[str]:
        return list(self.inputs) + [n for n, p in self.params.items() if p.linkable]

    def to_dict(self) -> dict:
        return {
            "id": self.id, "category": self.category, "version": self.version,
            "doc": inspect.cleandoc(self.doc) if self.doc else "", "rate": self.rate,
            "stateful": self.stateful, "sink": self.sink, "aliases": list(self.aliases),
            "inputs": {n: {"type": i.type.id, "optional": i.optional, "doc": i.doc}
                       for n, i in self.inputs.items()},
            "outputs": {n: {"type": o.type.id, "doc": o.doc} for n, o in self.outputs.items()},
            "params": {n: p.to_dict() for n, p in self.params.items()},
            "source": self.source,
        }


class Node:
    """The lifecycle of a node, as the executor drives it, and every optional hook a node may
    define. Subclassing is optional (``@node`` gives any class the no-op lifecycle methods it
    lacks), but this class is the one list of the names the engine looks for: ``@node``
    refuses a method whose name is a near miss of one of them (``setle``, ``fades``), and the
    engine finds a hook only through :meth:`NodeSpec.hook`, never by guessing attribute names.

    Lifecycle (every node has these):

    - ``process(ctx, **inputs_and_params) -> {output: value}``: every call. A static node
      gets plain values; a frame node gets per-frame values for the batch ``ctx.frames``.
    - ``reset()``: a render (or a preview) starts; stateful nodes forget their past.
    - ``begin(ctx)``, ``finish(ctx) -> stats``, ``abort(ctx)``: sinks, around a render;
      ``abort`` runs instead of ``finish`` when the render fails or is interrupted and must
      leave nothing half-written behind.

    Optional hooks (``OPTIONAL_HOOKS``; defined here only to document them: a class that does
    not define one does not have it, and the engine falls back as each docstring says):

    - ``migrate``: old patches' params brought to this version.
    - ``settle``, ``fade``, ``advance``: a stateful node in a render split in time
      (``afx run --ray``, chunks). **A stateful node without ``settle`` is rendered from
      frame 0 in every chunk**: correct, but each chunk then pays for the whole song.
    - ``pixel_floats``: memory per pixel, for the check before a render allocates.
    - ``bench``, ``describe_models``, ``download_models``: ``afx bench`` and ``afx models``.
    - ``file_problem``: whether a file is one this node reads, for ``afx pack`` (which never
      packs a file of a node without it).
    - ``audio_length``: how long the audio a source makes is, known before it runs, so that
      ``afx validate`` refuses a start past its end as the render does.

    To run one node by hand (a test, a script), :func:`afx_graph.call_node` gives it its
    arguments in the form the executor would.
    """

    def process(self, ctx, **kwargs) -> dict:
        raise NotImplementedError

    def reset(self) -> None:
        pass

    def begin(self, ctx) -> None:
        pass

    def finish(self, ctx) -> dict:
        return {}

    def abort(self, ctx) -> None:
        pass

    # -- optional hooks: documentation only (see NodeSpec.hook) ------------------------------

    @staticmethod
    def migrate(params: dict, version: int) -> dict:
        """The params of a patch saved at ``version`` (older than the spec's), rewritten for
        the current version. Without it, an older version's params load as they are."""
        raise NotImplementedError

    @staticmethod
    def settle(params: dict, fps: float, linked: set) -> float | None:
        """Seconds after which this stateful node's output no longer depends on where the
        render started (``linked``: the params driven by links). ``None``: it remembers
        everything, and a chunk of a split render runs it from frame 0. Without this hook a
        stateful node is taken to remember everything."""
        raise NotImplementedError

    @staticmethod
    def fade(values: dict, fps: float):
        """Per frame, the share of the state that survives the frame (``values``: the
        numeric params per frame, numpy arrays), for a chunk's pre-roll when the fade is
        driven by links. Without it, a driven fade runs from frame 0."""
        raise NotImplementedError

    def advance(self, ctx, **inputs_and_params) -> None:
        """Move the state on for ``ctx.frames`` without producing values: a chunk's pre-roll
        of a node whose pictures nobody looks at. Without it the pre-roll calls ``process``."""
        raise NotImplementedError

    @staticmethod
    def pixel_floats(params: dict, device) -> tuple[int, int]:
        """(floats per pixel kept for the whole render, floats per pixel per frame of a
        batch), for afx_graph.engine.memory's estimate. Without it an image-making node counts as
        (3, 0) when static and (0, DEFAULT_FRAME_FLOATS) per frame."""
        raise NotImplementedError

    def bench(self, ctx, **options) -> dict:
        """The node's own work timed apart from the graph, for ``afx bench``."""
        raise NotImplementedError

    @classmethod
    def describe_models(cls) -> list[dict]:
        """The weight files this node type can use, for ``afx models`` (dicts with at least
        ``model``)."""
        raise NotImplementedError

    @classmethod
    def download_models(cls, log) -> None:
        """Fetch this node type's weight files into the model cache (``afx models
        --download``); ``log(message)`` reports progress."""
        raise NotImplementedError


    @staticmethod
    def file_problem(param: str, path: str, params: dict) -> str | None:
        """Why the file at ``path`` is not one this node can read as its ``param`` (audio
        that does not decode, a weights file that does not load), completing "FILE ...":
        "cannot be read as audio: ..."; None when it can (``params``: the node's params,
        defaults filled in). ``afx pack`` carries a file only when every node reading it
        says None; without this hook a node's files are never packed."""
        raise NotImplementedError

    @staticmethod
    def audio_length(params: dict) -> float | None:
        """Seconds of audio this audio source makes with ``params`` (defaults filled in),
        known before it runs; None when only running it tells (a file's). A render refuses to
        start past it before any node runs, and ``afx validate`` with it
        (afx_graph.run.render.plan_issues). Without it, only the render finds out."""
        raise NotImplementedError


OPTIONAL_HOOKS = ("migrate", "settle", "fade", "advance", "pixel_floats", "bench",
                  "describe_models", "download_models", "file_problem", "audio_length")


def _function(obj):
    """The plain function behind a method, static method or class method."""
    obj = getattr(obj, "__func__", obj)
    return obj


LIFECYCLE = ("reset", "begin", "finish", "abort")


def _declared(cls) -> dict[str, In | Out | Param]:
    """Ports and params of ``cls`` and its bases: a base's come first, in declaration order;
    a subclass may redefine one, or remove it by setting the name to anything else."""
    out: dict[str, In | Out | Param] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, (In, Out, Param)):
                out[name] = value
            elif name in out:
                del out[name]
    return out


def node(type_id: str, *, category: str, version: int = 1, rate: str = "static",
         stateful: bool = False, sink: bool = False, aliases: tuple[str, ...] = (),
         uses: tuple[str, ...] = CONTEXT):
    """Class decorator that reads In/Out/Param attributes (in declaration order, base classes
    first) into a :class:`NodeSpec` stored as ``cls.spec``, and gives the class the no-op
    lifecycle hooks of :class:`Node` it does not define."""
    if rate not in RATES:
        raise ValueError(f"rate must be one of {RATES}")
    unknown = set(uses) - set(CONTEXT)
    if unknown:
        raise ValueError(f"uses: {sorted(unknown)} are not parts of the context {CONTEXT}")

    def wrap(cls):
        inputs, outputs, params = {}, {}, {}
        for name, value in _declared(cls).items():
            if name not in vars(cls):           # inherited: a copy, so specs never share one
                value = replace(value)
            value.name = name
            {In: inputs, Out: outputs, Param: params}[type(value)][name] = value
        clash = set(inputs) & set(params)
        if clash:
            raise TypeError(f"{type_id}: {sorted(clash)} are both an input and a param")
        if getattr(cls, "process", Node.process) is Node.process:
            raise TypeError(f"{type_id}: a node class needs a process(self, ctx, ...) method")
        if stateful and getattr(cls, "reset", Node.reset) is Node.reset:
            raise TypeError(f"{type_id}: a stateful node needs a reset() method")
        _check_hook_names(type_id, cls)
        for hook in LIFECYCLE:
            if not hasattr(cls, hook):
                setattr(cls, hook, getattr(Node, hook))
        cls.spec = NodeSpec(
            id=type_id, cls=cls, category=category, version=version,
            doc=inspect.cleandoc(cls.__doc__ or ""), inputs=inputs, outputs=outputs,
            params=params, rate=rate, stateful=stateful, sink=sink, aliases=tuple(aliases),
            uses=tuple(uses))
        cls.spec.migrate = cls.spec.hook("migrate")
        return cls

    return wrap


HOOK_NAMES = ("process",) + LIFECYCLE + OPTIONAL_HOOKS


def _check_hook_names(type_id: str, cls) -> None:
    """Refuse a method whose name is a near miss of a hook's (``setle``, ``Fade``,
    ``pixel_float``): the engine would silently never call it."""
    import difflib
    for klass in cls.__mro__:
        if klass in (object, Node):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in HOOK_NAMES or not callable(_function(value)):
                continue
            near = difflib.get_close_matches(name.lower(), HOOK_NAMES, n=1, cutoff=0.8)
            if near:
                raise TypeError(f"{type_id}: method {name!r} looks like the hook {near[0]!r} "
                                f"misspelt (the engine calls only {near[0]!r}); rename it, or "
                                f"start it with _ if it is a helper")
