"""Audio sources: decode a file (``audio.file``) or make a built-in test track (``audio.synth``).

Both give an :class:`~afx_graph.types.Audio`: float32 samples shaped ``(channels, n)`` in
[-1, 1] at the track's own sample rate, with every original channel kept for muxing.

Decoding goes through PyAV (ffmpeg), so anything ffmpeg reads works: WAV, FLAC, MP3,
OGG/Vorbis, M4A/AAC, and the sound of a video file. Every problem with a file is a
:class:`~afx_graph.errors.NodeInputError` on the ``path`` field with a message a person can
act on; no raw ffmpeg exception leaves this module.
"""
from __future__ import annotations

import math
import re
import stat
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from afx_graph.errors import NodeInputError
from afx_graph.files import what_is
from afx_graph.spec import Out, Param, node
from afx_graph.types import AUDIO, Audio

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
_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError)

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
    file = _checked_file(path)
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
    file = _checked_file(path)
    with _open(file) as container:
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


def _bad(message: str) -> NodeInputError:
    return NodeInputError(message, field="path")


def _checked_file(path) -> Path:
    """The file to read, after the checks that need no decoder."""
    if path is None or not str(path).strip():
        raise _bad("no audio file given")
    file = Path(path).expanduser()
    try:
        if file.is_dir():
            raise _bad(f"'{file}' is a folder, not an audio file")
        if not file.exists():
            raise _bad(f"file not found: {file}")
        st = file.stat()
        if not stat.S_ISREG(st.st_mode):
            raise _bad(f"'{file}' is {what_is(st)}, not an audio file")
        if st.st_size == 0:
            raise _bad(f"'{file.name}' is empty (0 bytes)")
    except (OSError, ValueError) as e:      # ValueError: a NUL byte in the name
        raise _bad(f"cannot read '{file.name}': {getattr(e, 'strerror', None) or e}") from None
    return file


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
    with _open(file) as container:
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


def _open(file: Path):
    try:
        return av.open(str(file), metadata_errors="replace")
    except _AV_ERRORS as e:
        raise _unreadable(file, e) from None


def _unreadable(file: Path, e: Exception) -> NodeInputError:
    """A plain message for a file ffmpeg could not open."""
    name = file.name
    if isinstance(e, FileNotFoundError):
        return _bad(f"file not found: {file}")
    if isinstance(e, PermissionError):
        return _bad(f"cannot read '{name}': permission denied")
    if isinstance(e, EOFError):
        return _bad(f"'{name}' is truncated or damaged (it ends too early)")
    if isinstance(e, av.error.InvalidDataError):
        return _bad(f"'{name}' is not an audio file that can be read "
                    "(unknown format, or the file is damaged)")
    return _bad(f"cannot read '{name}': {getattr(e, 'strerror', None) or e}")


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
    except _AV_ERRORS:
        raise _SeekMissed from None


def _position(frame, stream, sr: int) -> int | None:
    """Index (at ``sr``) of a frame's first sample counted from the stream's start."""
    if frame.pts is None or frame.time_base is None:
        return None
    t = frame.pts * frame.time_base
    if stream.start_time is not None and stream.time_base is not None:
        t -= stream.start_time * stream.time_base
    return round(float(t) * sr)


def _frames(container, stream, file: Path):
    """The decoded frames of ``stream``; a decoding failure becomes a NodeInputError."""
    frames = container.decode(stream)
    decoded = 0.0
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except _AV_ERRORS as e:
            raise _damaged(file, decoded, e) from None
        if frame.samples:
            decoded = float(frame.time or 0.0)
            yield frame


def _damaged(file: Path, seconds: float, e: Exception) -> NodeInputError:
    reason = getattr(e, "strerror", None) or str(e)
    where = f" after {seconds:.1f} s" if seconds > 0 else ""
    return _bad(f"'{file.name}' is damaged or truncated: decoding failed{where} ({reason})")


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
            raise _damaged(self.file, at, e) from None
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
        except _AV_ERRORS:
            pass
    return layout.name


