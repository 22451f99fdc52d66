"""One render split in time: chunks rendered apart (on a Ray cluster: ``afx run --ray``), then
joined without re-encoding, the audio muxed once.

Frames ``[a, b)`` of a render are the render's own frames only if every stateful node
(feedback trails, envelopes, the pattern selector's hysteresis, a walk's step count) is in the
state it would have had at frame ``a``. Each stateful node class says how long its memory is
(``settle(params, fps, linked) -> seconds | None``):

- a number: after that long, its state no longer depends on where it started (a one-pole
  envelope after ~9 time constants, feedback trails once they have faded below half an 8-bit
  level): the chunk starts that many frames early (the *pre-roll*) and drops them;
- None: it remembers everything (a walk counts every beat since the start, a hysteresis state
  holds its side): it and what feeds it run from frame 0 up to the pre-roll, and only they
  (a few scalars a frame: the pictures are not computed for those frames).

With every node deterministic, a chunk's frames equal the single render's except where a
faded state differs by less than half a level before rounding (measured in the tests).

Each chunk is encoded alone, video only, with the output node's encoder settings; a separate
encode starts with a key frame and references nothing before it (a closed GOP by
construction). :func:`join` copies the chunks' packets into one MP4 (no re-encoding), adds
the audio once, encoded in one piece, and the patch the render carries.
"""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from afx_graph.sharing import embedded
from afx_graph.errors import AfxError, Issue, PatchError
from afx_graph.engine.executor import Executor
from afx_graph.graph import Graph
from afx_graph.engine.plan import Plan
from afx_graph.types import IMAGE

MIN_CHUNK_SECONDS = 2.0          # shorter chunks cost more in pre-roll and start-up than they win


# -- what a render needs -----------------------------------------------------------------------
class Renderable:
    """A graph with the run's overrides, its video output, the image and audio going into it,
    its settings and the frame count: what chunks and the driver share."""

    def __init__(self, graph: Graph, opts, *, device: str | None = None, applied: bool = False):
        from afx_graph.run.render import apply_overrides
        if not applied:
            graph = apply_overrides(graph, opts)
            graph.check()
        self.graph, self.opts = graph, opts
        plan = Plan(graph)
        self.flat = plan.graph
        videos = [n for n in plan.sinks if self.flat.nodes[n].spec.id == "output.video"]
        if len(videos) != 1 or len(plan.sinks) != 1:
            raise AfxError("a render split in time needs exactly one output, an output.video "
                           f"(this patch has {len(plan.sinks)} outputs)", file=graph.file)
        self.sink = videos[0]
        links = self.flat.inputs_of(self.sink)
        if "image" not in links:
            raise PatchError([Issue("required input is not connected", graph.file, self.sink,
                                    "inputs.image")])
        self.image = (links["image"].src, links["image"].src_port)
        self.audio = (links["audio"].src, links["audio"].src_port) if "audio" in links else None
        self.params = self.flat.resolved_params(self.sink, opts.out_dir or Path.cwd())
        self.ex = Executor(self.flat, device=device or opts.device, precision=opts.precision)
        self.settings = self.flat.render_settings()
        # the picture and the sound: the render's own nodes less the output, so its length
        # comes from the audio as afx run's does (a song that only goes to the video's sound
        # still sets it); the sound's static nodes cost nothing per frame
        sources = [self.image[0]] + ([self.audio[0]] if self.audio else [])
        self.plan = Plan(self.flat, targets=list(dict.fromkeys(sources)))
        self.run = self.ex.prepare(self.plan, self.settings)
        self.total = self.run.total

    def audio_value(self):
        if self.audio is None:
            return None
        plan = Plan(self.flat, targets=[self.audio[0]])
        return self.ex.evaluate_static(plan, self.settings)[self.audio[0]][self.audio[1]]


def memory(flat: Graph, plan: Plan, fps: float) -> tuple[int, list[str]]:
    """(frames of pre-roll the fading states need, nodes that remember everything)."""
    lead, history = 0, []
    linked_of = {nid: set(flat.inputs_of(nid)) for nid in plan.order}
    for nid in plan.order:
        spec = flat.nodes[nid].spec
        if not spec.stateful:
            continue
        settle = spec.hook("settle")
        seconds = None
        if settle is not None:
            params = {k: flat.nodes[nid].param(k) for k in spec.params}
            seconds = settle(params, fps, linked_of[nid])
        if seconds is None or not math.isfinite(seconds):
            history.append(nid)
        else:
            lead = max(lead, int(math.ceil(seconds * fps)))
    return lead, history


