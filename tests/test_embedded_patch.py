"""Every render carries its patch (afx_graph/embedded.py): MP4s and PNGs hold the patch that
made them, as rendered; `afx extract`, `afx run`, `afx validate` and the editor read it back
through the same limits and safe loader as a patch file."""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from afx_graph import cli
from afx_graph.sharing import embedded
from afx_graph.patchfile import safe_yaml
from afx_graph.graph import Graph
from afx_graph.patchfile.patch import loads, to_data
from afx_graph.sharing.opening import load_patch
from afx_graph.media.png import chunk, encode_png, read_png, text_chunk
from afx_graph.registry import default_registry
from media import beat_track, read_video, write_wav

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.yaml"
SMALL = ["--size", "64x36", "--fps", "12", "--duration", "0.5"]
FRAMES_PATCH = """afx: 1
meta: {name: Frames, description: "Grüße: a CPPN field as PNG frames"}
settings: {size: [64, 36], fps: 12, duration: 0.5}
nodes:
  field: {type: cppn, params: {hidden: 8, layers: 2}}
  frames:
    type: output.frames
    params: {path: frames}
    inputs: {image: field.image}
"""


def afx(*args, cwd: Path | None = None) -> tuple[int, str, str]:
    """``afx ARGS`` in this process (torch loads once): (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main([str(a) for a in args])
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def as_rendered(path: Path, settings: dict, params: dict[str, dict]) -> dict:
    """The patch file's data as a render of it: settings written out, params overridden."""
    data = to_data(Graph.from_patch(load_patch(path), default_registry()).to_patch())
    data["settings"] = settings
    for nid, changes in params.items():
        data["nodes"][nid].setdefault("params", {}).update(changes)
    return data


def data_of(text: str) -> dict:
    return to_data(loads(text))


def write_mp4(path: Path, tag: str | None = None, frames: int = 2) -> Path:
    """A tiny MP4 not written by afx, with ``tag`` as its afx-patch metadata."""
    with av.open(str(path), "w", format="mp4",
                 options={"movflags": "+faststart+use_metadata_tags"}) as c:
        if tag is not None:
            c.metadata[embedded.KEY] = tag
        s = c.add_stream("libx264", rate=Fraction(12))
        s.width, s.height, s.pix_fmt = 64, 36, "yuv420p"
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(np.full((36, 64, 3), 40 * i, np.uint8), format="rgb24")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk, every CRC checked (a reader that is not ours)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == \
            zlib.crc32(ctype + body), ctype
        out.append((ctype, body))
        pos += 12 + length
    return out


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Path:
    """The demo rendered once, with a --set value: renders/r.mp4."""
    folder = tmp_path_factory.mktemp("renders")
    code, _, err = afx("run", DEMO, "-o", folder / "r.mp4", *SMALL, "--set", "field.seed=11",
                       "--quiet")
    assert code == 0, err
    return folder / "r.mp4"


# -- in the file ------------------------------------------------------------------------------
def test_mp4_carries_the_patch_as_rendered(render, tmp_path):
    code, text, err = afx("extract", render)
    assert code == 0, err
    assert data_of(text) == as_rendered(
        DEMO, {"size": [64, 36], "fps": 12, "duration": 0.5},
        {"field": {"seed": 11}, "video": {"path": "r.mp4"}})     # -o keeps its file name only
    assert str(render.parent) not in text                        # no folder of the renderer
    with av.open(str(render)) as c:                  # a standard tag: ffprobe and PyAV see it
        assert c.metadata[embedded.KEY] == text
    assert len(read_video(render)["frames"]) == 6                # and the video is as before
    code, out, err = afx("extract", render, "-o", tmp_path / "p.yaml")
    assert code == 0, err
    assert (tmp_path / "p.yaml").read_text(encoding="utf-8") == text


