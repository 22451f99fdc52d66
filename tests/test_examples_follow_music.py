"""Issue 11's targets for every example patch and the default cppn, measured the way a user would check a render
(afx run, then afx analyze's measures) on a song the patches were not tuned to: the built-in
synth at another tempo and seed than any example uses."""
from pathlib import Path

import pytest

from afx_graph import Executor, Graph, Plan, RenderSettings, default_registry
from afx_graph.commands.analyze import analyze_video
from afx_graph.sharing.opening import load_patch
from afx_graph.run.render import RunOptions, render_graph
from afx_graph.media.wav import write_wav
from afxcli import run_afx

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


GRAPHS = sorted((ROOT / "graphs").glob("*.yaml"))
# Looks that must also stay within the colour targets (the demo is what people see
# first; fitted_morph's colours come from the images it was fitted to). fractal_zoom's black
# and kaleido_beats' neon are part of their design.
COLOUR_LIMITS = {"demo": 0.10, "fitted_morph": 0.10}


def render(patch: Path, song: Path, out: Path) -> dict:
    """What `afx run PATCH --audio SONG --size 160x90 --duration 6 -o OUT` does, in this
    process (each example in its own process would cost ~3 s of imports), then afx analyze."""
    g = Graph.from_patch(load_patch(patch), default_registry())
    render_graph(g, RunOptions(output=str(out), audio=str(song), size=(160, 90), duration=6.0,
                               device="cpu", out_dir=out.parent))
    return analyze_video(out)


@pytest.mark.parametrize("patch", GRAPHS, ids=lambda p: p.stem)
def test_every_example_follows_the_music_and_is_neither_static_nor_flat(patch, song, tmp_path):
    a = render(patch, song, tmp_path / f"{patch.stem}.mp4")
    assert a["r"] >= (0.7 if patch.stem == "demo" else 0.5) and a["lag"] in (-1, 0, 1), a
    assert a["motion_255"] >= 0.5 and a["spread_255"] >= 3.0, a
    if patch.stem in COLOUR_LIMITS:
        assert a["colourfulness"] <= 110 and a["hue_sectors"] <= 6, a
        assert a["clipped"] <= COLOUR_LIMITS[patch.stem], a


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
