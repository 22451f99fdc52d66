"""The show window of afx live, on the tests' virtual display, in a process of its own (it
owns its Dear PyGui context, as afx live does)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import yaml

from afx_graph import examples

SCRIPT = r"""
import json, sys, time
import dearpygui.dearpygui as dpg
from afx_graph import Graph, default_registry, load_patch
from afx_graph.run.live import LiveShow
from afx_graph.ui.show import ShowWindow, OVERLAY
show = LiveShow(Graph.from_patch(load_patch(sys.argv[1]), default_registry()), sound=False)
w = ShowWindow(show, size=(640, 360))
t0, out = time.perf_counter(), {}
while w.step():
    if time.perf_counter() - t0 > 4.0 and "shot" not in out:
        out["overlay"] = dpg.get_value(OVERLAY)
        dpg.output_frame_buffer(file=sys.argv[2])
        out["shot"] = True
        w._key(None, dpg.mvKey_O)                  # the overlay goes away
    if "shot" in out and "hidden" not in out and time.perf_counter() - t0 > 4.3:
        out["hidden"] = dpg.get_value(OVERLAY)
        w._key(None, dpg.mvKey_Q)                  # and Q ends the show
    if time.perf_counter() - t0 > 20:
        break
out["shown"], out["seconds"] = show.shown, time.perf_counter() - t0
w.close()
print(json.dumps(out))
"""


def test_the_show_window_shows_the_patch_with_its_overlay_and_quits_on_q(xvfb, tmp_path):
    data = yaml.safe_load(examples.find("demo").read_text())
    data["settings"].update({"size": [160, 90], "fps": 20})
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(data))
    shot = tmp_path / "show.png"
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "demo.yaml"), str(shot)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["shown"] >= 40 and out["seconds"] < 10       # quit on Q, after ~4.3 s
    assert "tempo" in out["overlay"] and "latency" in out["overlay"] and out["hidden"] == ""
    import av
    with av.open(str(shot)) as c:
        img = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(np.float32)
    picture = img[120:, :]                                   # below the overlay's lines
    assert picture.mean() > 30 and picture.std() > 10        # the patch, not a black window
