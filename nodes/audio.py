"""Audio sources: decode a file (``audio.file``) or make a built-in test track (``audio.synth``).

Both give an :class:`~afx_graph.types.Audio`: float32 samples shaped ``(channels, n)`` in
[-1, 1] at the track's own sample rate, with every original channel kept for muxing.

Decoding is the engine's (afx_graph/audio_io.py), shared with ``afx analyze``.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from afx_graph.media.audio import MARGIN_AFTER, MARGIN_BEFORE, MAX_SECONDS, PastEnd, decode_audio
from afx_graph.errors import NodeInputError
from afx_graph.spec import Out, Param, node
from afx_graph.types import AUDIO, Audio


def played_live(audio: Audio, ctx):
    """The track as it is (a render), or, in ``afx live``, played as a live input: it arrives
    as it is heard, and the feature nodes analyse it as they would a microphone."""
    if ctx is None or not ctx.settings.live:
        return audio
    from afx_graph.media.stream import FilePlayer, LiveAudio
    start = max(0, int(round((ctx.settings.start - audio.offset) * audio.sr)))
    name = audio.source.name if audio.source else "synth"
    player = FilePlayer(audio.samples[:, start:], audio.sr, name,
                        play=ctx.settings.live != "silent").start()
    return LiveAudio(player.read, audio.sr, audio.channels, name, player)


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
        return {"audio": played_live(audio, ctx)}


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
        return {"audio": played_live(synth_track(tempo, int(seed), length), ctx)}

    @staticmethod
    def audio_length(params: dict) -> float:
        """Seconds of audio it makes, known before it runs (a start past it is refused by
        validation as by the render: afx_graph.run.render.plan_issues)."""
        return max(1, round(float(params["length"]) * SYNTH_RATE)) / SYNTH_RATE


@node("audio.input", category="Audio", uses=())
class AudioInput:
    """Live input

    Captures a microphone, a line-in or what the computer plays (``afx devices`` lists
    them) while ``afx live`` shows the patch; the feature nodes analyse it as it arrives. A
    render cannot wait for a live input: ``afx run --audio FILE`` renders the patch with a
    file in its place (``afx live --input DEVICE`` does the opposite for a patch with a file).
    A device that vanishes mid-show gives silence and a warning until it returns."""

    device = Param(str, "", kind="device",
                   doc="an input's index or (part of) its name; empty: the default")
    rate = Param(int, 0, min=0, max=384000, linkable=False,
                 doc="sample rate; 0: the device's own (one it refuses: the nearest it takes)")
    channels = Param(int, 2, min=1, max=64, linkable=False,
                     doc="channels captured (at most the device's), mixed to mono")
    gain = Param(float, 1.0, min=0.0, max=64.0, linkable=False, doc="input gain")
    audio = Out(AUDIO, doc="the sound as it arrives")

    def process(self, ctx, device, rate, channels, gain):
        if not ctx.settings.live:
            raise NodeInputError("a live input is played with afx live; to render the patch, "
                                 "give it a file: afx run PATCH --audio FILE", field="device")
        from afx_graph.errors import AfxError
        from afx_graph.media.capture import Capture
        from afx_graph.media.stream import LiveAudio
        try:
            cap = Capture(device or None, int(rate) or None, int(channels), float(gain)).start()
        except AfxError as e:
            raise NodeInputError(e.issue.message, field="device") from None
        return {"audio": LiveAudio(cap.read, cap.rate, cap.channels, cap.device.name, cap)}


NODES = [AudioFile, AudioSynth, AudioInput]
