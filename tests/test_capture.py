"""Live capture through the real path: a PulseAudio null sink that the test starts, reached by
PortAudio as the ALSA device 'pulse' (../shared/LIVE-TESTING.md). A click track is played into
the sink and captured from its monitor; timing is by the wall clock."""
from __future__ import annotations

import subprocess
import threading
import time

import numpy as np
import pytest

from afxcli import run_afx
from afx_graph.errors import AfxError
from afx_graph.media import capture
from afx_graph.nodes.causal import CausalOnsets
from livesound import SR, click_track, play

pytestmark = pytest.mark.xdist_group("live")        # one PulseAudio server at a time


def test_the_monitor_is_listed_and_found_by_name(pulse):
    names = [d.name for d in capture.input_devices()]
    assert "pulse" in names, names
    assert capture.find_device("pulse").name == "pulse"
    with pytest.raises(AfxError, match="no input device matches 'no such card'"):
        capture.find_device("no such card")


def test_afx_devices_lists_the_inputs(pulse):
    r = run_afx("devices")
    assert r.returncode == 0, r.stderr
    assert "pulse" in r.stdout and "Hz" in r.stdout


def test_a_click_track_played_into_the_sink_gives_onsets_and_beats(pulse):
    y, period = click_track(120, 9.0)
    stop = threading.Event()
    with capture.Capture("default", rate=SR, blocksize=256) as cap:
        th = play(y, stop)
        onsets = CausalOnsets(cap.rate)
        got = []
        t0 = time.monotonic()
        while th.is_alive() and time.monotonic() - t0 < 20:
            time.sleep(0.02)
            got.append(cap.read())
        stop.set()
        heard = np.concatenate(got)
        assert cap.overflows == 0 and cap.warning is None
    assert np.abs(heard).max() > 0.3                          # the clicks came through
    onsets.push(heard)
    rows = onsets.rows
    beats = (np.nonzero(rows[:, 1] == 1.0)[0] + 1) / onsets.rate
    # the clicks as they arrived: the capture starts before the player by a varying delay,
    # and a loaded sound server may drop or insert a block on the way (a shifted grid)
    loud = np.nonzero(np.abs(heard) > 0.3)[0]
    starts = loud[np.concatenate([[True], np.diff(loud) > 0.1 * cap.rate])] / cap.rate
    due = starts[starts >= starts[0] + 4.0]
    due = due[due < len(heard) / cap.rate - 0.05]
    assert len(due) >= 6, starts                             # locked within 4 s, then ...
    miss = [b for b in due if np.min(np.abs(beats - b)) > 0.03]
    assert not miss, (miss, beats, starts)                   # ... a flag on every beat
    later = beats[beats > due[0] - period / 2]
    assert len(later) <= len(due) + 1, beats                 # and none between them
    assert abs(rows[-1, 3] - 120) < 3, rows[-1, 3]


def pactl(*args) -> None:
    r = subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr


def test_an_input_that_stops_gives_silence_and_a_warning_then_comes_back(pulse):
    """The sink suspended: its monitor delivers nothing, as a device pulled out. (Killing the
    sound server instead leaves PortAudio's ALSA thread spinning in C, printing errors, and
    closing that stream blocks for ever: the capture closes streams on a thread of its own so
    a show survives even that, but a test cannot.)"""
    with capture.Capture("default", rate=SR, blocksize=256) as cap:
        time.sleep(0.5)
        assert cap.warning is None
        pactl("suspend-sink", "afx_null", "1")
        deadline = time.monotonic() + 8
        while cap.warning is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cap.warning is not None and "silence" in cap.warning
        before = cap.seconds
        time.sleep(2.5)
        assert cap.seconds > before + 1.0                    # the clock goes on, in silence
        assert cap.warning is not None                       # and says so all along
        assert np.isfinite(cap.read()).all()
        pactl("suspend-sink", "afx_null", "0")
        deadline = time.monotonic() + 10
        while cap.warning is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cap.warning is None, cap.warning               # picked up again
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 3                          # and closed without a wait


def test_an_eight_channel_input_is_mixed_to_mono_and_a_rate_it_refuses_falls_back(pulse):
    """The ALSA 'default' device offers 32 channels here: 8 are captured and mixed (the
    sound reaches the analysis); a sample rate no device takes becomes the nearest it does."""
    y, _ = click_track(120, 2.0)
    with capture.Capture("default", rate=SR, channels=8, blocksize=256) as cap:
        assert cap.channels == 8
        th = play(y, threading.Event())
        th.join(10)
        heard = cap.read()
    assert np.abs(heard).max() > 0.1
    with capture.Capture("default", rate=1, channels=1) as cap:
        assert cap.rate != 1 and cap.rate in (*capture.COMMON_RATES, int(cap.device.rate))