def test_png_frames_carry_the_patch_as_rendered(tmp_path):
    (tmp_path / "p.yaml").write_text(FRAMES_PATCH, encoding="utf-8")
    code, _, err = afx("run", "p.yaml", "--set", "field.seed=5", "--fps", "8", "--quiet",
                       cwd=tmp_path)
    assert code == 0, err
    pngs = sorted((tmp_path / "frames").glob("frame_*.png"))
    assert len(pngs) == 4
    want = as_rendered(tmp_path / "p.yaml", {"size": [64, 36], "fps": 8, "duration": 0.5},
                       {"field": {"seed": 5}})
    for png in (pngs[0], pngs[-1]):
        code, text, err = afx("extract", png)
        assert code == 0, err
        assert data_of(text) == want and "Grüße" in text
        kinds = [t for t, _ in png_chunks(png.read_bytes())]
        assert kinds[:2] == [b"IHDR", b"iTXt"] and kinds[-1] == b"IEND"
        assert read_png(png).shape == (36, 64, 3)


def test_gallery_strip_carries_the_patch(tmp_path):
    code, _, err = afx("gallery", DEMO, "-o", tmp_path, "--size", "48x27", "--times", "0.5",
                       "--device", "cpu")
    assert code == 0, err
    code, text, err = afx("extract", tmp_path / "demo.png")
    assert code == 0, err
    assert data_of(text) == as_rendered(DEMO, {"size": [48, 27], "fps": 30}, {})


