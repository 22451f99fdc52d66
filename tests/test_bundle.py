"""Bundles (issue 13): afx pack, afx unpack, afx run piece.afxpack, and hostile bundles."""
import hashlib
import json
import shutil
import stat
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest
import yaml

from afx_graph.sharing import bundle
from afx_graph.cli import main
from afx_graph.graph import Graph
from afx_graph.sharing.opening import load_patch
from afx_graph.registry import default_registry
from media import beat_track, read_video, write_wav

ROOT = Path(__file__).resolve().parents[1]
LOOK = ROOT / "graphs" / "looks" / "cells_to_fractal.safetensors"

PATCH = """\
afx: 1
meta: {{name: Look on a song}}
settings: {{size: [96, 54], fps: 30}}
nodes:
  music:
    type: audio.file
    params: {{path: '{song}'}}
  spectrum:
    type: features.spectrum
    params: {{bands: 8}}
    inputs: {{audio: music.audio}}
  look:
    type: field.look
    params: {{path: looks/cells.safetensors, push: 1.0}}
    inputs: {{latent: spectrum.features}}
  video:
    type: output.video
    params: {{path: out/look.mp4}}
    inputs: {{image: look.image, audio: music.audio}}
"""


def make_patch(tmp_path: Path, song: str | None = None) -> tuple[Path, Path, Path]:
    """A patch folder with a look file beside the patch and a song outside it (an absolute
    path with a character a bundle name avoids: packed only with --allow-outside). Returns
    (patch, song, look)."""
    folder = tmp_path / "src"
    (folder / "looks").mkdir(parents=True)
    look = folder / "looks" / "cells.safetensors"
    shutil.copyfile(LOOK, look)
    wav = tmp_path / "elsewhere" / "my song!.wav"
    wav.parent.mkdir()
    write_wav(wav, beat_track(2.0), 22050)
    patch = folder / "piece.yaml"
    patch.write_text(PATCH.format(song=song or wav))
    return patch, wav, look