@node("audio.file", category="Audio", uses=("span",))
class AudioFile:
    """Audio file

    Decodes the sound of a file: WAV, FLAC, MP3, OGG, M4A/AAC, or the audio track of a
    video. Keeps its sample rate and channels (the video output muxes them unchanged).
    """

    path = Param(str, "", kind="path", required=True,
                 doc="audio or video file; a relative path is read from the patch's folder")
    start = Param(float, 0.0, min=0.0, max=MAX_SECONDS, doc="seconds to skip at the start")
    duration = Param(float, 0.0, min=0.0, max=MAX_SECONDS, doc="seconds to keep; 0 = to the end")
    audio = Out(AUDIO, doc="the decoded track")

    @staticmethod
    def file_problem(param: str, path: str, params: dict) -> str | None:
        """Why ``path`` is no sound this node decodes, or None (``afx pack`` carries only
        files their node reads): its first moments are decoded."""
        try:
            decode_audio(path, 0.0, 0.1)
        except NodeInputError as e:
            return f"cannot be read as audio: {e.issue.message}"
        return None

    def process(self, ctx, path, start, duration):
        """Decodes the span the render shows (``settings.start`` .. + ``settings.duration``)
        and a margin around it; the whole (trimmed) track when the render's length is the
        track's."""
        s = ctx.settings
        lo = max(0.0, s.start - MARGIN_BEFORE)
        hi = duration or None                                 # this node's own trim
        if s.duration is not None:
            want = s.start + s.duration + MARGIN_AFTER
            hi = want if hi is None else min(hi, want)
        try:
            audio = decode_audio(path, start + lo, None if hi is None else max(hi - lo, 1e-3))
        except PastEnd as e:
            raise NodeInputError(f"the render starts at {s.start:g} s, past the end of "
                                 f"'{Path(path).name}' ({e.length - start:.2f} s long)",
                                 field="start") from None
        audio.offset = lo
        if duration and hi is not None and abs(hi - duration) < 1e-9:
            audio.to_end = True                               # the trimmed track ends here
        return {"audio": audio}


# --------------------------------------------------------------------------------------
# the built-in test track
# --------------------------------------------------------------------------------------

SYNTH_RATE = 44100
_PEAK = 10 ** (-1 / 20)            # -1 dBFS

# Chord progressions, one chord a bar: (root in semitones above the key, chord quality).
_PROGRESSIONS = (
    ((0, "m"), (8, "M"), (3, "M"), (10, "M")),     # i  VI  III VII
    ((0, "m"), (5, "m"), (10, "M"), (3, "M")),     # i  iv  VII III
    ((0, "m"), (10, "M"), (8, "M"), (7, "M")),     # i  VII VI  V
    ((0, "m"), (3, "M"), (5, "m"), (8, "M")),      # i  III iv  VI
)
_CHORDS = {"m": (0, 3, 7, 10, 14), "M": (0, 4, 7, 11, 14)}   # seventh chords with a ninth

# Bass riffs on the eighth notes of a bar: semitones above the chord root, None = rest.
_BASS_RIFFS = (
    (0, None, 0, None, 0, None, 0, 12),
    (0, 0, 12, 0, 0, 0, 12, 7),
    (0, None, 0, 12, None, 0, 7, None),
    (0, 12, 0, 12, 0, 12, 7, 12),
)

# Sections, one a bar: how loud each part plays (kick, snare, hats, bass, pads).
_SECTIONS = {
    "intro":     (0.7, 0.0, 0.0, 0.0, 1.0),
    "full":      (1.0, 1.0, 1.0, 1.0, 0.7),
    "fill":      (1.0, 1.0, 1.0, 1.0, 0.7),     # plus a snare roll on the last beat
    "breakdown": (0.0, 0.0, 0.5, 0.5, 1.3),
    "build":     (0.8, 0.0, 1.0, 0.0, 1.0),     # plus a rising snare roll on eighths
}
# After one intro bar the track cycles through these eight bars.
_ARRANGEMENT = ("full", "full", "breakdown", "build", "full", "full", "full", "fill")
_MIX = {"kick": 0.9, "snare": 0.45, "hats": 0.16, "bass": 0.3, "pads": 0.07}


def section_of(bar: int) -> str:
    """Name of the section that bar ``bar`` (0-based) of the synth track belongs to."""
    return "intro" if bar == 0 else _ARRANGEMENT[(bar - 1) % len(_ARRANGEMENT)]


def synth_track(tempo: float = 120.0, seed: int = 0, length: float = 12.0) -> Audio:
    """The built-in test track: drums, bass and pads in stereo at 44.1 kHz, -1 dBFS peak.

    Same arguments, same samples (bit for bit); ``seed`` picks the key, chord progression,
    bass riff and hi-hat variations."""
    song = _Song(tempo, seed, length)
    mix = song.drums() + song.bass() + song.pads()
    peak = float(np.abs(mix).max())
    if peak > 0:
        mix *= _PEAK / peak
    return Audio(mix.astype(np.float32), SYNTH_RATE, None, "stereo")


