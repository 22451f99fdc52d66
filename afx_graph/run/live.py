"""``afx live``: a patch played as the sound arrives, frame by frame, on the audio's clock.

:class:`LiveShow` owns the render side and no window (the show window, ui/show.py, and the
tests drive it): the patch's audio sources give live audio (``settings.live``: a file or the
synth played in real time, or an ``audio.input`` capturing a device; ``input=`` puts a capture
in place of every file or synth), the feature nodes analyse it causally, and
:meth:`LiveShow.next_frame` renders the frame whose time has come on the audio clock.

Latency, per frame: from the audio block that brought the frame's moment entering the input
callback (``perf_counter`` stamped there) to the picture handed to the display. Kept for the
last few hundred frames: :meth:`LiveShow.latency` gives p50/p95."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from afx_graph.engine.executor import Executor
from afx_graph.engine.plan import Plan
from afx_graph.errors import AfxError
from afx_graph.graph import Graph
from afx_graph.media.capture import close_all
from afx_graph.media.stream import LiveAudio, input_level, input_warnings
from afx_graph.media.video import to_uint8
from afx_graph.run.render import RunOptions, apply_overrides
from afx_graph.settings import MAX_DURATION
from afx_graph.types import IMAGE

SOURCES = ("audio.file", "audio.synth")        # what --input replaces
KEEP_LATENCIES = 600


@dataclass
class Frame:
    index: int                  # frame number on the show's clock (time = index / fps)
    image: np.ndarray           # (H, W, 3) uint8
    latency: float | None       # seconds, audio block in -> picture out


def with_input(graph: Graph, device: str | None) -> Graph:
    """``graph`` with every file or synth source replaced by a live input from ``device``
    (the same node id, so its links stay)."""
    patch = graph.to_patch()
    sources = [nid for nid, e in patch.nodes.items() if e.type in SOURCES + ("audio.input",)]
    if not sources:
        raise AfxError("the patch has no audio source to take the live input "
                       "(add an audio.input node)", file=graph.file, field="--input")
    for nid in sources:
        e = patch.nodes[nid]
        e.type, e.params, e.version = "audio.input", {"device": device or ""}, 1
    out = Graph.from_patch(patch, graph.registry)
    out.user_inputs, out.user_outputs = set(graph.user_inputs), set(graph.user_outputs)
    return out


def _picture_source(graph: Graph, plan: Plan) -> tuple[str, str]:
    """The picture the patch's (first) output shows."""
    for sink in plan.sinks:
        spec = graph.nodes[sink].spec
        for port, link in graph.inputs_of(sink).items():
            if port in spec.inputs and spec.inputs[port].type is IMAGE:
                return link.src, link.src_port
    raise AfxError("the patch has no picture to show (link an image into an output node)",
                   file=graph.file)


class LiveShow:
    def __init__(self, graph: Graph, *, input: str | None = None, size=None, fps=None,
                 device: str = "auto", precision: str = "auto", sound: bool = True,
                 offset: float = 0.0):
        if input is not None:
            graph = with_input(graph, input)
        graph = apply_overrides(graph, RunOptions(size=size, fps=fps))
        graph.check()
        self.graph = graph
        self.picture = _picture_source(graph, Plan(graph))
        self.plan = Plan(graph, targets=[self.picture[0]])    # the show writes no files
        settings = replace(graph.render_settings(), live="play" if sound else "silent",
                           analysis="causal", duration=MAX_DURATION)
        self.settings = settings
        # seconds the pictures wait for the sound (a room whose speakers are late); a negative
        # offset cannot show sound before it comes: the beats are flagged that much early
        self.offset = max(0.0, float(offset))
        self.ex = Executor(graph, device=device, precision=precision)
        try:
            self.run = self.ex.prepare(self.plan, settings)
        except BaseException:
            close_all()             # an input opened before a later node failed
            raise
        self.sources = [v for outs in self.run.static.values() for v in outs.values()
                        if isinstance(v, LiveAudio)]
        if not self.sources:
            self.close()
            raise AfxError("the patch has no audio source to play live", file=graph.file)
        for tracker in self.trackers() if offset < 0 else ():
            tracker.lead = -float(offset) * tracker.rate
        self.last = -1
        self.latencies: list[float] = []
        self.shown = 0
        self.started = time.perf_counter()

    # -- what the overlay shows ------------------------------------------------------------------
    @property
    def clock(self) -> float:
        """Seconds of audio received (the first source's)."""
        return self.sources[0].seconds

    @property
    def level(self) -> float:
        return input_level(self.sources)

    @property
    def warnings(self) -> list[str]:
        return input_warnings(self.sources)

    @property
    def overflows(self) -> int:
        return sum(getattr(s.device, "overflows", 0) for s in self.sources)

    @property
    def ended(self) -> bool:
        return all(getattr(s.device, "ended", False) for s in self.sources)

    def tempo(self) -> float:
        for a in self.trackers():
            if a.bpm:
                return a.bpm
        return 0.0

    def latency(self) -> tuple[float | None, float | None]:
        if not self.latencies:
            return None, None
        p50, p95 = np.percentile(self.latencies, [50, 95])
        return float(p50), float(p95)

    # -- playing ---------------------------------------------------------------------------------
    def due(self) -> int:
        """The frame whose time has come on the audio clock."""
        for s in self.sources:
            s.pull()
        return int(math.floor(max(0.0, self.clock - self.offset) * self.settings.fps + 1e-9))

    def next_frame(self, wait: float = 0.5) -> Frame | None:
        """The next frame to show once its time has come (waiting up to ``wait`` s for it),
        or None. A frame that is already late is skipped for the newest due."""
        deadline = time.perf_counter() + wait
        while True:
            i = self.due()
            if i > self.last:
                break
            if time.perf_counter() >= deadline:
                return None
            time.sleep(0.002)
        arrived = self._arrival(i)
        values = None
        # stateful nodes (feedback, envelopes) step once per frame shown: frames skipped
        # because the machine was late are not computed, which would only make it later
        self.run.next = max(self.run.next, i)
        for _, values in self.ex.frames(self.run, i, i + 1):
            pass
        nid, port = self.picture
        image = to_uint8(values[nid][port])[0]
        self.last = i
        self.shown += 1
        latency = None if arrived is None else time.perf_counter() - arrived
        if latency is not None:
            self.latencies.append(latency)
            del self.latencies[:-KEEP_LATENCIES]
        return Frame(i, image, latency)

    def tap(self) -> None:
        """A tap-tempo key: every beat tracker takes the taps' tempo at once."""
        for a in self.trackers():
            a.tap()

    def close(self) -> None:
        for outs in self.run.static.values() if hasattr(self, "run") else ():
            for v in outs.values():
                dev = getattr(v, "device", None)
                if isinstance(v, LiveAudio) and dev is not None:
                    dev.close()
        close_all()                 # and any an unfinished start opened

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- inside ----------------------------------------------------------------------------------
    def _arrival(self, frame: int) -> float | None:
        """When the audio block holding the frame's moment entered the callback."""
        src = self.sources[0]
        arrival = getattr(src.device, "arrival", None)
        want = int(math.ceil((frame / self.settings.fps + self.offset) * src.sr))
        return None if arrival is None else arrival(want)

    def trackers(self):
        """The beat trackers of the patch's onset nodes (tap tempo, lead)."""
        seen = []
        for outs in self.run.static.values():
            for v in outs.values():
                feed = getattr(v, "feed", None)
                beats = getattr(getattr(feed, "analyser", None), "beats", None)
                if beats is not None and beats not in seen:
                    seen.append(beats)
        return seen
