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
from afxcli import afx_exe, run_afx_process
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


# -- grids are counted before they are built ----------------------------------------------------
def refused_quickly(tmp_path, *sets, says=("4096",)) -> str:
    out = tmp_path / "grid"
    args = [a for s in sets for a in ("--set", s)]
    t0 = time.monotonic()
    try:
        r = run_afx_process("sweep", DEMO, *args, "-o", out, timeout=QUICK)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the sweep was not refused within {QUICK} s")
    assert r.returncode == 2, r.stderr
    line = one_error(r.stderr, "--set", *says)
    assert not out.exists()
    return line + f" ({time.monotonic() - t0:.1f} s)"


def test_two_axes_of_4096_are_refused_at_once(tmp_path):
    line = refused_quickly(tmp_path, "field.seed=1..4096", "walk.seed=1..4096")
    assert "16777216" in line and "at most 4096" in line


def test_a_third_axis_does_not_eat_the_memory(tmp_path):
    refused_quickly(tmp_path, "field.seed=1..4096", "walk.seed=1..4096", "music.seed=1..4096")


def test_one_set_of_forty_ranges_is_refused_at_once(tmp_path):
    refused_quickly(tmp_path, "field.seed=" + ",".join(["1..4096"] * 40))


def test_two_kilobytes_of_ranges_are_refused_at_once(tmp_path):
    text = ",".join(["1..4096"] * 300)
    assert len(text) > 2048
    refused_quickly(tmp_path, "field.seed=" + text, "walk.seed=" + text)


def test_a_long_list_of_plain_values_is_counted_before_each_is_checked(tmp_path):
    refused_quickly(tmp_path, "field.seed=" + ",".join(str(i) for i in range(20000)))


def test_many_small_axes_multiply_past_the_limit(tmp_path, capsys):
    sets = ["field.seed=1,2", "field.hidden=8,16", "field.layers=2,3", "field.cycle=1,2",
            "field.contrast=1,2", "field.audio_gain=0,1", "walk.seed=1,2", "walk.dims=2,4",
            "music.seed=1,2", "music.tempo=100,120", "coords.folds=2,4", "coords.warp=0,0.1",
            "spectrum.bands=4,8"]
    code, _, err = afx(capsys, "sweep", DEMO, *[a for s in sets for a in ("--set", s)],
                       "-o", tmp_path / "grid")
    one_error(err, "8192", "at most 4096")
    assert code == 2 and not (tmp_path / "grid").exists()


@pytest.mark.parametrize("spec", [
    "1..1" + "0" * 5000,                  # 5000 digits: more than Python turns into an int
    "0.5..1" + "0" * 400 + "/0.5",        # a float of it is inf
    "1..10000000000000000000000",
    "0..1/0.0000000001",
])
def test_a_huge_range_is_refused_without_a_python_error(tmp_path, capsys, spec):
    code, _, err = afx(capsys, "sweep", DEMO, "--set", f"field.seed={spec}",
                       "-o", tmp_path / "s")
    assert code == 2
    one_error(err, "--set")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("spec", ["nan..1", "1..nan", "inf..1", "-inf..1", "1..inf",
                                  ".nan..1", "0..1/nan", "0..1/inf", "1..", "..4",
                                  "nan..inf,1,2"])
def test_a_range_that_is_not_of_numbers_is_refused(tmp_path, capsys, spec):
    code, _, err = afx(capsys, "sweep", DEMO, "--set", f"field.scale={spec}",
                       "--set", "field.seed=1,2", "-o", tmp_path / "s")
    assert code == 2
    line = one_error(err, "--set")
    assert "range" in line and "nothing to sweep" not in line
    assert not (tmp_path / "s").exists()


