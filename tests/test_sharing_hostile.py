"""Sharing against a hostile try (issue 20): what a bundle, or a patch taken from a render,
may read, and what ``afx pack`` may put in a bundle.

The private files are a home folder's: an SSH key (text), a voice memo (a real WAV, so only
the rule about folders keeps it out, not a failed decode). Every refusal is exit 2 with one
``error:`` line naming the file, node and field, no traceback, nothing written, and the
private bytes nowhere in what afx wrote."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from afx_graph.sharing import bundle, embedded
from afx_graph.cli import main
from afx_graph.errors import PatchError
from afx_graph.sharing.opening import load_patch
from afx_graph.media.png import encode_png, text_chunk
from afxcli import run_afx
from media import beat_track, read_video, write_wav

ROOT = Path(__file__).resolve().parents[1]
LOOK = ROOT / "graphs" / "looks" / "cells_to_fractal.safetensors"
KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-private-4f7d1c\n" \
      b"-----END OPENSSH PRIVATE KEY-----\n"
SMALL = ["--size", "64x36", "--fps", "12", "--duration", "0.5"]


# -- helpers -----------------------------------------------------------------------------------
def afx(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def tree(root: Path) -> dict:
    return {str(p.relative_to(root)): (None if p.is_dir() else p.lstat().st_size)
            for p in sorted(root.rglob("*"))}


def contents(path: Path) -> bytes:
    """A file's bytes; a zip's entries too, inflated (a packed key is deflated)."""
    data = path.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            data += b"".join(zf.read(n) for n in zf.namelist())
    return data


def leaked(root: Path, secrets: list[bytes], skip: Path) -> list[str]:
    """Files under ``root`` (but not under ``skip``, where the secrets live) holding one."""
    out = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink() and skip not in p.parents:
            data = contents(p)
            out += [str(p) for s in secrets if s in data]
    return out


def one_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("error:") == 1, err
    assert "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A home folder (HOME points at it) with an SSH key and a voice memo in it."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_bytes(KEY)
    (home / "private").mkdir()
    write_wav(home / "private" / "voice-memo.wav", beat_track(3.0, bpm=97.0), 22050)
    monkeypatch.setenv("HOME", str(home))
    return home


def memo(home: Path) -> Path:
    return home / "private" / "voice-memo.wav"


def secrets(home: Path) -> list[bytes]:
    return [KEY, memo(home).read_bytes()[-400:]]           # from its third second


# -- afx pack: what a bundle may carry ---------------------------------------------------------
PIECE = {
    "afx": 1,
    "settings": {"size": [64, 36], "fps": 12, "duration": 0.5},
    "nodes": {
        "music": {"type": "audio.file", "params": {"path": "song.wav"}},
        "spectrum": {"type": "features.spectrum", "params": {"bands": 8},
                     "inputs": {"audio": "music.audio"}},
        "look": {"type": "field.look", "params": {"path": "looks/cells.safetensors"},
                 "inputs": {"latent": "spectrum.features"}},
        "video": {"type": "output.video", "params": {"path": "out/look.mp4"},
                  "inputs": {"image": "look.image", "audio": "music.audio"}},
    },
}


def piece(tmp_path: Path, change=None) -> Path:
    """tmp/piece/piece.yaml with song.wav and looks/cells.safetensors beside it;
    ``change(data, folder)`` edits the patch first."""
    folder = tmp_path / "piece"
    (folder / "looks").mkdir(parents=True, exist_ok=True)
    write_wav(folder / "song.wav", beat_track(1.0), 22050)
    shutil.copyfile(LOOK, folder / "looks" / "cells.safetensors")
    data = json.loads(json.dumps(PIECE))
    if change:
        change(data, folder)
    (folder / "piece.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder / "piece.yaml"


def set_param(node, param, value):
    def change(data, folder):
        data["nodes"][node]["params"][param] = value(folder) if callable(value) else value
    return change


def add_vggish(param, value):
    def change(data, folder):
        data["nodes"]["emb"] = {"type": "embed.vggish", "params": {param: value},
                                "inputs": {"audio": "music.audio"}}
    return change


def inline_definition(value, exposed=False):
    """A '#clip' definition reading a file, used by node 'extra'; ``exposed``: the file is
    given as the exposed param 'clip' on the subpatch node instead."""
    def change(data, folder):
        data["subpatches"] = {"clip": {
            "expose": {"outputs": {"audio": "m.audio"},
                       **({"params": {"clip": "m.path"}} if exposed else {})},
            "nodes": {"m": {"type": "audio.file", "params": {"path": "song.wav"
                                                             if exposed else value}}}}}
        data["nodes"]["extra"] = {"type": "subpatch", "params": {
            "source": "#clip", **({"clip": value} if exposed else {})}}
    return change


def subpatch_file(value):
    """lib/sub.yaml beside the patch (inside its folder) reading ``value`` (relative to it)."""
    def change(data, folder):
        (folder / "lib").mkdir(exist_ok=True)
        (folder / "lib" / "sub.yaml").write_text(yaml.safe_dump({
            "afx": 1, "expose": {"outputs": {"audio": "m.audio"}},
            "nodes": {"m": {"type": "audio.file", "params": {"path": value}}}}))
        data["nodes"]["extra"] = {"type": "subpatch", "params": {"source": "lib/sub.yaml"}}
    return change


def link_beside(name, target):
    """A symbolic link inside the patch's folder to a private file, read by node music."""
    def change(data, folder):
        os.symlink(target, folder / name)
        data["nodes"]["music"]["params"]["path"] = name
    return change


