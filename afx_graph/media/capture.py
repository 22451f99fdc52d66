"""Live audio input through PortAudio (``sounddevice``): a microphone, a line-in, or what the
computer plays (on Linux the PulseAudio/PipeWire monitor, reached as the ALSA device
``pulse``).

:class:`Capture` keeps the mono mix of what arrives in a ring buffer that the show reads from
its own thread (:meth:`Capture.read`). A show never stops for its input: a device that cannot
be opened, or that vanishes mid-show, gives a warning (:attr:`Capture.warning`) and silence,
and the capture opens it again when it returns (checked every :data:`RETRY_SECONDS`).
Overflows (the show read too slowly) are counted, not raised."""
from __future__ import annotations

import atexit
import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np

from afx_graph.errors import AfxError
from afx_graph.media.stream import close_stream

RETRY_SECONDS = 1.0
_OPEN: "weakref.WeakSet[Capture]" = weakref.WeakSet()      # every capture not yet closed
RING_SECONDS = 10.0                # what is kept for a reader that fell behind
COMMON_RATES = (48000, 44100, 96000, 88200, 32000, 22050, 16000, 8000)


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    api: str
    channels: int
    rate: float
    default: bool


def _sd():
    try:
        import sounddevice as sd
    except (ImportError, OSError) as e:        # OSError: no PortAudio library
        raise AfxError(f"no live audio: {e} (install PortAudio: apt-get install "
                       f"libportaudio2, or brew install portaudio)") from None
    return sd


def input_devices() -> list[InputDevice]:
    """Every device PortAudio can capture from, the system default marked."""
    sd = _sd()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        try:
            default = sd.query_devices(kind="input")["index"]
        except (sd.PortAudioError, ValueError):       # no default input
            default = -1
    except sd.PortAudioError as e:
        raise AfxError(f"cannot list audio devices: {e}") from None
    out = []
    for i, d in enumerate(devices):
        if d["max_input_channels"] > 0:
            out.append(InputDevice(i, d["name"], apis[d["hostapi"]]["name"],
                                   int(d["max_input_channels"]), float(d["default_samplerate"]),
                                   i == default))
    return out


def find_device(wanted: str | int | None) -> InputDevice:
    """The input device named (an index, a name or part of one) or, for None or "default",
    the system's default input. Raises AfxError naming what there is."""
    devices = input_devices()
    if not devices:
        raise AfxError("no audio input device (afx devices lists them; on Linux the "
                       "PulseAudio/PipeWire monitor is the ALSA device 'pulse')")
    if wanted in (None, "", "default"):
        return next((d for d in devices if d.default), devices[0])
    text = str(wanted).strip()
    if text.isdigit():
        found = [d for d in devices if d.index == int(text)]
    else:
        found = [d for d in devices if d.name == text] or \
                [d for d in devices if text.lower() in d.name.lower()]
    if len(found) != 1:
        names = ", ".join(f"{d.index}: {d.name}" for d in devices)
        why = "no input device" if not found else "more than one input device"
        raise AfxError(f"{why} matches {text!r} (inputs: {names})", field="device")
    return found[0]


def pick_rate(device: InputDevice, wanted: int | None, channels: int) -> int:
    """``wanted`` if the device takes it, else the supported rate nearest to it (the
    device's own default first when nothing is asked)."""
    sd = _sd()
    order = [int(wanted)] if wanted else []
    order += [int(device.rate)] + sorted(COMMON_RATES, key=lambda r: abs(r - (wanted or device.rate)))
    for rate in dict.fromkeys(order):
        try:
            sd.check_input_settings(device=device.index, samplerate=rate, channels=channels,
                                    dtype="float32")
            return rate
        except (sd.PortAudioError, ValueError):
            continue
    raise AfxError(f"'{device.name}' takes none of the sample rates {', '.join(map(str, order))}",
                   field="rate")