class _Song:
    """The score of a synth track and the instruments that play it."""

    def __init__(self, tempo: float, seed: int, length: float):
        self.rng = np.random.default_rng(seed)
        self.sr = SYNTH_RATE
        self.n = max(1, round(length * self.sr))
        self.beat = 60.0 / tempo
        self.bars = math.ceil(length / (4 * self.beat))
        self.key = 33 + int(self.rng.integers(0, 12))          # bass root, MIDI A1..G#2
        self.progression = _PROGRESSIONS[self.rng.integers(len(_PROGRESSIONS))]
        self.riff = _BASS_RIFFS[self.rng.integers(len(_BASS_RIFFS))]
        self.open_hats = bool(self.rng.integers(2))            # open hat on the off-beats
        self.hat_rolls = self.rng.random(self.bars) < 0.35      # bars with a 16th hat burst
        self._sounds: dict[tuple, np.ndarray] = {}
        self._duck: np.ndarray | None = None

    # -- timing ------------------------------------------------------------------------
    def at(self, beats: float) -> int:
        """Sample index of a time counted in beats from the start."""
        return round(beats * self.beat * self.sr)

    def level(self, bar: int, part: int) -> float:
        return _SECTIONS[section_of(bar)][part]

    def chord(self, bar: int) -> tuple[int, str]:
        return self.progression[bar % len(self.progression)]

    def sound(self, make, *args) -> np.ndarray:
        """``make(*args)``, made once per distinct arguments (notes repeat every bar)."""
        key = (make.__name__, *args)
        if key not in self._sounds:
            self._sounds[key] = make(*args)
        return self._sounds[key]

    def stereo(self, left: np.ndarray, right: np.ndarray | None = None) -> np.ndarray:
        return np.stack([left, left if right is None else right])

    # -- drums -------------------------------------------------------------------------
    def drums(self) -> np.ndarray:
        kick, snare, hats, open_hats = (np.zeros(self.n) for _ in range(4))
        sounds = {"kick": _kick(self.sr), "snare": _snare(self.sr, self.rng),
                  "hat": _hat(self.sr, self.rng, 0.05), "open": _hat(self.sr, self.rng, 0.25)}
        offbeat, offbeat_track = ("open", open_hats) if self.open_hats else ("hat", hats)
        for bar in range(self.bars):
            b0 = 4 * bar
            k, s, h = (self.level(bar, part) for part in range(3))
            _place(kick, sounds["kick"], [self.at(b0 + i) for i in range(4)], k)
            _place(snare, sounds["snare"], [self.at(b0 + 1), self.at(b0 + 3)], s)
            _place(hats, sounds["hat"], [self.at(b0 + i) for i in range(4)], h)
            _place(offbeat_track, sounds[offbeat], [self.at(b0 + i + 0.5) for i in range(4)],
                   0.8 * h)
            self.rolls(bar, snare, hats, sounds)
        center = _MIX["kick"] * kick + _MIX["snare"] * snare
        left = center + _MIX["hats"] * (0.7 * hats + 1.1 * open_hats)
        right = center + _MIX["hats"] * (1.1 * hats + 0.7 * open_hats)
        return self.stereo(left, right)

    def rolls(self, bar: int, snare, hats, sounds) -> None:
        """Snare rolls of the fill and build bars; 16th hat bursts on some bars."""
        b0, name = 4 * bar, section_of(bar)
        if name == "fill":
            _place(snare, sounds["snare"], [self.at(b0 + 3 + i / 4) for i in range(4)],
                   np.linspace(0.5, 1.0, 4))
        elif name == "build":
            _place(snare, sounds["snare"], [self.at(b0 + i / 2) for i in range(8)],
                   np.linspace(0.2, 1.0, 8))
        if self.hat_rolls[bar] and self.level(bar, 2) > 0:
            _place(hats, sounds["hat"], [self.at(b0 + 3.25), self.at(b0 + 3.75)],
                   0.6 * self.level(bar, 2))

    # -- bass --------------------------------------------------------------------------
    def bass(self) -> np.ndarray:
        out = np.zeros(self.n)
        length = 0.45 * self.beat
        for bar in range(self.bars):
            level = self.level(bar, 3)
            if level == 0:
                continue
            root = self.key + self.chord(bar)[0]
            for i, step in enumerate(self.riff):
                if step is not None:
                    note = self.sound(_bass_note, _hz(root + step), length, self.sr)
                    _place(out, note, [self.at(4 * bar + i / 2)], level)
        return self.stereo(_MIX["bass"] * self.ducked(out))

    # -- pads --------------------------------------------------------------------------
    def pads(self) -> np.ndarray:
        out = np.zeros((2, self.n))
        for bar in range(self.bars):
            root, quality = self.chord(bar)
            notes = [self.key + 24 + root + i for i in _CHORDS[quality]]
            chord = self.sound(_pad_chord, tuple(notes), 4 * self.beat, self.sr)
            _place(out, chord, [self.at(4 * bar)], self.level(bar, 4))
        return _MIX["pads"] * self.ducked(out)

    def ducked(self, x: np.ndarray) -> np.ndarray:
        """Sidechain pumping: dip the sound at each kick (the groove of dance music)."""
        if self._duck is None:
            _, dip = _decay(self.sr, self.beat, 10.0)
            dip_amount = np.zeros(self.n)
            for bar in range(self.bars):
                _place(dip_amount, dip, [self.at(4 * bar + i) for i in range(4)],
                       0.6 * self.level(bar, 0))
            self._duck = 1.0 - dip_amount
        return x * self._duck


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _place(track: np.ndarray, sound: np.ndarray, onsets, gains) -> None:
    """Add ``sound`` into ``track`` (last axis is time) at each onset, scaled by ``gains``."""
    gains = np.broadcast_to(np.asarray(gains, dtype=float), (len(onsets),))
    n = track.shape[-1]
    for at, g in zip(onsets, gains):
        if g == 0 or at >= n:
            continue
        end = min(n, at + sound.shape[-1])
        track[..., at:end] += g * sound[..., :end - at]


