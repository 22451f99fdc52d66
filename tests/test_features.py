"""features.spectrum and features.onsets on audio made here: clicks, sine bursts, silence."""
import math

import numpy as np
import pytest
import torch

from afx_graph import (AUDIO, Audio, Executor, Graph, NodeFailure, Out, Param, Plan, Registry,
                       RenderSettings, Timeline, loads, node)
from afx_graph.context import FrameContext
from afx_graph.errors import NodeInputError
from afx_graph.nodes import features
from afx_graph.nodes.features import Onsets, Spectrum, smooth

SPECTRUM_DEFAULTS = {n: p.default for n, p in Spectrum.spec.params.items()}
ONSETS_DEFAULTS = {n: p.default for n, p in Onsets.spec.params.items()}


# -- audio and helpers ----------------------------------------------------------------------

def audio(samples, sr) -> Audio:
    return Audio(np.asarray(samples, dtype=np.float32)[None], sr)


def context(fps, tmp_path=None) -> FrameContext:
    return FrameContext(settings=RenderSettings(size=(64, 64), fps=fps), device=torch.device("cpu"),
                        dtype=torch.float32, out_dir=tmp_path)


def spectrum(a, fps=30, **params):
    return Spectrum().process(context(fps), audio=a, **{**SPECTRUM_DEFAULTS, **params})


def onsets(a, fps=30, **params):
    return Onsets().process(context(fps), audio=a, **{**ONSETS_DEFAULTS, **params})


def rows(seconds, sr, fps):
    """ceil(duration * fps) for a track of round(seconds * sr) samples."""
    return max(1, math.ceil(round(seconds * sr) / sr * fps - 1e-9))


def click_track(sr, seconds=10.0, bpm=120.0, first=0.5):
    """Short decaying 1 kHz ticks every 60/bpm seconds; returns the samples and tick times."""
    y = np.zeros(int(seconds * sr), np.float32)
    t = np.arange(int(0.03 * sr)) / sr
    tick = (0.8 * np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.005)).astype(np.float32)
    times = np.arange(first, seconds - 0.05, 60.0 / bpm)
    for s in times:
        i = int(round(s * sr))
        y[i:i + len(tick)] += tick[:len(y) - i]
    return y, times


def bursts(sr, seconds=4.0):
    """A 60 Hz sine in [0.5, 1.5) s and a 6 kHz sine in [2.5, 3.5) s, silence elsewhere."""
    t = np.arange(int(seconds * sr)) / sr
    low = ((t >= 0.5) & (t < 1.5)) * np.sin(2 * np.pi * 60 * t)
    high = ((t >= 2.5) & (t < 3.5)) * np.sin(2 * np.pi * 6000 * t)
    return (0.5 * (low + high)).astype(np.float32)


def between(fps, start, end, n):
    """Frame indices strictly inside [start, end) seconds, a 0.1 s margin each side."""
    f = np.arange(n)
    return f[(f / fps >= start + 0.1) & (f / fps < end - 0.1)]


# -- declarations ---------------------------------------------------------------------------

def test_nodes_are_declared_and_registered():
    reg = Registry().load_builtins()
    for cls in features.NODES:
        spec = reg.get(cls.spec.id)
        assert spec.category == "Features" and spec.rate == "static"
        assert spec.title and spec.inputs["audio"].type is AUDIO
        assert all(p.doc for p in spec.params.values())
        # a whole-track analysis cannot be modulated per frame
        assert not any(p.linkable for p in spec.params.values())
    assert set(Spectrum.spec.outputs) == {"features", "band_levels", "bass", "mid", "treble",
                                          "rms", "centroid", "flux"}
    assert set(Onsets.spec.outputs) == {"strength", "beat", "features", "tempo"}


# -- shape: one row per video frame ---------------------------------------------------------

