"""`afx run` as a user runs it: the demo patch, --audio, overrides, bad input."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from afxcli import run_afx
from media import beat_track, read_video, write_wav

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.yaml"
SMALL = ["--size", "96x54", "--fps", "12"]


def frame_changes(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference between consecutive frames (0..255)."""
    f = frames.astype(np.float32)
    return np.abs(f[1:] - f[:-1]).mean(axis=(1, 2, 3))


def test_demo_renders_a_living_video_with_sound(tmp_path):
    out = tmp_path / "demo.mp4"
    r = run_afx("run", DEMO, "-o", out, "--duration", "4", *SMALL, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "48 frames, 4.00 s of video" in r.stdout and "x realtime" in r.stdout
    v = read_video(out)
    assert v["frames"].shape == (48, 54, 96, 3)
    assert v["audio"] is not None and abs(v["audio"]["duration"] - 4.0) < 1 / 12
    # the prototype's static grey video, as a regression test
    assert v["frames"].std(axis=(1, 2, 3)).min() > 20          # structured, not flat
    changes = frame_changes(v["frames"])
    assert changes.min() > 0.5 and changes.mean() > 3         # every frame moves
    assert not list(tmp_path.glob(".*partial*"))


def test_frames_follow_the_audio(tmp_path):
    """Same patch, two songs: the pictures differ, and beats show as bigger changes."""
    sr = 22050
    beats = write_wav(tmp_path / "beats.wav", beat_track(3.0, sr, bpm=120), sr)
    quiet = write_wav(tmp_path / "quiet.wav", 0.01 * np.sin(np.linspace(0, 400, int(3 * sr)))[None], sr)
    vids = {}
    for name, song in (("beats", beats), ("quiet", quiet)):
        out = tmp_path / f"{name}.mp4"
        r = run_afx("run", DEMO, "-o", out, "--audio", song, "--size", "96x54", "--fps", "30",
                    cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        vids[name] = read_video(out)["frames"].astype(np.float32)
    assert vids["beats"].shape == vids["quiet"].shape == (90, 54, 96, 3)
    assert np.abs(vids["beats"] - vids["quiet"]).mean() > 5
    # 120 bpm at 30 fps: a beat every 15 frames. The change into a frame on a beat is far
    # larger than the change between two frames in the middle of a beat.
    ch = frame_changes(vids["beats"])
    on_beat = np.array([ch[i - 2:i + 1].max() for i in range(14, len(ch), 15)])
    between = np.concatenate([ch[i::15] for i in range(5, 11)])
    assert on_beat.mean() > 2 * between.mean(), (on_beat.mean(), between.mean())
    assert between.mean() > 1          # and it still moves between beats


def test_audio_override_replaces_synth_and_takes_its_length(tmp_path):
    song = write_wav(tmp_path / "song.wav", beat_track(2.5), 22050)
    r = run_afx("run", DEMO, "-o", tmp_path / "o.mp4", "--audio", song, *SMALL, "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert len(read_video(tmp_path / "o.mp4")["frames"]) == 30      # 2.5 s x 12 fps


def test_set_and_start(tmp_path):
    song = write_wav(tmp_path / "song.wav", beat_track(3.0), 22050)
    r = run_afx("run", DEMO, "-o", tmp_path / "o.mp4", "--audio", song, "--start", "1", "--set",
                "field.seed=99", "--set", "field.hidden=8", *SMALL, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(read_video(tmp_path / "o.mp4")["frames"]) == 24       # 3 s - 1 s start


@pytest.mark.parametrize("content,expect", [
    (b"", "empty"),
    (b"this is not audio at all" * 20, ""),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", ""),
])
def test_bad_audio_file_exit_2_one_line_no_output(tmp_path, content, expect):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(content)
    out = tmp_path / "o.mp4"
    r = run_afx("run", DEMO, "-o", out, "--audio", bad, *SMALL, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "node 'music' path:" in lines[0] and expect in lines[0].lower()
    assert "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


def test_existing_output_is_untouched_without_force(tmp_path):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"my old video")
    r = run_afx("run", DEMO, "-o", out, "--duration", "1", *SMALL, cwd=tmp_path)
    assert r.returncode == 2 and "already exists (use --force" in r.stderr
    assert out.read_bytes() == b"my old video"
    r = run_afx("run", DEMO, "-o", out, "--duration", "1", "--force", *SMALL, cwd=tmp_path)
    assert r.returncode == 0 and len(read_video(out)["frames"]) == 12


@pytest.mark.parametrize("args,msg", [
    (["--size", "100000x100000"], "--size: 100000x100000 is too large"),
    (["--size", "big"], "--size: 'big' is not WIDTHxHEIGHT"),
    (["--fps", "0"], "--fps: must be a number from 1 to 240, not 0"),
    (["--set", "field.hidden=100000"], "node 'field' params.hidden: 100000 is above the maximum 512"),
    (["--set", "nope.x=1"], "there is no node 'nope'"),
    (["--audio", "missing.wav"], "missing.wav: no such audio file"),
    (["--device", "cuda"], "no CUDA device"),
])
def test_bad_arguments(tmp_path, args, msg):
    import torch
    if args[:2] == ["--device", "cuda"] and torch.cuda.is_available():
        args = ["--device", "mps"]; msg = "MPS"
    r = run_afx("run", DEMO, "-o", tmp_path / "o.mp4", *args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert msg in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_patch_output_path_stays_in_the_output_folder(tmp_path):
    text = DEMO.read_text().replace("path: out/demo.mp4", "path: ../../escape.mp4")
    (tmp_path / "p.yaml").write_text(text)
    r = run_afx("run", tmp_path / "p.yaml", *SMALL, cwd=tmp_path)
    assert r.returncode == 2 and "leaves the output folder" in r.stderr
    assert "node 'video' params.path" in r.stderr


def test_patch_writes_relative_to_the_current_folder(tmp_path):
    shutil.copy(DEMO, tmp_path / "demo.yaml")
    work = tmp_path / "work"
    work.mkdir()
    r = run_afx("run", tmp_path / "demo.yaml", "--duration", "1", *SMALL, cwd=work)
    assert r.returncode == 0, r.stderr
    assert (work / "out" / "demo.mp4").exists()


def test_example_file_patch_renders_with_audio(tmp_path):
    song = write_wav(tmp_path / "song.wav", beat_track(1.5), 22050)
    r = run_afx("run", ROOT / "graphs" / "cppn_audio_file.yaml", "-o", tmp_path / "o.mp4",
                "--audio", song, *SMALL, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(read_video(tmp_path / "o.mp4")["frames"]) == 18


# -- audio the render does not fit ------------------------------------------------------------

def sparse_wav(path: Path, seconds: float, sr: int, channels: int) -> Path:
    """A valid 16-bit WAV of silence whose data costs no disk (a sparse file)."""
    data = int(seconds * sr) * channels * 2
    fmt = (1).to_bytes(2, "little") + channels.to_bytes(2, "little") + sr.to_bytes(4, "little") \
        + (sr * channels * 2).to_bytes(4, "little") + (channels * 2).to_bytes(2, "little") \
        + (16).to_bytes(2, "little")
    head = b"RIFF" + (36 + data).to_bytes(4, "little") + b"WAVE" + b"fmt " \
        + (16).to_bytes(4, "little") + fmt + b"data" + data.to_bytes(4, "little")
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + data)
    return path


def peak_memory_of(*args, cwd) -> tuple[subprocess.CompletedProcess, int]:
    """Run afx in a fresh wrapper process; (result, the afx process's peak RSS in bytes)."""
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, file=sys.stderr);"
            " sys.exit(r.returncode)")
    exe = shutil.which("afx") or str(Path(sys.executable).parent / "afx")
    r = subprocess.run([sys.executable, "-c", code, exe, *map(str, args)], cwd=cwd,
                       capture_output=True, text=True, timeout=600)
    lines = r.stderr.strip().splitlines()
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout,
                                       "\n".join(lines[:-1]) + "\n"), int(lines[-1])


def test_a_huge_track_costs_only_the_span_rendered(tmp_path):
    """15 minutes of 192 kHz 5.1 (4 GiB as float32): a 1 s render decodes ~3 s of it."""
    big = sparse_wav(tmp_path / "huge.wav", 15 * 60, 192000, 6)
    r, peak = peak_memory_of("run", DEMO, "--audio", big, "--duration", "1", "--size", "64x36",
                             "-o", "v.mp4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert peak < 2 * 1024 ** 3, peak
    v = read_video(tmp_path / "v.mp4")
    assert v["audio"]["channels"] == 2 and abs(v["audio"]["duration"] - 1.0) < 0.1
    r = run_afx("run", DEMO, "--audio", big, "--size", "64x36", "-o", "w.mp4", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "too long to decode at once" in r.stderr and "2 GiB" in r.stderr
    assert "--start and --duration" in r.stderr and not (tmp_path / "w.mp4").exists()


@pytest.mark.parametrize("extra", [[], ["--duration", "1"]])
def test_a_start_past_the_end_of_the_audio_is_refused(tmp_path, extra):
    song = write_wav(tmp_path / "song.wav", beat_track(3.0), 22050)
    r = run_afx("run", DEMO, "--audio", song, "--start", "5", *extra, *SMALL, "-o", "v.mp4",
                cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "past the end" in r.stderr and "3.00 s long" in r.stderr and "--start" in r.stderr
    assert list(tmp_path.iterdir()) == [song]


def test_audio_shorter_than_the_duration_warns_with_its_length(tmp_path):
    song = write_wav(tmp_path / "song.wav", beat_track(2.0), 22050)
    r = run_afx("run", DEMO, "--audio", song, "--duration", "3", *SMALL, "-o", "v.mp4",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "warning: node 'music': the audio is 2.00 s long" in r.stderr
    assert len(read_video(tmp_path / "v.mp4")["frames"]) == 36


def test_command_line_values_are_blamed_on_the_command_line(tmp_path):
    for args, flag in ((["--fps", "1e9"], "--fps"), (["--duration", "-3"], "--duration"),
                       (["--start", "nan"], "--start")):
        r = run_afx("run", DEMO, *args, "-o", "v.mp4", cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.startswith(f"error: {flag}: "), r.stderr
        assert "settings." not in r.stderr


def test_audio_that_is_a_fifo_says_so(tmp_path):
    fifo = tmp_path / "song.wav"
    os.mkfifo(fifo)
    r = run_afx("run", DEMO, "--audio", fifo, "-o", "v.mp4", cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and "is a FIFO (named pipe), not an audio file" in r.stderr


def test_an_excerpt_from_late_in_a_song_still_follows_its_beats(tmp_path):
    """Rendering 3 s from 31 s into a 40 s song decodes only 21..36 s: the features must
    still line up with the beats of that excerpt (a timeline sampled at the wrong place would
    freeze or drift)."""
    sr = 22050
    song = write_wav(tmp_path / "song.wav", beat_track(40.0, sr, bpm=120), sr)
    r = run_afx("run", DEMO, "-o", "v.mp4", "--audio", song, "--start", "31", "--duration", "3",
                "--size", "96x54", "--fps", "30", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    v = read_video(tmp_path / "v.mp4")
    assert v["frames"].shape[0] == 90 and abs(v["audio"]["duration"] - 3.0) < 0.1
    ch = frame_changes(v["frames"])
    on_beat = np.array([ch[i - 2:i + 1].max() for i in range(14, len(ch), 15)])
    between = np.concatenate([ch[i::15] for i in range(5, 11)])
    assert on_beat.mean() > 2 * between.mean(), (on_beat.mean(), between.mean())


def test_overrides_make_a_new_graph_and_leave_the_callers_alone(tmp_path):
    """apply_overrides returns the graph with the command line's choices; the graph it was
    given (an editor's, a sweep's base) keeps its own size, params and output."""
    from afx_graph import Graph, default_registry, load_patch
    from afx_graph.run.render import RunOptions, apply_overrides
    base = Graph.from_patch(load_patch(DEMO), default_registry())
    before = base.to_patch()
    new = apply_overrides(base, RunOptions(size=(64, 36), sets=["field.seed=99"],
                                           output=str(tmp_path / "x.mp4"), fps=12.0))
    assert new is not base
    assert new.settings["size"] == [64, 36] and new.settings["fps"] == 12.0
    assert new.nodes["field"].param("seed") == 99
    assert base.to_patch() == before
