"""``afx analyze``, ``afx fit`` and the output paths of every command, tried as a hostile user
would (issue 20): a ten-hour video, out-of-memory advice, empty / ``~`` / linked / control-
character output names, and numbers argparse cannot read or that are out of range.

What a user sees is asserted: exit 2, one ``error:`` line naming the option, no traceback,
nothing created. Most calls run ``afx_graph.cli.main`` in this process (a child process costs
seconds of imports); peak memory is measured in child processes."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from afxcli import afx_exe

from afx_graph import cli
from afx_graph.commands import analyze

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.yaml"
TINY = ["--size", "32x18", "--fps", "5", "--duration", "1", "--quiet"]


# ---------------------------------------------------------------------------------------
# media made at run time
# ---------------------------------------------------------------------------------------

def long_video(path: Path, minutes: float, sr: int = 8000, seed: int = 3,
               frames: int | None = None) -> Path:
    """A long but cheap video: 16x16 at 1 fps (MPEG-4 part 2) with 8 kHz mono mu-law sound
    (one byte a sample, as the 288 MB ten-hour file of the report). A kick starts a random
    half of the seconds; the picture changes (to another grey) on those seconds only, so r is
    high. About 1 s per hour to make. ``frames``: the picture stops after so many."""
    rng = np.random.default_rng(seed)
    t = np.arange(sr) / sr
    tone = 0.05 * np.sin(2 * np.pi * 1000 * t)
    kick = tone + 0.8 * np.sin(2 * np.pi * 60 * t) * np.exp(-t * 12)
    sounds = [tone.astype(np.float32)[None], kick.astype(np.float32)[None]]
    pictures = [np.full((16, 16, 3), v, np.uint8) for v in (30, 90, 160, 230)]
    shown = 0
    with av.open(str(path), "w", format="mov") as c:
        v = c.add_stream("mpeg4", rate=1)
        v.width = v.height = 16
        v.pix_fmt = "yuv420p"
        a = c.add_stream("pcm_mulaw", rate=sr, layout="mono")
        for s in range(int(minutes * 60)):
            hit = int(rng.random() < 0.5)
            shown = (shown + hit * int(rng.integers(1, 4))) % len(pictures)
            vf = av.VideoFrame.from_ndarray(pictures[shown], format="rgb24")
            vf.pts, vf.time_base = s, Fraction(1, 1)
            for p in v.encode(vf) if frames is None or s < frames else ():
                c.mux(p)
            af = av.AudioFrame.from_ndarray(sounds[hit], format="flt", layout="mono")
            af.sample_rate, af.pts = sr, s * sr
            for p in a.encode(af):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path


def write_png(path: Path, size: int = 16) -> Path:
    rgb = np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)
    with av.open(str(path), "w", format="image2") as c:
        s = c.add_stream("png")
        s.width = s.height = size
        s.pix_fmt = "rgb24"
        for p in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


# ---------------------------------------------------------------------------------------
# calling the command line
# ---------------------------------------------------------------------------------------

@pytest.fixture
def afx(capsys, monkeypatch, tmp_path):
    """``afx(*argv, cwd=...)`` -> (exit code, stdout, stderr), in this process."""
    def call(*argv, cwd=None):
        monkeypatch.chdir(cwd or tmp_path)
        capsys.readouterr()
        rc = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, out, err
    return call


def one_error(rc: int, err: str, option: str | None = None) -> str:
    """The one ``error:`` line of a refusal (exit 2, no traceback, no usage dump)."""
    assert rc == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    if option is not None:
        assert f" {option}: " in f" {lines[0][len('error: '):]}" or \
            lines[0].startswith(f"error: {option}:"), lines[0]
    return lines[0]


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """What the commands read: an image, a bundle and a render of the demo patch."""
    d = tmp_path_factory.mktemp("made")
    here = os.getcwd()
    try:
        os.chdir(d)
        assert cli.main(["pack", str(DEMO), "-o", "demo.afxpack", "--quiet"]) == 0
        assert cli.main(["run", str(DEMO), "-o", "demo.mp4", *TINY]) == 0
    finally:
        os.chdir(here)
    return {"image": write_png(d / "img.png"), "bundle": d / "demo.afxpack",
            "render": d / "demo.mp4"}


def command(name: str, made: dict, out: str) -> list[str]:
    """A call of ``name`` that would succeed, writing to ``out`` (as typed)."""
    return {
        "run": ["run", DEMO, "-o", out, *TINY],
        "pack": ["pack", DEMO, "-o", out, "--quiet"],
        "unpack": ["unpack", made["bundle"], "-o", out, "--quiet"],
        "extract": ["extract", made["render"], "-o", out],
        "fit": ["fit", made["image"], "--steps", "1", "--size", "8", "--quiet", "-o", out],
        "gallery": ["gallery", DEMO, "--size", "16x9", "--times", "0", "--device", "cpu",
                    "-o", out],
    }[name]


COMMANDS = ("run", "pack", "unpack", "extract", "fit", "gallery")
# the field an error about the path on disk names: run's is checked with the patch (graph.py),
# which names the output node's param
BLAMED = {"run": "params.path", "pack": "-o", "extract": "-o", "fit": "-o"}
FILE_OUTPUTS = {"run": "v.mp4", "pack": "p.afxpack", "extract": "p.yaml",
                "fit": "l.safetensors"}


# ---------------------------------------------------------------------------------------
# afx analyze of a long video: memory bounded, not proportional to the sound
# ---------------------------------------------------------------------------------------

def peak_rss_mb(*argv) -> tuple[float, subprocess.CompletedProcess]:
    """Peak resident memory of ``afx ARGV`` in a child process of a fresh Python (so no
    earlier child counts), in MB."""
    code = ("import json, resource, subprocess, sys\n"
            "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "print(json.dumps([peak, r.returncode, r.stdout, r.stderr]))\n")
    r = subprocess.run([sys.executable, "-c", code, afx_exe(), *map(str, argv)],
                       capture_output=True, text=True, timeout=600)
    peak, rc, out, err = json.loads(r.stdout)
    return peak / 1024, subprocess.CompletedProcess(argv, rc, out, err)


def test_analyze_memory_does_not_grow_with_the_length_of_the_sound(tmp_path):
    # before: 8 kHz of sound cost ~150 MB a ten minutes (a 10-hour video peaked at 9.5 GB):
    # 25 more minutes would have cost ~375 MB
    short = long_video(tmp_path / "short.mov", 5)
    long = long_video(tmp_path / "long.mov", 30)
    peaks = {}
    for name, video in (("short", short), ("long", long)):
        peaks[name], r = peak_rss_mb("analyze", "--json", video)
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout)
        assert res["audio"]["seconds"] == (300 if name == "short" else 1800)
        assert res["r"] is not None and res["r"] > 0.5, res["r_by_lag"]
    assert peaks["long"] - peaks["short"] < 80, peaks


def test_streamed_onsets_are_librosas_onset_strength(monkeypatch):
    import librosa
    sr = 8000
    rng = np.random.default_rng(1)
    y = (0.02 * rng.standard_normal(sr * 20)).astype(np.float32)
    for at in rng.integers(0, y.size - 2000, 30):
        y[at:at + 2000] += np.sin(np.arange(2000) * 0.3) * np.exp(-np.arange(2000) / 300)
    y[: sr * 3] = 0.0                                         # silence: the dB floor counts
    whole = librosa.onset.onset_strength(y=y, sr=sr, hop_length=analyze.ONSET_HOP)
    for block, cache in ((analyze.ONSET_BLOCK, analyze.MEL_CACHE_BYTES),   # one pass
                         (7, 10 ** 9),          # many blocks, kept: one pass
                         (5, 4096),             # one block kept, then a second pass
                         (3, 0)):               # nothing kept: a second pass
        reads = []

        def pieces():
            reads.append(1)
            return iter(np.array_split(y, 37))
        onsets = analyze.onset_envelope(pieces, sr, block=block, cache_bytes=cache)
        assert len(reads) <= 2
        assert onsets.samples == y.size and onsets.peak == pytest.approx(np.abs(y).max())
        assert onsets.envelope.shape == whole.shape
        np.testing.assert_allclose(onsets.envelope, whole, rtol=1e-4, atol=1e-4)


def test_analysis_in_small_blocks_gives_the_same_figures(tmp_path, monkeypatch):
    video = long_video(tmp_path / "v.mov", 2)
    whole = analyze.analyze_video(video)
    monkeypatch.setattr(analyze, "ONSET_BLOCK", 9)
    monkeypatch.setattr(analyze, "MEL_CACHE_BYTES", 5000)
    assert analyze.analyze_video(video) == whole
    assert whole["r"] > 0.5


def test_analyze_is_not_stopped_by_the_decoded_audio_cap_of_a_render(tmp_path, monkeypatch):
    # the cap that keeps `afx run` bounded said "render a part of it with --start and
    # --duration", options afx analyze does not have; analyze streams the sound instead
    import importlib
    for name in ("afx_graph.media.audio", "afx_graph.nodes.audio"):    # wherever the cap is
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "MAX_DECODED_BYTES"):
            monkeypatch.setattr(module, "MAX_DECODED_BYTES", 10_000)
    res = analyze.analyze_video(long_video(tmp_path / "v.mov", 1))
    assert res["audio_problem"] is None and res["r"] is not None
    assert res["audio"]["seconds"] == 60


def test_a_sound_track_longer_than_the_picture_is_not_read_to_its_end(tmp_path):
    # a 20-frame video with 10 minutes of sound: the sound after the picture was decoded and
    # analysed too (a 10-hour track behind a short clip cost minutes)
    res = analyze.analyze_video(long_video(tmp_path / "v.mov", 10, frames=20))
    assert res["frames"] == 20 and res["r"] is not None
    assert res["audio"]["seconds"] <= 22.5, res["audio"]


# ---------------------------------------------------------------------------------------
# messages name options the command has
# ---------------------------------------------------------------------------------------

def subcommands() -> dict:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    return sub.choices


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_out_of_memory_advice_names_only_options_of_the_command(name):
    parser = subcommands()[name]
    has = {s for a in parser._actions for s in a.option_strings}
    advice = cli.memory_advice(name)
    assert advice.startswith("out of memory")
    for option in re.findall(r"--[a-z][a-z-]*", advice):
        assert option in has, (name, option, advice)


def test_analyze_out_of_memory_names_seconds(afx, monkeypatch, made):
    def no_memory(*a, **k):
        raise MemoryError
    monkeypatch.setattr(analyze, "analyze_video", no_memory)
    line = one_error(*afx("analyze", made["render"])[::2])
    assert "--seconds" in line and "--size" not in line and "--duration" not in line


@pytest.mark.parametrize("name", ["analyze", "fit"])
def test_every_option_a_message_names_exists(name):
    """Every --option in the text of the command's module is one of its options."""
    import importlib
    source = Path(importlib.import_module(f"afx_graph.commands.{name}").__file__).read_text()
    has = {s for a in subcommands()[name]._actions for s in a.option_strings}
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", source))
    assert named <= has, named - has


