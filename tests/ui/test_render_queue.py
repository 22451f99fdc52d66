"""Render... with its size, frame rate, range and quality, and a queue that renders one
patch after another while the editing goes on."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from media import read_video  # noqa: E402


def test_two_renders_queued_with_their_own_size_rate_and_length_while_editing(demo_app, tmp_path):
    import dearpygui.dearpygui as dpg
    from afx_graph.ui.render_queue import RENDER
    app = demo_app
    d = app.render_dialog
    app.render_dialog.show()
    assert list(dpg.get_value(f"{RENDER}.size")[:2]) == [640, 360]      # the patch's own
    assert dpg.get_value(f"{RENDER}.fps") == 30.0
    dpg.set_value(f"{RENDER}.size", [64, 36, 0, 0])
    dpg.set_value(f"{RENDER}.fps", 10.0)
    dpg.set_value(f"{RENDER}.duration", 1.0)
    dpg.set_value(f"{RENDER}.quality", "draft (crf 28, veryfast)")
    assert d.start(str(tmp_path / "a.mp4"))
    dpg.set_value(f"{RENDER}.size", [32, 18, 0, 0])
    dpg.set_value(f"{RENDER}.start", 2.0)
    dpg.set_value(f"{RENDER}.duration", 0.5)
    dpg.set_value(f"{RENDER}.quality", "as the patch")
    assert d.start(str(tmp_path / "b.mp4"))
    app.set_param("field", "seed", 99)           # editing goes on: the queued ones keep theirs
    assert [j.graph.nodes["field"].param("seed") for j in d.jobs] == [7, 7]
    end = time.monotonic() + 120
    seen = set()
    while d.busy and time.monotonic() < end:
        app.step(1)
        seen |= {j.state for j in d.jobs}
    app.step(3)
    assert [j.state for j in d.jobs] == ["done", "done"], [j.message for j in d.jobs]
    assert "queued" in seen or "rendering" in seen
    a, b = read_video(tmp_path / "a.mp4"), read_video(tmp_path / "b.mp4")
    assert a["frames"].shape[:3] == (10, 36, 64) and b["frames"].shape[:3] == (5, 18, 32)
    assert b"crf=28.0" in (tmp_path / "a.mp4").read_bytes()        # x264 notes its settings
    assert b"crf=18.0" in (tmp_path / "b.mp4").read_bytes()        # the patch's own
    rows = dpg.get_item_children(f"{RENDER}.queue", 1)
    assert len(rows) == 2
    assert "wrote" in dpg.get_value(f"{RENDER}.msg")
    d.clear_finished()
    assert d.jobs == []
    app.undo()
    dpg.configure_item(RENDER, show=False)
