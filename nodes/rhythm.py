"""The offline onset strength and tempo estimate, step for step as librosa 0.11 computes them
(``librosa.resample`` with soxr, ``librosa.onset.onset_strength`` over a Slaney mel
spectrogram, ``librosa.feature.rhythm.tempo`` over an autocorrelation tempogram), in numpy.

Why not call librosa: importing ``librosa.onset`` or ``librosa.filters`` pulls in
scipy.signal and numba's kernels, about 2.3 s of a 2-core machine's start-up before the first
frame of any patch with an onset node (the demo's). The results agree with librosa's to float
rounding (tests/test_features.py compares them); soxr is the library librosa itself calls.
"""
from __future__ import annotations

import math

import numpy as np

N_FFT = 2048          # librosa's melspectrogram defaults
N_MELS = 128
TOP_DB = 80.0
AMIN = 1e-10


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """``librosa.resample(y, orig_sr=, target_sr=)``: soxr's high quality, then the length
    fixed to ``ceil(len * ratio)``."""
    import soxr
    n = int(math.ceil(len(y) * target_sr / orig_sr))
    out = soxr.resample(y, orig_sr, target_sr, quality="soxr_hq")
    out = out[:n] if len(out) >= n else np.pad(out, (0, n - len(out)))
    return np.asarray(out, dtype=y.dtype)


def hann(n: int) -> np.ndarray:
    """The periodic Hann window (``scipy.signal.get_window('hann', n)``)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def stft_power(y: np.ndarray, hop: int, n_fft: int = N_FFT) -> np.ndarray:
    """``|librosa.stft(y, n_fft, hop, center=True, pad_mode='constant')|**2``, (bins, frames)."""
    padded = np.pad(y, n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    # as librosa: the float64 window makes the product and the FFT float64, stored complex64
    spec = np.fft.rfft(frames * hann(n_fft), axis=1).astype(np.complex64 if y.dtype == np.float32
                                                          else np.complex128)
    return (np.abs(spec) ** 2).T


def _hz_to_mel(f):
    f = np.asanyarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz)
                    / logstep, f / f_sp)


def _mel_to_hz(m):
    m = np.asanyarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters(sr: int, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """``librosa.filters.mel(sr=, n_fft=, n_mels=, fmax=sr/2)``: Slaney's scale and area
    normalisation, float32, (n_mels, 1 + n_fft // 2)."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    for i in range(n_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


def power_to_db(s: np.ndarray) -> np.ndarray:
    """``librosa.power_to_db(s)`` (ref 1, amin 1e-10, top_db 80)."""
    db = 10.0 * np.log10(np.maximum(AMIN, s))
    return np.maximum(db, db.max(initial=-np.inf) - TOP_DB)


def onset_strength(y: np.ndarray, sr: int, hop: int) -> np.ndarray:
    """``librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)``: the mean over mel bands
    of the rise in dB from one frame to the next, centred on the frames."""
    mel = np.einsum("ft,mf->mt", stft_power(y, hop), mel_filters(sr), optimize=True)
    s = power_to_db(np.abs(mel))
    rise = np.maximum(0.0, s[:, 1:] - s[:, :-1]).mean(axis=0)
    env = np.pad(rise, (1 + N_FFT // (2 * hop), 0))
    return env[:s.shape[1]]


def tempo(env: np.ndarray, sr: int, hop: int, start_bpm: float = 120.0, std_bpm: float = 1.0,
          ac_size: float = 8.0, max_tempo: float = 320.0) -> float:
    """``librosa.feature.rhythm.tempo(onset_envelope=env, sr=sr, hop_length=hop)``: the mean
    of a Hann-windowed autocorrelation tempogram, weighted by a log-normal prior on the
    tempo."""
    win = int(math.floor(ac_size * sr / hop))
    n = len(env)
    padded = np.pad(env, win // 2, mode="linear_ramp", end_values=0)
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[:n] * hann(win)
    n_pad = next_fast_len(2 * win - 1)
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames, n=n_pad, axis=1)) ** 2, n=n_pad, axis=1)[:, :win]
    peak = np.max(np.abs(ac), axis=1, keepdims=True)
    peak[peak < np.finfo(ac.dtype).tiny] = 1.0
    tg = (ac / peak).mean(axis=0)
    with np.errstate(divide="ignore"):
        bpms = np.concatenate([[np.inf], 60.0 * sr / (hop * np.arange(1, win))])
        prior = -0.5 * ((np.log2(bpms) - np.log2(start_bpm)) / std_bpm) ** 2
    prior[:int(np.argmax(bpms < max_tempo))] = -np.inf
    return float(bpms[int(np.argmax(np.log1p(1e6 * tg) + prior))])


def next_fast_len(n: int) -> int:
    """The smallest 5-smooth number (2^a 3^b 5^c) at least ``n``: ``scipy.fft.next_fast_len(n,
    real=True)``, the FFT length librosa pads an autocorrelation to."""
    best, p5 = None, 1
    while p5 < 2 * n:
        p35 = p5
        while p35 < 2 * n:
            p = p35
            while p < n:
                p *= 2
            best = p if best is None else min(best, p)
            p35 *= 3
        p5 *= 5
    return max(1, best)


def running_max(x: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.maximum_filter1d(x, size, mode='nearest')``: the largest value within
    ``size`` samples around each (the window's extra sample, for an even size, on the left)."""
    left = size // 2
    padded = np.pad(x, (left, size - 1 - left), mode="edge")
    return np.lib.stride_tricks.sliding_window_view(padded, size).max(axis=1)