# ---------------------------------------------------------------------------------------
# output names: empty, blank, control characters, '-', unknown ~user
# ---------------------------------------------------------------------------------------

BAD_NAMES = {
    "empty": "",
    "blank": "  ",
    "newline": "a\nb.out",
    "escape": "a\x1b[31mb.out",
    "delete": "a\x7fb.out",
    "c1": "a\x9bb.out",
    "bidi": "a\u202ekp4.out",
    "line-separator": "a\u2028b.out",
    "dash": "-",
    "no-such-user": "~no_such_user_afx/x.out",
}


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("bad", sorted(BAD_NAMES))
def test_output_names_that_are_refused(afx, made, tmp_path, name, bad):
    value = BAD_NAMES[bad]
    rc, _, err = afx(*command(name, made, value))
    line = one_error(rc, err, "-o")
    assert "\n" not in line and "\x1b" not in line
    assert listing(tmp_path) == []


@pytest.mark.parametrize("value", ["", "  "])
def test_run_audio_empty(afx, tmp_path, value):
    # before: "error: --audio: : is a folder, not an audio file"
    rc, _, err = afx("run", DEMO, "--audio", value, "-o", "v.mp4", *TINY)
    assert "empty" in one_error(rc, err, "--audio")
    assert listing(tmp_path) == []