# -- --export never replaces what the sweep reads ----------------------------------------------
def test_export_does_not_replace_the_patch_being_swept(tmp_path, capsys, monkeypatch,
                                                      sound_only):
    before = sound_only.read_bytes()
    same = [sound_only, tmp_path / "sub" / ".." / sound_only.name, Path(sound_only.name)]
    (tmp_path / "sub").mkdir()
    os.link(sound_only, tmp_path / "hard.yaml")       # the same file under another name
    monkeypatch.chdir(tmp_path)
    for target in same + [tmp_path / "hard.yaml"]:
        code, _, err = afx(capsys, "sweep", sound_only, "--set", "field.seed=1,2",
                           "--export", "1", "-o", target, "--force")
        assert code == 2, target
        one_error(err, "-o", "the patch")
        assert sound_only.read_bytes() == before
    song = (tmp_path / "song.wav").read_bytes()        # nor a file the patch reads
    code, _, err = afx(capsys, "sweep", sound_only, "--set", "field.seed=1,2",
                       "--export", "1", "-o", tmp_path / "song.wav", "--force")
    assert code == 2 and (tmp_path / "song.wav").read_bytes() == song
    one_error(err, "-o")


def test_export_does_not_replace_the_bundle_being_swept(tmp_path, capsys, monkeypatch,
                                                       sound_only):
    monkeypatch.chdir(tmp_path)
    code, _, err = afx(capsys, "pack", sound_only, "-o", "piece.afxpack")
    assert code == 0, err
    before = (tmp_path / "piece.afxpack").read_bytes()
    code, _, err = afx(capsys, "sweep", "piece.afxpack", "--set", "field.seed=1,2",
                       "--export", "2", "-o", "piece.afxpack", "--force")
    assert code == 2
    one_error(err, "-o")
    assert (tmp_path / "piece.afxpack").read_bytes() == before


@pytest.mark.parametrize("cell", ["1" * 5000, "#" + "9" * 5000, "seed=" + "1" * 5000,
                                  "seed=" + "[" * 5000, "0", "-1"])
def test_an_export_cell_of_any_size_is_one_error_line(capsys, cell):
    code, out, err = afx(capsys, "sweep", DEMO, "--set", "field.seed=1,2", "--export", cell)
    assert code == 2 and out == ""
    one_error(err, "--export")


# -- state files read back ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, Path]:
    """A finished sweep of the tiny patch: (patch, folder)."""
    base = tmp_path_factory.mktemp("made")
    patch = base / "tiny.yaml"
    patch.write_text(TINY)
    assert main(["sweep", str(patch), "--set", "field.seed=1,2", "--still", "0.5", "--quiet",
                 "-o", str(base / "sweep")]) == 0
    return patch, base / "sweep"


def deep(n: int = 100000) -> str:
    return "[" * n + "]" * n


def damaged(made, tmp_path, change) -> Path:
    patch, folder = made
    out = tmp_path / "sweep"
    shutil.copytree(folder, out)
    data = json.loads((out / "sweep.json").read_text())
    text = change(data)
    (out / "sweep.json").write_text(text if isinstance(text, str) else json.dumps(data))
    return out


def _set(path, value):
    def change(data):
        d = data
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value
    return change


@pytest.mark.parametrize("change", [
    lambda data: deep(),
    lambda data: '{"afx_sweep": 1, "cells": [], "sets": ' + deep() + "}",
    lambda data: json.dumps({**data, "sets": deep(5000)}).replace('"' + deep(5000) + '"',
                                                               deep(5000)),
    _set(["cells", 0, "index"], [1]),
    _set(["cells", 0, "index"], {"a": 1}),
    _set(["sets"], 5),
    _set(["sets"], [{"target": "field.seed", "values": 7}]),
    _set(["sets"], ["field.seed"]),
    _set(["cells", 0, "seconds"], {"a": 1}),
    _set(["cells", 0, "seconds"], "soon"),
    _set(["cells"], [7, "x"]),
    _set(["cells", 0], None),
    _set(["patch_sha256"], ["x"]),
    _set(["afx_sweep"], True),
], ids=["deep", "deep-sets", "deep-in-sets", "index-list", "index-dict", "sets-number",
        "values-number", "sets-strings", "seconds-dict", "seconds-text", "cells-scalars",
        "cell-null", "sha-list", "format-true"])
