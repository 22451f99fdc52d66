"""Issue 12, item 4: the preview plays the music, and where it cannot, it says why (the
preview panel shows this note) instead of running silently."""
from __future__ import annotations

import builtins
import types

import pytest

from afx_graph.ui import clock
from afx_graph.ui.preview import PreviewWorker


def test_this_machine_either_plays_or_says_why():
    sd, note = clock.find_sound_output()
    assert (sd is None) == bool(note)
    assert sd is not None or note.startswith("no sound: ")


def _import_failing(monkeypatch, error):
    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "sounddevice":
            raise error
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", fake)


@pytest.mark.parametrize("error, fix", [(ImportError("no module"), "pip install sounddevice"),
                                        (OSError("PortAudio library not found"), "libportaudio2")])
def test_a_missing_package_or_library_is_named_with_its_fix(monkeypatch, error, fix):
    _import_failing(monkeypatch, error)
    sd, note = clock.find_sound_output()
    assert sd is None and fix in note
    assert PreviewWorker(audio=True).sound_note == note          # what the panel shows


def test_no_output_device_is_said(monkeypatch):
    def no_device(kind=None):
        raise ValueError("no output device")
    fake = types.SimpleNamespace(query_devices=no_device)
    monkeypatch.setitem(__import__("sys").modules, "sounddevice", fake)
    assert clock.find_sound_output() == (None, "no sound: this machine has no audio output device")
    monkeypatch.setitem(__import__("sys").modules, "sounddevice",
                        types.SimpleNamespace(query_devices=lambda kind=None: {"name": "speakers"}))
    assert clock.find_sound_output()[1] == ""