class Capture:
    """Capture from ``device`` (see :func:`find_device`) at ``rate`` (None: the device's),
    mixing its channels (at most ``channels``) to mono times ``gain``."""

    def __init__(self, device: str | int | None = None, rate: int | None = None,
                 channels: int = 2, gain: float = 1.0, blocksize: int = 256):
        self.wanted, self.gain, self.blocksize = device, float(gain), int(blocksize)
        self.device = find_device(device)
        self.channels = max(1, min(int(channels), self.device.channels))
        self.rate = pick_rate(self.device, rate, self.channels)
        self._ring = np.zeros(int(RING_SECONDS * self.rate), np.float32)
        self._written = 0                  # samples written since the start (the audio clock)
        self._read = 0
        self._lock = threading.Lock()
        self.overflows = 0
        self.dropped = 0                   # samples the reader never saw (it fell behind)
        self.level = 0.0                   # peak of the last block, 0..1
        self.warning: str | None = None
        self.arrivals: list[tuple[int, float]] = []     # (samples written, perf_counter) lately
        self._stream = None
        self._closed = False
        # opening and closing streams, by the show and by the watchdog: never a stream opened
        # after close() (it would be left running, and spins in PortAudio once its server dies)
        self._streams = threading.RLock()
        self._stopping = threading.Event()          # wakes the watchdog to end
        self._watch = threading.Thread(target=self._watchdog, name="afx-capture", daemon=True)

    # -- the audio clock -----------------------------------------------------------------------
    @property
    def seconds(self) -> float:
        """Seconds of audio received since the start (the live clock)."""
        return self._written / self.rate

    def arrival(self, sample: int) -> float | None:
        """When the block holding sample number ``sample`` entered the callback (None if it
        is no longer among the last blocks)."""
        return next((at for written, at in list(self.arrivals) if written >= sample), None)

    def start(self) -> "Capture":
        _OPEN.add(self)
        self._open()
        self._watch.start()
        return self

    def read(self) -> np.ndarray:
        """The mono samples that arrived since the last read (at most RING_SECONDS)."""
        with self._lock:
            new = self._written - self._read
            n = len(self._ring)
            if new > n:
                self.dropped += new - n
                new = n
            start = (self._written - new) % n
            out = np.concatenate([self._ring[start:], self._ring[:start]])[:new] \
                if start + new > n else self._ring[start:start + new].copy()
            self._read = self._written
        return out

    def close(self) -> None:
        _OPEN.discard(self)
        with self._streams:
            self._closed = True
            stream, self._stream = self._stream, None
        close_stream(stream)                 # never under the lock (it may block)
        self._stopping.set()
        if self._watch.is_alive() and self._watch is not threading.current_thread():
            self._watch.join(2 * RETRY_SECONDS)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- PortAudio -----------------------------------------------------------------------------
    def _callback(self, indata, frames, time_info, status):
        if status.input_overflow:
            self.overflows += 1
        mono = indata.mean(axis=1, dtype=np.float32) * self.gain
        mono = np.where(np.isfinite(mono), mono, 0.0).astype(np.float32)
        now = time.perf_counter()
        with self._lock:
            n = len(self._ring)
            start = self._written % n
            end = start + len(mono)
            if end <= n:
                self._ring[start:end] = mono
            else:
                self._ring[start:] = mono[:n - start]
                self._ring[:end - n] = mono[n - start:]
            self._written += len(mono)
            self.arrivals.append((self._written, now))
            del self.arrivals[:-64]
        self.level = float(np.abs(mono).max(initial=0.0))
        if self.warning is not None and not isinstance(status, _NoStatus):
            self.warning = None          # sound from the device again

    def _open(self) -> bool:
        sd = _sd()
        with self._streams:
            if self._closed:
                return False
            return self._open_locked(sd)

    def _open_locked(self, sd) -> bool:
        try:
            stream = sd.InputStream(device=self.device.index, samplerate=self.rate,
                                    channels=self.channels, dtype="float32",
                                    blocksize=self.blocksize, callback=self._callback)
            stream.start()
        except (sd.PortAudioError, ValueError) as e:
            self.warning = f"audio input '{self.device.name}' cannot be opened ({e}): silence " \
                           f"until it comes back"
            return False
        self._stream = stream
        return True                  # the warning goes when sound comes (_callback)

    def _watchdog(self) -> None:
        """Notices a stream that stopped (the device went away, or delivers nothing) and
        reopens it when the device is back; fills the gap with silence so the clock goes on.
        PortAudio is never restarted to look for devices again: doing so under a stream of a
        server that went away crashed the process (measured: a segfault in PortAudio's ALSA
        thread); the device is reopened by the index it had, which holds for a sound server
        that restarts and for a card that comes back on the same ALSA name."""
        last = self._written
        while not self._closed:
            self._stopping.wait(RETRY_SECONDS)
            with self._streams:
                if self._closed:
                    return
                alive = self._stream is not None and self._stream.active \
                    and self._written != last
                last = self._written
                if alive:
                    continue
                stream, self._stream = self._stream, None
                if stream is not None:
                    self.warning = f"audio input '{self.device.name}' stopped: silence until " \
                                   f"it comes back"
            close_stream(stream, wait=0.0)       # never under the lock (it may block)
            self._silence(RETRY_SECONDS)
            if self._open():
                last = self._written

    def _silence(self, seconds: float) -> None:
        self._callback(np.zeros((int(seconds * self.rate), 1), np.float32), 0, None,
                       _NoStatus())


@atexit.register
def close_all() -> None:
    """Close every capture this process still has open (a show that ends, a preview that
    leaves live input, or a start that failed after an input was opened): a stream left open
    keeps PortAudio's thread running after its device or server is gone."""
    for cap in list(_OPEN):
        cap.close()


class _NoStatus:
    input_overflow = False