@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000])
@pytest.mark.parametrize("fps", [24, 25, 29.97, 30, 60])
@pytest.mark.parametrize("seconds", [0.01, 1.0, 2.5])
def test_one_row_per_video_frame(sr, fps, seconds):
    rng = np.random.default_rng(sr)
    a = audio(0.3 * rng.standard_normal(round(seconds * sr)), sr)
    n = rows(seconds, sr, fps)
    out = spectrum(a, fps, bands=5)
    tl = out["features"]
    assert tl.values.shape == (n, 3 + 5 + 4) and tl.fps == fps
    assert tl.names == ("bass", "mid", "treble", "band0", "band1", "band2", "band3", "band4",
                        "rms", "centroid", "rolloff", "flux")
    assert out["band_levels"].names == tuple(f"band{i}" for i in range(5))
    assert out["band_levels"].values.shape == (n, 5)
    for name in ("bass", "mid", "treble", "rms", "centroid", "flux"):
        assert out[name].names == (name,) and out[name].values.shape == (n, 1)
    assert np.isfinite(tl.values).all() and np.abs(tl.values).max() <= 1.0

    on = onsets(a, fps)
    assert on["features"].names == ("onset", "beat", "beat_phase")
    for key in ("strength", "beat", "features"):
        v = on[key].values
        assert len(v) == n and np.isfinite(v).all() and v.min() >= 0.0 and v.max() <= 1.0
    assert isinstance(on["tempo"], float)


@pytest.mark.parametrize("sr", [16000, 96000])
def test_other_sample_rates(sr):
    a = audio(bursts(sr), sr)
    v = spectrum(a, 25)["features"].values
    assert v.shape[0] == 100 and np.isfinite(v).all()
    assert len(onsets(a, 25)["features"].values) == 100


# -- spectrum content -----------------------------------------------------------------------

@pytest.mark.parametrize("sr", [22050, 44100])
def test_bass_and_treble_follow_a_low_then_a_high_burst(sr):
    fps = 30
    out = spectrum(audio(bursts(sr), sr), fps, release=0.0)
    tl = out["features"]
    low, high = between(fps, 0.5, 1.5, len(tl.values)), between(fps, 2.5, 3.5, len(tl.values))
    bass, treble = out["bass"].values[:, 0], out["treble"].values[:, 0]
    assert bass[low].mean() > 0.8 and bass[high].mean() < -0.8
    assert treble[high].mean() > 0.8 and treble[low].mean() < -0.8
    # the low burst lights up the lowest bands, the high burst the upper ones
    b = out["band_levels"].values
    assert b[low].mean(0).argmax() <= 1 and b[high].mean(0).argmax() >= 5
    # brightness: the centroid is low during the 60 Hz tone, high during the 6 kHz one
    centroid = out["centroid"].values[:, 0]
    assert centroid[low].mean() < -0.8 and centroid[high].mean() > 0.8
    # every column spans the track: -1 at its quietest, 1 at its loudest
    v = tl.values
    assert np.isclose(v.min(0), -1).all() and np.isclose(v.max(0), 1).all()


def test_loudness_tracks_level():
    sr, fps = 22050, 30
    t = np.arange(3 * sr) / sr
    level = np.where(t < 1, 0.01, np.where(t < 2, 0.1, 0.8))   # -40, -20, -2 dBFS steps
    tone = audio(level * np.sin(2 * np.pi * 440 * t), sr)
    rms = spectrum(tone, fps, release=0.0)["rms"].values[:, 0]
    n = len(rms)
    means = [rms[between(fps, a, a + 1, n)].mean() for a in (0, 1, 2)]
    assert means[0] < means[1] < means[2]
    assert means[0] < -0.9 and means[2] > 0.9


def test_fmax_is_clipped_to_nyquist_and_must_exceed_fmin():
    a = audio(bursts(8000), 8000)           # Nyquist 4 kHz: no treble range at all
    out = spectrum(a, 30, fmax=16000.0)
    assert np.all(out["treble"].values == 0.0)
    assert np.isfinite(out["features"].values).all()
    with pytest.raises(NodeInputError, match="fmax"):
        spectrum(a, 30, fmin=2000.0, fmax=1000.0)


def test_many_narrow_bands_have_no_empty_column():
    sr = 44100                                 # 64 bands from 10 Hz: the lowest are < 1 FFT bin
    t = np.arange(3 * sr) / sr
    noise = np.random.default_rng(1).standard_normal(len(t)) * ((t >= 1) & (t < 2))
    out = spectrum(audio(0.3 * noise, sr), 30, bands=64, fmin=10.0)
    b = out["band_levels"].values
    assert b.shape[1] == 64 and np.all(b.max(0) - b.min(0) > 1.0)


# -- silent, constant and tiny audio ----------------------------------------------------------