@pytest.mark.parametrize("value", ["", " "])
def test_fit_image_path_empty(afx, tmp_path, value):
    # before: "error: it is a folder, not an image file", naming no file
    rc, _, err = afx("fit", value, "-o", "l.safetensors")
    assert "empty" in one_error(rc, err)
    assert listing(tmp_path) == []


def test_run_o_empty_in_a_real_process(tmp_path):
    r = subprocess.run([afx_exe(), "run", str(DEMO), "-o", "", *TINY], capture_output=True,
                       text=True, cwd=tmp_path, timeout=300)
    line = one_error(r.returncode, r.stderr, "-o")
    assert "empty" in line
    assert listing(tmp_path) == []


@pytest.mark.parametrize("name", sorted(FILE_OUTPUTS))
def test_a_file_output_ending_in_a_slash_is_refused(afx, made, tmp_path, name):
    # before: `afx run p.yaml -o newdir/` wrote a file named newdir
    rc, _, err = afx(*command(name, made, "newdir/"))
    assert "folder" in one_error(rc, err, "-o")
    assert listing(tmp_path) == []


# ---------------------------------------------------------------------------------------
# ~ is the home folder for every command (the shell leaves a quoted one alone)
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", COMMANDS)
def test_tilde_is_the_home_folder(afx, made, tmp_path, monkeypatch, name):
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    out = "~/" + FILE_OUTPUTS.get(name, "out")
    rc, _, err = afx(*command(name, made, out), cwd=work)
    assert rc == 0, err
    assert listing(work) == []
    assert (home / out[2:]).exists()