def test_a_damaged_sweep_json_is_one_error_line_naming_it(made, tmp_path, capsys, change):
    patch, _ = made
    out = damaged(made, tmp_path, change)
    before = snapshot(out)
    code, _, err = afx(capsys, "sweep", patch, "--set", "field.seed=1,2", "--still", "0.5",
                       "-o", out)
    assert code == 2, err
    one_error(err, "sweep.json")
    assert snapshot(out) == before


def test_force_replaces_a_damaged_sweep_json(made, tmp_path, capsys):
    patch, _ = made
    out = damaged(made, tmp_path, lambda data: deep())
    code, _, err = afx(capsys, "sweep", patch, "--set", "field.seed=1,2", "--still", "0.5",
                       "-o", out, "--force", "--quiet")
    assert code == 0, err
    assert json.loads((out / "sweep.json").read_text())["afx_sweep"] == 1


@pytest.mark.parametrize("what", ["folder", "fifo", "link"])
def test_a_sweep_json_that_is_not_a_file_is_refused_even_with_force(made, tmp_path, capsys,
                                                                    what):
    patch, _ = made
    out = tmp_path / "sweep"
    out.mkdir()
    target = out / "sweep.json"
    if what == "folder":
        target.mkdir()
    elif what == "fifo":
        os.mkfifo(target)
    else:
        (tmp_path / "elsewhere.json").write_text("{}")
        target.symlink_to(tmp_path / "elsewhere.json")
    for force in ([], ["--force"]):
        code, _, err = afx(capsys, "sweep", patch, "--set", "field.seed=1,2", "--still", "0.5",
                           "-o", out, *force)
        assert code == 2, err
        one_error(err, "sweep.json")
    assert os.path.lexists(target) and not (out / "cells").exists()
    if what == "link":
        assert (tmp_path / "elsewhere.json").read_text() == "{}"


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


# -- messages name the command's own options ------------------------------------------------------
def test_out_of_memory_in_a_cell_is_reported_as_such(monkeypatch, capsys, tiny, tmp_path):
    import afx_graph.run.jobs as jobs

    def oom(job, tmp):
        raise MemoryError
    monkeypatch.setattr(jobs, "_render", oom)
    code, _, err = afx(capsys, "sweep", tiny, "--set", "field.seed=1,2", "-o", tmp_path / "s")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2 and all("out of memory" in x for x in lines), err
    named = set(re.findall(r"--[a-z][a-z-]*", err))
    assert named <= options_of("sweep")


def test_batch_messages_about_the_song_name_no_audio_option(tmp_path, capsys, tiny):
    write_wav(tmp_path / "song.wav", beat_track(1.0), 22050)
    code, _, err = afx(capsys, "batch", tiny, tmp_path / "song.wav", "-o", tmp_path / "album")
    assert code == 2
    line = one_error(err, "audio source")
    assert "--audio" not in line and not (tmp_path / "album").exists()


def test_an_absolute_output_path_in_the_patch_is_explained_in_the_commands_terms(
        tmp_path, capsys, sound_only):
    sound_only.write_text(SOUND_ONLY.replace("path: out.mp4", "path: /tmp/out.mp4"))
    for args in (["sweep", sound_only, "--set", "field.seed=1,2", "-o", tmp_path / "s"],
                 ["batch", sound_only, tmp_path / "song.wav", "-o", tmp_path / "b"]):
        code, _, err = afx(capsys, *args)
        line = one_error(err, "is absolute")
        named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-o)\b", line))
        assert named <= options_of(args[0]) - {"-o", "--output"}, line
        assert code == 2


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


# -- output folders and names -----------------------------------------------------------------
@pytest.mark.parametrize("where", ["~", "$HOME", "/", "home-parent"])
def test_a_sweep_is_not_written_straight_into_the_home_folder(tmp_path, capsys, monkeypatch,
                                                              tiny, where):
    home = tmp_path / "users" / "me"
    home.mkdir(parents=True)
    (home / "index.html").write_text("my page")
    monkeypatch.setenv("HOME", str(home))
    out = {"~": "~", "$HOME": str(home), "/": "/", "home-parent": str(home.parent)}[where]
    before = snapshot(home)
    for force in ([], ["--force"]):
        code, _, err = afx(capsys, "sweep", tiny, "--set", "field.seed=1,2", "-o", out, *force)
        assert code == 2
        one_error(err, "-o")
    assert snapshot(home) == before
    assert not os.path.exists("/cells") and not os.path.exists("/sweep.json")