def test_a_big_patch_survives_in_the_mp4(tmp_path):
    """Tens of KB of patch (a long description) go in and come out whole."""
    data = to_data(load_patch(DEMO))
    data["meta"]["description"] = " ".join(f"word{i}" for i in range(9000))   # ~80 KB
    data["nodes"]["video"]["params"]["path"] = "big.mp4"
    import yaml
    (tmp_path / "big.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code, _, err = afx("run", "big.yaml", *SMALL, "--quiet", cwd=tmp_path)
    assert code == 0, err
    code, text, err = afx("extract", tmp_path / "big.mp4")
    assert code == 0, err
    assert len(text) > 70_000
    assert data_of(text)["meta"] == data["meta"]


# -- rendering from a render ------------------------------------------------------------------
def test_run_a_render_renders_it_again(render, tmp_path):
    code, _, err = afx("run", render, "-o", tmp_path / "again.mp4", "--quiet")
    assert code == 0, err
    first, again = read_video(render), read_video(tmp_path / "again.mp4")
    assert again["frames"].shape == first["frames"].shape == (6, 36, 64, 3)
    assert np.abs(again["frames"].astype(float) - first["frames"]).mean() < 1.0
    code, _, err = afx("extract", tmp_path / "again.mp4")
    assert code == 0
    code, out, err = afx("validate", render)
    assert code == 0 and out.startswith(f"ok: {render}"), err


def test_run_a_render_never_writes_over_it(render, tmp_path):
    """The patch inside r.mp4 writes r.mp4: run beside it, it is refused, even with --force."""
    shutil.copy(render, tmp_path / "r.mp4")
    before = (tmp_path / "r.mp4").read_bytes()
    for force in ([], ["--force"]):
        code, _, err = afx("run", "r.mp4", "--quiet", *force, cwd=tmp_path)
        assert code == 2
        assert err.startswith("error: r.mp4: node 'video' params.path:") and \
            "is the file this patch was read from" in err and "Traceback" not in err
    assert (tmp_path / "r.mp4").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.mp4"]


def test_sound_comes_from_the_video_when_its_file_is_not_beside_it(tmp_path):
    made, sent = tmp_path / "made", tmp_path / "sent"
    made.mkdir(), sent.mkdir()
    write_wav(made / "song.wav", beat_track(1.5), 22050)
    code, _, err = afx("run", DEMO, "--audio", "song.wav", "-o", "r.mp4", "--size", "64x36",
                       "--fps", "12", "--quiet", cwd=made)
    assert code == 0, err
    shutil.copy(made / "r.mp4", sent / "r.mp4")              # only the video is sent
    code, text, _ = afx("extract", sent / "r.mp4")
    assert "path: song.wav" in text and str(made) not in text
    code, _, err = afx("run", "r.mp4", "-o", "again.mp4", "--quiet", cwd=sent)
    assert code == 0, err
    assert "warning: r.mp4: node 'music': 'song.wav' is not beside the video; its sound comes " \
           "from the video itself (through AAC: the pictures may differ a little)" in err
    first, again = read_video(made / "r.mp4"), read_video(sent / "again.mp4")
    assert again["frames"].shape == first["frames"].shape == (18, 36, 64, 3)
    assert again["audio"] is not None and abs(again["audio"]["duration"] - 1.5) < 0.1
    # the same music once through AAC: close pictures (9.9 of 255 here, where quiet bands of
    # this test track, normalised, amplify the coding noise; another field.seed gives 48)
    assert np.abs(again["frames"].astype(float) - first["frames"]).mean() < 15
    # with the song beside the video, the song is used and nothing is said
    shutil.copy(made / "song.wav", sent / "song.wav")
    code, _, err = afx("validate", sent / "r.mp4")
    assert code == 0 and "warning" not in err


def test_a_render_that_started_later_restarts_at_zero_on_the_videos_sound(tmp_path):
    """The video's sound begins at --start: rendered from it, time starts at 0, and says so."""
    write_wav(tmp_path / "song.wav", beat_track(1.5), 22050)
    code, _, err = afx("run", DEMO, "--audio", "song.wav", "-o", "r.mp4", "--size", "64x36",
                       "--fps", "12", "--start", "0.5", "--duration", "0.5", "--quiet",
                       cwd=tmp_path)
    assert code == 0, err
    assert load_patch(tmp_path / "r.mp4").settings["start"] == 0.5     # the song is there
    (tmp_path / "song.wav").unlink()
    patch = load_patch(tmp_path / "r.mp4")
    assert patch.settings["start"] == 0 and patch.settings["duration"] == 0.5
    assert patch.nodes["music"].params["path"] == str(tmp_path / "r.mp4")
    assert "this render starts at 0 s (give --audio TRACK --start 0.5" in patch.warnings[1]


# -- refused ----------------------------------------------------------------------------------
def test_media_without_a_patch_is_a_clear_error(tmp_path):
    write_mp4(tmp_path / "plain.mp4")
    (tmp_path / "plain.png").write_bytes(encode_png(np.zeros((8, 8, 3), np.uint8)))
    for name in ("plain.mp4", "plain.png"):
        for cmd in (["run", name], ["extract", name], ["validate", name]):
            code, out, err = afx(*cmd, cwd=tmp_path)
            assert code == 2, cmd
            assert f"error: {name}: no afx patch inside (was it written by afx?)" in err, err
            assert "Traceback" not in err
    code, _, err = afx("extract", DEMO)
    assert code == 2 and "not a PNG or MP4 file" in err


HOSTILE_TEXT = {
    "huge": "afx: 1\nnodes: {}\n#" + "x" * (safe_yaml.MAX_BYTES + 10),
    "python tag": "afx: 1\nnodes: !!python/object/apply:os.system ['touch pwned']\n",
    "alias bomb": "afx: 1\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
        + "nodes: {}\n",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_TEXT))
@pytest.mark.parametrize("media", ["mp4", "png"])
def test_a_hostile_patch_inside_is_refused_like_a_file(tmp_path, kind, media):
    text = HOSTILE_TEXT[kind]
    target = tmp_path / f"evil.{media}"
    if media == "mp4":
        write_mp4(target, text)
    else:
        target.write_bytes(encode_png(np.zeros((8, 8, 3), np.uint8),
                                      text_chunk(embedded.KEY, text)))
    (tmp_path / "evil.yaml").write_text(text, encoding="utf-8")
    code, _, file_err = afx("validate", "evil.yaml", cwd=tmp_path)
    assert code == 2
    for cmd in (["extract", target.name, "-o", "p.yaml"], ["run", target.name]):
        code, out, err = afx(*cmd, cwd=tmp_path)
        assert code == 2 and err.startswith(f"error: evil.{media}: ") and "Traceback" not in err
        if kind == "huge":
            assert "a patch is at most 2048 KiB" in err
        else:            # the same words as the same text in a patch file
            assert err.splitlines()[0].split(": ", 2)[2] == file_err.splitlines()[0].split(": ", 2)[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, "evil.yaml"])


