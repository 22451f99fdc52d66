"""The preview's play head: play / pause / seek / loop, on the wall clock or, when
``sounddevice`` is installed and there is an output device, on the audio being played (the
picture follows what you hear). No dearpygui here."""
from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np


class PreviewClock:
    """Seconds into the patch (0 .. duration). Thread-safe: the UI sets it, the preview
    worker reads it."""

    def __init__(self, time_fn: Callable[[], float] = time.monotonic):
        self._time = time_fn
        self._lock = threading.Lock()
        self._pos = 0.0             # position when last anchored
        self._t0 = time_fn()        # wall time of the anchor
        self.playing = False
        self.loop = True
        self.audio: "AudioOut | None" = None
        self._duration = None

    def _wall_pos(self) -> float:
        return self._pos + (self._time() - self._t0 if self.playing else 0.0)

    def now(self, duration: float | None = None) -> float:
        """The current position, wrapped (loop) or stopped (no loop) at ``duration``."""
        with self._lock:
            if duration is not None:
                self._duration = duration
            duration = self._duration
            if self.audio is not None and self.audio.active and self.playing:
                pos = self.audio.position()
            else:
                pos = self._wall_pos()
            if duration and pos >= duration:
                if self.loop:
                    pos = pos % duration
                    self._anchor(pos)
                else:
                    pos = duration
                    self.playing = False
                    self._anchor(pos)
                    if self.audio is not None:
                        self.audio.stop()
            return max(0.0, pos)

    def _anchor(self, pos: float) -> None:
        self._pos, self._t0 = pos, self._time()
        if self.audio is not None and self.audio.active:
            self.audio.seek(pos)

    def play(self) -> None:
        with self._lock:
            if self.playing:
                return
            if self._duration and self._pos >= self._duration - 1e-6:
                self._pos = 0.0          # at the end: play from the start
            self._t0 = self._time()
            self.playing = True
            if self.audio is not None:
                self.audio.start(self._pos)

    def pause(self) -> None:
        with self._lock:
            if not self.playing:
                return
            if self.audio is not None and self.audio.active:
                self._pos = self.audio.position()
                self.audio.stop()
            else:
                self._pos = self._wall_pos()
            self.playing = False
            self._t0 = self._time()

    def toggle(self) -> bool:
        (self.pause if self.playing else self.play)()
        return self.playing

    def seek(self, t: float) -> None:
        with self._lock:
            self._anchor(max(0.0, float(t)))

    def set_audio(self, audio: "AudioOut | None") -> None:
        with self._lock:
            if self.audio is not None:
                self.audio.close()
            self.audio = audio
            if audio is not None and self.playing:
                audio.start(self._wall_pos())


class AudioOut:
    """Plays an :class:`~afx_graph.Audio` from a position through ``sounddevice``; its
    position is what the clock follows while playing. ``offset`` is where the patch's
    time 0 sits in the track (``settings.start``)."""

    def __init__(self, audio, sd, offset: float = 0.0):
        self.sd = sd
        self.sr = int(audio.sr)
        self.samples = np.ascontiguousarray(audio.stereo().T, dtype=np.float32)  # (n, channels)
        self.offset = int(round(offset * self.sr))
        self._lock = threading.Lock()
        self._at = self.offset            # next sample to play
        self.stream = None
        self.active = True

    def position(self) -> float:
        with self._lock:
            return max(0.0, (self._at - self.offset) / self.sr)

    def seek(self, t: float) -> None:
        with self._lock:
            self._at = self.offset + int(t * self.sr)

    def _callback(self, outdata, frames, time_info, status) -> None:
        with self._lock:
            a = self._at
            chunk = self.samples[a:a + frames] if a >= 0 else self.samples[:0]
            self._at = a + frames
        n = len(chunk)
        outdata[:n] = chunk
        outdata[n:] = 0

    def start(self, t: float) -> None:
        self.seek(t)
        if self.stream is None:
            try:
                self.stream = self.sd.OutputStream(samplerate=self.sr, channels=self.samples.shape[1],
                                                   dtype="float32", callback=self._callback)
            except Exception:        # no device after all: the clock goes on silently
                self.active = False
                return
        try:
            self.stream.start()
        except Exception:
            self.active = False

    def stop(self) -> None:
        if self.stream is not None:
            try:
                self.stream.stop()
            except Exception:
                pass

    def close(self) -> None:
        if self.stream is not None:
            try:
                self.stream.close()
            except Exception:
                pass
            self.stream = None


def find_sound_output():
    """(the ``sounddevice`` module, or None and why the preview is silent: it then runs on
    the wall clock; the preview panel shows the reason)."""
    try:
        import sounddevice as sd
    except ImportError:
        return None, "no sound: the sounddevice package is not installed (pip install sounddevice)"
    except OSError:          # the package is there, the PortAudio library is not
        return None, ("no sound: the PortAudio library is missing (Debian/Ubuntu: "
                      "apt-get install libportaudio2)")
    try:
        sd.query_devices(kind="output")
    except Exception:
        return None, "no sound: this machine has no audio output device"
    return sd, ""
