"""The live preview: a background thread that renders the patch small, never blocking the UI.

* It follows the editor's graph through snapshots: :meth:`PreviewWorker.follow` (called on
  the UI thread) takes ``graph.copy()`` whenever the graph's revision changes and hands it
  to the thread, which calls ``executor.set_graph(copy)``. Static results stay cached by
  signature, so an edit recomputes only the edited node and what depends on it.
* Target: the selected node's own output (an IMAGE -> the picture; a TIMELINE -> its
  feature rows, drawn as a plot with a play head; a SCALAR / VECTOR -> the value now;
  AUDIO -> the waveform), else the image feeding the patch's output node. Sink nodes are
  never run here: the preview writes no files.
* Size: ``size`` is the long side of the preview (128 / 256 / 384 / 512, default 256) and
  the short side follows the patch's aspect ratio, so the preview frames the picture the
  way the render will (256 -> 256x144 for a 640x360 patch); ``aspect="square"`` renders
  ``size`` x ``size`` instead.
* Clock: play / pause / seek / loop (:class:`~afx_graph.ui.clock.PreviewClock`), following
  the audio being played when ``sounddevice`` and an output device exist, else the wall
  clock. Frames are rendered for the clock's current time, so a slow machine skips frames
  rather than falling behind the music.
* A failing node does not stop the worker: its message is reported in :attr:`errors` as
  ``{node_id: message}`` and the worker waits for the next edit (or target / size change)
  to try again.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from afx_graph import (AUDIO, COORDS, IMAGE, SCALAR, VECTOR, AfxError, Audio, Executor,
                       Graph, NodeCrash, Plan, Timeline)
from afx_graph.subpatches import definitions as subpatch
from afx_graph.subpatches import flatten
from afx_graph.engine.executor import Run
from afx_graph.media.capture import close_all
from afx_graph.media.stream import LiveAudio, input_level, input_warnings
from afx_graph.run.live import with_input
from afx_graph.run.render import audio_sources
from afx_graph.settings import MAX_DURATION

from afx_graph.ui.clock import AudioOut, PreviewClock, find_sound_output

SIZES = (128, 256, 384, 512)
ASPECTS = ("patch", "square")
DEFAULT_SIZE = 256
FALLBACK_DURATION = 10.0       # seconds, for a patch with neither a duration nor audio
CATCH_UP_SECONDS = 3.0         # a seek further than this restarts stateful nodes at the seek
ENVELOPE_POINTS = 2000


def preview_size(patch_size: tuple[int, int], size: int, aspect: str = "patch") -> tuple[int, int]:
    """(width, height) of the preview: ``size`` on the long side, the patch's aspect ratio
    (or a square)."""
    if aspect == "square":
        return size, size
    w, h = patch_size
    if w >= h:
        return size, max(8, int(round(size * h / w)))
    return max(8, int(round(size * w / h))), size


@dataclass
class PreviewFrame:
    """One published result. ``series`` (the whole static curve: a timeline's rows, an audio
    envelope) is the same object until the data changes; ``data_serial`` says when."""
    serial: int
    node: str
    port: str
    kind: str                     # image | timeline | scalar | vector | audio | text
    time: float                   # seconds into the patch
    frame: int
    duration: float
    fps: float                    # the patch's frame rate
    image: np.ndarray | None = None          # (H, W, 4) float32 RGBA
    series: np.ndarray | None = None         # (T, D) float32
    series_rate: float = 0.0                 # rows per second of `series`
    names: tuple[str, ...] = ()
    value: np.ndarray | None = None          # the values now, (D,)
    data_serial: int = 0
    text: str = ""


@dataclass
class _Request:
    graph: Graph | None = None
    target: tuple[str | None, str | None] = (None, None)
    size: int = DEFAULT_SIZE
    aspect: str = "patch"
    live: str | None = None        # a device: the patch's audio comes from that live input
    serial: int = 0
    document: int = 0              # another patch (New, Open): nothing of the last one shows


class PreviewWorker:
    def __init__(self, *, size: int = DEFAULT_SIZE, aspect: str = "patch", device: str = "auto",
                 audio: bool = True, clock: PreviewClock | None = None):
        if size < 8:
            raise ValueError("preview size must be at least 8 pixels")
        if aspect not in ASPECTS:
            raise ValueError(f"aspect must be one of {ASPECTS}")
        self.device = device
        self.clock = clock or PreviewClock()
        self._sd, self.sound_note = find_sound_output() if audio else (None, "sound off")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._req = _Request(size=size, aspect=aspect)
        self._seen: tuple | None = None          # (graph object id, revision, path) copied
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # published state (read by the UI thread)
        self._latest: PreviewFrame | None = None
        self.errors: dict[str, str] = {}
        self.errors_serial = 0
        self.status = "waiting for a patch"
        self.state = "idle"          # idle | computing | ok | failed | nothing (to preview)
        self.duration = FALLBACK_DURATION
        self.fps = 0.0                           # preview frames rendered per second
        self.frames_rendered = 0
        self.cook_ms: dict[str, float] = {}      # per node id: ms of one frame (see _cooked)
        self.executor: Executor | None = None
        self.exception: BaseException | None = None   # an internal fault of the worker itself
        self._live_sources: list = []            # the LiveAudio values of a live preview

    # -- the UI side -------------------------------------------------------------------------
    def start(self) -> "PreviewWorker":
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="afx-preview", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.clock.set_audio(None)
        self._close_live()

    def _close_live(self) -> None:
        sources, self._live_sources = self._live_sources, []
        for s in sources:
            if getattr(s, "device", None) is not None:
                s.device.close()
        close_all()         # any input opened by a preparation that failed after it

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def follow(self, graph: Graph) -> bool:
        """Hand the worker a snapshot of ``graph`` if it changed since the last one (call
        from the thread that edits the graph). Returns whether a new snapshot was taken."""
        key = (id(graph), graph.revision, str(graph.path))
        if key == self._seen:
            return False
        self._seen = key
        snap = graph.copy()
        snap.path = graph.path
        with self._lock:
            self._req.graph = snap
            self._req.serial += 1
        self._wake.set()
        return True

    _play_on_first = False

    def new_document(self, graph: Graph, play: bool = False) -> None:
        """Another patch, ``graph``, is open (File > New, Open): the last patch's picture,
        errors and length are dropped at once, and the clock goes back to the start;
        ``play``: it plays from its first frame (unless paused before that)."""
        self.clock.pause()
        self._play_on_first = play
        self._seen = (id(graph), graph.revision, str(graph.path))
        snap = graph.copy()
        snap.path = graph.path
        with self._lock:
            self._req.graph = snap
            self._req.document += 1
            self._req.serial += 1
            self._req.target = (None, None)
            self._latest = None
        self.duration = 0.0
        self._set_errors({})
        self.clock.seek(0.0)
        self._wake.set()

    def set_target(self, node: str | None, port: str | None = None) -> None:
        with self._lock:
            if self._req.target != (node, port):
                self._req.target = (node, port)
                self._req.serial += 1
        self._wake.set()

    @property
    def target(self) -> tuple[str | None, str | None]:
        return self._req.target

    def set_size(self, size: int, aspect: str | None = None) -> None:
        if size < 8:
            raise ValueError("preview size must be at least 8 pixels")
        if aspect is not None and aspect not in ASPECTS:
            raise ValueError(f"aspect must be one of {ASPECTS}")
        with self._lock:
            self._req.size = int(size)
            if aspect is not None:
                self._req.aspect = aspect
            self._req.serial += 1
        self._wake.set()

    @property
    def size(self) -> int:
        return self._req.size

    def set_live_input(self, device: str | None) -> None:
        """Take the patch's audio from a live input (``device``: an index or part of a name,
        "default"), analysed as it arrives, or (None) from its file again. The patch itself is
        not changed."""
        with self._lock:
            if self._req.live != device:
                self._req.live = device
                self._req.serial += 1
        self._wake.set()

    @property
    def live_input(self) -> str | None:
        return self._req.live

    @property
    def live_level(self) -> float:
        """The live input's level (0 when the preview plays the file)."""
        return input_level(self._live_sources)

    @property
    def live_warnings(self) -> list[str]:
        return input_warnings(self._live_sources)

    @property
    def aspect(self) -> str:
        return self._req.aspect

    def play(self) -> None:
        self.clock.play()
        self._wake.set()

    def pause(self) -> None:
        self._play_on_first = False           # a pause asked for wins over playing on open
        self.clock.pause()
        self._wake.set()

    def seek(self, t: float) -> None:
        self.clock.seek(t)
        self._wake.set()

    def set_loop(self, loop: bool) -> None:
        self.clock.loop = bool(loop)
        self._wake.set()

    def latest(self) -> PreviewFrame | None:
        return self._latest

    def wait_for(self, predicate, timeout: float = 30.0) -> PreviewFrame | None:
        """Block until ``predicate(latest frame)`` holds (tests and measurements)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            f = self._latest
            if f is not None and predicate(f):
                return f
            if self.exception is not None:
                raise self.exception
            time.sleep(0.005)
        return None

    # -- the worker thread -------------------------------------------------------------------
    def _run(self) -> None:
        try:
            import torch
            with torch.inference_mode():
                self._loop()
        except BaseException as e:     # never silently: the UI shows it
            self.exception = e
            self.status = f"preview stopped: {type(e).__name__}: {e}"
            self.state = "failed"

    def _loop(self) -> None:
        st = _State()
        rendered: deque[float] = deque(maxlen=120)
        while not self._stop.is_set():
            with self._lock:
                req = self._req
                changed = req.serial != st.serial
                if changed:
                    st.serial = req.serial
                    st.graph, st.target, st.size, st.aspect = req.graph, req.target, req.size, req.aspect
                    st.live = req.live
                    if req.document != st.document:
                        st.document = req.document
                        self._latest = None       # never the last patch's picture
            if changed:
                st.plan = None
                st.failed = False
            if st.graph is None:
                self._idle(0.05)
                continue
            if st.failed:
                self._idle(0.1)
                continue
            if st.plan is None:
                if not self._prepare(st):
                    st.failed = True
                    continue
            if self._live_sources:                # live: the frame of the audio's clock
                for src in self._live_sources:
                    src.pull()
                t = self._live_sources[0].seconds
                frame = int(t * st.settings.fps + 1e-6)
                st.run.next = max(st.run.next, frame)    # stateful nodes step per frame shown
            else:
                t = self.clock.now(st.duration)
                frame = min(int(t * st.settings.fps + 1e-6), st.total - 1)
            if frame == st.frame and not st.dirty:
                self._idle(0.25 / st.settings.fps if self.clock.playing else 0.05)
                continue
            try:
                self._render(st, frame, t)
            except (AfxError, NodeCrash) as e:
                self._fail(st, e)
                continue
            if self._play_on_first:
                self._play_on_first = False
                self.clock.play()
            now = time.perf_counter()
            rendered.append(now)
            while rendered and now - rendered[0] > 1.0:
                rendered.popleft()
            self.fps = (len(rendered) - 1) / (rendered[-1] - rendered[0]) if len(rendered) > 1 else 0.0
            self.frames_rendered += 1

    COOK_SMOOTHING = 0.25      # each new frame's share of the moving average

    def _cooked(self, before: dict, calls: dict) -> None:
        """Per node: milliseconds of one frame (a moving average) from the executor's own
        clock. On a GPU a node's time is the time to queue its work, not to finish it."""
        ex = self.executor
        cook = dict(self.cook_ms)
        for nid, seconds in ex.node_seconds.items():
            n = ex.calls[nid] - calls.get(nid, 0)
            if n <= 0:
                continue
            ms = (seconds - before.get(nid, 0.0)) * 1000.0 / n
            old = cook.get(nid)
            cook[nid] = ms if old is None else old + self.COOK_SMOOTHING * (ms - old)
        self.cook_ms = cook                       # replaced whole: the UI thread reads it

    def _idle(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _set_errors(self, errors: dict[str, str]) -> None:
        if errors != self.errors:
            self.errors = errors
            self.errors_serial += 1

    def _fail(self, st: "_State", e: BaseException) -> None:
        st.failed = True
        self.state = "failed"
        node = getattr(e, "node", None) or getattr(getattr(e, "issue", None), "node", None)
        msg = _message(e)
        if node:
            errs = dict(st.side_errors)
            errs[node] = msg
            self._set_errors(errs)
            self.status = f"{node}: {msg}"
        else:
            self._set_errors(dict(st.side_errors))
            self.status = msg

    def _prepare(self, st: "_State") -> bool:
        """Plan, settings, static values and duration for the current graph and target."""
        self._close_live()
        g = st.graph
        if st.live is not None:                   # the patch's audio from a live input
            try:
                st.graph = g = with_input(g, st.live)
            except AfxError as e:
                self._fail(st, e)
                return False
        if self.executor is None:
            self.executor = Executor(g, device=self.device)
        else:
            self.executor.set_graph(g)
        st.side_errors = {}
        if subpatch.has_subpatches(g):      # previewed as the nodes the subpatches hold
            try:
                st.graph, st.target = flat_with_target(g, *st.target)
            except AfxError as e:
                self._fail(st, e)
                return False
            g = st.graph
            self.executor.set_graph(g)
        target = resolve_target(g, *st.target)
        if isinstance(target, str):
            self._set_errors({})
            self.status = target
            self.state = "nothing"
            self._latest = None
            return False
        st.node, st.port = target
        try:
            settings = g.render_settings()
        except AfxError as e:
            self._fail(st, e)
            return False
        st.settings = settings.with_(size=preview_size(settings.size, st.size, st.aspect))
        if st.live is not None or any(n.type == "audio.input" for n in g.nodes.values()):
            st.settings = replace(st.settings, live="silent", analysis="causal",
                                  duration=MAX_DURATION)
        try:
            st.plan = Plan(g, targets=[st.node])
        except AfxError as e:            # a cycle in a patch as loaded
            st.plan = None
            self._fail(st, e)
            return False
        needed = set(st.plan.order)
        issues = [i for i in g.validate() if i.node in needed
                  or (i.node is None and (i.field or "").startswith("settings"))]
        if issues:
            errs = {}
            for i in issues:
                errs.setdefault(i.node or "", f"{i.field + ': ' if i.field else ''}{i.message}")
            self._set_errors({k: v for k, v in errs.items() if k})
            bad = issues[0]
            self.status = f"cannot preview {st.node}: " + (f"{bad.node}: " if bad.node else "") + bad.message
            self.state = "failed"
            st.plan = None
            return False
        self.status = f"computing {st.node}..."
        self.state = "computing"
        try:
            st.static = self.executor.evaluate_static(st.plan, st.settings)
        except (AfxError, NodeCrash) as e:
            st.plan = None
            self._fail(st, e)
            return False
        self._live_sources = [v for outs in st.static.values() for v in outs.values()
                              if isinstance(v, LiveAudio)]
        if self._live_sources:
            st.duration, audio = MAX_DURATION, None
            self.clock.set_audio(None)
            st.audio = None
        else:
            st.duration, audio = self._duration_and_audio(st)
        st.total = st.settings.frame_count(st.duration)
        st.run = Run(st.plan, st.settings, st.static, st.duration, st.total)
        self.duration = st.duration
        if audio is not st.audio:
            st.audio = audio
            if self._sd is not None:
                self.clock.set_audio(AudioOut(audio, self._sd, st.settings.start - audio.offset)
                                     if audio else None)
        self._set_errors(dict(st.side_errors))
        st.frame = -1
        st.dirty = True
        st.data_serial += 1
        st.series_cache = None
        self.executor.reset(st.plan)      # stateful nodes start afresh
        self.cook_ms = {}
        self.status = f"previewing {st.node}.{st.port}"
        return True

    def _duration_and_audio(self, st: "_State") -> tuple[float, Audio | None]:
        """The render's length (the setting, else the patch's audio) and the patch's audio
        (for the clock). A failing audio source is reported but does not stop a preview
        that does not need it."""
        g = st.graph
        src = patch_audio_source(g)
        audio, plan, values = None, None, {}
        if src is not None:
            try:
                plan = Plan(g, targets=[src])
                values = self.executor.evaluate_static(plan, st.settings)
                a = values.get(src, {})
                audio = next((v for v in a.values() if isinstance(v, Audio)), None)
            except (AfxError, NodeCrash) as e:
                node = getattr(e, "node", None) or getattr(getattr(e, "issue", None), "node", None)
                st.side_errors[node or src] = _message(e)
        if audio is None:            # the length from what the previewed node needs, if anything
            plan, values = st.plan, st.static
        try:         # the render's rule (Executor.duration_of), with a length for no audio
            duration = self.executor.duration_of(plan, st.settings, values,
                                                  fallback=FALLBACK_DURATION)
        except AfxError as e:
            st.side_errors[e.issue.node or src or ""] = _message(e)
            duration = st.settings.duration or FALLBACK_DURATION
        return duration, audio

    def _render(self, st: "_State", frame: int, t: float) -> None:
        """The render's own frame (Executor.frames): a stateful node (feedback) is caught up
        from where its state is, so playing or stepping shows what the render writes; after a
        jump of more than CATCH_UP_SECONDS its state starts at the jump instead."""
        values = {}
        before = dict(self.executor.node_seconds)
        calls = dict(self.executor.calls)
        for _, values in self.executor.frames(
                st.run, frame, frame + 1,
                catch_up=int(CATCH_UP_SECONDS * st.settings.fps)):
            pass
        self._cooked(before, calls)
        st.frame, st.dirty = frame, False
        value = values[st.node][st.port]
        ptype = st.graph.nodes[st.node].spec.outputs[st.port].type
        f = PreviewFrame(serial=0, node=st.node, port=st.port, kind="text", time=frame / st.settings.fps,
                         frame=frame, duration=st.duration, fps=st.settings.fps,
                         data_serial=st.data_serial)
        _describe(f, value, ptype, st, t)
        with self._lock:
            if self._req.document != st.document:
                return                    # rendered for the patch that was just replaced
            f.serial = (self._latest.serial + 1) if self._latest else 1
            self._latest = f
        self.state = "ok"
        if self.errors:
            self._set_errors(dict(st.side_errors))


@dataclass
class _State:
    serial: int = -1
    graph: Graph | None = None
    target: tuple = (None, None)
    size: int = DEFAULT_SIZE
    aspect: str = "patch"
    plan: Plan | None = None
    failed: bool = False
    node: str = ""
    port: str = ""
    settings: object = None
    static: dict = field(default_factory=dict)
    run: Run | None = None
    duration: float = FALLBACK_DURATION
    total: int = 1
    frame: int = -1
    dirty: bool = True
    audio: Audio | None = None
    live: str | None = None          # the live input the patch's audio comes from, if any
    data_serial: int = 0
    document: int = 0
    series_cache: tuple | None = None
    side_errors: dict = field(default_factory=dict)


def _message(e: BaseException) -> str:
    issue = getattr(e, "issue", None)
    if issue is not None and not isinstance(e, NodeCrash):
        return f"{issue.field}: {issue.message}" if issue.field else issue.message
    if isinstance(e, NodeCrash):
        return f"crashed: {type(e.cause).__name__}: {e.cause}"
    return str(e)


def patch_audio_source(g: Graph) -> str | None:
    """The audio the patch plays: what feeds its output's audio input, else its only (or
    first) audio source."""
    for nid, n in sorted(g.nodes.items()):
        if n.spec and n.spec.sink:
            for port, decl in n.spec.inputs.items():
                if decl.type is AUDIO:
                    link = g.link_into(nid, port)
                    if link is not None:
                        return link.src
    srcs = audio_sources(g)
    return srcs[0] if srcs else None


def flat_with_target(g: Graph, node: str | None, port: str | None):
    """A patch with subpatches flattened, and the target in it: a subpatch node's output
    is the inner node it comes from (its first image output unless told)."""
    flat = flatten.flatten(g)
    if node is not None and node in g.nodes and g.nodes[node].type == subpatch.TYPE:
        spec = g.nodes[node].spec
        if spec is not None and spec.outputs:
            if port not in spec.outputs:
                port = next((p for p, o in spec.outputs.items() if o.type is IMAGE),
                            next(iter(spec.outputs)))
            node, port = flatten.inner_source(flat, node, port)
    return flat, (node, port)


def resolve_target(g: Graph, node: str | None, port: str | None = None) -> tuple[str, str] | str:
    """(node, port) to preview, or a sentence saying why there is nothing to show."""
    if node is not None and node in g.nodes:
        n = g.nodes[node]
        if n.spec is None:
            return f"'{node}' has an unknown type"
        if n.spec.sink or not n.spec.outputs:
            for p, decl in n.spec.inputs.items():
                if decl.type is IMAGE:
                    link = g.link_into(node, p)
                    if link is not None:
                        return link.src, link.src_port
            return f"nothing is linked into {node}'s image input"
        if port in n.spec.outputs:
            return node, port
        for p, o in n.spec.outputs.items():
            if o.type is IMAGE:
                return node, p
        return node, next(iter(n.spec.outputs))
    for nid, n in sorted(g.nodes.items()):       # the image feeding the patch's output
        if n.spec and n.spec.sink:
            for p, decl in n.spec.inputs.items():
                if decl.type is IMAGE:
                    link = g.link_into(nid, p)
                    if link is not None and g.nodes[link.src].spec is not None:
                        return link.src, link.src_port
    candidates = [nid for nid, n in g.nodes.items() if n.spec and not n.spec.sink
                  and any(o.type is IMAGE for o in n.spec.outputs.values())]
    if candidates:
        from afx_graph.ui.layout import depths
        d = depths(g)
        nid = max(candidates, key=lambda c: (d.get(c, 0), c))
        return nid, next(p for p, o in g.nodes[nid].spec.outputs.items() if o.type is IMAGE)
    if not g.nodes:
        return "empty patch: add nodes from the palette"
    unknown = sorted((nid, n.type) for nid, n in g.nodes.items() if n.spec is None)
    if unknown:          # what the output's picture would come from is not a known node
        names = ", ".join(f"'{nid}' ({t})" for nid, t in unknown[:3])
        return (f"nothing to preview: unknown node type{'s' if len(unknown) > 1 else ''} "
                f"{names}; is a node pack missing?")
    return "nothing to preview: select a node, or add an image node and an output"


def _describe(f: PreviewFrame, value, ptype, st: _State, t: float) -> None:
    """Fill a frame with what the UI draws for a value of this port type."""
    import torch
    times = np.array([f.time])
    if ptype is IMAGE or (isinstance(value, torch.Tensor) and value.ndim == 4):
        img = value[0] if value.ndim == 4 else value
        f.kind, f.image = "image", _rgba(img)
    elif ptype is COORDS:
        c = value.float()
        rgb = torch.stack([c[..., 0] + 0.5, c[..., 1] + 0.5, c[..., 2]], dim=-1)
        f.kind, f.image = "image", _rgba(rgb)
    elif isinstance(value, Timeline):
        f.kind, f.names = "timeline", tuple(value.names)
        if st.series_cache is None or st.series_cache[0] is not value:
            st.series_cache = (value, value.values)
        f.series, f.series_rate = st.series_cache[1], float(value.fps)
        f.value = value.sample(times + st.settings.start)[0]
    elif isinstance(value, Audio):
        if st.series_cache is None or st.series_cache[0] is not value:
            st.series_cache = (value, envelope(value))
        f.kind, f.names = "audio", ("level",)
        f.series = st.series_cache[1]
        f.series_rate = len(f.series) / max(value.duration, 1e-6)
        f.value = None
    elif ptype in (SCALAR, VECTOR) or isinstance(value, (torch.Tensor, float, int)):
        if isinstance(value, torch.Tensor):
            v = value.detach().float().cpu().numpy()
        else:
            v = np.asarray(value, np.float32)
        if ptype is SCALAR or v.ndim == 0:
            v = v.reshape(-1)[:1]                     # this frame's value
        else:
            v = v.reshape(v.shape[0], -1)[0] if v.ndim > 1 else v.reshape(-1)
        f.kind = "scalar" if ptype is SCALAR else "vector"
        f.value = v.astype(np.float32)
        f.names = tuple(str(i) for i in range(len(v)))
    else:
        f.kind, f.text = "text", f"{type(value).__name__}: {str(value)[:200]}"


def _rgba(img) -> np.ndarray:
    """(H, W, C) tensor -> (H, W, 4) float32 in [0, 1] (what a dynamic texture takes)."""
    a = img.detach().float().clamp(0, 1).cpu().numpy()
    h, w = a.shape[:2]
    out = np.ones((h, w, 4), np.float32)
    c = a.shape[2] if a.ndim == 3 else 1
    a = a.reshape(h, w, c)
    if c >= 3:
        out[..., :3] = a[..., :3]
    else:
        out[..., :3] = a[..., :1]
    return out


def envelope(audio: Audio, points: int = ENVELOPE_POINTS) -> np.ndarray:
    """Peak level of the track in ``points`` buckets, (points, 1)."""
    mono = np.abs(audio.mono)
    n = max(1, min(points, len(mono)))
    edges = np.linspace(0, len(mono), n + 1).astype(np.int64)
    peaks = np.maximum.reduceat(mono, edges[:-1]) if len(mono) else np.zeros(n, np.float32)
    return peaks.astype(np.float32).reshape(-1, 1)


def measure(patch: str, size: int = 256, aspect: str = "square", seconds: float = 10.0,
            device: str = "auto") -> dict:
    """Preview frames per second for a patch while playing (static part excluded): what
    ``python -m afx_graph.ui.preview PATCH`` prints."""
    from afx_graph import default_registry, load_graph
    g = load_graph(patch, default_registry())
    w = PreviewWorker(size=size, aspect=aspect, device=device, audio=False).start()
    try:
        w.follow(g)
        if w.wait_for(lambda f: True, timeout=120) is None:
            raise RuntimeError(w.status)
        w.play()
        n0, t0, c0 = w.frames_rendered, time.perf_counter(), time.process_time()
        time.sleep(seconds)
        n1, t1, c1 = w.frames_rendered, time.perf_counter(), time.process_time()
        w.pause()
        f = w.latest()
        # unthrottled: step through frames one after the other as fast as they come
        start, n, t2 = f.frame + 1, 0, time.perf_counter()
        while time.perf_counter() - t2 < seconds / 2:
            target = (start + n) % max(int(f.duration * f.fps), 1)
            w.seek(target / f.fps + 1e-4)
            if w.wait_for(lambda g, t=target: g.frame == t, timeout=30) is None:
                break
            n += 1
        max_fps = n / (time.perf_counter() - t2)
    finally:
        w.stop()
    shape = f.image.shape[1::-1] if f is not None and f.image is not None else None
    return {"patch": patch, "size": shape, "device": str(w.executor.device),
            "fps": (n1 - n0) / (t1 - t0), "patch_fps": f.fps if f else None, "max_fps": max_fps,
            "cpu_ms_per_frame": 1000 * (c1 - c0) / max(n1 - n0, 1)}


if __name__ == "__main__":     # python -m afx_graph.ui.preview PATCH [SIZE] [patch|square]
    import sys
    args = sys.argv[1:]
    if not args:
        print("usage: python -m afx_graph.ui.preview PATCH [SIZE] [patch|square] [SECONDS]")
        sys.exit(2)
    r = measure(args[0], int(args[1]) if len(args) > 1 else 256,
                args[2] if len(args) > 2 else "square", float(args[3]) if len(args) > 3 else 10.0)
    print(f"{r['patch']}: preview {r['size'][0]}x{r['size'][1]} on {r['device']}: "
          f"{r['fps']:.1f} frames/s playing (the patch plays at {r['patch_fps']:g} fps), "
          f"{r['cpu_ms_per_frame']:.0f} ms CPU a frame; unthrottled {r['max_fps']:.1f} frames/s")
