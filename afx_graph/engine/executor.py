"""Evaluating a plan: static nodes once (cached by signature), per-frame nodes on batches of
frames with a leading batch axis, sinks fed as batches come.

Cache key of a static node: spec id + version + params + render context + the keys of its
sources, so changing one parameter re-runs that node and its descendants only.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from afx_graph.engine import devices, memory
from afx_graph.context import FrameContext
from afx_graph.errors import AfxError, Issue, NodeCrash, NodeFailure, NodeInputError, PatchError
from afx_graph.graph import FlatGraph, Graph
from afx_graph.engine.plan import Plan, Step
from afx_graph.settings import NO_LENGTH, RenderSettings, past_end
from afx_graph.types import AUDIO, NORMALISE, Audio, Timeline

STATIC_CACHE_ENTRIES = 128


@dataclass
class Progress:
    done: int                 # frames finished
    total: int
    elapsed: float            # seconds since the render started

    @property
    def fps(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float:
        return (self.total - self.done) / self.fps if self.fps > 0 else float("inf")


@dataclass
class Run:
    """One pass over a plan's frames (see Executor.prepare and Executor.frames)."""

    plan: Plan
    settings: RenderSettings
    static: dict[str, dict]
    duration: float           # seconds
    total: int                # frames
    next: int = 0             # the frame stateful nodes' state is ready for

    @property
    def stateful(self) -> bool:
        return any(self.plan.graph.nodes[n].spec.stateful for n in self.plan.frame_nodes)


@dataclass
class RenderStats:
    frames: int
    duration: float           # seconds of video
    elapsed: float            # wall seconds
    batch: int
    node_seconds: dict[str, float] = field(default_factory=dict)
    sink_stats: dict[str, dict] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def realtime(self) -> float:
        return self.duration / self.elapsed if self.elapsed > 0 else 0.0


