"""Live sound for tests, through the real path: a private PulseAudio server with a null sink
(../shared/LIVE-TESTING.md), reached by PortAudio as the ALSA device 'pulse', and a player
that plays a track into it in real time. The fixtures (``pulse``) are in conftest.py."""
from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SR = 48000


class Pulse:
    """A private PulseAudio server with one null sink (the default sink and source)."""

    def __init__(self):
        self.runtime = tempfile.mkdtemp(prefix="afx-pulse-run-")
        self.home = tempfile.mkdtemp(prefix="afx-pulse-home-")
        self.proc = None

    def start(self) -> "Pulse":
        env = dict(os.environ, XDG_RUNTIME_DIR=self.runtime, HOME=self.home)
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
             "-L", "module-native-protocol-unix", "-L", "module-null-sink sink_name=afx_null",
             "-L", "module-always-sink"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.environ["XDG_RUNTIME_DIR"] = self.runtime        # the clients (ALSA's pulse plugin)
        os.environ["HOME"] = self.home
        deadline = time.monotonic() + 10
        while not (Path(self.runtime) / "pulse" / "native").exists():
            assert time.monotonic() < deadline, "PulseAudio did not start"
            time.sleep(0.05)
        refresh()
        warm_up()
        return self

    def stop(self) -> None:
        stop_players()        # a stream left open on a server that dies spins in PortAudio
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            sock = Path(self.runtime) / "pulse" / "native"
            sock.unlink(missing_ok=True)


def warm_up() -> None:
    """A fresh server's first streams stall (measured: an output opened first plays nothing
    for seconds; the capture's watchdog reopens its input, a test's player has none): open a
    pair and wait until the input flows, so the test's own streams start on a warm server."""
    import sounddevice as sd
    got = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        got.clear()
        with sd.InputStream(device="default", samplerate=SR, channels=1, blocksize=256,
                            callback=lambda i, f, t, s: got.append(f)):
            with sd.OutputStream(device="default", samplerate=SR, channels=1, blocksize=256,
                                 callback=lambda o, f, t, s: o.fill(0)):
                time.sleep(0.5)
        if sum(got) > 0.3 * SR:
            return
    raise AssertionError("the PulseAudio null sink never delivered sound")


def refresh() -> None:
    import sounddevice as sd
    sd._terminate()
    sd._initialize()


def click_track(bpm: float, seconds: float) -> tuple[np.ndarray, float]:
    y = 0.005 * np.random.default_rng(0).standard_normal(int(seconds * SR)).astype(np.float32)
    t = np.arange(int(0.04 * SR)) / SR
    kick = (0.8 * np.sin(2 * np.pi * 90 * t) * np.exp(-t * 70)).astype(np.float32)
    for b in np.arange(0.25, seconds, 60.0 / bpm):
        i = int(b * SR)
        y[i:i + len(kick)] += kick[:max(0, len(y) - i)]
    return y, 60.0 / bpm


PLAYERS: list[tuple[threading.Thread, threading.Event]] = []


def stop_players() -> None:
    """Stop and wait for every player a test started (before its server goes away)."""
    while PLAYERS:
        th, stop = PLAYERS.pop()
        stop.set()
        th.join(10)
        assert not th.is_alive(), "a player did not stop"


def play(y: np.ndarray, stop: threading.Event) -> threading.Thread:
    """Play ``y`` into the null sink in real time: a callback OutputStream on ALSA 'pulse'
    (a blocking write there fails in PortAudio's ALSA poll). The thread ends with the track."""
    import sounddevice as sd
    pos = [0]
    done = threading.Event()

    def callback(out, frames, time_info, status):
        chunk = y[pos[0]:pos[0] + frames]
        out[:len(chunk), 0] = chunk
        out[len(chunk):] = 0.0
        pos[0] += frames
        if pos[0] >= len(y):
            done.set()

    def run():
        with sd.OutputStream(device="default", samplerate=SR, channels=1, dtype="float32",
                             blocksize=256, callback=callback):
            while not (done.is_set() or stop.is_set()):
                time.sleep(0.01)
    th = threading.Thread(target=run, daemon=True)
    PLAYERS.append((th, stop))
    th.start()
    return th
