"""The demo patch (graphs/demo.yaml) written as one plain script, for ``afx bench script``.

It does, one step after another, the work ``afx run graphs/demo.yaml --audio FILE`` does:
librosa spectrum features and beats of the track, a 32x4 CPPN (Xavier init at gain 5,
sin/cos/gaussian/tanh) evaluated per frame in 4096-pixel chunks with eager torch, written the
straightforward way, and an H.264 (libx264) + AAC MP4 through PyAV. It does not import afx:
it is what a person would write without the tool, and the yardstick the tool is measured
against. The features are computed with librosa's own functions, so they are close to, not
identical to, afx's; the amount of work is the same.

    python bench_plain.py song.wav out.mp4 [--size 640x360] [--fps 30] [--duration 8]
        [--preset veryfast] [--crf 20]
"""
import argparse
import math
import time
from fractions import Fraction

import av
import librosa
import numpy as np
import torch

HIDDEN, LAYERS, SEED, GAIN = 32, 4, 7, 5.0
AUDIO_GAIN, CYCLE, CONTRAST = 0.35, 30.0, 2.5        # the demo's CPPN params and defaults
BANDS, RELEASE, DECAY = 8, 0.3, 0.25                 # spectrum bands and release, beat decay
CHUNK = 4096


def load_audio(path, duration):
    y, sr = librosa.load(path, sr=None, mono=False, duration=duration)
    return np.atleast_2d(y), sr


def spectrum_features(mono, sr, fps, n_frames):
    """(n_frames, 15): bass, mid, treble, 8 log bands, rms, centroid, rolloff, flux, each
    scaled to [-1, 1] over the track and smoothed with a `RELEASE`-second release."""
    hop = int(sr / (fps * 3))                        # three analysis windows per video frame
    power = np.abs(librosa.stft(mono, n_fft=2048, hop_length=hop)) ** 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=2048)
    log_edges = np.geomspace(30, min(16000, sr / 2), BANDS + 1)
    ranges = [(30, 250), (250, 4000), (4000, sr / 2)] + list(zip(log_edges[:-1], log_edges[1:]))
    energy = np.array([power[(freqs >= lo) & (freqs < hi)].sum(0) for lo, hi in ranges])
    cols = [librosa.power_to_db(energy + 1e-10)]
    cols.append(librosa.amplitude_to_db(librosa.feature.rms(S=np.sqrt(power)) + 1e-10))
    cols.append(np.log2(librosa.feature.spectral_centroid(S=np.sqrt(power), sr=sr) + 1))
    cols.append(np.log2(librosa.feature.spectral_rolloff(S=np.sqrt(power), sr=sr) + 1))
    cols.append(librosa.onset.onset_strength(S=librosa.power_to_db(power), sr=sr)[None])
    feats = np.concatenate(cols).T                                      # (windows, 15)
    t = librosa.frames_to_time(np.arange(len(feats)), sr=sr, hop_length=hop)
    at_frames = np.stack([np.interp(np.arange(n_frames) / fps, t, c) for c in feats.T], 1)
    lo, hi = np.percentile(at_frames, [2, 98], axis=0)
    x = np.clip((at_frames - (lo + hi) / 2) / np.maximum((hi - lo) / 2, 1e-3), -1, 1)
    down = 1 - math.exp(-1 / (RELEASE * fps))
    for i in range(1, n_frames):                     # instant attack, slow release
        x[i] = np.maximum(x[i], x[i - 1] + down * (x[i] - x[i - 1]))
    return x.astype(np.float32)


def beat_pulse(mono, sr, fps, n_frames):
    """1.0 on each beat, decaying with `DECAY` seconds until the next."""
    y = librosa.resample(mono, orig_sr=sr, target_sr=22050)
    env = librosa.onset.onset_strength(y=y, sr=22050, hop_length=256)
    _, beats = librosa.beat.beat_track(onset_envelope=env, sr=22050, hop_length=256, units="time")
    pulse = np.zeros(n_frames, np.float32)
    frame_beats = np.unique(np.round(np.asarray(beats) * fps).astype(int))
    for i in range(n_frames):
        before = frame_beats[frame_beats <= i]
        if len(before):
            pulse[i] = math.exp(-(i - before[-1]) / fps / DECAY)
    return pulse