def test_a_png_patch_that_inflates_past_the_limit_is_refused(tmp_path):
    bomb = chunk(b"iTXt", embedded.KEY.encode() + b"\0\x01\0\0\0"
                 + zlib.compress(b"#" * (64 << 20), 9))          # 64 MiB in about 64 KB
    assert len(bomb) < 100_000
    (tmp_path / "bomb.png").write_bytes(encode_png(np.zeros((8, 8, 3), np.uint8), bomb))
    code, _, err = afx("extract", tmp_path / "bomb.png")
    assert code == 2 and "is more than 2048 KiB; a patch is at most 2048 KiB" in err


def test_a_damaged_png_patch_is_refused(tmp_path):
    good = text_chunk(embedded.KEY, "afx: 1\nnodes: {}\n")
    bad = good[:-1] + bytes([good[-1] ^ 1])                        # CRC off by a bit
    (tmp_path / "bad.png").write_bytes(encode_png(np.zeros((8, 8, 3), np.uint8), bad))
    code, _, err = afx("extract", tmp_path / "bad.png")
    assert code == 2 and "damaged (its checksum does not match)" in err


def test_extract_never_overwrites_without_force(render, tmp_path):
    (tmp_path / "p.yaml").write_text("mine\n")
    code, _, err = afx("extract", render, "-o", tmp_path / "p.yaml")
    assert code == 2 and "already exists (use --force" in err
    assert (tmp_path / "p.yaml").read_text() == "mine\n"
    code, _, err = afx("extract", render, "-o", tmp_path / "p.yaml", "--force")
    assert code == 0, err
    assert (tmp_path / "p.yaml").read_text().startswith("afx: 1")
    shutil.copy(render, tmp_path / "r.mp4")
    code, _, err = afx("extract", tmp_path / "r.mp4", "-o", tmp_path / "r.mp4", "--force")
    assert code == 2 and "is the render itself" in err
    assert (tmp_path / "r.mp4").read_bytes() == render.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml", "r.mp4"]


# -- the editor -------------------------------------------------------------------------------
def test_editor_opens_a_render_as_a_new_untitled_patch(render, tmp_path):
    from afx_graph.errors import AfxError
    from afx_graph.ui.controller import EditorController

    c = EditorController(recovery=tmp_path / "recovery")
    issues = c.open(render)
    assert issues == []
    assert c.path is None and c.title == "untitled *" and c.dirty     # unsaved work
    assert to_data(c.graph.to_patch()) == data_of(afx("extract", render)[1])
    with pytest.raises(AfxError, match="Save As"):
        c.save()                                     # never YAML over the video
    before = render.read_bytes()
    assert c.save(tmp_path / "from_video.yaml") == tmp_path / "from_video.yaml"
    assert not c.dirty and render.read_bytes() == before
    assert load_patch(tmp_path / "from_video.yaml").nodes["field"].params["seed"] == 11


def test_editor_open_says_where_the_sound_comes_from(tmp_path):
    from afx_graph.ui.controller import EditorController

    write_wav(tmp_path / "song.wav", beat_track(1.0), 22050)
    code, _, err = afx("run", DEMO, "--audio", "song.wav", "-o", "r.mp4", "--size", "64x36",
                       "--fps", "12", "--quiet", cwd=tmp_path)
    assert code == 0, err
    (tmp_path / "song.wav").unlink()
    c = EditorController(recovery=tmp_path / "recovery")
    issues = c.open(tmp_path / "r.mp4")
    assert "its sound comes from the video itself" in str(issues[0])
    assert c.graph.nodes["music"].params["path"] == str(tmp_path / "r.mp4")   # absolute
    assert c.graph.validate() == []
