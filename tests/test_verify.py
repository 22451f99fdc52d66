"""`afx verify` (issue 13): golden frames kept beside a patch, made with --update and compared
with a fresh render; it passes on the same machine, holds across precisions (a GPU renders in
fp16), fails on a real change with the frames named and a side-by-side image, and never writes
over what it did not write."""
import json

import numpy as np
import pytest

from afx_graph.cli import main
from afx_graph.commands.verify import (EXIT_DIFFERENT, MIXED_PRECISION, SAME_PRECISION,
                                       differences, limits, passes)
from afx_graph.media.png import read_png
from afxcli import run_afx

PATCH = """\
afx: 1
settings: {size: [128, 72], fps: 10, duration: 2}
nodes:
  field: {type: cppn, params: {hidden: 16, layers: 3, seed: 7, cycle: 2.0}}
  video: {type: output.video, params: {path: out/v.mp4}, inputs: {image: field.image}}
"""
SMALL = ["--size", "64x36", "--frames", "3", "--device", "cpu"]


@pytest.fixture
def patch(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(PATCH)
    return p


def verify(*args) -> int:
    return main(["verify", *map(str, args)])


def test_verify_passes_after_update_and_fails_after_a_param_change(patch, capsys, tmp_path,
                                                                   monkeypatch):
    import tempfile
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))   # the side-by-side images
    assert verify(patch, "--update", *SMALL) == 0
    golden = patch.parent / "p.golden"
    assert sorted(f.name for f in golden.iterdir()) == [
        "frame_0001.png", "frame_0002.png", "frame_0003.png", "golden.json"]
    info = json.loads((golden / "golden.json").read_text())
    assert info["size"] == [64, 36] and info["device"] == "cpu" and info["precision"] == "fp32"
    assert [f["index"] for f in info["frames"]] == [3, 10, 17]   # spread over the 2 s
    frames = [read_png(golden / f"frame_000{k}.png") for k in (1, 2, 3)]
    assert all(f.shape == (36, 64, 3) and f.std() > 5 for f in frames)   # a picture, not grey
    assert np.abs(frames[0].astype(int) - frames[2]).mean() > 5          # that moves
    assert "wrote" in capsys.readouterr().out

    assert verify(patch, "--device", "cpu") == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and all(line.endswith("  ok") and "mean" in line and "p99" in line
                                 for line in out[:3])
    assert out[3].startswith(f"ok: {patch} matches its 3 golden frames")

    patch.write_text(PATCH.replace("seed: 7", "seed: 8"))          # a real change
    assert verify(patch, "--device", "cpu") == EXIT_DIFFERENT == 3
    cap = capsys.readouterr()
    assert cap.out.count("DIFFERENT") == 3
    assert cap.err.startswith(f"failed: {patch}: 3 of 3 frames differ from {golden} "
                              "(frame_0001.png, frame_0002.png, frame_0003.png;")
    assert f"afx verify {patch} --update" in cap.err
    shots = [line.split(": ", 1)[1] for line in cap.out.splitlines()
             if "golden | this run | difference" in line]
    assert len(shots) == 3 and all(s.startswith(str(tmp_path / "tmp" / "afx-verify-"))
                                   for s in shots)
    side = read_png(shots[0])
    assert side.shape == (36, 3 * 64 + 8, 3)
    assert np.array_equal(side[:, :64], frames[0])                 # the golden frame first
    assert sorted(f.name for f in golden.iterdir()) == [           # the goldens are untouched
        "frame_0001.png", "frame_0002.png", "frame_0003.png", "golden.json"]


def test_frames_in_half_precision_pass_against_float32_goldens(patch, capsys):
    """A GPU renders in fp16: CPU goldens must hold there (fp16 on the CPU stands in)."""
    assert verify(patch, "--update", *SMALL) == 0
    assert verify(patch, "--device", "cpu", "--precision", "fp16") == 0
    out = capsys.readouterr().out
    assert "made in fp32, this run is fp16" in out and f"(limit {MIXED_PRECISION[0]:g})" in out


def test_no_goldens_is_a_clear_error(patch, tmp_path):
    r = run_afx("verify", patch.name, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stdout == ""
    assert r.stderr == ("error: p.yaml: no golden frames yet (p.golden does not exist); make "
                        "them with: afx verify p.yaml --update\n")


def test_update_never_writes_over_what_it_did_not_write(patch, capsys):
    golden = patch.parent / "p.golden"
    golden.mkdir()
    (golden / "notes.txt").write_text("mine")
    assert verify(patch, "--update", *SMALL) == 2
    assert "p.golden holds 'notes.txt', which afx verify did not write" in capsys.readouterr().err
    assert [f.name for f in golden.iterdir()] == ["notes.txt"]
    assert (golden / "notes.txt").read_text() == "mine"
    assert sorted(f.name for f in patch.parent.iterdir()) == ["p.golden", "p.yaml"]  # no temp left
    (golden / "notes.txt").unlink()
    golden.rmdir()
    golden.write_text("a file")
    assert verify(patch, "--update", *SMALL) == 2
    assert golden.read_text() == "a file"


def test_update_replaces_its_own_goldens_and_keeps_their_size(patch, capsys):
    assert verify(patch, "--update", *SMALL) == 0
    golden = patch.parent / "p.golden"
    before = (golden / "golden.json").read_bytes()
    assert verify(patch, "--update", "--device", "cpu") == 0        # no --size, --frames: kept
    assert (golden / "golden.json").read_bytes() == before          # the same goldens, same bytes
    assert verify(patch, "--update", "--frames", "2", "--device", "cpu") == 0
    assert sorted(f.name for f in golden.iterdir()) == ["frame_0001.png", "frame_0002.png",
                                                        "golden.json"]
    assert sorted(f.name for f in patch.parent.iterdir()) == ["p.golden", "p.yaml"]
    capsys.readouterr()
    assert verify(patch, "--size", "32x18", "--device", "cpu") == 2   # goldens choose the size
    assert "--size: the golden frames are 64x36" in capsys.readouterr().err


def test_the_limits_let_float_noise_pass_and_catch_a_changed_picture():
    rng = np.random.default_rng(1)
    golden = rng.integers(0, 256, (90, 160, 3)).astype(np.uint8)
    flips = rng.integers(-1, 2, golden.shape) * (rng.random(golden.shape) < 0.1)
    noise = np.clip(golden.astype(int) + flips, 0, 255)       # float noise: a level, here and there
    edges = noise.copy()
    edges[:1, :60] = 255 - edges[:1, :60]          # a few pixels far off (0.4%): steep edges
    shift = np.clip(golden.astype(int) + 6, 0, 255)   # the whole picture a little brighter
    same = limits("fp32", "fp32")
    assert same == SAME_PRECISION and limits("fp32", "fp16") == MIXED_PRECISION
    assert passes(differences(golden, noise.astype(np.uint8)), same)
    d = differences(golden, edges.astype(np.uint8))
    assert d["max"] > 200 and passes(d, same)
    d = differences(golden, shift.astype(np.uint8))
    assert d["mean"] > 5 and not passes(d, same) and not passes(d, MIXED_PRECISION)
