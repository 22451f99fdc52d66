"""afx live: a patch played as its sound arrives, headless here (the show window has its own
test in tests/ui). The live input is a real PulseAudio null sink (tests/test_capture.py)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import yaml

from afxcli import run_afx
from afx_graph import Graph, default_registry, examples, load_patch
from afx_graph.errors import AfxError
from afx_graph.run.live import LiveShow
from livesound import click_track, play

pytestmark = pytest.mark.xdist_group("live")


def small(tmp_path, **settings) -> str:
    data = yaml.safe_load(examples.find("demo").read_text())
    data["settings"].update({"size": [64, 36], "fps": 20, **settings})
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(data))
    return str(tmp_path / "demo.yaml")


def test_the_demo_plays_live_on_the_clock_of_its_own_music(tmp_path):
    """Without an input the synth is played (silently here) as a live input would arrive:
    frames come as their time comes, the picture moves, the tracker finds the tempo."""
    graph = Graph.from_patch(load_patch(small(tmp_path)), default_registry())
    with LiveShow(graph, sound=False) as show:
        frames, t0 = [], time.perf_counter()
        while time.perf_counter() - t0 < 7.0:
            f = show.next_frame(wait=0.2)
            if f is not None:
                frames.append(f)
        clock = show.clock
        tempo = show.tempo()
    assert 6.0 < clock < 8.5
    idx = [f.index for f in frames]
    assert idx == sorted(set(idx)) and idx[-1] >= 0.8 * clock * 20 - 2   # on time, in order
    assert len(frames) >= 40
    pictures = np.stack([f.image for f in frames]).astype(np.float32)
    assert pictures.std(axis=0).mean() > 5          # it moves
    assert abs(tempo - 120) < 3, tempo


def test_a_click_track_into_the_sink_drives_the_patch_live(pulse, tmp_path):
    y, period = click_track(120, 10.0)
    stop = threading.Event()
    graph = Graph.from_patch(load_patch(small(tmp_path)), default_registry())
    with LiveShow(graph, input="pulse") as show:
        th = play(y, stop)
        frames = []
        t0 = time.perf_counter()
        while th.is_alive() and time.perf_counter() - t0 < 15:
            f = show.next_frame(wait=0.2)
            if f is not None:
                frames.append(f)
        stop.set()
        p50, p95 = show.latency()
        assert show.overflows == 0 and not show.warnings
        assert abs(show.tempo() - 120) < 3, show.tempo()
    assert len(frames) > 100
    assert p95 is not None and p95 < 0.5, (p50, p95)
    pictures = np.stack([f.image for f in frames[-60:]]).astype(np.float32)
    assert pictures.std(axis=0).mean() > 5


def test_afx_live_headless_reports_what_it_showed(tmp_path):
    r = run_afx("live", small(tmp_path), "--headless", "--seconds", "3", "--no-sound")
    assert r.returncode == 0, r.stderr
    assert "shown" in r.stdout and "frames over" in r.stdout


def test_a_live_input_is_not_rendered_but_named(tmp_path):
    data = yaml.safe_load(examples.find("demo").read_text())
    data["nodes"]["music"] = {"type": "audio.input"}
    data["settings"]["duration"] = 2
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    r = run_afx("run", "p.yaml", "--size", "64x36", cwd=tmp_path)
    assert r.returncode == 2
    assert "node 'music'" in r.stderr and "afx live" in r.stderr and "--audio" in r.stderr
    assert "Traceback" not in r.stderr


def test_an_input_that_is_not_there_is_named_with_what_there_is(pulse, tmp_path):
    r = run_afx("live", small(tmp_path), "--input", "no such card", "--headless",
                "--seconds", "1")
    assert r.returncode == 2, r.stderr
    assert "no such card" in r.stderr and "pulse" in r.stderr
    assert "Traceback" not in r.stderr


def test_input_needs_an_audio_source_to_replace(tmp_path):
    data = yaml.safe_load(examples.find("demo").read_text())
    graph = Graph.from_patch(load_patch(small(tmp_path)), default_registry())
    music = [n for n, v in data["nodes"].items() if v["type"] == "audio.synth"]
    for nid in music:
        graph.remove_node(nid)
    with pytest.raises(AfxError, match="no audio source"):
        LiveShow(graph, input="default")
