"""Every example patch renders (with a user's song in place of its audio), moves, and reacts;
the gallery command makes its contact sheet."""
from pathlib import Path

import numpy as np
import pytest

from afx_graph import Graph, default_registry, load_patch
from afx_graph.media.png import read_png
from afx_graph.run.render import RunOptions, render_graph
from afxcli import run_afx
from media import beat_track, read_video, write_wav

GRAPHS = sorted((Path(__file__).resolve().parents[1] / "graphs").glob("*.yaml"))


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return write_wav(tmp_path_factory.mktemp("song") / "song.wav", beat_track(3.0), 22050)


def test_there_are_enough_examples():
    assert len(GRAPHS) >= 8
    for g in GRAPHS:
        meta = load_patch(g).meta
        assert meta.get("name") and meta.get("description"), g.name


@pytest.mark.parametrize("patch", GRAPHS, ids=[g.stem for g in GRAPHS])
def test_example_renders_with_a_users_song(patch, song, tmp_path):
    """What `afx run PATCH --audio song.wav -o out.mp4` does, in-process, at a tiny size."""
    graph = Graph.from_patch(load_patch(patch), default_registry())
    out = tmp_path / "o.mp4"
    stats, outputs = render_graph(graph, RunOptions(output=str(out), audio=str(song), size=(64, 36),
                                                    fps=10, duration=2.0))
    assert outputs == [out]
    v = read_video(out)
    assert v["frames"].shape == (20, 36, 64, 3)
    assert v["audio"] is not None
    f = v["frames"].astype(np.float32)
    assert f.std(axis=(1, 2, 3)).min() > 5, "a flat frame"
    assert np.abs(f[1:] - f[:-1]).mean() > 0.5, "frames do not move"


def test_beat_driven_patch_changes_more_on_beats(tmp_path):
    """kaleido_beats turns a notch on every beat: the change into a beat frame is larger than
    the change between two frames in the middle of a beat."""
    song = write_wav(tmp_path / "beats.wav", beat_track(4.0, bpm=120), 22050)
    patch = next(g for g in GRAPHS if g.stem == "kaleido_beats")
    out = tmp_path / "k.mp4"
    graph = Graph.from_patch(load_patch(patch), default_registry())
    render_graph(graph, RunOptions(output=str(out), audio=str(song), size=(96, 54), fps=30))
    f = read_video(out)["frames"].astype(np.float32)
    ch = np.abs(f[1:] - f[:-1]).mean(axis=(1, 2, 3))
    on = np.array([ch[i - 2:i + 1].max() for i in range(14, len(ch), 15)])    # beats every 15 frames
    mid = np.concatenate([ch[i::15] for i in range(5, 11)])
    assert on.mean() > 1.5 * mid.mean(), (on.mean(), mid.mean())


def test_gallery_command_writes_a_contact_sheet(tmp_path):
    r = run_afx("gallery", GRAPHS[0], "-o", tmp_path, "--size", "48x27", "--times", "0.5,1",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    img = read_png(tmp_path / f"{GRAPHS[0].stem}.png")
    assert img.shape == (27, 48 * 2 + 4, 3) and img.std() > 5
    assert f"{GRAPHS[0].stem}.png" in (tmp_path / "index.md").read_text()
    # remaking another strip keeps the first one listed (it used to rewrite the index with
    # only the patches of that run)
    r = run_afx("gallery", GRAPHS[1], "-o", tmp_path, "--size", "48x27", "--times", "0.5",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    index = (tmp_path / "index.md").read_text()
    assert f"({GRAPHS[0].stem}.png)" in index and f"({GRAPHS[1].stem}.png)" in index
    assert index.index(GRAPHS[0].stem) < index.index(GRAPHS[1].stem)


def test_gallery_refuses_an_index_it_did_not_write_and_writes_nothing(tmp_path):
    (tmp_path / "index.md").write_bytes(b"## mine\n\xff\xfe not text\n")
    r = run_afx("gallery", GRAPHS[0], "-o", tmp_path, "--size", "48x27", "--times", "0.5",
                cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "index.md" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["index.md"]
    assert (tmp_path / "index.md").read_bytes() == b"## mine\n\xff\xfe not text\n"


@pytest.mark.parametrize("patch", GRAPHS, ids=[g.stem for g in GRAPHS])
def test_examples_are_saved_in_canonical_form(patch):
    """Opening an example in the editor and saving it unchanged rewrites nothing."""
    from afx_graph import dumps
    graph = Graph.from_patch(load_patch(patch), default_registry())
    assert dumps(graph.to_patch()) == patch.read_text()