@pytest.mark.parametrize("samples", [np.zeros(3 * 22050), np.full(3 * 22050, 0.5),
                                     0.5 * np.sin(2 * np.pi * 440 * np.arange(3 * 22050) / 22050)],
                         ids=["silence", "dc", "steady-tone"])
def test_silent_and_constant_audio_stay_finite(samples):
    a = audio(samples, 22050)
    v = spectrum(a, 30, release=0.0)["features"].values
    assert v.shape == (90, 15) and np.isfinite(v).all() and np.abs(v).max() <= 1
    on = onsets(a, 30)
    assert on["tempo"] == 0.0 and np.all(on["beat"].values == 0.0)
    assert np.isfinite(on["features"].values).all()
    if not samples.any():
        assert np.all(v == 0.0) and np.all(on["features"].values == 0.0)
    else:   # steady in the middle: the columns hold still there (only the ends move)
        assert np.ptp(v[10:-10], axis=0).max() < 0.05


def test_audio_shorter_than_a_window():
    a = audio(0.5 * np.sin(np.arange(441)), 44100)          # 10 ms
    for fps in (24, 60, 120):
        v = spectrum(a, fps)["features"].values
        assert len(v) == math.ceil(0.01 * fps) and np.isfinite(v).all()
        on = onsets(a, fps)
        assert len(on["features"].values) == len(v) and on["tempo"] == 0.0


# -- smoothing ----------------------------------------------------------------------------

def test_release_slows_the_fall_after_a_burst():
    sr, fps = 22050, 30
    t = np.arange(3 * sr) / sr
    y = 0.5 * np.sin(2 * np.pi * 440 * t) * (t < 1.0)
    fast = spectrum(audio(y, sr), fps, release=0.0)["rms"].values[:, 0]
    slow = spectrum(audio(y, sr), fps, release=1.0)["rms"].values[:, 0]
    after = 30 + 6                                # 0.2 s after the burst ends
    assert fast[after] == -1.0
    assert slow[after] > 0.5                      # 2 * exp(-0.2) - 1 = 0.64
    assert slow[after + 30] < slow[after]         # but it does fall
    # while it rises, the release setting changes nothing
    assert np.allclose(fast[3:28], slow[3:28])


def test_attack_slows_the_rise():
    sr, fps = 22050, 30
    t = np.arange(3 * sr) / sr
    y = 0.5 * np.sin(2 * np.pi * 440 * t) * (t >= 1.0)
    instant = spectrum(audio(y, sr), fps, attack=0.0)["rms"].values[:, 0]
    slow = spectrum(audio(y, sr), fps, attack=0.5)["rms"].values[:, 0]
    assert instant[33] == 1.0
    # half a second (one time constant) in it has covered 1 - 1/e of the way from -1 to 1
    assert slow[30 + 15] == pytest.approx(-1 + 2 * (1 - math.exp(-1)), abs=0.15)


def test_smoother_time_constants():
    fps = 50
    step = np.r_[np.zeros(10), np.ones(200), np.zeros(200)][:, None].astype(np.float32)
    y = smooth(step, fps, attack=0.2, release=1.0)[:, 0]
    # after one time constant a one-pole filter has covered 1 - 1/e of the step
    assert y[10 + 10 - 1] == pytest.approx(1 - math.exp(-1), abs=0.02)
    top = y[209]
    assert y[209 + 50] == pytest.approx(top * math.exp(-1), abs=0.02)
    assert np.array_equal(smooth(step, fps, 0.0, 0.0), step)
    same = smooth(step, fps, 0.3, 0.3)[:, 0]          # the linear fast path
    assert same[10 + 15 - 1] == pytest.approx(1 - math.exp(-1), abs=0.02)


# -- onsets and beats -----------------------------------------------------------------------

