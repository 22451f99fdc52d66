"""``afx analyze VIDEO... [--json] [--seconds S]``: how strongly a video's picture follows its
own music, and how its frames look — measured from the file alone (its frames and its audio
track), so a user can check any render, and tests can hold the examples to figures.

:func:`analyze_video` computes the figures (a dict); :func:`format_report` and the command only
print them. What each figure is:

- **r**: Pearson correlation between the picture's change and the music's onset strength, per
  video frame. Picture change of frame ``i`` is the mean absolute difference between frames
  ``i-1`` and ``i``, both scaled down to at most :data:`MOTION_WIDTH` px wide and turned to grey
  (BT.601 luma, 0..255). Onset strength is ``librosa.onset.onset_strength`` of the mono audio
  track at the time of frame ``i``: its mean over the frame's own span (half-way from the
  previous frame to half-way to the next), a box filter that resamples it to the frame rate
  without aliasing. r is taken at the best of the lags -2..+2 frames; a positive lag means the
  picture changes that many frames after the music. r uses every frame of the span. The frame
  grid bounds it: librosa's envelope peaks about 10 ms after an attack, so a picture that
  flashes on the frame nearest each of a set of off-grid kicks measured r 0.66-0.83 where the
  same flashes on kicks placed on frame starts measured 0.96.
- **colourfulness**: Hasler & Süsstrunk (2003) on 0..255 RGB, mean over frames; about 0 for
  grey, ~33 "moderately", ~59 "quite", ~82 "highly", above ~109 "extremely" colourful.
- **hue sectors**: hues are cut into 12 sectors of 30° centred on red (0°), orange (30°),
  yellow (60°) and so on. A pixel counts as coloured when its HSV saturation is at least
  :data:`MIN_SATURATION` and its value at least :data:`MIN_VALUE`; a sector is *dominant* when
  it holds at least :data:`DOMINANT_SHARE` of the coloured pixels. ``hue_sectors`` counts them
  over the whole span (every frame's coloured pixels pooled), ``hue_sectors_per_frame`` is the
  mean of the same count made frame by frame. No coloured pixels: 0 sectors.
- **clipped**: fraction of pixels with any channel at or below :data:`CLIP_LOW` or at or above
  :data:`CLIP_HIGH` (the slack of one level absorbs the codec's rounding of pure black and
  white). A fully saturated colour (pure red: G = B = 0) counts as clipped too: it is at the
  edge of what the format can show.
- **motion**: the mean of the picture change above over the span, in 0..1 (/255) and 0..255.
- **spread**: mean over frames of the standard deviation of the grey frame (0..255 and 0..1):
  about 0 for a flat picture.

The look statistics (colourfulness, hues, clipping, spread) are measured on frames scaled down
to at most :data:`LOOK_WIDTH` px wide, on at most :data:`LOOK_FPS` frames per second of video.
``seconds`` limits the whole analysis to the first ``seconds`` of the video.

Memory does not grow with the sound: the audio track is decoded and turned into its onset
envelope piece by piece (:func:`onset_envelope`, the same figures as librosa's
``onset_strength`` of the whole track), and the frames are measured one at a time. What is
kept grows by 16 bytes a video frame (its time and picture change) and 8 bytes per
:data:`ONSET_HOP` samples of sound (the envelope), plus at most :data:`MEL_CACHE_BYTES` of
mel spectra (a longer track is decoded twice): a ten-hour video at 25 fps with 48 kHz sound
keeps about 110 MB. Its sound kept whole, as once, took 9.5 GB at 8 kHz.

Exit code 2, with an ``error: FILE: ...`` line, for a file that cannot be analysed (missing,
unreadable, no video stream, fewer than :data:`MIN_FRAMES` frames) and for a video whose r cannot
be measured because it has no (readable) audio track — its look statistics still print. A
picture that never changes or a silent track is an answer, not an error: r prints as ``n/a``
with the reason, and the exit code is 0.
"""
from __future__ import annotations

import json
import math
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import av
import numpy as np

from afx_graph.errors import AfxError, NodeInputError, escape_controls
from afx_graph.media import container as media
from afx_graph.commands.options import number

