"""Outputs only touch what they wrote (DESIGN.md section 11), tried as a hostile user would:
frames folders that are the user's own folders, links out of the output folder, devices and
FIFOs, two renders racing for one file, partial files of killed renders, and a machine that
refuses to write (full disk, read-only folder, long names)."""
from __future__ import annotations

import contextlib
import os
import resource
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from afxcli import afx_exe, run_afx, run_afx_process
from media import read_video

from afx_graph.media import files
from afx_graph.errors import NodeInputError

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.yaml"
TINY = ["--size", "32x18", "--fps", "5", "--duration", "1"]


def frames_patch(folder: Path, path: str, name: str = "f.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(textwrap.dedent(f"""\
        afx: 1
        settings: {{size: [32, 18], fps: 5, duration: 1}}
        nodes:
          music: {{type: audio.synth}}
          field: {{type: cppn}}
          frames:
            type: output.frames
            params: {{path: {path!r}}}
            inputs: {{image: field.image}}
        """))
    return p


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def one_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors, r.stderr
    return errors[0]


def no_partials(folder: Path) -> bool:
    return not [p for p in folder.rglob(".*partial*")]


# -- frames folders ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", [".", "..", "out/..", "./"])
def test_a_frames_folder_is_never_the_users_folder(tmp_path, path):
    work = tmp_path / "work"
    patch = frames_patch(work, path)
    (work / "thesis.txt").write_text("years of work")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8 precious")
    before = snapshot(tmp_path)
    v = run_afx("validate", patch, cwd=work)
    assert "frames" in one_error(v) and "folder" in v.stderr
    r = run_afx("run", patch, "--force", cwd=work)
    assert "node 'frames'" in one_error(r)
    assert snapshot(tmp_path) == before


def test_the_patch_folder_and_home_are_refused_as_frames_folders(tmp_path):
    home = tmp_path / "home"
    (home / "notes.txt").parent.mkdir(parents=True)
    (home / "notes.txt").write_text("mine")
    shared = tmp_path / "shared"
    patch = frames_patch(shared, "../shared")            # the patch's own folder
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(tmp_path)
    r = run_afx("run", patch, "--force", cwd=shared)
    assert "output folder" in one_error(r) or "patch's folder" in r.stderr
    r = run_afx("run", patch, "-o", home, "--force", cwd=work, env={"HOME": home})
    assert "home folder" in one_error(r)
    r = run_afx("run", patch, "-o", shared, "--force", cwd=work)
    assert "patch's folder" in one_error(r)
    assert snapshot(tmp_path) == before


def test_force_replaces_a_frames_folder_only_while_it_holds_only_frames(tmp_path):
    patch = frames_patch(tmp_path, "frames")
    r = run_afx("run", patch, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    first = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert first == [f"frame_{i:06d}.png" for i in range(5)]
    r = run_afx("run", patch, cwd=tmp_path)                  # no --force: refused
    assert "already exists" in one_error(r)
    (tmp_path / "frames" / "notes.txt").write_text("not a frame")
    before = snapshot(tmp_path)
    r = run_afx("run", patch, "--force", cwd=tmp_path)
    assert "notes.txt" in one_error(r) and "did not write" in r.stderr
    assert snapshot(tmp_path) == before
    (tmp_path / "frames" / "notes.txt").unlink()
    (tmp_path / "frames" / "frame_000099.png").write_bytes(b"old frame")
    r = run_afx("run", patch, "--force", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == first
    assert no_partials(tmp_path) and not list(tmp_path.glob(".frames.old*"))


# -- links and special files ------------------------------------------------------------------

def test_a_link_inside_the_output_folder_cannot_lead_out_of_it(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "video.mp4").write_text("the user's file")
    bashrc = outside / ".bashrc"
    bashrc.write_text("export PATH")
    work = tmp_path / "work"
    work.mkdir()
    (work / "out").symlink_to(outside, target_is_directory=True)
    (work / "rc").symlink_to(bashrc)
    for target in ("out/video.mp4", "rc"):
        patch = work / "p.yaml"
        patch.write_text(DEMO.read_text().replace("out/demo.mp4", target))
        assert target in patch.read_text()
        v = run_afx("validate", patch, cwd=work)
        assert "symbolic link" in one_error(v)
        r = run_afx("run", patch, "--force", *TINY, cwd=work)
        assert "symbolic link" in one_error(r)
    assert (outside / "video.mp4").read_text() == "the user's file"
    assert bashrc.read_text() == "export PATH" and not list(outside.glob(".*partial*"))


def test_devices_and_fifos_are_never_replaced(tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    targets = [fifo]
    dev = tmp_path / "null"
    with contextlib.suppress(OSError):          # a character device, where we may make one
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        targets.append(dev)
    for target in targets:
        kind = os.stat(target).st_mode
        r = run_afx("run", DEMO, "-o", target, "--force", *TINY, cwd=tmp_path, timeout=120)
        assert "afx only writes regular files" in one_error(r) and str(target) in r.stderr
        assert os.stat(target).st_mode == kind
    assert no_partials(tmp_path)


@pytest.mark.parametrize("case", ["folder", "under-a-file", "long-name", "parent-of-cwd"])
def test_unusable_output_paths_are_bad_input(tmp_path, case):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    target = {"folder": "adir", "under-a-file": "afile/v.mp4", "long-name": "a" * 300 + ".mp4",
              "parent-of-cwd": "adir/.."}[case]
    before = snapshot(tmp_path)
    r = run_afx("run", DEMO, "-o", target, "--force", *TINY, cwd=tmp_path)
    line = one_error(r)
    assert {"folder": "is a folder", "under-a-file": "is a regular file, so nothing",
            "long-name": "too long", "parent-of-cwd": "is a folder"}[case] in line
    assert snapshot(tmp_path) == before and no_partials(tmp_path)


def test_a_nul_in_a_patch_path_is_bad_input(tmp_path):
    patch = tmp_path / "p.yaml"
    patch.write_text(DEMO.read_text().replace("out/demo.mp4", '"out/a\\0b.mp4"'))
    for cmd in (["validate", patch], ["run", patch, *TINY]):
        r = run_afx(*cmd, cwd=tmp_path)
        assert "NUL" in one_error(r)


# -- the moment of the final rename -----------------------------------------------------------

def test_commit_is_exclusive_without_force(tmp_path):
    final = tmp_path / "v.mp4"
    tmp = files.partial_path(final)
    tmp.write_bytes(b"new")
    final.write_bytes(b"appeared meanwhile")
    with pytest.raises(NodeInputError, match="appeared while rendering"):
        files.commit_file(tmp, final, overwrite=False)
    assert final.read_bytes() == b"appeared meanwhile"
    files.commit_file(tmp, final, overwrite=True)
    assert final.read_bytes() == b"new" and not tmp.exists()


def test_two_renders_to_one_file_never_both_win(tmp_path):
    out = tmp_path / "same.mp4"
    args = [afx_exe(), "run", str(DEMO), "-o", str(out), "--size", "64x36", "--fps", "10",
            "--duration", "3", "--quiet"]
    procs = [subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "already exists" in loser or "appeared while rendering" in loser
    assert read_video(out)["frames"].shape[0] == 30 and no_partials(tmp_path)


def test_partials_of_killed_renders_are_cleaned_by_the_next_render(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".v.mp4.partial-{dead.pid}"
    stale.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(100))     # the start of an MP4
    alive = tmp_path / f".v.mp4.partial-{os.getpid()}"      # a render still running
    alive.write_bytes(b"in progress")
    other = tmp_path / f".other.mp4.partial-{dead.pid}"      # another output's: not ours
    other.write_bytes(b"x")
    # a child process: the partial named after this test's pid stands for another render
    r = run_afx_process("run", DEMO, "-o", "v.mp4", *TINY, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and alive.exists() and other.exists()


# -- the machine says no ----------------------------------------------------------------------

@contextlib.contextmanager
def tmpfs(where: Path, *options: str):
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(where)],
                       capture_output=True)
    try:
        yield r.returncode == 0
    finally:
        if r.returncode == 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _file_size_limit():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_a_full_disk_is_bad_input_and_leaves_nothing(tmp_path):
    """On a 64 KiB tmpfs where we may mount one (root); else a 20 KB file-size limit: the
    same path through the code (the writer gets ENOSPC or EFBIG)."""
    with tmpfs(tmp_path / "small", "size=64k") as mounted:
        folder = tmp_path / "small"
        kw = {} if mounted else {"preexec_fn": _file_size_limit}
        r = run_afx("run", DEMO, "-o", folder / "v.mp4", "--size", "320x180", "--duration", "4",
                    cwd=tmp_path, **kw)
        line = one_error(r)
        assert str(folder / "v.mp4") in line
        assert ("no space left" if mounted else "larger than this system allows") in line
        assert list(folder.iterdir()) == []


def test_a_read_only_folder_is_bad_input(tmp_path):
    with tmpfs(tmp_path / "ro", "ro", "size=64k") as mounted:
        target = (tmp_path / "ro" / "v.mp4") if mounted else Path("/sys/afx-test.mp4")
        r = run_afx("run", DEMO, "-o", target, *TINY, cwd=tmp_path)
        line = one_error(r)
        assert str(target) in line
        assert ("read-only" if mounted else "permission denied") in line


def test_a_gpu_only_encoder_on_the_cpu_is_bad_input(tmp_path):
    r = run_afx("run", DEMO, "-o", "v.mp4", "--device", "cpu", "--set", "video.codec=h264_nvenc",
                *TINY, cwd=tmp_path)
    assert "codec" in one_error(r) and "NVIDIA GPU" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_frame_too_large_for_memory_is_refused_before_allocating(tmp_path):
    r = run_afx("run", DEMO, "-o", "v.mp4", "--size", "8192x4608", "--duration", "0.1",
                cwd=tmp_path, env={"AFX_MEMORY": "2G"}, timeout=120)
    line = one_error(r)
    assert "--size" in line and "8192x4608" in line and "GiB" in line
    assert list(tmp_path.iterdir()) == []


# -- paths typed on the command line ----------------------------------------------------------

@pytest.mark.parametrize("flag", ["-o", "--audio", "--set"])
@pytest.mark.parametrize("path", ["loop/x", "~nosuchuser-afx/x.mp4"])
def test_unusable_typed_paths_are_bad_input(tmp_path, flag, path):
    (tmp_path / "loop").symlink_to("loop")                  # a link to itself
    args = {"-o": ["-o", path], "--audio": ["--audio", path],
            "--set": ["--set", f"video.path={path}"]}[flag]
    r = run_afx("run", DEMO, *args, *TINY, cwd=tmp_path, env={"HOME": tmp_path})
    one_error(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop"]


def test_an_output_that_is_a_link_is_neither_followed_nor_replaced(tmp_path):
    target = tmp_path / "bashrc"
    target.write_text("export PATH")
    (tmp_path / "v.mp4").symlink_to(target)
    r = run_afx("run", DEMO, "-o", "v.mp4", "--force", *TINY, cwd=tmp_path)
    assert "symbolic link" in one_error(r)
    assert target.read_text() == "export PATH" and (tmp_path / "v.mp4").is_symlink()


def test_control_characters_in_a_patch_output_name_are_refused(tmp_path):
    for name in ("out/a\\e[31mRED.mp4", "out/a\\nb.mp4", "out/\\u202eevil.mp4"):
        patch = tmp_path / "p.yaml"
        patch.write_text(DEMO.read_text().replace("out/demo.mp4", f'"{name}"'))
        for cmd in (["validate", patch], ["run", patch, *TINY]):
            r = run_afx(*cmd, cwd=tmp_path)
            assert "control or invisible characters" in one_error(r)
            assert "\x1b" not in r.stderr + r.stdout and "\u202e" not in r.stderr + r.stdout
    assert not (tmp_path / "out").exists()


def test_stale_partials_are_removed_only_when_they_look_like_ours(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = tmp_path / f".v.mp4.partial-{dead.pid}"
    mine.write_bytes(b"user data that merely has this name")
    r = run_afx("run", DEMO, "-o", "v.mp4", *TINY, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert mine.read_bytes() == b"user data that merely has this name"


def test_a_read_only_folder_is_found_before_any_work(tmp_path):
    with tmpfs(tmp_path / "ro", "ro", "size=64k") as mounted:
        target = tmp_path / "ro" / "a" / "b" / "v.mp4"
        r = run_afx("run", DEMO, "-o", target, "--size", "64x36", cwd=tmp_path)
        line = one_error(r)
        if mounted:       # refused by the check before rendering: no "node 'music'" work
            assert "read-only or not writable" in line and "-o" in line


def test_a_path_param_that_must_be_given_is_checked_by_validate(tmp_path):
    patch = tmp_path / "p.yaml"
    patch.write_text((ROOT / "graphs" / "cppn_audio_file.yaml").read_text())
    text = patch.read_text()
    import re
    patch.write_text(re.sub(r"path: [^,}\n]*song[^,}\n]*", "path: ''", text, count=1))
    assert "path: ''" in patch.read_text()
    for cmd in (["validate", patch], ["run", patch, *TINY]):
        r = run_afx(*cmd, cwd=tmp_path)
        assert "no file given" in one_error(r) or "no audio file given" in r.stderr
    r = run_afx("validate", patch, cwd=tmp_path)
    assert "params.path: no file given" in r.stderr


def test_memory_budget_odd_values(tmp_path):
    r = run_afx("run", DEMO, "-o", "v.mp4", *TINY, cwd=tmp_path, env={"AFX_MEMORY": "0"})
    assert "AFX_MEMORY" in one_error(r)
    r = run_afx("run", DEMO, "-o", "v.mp4", "--batch", "1024", "--size", "640x360",
                "--duration", "0.2", cwd=tmp_path, env={"AFX_MEMORY": "200M"})
    assert r.returncode == 0, r.stderr
    assert "warning: --batch 1024 does not fit" in r.stderr


def test_auto_codec_uses_nvenc_only_where_it_opens(monkeypatch):
    # Seen on an H100 machine: PyAV lists h264_nvenc, the driver's encoder library is absent,
    # and a render picking NVENC died at its first frame. auto now probes it first.
    from afx_graph.media import video as outputs
    cuda = torch.device("cuda")
    monkeypatch.setattr(outputs, "nvenc_problem", lambda: "no encoder library")
    assert outputs.pick_codec("auto", cuda) == "libx264"
    monkeypatch.setattr(outputs, "nvenc_problem", lambda: "")
    assert outputs.pick_codec("auto", cuda) == "h264_nvenc"
    assert outputs.pick_codec("auto", torch.device("cpu")) == "libx264"


def test_the_nvenc_probe_agrees_with_encoding_a_frame(tmp_path):
    import av
    import numpy as np
    from afx_graph.media import video as outputs
    try:
        with av.open(str(tmp_path / "probe.mp4"), "w") as c:
            st = c.add_stream("h264_nvenc", rate=30)
            st.width, st.height, st.pix_fmt = 256, 256, "yuv420p"
            frame = av.VideoFrame.from_ndarray(np.zeros((256, 256, 3), np.uint8), format="rgb24")
            for packet in st.encode(frame):
                c.mux(packet)
        encodes = True
    except (av.error.FFmpegError, ValueError, OSError):
        encodes = False
    assert (outputs.nvenc_problem() == "") == encodes