def tree(root: Path) -> dict:
    """Every path under ``root`` with its size (None for folders): what a user would see."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.lstat().st_size)
            for p in sorted(root.rglob("*"))}


def afx(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_pack_unpack_round_trip(tmp_path, monkeypatch, capsys):
    patch, song, look = make_patch(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = afx(capsys, "pack", patch, "-o", "piece.afxpack", "--allow-outside")
    assert code == 0, err
    assert "wrote piece.afxpack" in out
    assert err == f"warning: packed {song} (node 'music' params.path) from outside the " \
                  "patch's folder: whoever gets the bundle can read it\n"
    with zipfile.ZipFile(work / "piece.afxpack") as zf:
        names = sorted(zf.namelist())
    assert names == ["assets/looks/cells.safetensors", "assets/my song_.wav", "manifest.json",
                     "patch.yaml"]
    first = (work / "piece.afxpack").read_bytes()

    # no overwrite without --force; with it, the same patch gives the same bytes
    code, _, err = afx(capsys, "pack", patch, "-o", "piece.afxpack", "--allow-outside")
    assert code == 2 and err.startswith("error: ") and "already exists" in err
    assert "--force" in err and "Traceback" not in err
    assert (work / "piece.afxpack").read_bytes() == first
    assert afx(capsys, "pack", patch, "-o", "piece.afxpack", "--force", "--allow-outside")[0] == 0
    assert (work / "piece.afxpack").read_bytes() == first
    assert sorted(p.name for p in work.iterdir()) == ["piece.afxpack"]     # no partial left
    code, out, err = afx(capsys, "validate", "piece.afxpack")        # checked as unpacked
    assert code == 0 and out.startswith("ok: piece.afxpack"), err
    assert sorted(p.name for p in work.iterdir()) == ["piece.afxpack"]     # nothing left

    # unpack elsewhere, into the bundle's name
    there = tmp_path / "there"
    there.mkdir()
    monkeypatch.chdir(there)
    code, out, err = afx(capsys, "unpack", work / "piece.afxpack")
    assert code == 0, err
    assert "afx run piece/patch.yaml" in out
    got = there / "piece"
    assert (got / "assets" / "my song_.wav").read_bytes() == song.read_bytes()
    assert (got / "assets" / "looks" / "cells.safetensors").read_bytes() == look.read_bytes()
    assert not any(p.stat().st_mode & 0o111 for p in got.rglob("*") if p.is_file())
    unpacked = load_patch(got / "patch.yaml")
    assert unpacked.nodes["music"].params["path"] == "assets/my song_.wav"
    assert unpacked.nodes["look"].params["path"] == "assets/looks/cells.safetensors"
    assert unpacked.nodes["video"].params["path"] == "out/look.mp4"    # outputs untouched
    assert unpacked.nodes["look"].params["push"] == 1.0
    assert Graph.from_patch(unpacked, default_registry()).validate() == []
    manifest = json.loads((got / "manifest.json").read_text())
    assert manifest["patch"] == "patch.yaml"
    assert {e["name"]: e["sha256"] for e in manifest["files"]}["assets/my song_.wav"] == \
        hashlib.sha256(song.read_bytes()).hexdigest()

    # a folder that is there and not empty is never unpacked into
    before = tree(there)
    code, _, err = afx(capsys, "unpack", work / "piece.afxpack")
    assert code == 2 and err.startswith("error: ") and "not empty" in err
    assert tree(there) == before
    (there / "empty").mkdir()
    assert afx(capsys, "unpack", work / "piece.afxpack", "-o", "empty")[0] == 0
    assert (there / "empty" / "patch.yaml").is_file()


def test_pack_names_the_missing_asset(tmp_path, monkeypatch, capsys):
    patch, _, _ = make_patch(tmp_path, song="gone.wav")
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    code, _, err = afx(capsys, "pack", patch, "-o", "piece.afxpack")
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "node 'music'" in err and "params.path" in err and "gone.wav" in err
    assert tree(tmp_path) == before                                   # no bundle, no partial


def test_pack_with_audio_replaces_the_synth(tmp_path, monkeypatch, capsys):
    """afx pack graphs/demo.yaml --audio song.wav: the demo on your song, in one file."""
    write_wav(tmp_path / "song.wav", beat_track(1.0), 22050)
    monkeypatch.chdir(tmp_path)
    assert afx(capsys, "pack", ROOT / "graphs" / "demo.yaml", "--audio", "song.wav")[0] == 0
    with zipfile.ZipFile(tmp_path / "demo.afxpack") as zf:
        assert sorted(zf.namelist()) == ["assets/song.wav", "manifest.json", "patch.yaml"]
        music = yaml.safe_load(zf.read("patch.yaml"))["nodes"]["music"]
    assert music["type"] == "audio.file" and music["params"]["path"] == "assets/song.wav"


def test_run_a_bundle(tmp_path, monkeypatch, capsys):
    """afx run piece.afxpack renders the patch from a temporary folder that is gone after;
    a relative output lands in the current folder, as for any patch."""
    patch, _, _ = make_patch(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert afx(capsys, "pack", patch, "-o", "piece.afxpack", "--allow-outside")[0] == 0
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    code, out, err = afx(capsys, "run", tmp_path / "piece.afxpack", "--size", "64x36",
                         "--duration", "0.5")
    assert code == 0, err
    assert "15 frames" in out
    v = read_video(here / "out" / "look.mp4")
    assert v["frames"].shape == (15, 36, 64, 3)
    assert v["audio"] is not None
    assert v["frames"].std(axis=(1, 2, 3)).min() > 10                  # a picture, not grey
    assert list(temp.iterdir()) == []

    # errors name the bundle, not the temporary folder that is gone
    code, _, err = afx(capsys, "run", tmp_path / "piece.afxpack", "--set", "look.path=")
    assert code == 2 and err.startswith("error: ") and "piece.afxpack:patch.yaml" in err
    assert "node 'look'" in err and str(temp) not in err
    assert list(temp.iterdir()) == []


# -- hostile bundles -------------------------------------------------------------------------
def write_zip(path: Path, entries: list, manifest=None, *, listed=None) -> Path:
    """A zip of ``entries`` ((name or ZipInfo, bytes)) and a manifest.json: ``manifest``
    as given, or one that lists ``listed`` (default: every entry) with true sizes and hashes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        lines = []
        for name, data in entries:
            zf.writestr(name, data)
            n = name.filename if isinstance(name, zipfile.ZipInfo) else name
            if listed is None or n in listed:
                lines.append({"name": n, "size": len(data),
                              "sha256": hashlib.sha256(data).hexdigest()})
        if manifest is None:
            manifest = {"afx_bundle": 1, "patch": "patch.yaml", "files": lines}
        if manifest is not False:
            zf.writestr("manifest.json", json.dumps(manifest))
    return path


GOOD = b"afx: 1\nsettings: {duration: 1}\nnodes: {}\n"


def symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("assets/link.wav")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def lying_sizes(path: Path) -> Path:
    """8 MiB of zeros (8 KiB deflated) whose zip headers and manifest say 100 bytes."""
    big = bytes(8 << 20)
    write_zip(path, [("patch.yaml", GOOD), ("assets/big.bin", big)], manifest={
        "afx_bundle": 1, "patch": "patch.yaml", "files": [
            {"name": "patch.yaml", "size": len(GOOD), "sha256": hashlib.sha256(GOOD).hexdigest()},
            {"name": "assets/big.bin", "size": 100,
             "sha256": hashlib.sha256(big[:100]).hexdigest()}]})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        local, central = zf.getinfo("assets/big.bin").header_offset, zf.start_dir
    struct.pack_into("<L", data, local + 22, 100)                     # local header
    while data[central + 46:central + 60] != b"assets/big.bin":       # its directory entry
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<L", data, central + 24, 100)
    path.write_bytes(bytes(data))
    return path