def cppn_weights(n_in):
    g = torch.Generator().manual_seed(SEED)

    def xavier(fan_in, fan_out):
        return torch.randn(fan_in, fan_out, generator=g) * GAIN * math.sqrt(2 / (fan_in + fan_out))

    first, first_bias = xavier(n_in, HIDDEN), torch.randn(HIDDEN, generator=g) * 0.5
    hidden = [(xavier(HIDDEN, HIDDEN), torch.randn(HIDDEN, generator=g) * 0.5)
              for _ in range(LAYERS - 1)]
    return first, first_bias, hidden, xavier(HIDDEN, 3) / GAIN, torch.zeros(3)


ACTS = [torch.sin, torch.cos, lambda x: torch.exp(-x * x), torch.tanh]


def render_frame(weights, coords, frame_in, scale, contrast):
    """(H*W, 3) RGB in [0, 1] for one frame, 4096 pixels at a time."""
    first, first_bias, hidden, last, last_bias = weights
    frame_part = frame_in @ first[3:] + first_bias
    out = torch.empty(coords.shape[0], 3)
    for s in range(0, coords.shape[0], CHUNK):
        h = ACTS[0]((coords[s:s + CHUNK] @ first[:3]) * scale + frame_part)
        for i, (w, b) in enumerate(hidden):
            h = ACTS[(i + 1) % 4](h @ w + b)
        out[s:s + CHUNK] = torch.sigmoid((h @ last + last_bias) * contrast)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("audio")
    p.add_argument("output")
    p.add_argument("--size", default="640x360")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--duration", type=float, default=None)
    p.add_argument("--preset", default="veryfast")
    p.add_argument("--crf", type=int, default=20)
    args = p.parse_args()
    t0 = time.perf_counter()
    width, height = (int(v) for v in args.size.split("x"))

    samples, sr = load_audio(args.audio, args.duration)
    mono = librosa.to_mono(samples)
    n_frames = math.ceil(len(mono) / sr * args.fps)
    features = spectrum_features(mono, sr, args.fps, n_frames)
    pulse = beat_pulse(mono, sr, args.fps, n_frames)

    short = min(width, height)
    xs = (torch.arange(width) + 0.5 - width / 2) / short
    ys = (torch.arange(height) + 0.5 - height / 2) / short
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    coords = torch.stack([x, y, torch.sqrt(x * x + y * y)], -1).reshape(-1, 3)
    weights = cppn_weights(3 + 4 + features.shape[1])

    container = av.open(args.output, "w", format="mp4", options={"movflags": "+faststart"})
    video = container.add_stream("libx264", rate=args.fps)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.options = {"crf": str(args.crf), "preset": args.preset}
    audio = container.add_stream("aac", rate=sr)
    audio.layout = "stereo" if samples.shape[0] > 1 else "mono"
    audio.bit_rate = 192_000

    with torch.inference_mode():
        for i in range(n_frames):
            t = i / args.fps
            phase = 2 * math.pi * t / CYCLE
            time_in = [i / max(n_frames - 1, 1) * 2 - 1, math.sin(phase), math.cos(phase),
                       math.sin(phase / 3.7)]
            audio_in = features[i] * AUDIO_GAIN / math.sqrt(features.shape[1])
            frame_in = torch.tensor(np.concatenate([time_in, audio_in]), dtype=torch.float32)
            punch = float(pulse[i])
            scale = 1 - 0.25 * punch / (1 + punch)
            rgb = render_frame(weights, coords, frame_in, scale, CONTRAST * (1 + 0.6 * punch))
            img = (rgb.reshape(height, width, 3) * 255).round().to(torch.uint8).numpy()
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)

    clip = np.ascontiguousarray(samples[:, :round(n_frames / args.fps * sr)], dtype=np.float32)
    resampler = av.AudioResampler(format="fltp", layout=audio.layout, rate=sr)
    for s in range(0, clip.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(clip[:, s:s + 1024], format="fltp", layout=audio.layout)
        frame.sample_rate, frame.pts, frame.time_base = sr, s, Fraction(1, sr)
        for rf in resampler.resample(frame):
            for packet in audio.encode(rf):
                container.mux(packet)
    for rf in resampler.resample(None):
        for packet in audio.encode(rf):
            container.mux(packet)
    for packet in audio.encode(None):
        container.mux(packet)
    container.close()
    print(f"{n_frames} frames {width}x{height} in {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
