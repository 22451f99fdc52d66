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


def deep(n: int = 100000) -> str:
    return "[" * n + "]" * n


VERIFY_PATCH = """\
afx: 1
settings: {size: [64, 36], fps: 10, duration: 2}
nodes:
  field: {type: cppn, params: {hidden: 8, layers: 2, seed: 7}}
  video: {type: output.video, params: {path: out/v.mp4}, inputs: {image: field.image}}
"""


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("golden")
    patch = base / "p.yaml"
    patch.write_text(VERIFY_PATCH)
    assert main(["verify", str(patch), "--update", "--size", "32x18", "--frames", "2",
                 "--device", "cpu"]) == 0
    return patch, base / "p.golden"


def golden_copy(golden, tmp_path, text) -> Path:
    patch, folder = golden
    shutil.copy(patch, tmp_path / "p.yaml")
    shutil.copytree(folder, tmp_path / "p.golden")
    info = json.loads((folder / "golden.json").read_text())
    (tmp_path / "p.golden" / "golden.json").write_text(text(info) if callable(text) else text)
    return tmp_path / "p.yaml"


def frame_set(key, value):
    def text(info):
        info["frames"][0][key] = value
        return json.dumps(info)
    return text


@pytest.mark.parametrize("text", [
    deep(),
    '{"size": [32, 18], "frames": ' + deep() + "}",
    frame_set("index", 10 ** 400),
    frame_set("index", 2 ** 63),
    lambda info: json.dumps({**info, "size": [1e308, 18]}).replace("1e+308", "1e999"),
    lambda info: json.dumps({**info, "size": ["32", 18]}),
    lambda info: json.dumps({**info, "size": [32.5, 18]}),
    lambda info: json.dumps({**info, "size": {"w": 32}}),
    lambda info: json.dumps({**info, "fps": "fast"}),
    lambda info: json.dumps({**info, "precision": {"a": 1}}),
    lambda info: json.dumps(info["frames"]),
    lambda info: json.dumps({**info, "frames": info["frames"] * 100}),
], ids=["deep", "deep-frames", "index-huge", "index-2**63", "size-inf", "size-text",
        "size-fraction", "size-dict", "fps-text", "precision-dict", "a-list", "frames-many"])
def test_a_damaged_golden_json_is_one_error_line_naming_it(golden, tmp_path, capsys, text):
    patch = golden_copy(golden, tmp_path, text)
    before = snapshot(tmp_path / "p.golden")
    code, out, err = afx(capsys, "verify", patch, "--device", "cpu")
    assert code == 2, (out, err)
    one_error(err, "golden.json")
    assert snapshot(tmp_path / "p.golden") == before


def test_update_replaces_a_damaged_golden_json(golden, tmp_path, capsys):
    patch = golden_copy(golden, tmp_path, deep())
    code, _, err = afx(capsys, "verify", patch, "--update", "--device", "cpu")
    assert code == 0, err
    info = json.loads((tmp_path / "p.golden" / "golden.json").read_text())
    assert len(info["frames"]) == 4          # a damaged golden.json keeps nothing: the default


TWO_IMAGES = """\
afx: 1
settings: {size: [32, 18], fps: 10, duration: 2}
nodes:
  a: {type: cppn, params: {hidden: 8, layers: 2, seed: 7}}
  b: {type: cppn, params: {hidden: 8, layers: 2, seed: 8}}
  va: {type: output.video, params: {path: a.mp4}, inputs: {image: a.image}}
  vb: {type: output.video, params: {path: b.mp4}, inputs: {image: b.image}}
"""


def test_update_keeps_the_number_of_frames_of_a_patch_with_two_pictures(tmp_path, capsys):
    patch = tmp_path / "two.yaml"
    patch.write_text(TWO_IMAGES)
    assert afx(capsys, "verify", patch, "--update", "--frames", "2", "--device", "cpu")[0] == 0
    assert afx(capsys, "verify", patch, "--update", "--device", "cpu")[0] == 0
    info = json.loads((tmp_path / "two.golden" / "golden.json").read_text())
    assert len(info["frames"]) == 4                      # 2 frames of 2 pictures, not 4 of 2
    assert afx(capsys, "verify", patch, "--frames", "2", "--device", "cpu")[0] == 0


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