@pytest.mark.parametrize("sr,fps", [(44100, 30), (22050, 25), (48000, 60), (8000, 29.97)])
def test_click_track_at_120_bpm(sr, fps):
    y, clicks = click_track(sr)
    out = onsets(audio(y, sr), fps)
    assert out["tempo"] == pytest.approx(120.0, rel=0.05)
    beat = out["beat"].values[:, 0]
    on_beat = np.flatnonzero(beat == 1.0)
    assert len(on_beat) >= 15
    # beats every half second, on the clicks
    assert np.median(np.diff(on_beat)) == pytest.approx(fps / 2, abs=1)
    nearest_click = np.abs(on_beat[:, None] / fps - clicks[None, :]).min(axis=1)
    assert nearest_click.max() <= 1.5 / fps
    # the pulse decays by exp(-1/(fps * decay)) a frame later and never leaves [0, 1]
    decay = ONSETS_DEFAULTS["decay"]
    assert beat[on_beat[3] + 1] == pytest.approx(math.exp(-1 / (fps * decay)), rel=1e-4)
    assert beat.min() >= 0 and beat.max() == 1.0
    # the phase is 0 on each beat and ramps up in between
    phase = out["features"].values[:, 2]
    assert np.all(phase[on_beat] == 0.0)
    mid = (on_beat[3] + on_beat[4]) // 2
    assert 0.3 < phase[mid] < 0.7 and phase.max() < 1.0
    # onset strength peaks on the clicks
    strength = out["strength"].values[:, 0]
    assert strength.max() == 1.0
    peaks = np.round(clicks * fps).astype(int)
    assert strength[peaks].mean() > 5 * np.median(strength)


def test_beat_decay_param():
    y, _ = click_track(22050, seconds=6.0)
    short = onsets(audio(y, 22050), 30, decay=0.05)["beat"].values[:, 0]
    long = onsets(audio(y, 22050), 30, decay=2.0)["beat"].values[:, 0]
    first = np.flatnonzero(short == 1.0)[0]
    assert long[first + 5] > 0.9 > 0.1 > short[first + 5]


def test_tempo_follows_the_clicks():
    y, _ = click_track(22050, seconds=12.0, bpm=100.0)
    assert onsets(audio(y, 22050), 30)["tempo"] == pytest.approx(100.0, rel=0.05)


# -- through the engine ---------------------------------------------------------------------

@node("testfeat.bursts", category="Test")
class Bursts:
    """A low then a high sine burst (4 s)."""
    sr = Param(int, 22050, min=8000, max=96000, doc="sample rate")
    audio = Out(AUDIO)

    def process(self, ctx, sr):
        return {"audio": audio(bursts(sr), sr)}


PATCH = """\
afx: 1
settings: {size: [16, 16], fps: FPS}
nodes:
  music: {type: testfeat.bursts}
  spec: {type: features.spectrum, params: {bands: 4, release: 0.0}, inputs: {audio: music.audio}}
  beats: {type: features.onsets, inputs: {audio: music.audio}}
  img: {type: test.image, inputs: {level: spec.bass}}
  sink: {type: test.sink, inputs: {image: img.out, value: beats.tempo}}
"""


@pytest.fixture
def engine_registry(registry):
    registry.register_all(features.NODES)
    registry.register(Bursts)
    return registry


@pytest.mark.parametrize("fps", [24, 29.97])
def test_in_a_patch_frames_follow_the_bass(engine_registry, fps):
    g = Graph.from_patch(loads(PATCH.replace("FPS", str(fps))), engine_registry)
    g.check()
    ex = Executor(g, device="cpu")
    plan = Plan(g)
    assert plan.rate["spec"] == "static" and plan.rate["beats"] == "static"
    stats = ex.render(plan, g.render_settings(), batch=16)
    assert stats.frames == math.floor(4 * fps + 1e-6)
    static = ex.evaluate_static(plan, g.render_settings())
    tl = static["spec"]["features"]
    assert isinstance(tl, Timeline) and len(tl.values) == math.ceil(4 * fps - 1e-9)
    assert ex.calls["spec"] == 1                      # cached on the second evaluation
    # the image is bright during the low burst, dark during the high one
    means = np.asarray(ex.instance("sink").means)
    low, high = between(fps, 0.5, 1.5, len(means)), between(fps, 2.5, 3.5, len(means))
    assert means[low].mean() > 0.4 and means[high].mean() < 0.05


def test_bad_fmax_is_a_located_user_error(engine_registry):
    text = PATCH.replace("FPS", "30").replace("{bands: 4, release: 0.0}",
                                              "{fmin: 2000, fmax: 1000}")
    g = Graph.from_patch(loads(text), engine_registry)
    g.check()
    with pytest.raises(NodeFailure) as e:
        Executor(g, device="cpu").evaluate_static(Plan(g), g.render_settings())
    assert e.value.issue.node == "spec" and e.value.issue.field == "fmax"