def test_a_tilde_output_is_never_a_folder_named_tilde(tmp_path, capsys, monkeypatch, tiny):
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    afx(capsys, "run", tiny, "-o", "~", "--quiet")
    afx(capsys, "sweep", tiny, "--set", "field.seed=1,2", "--export", "1", "-o", "~")
    afx(capsys, "sweep", tiny, "--set", "field.seed=1,2", "-o", "~/s", "--quiet")
    assert not (tmp_path / "~").exists()
    assert (home / "s" / "sweep.json").exists()


def test_control_characters_in_a_song_name_do_not_reach_the_video_name(tmp_path, capsys):
    song = tmp_path / "a\nb\x1b[31m.wav"
    write_wav(song, beat_track(0.6), 22050)
    patch = tmp_path / "p.yaml"
    patch.write_text(SOUND_ONLY.replace("song.wav", "other.wav"))
    out = tmp_path / "album"
    code, stdout, err = afx(capsys, "batch", patch, song, "-o", out, "--quiet")
    assert code == 0, err
    names = os.listdir(out)
    assert len(names) == 1 and names[0].isprintable() and names[0].endswith(".mp4"), names


# -- -o as typed and out of memory: checked for every command (cli.py) --------------------
@pytest.mark.parametrize("command, where, args", [
    ("sweep", "afx_graph.commands.sweep.plan_sweep", ["sweep", DEMO, "--set", "field.seed=1,2",
                                                      "-o", "x"]),
    ("batch", "afx_graph.commands.batch.batch", ["batch", DEMO, "song.wav", "-o", "x"]),
    ("run", "afx_graph.commands.run.render_graph", ["run", DEMO, "-o", "x.mp4"]),
])
def test_out_of_memory_names_only_options_the_command_has(monkeypatch, capsys, command, where,
                                                         args):
    def oom(*a, **k):
        raise MemoryError
    module, name = where.rsplit(".", 1)
    monkeypatch.setattr(sys.modules[module] if module in sys.modules else
                        __import__(module, fromlist=[name]), name, oom)
    code, _, err = afx(capsys, *args)
    line = one_error(err, "out of memory")
    named = set(re.findall(r"--[a-z][a-z-]*", line))
    assert named and named <= options_of(command), named - options_of(command)
    assert code == 2


@pytest.mark.parametrize("command", ["sweep", "batch"])
def test_an_empty_output_is_refused(tmp_path, capsys, monkeypatch, sound_only, command):
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    args = ["--set", "field.seed=1,2"] if command == "sweep" else ["song.wav"]
    code, _, err = afx(capsys, command, sound_only, *args, "-o", "")
    assert code == 2
    one_error(err, "-o", "is empty")
    assert snapshot(tmp_path) == before


def test_run_and_export_refuse_an_empty_output(tmp_path, capsys, monkeypatch, tiny):
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    for args in (["run", tiny, "-o", ""],
                 ["sweep", tiny, "--set", "field.seed=1,2", "--export", "1", "-o", ""]):
        code, _, err = afx(capsys, *args)
        assert code == 2
        one_error(err, "-o", "is empty")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["a\nb", "a\x1b[31mb", "a\rb", "a\u202eb"])
def test_control_characters_in_an_output_folder_are_refused(tmp_path, capsys, sound_only,
                                                            name):
    for args in (["sweep", sound_only, "--set", "field.seed=1,2"],
                 ["batch", sound_only, tmp_path / "song.wav"],
                 ["run", sound_only],
                 ["sweep", sound_only, "--set", "field.seed=1,2", "--export", "1"]):
        before = snapshot(tmp_path)
        code, _, err = afx(capsys, *args, "-o", tmp_path / name)
        assert code == 2, args
        one_error(err, "-o")
        assert "\x1b" not in err and "\r" not in err and "\u202e" not in err
        assert snapshot(tmp_path) == before
