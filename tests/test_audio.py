"""Audio sources: decoding files of every common kind, and the built-in synth track.

All media is written at run time into pytest's tmp_path (soundfile and PyAV)."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch

from afxcli import run_afx
from media import read_video

from afx_graph import Executor, Graph, NodeFailure, Plan, Registry, load_graph, loads
from afx_graph.context import FrameContext
from afx_graph.errors import NodeInputError
from afx_graph.settings import RenderSettings
from afx_graph.nodes import audio
from afx_graph.nodes.audio import AudioFile, AudioSynth, decode_audio, section_of, synth_track

FREQ = 440.0


# -- writing test media ----------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def tone(sr: int, channels: int, seconds: float = 0.5, amp: float = 0.5) -> np.ndarray:
    """A 440 Hz sine, (channels, n); channel i has amplitude amp * (i + 1) / channels so the
    channel order can be checked after decoding."""
    t = np.arange(round(seconds * sr)) / sr
    gains = amp * np.arange(1, channels + 1) / channels
    return (gains[:, None] * np.sin(2 * np.pi * FREQ * t)).astype(np.float32)


def write_sf(path: Path, samples: np.ndarray, sr: int, **kw) -> Path:
    sf.write(str(path), samples.T, sr, **kw)
    return path


def write_mp3(path: Path, samples: np.ndarray, sr: int) -> Path:
    if "MP3" in sf.available_formats():        # libsndfile >= 1.1
        return write_sf(path, samples, sr, format="MP3")
    return write_av(path, samples, sr, codec="libmp3lame")


def write_av(path: Path, samples: np.ndarray | None, sr: int = 48000, codec: str = "aac",
             video: bool = False, seconds: float | None = None) -> Path:
    """An audio file (samples: (channels, n)) or a small video with or without sound."""
    with av.open(str(path), "w") as c:
        if video:
            v = c.add_stream("mpeg4", rate=25)
            v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        if samples is not None:
            layout = av.AudioLayout(f"{samples.shape[0]}c").name
            a = c.add_stream(codec, rate=sr, layout=layout)
            # PyAV converts the frame to the encoder's own sample format
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp",
                                               layout=layout)
            frame.sample_rate, frame.pts = sr, 0
            for p in [*a.encode(frame), *a.encode(None)]:
                c.mux(p)
        if video:
            n = round(25 * (seconds or samples.shape[1] / sr))
            for i in range(n):
                img = np.full((48, 64, 3), (i * 9) % 255, np.uint8)
                fr = av.VideoFrame.from_ndarray(img, format="rgb24")
                fr.pts = i
                for p in v.encode(fr):
                    c.mux(p)
            for p in v.encode(None):
                c.mux(p)
    return path


def write_bytes(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def write_png(path: Path) -> Path:
    png = path.with_suffix(".png")
    with av.open(str(png), "w", format="image2") as c:
        s = c.add_stream("png")
        s.width, s.height, s.pix_fmt = 8, 8, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((8, 8, 3), np.uint8), format="rgb24")
        for p in [*s.encode(frame), *s.encode(None)]:
            c.mux(p)
    png.rename(path)
    return path


# -- measuring -------------------------------------------------------------------------

def dominant_hz(mono: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / sr)[np.argmax(spectrum)])


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def check_tone(a, sr: int, channels: int, seconds: float, tolerance: float):
    assert a.sr == sr and a.channels == channels
    assert a.samples.dtype == np.float32 and a.samples.shape == (channels, a.samples.shape[1])
    assert abs(a.duration - seconds) <= tolerance
    assert abs(dominant_hz(a.mono, sr) - FREQ) < 5.0
    assert np.abs(a.samples).max() <= 1.0


# -- lossless files: exact length and amplitude ----------------------------------------

LOSSLESS = [
    # (extension, soundfile subtype, sample rate, channels, amplitude tolerance)
    ("wav", "PCM_U8", 8000, 1, 1 / 100),
    ("wav", "PCM_U8", 44100, 2, 1 / 100),
    ("wav", "PCM_16", 8000, 2, 1e-4),
    ("wav", "PCM_16", 22050, 1, 1e-4),
    ("wav", "PCM_16", 48000, 6, 1e-4),
    ("wav", "PCM_24", 44100, 2, 1e-6),
    ("wav", "PCM_24", 96000, 6, 1e-6),
    ("wav", "PCM_32", 22050, 2, 1e-7),
    ("wav", "PCM_32", 96000, 1, 1e-7),
    ("wav", "FLOAT", 48000, 2, 0.0),
    ("wav", "FLOAT", 8000, 6, 0.0),
    ("flac", "PCM_16", 8000, 1, 1e-4),
    ("flac", "PCM_24", 44100, 2, 1e-6),
    ("flac", "PCM_16", 96000, 6, 1e-4),
]


@pytest.mark.parametrize("ext,subtype,sr,channels,tol", LOSSLESS,
                         ids=[f"{e}-{s}-{r}-{c}ch" for e, s, r, c, _ in LOSSLESS])
def test_lossless_files_decode_exactly(tmp_path, ext, subtype, sr, channels, tol):
    original = tone(sr, channels)
    path = write_sf(tmp_path / f"tone.{ext}", original, sr, subtype=subtype)
    a = decode_audio(path)
    check_tone(a, sr, channels, 0.5, tolerance=0.0)
    assert a.samples.shape == original.shape
    np.testing.assert_allclose(a.samples, original, atol=tol + 1e-7)
    assert a.source == path
    assert a.layout == {1: "mono", 2: "stereo"}.get(channels, a.layout)
    assert channels != 6 or a.layout.startswith("5.1")


# -- lossy files and the sound of videos -----------------------------------------------

LOSSY = [
    # (file name, writer, sample rate, channels)
    ("tone.ogg", "vorbis", 22050, 1),
    ("tone.ogg", "vorbis", 48000, 2),
    ("tone.ogg", "vorbis", 44100, 6),
    ("tone.mp3", "mp3", 8000, 1),
    ("tone.mp3", "mp3", 22050, 2),
    ("tone.mp3", "mp3", 44100, 2),
    ("tone.mp3", "mp3", 48000, 1),
    ("tone.m4a", "aac", 44100, 2),
    ("tone.m4a", "aac", 48000, 6),
    ("tone.m4a", "aac", 96000, 1),
    ("clip.mp4", "video", 48000, 2),
    ("clip.mkv", "video", 22050, 1),
    ("clip.mov", "video", 44100, 2),
]


def write_lossy(path: Path, kind: str, samples: np.ndarray, sr: int) -> Path:
    if kind == "vorbis":
        return write_sf(path, samples, sr, format="OGG", subtype="VORBIS")
    if kind == "mp3":
        return write_mp3(path, samples, sr)
    return write_av(path, samples, sr, video=kind == "video")


@pytest.mark.parametrize("name,kind,sr,channels", LOSSY,
                         ids=[f"{n}-{r}-{c}ch" for n, _, r, c in LOSSY])
def test_lossy_files_and_videos_decode(tmp_path, name, kind, sr, channels):
    original = tone(sr, channels, seconds=1.0)
    a = decode_audio(write_lossy(tmp_path / name, kind, original, sr))
    check_tone(a, sr, channels, 1.0, tolerance=0.1)
    got, want = a.samples, original
    if channels == 6:
        # Lossy encoders band-limit the LFE (4th) channel, so a 440 Hz tone leaves it: compare
        # the five full-band channels. libsndfile also stores WAV channel order in Vorbis,
        # whose 5.1 order is FL FC FR RL RR LFE; ffmpeg rightly maps that to FL FR FC LFE BL BR.
        order = [0, 2, 1, 4, 5] if kind == "vorbis" else [0, 1, 2, 4, 5]
        got, want = got[order], want[[0, 1, 2, 3, 4] if kind == "vorbis" else order]
    # the level of each channel survives the codec (within a few percent)
    for g, w in zip(got, want):
        assert rms(g) == pytest.approx(rms(w), rel=0.1)


def test_layouts_are_named(tmp_path):
    for channels, name in ((1, "mono"), (2, "stereo")):
        a = decode_audio(write_sf(tmp_path / f"{channels}.wav", tone(8000, channels), 8000))
        assert a.layout == name
    a = decode_audio(write_av(tmp_path / "six.m4a", tone(48000, 6), 48000))
    assert a.layout == "5.1"


@pytest.mark.parametrize("channels", [1, 2, 6, 8])
@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_any_channel_count_decodes_and_renders_with_sound(tmp_path, channels, fmt):
    """7.1 used to crash the process (ffmpeg's resampler); every channel keeps its level,
    and the video gets a stereo track with the front channels in it."""
    sr = 8000
    path = write_sf(tmp_path / f"c{channels}.{fmt}", tone(sr, channels, seconds=1.0), sr)
    a = decode_audio(path)
    assert a.samples.shape == (channels, sr)
    want = tone(sr, channels, seconds=1.0)
    np.testing.assert_allclose(a.samples, want, atol=2e-4)
    stereo = a.stereo()
    assert stereo.shape[0] == min(channels, 2) and np.abs(stereo).max() <= 1.0
    if channels > 2:      # FL only on the left, FR only on the right, LFE (index 3) left out
        assert np.abs(stereo[0]).max() > 0.5 * np.abs(want[0]).max()
    if fmt != "flac":
        return
    out = tmp_path / f"c{channels}.mp4"
    r = run_afx("run", ROOT / "graphs" / "demo.yaml", "--audio", path, "-o", out,
                "--size", "32x18", "--fps", "5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    v = read_video(out)
    assert v["audio"] is not None and v["audio"]["channels"] == min(channels, 2)


def test_silence_is_valid(tmp_path):
    path = write_sf(tmp_path / "silence.wav", np.zeros((2, 4000), np.float32), 8000)
    a = decode_audio(path)
    assert a.samples.shape == (2, 4000) and not a.samples.any()


def test_out_of_range_float_samples_are_clipped(tmp_path):
    loud = np.array([[0.5, 1.5, -3.0, np.nan]], np.float32).repeat(100, axis=1)
    a = decode_audio(write_sf(tmp_path / "loud.wav", loud, 8000, subtype="FLOAT"))
    assert np.abs(a.samples).max() <= 1.0 and np.isfinite(a.samples).all()


# -- start and duration ----------------------------------------------------------------

def chirp(sr: int, channels: int, seconds: float) -> np.ndarray:
    """A rising tone: any misplaced sample shows up as a large difference."""
    t = np.arange(round(seconds * sr)) / sr
    x = 0.4 * np.sin(2 * np.pi * (200 * t + 60 * t ** 2))
    return np.stack([x * (1 - 0.3 * i) for i in range(channels)]).astype(np.float32)


@pytest.mark.parametrize("start,duration", [(0.0, 1.0), (0.75, 0.5), (3.3, 1.2), (5.0, 0.0),
                                            (6.5, 5.0)])
def test_start_and_duration_cut_exactly_in_wav(tmp_path, start, duration):
    sr = 22050
    original = chirp(sr, 2, 7.0)
    path = write_sf(tmp_path / "chirp.wav", original, sr, subtype="FLOAT")
    a = decode_audio(path, start=start, duration=duration)
    lo = round(start * sr)
    hi = original.shape[1] if not duration else min(lo + round(duration * sr), original.shape[1])
    np.testing.assert_array_equal(a.samples, original[:, lo:hi])


@pytest.mark.parametrize("name,kind", [("c.flac", "flac"), ("c.ogg", "vorbis"),
                                       ("c.mp3", "mp3"), ("c.m4a", "aac"),
                                       ("c.mkv", "video")])
def test_start_matches_the_full_decode(tmp_path, name, kind):
    """Seeking (or skipping) gives the same samples as decoding everything and cutting."""
    sr = 44100
    original = chirp(sr, 2, 6.0)
    path = (write_sf(tmp_path / name, original, sr) if kind == "flac"
            else write_lossy(tmp_path / name, kind, original, sr))
    full = decode_audio(path).samples
    for start in (0.4, 3.3):        # both sides of the distance where decoding seeks
        part = decode_audio(path, start=start, duration=1.0).samples
        lo = round(start * sr)
        assert part.shape == (2, sr)
        np.testing.assert_allclose(part, full[:, lo:lo + sr], atol=1e-5)


def render_ctx(**settings) -> FrameContext:
    return FrameContext(RenderSettings(**settings), torch.device("cpu"), torch.float32, Path("."))


def test_node_process_passes_start_and_duration(tmp_path):
    path = write_sf(tmp_path / "t.wav", tone(8000, 1, seconds=3.0), 8000)
    out = AudioFile().process(render_ctx(), path=str(path), start=1.0, duration=0.0)
    assert out["audio"].duration == pytest.approx(2.0)
    out = AudioFile().process(render_ctx(), path=str(path), start=0.5, duration=1.25)
    assert out["audio"].duration == pytest.approx(1.25)
    assert out["audio"].total == pytest.approx(1.25)       # the trimmed track ends there


def test_a_render_decodes_only_the_span_it_shows(tmp_path):
    """A long file, a short render from its middle: only that span and the analysis margins
    are decoded, and the samples sit where they belong in the track."""
    sr = 8000
    samples = tone(sr, 2, seconds=60.0)
    path = write_sf(tmp_path / "long.wav", samples, sr)
    a = AudioFile().process(render_ctx(start=30.0, duration=1.0), path=str(path), start=0.0,
                            duration=0.0)["audio"]
    lo, hi = 30.0 - audio.MARGIN_BEFORE, 31.0 + audio.MARGIN_AFTER
    assert a.offset == pytest.approx(lo) and a.end == pytest.approx(hi)
    assert a.total is None                                  # the track goes on
    np.testing.assert_allclose(a.samples, samples[:, round(lo * sr):round(hi * sr)], atol=1e-4)
    whole = AudioFile().process(render_ctx(start=30.0), path=str(path), start=0.0,
                                duration=0.0)["audio"]      # no duration: to the end
    assert whole.offset == pytest.approx(lo) and whole.total == pytest.approx(60.0)


def test_a_render_past_the_end_names_the_start(tmp_path):
    path = write_sf(tmp_path / "t.wav", tone(8000, 1, seconds=3.0), 8000)
    with pytest.raises(NodeInputError) as e:
        AudioFile().process(render_ctx(start=20.0, duration=1.0), path=str(path), start=0.0,
                            duration=0.0)
    assert e.value.issue.field == "start" and "3.00 s long" in str(e.value)


# -- files that cannot be used ---------------------------------------------------------

def truncated(tmp_path: Path, name: str, samples, sr, writer, keep: float) -> Path:
    path = writer(tmp_path / name, samples, sr)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


BAD_FILES = {
    "empty": (lambda d: write_bytes(d / "empty.wav", b""),
              r"'empty\.wav' is empty \(0 bytes\)"),
    "missing": (lambda d: d / "nowhere.mp3", r"file not found: .*nowhere\.mp3"),
    "folder": (lambda d: d, r"is a folder, not an audio file"),
    "truncated flac": (lambda d: truncated(d, "cut.flac", tone(44100, 2, 2.0), 44100,
                                           write_sf, 0.5),
                       r"'cut\.flac' is (damaged or )?truncated"),
    "truncated mp3": (lambda d: truncated(d, "cut.mp3", tone(44100, 2, 2.0), 44100,
                                          write_mp3, 0.5),
                      r"'cut\.mp3' is truncated: its header says 2\.00 s"),
    "truncated wav": (lambda d: truncated(d, "cut.wav", tone(8000, 1, 2.0), 8000,
                                          write_sf, 0.5),
                      r"'cut\.wav' is truncated: its header says 2\.00 s"),
    "random bytes": (lambda d: write_bytes(d / "noise.wav", np.random.default_rng(0).bytes(4000)),
                     r"'noise\.wav' is not an audio file that can be read"),
    "text as mp3": (lambda d: write_bytes(d / "notes.mp3", "not music\n" * 50),
                    r"'notes\.mp3' is not an audio file"),
    "png as mp3": (lambda d: write_png(d / "cover.mp3"),
                   r"'cover\.mp3' is an image \(png\), not an audio file"),
    "video without sound": (lambda d: write_av(d / "silent.mp4", None, video=True, seconds=1),
                            r"'silent\.mp4' has no audio track"),
    "header only": (lambda d: write_sf(d / "none.wav", np.zeros((2, 0), np.float32), 8000),
                    r"'none\.wav' contains no audio samples"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_give_a_clear_error(tmp_path, case):
    make, message = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(NodeInputError, match=message) as e:
        decode_audio(path)
    assert e.value.issue.field == "path"


def test_no_file_given():
    for path in ("", None, "   "):
        with pytest.raises(NodeInputError, match="^path: no audio file given$"):
            decode_audio(path)


@pytest.mark.parametrize("name,kind", [("t.wav", "wav"), ("t.flac", "flac"),
                                       ("t.mp3", "mp3"), ("t.m4a", "aac")])
def test_start_past_the_end(tmp_path, name, kind):
    samples = tone(22050, 2, seconds=2.0)
    path = (write_sf(tmp_path / name, samples, 22050) if kind in ("wav", "flac")
            else write_lossy(tmp_path / name, kind, samples, 22050))
    for start in (2.5, 60.0):       # decoded through, and sought past the end
        message = rf"start {start:g} s is past the end of '{name}' \(2\.\d\d s long\)"
        with pytest.raises(NodeInputError, match=message):
            decode_audio(path, start=start)


def test_damaged_files_never_leak_ffmpeg_errors(tmp_path):
    """Cut or scribbled-over files of every kind either decode or raise NodeInputError."""
    samples = tone(22050, 2, seconds=1.0)
    rng = np.random.default_rng(1)
    sources = [write_sf(tmp_path / "s.wav", samples, 22050),
               write_sf(tmp_path / "s.flac", samples, 22050),
               write_sf(tmp_path / "s.ogg", samples, 22050, format="OGG", subtype="VORBIS"),
               write_mp3(tmp_path / "s.mp3", samples, 22050),
               write_av(tmp_path / "s.m4a", samples, 22050)]
    for src in sources:
        data = src.read_bytes()
        variants = [data[:n] for n in (1, 10, 44, 200, len(data) // 3)]
        for _ in range(4):
            b = bytearray(data)
            at = int(rng.integers(0, len(b) - 64))
            b[at:at + 64] = rng.bytes(64)
            variants.append(bytes(b))
        for i, variant in enumerate(variants):
            path = tmp_path / f"bad{i}{src.suffix}"
            path.write_bytes(variant)
            try:
                a = decode_audio(path)
            except NodeInputError as e:
                assert e.issue.field == "path" and path.name in str(e)
            else:
                assert np.isfinite(a.samples).all() and np.abs(a.samples).max() <= 1.0


# -- through a patch and the real executor ---------------------------------------------

@pytest.fixture
def audio_registry():
    reg = Registry()
    reg.register_all(audio.NODES)
    return reg


def run_static(graph: Graph, node: str):
    plan = Plan(graph, targets=[node])
    return Executor(graph, device="cpu").evaluate_static(plan, graph.render_settings())[node]


def test_patch_reads_a_file_next_to_it(tmp_path, audio_registry):
    write_sf(tmp_path / "song.flac", tone(44100, 2, seconds=2.0), 44100)
    patch = tmp_path / "patch.yaml"
    patch.write_text("afx: 1\nnodes:\n  music: {type: audio.file, "
                     "params: {path: song.flac, start: 0.5}}\n")
    a = run_static(load_graph(patch, audio_registry), "music")["audio"]
    assert a.sr == 44100 and a.channels == 2 and a.duration == pytest.approx(1.5)
    assert a.source == tmp_path / "song.flac"


def test_patch_with_a_bad_file_names_node_and_field(tmp_path, audio_registry):
    path = write_bytes(tmp_path / "empty.mp3", b"")
    text = f"afx: 1\nnodes:\n  music: {{type: audio.file, params: {{path: '{path}'}}}}\n"
    g = Graph.from_patch(loads(text), audio_registry)
    with pytest.raises(NodeFailure) as e:
        run_static(g, "music")
    assert "node 'music' path: 'empty.mp3' is empty (0 bytes)" in str(e.value)


def test_patch_with_the_synth(audio_registry):
    """The synth's params in a patch are what a user hears: a stereo track of the patch's
    length, clearly audible, striking on every beat at the patch's tempo (not the default
    120); another seed is another track, and the same patch gives the same samples."""
    def render(seed: int):
        g = Graph.from_patch(loads("afx: 1\nnodes:\n  music: {type: audio.synth, "
                                   f"params: {{tempo: 100, seed: {seed}, length: 6}}}}\n"),
                             audio_registry)
        g.check()
        return run_static(g, "music")["audio"]

    a = render(3)
    sr, hop, beat = 44100, 256, 60.0 / 100
    assert a.sr == sr and a.samples.shape == (2, 6 * sr)
    assert rms(a.mono) > 0.05                                   # not silent, not a whisper
    env = onset_envelope(a.mono, sr, hop)
    at_beats = [env[max(i - 2, 0):i + 3].max()
                for i in (round(k * beat * sr / hop) for k in range(10))]   # 10 beats in 6 s
    assert min(at_beats) > 2 * np.percentile(env, 90)           # a strike on every beat
    period = strongest_period(env, hop / sr, 0.2, 2.0) / beat   # repeats on whole beats
    assert round(period) >= 1 and abs(period - round(period)) < 0.02
    assert render(3).samples.tobytes() == a.samples.tobytes()
    assert not np.array_equal(render(4).samples, a.samples)


def test_node_declarations():
    for cls in audio.NODES:
        spec = cls.spec
        assert spec.category == "Audio" and spec.rate == "static"
        assert spec.title and spec.outputs["audio"].type.id == "audio"
        assert all(p.doc for p in spec.params.values()), spec.id
        spec.to_dict()
    assert AudioFile.spec.params["path"].kind == "path"
    assert {c.spec.id for c in audio.NODES} == {"audio.file", "audio.synth", "audio.input"}


# -- the synth track -------------------------------------------------------------------

def onset_envelope(mono: np.ndarray, sr: int, hop: int = 256) -> np.ndarray:
    """Rise of short-time energy, one value per hop: peaks where something strikes."""
    frames = mono[:len(mono) // hop * hop].reshape(-1, hop)
    energy = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
    return np.maximum(np.diff(energy, prepend=0.0), 0.0)


def test_synth_is_deterministic():
    a = synth_track(120.0, 7, 4.0).samples
    b = synth_track(120.0, 7, 4.0).samples
    assert a.tobytes() == b.tobytes()
    c = synth_track(120.0, 8, 4.0).samples
    assert a.shape == c.shape and not np.array_equal(a, c)


def test_synth_format_and_level():
    a = AudioSynth().process(None, tempo=120.0, seed=0, length=12.0)["audio"]
    assert a.sr == 44100 and a.channels == 2 and a.layout == "stereo" and a.source is None
    assert a.samples.dtype == np.float32 and a.samples.shape[1] == 12 * 44100
    assert np.abs(a.samples).max() == pytest.approx(10 ** (-1 / 20), abs=1e-4)   # -1 dBFS
    assert not np.array_equal(a.samples[0], a.samples[1])                        # real stereo


def strongest_period(env: np.ndarray, step: float, lo: float, hi: float) -> float:
    """The lag (seconds, within [lo, hi]) at which the envelope best matches itself."""
    e = env - env.mean()
    ac = np.correlate(e, e, "full")[len(e) - 1:]
    lags = np.arange(len(ac)) * step
    inside = (lags >= lo) & (lags <= hi)
    return float(lags[inside][np.argmax(ac[inside])])


@pytest.mark.parametrize("tempo,seed", [(120.0, 0), (93.0, 5), (174.0, 11), (240.0, 9)])
def test_synth_has_a_beat(tempo, seed):
    """A strong onset on every beat of the bars with a kick, and the track repeats itself
    at the beat period."""
    sr, hop, length = 44100, 256, 16.0
    a = synth_track(tempo, seed, length)
    env = onset_envelope(a.mono, sr, hop)
    beat = 60.0 / tempo
    at_beats, between = [], []
    for k in range(int(length / beat) - 1):
        if audio._SECTIONS[section_of(k // 4)][0] == 0:     # the breakdown has no kick
            continue
        i = round(k * beat * sr / hop)
        at_beats.append(env[max(i - 2, 0):i + 3].max())
        j = round((k + 0.375) * beat * sr / hop)             # between two eighth notes
        between.append(env[j - 1:j + 2].max())
    assert min(at_beats) > 2 * np.percentile(env, 90)
    assert np.median(at_beats) > 2 * np.median(between)
    period = strongest_period(env, hop / sr, 0.2, 2.0) / beat   # one beat, or two
    assert abs(period - round(period)) < 0.02 and round(period) in (1, 2)


def test_synth_energy_changes_with_the_sections():
    tempo = 120.0
    a = synth_track(tempo, 0, 20.0)
    bar = round(4 * 60 / tempo * a.sr)
    level = {}
    for b in range(a.samples.shape[1] // bar):
        level.setdefault(section_of(b), []).append(rms(a.mono[b * bar:(b + 1) * bar]))
    full = np.mean(level["full"])
    assert np.mean(level["intro"]) < 0.8 * full
    assert np.mean(level["breakdown"]) < 0.5 * full


def test_synth_lengths_and_tempos_at_the_limits():
    for tempo, length in ((40.0, 0.5), (240.0, 0.5), (240.0, 7.3)):
        a = synth_track(tempo, 2**31 - 1, length)
        assert a.samples.shape == (2, round(length * 44100))
        assert np.isfinite(a.samples).all() and np.abs(a.samples).max() > 0.5
