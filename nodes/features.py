"""Whole-track audio features at the video frame rate.

Both nodes are static: they analyse the whole track once per render and return
:class:`~afx_graph.types.Timeline` values with exactly one row per video frame,
``T = ceil(duration * fps)``, row ``i`` describing the audio around ``i / fps`` seconds.

* ``features.spectrum``: log-spaced band energies and spectral descriptors, each column
  normalised per track to [-1, 1], with an optional attack/release smoother.
* ``features.onsets``: onset strength, a decaying beat pulse, the beat phase and the tempo.

Silent, constant and very short audio are valid input: every value comes out finite.
"""
from __future__ import annotations

import math

import numpy as np

from afx_graph.errors import NodeInputError
from afx_graph.nodes import causal, rhythm
from afx_graph.spec import In, Out, Param, node
from afx_graph.types import AUDIO, SCALAR, TIMELINE, Audio, Timeline

POWER_FLOOR = 1e-10          # -100 dB re a full-scale sine: the floor of every energy
TOP_DB = 60.0                # anything further below the track's loudest moment counts as silence
WINDOW_SECONDS = 0.046       # analysis window (2048 samples at 44.1 kHz)
ANALYSIS_RATE = 80.0         # at least this many analysis windows per second
CHUNK_WINDOWS = 2048         # analysis windows per FFT batch (bounds memory on long tracks)
ROLLOFF = 0.85               # fraction of the power below the roll-off frequency
PERCENTILES = (2.0, 98.0)    # robust range mapped to [-1, 1]
# smallest half-range a column is stretched over, so a steady signal stays near 0
MIN_HALF_DB, MIN_HALF_OCTAVES, MIN_HALF_FLUX = 3.0, 0.1, 0.05
NAMED_BANDS = (("bass", 30.0, 250.0), ("mid", 250.0, 4000.0), ("treble", 4000.0, math.inf))
DESCRIPTORS = ("rms", "centroid", "rolloff", "flux")

ONSET_SR = 22050             # librosa's onset and beat tools are tuned for this rate
ONSET_HOP = 256              # 11.6 ms: a 120 BPM period is a whole number of hops (43)
ONSET_MIN_SAMPLES = 2048     # one onset FFT window
# librosa's onset strength is a mean rise in dB relative to the track's peak: below this
# nothing starts (a steady tone only shows a blip where the file begins)
MIN_ONSET_DB = 0.5
MIN_BEATS = 2                # a single "beat" is no beat track


# -- shared helpers -------------------------------------------------------------------------

def frame_count(audio: Audio, fps: float) -> int:
    """Rows of a timeline covering ``audio`` at ``fps``: ceil(duration * fps), at least 1."""
    return max(1, math.ceil(audio.duration * fps - 1e-6))


def frame_times(n_frames: int, fps: float) -> np.ndarray:
    """Seconds of each video frame."""
    return np.arange(n_frames) / float(fps)


def one_pole_coeff(seconds: float, fps: float) -> float:
    """Per-frame coefficient of a one-pole smoother with time constant ``seconds``
    (1.0, i.e. no smoothing, for 0)."""
    return 1.0 if seconds <= 0 else float(1.0 - math.exp(-1.0 / (seconds * fps)))


def smooth(values: np.ndarray, fps: float, attack: float, release: float) -> np.ndarray:
    """Attack/release one-pole smoothing of each column of ``(T, D)`` values at the frame
    rate: a rising column follows with time constant ``attack``, a falling one with
    ``release``. Starts at the first row. The output stays within the input's range."""
    up, down = one_pole_coeff(attack, fps), one_pole_coeff(release, fps)
    if up == 1.0 and down == 1.0 or len(values) < 2:
        return values
    x = values.astype(np.float64)
    # (scipy.signal.lfilter did the linear case: its import alone cost 0.9 s of start-up)
    out = np.empty_like(x)
    y = x[0].copy()
    for n in range(len(x)):   # one vector step per frame, all columns at once
        d = x[n] - y
        y += np.where(d > 0, up, down) * d
        out[n] = y
    return out.astype(np.float32)