@pytest.mark.parametrize("bpm", [90.0, 128.0, 174.0])
def test_beats_are_librosas(bpm):
    """features.onsets runs Ellis' beat tracker in numpy (librosa.beat builds numba kernels at
    import: ~2.5 s of every fresh render). It must find librosa's beats exactly: on kicks with
    noise, on the built-in synth song, at several tightnesses."""
    import librosa.beat
    import librosa.feature.rhythm
    from media import beat_track as kicks
    from afx_graph.nodes.audio import synth_track

    rng = np.random.default_rng(int(bpm))
    y = kicks(12.0, 22050, bpm=bpm)
    tracks = [Audio(y + 0.05 * rng.standard_normal(y.shape).astype(np.float32), 22050),
              synth_track(tempo=bpm, seed=int(bpm), length=12.0)]
    for audio in tracks:
        env, rate = features.onset_envelope(audio)
        tempo = float(librosa.feature.rhythm.tempo(onset_envelope=env, sr=features.ONSET_SR,
                                                   hop_length=features.ONSET_HOP)[0])
        for tightness in (100.0, 80.3, 400.0):
            ours = features.ellis_beats(env, rate, tempo, tightness)
            _, ref = librosa.beat.beat_track(onset_envelope=env, sr=features.ONSET_SR,
                                             hop_length=features.ONSET_HOP, tightness=tightness)
            assert len(ref) > 10
            np.testing.assert_array_equal(ours, ref)


# -- nodes/rhythm.py: librosa's onset strength and tempo without librosa's imports -----------
@pytest.mark.parametrize("sr,bpm,seconds", [(44100, 96, 12.0), (22050, 140, 9.0),
                                            (48000, 70, 15.0), (22050, 120, 0.05)])
def test_rhythm_gives_librosas_onset_strength_and_tempo(sr, bpm, seconds):
    """The demo's onset node no longer imports librosa (2.3 s of start-up); what it computes
    must stay librosa's: the same resampling, onset envelope and tempo."""
    import librosa
    import librosa.feature.rhythm
    from afx_graph.nodes import rhythm
    rng = np.random.default_rng(bpm)
    t = np.arange(int(sr * seconds)) / sr
    y = (0.2 * rng.standard_normal(len(t)) * (np.mod(t, 60 / bpm) < 0.03)
         + 0.1 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    ours = rhythm.resample(y, sr, 22050) if sr != 22050 else y
    theirs = librosa.resample(y, orig_sr=sr, target_sr=22050) if sr != 22050 else y
    assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
    ours = np.pad(ours, (0, max(0, 2048 - len(ours))))
    env = rhythm.onset_strength(ours, 22050, 256)
    ref = librosa.onset.onset_strength(y=ours, sr=22050, hop_length=256)
    assert env.shape == ref.shape and env.dtype == ref.dtype
    np.testing.assert_allclose(env, ref, rtol=0, atol=1e-5 * max(1.0, float(ref.max())))
    if seconds > 5:
        assert abs(rhythm.tempo(ref.astype(np.float64), 22050, 256) - bpm) < 3
    assert rhythm.tempo(ref.astype(np.float64), 22050, 256) == pytest.approx(float(
        librosa.feature.rhythm.tempo(onset_envelope=ref.astype(np.float64), sr=22050,
                                     hop_length=256)[0]))
    np.testing.assert_allclose(rhythm.mel_filters(22050),
                               librosa.filters.mel(sr=22050, n_fft=2048, fmax=11025), atol=1e-9)


def test_rhythm_helpers_are_scipys():
    import scipy.fft
    import scipy.ndimage
    import scipy.signal
    from afx_graph.nodes import rhythm
    assert [rhythm.next_fast_len(n) for n in range(1, 3000)] == \
        [scipy.fft.next_fast_len(n, real=True) for n in range(1, 3000)]
    x = np.random.default_rng(0).random(500)
    for size in range(1, 9):
        assert np.array_equal(rhythm.running_max(x, size),
                              scipy.ndimage.maximum_filter1d(x, size, mode="nearest"))
    np.testing.assert_allclose(rhythm.hann(2048), scipy.signal.get_window("hann", 2048), atol=1e-15)

