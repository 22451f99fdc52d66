"""`afx sweep` and `afx batch` tried by a hostile user (issue 20): grids counted before they are
built, the swept patch never written over, damaged state files (sweep.json, golden.json)
refused with one line, no temporary folder left by a signal, messages that name only options
the command has, the song that only goes to the video's sound, and output folders and names
that are refused (empty, the home folder, control characters)."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from afx_graph.cli import build_parser, main
from conftest import afx_exe, run_afx_process
from media import beat_track, write_wav

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.yaml"
QUICK = 20          # seconds: a refusal takes the start of a process, not the grid's size

TINY = """\
afx: 1
settings: {size: [32, 18], fps: 10, duration: 1}
nodes:
  field: {type: cppn, params: {hidden: 8, layers: 2, seed: 1}}
  video: {type: output.video, params: {path: out.mp4}, inputs: {image: field.image}}
"""

# the song goes only to the video's sound: the picture does not listen to it
SOUND_ONLY = """\
afx: 1
settings: {size: [32, 18], fps: 10}
nodes:
  song: {type: audio.file, params: {path: song.wav}}
  field: {type: cppn, params: {hidden: 8, layers: 2, seed: 1}}
  video: {type: output.video, params: {path: out.mp4},
          inputs: {image: field.image, audio: song.audio}}
"""


def afx(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str, *says: str) -> str:
    """The single ``error:`` line of ``err`` (no traceback), holding every one of ``says``."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err and "internal error" not in err, err
    bare = re.sub(r"/\S*?pytest-of-[^/\s]+/pytest-\d+/[^/\s]+/", "TMP/", lines[0])  # its name
    for s in says:
        assert s in bare, (s, lines[0])
    return bare


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes (what 'nothing changed' compares)."""
    return {p.relative_to(folder): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def options_of(command: str) -> set[str]:
    sub = next(a for a in build_parser()._subparsers._group_actions)
    return set(sub.choices[command]._option_string_actions)


@pytest.fixture
def tiny(tmp_path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return p


@pytest.fixture
def sound_only(tmp_path) -> Path:
    write_wav(tmp_path / "song.wav", beat_track(3.0), 22050)
    p = tmp_path / "sound.yaml"
    p.write_text(SOUND_ONLY)
    return p


# -- signals ------------------------------------------------------------------------------------
@pytest.mark.parametrize("sig, delays", [(signal.SIGTERM, [0.3, 0.8, 1.5]),
                                         (signal.SIGINT, [1.0])])
def test_a_signal_during_a_sweep_leaves_no_job_folder(tmp_path, sig, delays):
    temp = tmp_path / "tmp"
    for k, delay in enumerate(delays):
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir()
        out = tmp_path / f"sweep{k}"
        proc = subprocess.Popen([afx_exe(), "sweep", str(DEMO), "--set", "field.seed=1..3",
                                 "--size", "64x36", "-o", str(out), "--quiet"],
                                env={**os.environ, "TMPDIR": str(temp)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not glob.glob(str(temp / "afx-job-*")) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 128 + sig), err
        assert os.listdir(temp) == [], (delay, os.listdir(temp))
        assert not [p for p in out.rglob("*") if ".partial-" in p.name]


# -- the song that only goes to the video's sound -------------------------------------------------
def test_a_still_sweep_takes_the_length_from_the_videos_sound(tmp_path, capsys, sound_only):
    out = tmp_path / "s"
    code, _, err = afx(capsys, "sweep", sound_only, "--set", "field.seed=1,2", "--still", "1",
                       "-o", out, "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (out / "cells").iterdir()) == ["001.png", "002.png"]
    code, _, err = afx(capsys, "run", sound_only, "-o", tmp_path / "run.mp4", "--quiet")
    assert code == 0, err


def test_a_still_sweep_of_such_a_bundle(tmp_path, capsys, monkeypatch, sound_only):
    monkeypatch.chdir(tmp_path)
    assert afx(capsys, "pack", sound_only, "-o", "piece.afxpack")[0] == 0
    code, _, err = afx(capsys, "sweep", "piece.afxpack", "--set", "field.seed=1,2",
                       "-o", tmp_path / "s", "--quiet")
    assert code == 0, err
    assert len(list((tmp_path / "s" / "cells").iterdir())) == 2