def _decay(sr: int, seconds: float, rate: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * sr)) / sr
    return t, np.exp(-t * rate)


def _kick(sr: int) -> np.ndarray:
    """A sine whose pitch drops from ~160 to 45 Hz, with a short click."""
    t, env = _decay(sr, 0.4, 9.0)
    freq = 45.0 + 115.0 * np.exp(-t * 35.0)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * env
    return body + 0.3 * np.exp(-t * 400.0) * np.sin(2 * np.pi * 1800 * t)


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Bright noise with a 190 Hz body."""
    t, env = _decay(sr, 0.25, 22.0)
    noise = np.diff(rng.standard_normal(len(t) + 1))
    tone = np.sin(2 * np.pi * 190.0 * t) * np.exp(-t * 35.0)
    return 0.35 * noise * env + 0.6 * tone


def _hat(sr: int, rng: np.random.Generator, seconds: float) -> np.ndarray:
    """High-passed noise (second difference); longer ``seconds`` for an open hat."""
    t, env = _decay(sr, seconds, 4.0 / seconds)
    noise = np.diff(rng.standard_normal(len(t) + 2), n=2)
    return noise / 4.0 * env


def _bass_note(freq: float, seconds: float, sr: int) -> np.ndarray:
    """A warm, slightly driven sine with a plucked envelope."""
    t, env = _decay(sr, seconds, 5.0)
    env = env * np.minimum(1.0, t / 0.004) * np.minimum(1.0, (seconds - t) / 0.01)
    return np.tanh(2.0 * np.sin(2 * np.pi * freq * t)) * env


def _pad_chord(notes, seconds: float, sr: int) -> np.ndarray:
    """A soft stereo chord: detuned sines, slow attack, released past the bar's end."""
    release = min(0.4, seconds / 4)
    t = np.arange(int((seconds + release) * sr)) / sr
    env = np.clip(np.minimum(t / min(0.3, seconds / 3), (seconds + release - t) / release), 0, 1)
    freqs = np.array([_hz(m) for m in notes])[:, None]
    chans = []
    for detune in (0.998, 1.002):
        phase = 2 * np.pi * freqs * detune * t
        chans.append((np.sin(phase) + 0.2 * np.sin(2 * phase)).sum(axis=0))
    return np.stack(chans) * env


@node("audio.synth", category="Audio", uses=())
class AudioSynth:
    """Test track

    A built-in drum, bass and pad track (stereo, 44.1 kHz) so a patch works without an
    audio file: kick on every beat, snare on 2 and 4, hats on the eighths, with a quiet
    intro bar, breakdowns and snare-roll builds. Same settings, same sound.
    """

    tempo = Param(float, 120.0, min=40.0, max=240.0, doc="beats per minute")
    seed = Param(int, 0, min=0, max=2**31 - 1,
                 doc="picks the key, chords, bass riff and hi-hat variations")
    length = Param(float, 12.0, min=0.5, max=600.0, doc="seconds")
    audio = Out(AUDIO, doc="the generated track")

    def process(self, ctx, tempo, seed, length):
        return {"audio": synth_track(tempo, int(seed), length)}

    @staticmethod
    def audio_length(params: dict) -> float:
        """Seconds of audio it makes, known before it runs (a start past it is refused by
        validation as by the render: afx_graph.render.plan_issues)."""
        return max(1, round(float(params["length"]) * SYNTH_RATE)) / SYNTH_RATE


NODES = [AudioFile, AudioSynth]
