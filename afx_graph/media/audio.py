"""Reading sound from a file through PyAV (ffmpeg): :func:`decode_audio` for a span of a
track, :func:`audio_chunks` for a whole track piece by piece in bounded memory. Anything
ffmpeg reads works: WAV, FLAC, MP3, OGG/Vorbis, M4A/AAC, and the sound of a video file.

The engine's one media opener for sound: ``audio.file`` (nodes/audio.py) and ``afx analyze``
both read through it, so a file gets the same message wherever it is read. Every problem
with a file is a :class:`~afx_graph.errors.NodeInputError` on the ``path`` field with a
message a person can act on; no raw ffmpeg exception leaves this module.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from afx_graph.errors import NodeInputError
from afx_graph.media import container as media
from afx_graph.types import Audio

MAX_SECONDS = 21600.0   # six hours: the longest start/duration a patch may ask for
# Decoded samples are float32 with every channel kept: at most this many bytes of them
# (2 GiB: 1 h 40 min of 44.1 kHz stereo, 15 min of 96 kHz 5.1).
MAX_DECODED_BYTES = 2 * 1024 ** 3
# A render decodes the span it shows plus this much around it, so that smoothing, onset and
# beat analysis have the context they would have in a whole-track render.
MARGIN_BEFORE = 10.0
MARGIN_AFTER = 2.0

# What PyAV raises when ffmpeg cannot open, demux or decode something (its errors subclass
# FFmpegError; a few checks raise plain ValueError / OSError).
WHAT = "audio file"

# Containers whose demuxer reports exact timestamps after a seek. Others (MP3 seeks through
# an approximate table of contents; Matroska stamps milliseconds, not samples) are decoded
# from the start and the head dropped.
_EXACT_SEEK_FORMATS = frozenset({"wav", "w64", "aiff", "caf", "flac", "ogg",
                                 "mov,mp4,m4a,3gp,3g2,mj2"})
_SEEK_AFTER = 2.0       # seconds: nearer starts are cheaper to decode through than to seek
_SEEK_PREROLL = 0.5     # seconds decoded before `start` so a lossy decoder has warmed up

# Containers whose header states the stream length exactly (MP3 only with a Xing/Info/VBRI
# header): decoding much less than that means the file was cut short.
_EXACT_LENGTH_FORMATS = frozenset({"flac", "mov,mp4,m4a,3gp,3g2,mj2"})
_IMAGE_FORMATS = frozenset({"image2", "gif", "apng", "webp"})


# --------------------------------------------------------------------------------------
# decoding a file
# --------------------------------------------------------------------------------------

def decode_audio(path, start: float = 0.0, duration: float | None = None) -> Audio:
    """Decode the first audio track of ``path`` at its own sample rate and channel count.

    ``start`` seconds are skipped and ``duration`` seconds kept (``None`` or 0: to the end);
    only that part is decoded where the format can seek exactly. Raises
    :class:`NodeInputError` (field ``path``) for anything wrong with the file.
    """
    file = media.checked_file(path, WHAT, _bad)
    start = max(0.0, float(start))
    duration = float(duration) if duration else None
    try:
        return _decode(file, start, duration, seek=start >= _SEEK_AFTER)
    except _SeekMissed:      # the seek landed somewhere unusable: decode from the top
        return _decode(file, start, duration, seek=False)


def audio_chunks(path, duration: float | None = None):
    """The first audio track of ``path`` from its start, piece by piece as it decodes, for
    reading a track of any length in bounded memory: yields ``(samples, sr)``, samples
    float32 ``(channels, n)`` in [-1, 1] at the rate and channel count of the track's first
    frame, ``duration`` seconds in all (``None`` or 0: to the end). The checks and messages
    are :func:`decode_audio`'s (NodeInputError, field ``path``), without its size cap, which
    is for holding a whole span at once."""
    file = media.checked_file(path, WHAT, _bad)
    with media.open_container(file, WHAT, _bad) as container:
        stream = _audio_stream(container, file)
        convert, pos, end, held, count = None, 0, None, [], 0
        for frame in _frames(container, stream, file):
            if convert is None:
                convert = _Converter(frame, file)
                end = max(1, round(float(duration) * convert.rate)) if duration else None
            for data in convert(frame):
                if end is not None:
                    data = data[:, :end - pos]
                pos += data.shape[1]
                count += data.shape[1]
                held.append(data)
            if end is not None and pos >= end:
                break
            if count >= _PIECE:             # pieces of ~64 K samples: few numpy calls
                yield _clean(held), convert.rate
                held, count = [], 0
        else:
            if convert is None:
                raise _bad(f"'{file.name}' contains no audio samples")
            _check_complete(container, stream, file, pos / convert.rate)
        if held:
            yield _clean(held), convert.rate


_PIECE = 65536


def _clean(held: list[np.ndarray]) -> np.ndarray:
    data = np.concatenate(held, axis=1) if len(held) > 1 else held[0]
    data = np.nan_to_num(data, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(data, -1.0, 1.0, out=data)


class PastEnd(NodeInputError):
    """The asked-for span starts after the end of the file."""

    def __init__(self, message: str, length: float):
        super().__init__(message, field="path")
        self.length = length


def _frames(container, stream, file: Path):
    """The decoded frames of ``stream`` that hold samples."""
    return (f for f in media.decoded(container, stream, file, _bad) if f.samples)


def _bad(message: str) -> NodeInputError:
    return NodeInputError(message, field="path")


class _SeekMissed(Exception):
    """A seek did not land where decoding can start from; decode from the beginning."""


@dataclass
class _Window:
    """Keeps samples ``[lo, hi)`` of a stream that arrives chunk by chunk; ``pos`` is the
    stream position of the next sample to arrive (``hi`` None: to the end)."""

    lo: int
    hi: int | None
    pos: int
    file: Path
    sr: int

    def __post_init__(self):
        self.chunks: list[np.ndarray] = []
        self.bytes = 0

    def add(self, data: np.ndarray) -> None:
        n = data.shape[1]
        a = max(self.lo - self.pos, 0)
        b = n if self.hi is None else min(self.hi - self.pos, n)
        if b > a:
            chunk = data[:, a:b]
            self.bytes += chunk.shape[0] * chunk.shape[1] * 4
            if self.bytes > MAX_DECODED_BYTES:
                raise _too_long(self.file, self.sr, chunk.shape[0], self.pos / self.sr)
            self.chunks.append(chunk)
        self.pos += n

    @property
    def full(self) -> bool:
        return self.hi is not None and self.pos >= self.hi

    @property
    def kept(self) -> int:
        return sum(c.shape[1] for c in self.chunks)

    def samples(self) -> np.ndarray:
        out = np.concatenate(self.chunks, axis=1).astype(np.float32, copy=False)
        out = np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        return np.clip(out, -1.0, 1.0, out=out)


def _too_long(file: Path, sr: int, channels: int, seconds: float | None) -> NodeInputError:
    gib = MAX_DECODED_BYTES / 1024 ** 3
    longest = MAX_DECODED_BYTES / (4 * channels * sr)
    what = f" ({seconds / 60:.0f} min)" if seconds else ""
    return _bad(f"'{file.name}'{what} is too long to decode at once: {channels} channels at "
                f"{sr} Hz fit {gib:g} GiB for {longest / 60:.1f} min at most; render a part of "
                "it with --start and --duration")


def _decode(file: Path, start: float, duration: float | None, seek: bool) -> Audio:
    with media.open_container(file, WHAT, _bad) as container:
        stream = _audio_stream(container, file)
        _check_size(container, stream, file, start, duration)
        seek = seek and _seeks_exactly(container, stream)
        window, sr, layout = _read(container, stream, file, start, duration, seek)
        if not window.full:
            _check_complete(container, stream, file, window.pos / sr)
    if window.pos == 0:
        raise _bad(f"'{file.name}' contains no audio samples")
    if window.kept == 0:
        raise PastEnd(f"start {start:g} s is past the end of '{file.name}' "
                      f"({window.pos / sr:.2f} s long)", window.pos / sr)
    return Audio(window.samples(), int(sr), file, _layout_name(layout), offset=start,
                 to_end=not window.full)


def _check_size(container, stream, file: Path, start: float, duration: float | None) -> None:
    """Refuse, before decoding, a span whose samples would pass MAX_DECODED_BYTES."""
    cc = stream.codec_context
    if cc is None:            # no decoder for it: reading the frames says so
        return
    sr, channels = cc.sample_rate or 0, cc.channels or 0
    declared = None
    if stream.duration and stream.time_base is not None:
        declared = float(stream.duration * stream.time_base)
    elif container.duration:
        declared = container.duration / 1_000_000
    span = duration if declared is None else max(0.0, declared - start)
    if duration is not None:
        span = min(span, duration)
    if span and sr and channels and span * sr * channels * 4 > MAX_DECODED_BYTES:
        raise _too_long(file, sr, channels, declared)


def _audio_stream(container, file: Path):
    if container.streams.audio:
        return container.streams.audio[0]
    fmt = container.format.name
    if fmt.endswith("_pipe") or fmt in _IMAGE_FORMATS:
        raise _bad(f"'{file.name}' is an image ({fmt.removesuffix('_pipe')}), not an audio file")
    if fmt == "tty":
        raise _bad(f"'{file.name}' is a text file, not an audio file")
    if container.streams.video:
        raise _bad(f"'{file.name}' has no audio track (it is a video without sound)")
    raise _bad(f"'{file.name}' has no audio track")


def _read(container, stream, file: Path, start: float, duration: float | None, seek: bool):
    """Decode until ``start + duration`` (or the end); returns the window and the stream's
    sample rate and channel layout (those of its first frame)."""
    if seek:
        _seek(container, stream, start - _SEEK_PREROLL)
    window = convert = None
    for frame in _frames(container, stream, file):
        if convert is None:
            convert = _Converter(frame, file)
            window = _start_window(frame, stream, convert.rate, start, duration, seek, file)
        for data in convert(frame):
            window.add(data)
        if window.full:
            return window, convert.rate, convert.layout
    if convert is None:
        if seek:
            raise _SeekMissed
        raise _bad(f"'{file.name}' contains no audio samples")
    for data in convert.flush():
        window.add(data)
    return window, convert.rate, convert.layout


def _start_window(frame, stream, sr: int, start: float, duration: float | None,
                  seek: bool, file: Path) -> _Window:
    lo = round(start * sr)
    hi = None if duration is None else lo + max(1, round(duration * sr))
    pos = _position(frame, stream, sr) if seek else 0
    if pos is None or pos > lo:
        raise _SeekMissed
    return _Window(lo, hi, pos, file, sr)


def _seeks_exactly(container, stream) -> bool:
    """Whether a seek in this file lands on a timestamp exact to the sample."""
    rate = stream.codec_context.sample_rate
    return (container.format.name in _EXACT_SEEK_FORMATS and stream.time_base is not None
            and bool(rate) and stream.time_base <= Fraction(1, rate))


def _seek(container, stream, seconds: float) -> None:
    if stream.time_base is None:
        raise _SeekMissed
    offset = int(seconds / stream.time_base) + (stream.start_time or 0)
    try:
        container.seek(offset, stream=stream)
    except media.AV_ERRORS:
        raise _SeekMissed from None


def _position(frame, stream, sr: int) -> int | None:
    """Index (at ``sr``) of a frame's first sample counted from the stream's start."""
    if frame.pts is None or frame.time_base is None:
        return None
    t = frame.pts * frame.time_base
    if stream.start_time is not None and stream.time_base is not None:
        t -= stream.start_time * stream.time_base
    return round(float(t) * sr)


# sample formats -> (numpy dtype, scale to [-1, 1], offset) for our own conversion
_SAMPLE_FORMATS = {
    "u8": (np.uint8, 1 / 128, -128.0), "s16": (np.int16, 1 / 32768, 0.0),
    "s32": (np.int32, 1 / 2**31, 0.0), "s64": (np.int64, 1 / 2**63, 0.0),
    "flt": (np.float32, 1.0, 0.0), "dbl": (np.float64, 1.0, 0.0),
}


class _Converter:
    """Turns decoded frames of any sample format into planar float32 arrays at the rate and
    channel count of the first frame, also where a stream changes them midway.

    The conversion is our own numpy code, not ffmpeg's resampler: PyAV's resampler crashes
    the process on 7.1 audio, and this needs no more than a reshape and a scale."""

    def __init__(self, first, file: Path):
        self.rate, self.layout, self.file = first.sample_rate, first.layout, file
        self.channels = first.layout.nb_channels

    def __call__(self, frame) -> list[np.ndarray]:
        at = float(frame.time or 0.0)
        try:
            data = frame_to_array(frame)
        except (KeyError, ValueError) as e:
            raise media.damaged(self.file, at, e, _bad) from None
        if data.shape[0] != self.channels:          # a stream that changes its channels
            mono = data.mean(axis=0, keepdims=True)
            data = np.repeat(mono, self.channels, axis=0)
        if frame.sample_rate != self.rate:          # ... or its rate: linear resampling
            n = max(1, round(data.shape[1] * self.rate / frame.sample_rate))
            x = np.linspace(0, data.shape[1] - 1, n)
            data = np.stack([np.interp(x, np.arange(data.shape[1]), c) for c in data])
        return [data.astype(np.float32, copy=False)]

    def flush(self) -> list[np.ndarray]:
        return []


def frame_to_array(frame) -> np.ndarray:
    """A decoded audio frame -> ``(channels, samples)`` float32 in [-1, 1]."""
    name = frame.format.name
    planar = name.endswith("p")
    dtype, scale, offset = _SAMPLE_FORMATS[name.removesuffix("p")]
    raw = frame.to_ndarray()
    channels = frame.layout.nb_channels
    if not planar:                          # packed: one row of interleaved samples
        raw = raw.reshape(-1, channels).T
    out = raw.astype(np.float32)
    if offset:
        out += offset
    if scale != 1.0:
        out *= scale
    return out


def _check_complete(container, stream, file: Path, decoded: float) -> None:
    """Refuse a file that decodes to much less than its header promises (cut short)."""
    expected = _declared_seconds(container, stream, file)
    if expected is not None and decoded < expected - max(0.5, 0.05 * expected):
        raise _bad(f"'{file.name}' is truncated: its header says {expected:.2f} s "
                   f"but only {decoded:.2f} s could be decoded")


def _declared_seconds(container, stream, file: Path) -> float | None:
    """The stream length stated by the file's header, where that is exact; else None."""
    fmt = container.format.name
    if fmt == "wav":
        return _wav_declared_seconds(file)
    exact = fmt in _EXACT_LENGTH_FORMATS or (fmt == "mp3" and _has_mp3_length_header(file))
    if not exact or not stream.duration or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _wav_declared_seconds(file: Path) -> float | None:
    """The length a WAV's data chunk claims (ffmpeg trusts the file size instead); None
    when the header leaves it open (a recording that was never finalised) or is unusual."""
    try:
        with open(file, "rb") as f:
            head = f.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            rate = align = 0
            while len(chunk := f.read(8)) == 8:
                cid, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if cid == b"fmt " and size >= 16:
                    body = f.read(size)
                    rate = int.from_bytes(body[4:8], "little")
                    align = int.from_bytes(body[12:14], "little")
                    f.seek(size % 2, 1)
                elif cid == b"data":
                    usable = rate and align and size not in (0, 0xFFFFFFFF)
                    return size / (rate * align) if usable else None
                else:
                    f.seek(size + size % 2, 1)
    except OSError:
        return None
    return None


def _has_mp3_length_header(file: Path) -> bool:
    """Whether an MP3 starts with a Xing/Info/VBRI frame (which states the frame count)."""
    try:
        with open(file, "rb") as f:
            head = f.read(10)
            skip = 0
            if head[:3] == b"ID3" and len(head) == 10:   # ID3v2 tag: a syncsafe size
                skip = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
            f.seek(skip)
            first = f.read(2048)
    except OSError:
        return False
    return any(tag in first for tag in (b"Xing", b"Info", b"VBRI"))


def _layout_name(layout) -> str:
    """ffmpeg's layout name; an unordered "N channels" becomes the usual one (stereo, 5.1)."""
    m = re.fullmatch(r"(\d+) channels?", layout.name)
    if m:
        try:
            return av.AudioLayout(f"{m.group(1)}c").name
        except media.AV_ERRORS:
            pass
    return layout.name