def normalise(raw: np.ndarray, min_half: np.ndarray) -> np.ndarray:
    """Map each column's 2nd..98th percentile to [-1, 1] and clip. Where that range is
    narrower than ``2 * min_half`` (a column that holds still most of the time) its full
    range is used instead, so rare events still reach 1; a column that varies less than
    ``min_half`` either side of its middle is stretched over ``min_half`` only, so a steady
    signal stays near 0 (a constant one is exactly 0)."""
    lo, hi = np.percentile(raw, PERCENTILES, axis=0)
    narrow = hi - lo < 2 * min_half
    lo = np.where(narrow, raw.min(axis=0, initial=np.inf), lo)
    hi = np.where(narrow, raw.max(axis=0, initial=-np.inf), hi)
    mid = (lo + hi) / 2
    half = np.maximum((hi - lo) / 2, min_half)
    out = np.clip((raw - mid) / half, -1.0, 1.0)
    return np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=-1.0).astype(np.float32)


def fill_gaps(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace invalid entries by the last valid one (the first valid one before it);
    all zeros when nothing is valid."""
    if not valid.any():
        return np.zeros_like(values)
    idx = np.where(valid, np.arange(len(values)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = np.argmax(valid)
    return values[idx]


def finite_mono(audio: Audio) -> np.ndarray:
    """The float32 mono mixdown, with any NaN or infinite sample replaced by 0."""
    y = audio.mono
    return y if np.isfinite(y).all() else np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)


def to_db(power: np.ndarray) -> np.ndarray:
    """Power to decibels with a -100 dB floor (finite for silence)."""
    return 10.0 * np.log10(np.maximum(power, 0.0) + POWER_FLOOR)


# -- spectrum analysis --------------------------------------------------------------------

def fft_size(sr: int) -> int:
    """A power of two close to ``WINDOW_SECONDS`` at ``sr`` (2048 at 44.1/48 kHz)."""
    return int(2 ** round(math.log2(WINDOW_SECONDS * sr)))


def window_centres(n_frames: int, fps: float, per_frame: int, sr: int) -> np.ndarray:
    """Sample index of each analysis window's centre: ``per_frame`` windows spread evenly
    over each video frame's period, centred on the frame's time; ordered in time."""
    offsets = (np.arange(per_frame) + 0.5) / per_frame - 0.5
    t = (np.arange(n_frames)[:, None] + offsets[None, :]) / float(fps)
    return np.round(t.reshape(-1) * sr).astype(np.int64)


def band_weights(freqs: np.ndarray, edges: np.ndarray, fill_empty: bool) -> np.ndarray:
    """``(bins, bands)`` 0/1 matrix putting each FFT bin into the band ``[lo, hi)`` around
    it (the top edge is inclusive). With ``fill_empty``, a band narrower than a bin takes
    the bin nearest its centre, so no band is silent for want of resolution."""
    lo, hi = edges[:-1], edges[1:]
    w = (freqs[:, None] >= lo) & (freqs[:, None] < hi)
    w[:, -1] |= freqs == hi[-1]
    if fill_empty:
        empty = np.flatnonzero(~w.any(axis=0))
        centres = np.sqrt(lo[empty] * hi[empty])
        w[np.abs(freqs[:, None] - centres).argmin(axis=0), empty] = True
    return w.astype(np.float32)


def spectrum_weights(freqs: np.ndarray, bands: int, fmin: float, fmax: float) -> np.ndarray:
    """Weights for the bass, mid and treble columns followed by ``bands`` log-spaced bands
    between ``fmin`` and ``fmax``. A named range above ``fmax`` gets no bins (a zero column)."""
    named = np.zeros((len(freqs), len(NAMED_BANDS)), np.float32)
    for j, (_, lo, hi) in enumerate(NAMED_BANDS):
        hi = min(hi, fmax)
        if hi > lo:
            named[:, j] = band_weights(freqs, np.array([lo, hi]), fill_empty=False)[:, 0]
    logs = band_weights(freqs, np.geomspace(fmin, fmax, bands + 1), fill_empty=True)
    return np.concatenate([named, logs], axis=1)


def windowed_power(frames: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Power spectra of ``(S, n_fft)`` frames, scaled so a full-scale sine peaks near 1, and
    each frame's mean-square level (so a full-scale sine has 0.5)."""
    import scipy.fft
    windowed = frames * window
    spec = scipy.fft.rfft(windowed, axis=1, workers=-1)
    scale = (2.0 / window.sum()) ** 2
    ms = np.einsum("ij,ij->i", windowed, windowed) / float(np.dot(window, window))
    return (spec.real ** 2 + spec.imag ** 2) * np.float32(scale), ms


def spectral_flux(power: np.ndarray, prev: np.ndarray | None,
                  floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean rise in dB per bin from each window to the next, ignoring power below ``floor``
    (``prev``: the log spectrum of the window before the first, or None at the start).
    Returns the flux and the last log spectrum, to carry into the next chunk."""
    logp = 10.0 * np.log10(np.maximum(power, floor))
    before = np.concatenate([logp[:1] if prev is None else prev[None], logp[:-1]])
    return np.maximum(logp - before, 0.0).mean(axis=1), logp[-1]


def frame_descriptors(power: np.ndarray, freqs: np.ndarray, weights: np.ndarray) -> dict:
    """Per-video-frame raw values from ``(Bv, bins)`` pooled power spectra: band energies,
    total power, centroid and roll-off frequencies (Hz, 0 where silent)."""
    total = power.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    centroid = np.where(total > 0, power @ freqs / safe, 0.0)
    cum = np.cumsum(power, axis=1)
    rolloff = freqs[np.argmax(cum >= ROLLOFF * cum[:, -1:], axis=1)]
    return {"energy": power @ weights, "total": total, "centroid": centroid,
            "rolloff": np.where(total > 0, rolloff, 0.0)}


def analyse_spectrum(y: np.ndarray, sr: int, fps: float, n_frames: int,
                     weights_for) -> dict[str, np.ndarray]:
    """Run the windowed FFT over the track in chunks of whole video frames and return the
    raw per-frame values of :func:`frame_descriptors` plus mean-square level and flux.

    ``weights_for(freqs)`` gives the band weight matrix for the FFT's bin frequencies."""
    n_fft = fft_size(sr)
    per_frame = max(1, math.ceil(ANALYSIS_RATE / fps))
    centres = window_centres(n_frames, fps, per_frame, sr)
    half = n_fft // 2
    left = half + max(0, -int(centres.min()))
    right = max(0, int(centres.max()) - half + n_fft - len(y))
    padded = np.pad(y.astype(np.float32), (left, right))
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_fft)
    starts = centres - half + left
    window = rhythm.hann(n_fft).astype(np.float32)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    weights = weights_for(freqs)
    step = max(1, CHUNK_WINDOWS // per_frame)
    # no bin can exceed 4 * peak**2 at this scaling: flux ignores bins TOP_DB below that
    peak = float(np.abs(y).max(initial=0.0))
    flux_floor = max(POWER_FLOOR, 4.0 * peak ** 2 * 10 ** (-TOP_DB / 10))
    parts, prev = [], None
    for f0 in range(0, n_frames, step):
        f1 = min(n_frames, f0 + step)
        frames = windows[starts[f0 * per_frame:f1 * per_frame]]
        power, ms = windowed_power(frames, window)
        flux, prev = spectral_flux(power, prev, flux_floor)
        pooled = power.reshape(f1 - f0, per_frame, -1).mean(axis=1)
        d = frame_descriptors(pooled, freqs, weights)
        d["ms"] = ms.reshape(f1 - f0, per_frame).mean(axis=1)
        d["flux"] = flux.reshape(f1 - f0, per_frame).mean(axis=1)
        parts.append(d)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def db_above_floor(power: np.ndarray) -> np.ndarray:
    """Decibels, raised to ``TOP_DB`` below the loudest value: what is quieter than that is
    all the same silence (so a faint leak of a loud tone does not flicker)."""
    db = to_db(power)
    return np.maximum(db, db.max(initial=-np.inf) - TOP_DB)


def spectrum_columns(raw: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Raw analysis to ``(T, D)`` columns in log units (dB, octaves, dB of flux), in output
    order, with the smallest half-range :func:`normalise` should stretch each over."""
    gate = 10 ** (-TOP_DB / 10) * float(raw["total"].max(initial=0.0))
    audible = raw["total"] > max(POWER_FLOOR, gate)
    octaves = [fill_gaps(np.log2(np.maximum(raw[k], 1.0)), audible)
               for k in ("centroid", "rolloff")]
    cols = np.column_stack([db_above_floor(raw["energy"]), db_above_floor(raw["ms"]), *octaves,
                            raw["flux"]])
    n_db = raw["energy"].shape[1] + 1
    min_half = np.array([MIN_HALF_DB] * n_db + [MIN_HALF_OCTAVES] * 2 + [MIN_HALF_FLUX])
    return cols, min_half


# -- onsets and beats -----------------------------------------------------------------------

def onset_envelope(audio: Audio) -> tuple[np.ndarray, float]:
    """librosa's onset strength of the mono mixdown at 22.05 kHz (as nodes/rhythm.py computes
    it, without librosa's 2.3 s of imports), and its frame rate."""
    y = finite_mono(audio)
    if audio.sr != ONSET_SR:
        y = rhythm.resample(y, audio.sr, ONSET_SR)
    if len(y) < ONSET_MIN_SAMPLES:
        y = np.pad(y, (0, ONSET_MIN_SAMPLES - len(y)))
    env = rhythm.onset_strength(y, ONSET_SR, ONSET_HOP)
    return np.nan_to_num(env.astype(np.float64)), ONSET_SR / ONSET_HOP


def envelope_at_frames(env: np.ndarray, rate: float, n_frames: int, fps: float) -> np.ndarray:
    """The envelope at each video frame: the peak within about one frame period around the
    frame's time (so a short onset between two frames is not missed), scaled to [0, 1] by
    the track's strongest onset (or by ``MIN_ONSET_DB`` where all are weaker)."""
    pooled = rhythm.running_max(env, max(1, round(rate / fps)))
    out = np.interp(frame_times(n_frames, fps), np.arange(len(env)) / rate, pooled)
    top = max(float(out.max(initial=0.0)), MIN_ONSET_DB)
    return np.clip(out / top, 0.0, 1.0)


def track_beats(env: np.ndarray, tightness: float) -> tuple[float, np.ndarray]:
    """Tempo (BPM, 0.0 without beats) and beat times (seconds) from an onset envelope.
    Audio without a clear onset (silence, a steady tone) or with a single beat has none."""
    if env.max(initial=0.0) < MIN_ONSET_DB:
        return 0.0, np.zeros(0)
    tempo = rhythm.tempo(env, ONSET_SR, ONSET_HOP)
    if not math.isfinite(tempo) or tempo <= 0:
        return 0.0, np.zeros(0)
    beats = ellis_beats(env, ONSET_SR / ONSET_HOP, tempo, tightness) * (ONSET_HOP / ONSET_SR)
    if len(beats) < MIN_BEATS:
        return 0.0, np.zeros(0)
    return tempo, beats


def ellis_beats(env: np.ndarray, frame_rate: float, bpm: float, tightness: float) -> np.ndarray:
    """Onset-envelope frames of the beats: the dynamic programme of Ellis (2007), step for
    step as ``librosa.beat.beat_track`` runs it (float64 envelope, trim on), written in numpy.
    librosa's own builds numba kernels when ``librosa.beat`` is imported, which cost ~2.5 s
    of every fresh ``afx run`` on the 2-core development machine; this gives the same beats
    (a test compares the two) in milliseconds."""
    env = np.asarray(env, dtype=np.float64)
    n = len(env)
    if n == 0 or not env.any():
        return np.zeros(0, dtype=np.int64)
    onset = env / (env.std(ddof=1) + np.finfo(np.float64).tiny)
    fpb = float(np.round(frame_rate * 60.0 / bpm))
    # local score: a same-mode convolution with a Gaussian of +-fpb frames (librosa's loop
    # never reaches the envelope's first frame, so neither does this)
    window = np.exp(-0.5 * (np.arange(-fpb, fpb + 1) * 32.0 / fpb) ** 2)
    half = len(window) // 2
    shifted = onset.copy()
    shifted[0] = 0.0
    local = np.convolve(shifted, window)[half:half + n]
    # the programme: each frame's best predecessor between fpb/2 and 2 fpb frames back
    tight = float(np.float32(tightness))
    back = np.arange(int(np.round(fpb / 2)), int(2 * fpb) + 1)       # in the order tried
    penalty = tight * (np.log(back) - np.log(fpb)) ** 2
    cum = np.empty(n)
    link = np.full(n, -1, dtype=np.int64)
    thresh = 0.01 * local.max()
    first = True
    for i in range(n):
        k = int(np.searchsorted(-(i - back), 1))      # candidates with a frame >= 0
        best, loc = -np.inf, -1
        if k:
            scores = cum[i - back[:k]] - penalty[:k]
            j = int(np.argmax(scores))                # the first best, as librosa's `>`
            best, loc = scores[j], int(i - back[j])
        cum[i] = local[i] + best if loc >= 0 else local[i]
        if first and local[i] < thresh:
            link[i] = -1
        else:
            link[i] = loc
            first = False
    # the last beat: the last local maximum of the cumulative score above half their median
    prev = np.concatenate([cum[:1], cum[:-1]])
    nxt = np.concatenate([cum[1:], cum[-1:]])
    peak = (cum > prev) & (cum >= nxt)
    threshold = 0.5 * (np.median(cum[peak]) if peak.any() else 0.0)
    ok = np.flatnonzero(peak & (cum >= threshold))
    tail = int(ok[-1]) if len(ok) else n - 1
    beats = np.zeros(n, dtype=bool)
    while tail >= 0:
        beats[tail] = True
        tail = int(link[tail])
    # trim leading and trailing frames whose local score is weak
    w = np.hanning(5)
    smooth = np.convolve(local[beats], w)[len(w) // 2:n + len(w) // 2]
    weak = 0.5 * float(np.sqrt((smooth ** 2).mean())) if len(smooth) else 0.0
    i = 0
    while i < n and local[i] <= weak:
        beats[i] = False
        i += 1
    i = n - 1
    while i >= 0 and local[i] <= weak:
        beats[i] = False
        i -= 1
    return np.flatnonzero(beats)


def beat_frames(beat_times: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Index of the video frame nearest each beat (sorted, without repeats)."""
    return np.unique(np.clip(np.round(beat_times * fps), 0, n_frames - 1).astype(np.int64))


def beat_pulse(beats: np.ndarray, n_frames: int, fps: float, decay: float) -> np.ndarray:
    """1.0 on each beat frame, falling as exp(-seconds / decay) until the next; 0 before the
    first beat."""
    if len(beats) == 0:
        return np.zeros(n_frames, np.float32)
    frames = np.arange(n_frames)
    last = np.searchsorted(beats, frames, side="right") - 1
    since = (frames - beats[np.maximum(last, 0)]) / float(fps)
    return np.where(last >= 0, np.exp(-since / decay), 0.0).astype(np.float32)


def beat_phase(beats: np.ndarray, n_frames: int, fps: float, tempo: float) -> np.ndarray:
    """0 on each beat frame, ramping towards 1 until the next; before the first and after the
    last beat it keeps ramping at the tempo's period. All zeros without beats."""
    if len(beats) == 0 or tempo <= 0:
        return np.zeros(n_frames, np.float32)
    frames = np.arange(n_frames, dtype=np.float64)
    period = 60.0 / tempo * fps
    if len(beats) > 1:
        k = np.clip(np.searchsorted(beats, frames, side="right") - 1, 0, len(beats) - 2)
        phase = (frames - beats[k]) / (beats[k + 1] - beats[k])
    else:
        phase = np.zeros(n_frames)
    before, after = frames < beats[0], frames >= beats[-1]
    ramp = np.mod(frames - np.where(before, beats[0], beats[-1]), period) / period
    phase = np.where(before | after, ramp, phase)
    return np.clip(phase, 0.0, 1.0 - 1e-6).astype(np.float32)


# -- causal (settings.analysis: causal) ------------------------------------------------------
CAUSAL_BLOCK = 1024          # samples fed at a time, as a live input's callback would


def causal_timeline(analyser, audio: Audio, fps: float, n_frames: int, ctx) -> Timeline:
    """The track fed to a causal analyser in blocks, in order, and its rows at the video
    frames: each frame sees the rows of the audio that had arrived by its time. The audio
    after the render's last frame is never analysed (nothing could see it)."""
    mono = finite_mono(audio)
    s = ctx.settings
    if s.duration is not None:
        end = int(math.ceil((s.start + s.duration - audio.offset) * audio.sr)) + 1
        mono = mono[:max(0, end)]
    for i in range(0, len(mono), CAUSAL_BLOCK):
        analyser.push(mono[i:i + CAUSAL_BLOCK])
    times = audio.offset + frame_times(n_frames, fps)
    values = causal.rows_at(analyser.rows, analyser.rate, times, start=audio.offset)
    return Timeline(values, fps, analyser.names, audio.offset)


# -- nodes ----------------------------------------------------------------------------------

@node("features.spectrum", category="Features", uses=("fps",))
class Spectrum:
    """Spectrum bands

    Per-frame energy in log-spaced bands plus bass/mid/treble, loudness (rms), brightness
    (spectral centroid and roll-off) and change (spectral flux). Each column is normalised per
    track to [-1, 1]: -1 the quietest moment of that track, 1 the loudest. `attack` and
    `release` smooth every column at the frame rate."""

    audio = In(AUDIO, doc="the track to analyse")
    bands = Param(int, 8, min=1, max=64, linkable=False,
                  doc="number of log-spaced bands between fmin and fmax")
    fmin = Param(float, 30.0, min=10, max=2000, linkable=False, doc="lowest band edge in Hz")
    fmax = Param(float, 16000.0, min=1000, max=24000, linkable=False,
                 doc="highest band edge in Hz (at most half the sample rate)")
    attack = Param(float, 0.0, min=0, max=5, linkable=False, doc="seconds to rise")
    release = Param(float, 0.15, min=0, max=10, linkable=False, doc="seconds to fall")
    features = Out(TIMELINE, doc="bass, mid, treble, band0.., rms, centroid, rolloff, flux")
    # not `bands`: that class attribute is the param
    band_levels = Out(TIMELINE, doc="only the band0.. columns")
    bass = Out(TIMELINE, doc="energy 30-250 Hz")
    mid = Out(TIMELINE, doc="energy 250-4000 Hz")
    treble = Out(TIMELINE, doc="energy 4000 Hz to fmax")
    rms = Out(TIMELINE, doc="overall loudness")
    centroid = Out(TIMELINE, doc="brightness: the spectral centroid on a log scale")
    flux = Out(TIMELINE, doc="how fast the spectrum changes (onsets)")

    def process(self, ctx, audio, bands, fmin, fmax, attack, release):
        fps = float(ctx.fps)
        top = min(float(fmax), audio.sr / 2.0)
        if top <= fmin:
            raise NodeInputError(f"fmax ({top:g} Hz, at most half the sample rate) must be above "
                                 f"fmin ({fmin:g} Hz)", field="fmax")
        band_names = tuple(f"band{i}" for i in range(int(bands)))
        if getattr(audio, "live", False):          # afx live: rows made as the sound arrives
            tl = causal.LiveTimeline.of(causal.CausalSpectrum(
                audio.sr, int(bands), float(fmin), top, float(attack), float(release)), audio)
            return {"features": tl, "band_levels": tl.take(band_names),
                    **{k: tl.column(k) for k in ("bass", "mid", "treble", "rms", "centroid",
                                                 "flux")}}
        n_frames = frame_count(audio, fps)
        if ctx.settings.analysis == "causal":
            a = causal.CausalSpectrum(audio.sr, int(bands), float(fmin), top, float(attack),
                                      float(release))
            tl = causal_timeline(a, audio, fps, n_frames, ctx)
            return {"features": tl,
                    "band_levels": Timeline(tl.values[:, 3:3 + len(band_names)], fps,
                                            band_names, audio.offset),
                    **{k: tl.column(k) for k in ("bass", "mid", "treble", "rms", "centroid",
                                                 "flux")}}
        raw = analyse_spectrum(finite_mono(audio), audio.sr, fps, n_frames,
                               lambda freqs: spectrum_weights(freqs, int(bands), fmin, top))
        cols, min_half = spectrum_columns(raw)
        values = smooth(normalise(cols, min_half), fps, attack, release)
        names = tuple(n for n, *_ in NAMED_BANDS) + band_names + DESCRIPTORS
        tl = Timeline(values, fps, names, audio.offset)
        out = {"features": tl,
               "band_levels": Timeline(values[:, 3:3 + len(band_names)], fps, band_names,
                                       audio.offset)}
        out.update({k: tl.column(k) for k in ("bass", "mid", "treble", "rms", "centroid", "flux")})
        return out


@node("features.onsets", category="Features", uses=("fps",))
class Onsets:
    """Onsets and beats

    Onset strength (0..1), a beat pulse that is 1.0 on each detected beat and decays until the
    next, the phase within the beat (0 -> 1) and the tempo in BPM (0 when no beat is found)."""

    audio = In(AUDIO, doc="the track to analyse")
    decay = Param(float, 0.25, min=0.01, max=5, linkable=False,
                  doc="seconds for the beat pulse to fall to ~1/e")
    tightness = Param(float, 100.0, min=1, max=1000, linkable=False,
                      doc="librosa beat tracker tightness")
    strength = Out(TIMELINE, doc="onset strength, 0..1")
    beat = Out(TIMELINE, doc="1.0 on each beat, decaying until the next")
    features = Out(TIMELINE, doc="onset, beat, beat_phase")
    tempo = Out(SCALAR, doc="tempo in beats per minute (0 when no beat is found)")

    def process(self, ctx, audio, decay, tightness):
        fps = float(ctx.fps)
        if getattr(audio, "live", False):          # afx live: rows made as the sound arrives
            tl = causal.LiveTimeline.of(causal.CausalOnsets(audio.sr, float(decay)), audio)
            return {"strength": tl.column("onset"), "beat": tl.column("beat"),
                    "features": tl.take(("onset", "beat", "beat_phase")),
                    "tempo": tl.column("tempo")}   # a live scalar: types.NORMALISE samples it
        n_frames = frame_count(audio, fps)
        if ctx.settings.analysis == "causal":
            tl = causal_timeline(causal.CausalOnsets(audio.sr, float(decay)), audio, fps,
                                 n_frames, ctx)
            # a static output cannot change as the tracker learns: the tempo it had after
            # its first HISTORY seconds (the one look-ahead left; live, the overlay shows it)
            tempo = tl.values[:, 3]
            settled = tempo[min(len(tempo) - 1, int(causal.BeatTracker.HISTORY * fps))]
            tl = Timeline(tl.values[:, :3], fps, tl.names[:3], tl.start)    # as offline
            return {"strength": tl.column("onset"), "beat": tl.column("beat"),
                    "features": tl, "tempo": float(settled)}
        env, rate = onset_envelope(audio)
        tempo, times = track_beats(env, float(tightness))
        beats = beat_frames(times, fps, n_frames)
        values = np.column_stack([envelope_at_frames(env, rate, n_frames, fps),
                                  beat_pulse(beats, n_frames, fps, float(decay)),
                                  beat_phase(beats, n_frames, fps, tempo)])
        tl = Timeline(values, fps, ("onset", "beat", "beat_phase"), audio.offset)
        return {"strength": tl.column("onset"), "beat": tl.column("beat"), "features": tl,
                "tempo": tempo}


NODES = [Spectrum, Onsets]