def outside_cases(home: Path) -> dict:
    """Patches that name a private file outside their folder: (change, node, field)."""
    m = str(memo(home))
    return {
        "look_in_home": (set_param("look", "path", "~/.ssh/id_rsa"), "look", "params.path"),
        "audio_absolute": (set_param("music", "path", m), "music", "params.path"),
        "audio_dotdot": (set_param("music", "path", "../home/private/voice-memo.wav"),
                         "music", "params.path"),
        "weights_absolute": (add_vggish("weights", str(home / ".ssh" / "id_rsa")),
                             "emb", "params.weights"),
        "pca_weights_in_home": (add_vggish("pca_weights", "~/private/voice-memo.wav"),
                                "emb", "params.pca_weights"),
        "link_to_a_file": (link_beside("memo.wav", m), "music", "params.path"),
        "link_to_a_folder": (lambda d, f: (
            os.symlink(home / "private", f / "stuff"),
            set_param("music", "path", "stuff/voice-memo.wav")(d, f)), "music", "params.path"),
        "inline_definition": (inline_definition("~/private/voice-memo.wav"), "#clip/m",
                              "params.path"),
        "exposed_param": (inline_definition(m, exposed=True), "extra", "params.clip"),
        "subpatch_file": (subpatch_file("../../home/private/voice-memo.wav"), "/m",
                          "params.path"),
    }


OUTSIDE = ["look_in_home", "audio_absolute", "audio_dotdot", "weights_absolute",
           "pca_weights_in_home", "link_to_a_file", "link_to_a_folder", "inline_definition",
           "exposed_param", "subpatch_file"]


@pytest.mark.parametrize("case", OUTSIDE)
def test_pack_refuses_a_file_from_outside_the_patchs_folder(case, tmp_path, home, monkeypatch,
                                                             capsys):
    change, node, field = outside_cases(home)[case]
    patch = piece(tmp_path, change)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = tree(tmp_path)
    code, out, err = afx(capsys, "pack", patch, "-o", "piece.afxpack")
    one_error(code, err, f"node '", node, field, "outside the patch's folder",
              "copy it beside the patch")
    assert ("id_rsa" in err) or ("voice-memo.wav" in err) or ("memo.wav" in err), err
    assert tree(tmp_path) == before                       # no bundle, no partial, no folder
    assert leaked(tmp_path, secrets(home), home) == []