MOTION_WIDTH = 160      # px: frames are scaled down to this width for the picture change
LOOK_WIDTH = 640        # px: ... and to this width for the look statistics
LOOK_FPS = 10.0         # look statistics on at most this many frames per second of video
MIN_FRAMES = 8          # fewer frames than this cannot give an r over lags -2..+2
LAGS = tuple(range(-2, 3))
ONSET_HOP = 512         # librosa's default hop for onset strength
ONSET_FFT = 2048        # ... and its default FFT size
ONSET_TOP_DB = 80.0     # ... and power_to_db's floor below the loudest mel band
ONSET_BLOCK = 2048      # STFT frames computed at a time (~1 M samples, ~40 MB of work)
# Mel spectra (512 bytes a frame) kept from the first pass over the sound up to this size; a
# longer track is decoded a second time instead (the dB floor needs the loudest of all).
MEL_CACHE_BYTES = 64 * 1024 ** 2
MIN_SATURATION = 0.25   # HSV saturation (0..1) from which a pixel counts as coloured
MIN_VALUE = 0.20        # HSV value (0..1) from which a pixel counts as coloured
DOMINANT_SHARE = 0.05   # a hue sector is dominant with >= this share of the coloured pixels
HUE_SECTORS = 12
CLIP_LOW, CLIP_HIGH = 1, 254
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)   # BT.601 weights for grey
_IMAGE_FORMATS = frozenset({"image2", "gif", "apng", "webp"})


# --------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------

def register(sub) -> None:
    p = sub.add_parser(
        "analyze", help="how strongly a video's picture follows its music, and its look",
        description="From a video file alone (its frames and its own audio track): the "
                    "correlation r between picture change and the audio's onset strength "
                    "(best over lags -2..+2 frames), colourfulness, dominant hue sectors, "
                    "clipped pixels, motion and spatial spread.")
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("--json", action="store_true",
                   help="print the figures as JSON, one object per line per video")
    p.add_argument("--seconds", type=number("--seconds", 0, None, above=True, unit="seconds"),
                   metavar="S",
                   help="analyse only the first S seconds (default: the whole video)")
    p.set_defaults(func=run)


def run(args) -> int:
    seconds = args.seconds
    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise AfxError(f"must be a number of seconds above 0, not {seconds:g}",
                       field="--seconds")
    failed = printed = 0
    for path in args.videos:
        try:
            result = analyze_video(path, seconds=seconds)
        except AfxError as e:
            failed += 1
            _print_error(e)
            continue
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            if printed:
                print()
            print(format_report(result))
        printed += 1
        sys.stdout.flush()
        if result["audio_problem"]:
            failed += 1
            _print_error(AfxError(f"{result['audio_problem']}, so r cannot be measured "
                                  "(only the look statistics are)", file=str(path)))
    if failed and len(args.videos) > 1:
        print(f"{failed} of {len(args.videos)} videos could not be fully analysed",
              file=sys.stderr)
    return 2 if failed else 0


def _print_error(e: AfxError) -> None:
    for line in e.lines:
        print(f"error: {line}", file=sys.stderr)