def fading_lead(r: "Renderable", nid: str, start: int) -> int | None:
    """Frames of pre-roll a node that fades (a ``fade(values, fps)`` method: the part of its
    state that survives each frame) needs before ``start`` when its fade is driven by links:
    the linked params are computed for the frames before ``start`` (scalars: cheap, in an
    executor of their own so no state is disturbed), and the pre-roll ends where what
    survives has fallen below half an 8-bit level. None: it cannot tell (it has no fade, or
    what survives never falls that low: it runs from frame 0)."""
    spec = r.flat.nodes[nid].spec
    fade = spec.hook("fade")
    if fade is None or start <= 0:
        return None if fade is None else 0
    step = next(s for s in r.plan.steps if s.nid == nid)
    driven = [b for b in step.bindings if b.param is not None]
    if not driven or any(r.flat.nodes[b.src].spec.outputs[b.src_port].type is IMAGE
                         for b in driven):
        return None
    params = r.flat.resolved_params(nid, None)
    series = {name: np.full(start, float(params[name])) for name, p in spec.params.items()
              if p.is_numeric}
    probe = Executor(r.flat, device="cpu")
    plan = Plan(r.flat, targets=sorted({b.src for b in driven}))
    with torch.inference_mode():
        for first in range(0, start, 256):
            idx = np.arange(first, min(start, first + 256))
            values = probe.evaluate_frames(plan, r.settings, idx, r.run.static, r.run.total)
            ctx = probe.context(r.settings, r.run.total).with_frames(idx)
            for b in driven:
                v = torch.nan_to_num(b.convert(values[b.src][b.src_port], ctx).double(),
                                     nan=float(b.param.default))
                if b.param.min is not None or b.param.max is not None:
                    v = v.clamp(b.param.min, b.param.max)
                series[b.port][first:first + len(idx)] = v.cpu().numpy().reshape(-1)[:len(idx)]
    survive = np.asarray(fade(series, r.settings.fps), dtype=np.float64)
    logs = np.log(np.maximum(survive[::-1], 1e-300))      # from the frame before start back
    reach = np.cumsum(logs)
    below = np.flatnonzero(reach < math.log(0.5 / 255.0))
    return int(below[0]) + 1 if len(below) else None


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    from afx_graph.media.video import to_uint8
    return to_uint8(image)


def render_frames(r: Renderable, start: int, stop: int, *, preroll: bool = True,
                  batch: int = 8):
    """The render's frames ``start .. stop`` as uint8 (n, H, W, 3) batches, stateful nodes
    warmed up first (``preroll=False``: they start fresh at ``start``, as a naive split would)."""
    stop = min(stop, r.total)
    run, ex = r.run, r.ex
    ex.reset(r.plan)
    if not preroll or not run.stateful:
        begin = start
    else:
        lead, history = memory(r.flat, r.plan, r.settings.fps)
        for nid in list(history):        # a fade driven per frame: how long, from the values
            frames_back = fading_lead(r, nid, start)
            if frames_back is not None:
                history.remove(nid)
                lead = max(lead, frames_back)
        begin = max(0, start - lead)
        if history and begin > 0:                   # what remembers everything, from frame 0
            hplan = Plan(r.flat, targets=history)
            used = {b.src for step in hplan.steps for b in step.bindings}
            quiet = frozenset(h for h in history if h not in used)   # no picture wanted
            with torch.inference_mode():
                for first in range(0, begin, 64):
                    idx = np.arange(first, min(begin, first + 64))
                    ex.evaluate_frames(hplan, r.settings, idx, run.static, run.total,
                                       advance=quiet)
    run.next = begin
    node, port = r.image
    for idx, values in ex.frames(run, begin, stop, batch=batch):
        keep = idx >= start
        if keep.any():
            img = _to_uint8(values[node][port])
            if img.shape[0] != len(idx):          # a still picture: the same every frame
                img = np.repeat(img[:1], len(idx), axis=0)
            yield img[keep]


# -- chunks ------------------------------------------------------------------------------------
def render_segment(graph: Graph, opts, span: tuple[int, int], out: Path, *,
                   preroll: bool = True) -> int:
    """Frames ``span`` of the render, encoded alone (video only) into ``out``."""
    r = Renderable(graph, opts)
    start, stop = span
    encoder = SegmentEncoder(out, r)
    try:
        for batch in render_frames(r, start, stop, preroll=preroll):
            encoder.put(batch)
    finally:
        encoder.close()
    return encoder.written


