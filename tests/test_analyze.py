"""``afx analyze``: r between picture change and the music's onsets, and look statistics, on
videos the tests make (H.264 + AAC, written with PyAV at run time)."""
from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest
from afxcli import run_afx

from afx_graph.commands.analyze import analyze_video, hue_sector_counts
from afx_graph.media.wav import write_wav

FPS, SR, W, H = 30, 44100, 320, 180


def write_mp4(path, frames: np.ndarray, audio: np.ndarray | None = None, fps: int = FPS,
              sr: int = SR):
    """frames: uint8 (N, H, W, 3); audio: float32 mono (n,) muxed as AAC."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        v.codec_context.time_base = Fraction(1, fps)
        v.options = {"crf": "12", "preset": "ultrafast"}
        if audio is not None:
            a = c.add_stream("aac", rate=sr)
            a.layout = "mono"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            vf.pts = i
            for p in v.encode(vf):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
        if audio is not None:
            x = np.pad(audio.astype(np.float32), (0, -audio.size % 1024))
            for k in range(0, x.size, 1024):
                af = av.AudioFrame.from_ndarray(x[None, k:k + 1024], format="fltp",
                                                layout="mono")
                af.sample_rate, af.pts, af.time_base = sr, k, Fraction(1, sr)
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode(None):
                c.mux(p)
    return path


def kick_track(seconds: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Kicks with a click on top at irregular times (8-18 video frames apart, each at the
    start of a frame) over a quiet tone: (mono samples, onset times)."""
    rng = np.random.default_rng(seed)
    onsets = (np.cumsum(rng.integers(8, 19, 64)) + 6) / FPS
    onsets = onsets[onsets < seconds - 0.3]
    n = int(seconds * SR)
    y = 0.03 * np.sin(2 * np.pi * 440 * np.arange(n) / SR)
    k = np.arange(int(0.25 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-k * 30)) * k) * np.exp(-k * 14)
    kick[:200] += rng.uniform(-1, 1, 200) * np.linspace(1, 0, 200)   # the beater's click
    for t in onsets:
        a = int(t * SR)
        y[a:a + kick.size] += 0.7 * kick[:n - a]
    return y.astype(np.float32), onsets


def texture(brightness: np.ndarray) -> np.ndarray:
    """A soft grey gradient scaled by one brightness (0..1) per frame: (N, H, W, 3) uint8."""
    x = np.linspace(0.6, 1.0, W)[None, :] * np.linspace(0.8, 1.0, H)[:, None]
    frames = brightness[:, None, None] * x[None] * 255
    return np.repeat(frames[..., None], 3, axis=-1).clip(0, 255).astype(np.uint8)