class Executor:
    def __init__(self, graph: Graph, *, device: str | torch.device = "auto",
                 precision: str = "auto", out_dir: Path | None = None, overwrite: bool = False,
                 patch=None):
        self.graph = graph
        self.device = device if isinstance(device, torch.device) else devices.pick_device(device)
        self.dtype = devices.compute_dtype(self.device, precision)
        self.out_dir = Path(out_dir) if out_dir else Path.cwd()
        self.overwrite = overwrite
        self.patch = patch            # what the outputs embed (embedded.patch_of); None: nothing
        self.calls: Counter[str] = Counter()          # process() calls per node id
        self.node_seconds: Counter[str] = Counter()   # time spent per node id
        self._instances: dict[str, tuple[type, Any]] = {}
        self._cache: OrderedDict[str, dict] = OrderedDict()

    def _use(self, plan: Plan) -> None:
        """A plan of a patch with subpatches runs on the flattened graph it was made from."""
        if isinstance(plan.graph, FlatGraph):
            self.graph = plan.graph

    def set_graph(self, graph: Graph) -> None:
        """Follow an edited graph: node instances (and their state) and cached static results
        are kept wherever node ids, types and signatures still match."""
        self.graph = graph

    # -- context and instances ------------------------------------------------------------
    def context(self, settings: RenderSettings, total_frames: int | None = None) -> FrameContext:
        return FrameContext(settings, self.device, self.dtype, self.out_dir, None, total_frames,
                            overwrite=self.overwrite, patch=self.patch)

    def instance(self, nid: str):
        cls = self.graph.nodes[nid].spec.cls
        have = self._instances.get(nid)
        if have is None or have[0] is not cls:
            have = (cls, cls())
            self._instances[nid] = have
        return have[1]

    def reset(self, plan: Plan) -> None:
        """Start a render afresh: stateful nodes forget their past."""
        self._use(plan)
        for nid in plan.order:
            if self.graph.nodes[nid].spec.stateful:
                self.instance(nid).reset()

    # -- static part ----------------------------------------------------------------------
    def evaluate_static(self, plan: Plan, settings: RenderSettings) -> dict[str, dict]:
        self._use(plan)
        ctx = self.context(settings)
        values: dict[str, dict] = {}
        keys: dict[str, str] = {}
        for step in plan.static_steps:
            nid = step.nid
            key = self._key(nid, keys, ctx)
            keys[nid] = key
            hit = self._cache.get(key)
            if hit is None:
                hit = self._run(nid, ctx.for_node(nid), self._gather(step, values, ctx))
                # a live value (an input capturing, a timeline growing with it) is a running
                # thing, not a result: each preparation makes its own, and closes the last
                if not any(getattr(v, "live", False) for v in hit.values()):
                    self._cache[key] = hit
                while len(self._cache) > STATIC_CACHE_ENTRIES:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
            values[nid] = hit
        return values

    def _key(self, nid: str, keys: dict[str, str], ctx: FrameContext) -> str:
        n = self.graph.nodes[nid]
        params = self.graph.resolved_params(nid, self.out_dir)
        stamp = []
        for name, p in n.spec.params.items():   # a changed file on disk is a changed input
            if p.kind == "path" and params.get(name):
                try:
                    st = os.stat(params[name])
                    stamp.append((name, st.st_mtime_ns, st.st_size))
                except OSError:
                    stamp.append((name, None))
        srcs = sorted((port, keys[l.src], l.src_port) for port, l in self.graph.inputs_of(nid).items())
        s, uses = ctx.settings, n.spec.uses          # only the context the node depends on
        context = {"size": s.size, "fps": s.fps, "span": (s.start, s.duration),
                   "device": (str(self.device), str(self.dtype))}
        text = repr((n.spec.id, n.spec.version, sorted(params.items()), stamp, srcs,
                     [(k, context[k]) for k in uses], s.analysis, s.live, n.mode))
        return hashlib.sha1(text.encode()).hexdigest()

    # -- per-frame part -------------------------------------------------------------------
    def evaluate_frames(self, plan: Plan, settings: RenderSettings, frames: np.ndarray,
                        static: dict[str, dict], total_frames: int | None = None, *,
                        advance: frozenset[str] = frozenset()) -> dict[str, dict]:
        """Every frame step of ``plan`` for ``frames``. The nodes in ``advance`` that can
        (an ``advance`` method) only move their state on and give no values: a chunk's
        pre-roll of a node whose pictures nobody looks at (chunks.py)."""
        self._use(plan)
        ctx = self.context(settings, total_frames).with_frames(np.asarray(frames, dtype=np.int64))
        values = dict(static)
        for step in plan.frame_steps:
            kwargs = self._gather(step, values, ctx)
            if step.nid in advance and self.graph.nodes[step.nid].spec.hook("advance"):
                self.instance(step.nid).advance(ctx.for_node(step.nid), **kwargs)
                values[step.nid] = {}
                continue
            values[step.nid] = self._run(step.nid, ctx.for_node(step.nid), kwargs)
        return values

    def _gather(self, step: Step, values: dict[str, dict], ctx: FrameContext) -> dict:
        """The keyword arguments of a node's ``process``. The executor owns their form:

        * a node run per frame, or one that works on per-frame values even when it runs
          once (``spec.frame_form``: an input of a per-frame type), gets every linkable
          param and every SCALAR input as a ``(B,)`` float32 tensor on the device, VECTOR
          inputs as ``(B, D)``, IMAGE inputs as ``(B, H, W, C)``, with B the frame batch (1
          when it runs once for the render; see types.NORMALISE); other params (text,
          choices, flags, sizes) stay plain;
        * any other node (audio, timelines, coordinates) gets plain values.

        An input with no link is None. A linked param is clamped to its range, rounded if it
        is an int, and its default stands in for NaN."""
        spec = step.spec
        tensors = step.frame or spec.frame_form
        kwargs: dict[str, Any] = dict.fromkeys(spec.inputs)
        params = self.graph.resolved_params(step.nid, self.out_dir)
        for name, p in spec.params.items():
            v = params[name]
            kwargs[name] = NORMALISE["scalar"](v, ctx) if tensors and p.linkable else v
        for b in step.bindings:
            v = values[b.src][b.src_port]
            p = b.param
            if p is None:
                kwargs[b.port] = b.convert(v, ctx) if tensors else v
            elif tensors:
                v = torch.nan_to_num(b.convert(v, ctx), nan=float(p.default))
                if p.min is not None or p.max is not None:
                    v = v.clamp(p.min, p.max)
                kwargs[b.port] = v.round() if p.type is int else v
            else:
                kwargs[b.port] = _plain(torch.as_tensor(v, dtype=torch.float64), p)
        return kwargs

    def _run(self, nid: str, ctx: FrameContext, kwargs: dict) -> dict:
        spec = self.graph.nodes[nid].spec
        inst = self.instance(nid)
        t0 = time.perf_counter()
        try:
            out = inst.process(ctx, **kwargs)
        except NodeInputError as e:
            raise NodeFailure(e.issue.message, file=self.graph.file, node=nid,
                              field=e.issue.field) from None
        except AfxError:
            raise
        except KeyboardInterrupt:
            raise
        except Exception as e:
            if _out_of_memory(e):
                w, h = ctx.settings.size
                where = "GPU memory" if isinstance(e, torch.cuda.OutOfMemoryError) else "memory"
                raise NodeFailure(f"ran out of {where} at {w}x{h} with {ctx.batch} frame(s) a "
                                  "batch; try a smaller --size or --batch",
                                  file=self.graph.file, node=nid, field="size") from None
            raise NodeCrash(nid, spec.id, e) from e
        finally:
            self.calls[nid] += 1
            self.node_seconds[nid] += time.perf_counter() - t0
        out = out or {}
        missing = [o for o in spec.outputs if o not in out]
        if missing:
            raise NodeCrash(nid, spec.id, RuntimeError(f"did not return outputs {missing}"))
        mode = self.graph.nodes[nid].mode
        return out if mode is None else _moded(spec, mode, kwargs, out)

    # -- a whole render -------------------------------------------------------------------
    def duration_of(self, plan: Plan, settings: RenderSettings, static: dict[str, dict],
                    warn: Callable[[str], None] | None = None,
                    fallback: float | None = None) -> float:
        """The render's length: the setting, or what remains of the patch's audio after start.
        A start past the end of the audio is refused either way; audio shorter than the asked
        duration is reported through ``warn``. With neither a setting nor audio: ``fallback``
        (the editor's preview), else an error."""
        for nid in plan.static_nodes:
            spec = self.graph.nodes[nid].spec
            for name, o in spec.outputs.items():
                audio = static[nid].get(name)
                if o.type is not AUDIO or not isinstance(audio, Audio):
                    continue
                total = audio.total
                problem = past_end(settings.start, total)
                if problem:
                    raise AfxError(problem, file=self.graph.file, node=nid, field="start")
                if settings.duration is None:
                    return audio.end - settings.start
                short = total is not None and settings.start + settings.duration > total + \
                    1.0 / settings.fps
                if short and warn is not None:
                    warn(f"node '{nid}': the audio is {total:.2f} s long, so the last "
                         f"{settings.start + settings.duration - total:.2f} s of the "
                         f"{settings.duration:g} s video are silent")
                return settings.duration
        if settings.duration is not None:
            return settings.duration
        if fallback is not None:
            return fallback
        raise PatchError([Issue(NO_LENGTH, self.graph.file, field="settings.duration")])

    # -- the one loop over frames ---------------------------------------------------------
    def prepare(self, plan: Plan, settings: RenderSettings, *,
                on_warning: Callable[[str], None] | None = None,
                fallback_duration: float | None = None) -> "Run":
        """What every loop over frames needs first: the static values, the length and the
        frame count. Stateful nodes start afresh."""
        self._use(plan)
        static = self.evaluate_static(plan, settings)
        duration = self.duration_of(plan, settings, static, warn=on_warning,
                                    fallback=fallback_duration)
        self.reset(plan)
        return Run(plan, settings, static, duration, settings.frame_count(duration))

    def frames(self, run: "Run", start: int = 0, stop: int | None = None, *, batch: int = 1,
               should_stop: Callable[[], bool] | None = None, catch_up: int | None = None
               ) -> Iterator[tuple[np.ndarray, dict[str, dict]]]:
        """Frames ``start`` .. ``stop`` (default: to the end) of ``run``, ``batch`` at a time,
        as (frame indices, every node's values). This is the only loop over frames: render,
        the editor's preview, the gallery and the benchmarks all take their frames from here,
        so they show the same pictures.

        Stateful nodes (feedback, envelopes) only give the render's frame ``n`` after frames
        ``0 .. n-1``: asked for a frame behind where their state is, they restart from 0;
        asked for one ahead, the frames in between are computed first (not yielded). With
        ``catch_up``, a gap of more than that many frames restarts the state at ``start``
        instead (an interactive seek: quick, but not the render's picture)."""
        stop = run.total if stop is None else min(stop, run.total)
        if run.stateful:
            if start < run.next:
                self.reset(run.plan)
                run.next = 0
            if catch_up is not None and start - run.next > catch_up:
                self.reset(run.plan)
                run.next = start
            if run.next < start:
                for _ in self.frames(run, run.next, start, batch=max(batch, 8),
                                     should_stop=should_stop):
                    pass
        for first in range(start, stop, batch):
            if should_stop and should_stop():
                raise KeyboardInterrupt
            idx = np.arange(first, min(stop, first + batch))
            with torch.inference_mode():
                values = self.evaluate_frames(run.plan, run.settings, idx, run.static, run.total)
            run.next = int(idx[-1]) + 1
            yield idx, values

    def auto_batch(self, settings: RenderSettings) -> int:
        return int(max(1, min(64, devices.pixel_budget(self.device) // (settings.width * settings.height))))

    def render(self, plan: Plan, settings: RenderSettings, *, batch: int | None = None,
               on_progress: Callable[[Progress], None] | None = None,
               should_stop: Callable[[], bool] | None = None,
               on_warning: Callable[[str], None] | None = None) -> RenderStats:
        self._use(plan)
        t0 = time.perf_counter()
        self.node_seconds.clear()
        asked = batch
        batch = memory.fit_batch(self.graph, plan, settings, self.device,
                                 batch or self.auto_batch(settings))
        if asked and batch < asked and on_warning is not None:
            on_warning(f"--batch {asked} does not fit the free memory at {settings.width}x"
                       f"{settings.height}; rendering {batch} frames a batch")
        run = self.prepare(plan, settings, on_warning=on_warning)
        total = run.total
        ctx = self.context(settings, total)
        sinks = [(nid, self.instance(nid)) for nid in plan.sinks]
        opened = []
        try:
            for nid, sink in sinks:
                self._call_hook(nid, sink.begin, ctx.for_node(nid))
                opened.append((nid, sink))
            for idx, _ in self.frames(run, batch=batch, should_stop=should_stop):
                if on_progress:     # (the sinks took their frames inside evaluate_frames)
                    on_progress(Progress(int(idx[-1]) + 1, total, time.perf_counter() - t0))
            stats = {}
            for nid, sink in opened:
                stats[nid] = self._call_hook(nid, sink.finish, ctx.for_node(nid)) or {}
        except BaseException:
            for nid, sink in opened:
                try:
                    sink.abort(ctx.for_node(nid))
                except Exception:
                    pass
            raise
        return RenderStats(total, run.duration, time.perf_counter() - t0, batch,
                           dict(self.node_seconds), stats)

    def _call_hook(self, nid: str, fn, ctx):
        try:
            return fn(ctx)
        except NodeInputError as e:
            raise NodeFailure(e.issue.message, file=self.graph.file, node=nid,
                              field=e.issue.field) from None
        except AfxError:
            raise
        except Exception as e:
            raise NodeCrash(nid, self.graph.nodes[nid].spec.id, e) from e


def _plain(v: torch.Tensor, p) -> float | int:
    """A linked value for a node that takes plain values: its first frame, clamped."""
    x = float(v.reshape(-1)[0])
    if p.min is not None:
        x = max(x, p.min)
    if p.max is not None:
        x = min(x, p.max)
    return int(round(x)) if p.type is int else x


def call_node(node, ctx: FrameContext, *args, **kwargs) -> dict:
    """``node.process(ctx, *args, **kwargs)`` with the arguments in the form the executor
    gives them (see Executor._gather). To run one node outside a plan: a test, a script."""
    spec = type(node).spec
    sig = inspect.signature(node.process)
    bound = sig.bind(ctx, *args, **kwargs)

    def form(name, v):
        if not (spec.frame_form or spec.rate == "frame" or not ctx.static):
            return v
        p = spec.params.get(name)
        if p is not None and p.linkable:
            return NORMALISE["scalar"](v, ctx)
        if name in spec.inputs and v is not None and spec.inputs[name].type.id in NORMALISE:
            return NORMALISE[spec.inputs[name].type.id](v, ctx)
        return v

    for name, v in bound.arguments.items():
        if sig.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            bound.arguments[name] = {k: form(k, x) for k, x in v.items()}
        else:
            bound.arguments[name] = form(name, v)
    return node.process(*bound.args, **bound.kwargs)


def _out_of_memory(e: BaseException) -> bool:
    """An allocation the machine refused (host or GPU), as opposed to a bug."""
    if isinstance(e, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and ("can't allocate memory" in text
                                            or "out of memory" in text.lower())


def _moded(spec, mode: str, kwargs: dict, out: dict) -> dict:
    """A bypassed node passes, for each output, its first linked input of the same type
    through (an effect taken out of a chain); an output with no such input, and every output
    of a muted node, is that value's zero (a black image, a silent track, a still value)."""
    done = {}
    for port, decl in spec.outputs.items():
        src = None
        if mode == "bypass":
            src = next((p for p, i in spec.inputs.items()
                        if i.type is decl.type and kwargs.get(p) is not None), None)
        done[port] = kwargs[src] if src is not None else _zero(out[port])
    return done


def _zero(value):
    """The 'nothing' of a value of any port type, in its shape."""
    if isinstance(value, torch.Tensor):
        return torch.zeros_like(value)
    if isinstance(value, np.ndarray):
        return np.zeros_like(value)
    if isinstance(value, Timeline):
        return Timeline(np.zeros_like(value.values), value.fps, value.names, value.start)
    if isinstance(value, Audio):
        return Audio(np.zeros_like(value.samples), value.sr, value.source, value.layout,
                     offset=value.offset, to_end=value.to_end)
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return type(value)(0)
    return value