NOT_READABLE = {   # a file inside the folder that is not what its node reads
    "key_as_audio": (lambda d, f: ((f / "notes.wav").write_bytes(KEY),
                                   set_param("music", "path", "notes.wav")(d, f)),
                     "music", "params.path", "audio"),
    "key_as_look": (lambda d, f: ((f / "looks" / "id_rsa").write_bytes(KEY),
                                  set_param("look", "path", "looks/id_rsa")(d, f)),
                    "look", "params.path", "look"),
    "song_as_look": (set_param("look", "path", "song.wav"), "look", "params.path", "look"),
    "key_as_weights": (lambda d, f: ((f / "vggish.pth").write_bytes(KEY),
                                     add_vggish("weights", "vggish.pth")(d, f)),
                       "emb", "params.weights", "weights"),
    "key_as_pca": (lambda d, f: ((f / "pca.npz").write_bytes(KEY),
                                 add_vggish("pca_weights", "pca.npz")(d, f)),
                   "emb", "params.pca_weights", "PCA"),
    "key_in_a_definition": (lambda d, f: ((f / "x.wav").write_bytes(KEY),
                                          inline_definition("x.wav")(d, f)),
                            "#clip/m", "params.path", "audio"),
}


@pytest.mark.parametrize("case", sorted(NOT_READABLE))
def test_pack_carries_only_files_their_node_can_read(case, tmp_path, monkeypatch, capsys):
    change, node, field, what = NOT_READABLE[case]
    patch = piece(tmp_path, change)
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    code, out, err = afx(capsys, "pack", patch, "-o", "piece.afxpack")
    one_error(code, err, f"node '{node}'", field, "cannot be read", what)
    assert tree(tmp_path) == before
    assert leaked(tmp_path, [KEY], tmp_path / "piece") == []