def flashes(onsets: np.ndarray, n: int) -> np.ndarray:
    """Brightness that flashes up at each onset's frame and falls back by half every frame."""
    level, out = 0.0, np.zeros(n)
    hits = set(np.round(onsets * FPS).astype(int))
    for i in range(n):
        level = 1.0 if i in hits else level * 0.5
        out[i] = 0.15 + 0.8 * level
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("analyze")
    seconds = 6.0
    song, onsets = kick_track(seconds)
    n = int(seconds * FPS)
    rng = np.random.default_rng(7)
    hue = np.arange(W) * 12 // W * 30.0                      # 12 stripes, one per sector
    stripes = _hsv_to_rgb(hue)[None].repeat(H, 0)
    half = np.full((H, W, 3), 128, np.uint8)
    half[:, : W // 2] = 255
    return {
        "follows": write_mp4(d / "follows.mp4", texture(flashes(onsets, n)), song),
        "late": write_mp4(d / "late.mp4", texture(flashes(onsets + 2 / FPS, n)), song),
        "flicker": write_mp4(d / "flicker.mp4", texture(rng.uniform(0.15, 0.95, n)), song),
        "grey": write_mp4(d / "grey.mp4", np.full((n, H, W, 3), 128, np.uint8), song),
        "stripes": write_mp4(d / "stripes.mp4", np.repeat(stripes[None], 20, 0)),
        "half": write_mp4(d / "half.mp4", np.repeat(half[None], 20, 0)),
        "short": write_mp4(d / "short.mp4", texture(np.full(3, 0.5)), song[: SR // 10]),
        "song": write_wav(d / "song.wav", song[None], SR),
        "dir": d,
    }


def _hsv_to_rgb(hue_deg: np.ndarray) -> np.ndarray:
    """Fully saturated, full-value colours of the given hues: (..., 3) uint8."""
    h = (hue_deg % 360) / 60.0
    x = 1 - np.abs(h % 2 - 1)
    z = np.zeros_like(h)
    one = np.ones_like(h)
    table = [(one, x, z), (x, one, z), (z, one, x), (z, x, one), (x, z, one), (one, z, x)]
    idx = np.floor(h).astype(int) % 6
    rgb = np.zeros(h.shape + (3,))
    for k, (r, g, b) in enumerate(table):
        m = idx == k
        rgb[m] = np.stack([r[m], g[m], b[m]], -1)
    return (rgb * 255).round().astype(np.uint8)


# ---------------------------------------------------------------------------------------
# r: does the picture follow the music?
# ---------------------------------------------------------------------------------------

def test_brightness_following_the_onsets_gives_high_r(media):
    res = analyze_video(media["follows"])
    assert res["r"] >= 0.8, res["r_by_lag"]
    assert res["lag"] == 0
    assert res["frames"] == 180 and res["fps"] == FPS
    assert res["audio"]["sample_rate"] == SR and res["audio_problem"] is None


def test_a_picture_two_frames_late_is_found_at_lag_plus_two(media):
    res = analyze_video(media["late"])
    assert res["lag"] == 2 and res["lag_seconds"] == pytest.approx(2 / FPS, abs=1e-3)
    assert res["r"] >= 0.8


def test_random_flicker_with_the_same_music_gives_low_r(media):
    res = analyze_video(media["flicker"])
    assert abs(res["r"]) < 0.3, res["r_by_lag"]
    # flicker moves the picture more than the flashes do: r is not a measure of motion
    assert res["motion_255"] > analyze_video(media["follows"])["motion_255"]


def test_seconds_limits_the_span(media):
    res = analyze_video(media["follows"], seconds=3)
    assert res["frames"] == 90 and res["seconds"] == pytest.approx(3.0)
    assert res["r"] >= 0.7


# ---------------------------------------------------------------------------------------
# look statistics
# ---------------------------------------------------------------------------------------

def test_flat_grey_video_is_flat_grey_and_still(media):
    res = analyze_video(media["grey"])
    assert res["spread_255"] < 0.5
    assert res["colourfulness"] < 1.0
    assert res["hue_sectors"] == 0 and res["coloured_fraction"] == 0
    assert res["motion_255"] < 0.1
    assert res["clipped"] == 0
    assert res["r"] is None and res["r_unavailable"] == "the picture does not change"


def test_rainbow_stripes_are_colourful_with_many_hues(media):
    res = analyze_video(media["stripes"])
    assert res["colourfulness"] > 100        # "extremely colourful" reads from ~109
    assert res["hue_sectors"] >= 6
    assert res["coloured_fraction"] > 0.9
    assert res["spread_255"] > 20


def test_half_white_picture_is_half_clipped(media):
    res = analyze_video(media["half"])
    assert res["clipped"] == pytest.approx(0.5, abs=0.03)
    assert res["clipped_bright"] == pytest.approx(0.5, abs=0.03)
    assert res["clipped_dark"] < 0.01
    assert res["colourfulness"] < 2.0 and res["hue_sectors"] == 0


def test_hue_sectors_are_centred_on_the_primaries():
    red, green, blue = [[255, 0, 0]], [[0, 255, 0]], [[0, 0, 255]]
    counts = hue_sector_counts(np.array([red, green, blue, [[250, 10, 20]]], np.uint8))
    assert counts[0] == 2 and counts[4] == 1 and counts[8] == 1
    # dull or dark pixels are not coloured
    assert hue_sector_counts(np.array([[[120, 110, 110], [30, 0, 0]]], np.uint8)).sum() == 0


# ---------------------------------------------------------------------------------------
# the command, as a user runs it
# ---------------------------------------------------------------------------------------

def test_cli_prints_r_and_look(media):
    p = run_afx("analyze", media["follows"])
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "follows.mp4" in out and "onset strength" in out and "at lag +0 frames" in out
    for word in ("colourfulness", "hue sectors", "clipped", "motion", "spread"):
        assert word in out
    assert p.stderr == ""


def test_cli_json_is_the_dict(media):
    p = run_afx("analyze", "--json", "--seconds", "3", media["follows"], media["flicker"])
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["frames"] for r in rows] == [90, 90]
    assert rows[0]["r"] >= 0.7 and abs(rows[1]["r"]) < 0.4
    assert set(rows[0]) >= {"r", "lag", "colourfulness", "hue_sectors", "clipped", "motion",
                            "motion_255", "spread_255"}


def _errors(p) -> list[str]:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    return [line for line in p.stderr.splitlines() if line.startswith("error: ")]


def test_cli_files_that_cannot_be_analysed(media):
    d = media["dir"]
    text = d / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    p = run_afx("analyze", d / "nope.mp4", text, media["song"], media["short"])
    errors = _errors(p)
    assert len(errors) == 4, p.stderr
    missing, unreadable, sound, short = errors
    assert "nope.mp4" in missing and "not found" in missing
    assert "notes.mp4" in unreadable and "not a video file that can be read" in unreadable
    assert "song.wav" in sound and "no video stream" in sound
    assert "short.mp4" in short and "too short" in short and "3 frames" in short
    assert "4 of 4 videos" in p.stderr
    assert p.stdout == ""


def test_cli_video_without_audio_still_prints_the_look(media):
    p = run_afx("analyze", media["stripes"], media["follows"])
    errors = _errors(p)
    assert len(errors) == 1 and "stripes.mp4" in errors[0] and "no audio track" in errors[0]
    assert "1 of 2 videos" in p.stderr
    stripes, follows = p.stdout.split("\n\n")
    assert "colourfulness" in stripes and "n/a (no audio track)" in stripes
    assert "follows.mp4" in follows and "at lag +0" in follows


def test_cli_bad_seconds(media):
    p = run_afx("analyze", "--seconds", "0", media["follows"])
    assert _errors(p) == ["error: --seconds: must be a number of seconds above 0, not 0"]
