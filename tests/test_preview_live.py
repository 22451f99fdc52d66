"""The editor's preview switched to a live input (Preview > Live input, F6) and back: the
patch is not changed, the pictures follow the sound played into a real PulseAudio null sink."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from afx_graph import Graph, default_registry, examples, load_patch
from afx_graph.ui.preview import PreviewWorker
from livesound import click_track, play

pytestmark = pytest.mark.xdist_group("live")


def test_the_preview_switches_to_a_live_input_and_back(pulse):
    graph = Graph.from_patch(load_patch(examples.find("demo")), default_registry())
    before = graph.to_patch()
    w = PreviewWorker(size=48, audio=False, device="cpu").start()
    try:
        w.follow(graph)
        w.set_target("field", "image")
        assert w.wait_for(lambda f: f.kind == "image", timeout=60) is not None
        file_duration = w.duration
        w.set_live_input("default")
        y, _ = click_track(120, 10.0)
        stop = threading.Event()
        th = play(y, stop)
        frames, t0, level, edited = [], time.monotonic(), 0.0, None
        while th.is_alive() and time.monotonic() - t0 < 17:
            if edited is None and time.monotonic() - t0 > 4.0:
                graph.set_param("field", "seed", 8)        # an edit while live: prepared anew,
                w.follow(graph)                            # with a new capture (never a closed one)
                edited, level = time.monotonic(), 0.0
            level = max(level, w.live_level)
            f = w.latest()
            if f is not None and f.kind == "image" and (not frames or f.serial != frames[-1].serial):
                frames.append(f)
            time.sleep(0.05)
        stop.set()
        warnings = w.live_warnings
        assert w.live_input == "default" and not warnings, warnings
        assert w.duration > 3600                              # a live input has no end
        times = [f.time for f in frames]
        assert len(frames) > 20 and times[-1] - times[0] > 4   # on the live clock
        assert level > 0.1                                    # heard after the edit too
        assert frames[-1].time > edited - t0 + 1.0
        pictures = np.stack([np.asarray(f.image, np.float32) for f in frames[-20:]])
        assert pictures.std(axis=0).mean() > 0.01             # it moves with the sound
        w.set_live_input(None)
        assert w.wait_for(lambda f: f.kind == "image" and w.live_input is None
                          and abs(w.duration - file_duration) < 1e-6, timeout=60) is not None
    finally:
        w.stop()
    graph.set_param("field", "seed", 7)
    assert graph.to_patch() == before                         # live input left the patch alone
