"""Issue 11's targets for the looks made so far, measured the way a user would check a render
(afx run, then afx analyze's measures) on a song the patches were not tuned to: the built-in
synth at another tempo and seed than any example uses."""
from pathlib import Path

import pytest

from afx_graph import Executor, Graph, Plan, RenderSettings, default_registry
from afx_graph.commands.analyze import analyze_video
from afx_graph.wav import write_wav
from conftest import run_afx

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    g = Graph(default_registry())
    g.add_node("audio.synth", "m", params={"tempo": 97.0, "seed": 11, "length": 8.0})
    audio = Executor(g, device="cpu").evaluate_static(Plan(g, targets=["m"]),
                                                      RenderSettings())["m"]["audio"]
    path = tmp_path_factory.mktemp("song") / "untuned.wav"
    write_wav(path, audio.samples, audio.sr)
    return path


@pytest.mark.parametrize("patch, min_r, max_clipped", [
    ("demo", 0.7, 0.10), ("fitted_morph", 0.5, 0.10), ("feedback_trails", 0.5, 0.20),
    ("fractal_zoom", 0.5, None)])          # the fractal's black is part of its design
def test_render_follows_the_music_and_keeps_its_look(patch, min_r, max_clipped, song, tmp_path):
    out = tmp_path / f"{patch}.mp4"
    r = run_afx("run", ROOT / "graphs" / f"{patch}.yaml", "--audio", song, "-o", out,
                "--duration", "6", "--size", "160x90", "--quiet")
    assert r.returncode == 0, r.stderr
    a = analyze_video(out)
    assert a["r"] >= min_r and a["lag"] in (-1, 0, 1), a
    assert a["colourfulness"] <= 110 and a["hue_sectors"] <= 6, a
    assert max_clipped is None or a["clipped"] <= max_clipped, a
    assert a["motion_255"] >= 0.5 and a["spread_255"] >= 3.0, a      # neither static nor flat


def test_default_cppn_is_a_palette_look_not_rainbow_noise(song, tmp_path):
    """A cppn dropped into a patch with its defaults: at most 6 hues, colourfulness <= 110,
    clipping <= 10% (the rgb mode of version 1 measured ~170, 9-11 hues, 25-35% clipped)."""
    patch = tmp_path / "p.yaml"
    patch.write_text("""afx: 1
settings: {size: [160, 90], fps: 30}
nodes:
  spectrum: {type: features.spectrum, inputs: {audio: music.audio}}
  music: {type: audio.file}
  field: {type: cppn, version: 2, inputs: {features: spectrum.features}}
  video: {type: output.video, inputs: {image: field.image, audio: music.audio}}
""")
    out = tmp_path / "p.mp4"
    r = run_afx("run", patch, "--audio", song, "-o", out, "--duration", "4", "--quiet")
    assert r.returncode == 0, r.stderr
    a = analyze_video(out)
    assert a["colourfulness"] <= 110 and a["hue_sectors"] <= 6 and a["clipped"] <= 0.10, a
    assert a["spread_255"] >= 3.0 and a["motion_255"] >= 0.5, a