class SegmentEncoder:
    """The output node's encoder settings, for one chunk (no audio, no patch tag)."""

    def __init__(self, path: Path, r: Renderable):
        from afx_graph.media.video import pick_codec
        p = r.params
        w, h = r.settings.width, r.settings.height
        self.pad = (h % 2, w % 2)
        self.rate = Fraction(r.settings.fps).limit_denominator(1001)
        self.container = av.open(str(path), "w", format="mp4")
        name = pick_codec(p.get("codec", "auto"), r.ex.device)
        try:
            self.stream = self.container.add_stream(name, rate=self.rate)
        except (av.error.FFmpegError, ValueError):
            name, self.stream = "libx264", self.container.add_stream("libx264", rate=self.rate)
        self.stream.width, self.stream.height = w + self.pad[1], h + self.pad[0]
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.time_base = 1 / self.rate
        crf, preset = int(p.get("crf", 18)), str(p.get("preset", "medium"))
        self.stream.options = ({"crf": str(crf), "preset": preset} if name == "libx264"
                               else {"cq": str(crf), "preset": "p5"})
        self.written = 0

    def put(self, frames: np.ndarray) -> None:
        if any(self.pad):
            frames = np.pad(frames, ((0, 0), (0, self.pad[0]), (0, self.pad[1]), (0, 0)),
                            mode="edge")
        for f in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            vf.pts = self.written
            vf.time_base = 1 / self.rate
            self.written += 1
            for packet in self.stream.encode(vf):
                self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()


def spans(total: int, fps: float, workers: int, *, chunk_seconds: float | None = None
          ) -> list[tuple[int, int]]:
    """Frame ranges covering ``0 .. total``: about two per worker (a slow one does not hold
    up the end), none shorter than MIN_CHUNK_SECONDS unless ``chunk_seconds`` says."""
    if chunk_seconds is not None:
        size = max(1, int(round(chunk_seconds * fps)))
    else:
        size = max(int(math.ceil(total / max(1, 2 * workers))), int(MIN_CHUNK_SECONDS * fps))
    return [(a, min(total, a + size)) for a in range(0, total, size)]


# -- joining -----------------------------------------------------------------------------------
def join(segments: list[Path], out: Path, r: Renderable, *, patch_text: str | None) -> int:
    """The chunks' packets one after another into ``out`` (written to a partial file; the
    caller commits it), the audio encoded once over the whole length. Returns the frames."""
    from afx_graph.media.video import AudioTrack
    container = av.open(str(out), "w", format="mp4",
                        options={"movflags": "+faststart+use_metadata_tags"})
    try:
        if patch_text is not None:
            container.metadata[embedded.KEY] = patch_text
        vstream = None
        audio_value = r.audio_value()
        audio = None
        offset = 0
        rate = Fraction(r.settings.fps).limit_denominator(1001)
        duration = r.total / r.settings.fps
        for i, seg in enumerate(segments):
            with av.open(str(seg)) as src:
                s = src.streams.video[0]
                if vstream is None:
                    vstream = container.add_stream_from_template(s)
                    if audio_value is not None:
                        audio = AudioTrack(container, audio_value, r.settings.start, duration)
                frames_here = 0
                shift = None
                for packet in src.demux(s):
                    if packet.dts is None:
                        continue
                    if shift is None:
                        shift = int(round(offset / rate / s.time_base))
                    packet.pts = packet.pts + shift if packet.pts is not None else None
                    packet.dts = packet.dts + shift
                    packet.stream = vstream
                    container.mux(packet)
                    frames_here += 1
                offset += frames_here
            if audio is not None:
                audio.encode_until(offset / float(rate))
        if audio is not None:
            audio.encode_until(None)
    finally:
        container.close()
    return offset


# -- one picture -------------------------------------------------------------------------------
def still(graph: Graph, opts, seconds: float, out: Path, *, preroll: bool = True) -> Path:
    """The render's frame at ``seconds`` as a PNG carrying its patch (a sweep's cell)."""
    from afx_graph.media.png import text_chunk, write_png
    r = Renderable(graph, opts)
    frame = min(max(0, int(round(seconds * r.settings.fps))), max(0, r.total - 1))
    [img] = list(render_frames(r, frame, frame + 1, preroll=preroll, batch=1))
    text = embedded.patch_text(embedded.patch_of(r.graph), r.settings, r.total)
    write_png(out, img[0], extra=text_chunk(embedded.KEY, text))
    return out