def test_unpack_into_a_bare_tilde_is_the_home_folder_and_refused(afx, made, tmp_path,
                                                                  monkeypatch):
    # before: a folder literally named ~ in the current folder
    home = tmp_path / "home"
    (home / "mine.txt").parent.mkdir()
    (home / "mine.txt").write_text("x")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    rc, _, err = afx(*command("unpack", made, "~"), cwd=work)
    assert str(home) in one_error(rc, err, "-o")
    assert listing(work) == [] and listing(home) == ["mine.txt"]


# ---------------------------------------------------------------------------------------
# links: a link is named a link, not "not a folder" or "a folder ... does not exist"
# ---------------------------------------------------------------------------------------

@pytest.fixture
def links(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "to_folder").symlink_to("real")
    (tmp_path / "dangling").symlink_to("nowhere")
    return tmp_path


@pytest.mark.parametrize("link", ["to_folder", "dangling"])
def test_unpack_into_a_link(afx, made, links, link):
    before = listing(links)
    rc, _, err = afx(*command("unpack", made, link), cwd=links)
    line = one_error(rc, err, "-o")
    assert "symbolic link" in line and "not a folder" not in line, line
    assert listing(links) == before


@pytest.mark.parametrize("name", sorted(FILE_OUTPUTS))
def test_a_file_under_a_dangling_link(afx, made, links, name):
    before = listing(links)
    rc, _, err = afx(*command(name, made, "dangling/" + FILE_OUTPUTS[name]), cwd=links)
    line = one_error(rc, err, BLAMED[name])
    assert "symbolic link" in line and "nowhere" in line, line
    assert listing(links) == before


@pytest.mark.parametrize("name", sorted(FILE_OUTPUTS))
def test_a_file_output_that_is_a_link_to_a_folder(afx, made, links, name):
    (links / FILE_OUTPUTS[name]).symlink_to("real")
    before = listing(links)
    rc, _, err = afx(*command(name, made, FILE_OUTPUTS[name]), cwd=links)
    assert "symbolic link" in one_error(rc, err, BLAMED[name])
    assert listing(links) == before


# ---------------------------------------------------------------------------------------
# numbers: our message with the range, not argparse's
# ---------------------------------------------------------------------------------------

NUMBERS = {
    # command, option: the values tried (all refused)
    ("fit", "--steps"): ["1e12", "-1", "0", "nan", "inf", "abc", "2.5", ""],
    ("fit", "--size"): ["1e9", "-8", "nan", "x"],
    ("fit", "--seed"): ["1e30", "-1", "nan", "seed"],
    ("fit", "--time-budget"): ["1e400", "inf", "nan", "-1", "0", "soon"],
    ("run", "--fps"): ["1e12", "-5", "0", "nan", "inf", "fast"],
    ("run", "--duration"): ["1e12", "-1", "0", "nan", "-inf", "long"],
    ("run", "--start"): ["1e12", "-1", "nan", "inf", "late"],
    ("run", "--batch"): ["1e12", "-1", "0", "nan", "2.5", "big"],
    ("run", "--chunk"): ["1e12", "0", "nan", "inf", "x"],
    ("analyze", "--seconds"): ["0", "-1", "nan", "inf", "1e400", "abc"],
    ("gallery", "--times"): ["x", "nan", "-1", "1e12", "", "1,,2"],   # was an internal error
}


def numbers_cases():
    return [(c, o, v) for (c, o), values in NUMBERS.items() for v in values]


@pytest.mark.parametrize("name, option, value", numbers_cases())
def test_numbers_out_of_range_or_unreadable(afx, made, tmp_path, name, option, value):
    argv = {"fit": ["fit", made["image"], "-o", "l.safetensors"],
            "run": ["run", DEMO, "-o", "v.mp4", "--quiet"],
            "analyze": ["analyze", made["render"]],
            "gallery": ["gallery", DEMO, "-o", "g", "--size", "16x9"]}[name]
    rc, out, err = afx(*argv, f"{option}={value}")
    line = one_error(rc, err, option)
    assert "usage:" not in err and "invalid" not in line, line
    assert re.search(r"from |above |at least |at most ", line), line      # the range
    assert listing(tmp_path) == []


@pytest.mark.parametrize("value", ["abc", "0x0", "16x", "1e9x9"])
def test_gallery_size_that_is_no_size(afx, tmp_path, value):
    # before: 'abc' was an internal error (exit 1)
    rc, _, err = afx("gallery", DEMO, "-o", "g", "--times", "0", "--size", value)
    one_error(rc, err, "--size")
    assert listing(tmp_path) == []


def test_whole_numbers_may_be_written_as_floats(afx, made, tmp_path):
    rc, _, err = afx("fit", made["image"], "--steps", "1e0", "--size", "8.0", "--quiet",
                     "-o", "l.safetensors")
    assert rc == 0, err
    assert (tmp_path / "l.safetensors").exists()
