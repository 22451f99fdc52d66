"""Audio that arrives while the show runs: the value an ``audio.input`` node gives (on an AUDIO
port) in ``afx live``, or a file played in real time.

A :class:`LiveAudio` pulls new mono samples from its ``source`` (a capture's ``read``, or a
file feeder) when a reader asks (:meth:`LiveAudio.pull`), numbers them from the start of the
show, and keeps the last :data:`KEEP_SECONDS` so each reader (an analyser) can take what
arrived since it last looked (:meth:`LiveAudio.since`). Its clock, :attr:`seconds`, is the
audio received: the time a live frame is rendered for."""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np

KEEP_SECONDS = 30.0


class LiveAudio:
    live = True                       # what the feature nodes look for
    offset = 0.0                      # seconds into the "track" of sample 0
    to_end = False
    duration = float("inf")

    def __init__(self, source: Callable[[], np.ndarray], sr: int, channels: int = 1,
                 name: str = "live input", device=None):
        self.source, self.sr, self.channels, self.name = source, int(sr), int(channels), name
        # what feeds it, for the show's overlay and its end: a Capture (level, warning,
        # overflows, arrivals, close) or a file's player; None for a plain source
        self.device = device
        self._ring = np.zeros(int(KEEP_SECONDS * self.sr), np.float32)
        self._received = 0                # samples received since the start
        self._lock = threading.Lock()

    @property
    def received(self) -> int:
        """Samples received since the start."""
        return self._received

    @property
    def seconds(self) -> float:
        return self.received / self.sr

    def pull(self) -> None:
        """Take what the source has delivered since the last pull."""
        new = np.asarray(self.source(), np.float32).reshape(-1)
        n = len(self._ring)
        if not len(new):
            return
        new = new[-n:]
        with self._lock:
            at = self._received % n
            first = min(len(new), n - at)
            self._ring[at:at + first] = new[:first]
            self._ring[:len(new) - first] = new[first:]
            self._received += len(new)

    def since(self, position: int) -> tuple[np.ndarray, int]:
        """The samples from ``position`` on (those still kept) and the position after them."""
        with self._lock:
            n = len(self._ring)
            start = max(position, self._received - n)
            count = self._received - start
            at = start % n
            if at + count <= n:
                out = self._ring[at:at + count].copy()
            else:
                out = np.concatenate([self._ring[at:], self._ring[:at + count - n]])
            return out, self._received


def input_level(sources) -> float:
    """The loudest level (0..1) among live audio values' devices."""
    return max((getattr(s.device, "level", 0.0) for s in sources), default=0.0)


def input_warnings(sources) -> list[str]:
    """What the devices of live audio values warn of now (a device gone, no sound)."""
    return [w for s in sources if (w := getattr(s.device, "warning", None))]


def close_stream(stream, wait: float = 2.0) -> None:
    """Stop and close a PortAudio stream, whatever state a vanished device left it in, on a
    thread of its own: closing a stream whose sound server died can block for ever inside
    PortAudio (measured with PulseAudio killed under an ALSA 'pulse' stream), and neither a
    show nor the caller's locks may wait on that. Waits ``wait`` seconds at most."""
    if stream is None:
        return

    def close():
        try:
            stream.abort()
            stream.close()
        except Exception:      # noqa: BLE001 (a dead device's stream may fail to close)
            pass
    reaper = threading.Thread(target=close, name="afx-close-stream", daemon=True)
    reaper.start()
    reaper.join(wait)


class FilePlayer:
    """A decoded track played as a live input would arrive: through the speakers when there
    is an output device (the samples are handed to the analysis as they are handed to the
    sound card), on the wall clock when there is none (``play=False``, or no device)."""

    def __init__(self, samples: np.ndarray, sr: int, name: str = "file", play: bool = True):
        self.samples = np.asarray(samples, np.float32)        # (channels, n)
        self.mono = self.samples.mean(axis=0)
        self.sr, self.name = int(sr), name
        self.played = 0                    # samples handed to the sound card (or the clock)
        self.handed = 0                    # samples handed to the analysis
        self.level, self.overflows, self.warning = 0.0, 0, None
        self.arrivals: list[tuple[int, float]] = []
        self._t0 = None
        self._stream = None
        self._want_sound = play

    def start(self) -> "FilePlayer":
        import time
        self._t0 = time.perf_counter()
        if self._want_sound:
            try:
                import sounddevice as sd
                self._stream = sd.OutputStream(samplerate=self.sr,
                                               channels=min(2, self.samples.shape[0]),
                                               dtype="float32", callback=self._callback)
                self._stream.start()
            except Exception as e:      # noqa: BLE001 (PortAudio's errors vary: play silently)
                self._stream = None
                self.warning = f"no sound ({e}): the show follows the clock"
        return self

    def _callback(self, out, frames, time_info, status):
        import time
        chunk = self.samples[:out.shape[1], self.played:self.played + frames].T
        out[:len(chunk)] = chunk
        out[len(chunk):] = 0.0
        self.played += frames
        self.arrivals.append((self.played, time.perf_counter()))
        del self.arrivals[:-64]

    @property
    def position(self) -> int:
        """Samples whose time has come."""
        import time
        if self._stream is not None:
            return min(self.played, len(self.mono))
        return min(len(self.mono), int((time.perf_counter() - self._t0) * self.sr))

    def arrival(self, sample: int) -> float | None:
        """When sample number ``sample`` was handed to the sound card (or its time came)."""
        if self._stream is None:
            return self._t0 + sample / self.sr
        return next((at for written, at in list(self.arrivals) if written >= sample), None)

    @property
    def ended(self) -> bool:
        return self.position >= len(self.mono)

    def read(self) -> np.ndarray:
        due = self.position
        out = self.mono[self.handed:due]
        self.handed = max(self.handed, due)
        if len(out):
            self.level = float(np.abs(out).max())
        return out

    def close(self) -> None:
        stream, self._stream = self._stream, None
        close_stream(stream)