def format_report(res: dict) -> str:
    """The figures of :func:`analyze_video` as a few lines for a person."""
    audio = res["audio"]
    sound = (f"audio {audio['sample_rate']} Hz, {audio['channels']} ch" if audio
             else "no audio")
    lines = [f"{escape_controls(res['file'])}: {res['width']}x{res['height']}, "
             f"{res['fps']:.4g} fps, {res['frames']} frames ({res['seconds']:.2f} s analysed), "
             f"{sound}"]
    if res["r"] is None:
        r = f"n/a ({escape_controls(res['r_unavailable'])})"
    else:
        lag = res["lag"]
        when = ("in step" if lag == 0 else
                f"picture {abs(lag)} frame{'s' if abs(lag) != 1 else ''} "
                f"{'after' if lag > 0 else 'before'} the music")
        r = f"{res['r']:.3f} at lag {lag:+d} frames ({when}; best of -2..+2)"
    share = f"{DOMINANT_SHARE * 100:g}%"
    lines += [
        f"  r               {r}",
        "                  (picture change against the audio's onset strength)",
        f"  colourfulness   {res['colourfulness']:.1f}  (Hasler-Süsstrunk: ~33 moderate, "
        "~82 high, >109 extreme)",
        f"  hue sectors     {res['hue_sectors']} of {HUE_SECTORS} dominant, "
        f"{res['hue_sectors_per_frame']:.1f} per frame  (30° sectors holding >= {share} of "
        "the coloured pixels)",
        f"                  coloured: HSV saturation >= {MIN_SATURATION:g} and value >= "
        f"{MIN_VALUE:g}, {res['coloured_fraction'] * 100:.0f}% of the pixels",
        f"  clipped         {res['clipped'] * 100:.1f}% of the pixels  (a channel <= {CLIP_LOW} "
        f"or >= {CLIP_HIGH}; dark {res['clipped_dark'] * 100:.1f}%, "
        f"bright {res['clipped_bright'] * 100:.1f}%)",
        f"  motion          {res['motion_255']:.2f}/255 per frame  ({res['motion']:.4f}; mean "
        "abs change of the grey frame)",
        f"  spread          {res['spread_255']:.1f}/255  (mean per-frame std of the grey frame)",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# the figures
# --------------------------------------------------------------------------------------

def analyze_video(path, seconds: float | None = None) -> dict:
    """Measure the video file ``path`` (its first ``seconds``, default all of it).

    Returns plain data (JSON-ready): ``r`` and ``lag`` (frames; None with ``r_unavailable``
    saying why), ``r_by_lag``, ``colourfulness``, ``hue_sectors``, ``hue_sectors_per_frame``,
    ``hue_histogram`` (share of the coloured pixels in each 30° sector, from red),
    ``coloured_fraction``, ``clipped`` / ``clipped_dark`` / ``clipped_bright`` (fractions),
    ``motion`` (0..1) / ``motion_255``, ``spread`` (0..1) / ``spread_255``, and the video's
    ``width``, ``height``, ``fps``, ``frames`` (analysed), ``seconds`` (analysed), ``audio``
    (sample rate, channels, seconds read: the span analysed and a second more, or all of a
    shorter track; None without a readable track) and ``audio_problem`` (why
    there is no readable track). Raises :class:`AfxError` naming the file when there is
    nothing to measure: missing or unreadable file, no video stream, too few frames.
    """
    file = media.checked_file(path, WHAT, _error)
    video = _read_video(file, seconds)
    res = {"file": str(path), **video.facts(), **video.look(), **video.motion_stats()}
    audio, problem = _read_audio(file, video, seconds)
    res["audio"] = None if audio is None else {"sample_rate": audio.sr,
                                                "channels": audio.channels,
                                                "seconds": round(audio.samples / audio.sr, 3)}
    res["audio_problem"] = problem
    res.update(_correlation(video, audio, problem))
    return res


def _error(message: str) -> AfxError:
    return AfxError(message)


WHAT = "video file"


class _Video:
    """What one pass over the frames keeps: the picture-change series (every frame) and the
    per-frame look statistics (sampled frames)."""

    def __init__(self, width: int, height: int, fps: float):
        self.width, self.height, self.fps = width, height, fps
        self.times = array("d")            # seconds, stream clock, of every analysed frame
        self.change = array("d")           # picture change into frame i (i >= 1), 0..255
        self.looked = 0                    # frames the look statistics were taken on, and
        self.colourful = 0.0               # the sums of their per-frame figures
        self.spread = 0.0
        self.frame_sectors = 0
        self.clipped = [0, 0, 0, 0]        # any, dark, bright, pixels
        self.hues = np.zeros(HUE_SECTORS, np.int64)
        self.coloured = 0
        self._prev: np.ndarray | None = None
        self.audio_offset = 0.0             # seconds: start of the audio on the stream clock

    @property
    def frames(self) -> int:
        return len(self.times)

    def add_motion(self, grey: np.ndarray, t: float) -> None:
        if self._prev is not None:
            self.change.append(float(np.abs(grey - self._prev).mean()))
        self._prev = grey
        self.times.append(t)

    def add_look(self, rgb: np.ndarray) -> None:
        r8, g8, b8 = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        r, g, b = (c.astype(np.float32) for c in (r8, g8, b8))
        rg, yb = r - g, 0.5 * (r + g) - b
        self.looked += 1
        self.colourful += float(np.sqrt(rg.var(dtype=np.float64) + yb.var(dtype=np.float64))
                                + 0.3 * np.hypot(rg.mean(dtype=np.float64),
                                                 yb.mean(dtype=np.float64)))
        grey = _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b
        self.spread += float(grey.std(dtype=np.float64))
        lo = np.minimum(np.minimum(r8, g8), b8)
        hi = np.maximum(np.maximum(r8, g8), b8)
        dark, bright = lo <= CLIP_LOW, hi >= CLIP_HIGH
        self.clipped[0] += int(np.count_nonzero(dark | bright))
        self.clipped[1] += int(np.count_nonzero(dark))
        self.clipped[2] += int(np.count_nonzero(bright))
        self.clipped[3] += dark.size
        counts = _hue_counts(r, g, b, hi, lo)
        self.hues += counts
        n = counts.sum()
        self.coloured += int(n)
        self.frame_sectors += int((counts >= DOMINANT_SHARE * n).sum()) if n else 0

    def facts(self) -> dict:
        return {"width": self.width, "height": self.height, "fps": round(self.fps, 4),
                "frames": self.frames, "seconds": round(self.frames / self.fps, 3)}

    def look(self) -> dict:
        total = int(self.hues.sum())
        hist = self.hues / total if total else np.zeros(HUE_SECTORS)
        px = max(1, self.clipped[3])
        looked = max(1, self.looked)
        spread = self.spread / looked
        return {
            "colourfulness": round(self.colourful / looked, 3),
            "hue_sectors": int((hist >= DOMINANT_SHARE).sum()) if total else 0,
            "hue_sectors_per_frame": round(self.frame_sectors / looked, 3),
            "hue_histogram": [round(float(h), 4) for h in hist],
            "coloured_fraction": round(self.coloured / px, 4),
            "clipped": round(self.clipped[0] / px, 4),
            "clipped_dark": round(self.clipped[1] / px, 4),
            "clipped_bright": round(self.clipped[2] / px, 4),
            "spread_255": round(spread, 3),
            "spread": round(spread / 255, 5),
            "look_frames": self.looked,
        }

    def motion_stats(self) -> dict:
        m = float(np.mean(np.frombuffer(self.change))) if self.change else 0.0
        return {"motion_255": round(m, 3), "motion": round(m / 255, 5)}


def hue_sector_counts(rgb: np.ndarray) -> np.ndarray:
    """How many coloured pixels of a uint8 RGB image fall in each 30° hue sector; sector k
    is centred on hue 30k degrees (0: red, 4: green, 8: blue)."""
    r8, g8, b8 = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return _hue_counts(*(c.astype(np.float32) for c in (r8, g8, b8)),
                       np.maximum(np.maximum(r8, g8), b8), np.minimum(np.minimum(r8, g8), b8))


def _hue_counts(r, g, b, hi, lo) -> np.ndarray:
    """hue_sector_counts of the float channel planes, given their uint8 max and min."""
    hi = hi.astype(np.float32)
    d = hi - lo
    coloured = (hi >= MIN_VALUE * 255) & (d >= MIN_SATURATION * hi) & (d > 0)
    r, g, b, hi, d = r[coloured], g[coloured], b[coloured], hi[coloured], d[coloured]
    sixths = np.where(hi == r, ((g - b) / d) % 6,
                      np.where(hi == g, (b - r) / d + 2, (r - g) / d + 4))
    sector = np.floor(sixths * 2 + 0.5).astype(np.int64) % HUE_SECTORS
    return np.bincount(sector, minlength=HUE_SECTORS)


def _scaled(width: int, height: int, most: int) -> tuple[int, int]:
    if width <= most:
        return width, height
    return most, max(1, round(height * most / width))


def _read_video(file: Path, seconds: float | None) -> _Video:
    with media.open_container(file, WHAT, _error) as container:
        if not container.streams.video:
            fmt = container.format.name
            if fmt == "tty":
                raise _error(f"'{file.name}' is a text file, not a video")
            what = " (it is a sound file)" if container.streams.audio else ""
            raise _error(f"'{file.name}' has no video stream{what}")
        if container.format.name.removesuffix("_pipe") in _IMAGE_FORMATS or \
                container.format.name.endswith("_pipe"):
            kind = container.format.name.removesuffix("_pipe")
            raise _error(f"'{file.name}' is an image ({kind}), not a video")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        video = None
        start = None
        stride = 1
        index = 0
        for frame in media.decoded(container, stream, file, _error):
            t = frame.time
            if video is None:
                w, h = frame.width, frame.height
                if not fps or not math.isfinite(fps):
                    fps = 25.0
                video = _Video(w, h, fps)
                mw, mh = _scaled(w, h, MOTION_WIDTH)
                lw, lh = _scaled(w, h, LOOK_WIDTH)
                stride = max(1, math.ceil(fps / LOOK_FPS - 1e-6))
                start = t if t is not None else 0.0
            t = (start + index / fps) if t is None else t
            if seconds is not None and t - start >= seconds - 0.25 / fps:
                break
            small = frame.reformat(width=mw, height=mh, format="rgb24", interpolation="AREA")
            video.add_motion(small.to_ndarray().astype(np.float32) @ _LUMA, t)
            if index % stride == 0:
                look = frame.reformat(width=lw, height=lh, format="rgb24",
                                      interpolation="AREA")
                video.add_look(look.to_ndarray())
            index += 1
    if video is None or video.frames < MIN_FRAMES:
        n = 0 if video is None else video.frames
        span = "" if seconds is None else f" in the first {seconds:g} s"
        raise _error(f"'{file.name}' too short to analyse: {n} frame{'s' if n != 1 else ''}{span} "
                         f"(at least {MIN_FRAMES} are needed)")
    return video


@dataclass
class Onsets:
    """What one (streamed) pass over a mono track keeps: its onset ``envelope`` (librosa's
    onset strength, one value per :data:`ONSET_HOP` samples), its length in ``samples``, its
    ``peak`` absolute value, and the track's ``sr`` and ``channels``."""

    envelope: np.ndarray
    samples: int
    peak: float
    sr: int = 0
    channels: int = 0


def _read_audio(file: Path, video: _Video, seconds: float | None):
    """(Onsets, None), or (None, why there is no usable audio). The track is read piece by
    piece (audio_io.audio_chunks), so memory does not grow with its length."""
    from afx_graph.media.audio import audio_chunks
    try:
        with av.open(str(file), metadata_errors="replace") as c:
            if not c.streams.audio:
                return None, "no audio track"
            a = c.streams.audio[0]
            offset = float(a.start_time * a.time_base) if a.start_time is not None and \
                a.time_base is not None else 0.0
    except media.AV_ERRORS as e:
        return None, f"the audio track cannot be read ({getattr(e, 'strerror', None) or e})"
    video.audio_offset = offset
    # the span analysed, plus a second for the onset analysis at its end: a sound track
    # longer than the picture is not read to its end
    span = video.times[-1] - offset + 1.0 / video.fps + 1.0
    if span <= 0:
        return None, "the audio track starts after the span analysed"
    track: dict = {}

    def mono():                     # read again from the start on every call
        for samples, sr in audio_chunks(file, duration=span):
            track.update(sr=sr, channels=samples.shape[0])
            yield samples.mean(axis=0, dtype=np.float32)

    try:
        pieces = audio_chunks(file, duration=span)
        try:
            sr = next(pieces)[1]            # the rate of the first frame, as decoded
        finally:
            pieces.close()
        onsets = onset_envelope(mono, sr)
    except NodeInputError as e:
        return None, f"the audio track cannot be read: {e.issue.message}"
    onsets.sr, onsets.channels = track["sr"], track["channels"]
    return onsets, None


def onset_envelope(read: Callable[[], Iterable[np.ndarray]], sr: int, *,
                   block: int | None = None, cache_bytes: int | None = None) -> Onsets:
    """``librosa.onset.onset_strength(y=y, sr=sr, hop_length=ONSET_HOP)`` of the mono
    samples ``read()`` yields piece by piece, in memory that does not grow with the track.

    The mel spectrum is computed ``block`` STFT frames at a time, from the samples each
    frame covers (centred frames, zero padding at both ends: librosa's). The envelope's dB
    floor is :data:`ONSET_TOP_DB` below the loudest band of the whole track; each block is
    measured against the loudest band so far, and the blocks before the last time that rose
    are measured again once the track is through: from the spectra kept (up to
    ``cache_bytes``), and past them by a second ``read()`` that stops at the last of those
    blocks."""
    block = block or ONSET_BLOCK
    cache_bytes = MEL_CACHE_BYTES if cache_bytes is None else cache_bytes
    stats = {"samples": 0, "peak": 0.0}
    cache: list[np.ndarray] = []            # the first blocks' spectra (dB), while they fit
    kept, tail, full = 0, None, False       # tail: the last column before the first not kept
    parts: list[np.ndarray] = []            # per block: its onset differences, and the
    floors: list[np.float32] = []           # floor they were measured with
    top, rise, prev = None, 0, None
    for i, mel in enumerate(_mel_blocks(read(), sr, block, stats)):
        db = _db(mel)
        loudest = db.max()
        if top is None or loudest > top:
            top, rise = loudest, i
        floors.append(top - np.float32(ONSET_TOP_DB))
        parts.append(_onset_differences(prev, db, floors[-1]))
        if len(cache) == i and kept + db.nbytes <= cache_bytes:
            cache.append(db)
            kept += db.nbytes
        elif not full:
            tail, full = prev, True
        prev = db[:, -1:]
    floor = floors[rise] if floors else np.float32(0.0)
    prev = None                             # blocks 0 .. rise-1 again, with the final floor
    for i, db in enumerate(cache[:rise]):
        parts[i] = _onset_differences(prev, db, floor)
        prev = db[:, -1:]
    if rise > len(cache):
        prev = tail
        for i, mel in _mel_blocks(read(), sr, block, {}, first=len(cache), last=rise):
            db = _db(mel)
            parts[i] = _onset_differences(prev, db, floor)
            prev = db[:, -1:]
    frames = 1 + stats["samples"] // ONSET_HOP
    # librosa: the difference into frame t is stored at t + 2 (lag 1, plus n_fft // (2 hop)
    # for centring) and the envelope cut to the number of frames
    envelope = np.concatenate([np.zeros(3, np.float32), *parts])[:frames].astype(np.float64)
    return Onsets(envelope, stats["samples"], stats["peak"])


def _onset_differences(prev: np.ndarray | None, db: np.ndarray, floor) -> np.ndarray:
    """Mean over the mel bands of the rise of each frame of ``db`` over the one before
    (``prev``: the last frame of the block before), both floored at ``floor``."""
    both = np.maximum(db if prev is None else np.concatenate([prev, db], axis=1), floor)
    return np.maximum(0.0, both[:, 1:] - both[:, :-1]).mean(axis=0)


def _db(power):
    """librosa.power_to_db without the floor (ref 1, amin 1e-10), in float32."""
    return (10.0 * np.log10(np.maximum(np.float32(1e-10), power))).astype(np.float32)


def _mel_blocks(pieces: Iterable[np.ndarray], sr: int, block: int, stats: dict, *,
                first: int | None = None, last: int | None = None):
    """The mel power spectrum of the concatenated ``pieces``, ``block`` frames at a time;
    counts the samples and their peak into ``stats``. With ``first`` and ``last``: only
    ``(index, spectrum)`` of blocks ``first .. last - 1``, the others not computed, and
    reading stops after them."""
    import librosa
    half = ONSET_FFT // 2
    need = (block - 1) * ONSET_HOP + ONSET_FFT          # samples ``block`` frames cover
    step = block * ONSET_HOP
    buf, have, index = [np.zeros(half, np.float32)], half, 0
    samples, peak = 0, 0.0
    some = first is not None

    def mel(y):
        return librosa.feature.melspectrogram(y=y, sr=sr, n_fft=ONSET_FFT,
                                              hop_length=ONSET_HOP, center=False,
                                              fmax=0.5 * sr)
    for piece in pieces:
        if not piece.size:
            continue
        samples += piece.size
        peak = max(peak, float(np.abs(piece).max()))
        buf.append(np.asarray(piece, np.float32))
        have += piece.size
        if have >= need:
            y = np.concatenate(buf)
            while y.size >= need:
                if not some:
                    yield mel(y[:need])
                elif first <= index:
                    yield index, mel(y[:need])
                y = y[step:]
                index += 1
                if some and index >= last:
                    return
            buf, have = [y], y.size
    stats.update(samples=samples, peak=peak)
    left = 1 + samples // ONSET_HOP - index * block
    if left > 0 and (not some or first <= index < last):
        y = np.concatenate(buf + [np.zeros(half, np.float32)])
        y = mel(y[:(left - 1) * ONSET_HOP + ONSET_FFT])
        yield y if not some else (index, y)


def onset_per_frame(mono: np.ndarray, sr: int, times: np.ndarray) -> np.ndarray:
    """librosa's onset strength of ``mono`` resampled to the frames at ``times`` (seconds
    from the audio's start): see :func:`envelope_per_frame`."""
    import librosa
    env = librosa.onset.onset_strength(y=mono, sr=sr, hop_length=ONSET_HOP)
    return envelope_per_frame(env, sr, times)


def envelope_per_frame(env: np.ndarray, sr: int, times: np.ndarray) -> np.ndarray:
    """An onset envelope (one value per :data:`ONSET_HOP` samples) resampled to the frames
    at ``times`` (seconds from the audio's start): the mean of the envelope over the frame's
    own interval, from half-way after the previous frame to half-way before the next (a box
    filter, so no onset falls between two frames). One value per frame: ``len(times)``."""
    env = np.asarray(env, np.float64)
    hop = ONSET_HOP / sr
    # envelope value k covers [(k - 1/2) hop, (k + 1/2) hop): its running integral at edges
    edges = (np.arange(env.size + 1) - 0.5) * hop
    integral = np.concatenate([[0.0], np.cumsum(env) * hop])
    if times.size < 2:
        return np.interp(times, np.arange(env.size) * hop, env)
    mid = (times[1:] + times[:-1]) / 2
    bounds = np.concatenate([[times[0] - (mid[0] - times[0])], mid,
                             [times[-1] + (times[-1] - mid[-1])]])
    at = np.interp(bounds, edges, integral)
    return (at[1:] - at[:-1]) / np.maximum(bounds[1:] - bounds[:-1], 1e-9)


def lagged_pearson(change: np.ndarray, onset: np.ndarray, lags=LAGS) -> dict[int, float]:
    """Pearson r of ``change[i]`` against ``onset[i - lag]`` for each lag that leaves at least
    three pairs and two non-constant series; lags that do not are left out."""
    out = {}
    m = min(change.size, onset.size)
    for lag in lags:
        if lag >= 0:
            x, y = change[lag:m], onset[:m - lag]
        else:
            x, y = change[:m + lag], onset[-lag:m]
        if x.size < 3 or x.std() < 1e-9 or y.std() < 1e-12:
            continue
        out[lag] = float(np.corrcoef(x, y)[0, 1])
    return out


def _correlation(video: _Video, audio: Onsets | None, problem: str | None) -> dict:
    none = {"r": None, "lag": None, "lag_seconds": None, "r_by_lag": {}}
    if audio is None:
        return {**none, "r_unavailable": problem}
    sr = audio.sr
    if not audio.samples or audio.peak < 1e-4:
        return {**none, "r_unavailable": "the audio track is silent"}
    times = np.frombuffer(video.times) - video.audio_offset
    change = np.frombuffer(video.change)
    onset = envelope_per_frame(audio.envelope, sr, times)[1:]   # at the frames a change
    covered = times[1:] <= audio.samples / sr + 1e-6             # goes into; the audio reaches
    change, onset = change[covered], onset[covered]
    if change.size < MIN_FRAMES - 1:
        return {**none, "r_unavailable": "the audio track is too short for the video"}
    if change.std() < 1e-9:
        return {**none, "r_unavailable": "the picture does not change"}
    if onset.std() < 1e-12:
        return {**none, "r_unavailable": "the audio has no onsets"}
    by_lag = lagged_pearson(change, onset)
    if not by_lag:
        return {**none, "r_unavailable": "not enough frames"}
    lag = max(by_lag, key=lambda k: (by_lag[k], -abs(k)))
    return {"r": round(by_lag[lag], 4), "lag": lag, "lag_seconds": round(lag / video.fps, 4),
            "r_by_lag": {str(k): round(v, 4) for k, v in sorted(by_lag.items())},
            "r_unavailable": None}
