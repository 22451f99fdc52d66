"""output.video and output.frames, written for real and decoded back."""
import numpy as np
import pytest

from afx_graph import Executor, Graph, NodeFailure, Plan, Registry, loads
from afx_graph.media.png import read_png
from media import beat_track, read_video, write_wav

PATCH = """\
afx: 1
settings: {{size: [{w}, {h}], fps: {fps}{duration}}}
nodes:
  music: {{type: audio.file, params: {{path: {audio}}}}}
  spectrum: {{type: features.spectrum, inputs: {{audio: music.audio}}}}
  field: {{type: cppn, params: {{hidden: 16, layers: 3}}, inputs: {{features: spectrum.features}}}}
  out: {{type: {sink}, params: {{path: {path}}}, inputs: {{image: field.image{audio_in}}}}}
"""


@pytest.fixture(scope="module")
def reg():
    return Registry().load_builtins()


def render(reg, tmp_path, *, w=64, h=48, fps=24, seconds=2.0, duration=None, sink="output.video",
           name="v.mp4", overwrite=False, batch=None, audio_in=True, sr=22050):
    song = write_wav(tmp_path / "song.wav", beat_track(seconds, sr), sr)
    text = PATCH.format(w=w, h=h, fps=fps, audio=song, sink=sink, path=name,
                        duration=f", duration: {duration}" if duration else "",
                        audio_in=", audio: music.audio" if audio_in and sink == "output.video" else "")
    g = Graph.from_patch(loads(text), reg)
    g.check(out_dir=tmp_path)
    ex = Executor(g, device="cpu", out_dir=tmp_path, overwrite=overwrite)
    return ex.render(Plan(g), g.render_settings(), batch=batch)


def test_video_decodes_back_with_audio(reg, tmp_path):
    stats = render(reg, tmp_path, fps=24, seconds=2.0)
    v = read_video(tmp_path / "v.mp4")
    assert v["frames"].shape == (48, 48, 64, 3)          # 2 s x 24 fps frames of 64x48
    assert (v["width"], v["height"], v["codec"], v["pix_fmt"]) == (64, 48, "h264", "yuv420p")
    assert v["rate"] == 24
    assert v["audio"]["codec"] == "aac" and v["audio"]["rate"] == 22050
    assert abs(v["audio"]["duration"] - v["video_duration"]) < 1 / 24
    assert stats.frames == 48


def test_moov_atom_is_at_the_front(reg, tmp_path):
    render(reg, tmp_path)
    head = (tmp_path / "v.mp4").read_bytes()[:4096]
    assert head.find(b"moov") != -1 and head.find(b"moov") < max(head.find(b"mdat"), 4096)


def test_fractional_fps_and_duration(reg, tmp_path):
    render(reg, tmp_path, fps=29.97, seconds=3.0, duration=1.5)
    v = read_video(tmp_path / "v.mp4")
    assert abs(v["rate"] - 29.97) < 0.01
    assert abs(len(v["frames"]) - 1.5 * 29.97) <= 1
    assert abs(v["audio"]["duration"] - v["video_duration"]) < 1 / 29.97


def test_odd_size_is_padded_to_even(reg, tmp_path):
    render(reg, tmp_path, w=65, h=47)
    v = read_video(tmp_path / "v.mp4")
    assert (v["width"], v["height"]) == (66, 48)


def test_existing_file_is_not_overwritten(reg, tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"precious")
    with pytest.raises(NodeFailure, match="already exists"):
        render(reg, tmp_path)
    assert (tmp_path / "v.mp4").read_bytes() == b"precious"
    render(reg, tmp_path, overwrite=True)
    assert read_video(tmp_path / "v.mp4")["frames"].shape[0] == 48


def test_failed_render_leaves_nothing_behind(reg, tmp_path, monkeypatch):
    from afx_graph.nodes import cppn
    calls = {"n": 0}
    real = cppn.evaluate

    def dies_later(*a, **k):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real(*a, **k)
    monkeypatch.setattr(cppn, "evaluate", dies_later)
    with pytest.raises(KeyboardInterrupt):
        render(reg, tmp_path, batch=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]


def test_png_frames(reg, tmp_path):
    render(reg, tmp_path, sink="output.frames", name="frames", seconds=1.0, fps=10)
    files = sorted((tmp_path / "frames").iterdir())
    assert [f.name for f in files][:2] == ["frame_000000.png", "frame_000001.png"]
    assert len(files) == 10
    img = read_png(files[0])
    assert img.shape == (48, 64, 3) and img.std() > 10