def test_pack_from_outside_only_when_asked_and_loudly(tmp_path, home, monkeypatch, capsys):
    """--allow-outside packs a readable file from outside, naming it on stderr; an unreadable
    one is refused all the same."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_wav(elsewhere / "intro.wav", beat_track(1.0), 22050)
    patch = piece(tmp_path, set_param("music", "path", str(elsewhere / "intro.wav")))
    monkeypatch.chdir(tmp_path)
    code, out, err = afx(capsys, "pack", patch, "-o", "a.afxpack", "--allow-outside", "--quiet")
    assert code == 0, err
    lines = [l for l in err.splitlines() if l]
    assert len(lines) == 1 and lines[0].startswith("warning: ") and \
        str(elsewhere / "intro.wav") in lines[0] and "node 'music' params.path" in lines[0] \
        and "outside the patch's folder" in lines[0], err
    with zipfile.ZipFile("a.afxpack") as zf:
        assert sorted(zf.namelist()) == ["assets/intro.wav", "assets/looks/cells.safetensors",
                                         "manifest.json", "patch.yaml"]

    patch = piece(tmp_path, set_param("look", "path", "~/.ssh/id_rsa"))
    before = tree(tmp_path)
    code, out, err = afx(capsys, "pack", patch, "-o", "b.afxpack", "--allow-outside")
    one_error(code, err, "node 'look' params.path", "id_rsa", "cannot be read")
    assert tree(tmp_path) == before
    assert leaked(tmp_path, secrets(home), home) == []


def test_pack_audio_typed_on_the_command_line_may_be_anywhere(tmp_path, monkeypatch, capsys):
    """--audio FILE is the user's own choice: packed from wherever it is (read as audio)."""
    (tmp_path / "music").mkdir()
    write_wav(tmp_path / "music" / "mine.wav", beat_track(1.0), 22050)
    patch = piece(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, err = afx(capsys, "pack", patch, "--audio", "music/mine.wav", "-o", "a.afxpack")
    assert code == 0 and err == "", err
    with zipfile.ZipFile("a.afxpack") as zf:
        assert "assets/mine.wav" in zf.namelist()
    (tmp_path / "music" / "key.wav").write_bytes(KEY)
    code, out, err = afx(capsys, "pack", patch, "--audio", "music/key.wav", "-o", "b.afxpack")
    one_error(code, err, "node 'music' params.path", "cannot be read")
    assert not (tmp_path / "b.afxpack").exists()


def test_pack_cli_refuses_the_key_without_a_traceback(tmp_path, home):
    """The same through the installed command, as a user runs it."""
    patch = piece(tmp_path, set_param("look", "path", "~/.ssh/id_rsa"))
    r = run_afx("pack", patch, "-o", tmp_path / "piece.afxpack", env={"HOME": home})
    one_error(r.returncode, r.stderr, "node 'look' params.path", "id_rsa")
    assert not (tmp_path / "piece.afxpack").exists()


# -- a bundle's patch reads only the bundle's files, through any depth of subpatch files --------
def write_bundle_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        lines = []
        for name, data in entries.items():
            zf.writestr(name, data)
            lines.append({"name": name, "size": len(data),
                          "sha256": hashlib.sha256(data).hexdigest()})
        zf.writestr("manifest.json", json.dumps({"afx_bundle": 1, "patch": "patch.yaml",
                                                 "files": lines}))
    return path


def sub_file(nodes: dict, **extra) -> bytes:
    return yaml.safe_dump({"afx": 1, "expose": {"outputs": {"audio": "m.audio"},
                                                **extra.pop("expose", {})},
                           **extra, "nodes": nodes}).encode()


def top_patch(source: str, **params) -> bytes:
    return yaml.safe_dump({
        "afx": 1, "settings": {"size": [64, 36], "fps": 12, "duration": 0.5},
        "nodes": {"sub": {"type": "subpatch", "params": {"source": source, **params}},
                  "field": {"type": "cppn", "params": {"hidden": 8, "layers": 2}},
                  "video": {"type": "output.video", "params": {"path": "out.mp4"},
                            "inputs": {"image": "field.image", "audio": "sub.audio"}}}}).encode()


def reads(path: str) -> dict:
    return {"m": {"type": "audio.file", "params": {"path": path}}}


def hostile_bundles(home: Path, folder: Path) -> dict:
    """Bundles whose subpatch files read outside: (entries, the file and node blamed)."""
    m = str(memo(home))
    (folder / "outside.yaml").write_bytes(sub_file(reads("song.wav")))
    write_wav(folder / "song.wav", beat_track(1.0), 22050)
    return {
        "absolute": ({"patch.yaml": top_patch("assets/sub.yaml"),
                      "assets/sub.yaml": sub_file(reads(m))}, "assets/sub.yaml", "m"),
        "dotdot": ({"patch.yaml": top_patch("assets/sub.yaml"),
                    "assets/sub.yaml": sub_file(reads("../../../../../../../../../" + m))},
                   "assets/sub.yaml", "m"),
        "home": ({"patch.yaml": top_patch("assets/sub.yaml"),
                  "assets/sub.yaml": sub_file(reads("~/private/voice-memo.wav"))},
                 "assets/sub.yaml", "m"),
        "chain_to_a_file_outside": ({
            "patch.yaml": top_patch("assets/sub.yaml"),
            "assets/sub.yaml": sub_file({"m": {"type": "subpatch", "params": {
                "source": str(folder / "outside.yaml")}}})}, "assets/sub.yaml", "m"),
        "two_deep": ({"patch.yaml": top_patch("assets/a.yaml"),
                      "assets/a.yaml": sub_file({"m": {"type": "subpatch",
                                                       "params": {"source": "b/b.yaml"}}}),
                      "assets/b/b.yaml": sub_file(reads("../../../" * 9 + m[1:]))},
                     "assets/b/b.yaml", "m"),
        "definition_in_a_file": ({
            "patch.yaml": top_patch("assets/sub.yaml"),
            "assets/sub.yaml": sub_file(
                {"m": {"type": "subpatch", "params": {"source": "#d"}}},
                subpatches={"d": {"expose": {"outputs": {"audio": "x.audio"}},
                                  "nodes": {"x": {"type": "audio.file", "params": {"path": m}}}}})},
            "assets/sub.yaml", "#d/x"),
        "render_as_subpatch_file": ({   # a PNG whose patch is a subpatch reading outside
            "patch.yaml": top_patch("assets/sub.png"),
            "assets/sub.png": encode_png(np.zeros((8, 8, 3), np.uint8),
                                         text_chunk(embedded.KEY, sub_file(reads(m)).decode()))},
            "assets/sub.png", "m"),
        "exposed_param": ({"patch.yaml": top_patch("assets/sub.yaml", clip=m),
                           "assets/song.wav": (folder / "song.wav").read_bytes(),
                           "assets/sub.yaml": sub_file(reads("song.wav"),
                                                       expose={"params": {"clip": "m.path"}})},
                          "patch.yaml", "sub"),
    }


HOSTILE = ["absolute", "dotdot", "home", "chain_to_a_file_outside", "two_deep",
           "definition_in_a_file", "render_as_subpatch_file", "exposed_param"]


@pytest.mark.parametrize("case", HOSTILE)
def test_a_bundles_subpatch_files_read_only_the_bundle(case, tmp_path, home, monkeypatch,
                                                       capsys):
    (tmp_path / "in").mkdir()
    entries, blamed, node = hostile_bundles(home, tmp_path / "in")[case]
    evil = write_bundle_zip(tmp_path / "in" / "evil.afxpack", entries)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = tree(tmp_path)
    for cmd in (["unpack", evil], ["run", evil, "--quiet"], ["validate", evil]):
        code, out, err = afx(capsys, *cmd)
        one_error(code, err, "outside the bundle", f"node '{node}'")
        assert f"evil.afxpack:{blamed}" in err, err
        assert tree(tmp_path) == before, cmd              # no folder, no render
    assert leaked(tmp_path, secrets(home), home) == []


def test_a_bundle_with_subpatch_files_that_stay_inside_is_fine(tmp_path, monkeypatch, capsys):
    song = tmp_path / "song.wav"
    write_wav(song, beat_track(1.0), 22050)
    evil = write_bundle_zip(tmp_path / "good.afxpack", {
        "patch.yaml": top_patch("assets/a.yaml"),
        "assets/a.yaml": sub_file({"m": {"type": "subpatch", "params": {"source": "b/b.yaml"}}}),
        "assets/b/b.yaml": sub_file(reads("../song.wav")),
        "assets/song.wav": song.read_bytes()})
    monkeypatch.chdir(tmp_path)
    code, out, err = afx(capsys, "validate", evil)
    assert code == 0, err
    code, out, err = afx(capsys, "unpack", evil)
    assert code == 0, err


def test_run_of_a_hostile_bundle_through_the_cli(tmp_path, home):
    (tmp_path / "in").mkdir()
    entries, _, _ = hostile_bundles(home, tmp_path / "in")["absolute"]
    evil = write_bundle_zip(tmp_path / "in" / "evil.afxpack", entries)
    r = run_afx("run", evil, "--quiet", cwd=tmp_path)
    one_error(r.returncode, r.stderr, "outside the bundle", "evil.afxpack:assets/sub.yaml",
              "node 'm' params.path")
    assert not (tmp_path / "out.mp4").exists()


# -- a patch taken from a render reads only files beside the render ----------------------------
def render_patch(home: Path, **music) -> dict:
    return {
        "afx": 1, "settings": {"size": [64, 36], "fps": 12, "duration": 0.5},
        "nodes": {"music": {"type": "audio.file", "params": music or {"path": str(memo(home))}},
                  "spectrum": {"type": "features.spectrum", "params": {"bands": 8},
                               "inputs": {"audio": "music.audio"}},
                  "field": {"type": "cppn", "params": {"hidden": 8, "layers": 2},
                            "inputs": {"features": "spectrum.features"}},
                  "video": {"type": "output.video", "params": {"path": "again.mp4"},
                            "inputs": {"image": "field.image", "audio": "music.audio"}}}}


def write_gift_png(path: Path, data: dict) -> Path:
    path.write_bytes(encode_png(np.zeros((8, 8, 3), np.uint8),
                                text_chunk(embedded.KEY, yaml.safe_dump(data, sort_keys=False))))
    return path


def write_gift_mp4(path: Path, data: dict, *, sound: bool, seconds: float = 1.0) -> Path:
    """An MP4 (with a sound track or not) whose afx-patch tag holds ``data``."""
    sr = 22050
    with av.open(str(path), "w", format="mp4",
                 options={"movflags": "+faststart+use_metadata_tags"}) as c:
        c.metadata[embedded.KEY] = yaml.safe_dump(data, sort_keys=False)
        v = c.add_stream("libx264", rate=Fraction(12))
        v.width, v.height, v.pix_fmt = 64, 36, "yuv420p"
        a = c.add_stream("aac", rate=sr, layout="mono") if sound else None
        for i in range(int(seconds * 12)):
            f = av.VideoFrame.from_ndarray(np.full((36, 64, 3), 20 * i, np.uint8), format="rgb24")
            f.pts = i
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
        if a is not None:
            frame = av.AudioFrame.from_ndarray(beat_track(seconds, sr), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = sr, 0
            for p in [*a.encode(frame), *a.encode(None)]:
                c.mux(p)
    return path


def gift_cases(home: Path, gifts: Path) -> dict:
    """Patches inside a render that read outside the render's folder: (data, node, field)."""
    m = str(memo(home))

    def with_music(**params):
        return render_patch(home, **params)

    def look(value):
        d = render_patch(home, path="song.wav")
        d["nodes"]["look"] = {"type": "field.look", "params": {"path": value}}
        return d

    def subpatch(source, files=None):
        d = render_patch(home, path="song.wav")
        d["nodes"]["sub"] = {"type": "subpatch", "params": {"source": source}}
        for name, body in (files or {}).items():
            (gifts / name).write_bytes(body)
        return d

    def definition(value):
        d = render_patch(home, path="song.wav")
        d["subpatches"] = {"d": {"expose": {"outputs": {"audio": "x.audio"}},
                                 "nodes": {"x": {"type": "audio.file", "params": {"path": value}}}}}
        d["nodes"]["sub"] = {"type": "subpatch", "params": {"source": "#d"}}
        return d

    def link(target, name):
        if not os.path.lexists(name):
            os.symlink(target, name)

    (home / "private" / "sub.yaml").write_bytes(sub_file(reads("voice-memo.wav")))
    return {
        "absolute": (with_music(path=m), "music", "params.path"),
        "dotdot": (with_music(path="../home/private/voice-memo.wav"), "music", "params.path"),
        "home": (with_music(path="~/private/voice-memo.wav"), "music", "params.path"),
        "link_beside": (link(m, gifts / "link.wav") or with_music(path="link.wav"),
                        "music", "params.path"),
        "look_in_home": (look("~/.ssh/id_rsa"), "look", "params.path"),
        "subpatch_outside": (subpatch(str(home / "private" / "sub.yaml")), "sub",
                             "params.source"),
        "subpatch_beside_reading_outside": (
            subpatch("beside.yaml", {"beside.yaml": sub_file(reads(m))}), "m", "params.path"),
        "definition": (definition("~/private/voice-memo.wav"), "#d/x", "params.path"),
    }


GIFTS = ["absolute", "dotdot", "home", "link_beside", "look_in_home", "subpatch_outside",
         "subpatch_beside_reading_outside", "definition"]


@pytest.mark.parametrize("case", GIFTS)
@pytest.mark.parametrize("media", ["png", "mp4"])
def test_a_renders_patch_reads_only_files_beside_it(case, media, tmp_path, home, monkeypatch,
                                                    capsys):
    gifts = tmp_path / "gifts"
    gifts.mkdir()
    write_wav(gifts / "song.wav", beat_track(1.0), 22050)
    data, node, field = gift_cases(home, gifts)[case]
    gift = gifts / f"gift.{media}"
    if media == "png":
        write_gift_png(gift, data)
    else:
        write_gift_mp4(gift, data, sound=False)          # no sound to fall back on
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    for cmd in (["run", gift, "-o", "again.mp4"], ["validate", gift],
                ["pack", gift, "-o", "gift.afxpack"]):
        code, out, err = afx(capsys, *cmd)
        one_error(code, err, f"node '{node}'", field, "beside the render")
        assert tree(tmp_path) == before, cmd
    assert leaked(tmp_path, secrets(home), home) == []


def test_a_renders_patch_may_read_what_the_command_line_names(tmp_path, home, monkeypatch,
                                                              capsys):
    """--audio FILE (from anywhere) replaces the sound the render's patch named outside."""
    gifts = tmp_path / "gifts"
    gifts.mkdir()
    gift = write_gift_png(gifts / "gift.png", render_patch(home))
    (tmp_path / "music").mkdir()
    write_wav(tmp_path / "music" / "mine.wav", beat_track(1.0), 22050)
    monkeypatch.chdir(tmp_path)
    code, out, err = afx(capsys, "validate", gift, "--audio", "music/mine.wav")
    assert code == 0, err
    code, out, err = afx(capsys, "run", gift, "--audio", "music/mine.wav", "-o", "again.mp4",
                         "--quiet")
    assert code == 0, err
    assert read_video(tmp_path / "again.mp4")["audio"]["duration"] == pytest.approx(0.5, abs=0.1)


def test_a_render_with_sound_uses_its_own_sound_not_the_file_outside(tmp_path, home,
                                                                     monkeypatch, capsys):
    gifts = tmp_path / "gifts"
    gifts.mkdir()
    data = render_patch(home)
    del data["settings"]["duration"]                     # as long as the sound
    gift = write_gift_mp4(gifts / "gift.mp4", data, sound=True)
    patch = load_patch(gift)
    assert patch.nodes["music"].params["path"] == str(gift)
    assert "is not beside the video" in patch.warnings[0]
    monkeypatch.chdir(tmp_path)
    code, out, err = afx(capsys, "run", gift, "-o", "again.mp4", "--quiet")
    assert code == 0, err
    assert "warning: " in err and "its sound comes from the video itself" in err
    got = read_video(tmp_path / "again.mp4")["audio"]         # the video's 1 s, not the memo's 3 s
    assert got is not None and abs(got["duration"] - 1.0) < 0.2


def test_a_render_that_uses_itself_as_a_subpatch_is_refused_not_looped(tmp_path, capsys):
    data = render_patch(tmp_path, path="song.wav")
    data["nodes"]["sub"] = {"type": "subpatch", "params": {"source": "self.png"}}
    write_wav(tmp_path / "song.wav", beat_track(1.0), 22050)
    gift = write_gift_png(tmp_path / "self.png", data)
    code, out, err = afx(capsys, "validate", gift)
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err, err
    assert "node 'sub' params.source" in err


def test_the_editor_opens_a_render_without_reading_outside(tmp_path, home):
    from afx_graph.ui.controller import EditorController

    gifts = tmp_path / "gifts"
    gifts.mkdir()
    gift = write_gift_png(gifts / "gift.png",
                          render_patch(home, path="../home/private/voice-memo.wav"))
    c = EditorController(recovery=tmp_path / "recovery")
    issues = c.open(gift)
    text = "\n".join(map(str, issues))
    assert "node 'music' params.path" in text and "beside the render" in text, text
    assert any("beside the render" in str(i) for i in c.graph.validate())
    with pytest.raises(PatchError):
        c.open(write_gift_png(gifts / "sub.png", gift_cases(home, gifts)["definition"][0]))


# -- pack writes only what unpack takes --------------------------------------------------------
def many_files(folder: Path, n: int) -> Path:
    """A patch reading ``n`` tiny WAVs beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    tone = beat_track(0.01)
    nodes = {}
    for i in range(n):
        write_wav(folder / f"s{i}.wav", tone, 22050)
        nodes[f"a{i}"] = {"type": "audio.file", "params": {"path": f"s{i}.wav"}}
    (folder / "many.yaml").write_text(yaml.safe_dump({"afx": 1, "settings": {"duration": 0.5},
                                                      "nodes": nodes}))
    return folder / "many.yaml"


def test_pack_refuses_more_files_than_unpack_takes(tmp_path, monkeypatch, capsys):
    patch = many_files(tmp_path / "p", bundle.MAX_ENTRIES - 1)        # + patch + manifest
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    code, out, err = afx(capsys, "pack", patch, "-o", "many.afxpack")
    one_error(code, err, f"{bundle.MAX_ENTRIES}", "many.yaml")
    assert tree(tmp_path) == before


def test_pack_at_the_limit_writes_a_bundle_unpack_takes(tmp_path, monkeypatch, capsys):
    patch = many_files(tmp_path / "p", bundle.MAX_ENTRIES - 2)
    monkeypatch.chdir(tmp_path)
    code, out, err = afx(capsys, "pack", patch, "-o", "many.afxpack", "--quiet")
    assert code == 0, err
    code, out, err = afx(capsys, "unpack", "many.afxpack", "--quiet")
    assert code == 0, err
    assert len(list((tmp_path / "many" / "assets").iterdir())) == bundle.MAX_ENTRIES - 2


def deep(parts: list[str]):
    def change(data, folder):
        where = folder.joinpath(*parts)
        where.parent.mkdir(parents=True)
        write_wav(where, beat_track(1.0), 22050)
        data["nodes"]["music"]["params"]["path"] = "/".join(parts)
    return change


@pytest.mark.parametrize("case,parts,words", [
    ("deep", ["d"] * (bundle.MAX_DEPTH - 1) + ["song.wav"], "folders deep"),
    ("long", ["x" * 99] * 11 + ["song.wav"], "bytes"),
])
def test_pack_refuses_names_unpack_refuses(case, parts, words, tmp_path, monkeypatch, capsys):
    patch = piece(tmp_path, deep(parts))
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    code, out, err = afx(capsys, "pack", patch, "-o", "piece.afxpack")
    one_error(code, err, "node 'music' params.path", words)
    assert tree(tmp_path) == before


def test_pack_checks_the_manifest_with_unpacks_limit(tmp_path, monkeypatch, capsys):
    """One set of limits: a smaller manifest limit refuses the pack before anything is written."""
    patch = piece(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bundle, "MAX_MANIFEST", 200)
    before = tree(tmp_path)
    code, out, err = afx(capsys, "pack", patch, "-o", "piece.afxpack")
    one_error(code, err, "manifest")
    assert tree(tmp_path) == before


# -- unpack never replaces a folder ------------------------------------------------------------
@pytest.fixture
def good_bundle(tmp_path, monkeypatch, capsys) -> Path:
    patch = piece(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, _, err = afx(capsys, "pack", patch, "-o", tmp_path / "in" / "good.afxpack", "--quiet")
    assert code == 0, err
    return tmp_path / "in" / "good.afxpack"


@pytest.mark.parametrize("name", ["..afxpack", "...afxpack", ".afxpack", ".hidden.afxpack",
                                  "..AFXPACK", "\x1b[2J.afxpack"])
def test_unpack_refuses_a_folder_name_it_cannot_derive(name, good_bundle, tmp_path,
                                                       monkeypatch, capsys):
    odd = good_bundle.parent / name
    shutil.copyfile(good_bundle, odd)
    work = tmp_path / "work"
    work.mkdir()
    inode = work.stat().st_ino
    monkeypatch.chdir(work)
    before = tree(tmp_path)
    code, out, err = afx(capsys, "unpack", odd)
    one_error(code, err, "-o DIR")
    assert work.stat().st_ino == inode and list(work.iterdir()) == []
    assert tree(tmp_path) == before


def test_unpack_into_an_empty_folder_keeps_that_folder(good_bundle, tmp_path, monkeypatch,
                                                       capsys):
    work = tmp_path / "work"
    work.mkdir()
    inode = work.stat().st_ino
    monkeypatch.chdir(work)
    code, out, err = afx(capsys, "unpack", good_bundle, "-o", ".")
    assert code == 0, err
    assert work.stat().st_ino == inode and os.getcwd() == str(work)
    assert sorted(p.name for p in work.iterdir()) == ["assets", "manifest.json", "patch.yaml"]
    (tmp_path / "empty").mkdir()
    inode = (tmp_path / "empty").stat().st_ino
    code, out, err = afx(capsys, "unpack", good_bundle, "-o", tmp_path / "empty")
    assert code == 0, err
    assert (tmp_path / "empty").stat().st_ino == inode
    assert (tmp_path / "empty" / "patch.yaml").is_file()


# -- commands that take a patch, given a bundle ------------------------------------------------
def test_verify_of_a_bundle_says_what_to_do(good_bundle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    code, out, err = afx(capsys, "verify", good_bundle)
    one_error(code, err, "good.afxpack", "bundle", "afx unpack")
    assert "UTF-8" not in err
    assert tree(tmp_path) == before
    with pytest.raises(PatchError, match="afx unpack"):
        load_patch(good_bundle)
