"""The editor's preview shows the frames the render writes: both take them from the one frame
generator (Executor.frames). Checked on the demo (a CPPN on the synth's features) and on
feedback_trails (stateful: each frame depends on every frame before it)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from afx_graph import Graph, default_registry, load_patch
from afx_graph.media.png import read_png
from afx_graph.run.render import RunOptions, render_graph
from afx_graph.ui.preview import PreviewWorker

ROOT = Path(__file__).resolve().parents[2]
SIZE = (32, 18)           # the preview's 32 on the long side of a 16:9 patch


def rendered_frames(patch: Path, folder: Path) -> Path:
    """The patch rendered by `afx run`'s code path, its video output swapped for PNG frames
    (lossless, so the comparison is exact up to 8-bit rounding)."""
    g = Graph.from_patch(load_patch(patch), default_registry())
    link = g.link_into("video", "image")
    g.remove_node("video")
    g.add_node("output.frames", "frames", params={"path": str(folder)})
    g.connect(link.src, link.src_port, "frames", "image")
    g.user_outputs.add(("frames", "path"))
    render_graph(g, RunOptions(size=SIZE))     # its whole length: time runs render-relative
    return folder


@pytest.mark.parametrize("name", ["demo", "feedback_trails"])
def test_the_preview_at_t_is_the_rendered_frame_at_t(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    patch = ROOT / "graphs" / f"{name}.yaml"
    frames = rendered_frames(patch, tmp_path / "frames")
    graph = Graph.from_patch(load_patch(patch), default_registry())
    source = graph.link_into("video", "image").src
    fps = graph.render_settings().fps
    w = PreviewWorker(size=SIZE[0], audio=False, device="cpu").start()
    try:
        w.pause()
        w.set_target(source)
        w.follow(graph)
        for n in (0, 17, 45, 12):          # forward, further, then back (state restarts)
            w.seek(n / fps)
            f = w.wait_for(lambda f: f.node == source and f.frame == n and f.image is not None,
                           60)
            assert f is not None, w.status
            shown = np.round(f.image[..., :3] * 255)
            written = read_png(frames / f"frame_{n:06d}.png").astype(np.float64)
            assert shown.shape == written.shape == (SIZE[1], SIZE[0], 3)
            assert np.abs(shown - written).max() <= 1, (name, n)
            assert written.std() > 5               # a picture, not a flat frame
    finally:
        w.stop()
    assert w.exception is None
