"""`afx batch` as a user runs it: a video per song, names that do not collide, a rerun that
keeps what is there, a song that fails while the others go on, and the same album on Ray."""
import os
from pathlib import Path

import numpy as np
import pytest

from afx_graph.cli import main
from media import beat_track, read_video, write_wav

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.yaml"
TINY = ["--size", "64x36", "--fps", "20"]


def afx(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def songs(tmp_path) -> list[Path]:
    """Two songs with the same name in two folders: 0.6 s at 120 bpm and 0.8 s at 90 bpm."""
    a, b = tmp_path / "a" / "intro.wav", tmp_path / "b" / "intro.wav"
    for path, seconds, bpm in ((a, 0.6, 120), (b, 0.8, 90)):
        path.parent.mkdir()
        write_wav(path, beat_track(seconds, bpm=bpm), 22050)
    return [a, b]


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".partial-" in p.name]


def test_one_video_per_song_named_after_it_kept_on_a_rerun(tmp_path, capsys, songs):
    out = tmp_path / "album"
    code, stdout, err = afx(capsys, "batch", DEMO, *songs, "-o", out, *TINY)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["intro-2.mp4", "intro.mp4"]
    first, second = read_video(out / "intro.mp4"), read_video(out / "intro-2.mp4")
    for v, seconds in ((first, 0.6), (second, 0.8)):        # each has its own song's length
        assert v["frames"].shape == (round(seconds * 20), 36, 64, 3)
        assert v["audio"] is not None and abs(v["audio"]["duration"] - seconds) < 0.06
        assert v["frames"].std() > 20
    assert not np.array_equal(first["frames"][:12], second["frames"][:12])
    lines = stdout.splitlines()
    assert lines[0].startswith(f"song 1/2 {songs[0]}: wrote {out / 'intro.mp4'}: 12 frames")
    assert lines[1].startswith(f"song 2/2 {songs[1]}: wrote {out / 'intro-2.mp4'}: 16 frames")
    assert "2 rendered, 0 kept, 0 failed" in lines[-1]

    made = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code, stdout, err = afx(capsys, "batch", DEMO, *songs, "-o", out, *TINY)
    assert code == 0 and "0 rendered, 2 kept" in stdout and stdout.count("already there") == 2
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == made

    code, stdout, err = afx(capsys, "batch", DEMO, songs[1], "-o", out, *TINY, "--force",
                            "--set", "field.seed=9")
    assert code == 0 and "1 rendered" in stdout
    assert not np.array_equal(read_video(out / "intro.mp4")["frames"], second["frames"])
    assert not partials(out)


def test_a_missing_song_stops_the_batch_before_any_work(tmp_path, capsys, songs):
    out = tmp_path / "album"
    code, stdout, err = afx(capsys, "batch", DEMO, songs[0], tmp_path / "nope.wav", "-o", out)
    assert code == 2 and err.startswith("error:") and "nope.wav" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_a_song_that_cannot_be_read_fails_alone(tmp_path, capsys, songs):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(os.urandom(5000))
    out = tmp_path / "album"
    code, stdout, err = afx(capsys, "batch", DEMO, bad, songs[0], "-o", out, *TINY)
    assert code == 2
    assert err.startswith("error: song 1/2") and "broken.wav" in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["intro.mp4"]
    assert "1 rendered, 0 kept, 1 failed" in stdout




@pytest.mark.xdist_group("ray")
def test_an_album_on_ray_is_the_album_rendered_here(tmp_path, capsys, songs, local_ray):
    code, stdout, err = afx(capsys, "batch", DEMO, *songs, "-o", tmp_path / "ray", *TINY,
                            "--ray")
    assert code == 0, err
    assert "on Ray: 2 workers" in stdout and "2 rendered" in stdout
    code, _, err = afx(capsys, "run", DEMO, "--audio", songs[1], "-o", tmp_path / "here.mp4",
                       *TINY)
    assert code == 0, err
    on_ray, here = read_video(tmp_path / "ray" / "intro-2.mp4"), read_video(tmp_path / "here.mp4")
    assert on_ray["frames"].shape == here["frames"].shape     # the same pictures (float32
    diff = np.abs(on_ray["frames"].astype(int) - here["frames"].astype(int))   # on a CPU is
    assert diff.mean() < 1.0                                # not bit-identical across processes)
    assert on_ray["audio"]["duration"] == here["audio"]["duration"]
    assert read_video(tmp_path / "ray" / "intro.mp4")["frames"].shape[0] == 12