def many_entries(path: Path) -> Path:
    """100 000 empty entries (the manifest is never reached)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(100_000):
            zf.writestr(f"e{i}", b"")
    return path


def hostile(case: str, folder: Path) -> tuple[Path, str]:
    """A bundle built by hand for ``case`` and words its refusal must hold."""
    p = folder / f"{case}.afxpack"
    outside = folder.parent / "escaped.txt"
    cases = {
        "dotdot": lambda: (write_zip(p, [("patch.yaml", GOOD), ("../escaped.txt", b"x")]),
                           "leaves the folder"),
        "absolute": lambda: (write_zip(p, [("patch.yaml", GOOD), (str(outside), b"x")]),
                             "absolute"),
        "backslash": lambda: (write_zip(p, [("patch.yaml", GOOD), ("..\\escaped.txt", b"x")]),
                              "backslash"),
        "drive": lambda: (write_zip(p, [("patch.yaml", GOOD), ("C:/escaped.txt", b"x")]),
                          "drive letter"),
        "symlink": lambda: (write_zip(p, [("patch.yaml", GOOD), (symlink_entry(), b"/etc/passwd")]),
                            "symbolic link"),
        "ten_gigabytes": lambda: (write_zip(p, [("patch.yaml", GOOD), ("assets/a.wav", b"x")],
                                            manifest={"afx_bundle": 1, "patch": "patch.yaml",
                                                      "files": [{"name": "assets/a.wav",
                                                                 "size": 10 * 10 ** 9,
                                                                 "sha256": "0" * 64}]}),
                                  "9.3 GiB"),
        "many_entries": lambda: (many_entries(p), "100000 entries"),
        "hash_mismatch": lambda: (write_zip(p, [("patch.yaml", GOOD)], manifest={
            "afx_bundle": 1, "patch": "patch.yaml", "files": [
                {"name": "patch.yaml", "size": len(GOOD), "sha256": "ab" * 32}]}),
            "does not match its manifest"),
        "unlisted": lambda: (write_zip(p, [("patch.yaml", GOOD), ("run.sh", b"rm -rf ~")],
                                       listed={"patch.yaml"}), "not in its manifest"),
        "no_manifest": lambda: (write_zip(p, [("patch.yaml", GOOD)], manifest=False),
                                "not an afx bundle"),
        "twice": lambda: (write_zip(p, [("patch.yaml", GOOD), ("assets/a", b"1"),
                                        ("assets/A", b"2")]), "twice"),
        "lying_sizes": lambda: (lying_sizes(p), "cannot be read"),
        "patch_reads_outside": lambda: (write_zip(p, [("patch.yaml", (
            "afx: 1\nnodes:\n  music: {type: audio.file, params: {path: '%s'}}\n" % outside
        ).encode())]), "outside the bundle"),
        "not_a_zip": lambda: (p.write_bytes(b"PK\x03\x04 and then nothing") and p,
                              "not a readable bundle"),
    }
    return cases[case]()


HOSTILE = ["dotdot", "absolute", "backslash", "drive", "symlink", "ten_gigabytes",
           "many_entries", "hash_mismatch", "unlisted", "no_manifest", "twice", "lying_sizes",
           "patch_reads_outside", "not_a_zip"]


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_bundle_is_refused_and_leaves_nothing(case, tmp_path, monkeypatch, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "escaped.txt").write_text("mine")     # what the escaping entries aim at
    path, words = hostile(case, tmp_path / "in")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = tree(tmp_path)
    code, out, err = afx(capsys, "unpack", path)
    assert code == 2, (case, out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert words in err, err
    assert "Traceback" not in err
    assert tree(tmp_path) == before, case              # nothing written, no target left
    assert (tmp_path / "escaped.txt").read_text() == "mine"


@pytest.mark.parametrize("case", ["dotdot", "hash_mismatch", "patch_reads_outside"])
def test_run_refuses_a_hostile_bundle(case, tmp_path, monkeypatch, capsys):
    path, words = hostile(case, tmp_path)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(temp)
    code, _, err = afx(capsys, "run", path, "--size", "64x36")
    assert code == 2 and err.startswith("error: ") and words in err, err
    assert list(temp.iterdir()) == []


def test_bundle_names_never_clash():
    """Flat names for files from elsewhere: safe characters, no clash up to case, no file
    where another name needs a folder."""
    names = bundle._Names()
    got = [names.claim(n) for n in ("assets/a.wav", "assets/A.wav", "assets/a.wav/x",
                                    "assets/b", "assets/b/c.wav")]
    assert got == ["assets/a.wav", "assets/A-2.wav", "assets/x", "assets/b", "assets/c.wav"]
    assert names.claim("assets/.hidden") == "assets/.hidden"
    assert names.claim("assets/.hidden") == "assets/.hidden-2"
    for n in got:
        assert bundle.name_problem(n) is None
    assert bundle._safe_part("..") == "_" and bundle._safe_part("a\\b:c") == "a_b_c"
