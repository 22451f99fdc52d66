"""The live preview worker, without a display: it renders moving pictures on its own thread,
follows edits recomputing only what changed, and survives failing nodes."""
from __future__ import annotations

import time

import numpy as np
import pytest

from afx_graph import Graph, default_registry, loads
from afx_graph.ui.clock import AudioOut, PreviewClock
from afx_graph.ui.controller import EditorController
from afx_graph.ui.preview import PreviewWorker, envelope, preview_size, resolve_target

SIZE = 32
TIMEOUT = 60


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One worker for the module: its executor's cache keeps the demo's audio analysis, so
    each test pays only for what it changes."""
    ctl = EditorController(recovery=tmp_path_factory.mktemp("rec"))
    w = PreviewWorker(size=SIZE, audio=False, device="cpu").start()
    yield ctl, w
    w.stop()
    assert w.exception is None


@pytest.fixture
def demo_preview(shared, demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # a sink that ran would write out/ here
    ctl, w = shared
    ctl.open(demo)
    w.pause()
    w.seek(0.0)
    w.set_target(None)
    w.set_size(SIZE, "patch")
    w.follow(ctl.graph)
    f = w.wait_for(lambda f: f.node == "field" and f.image is not None and f.frame == 0, TIMEOUT)
    assert f is not None, w.status
    return ctl, w, f


def until(cond, timeout=TIMEOUT) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def newer(w, f, pred=lambda f: True):
    got = w.wait_for(lambda g: g.serial > f.serial and pred(g), TIMEOUT)
    assert got is not None, w.status
    return got


def test_renders_non_uniform_frames_that_move(demo_preview, tmp_path):
    ctl, w, f0 = demo_preview
    assert f0.image.shape == (18, 32, 4)          # 32 on the long side, the patch's 16:9
    assert f0.image[..., :3].std() > 0.05         # a field, not a flat grey
    assert f0.duration == pytest.approx(12.0)     # the synth track's length
    w.seek(3.0)
    f1 = newer(w, f0, lambda f: f.frame == 90)
    assert np.abs(f1.image - f0.image).mean() > 0.02
    assert not (tmp_path / "out").exists()       # the video sink never ran


def test_plays_on_the_clock(demo_preview):
    ctl, w, f0 = demo_preview
    w.play()
    try:
        f = w.wait_for(lambda f: f.frame >= 6, TIMEOUT)
        assert f is not None and w.clock.playing
    finally:
        w.pause()


def test_an_edit_recomputes_only_what_depends_on_it(demo_preview):
    ctl, w, f0 = demo_preview
    before = dict(w.executor.calls)
    ctl.set_param("field", "contrast", 6.0)
    assert w.follow(ctl.graph)
    assert not w.follow(ctl.graph)                 # no change, no new snapshot
    f1 = newer(w, f0)
    delta = {k: w.executor.calls[k] - before.get(k, 0) for k in w.executor.calls}
    assert delta["field"] >= 1
    assert all(delta.get(n, 0) == 0 for n in ("music", "spectrum", "beats", "coords")), delta
    assert np.abs(f1.image - f0.image).mean() > 0.01
    before = dict(w.executor.calls)
    ctl.set_param("spectrum", "release", 0.6)
    w.follow(ctl.graph)
    newer(w, f1)
    delta = {k: w.executor.calls[k] - before.get(k, 0) for k in w.executor.calls}
    assert delta["spectrum"] == 1 and delta["field"] >= 1
    assert all(delta.get(n, 0) == 0 for n in ("music", "beats", "coords")), delta
    assert "video" not in w.executor.calls


def test_a_failing_node_is_reported_and_the_worker_goes_on(demo_preview, not_audio):
    ctl, w, f0 = demo_preview
    ctl.add_node("audio.file", (0, 300), node_id="song", params={"path": str(not_audio)})
    assert ctl.link("song", "audio", "spectrum", "audio") is None
    w.follow(ctl.graph)
    assert until(lambda: "song" in w.errors), w.status
    assert "not an audio file" in w.errors["song"]
    assert w.state == "failed" and "song" in w.status
    assert w.alive and w.exception is None
    ctl.undo()                                       # link music back: the preview resumes
    w.follow(ctl.graph)
    f = w.wait_for(lambda f: f.serial > f0.serial and not w.errors, TIMEOUT)
    assert f is not None and f.image is not None, (w.status, w.errors)
    # no longer failed (a playing preview may already be computing the next frame)
    assert w.state in ("ok", "computing") and not w.errors, (w.state, w.status)


def test_a_missing_input_is_reported(demo_preview):
    ctl, w, f0 = demo_preview
    ctl.delete_nodes(["music"])
    w.follow(ctl.graph)
    until(lambda: "spectrum" in w.errors)
    assert "required input is not connected" in w.errors.get("spectrum", ""), (w.status, w.errors)
    assert w.alive


def test_the_selected_node_is_what_shows(demo_preview):
    ctl, w, f0 = demo_preview
    w.set_target("spectrum")
    f = w.wait_for(lambda f: f.node == "spectrum", TIMEOUT)
    assert f.kind == "timeline" and f.series.shape == (360, 15) and f.names[0] == "bass"
    assert f.value.shape == (15,)
    w.set_target("beats", "tempo")
    f = w.wait_for(lambda f: f.port == "tempo", TIMEOUT)
    assert f.kind == "scalar" and 60 < float(f.value[0]) < 200
    w.set_target("music")
    f = w.wait_for(lambda f: f.node == "music", TIMEOUT)
    assert f.kind == "audio" and f.series.shape[1] == 1 and f.series.max() > 0.1
    w.set_target("coords")
    f = w.wait_for(lambda f: f.node == "coords", TIMEOUT)
    assert f.kind == "image" and f.image.shape == (18, 32, 4)
    w.set_target("video")                           # a sink: the image it would get
    f = w.wait_for(lambda f: f.node == "field", TIMEOUT)
    assert f.kind == "image"


def test_size_and_aspect(demo_preview):
    ctl, w, f0 = demo_preview
    w.set_size(24, "square")
    f = w.wait_for(lambda f: f.image is not None and f.image.shape[:2] == (24, 24), TIMEOUT)
    assert f is not None
    with pytest.raises(ValueError):
        w.set_size(4)


def test_a_patch_with_a_cycle_does_not_stop_the_worker():
    g = graph("afx: 1\nnodes:\n  a: {type: field.coords, inputs: {scale: f.image}}\n"
              "  f: {type: cppn, inputs: {coords: a.coords}}\n")
    w = PreviewWorker(size=16, audio=False, device="cpu").start()
    try:
        w.follow(g)
        assert until(lambda: w.state == "failed", 30), w.status
        assert "cycle" in w.status and w.alive
    finally:
        w.stop()
    assert w.exception is None


def test_preview_size():
    assert preview_size((640, 360), 256) == (256, 144)
    assert preview_size((360, 640), 256) == (144, 256)
    assert preview_size((640, 360), 128, "square") == (128, 128)


def graph(text: str) -> Graph:
    return Graph.from_patch(loads(text), default_registry())


def test_resolve_target_without_an_output():
    g = graph("afx: 1\nnodes:\n  a: {type: field.coords}\n  f: {type: cppn, inputs: {coords: a.coords}}\n")
    assert resolve_target(g, None) == ("f", "image")
    assert resolve_target(g, "a") == ("a", "coords")
    assert resolve_target(g, "gone") == ("f", "image")
    assert "empty patch" in resolve_target(graph("afx: 1\nnodes: {}\n"), None)
    g = graph("afx: 1\nnodes:\n  v: {type: output.video}\n")
    assert "nothing is linked" in resolve_target(g, "v")


def test_clock_play_pause_seek_loop():
    now = [0.0]
    c = PreviewClock(lambda: now[0])
    assert c.now(10.0) == 0.0
    c.play()
    now[0] += 2.5
    assert c.now() == pytest.approx(2.5)
    c.pause()
    now[0] += 5
    assert c.now() == pytest.approx(2.5)
    c.seek(9.0)
    c.play()
    now[0] += 2.0
    assert c.now() == pytest.approx(1.0)          # looped
    c.loop = False
    now[0] += 20.0
    assert c.now() == pytest.approx(10.0) and not c.playing    # stops at the end
    c.play()                                       # from the start again
    now[0] += 1.0
    assert c.now() == pytest.approx(1.0)


class FakeSoundDevice:
    """Stands in for the `sounddevice` module: records the stream, lets a test pull audio."""

    class OutputStream:
        def __init__(self, samplerate, channels, dtype, callback):
            self.samplerate, self.channels, self.callback = samplerate, channels, callback
            self.started = False
            FakeSoundDevice.last = self

        def start(self):
            self.started = True

        def stop(self):
            self.started = False

        def close(self):
            pass


def test_the_clock_follows_the_audio_being_played():
    from afx_graph import Audio
    sr = 1000
    samples = np.stack([np.arange(5000, dtype=np.float32) / 5000] * 2)
    out = AudioOut(Audio(samples, sr), FakeSoundDevice, offset=1.0)
    now = [0.0]
    c = PreviewClock(lambda: now[0])
    c.set_audio(out)
    c.seek(0.5)
    c.play()
    stream = FakeSoundDevice.last
    assert stream.started and stream.samplerate == sr and stream.channels == 2
    buf = np.zeros((250, 2), np.float32)
    stream.callback(buf, 250, None, None)
    assert buf[0, 0] == pytest.approx(1500 / 5000)        # offset 1 s + position 0.5 s
    assert c.now(4.0) == pytest.approx(0.75)               # 250 samples later, wall clock aside
    c.pause()
    assert not stream.started
    stream.callback(buf, 250, None, None)


def test_envelope():
    from afx_graph import Audio
    a = Audio(np.concatenate([np.zeros(1000), np.ones(1000)])[None].astype(np.float32), 1000)
    env = envelope(a, points=4)
    assert env.shape == (4, 1) and env[0, 0] == 0 and env[-1, 0] == 1


def test_a_settings_edit_reaches_the_preview(tmp_path, demo):
    """The worker notices a settings edit through the graph's revision (no copy compared)."""
    ctl = EditorController(recovery=tmp_path / "rec")
    ctl.open(demo)
    w = PreviewWorker(size=SIZE, audio=False, device="cpu")       # not started: only follow()
    assert w.follow(ctl.graph) is True and w.follow(ctl.graph) is False
    assert ctl.set_settings(fps=12) is None
    assert w.follow(ctl.graph) is True
    ctl.undo()
    assert w.follow(ctl.graph) is True and ctl.graph.settings.get("fps") != 12
