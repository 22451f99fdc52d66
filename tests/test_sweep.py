"""`afx sweep` as a user runs it: the cells, the contact sheet, the page, resuming a killed
sweep, exporting a cell's patch, failed cells, bad --set values, and the same sweep on Ray."""
import json
import os
import re
import signal
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from afx_graph.media import sheet
from afx_graph.cli import main
from afx_graph.media.png import read_png
from afxcli import afx_exe, run_afx
from media import beat_track, read_video, write_wav

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.yaml"
TINY = ["--size", "64x36"]
SETS = ["--set", "field.seed=1..2", "--set", "field.scale=0.5,2"]


def afx(capsys, *args) -> tuple[int, str, str]:
    """``afx ARGS`` in this process (a process each costs seconds of imports)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".partial-" in p.name or p.name.endswith(".tmp")]


def thumbnails(img: np.ndarray) -> list[tuple[slice, slice]]:
    """Where the pictures are on a contact sheet: runs of rows that are picture almost from
    side to side, crossed with runs of columns that are picture in every such row."""
    picture = np.abs(img.astype(int) - sheet.BACKGROUND).sum(-1) > 0
    rows = picture.sum(1) > 0.75 * picture.shape[1]

    def runs(flags):
        out, start = [], None
        for i, f in enumerate(list(flags) + [False]):
            if f and start is None:
                start = i
            elif not f and start is not None:
                out.append(slice(start, i))
                start = None
        return out

    boxes = []
    for r in runs(rows):
        cols = picture[r].all(0)
        boxes += [(r, c) for c in runs(cols) if c.stop - c.start > 20]
    return boxes


def find_text(img: np.ndarray, text: str, x: int, y0: int, y1: int, colour=sheet.INK) -> bool:
    """Whether ``text`` in the sheet's font (scale 2) is drawn at column x between rows y0, y1."""
    mask = sheet.text_mask(text, 2)
    ink = (img == colour).all(-1)
    h, w = mask.shape
    return any((ink[y:y + h, x:x + w] == mask).all() for y in range(y0, y1 - h + 1))


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.tags, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [v for k, v in attrs if k in ("src", "href")]

    def handle_data(self, data):
        self.text.append(data)


def page(path: Path) -> Links:
    p = Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_a_2x2_sweep_of_stills_gives_four_cells_a_labelled_sheet_and_a_page(tmp_path, capsys):
    out = tmp_path / "sweep"
    code, stdout, err = afx(capsys, "sweep", DEMO, *SETS, *TINY, "-o", out)
    assert code == 0, err
    lines = [line for line in stdout.splitlines() if line.startswith("cell ")]
    assert [re.match(r"cell (\d)/4 (.*): \d+\.\d s$", line).groups() for line in lines] == [
        ("1", "seed=1 scale=0.5"), ("2", "seed=1 scale=2"), ("3", "seed=2 scale=0.5"),
        ("4", "seed=2 scale=2")]
    assert "4 rendered, 0 kept, 0 failed" in stdout
    cells = sorted((out / "cells").iterdir())
    assert [p.name for p in cells] == ["001.png", "002.png", "003.png", "004.png"]
    pictures = [read_png(p) for p in cells]
    assert all(p.shape == (36, 64, 3) for p in pictures)

    manifest = json.loads((out / "sweep.json").read_text())
    assert [c["values"] for c in manifest["cells"]] == [
        {"field.seed": 1, "field.scale": 0.5}, {"field.seed": 1, "field.scale": 2},
        {"field.seed": 2, "field.scale": 0.5}, {"field.seed": 2, "field.scale": 2}]
    assert {c["status"] for c in manifest["cells"]} == {"done"}
    assert len(manifest["patch_sha256"]) == 64 and manifest["kind"] == "still"

    img = read_png(out / "contact.png")
    boxes = thumbnails(img)
    assert len(boxes) == 4, boxes                            # a 2 x 2 grid of pictures
    (r0, c0), (r1, c1), (r2, c2), (r3, c3) = boxes
    assert r0 == r1 and r2 == r3 and c0 == c2 and c1 == c3 and r0.start < r2.start
    w, h = c0.stop - c0.start, r0.stop - r0.start
    assert abs(w / h - 64 / 36) < 0.05 and w >= 128         # thumbnails keep the frame's shape
    thumbs = [img[r, c].astype(float) for r, c in boxes]
    for t, cell in zip(thumbs, pictures):                    # each is its cell, not grey
        assert t.std() > 15 and np.abs(t[..., 0] - t[..., 2]).mean() > 10
        assert np.abs(t.mean((0, 1)) - cell.reshape(-1, 3).mean(0)).max() < 4
    for i in range(4):
        for j in range(i):
            assert np.abs(thumbs[i] - thumbs[j]).mean() > 10    # four different looks
    for (r, c), values in zip(boxes, [("1", "0.5"), ("1", "2"), ("2", "0.5"), ("2", "2")]):
        below = r.stop, r.stop + 80                          # the caption: index, then values
        assert find_text(img, f"seed={values[0]}", c.start, *below)
        assert find_text(img, f"scale={values[1]}", c.start, *below)

    links = page(out / "index.html")
    assert {"cells/001.png", "cells/002.png", "cells/003.png", "cells/004.png",
            "contact.png"} <= set(links.links)
    assert all(not link.startswith(("/", "http", "file:")) and (out / link).exists()
               for link in links.links)
    assert "#3 seed=2 scale=0.5" in " ".join(links.text)
    assert not partials(out)


def test_clips_export_and_afx_run_renders_the_same_frames(tmp_path, capsys):
    out = tmp_path / "clips"
    code, stdout, err = afx(capsys, "sweep", DEMO, *SETS, *TINY, "--clip", "0.5", "-o", out)
    assert code == 0, err
    cell = read_video(out / "cells" / "003.mp4")
    assert cell["frames"].shape == (15, 36, 64, 3) and cell["audio"] is not None
    links = page(out / "index.html")
    assert links.tags.count("video") == 4
    assert sorted(x for x in links.links if x.endswith(".mp4")) == [
        f"cells/00{i}.mp4" for i in range(1, 5)]
    sheet_img = read_png(out / "contact.png")
    assert len(thumbnails(sheet_img)) == 4                 # a middle frame of every clip

    # the patch of cell 3, by its values to a file, and by its number on stdout
    code, _, err = afx(capsys, "sweep", DEMO, *SETS, *TINY, "--clip", "0.5",
                       "--export", "seed=2,scale=0.5", "-o", tmp_path / "cell3.yaml")
    assert code == 0, err
    code, printed, _ = afx(capsys, "sweep", DEMO, *SETS, *TINY, "--clip", "0.5", "--export", "3")
    assert code == 0 and printed == (tmp_path / "cell3.yaml").read_text()
    assert re.search(r"seed: 2\n", printed) and "scale: 0.5" in printed
    code, _, err = afx(capsys, "sweep", DEMO, *SETS, "--export", "3",
                       "-o", tmp_path / "cell3.yaml")
    assert code == 2 and "already exists" in err          # never over a file without --force

    code, _, err = afx(capsys, "run", tmp_path / "cell3.yaml", "-o", tmp_path / "again.mp4")
    assert code == 0, err
    again = read_video(tmp_path / "again.mp4")
    assert np.array_equal(again["frames"], cell["frames"])

    code, _, err = afx(capsys, "sweep", DEMO, *SETS, "--export", "seed=9")
    assert code == 2 and "--export" in err and "seed=9" in err


def test_a_killed_sweep_resumes_with_the_missing_cells_only(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", DEMO, *SETS, *TINY, "-o", out]
    proc = subprocess.Popen([afx_exe(), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    done = []
    while not done and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            manifest = json.loads((out / "sweep.json").read_text())
        except (OSError, ValueError):
            continue
        done = [c["file"] for c in manifest["cells"] if c["status"] == "done"]
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    manifest = json.loads((out / "sweep.json").read_text())
    done = {c["file"] for c in manifest["cells"] if c["status"] == "done"}
    assert 1 <= len(done) < 4, "the sweep finished before it could be killed"
    kept = {f: os.stat(out / f).st_mtime_ns for f in done}
    # what a SIGKILL in the middle of writing a cell leaves (a process that no longer runs)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (out / "cells" / f".004.png.partial-{dead.pid}").write_bytes(b"\x89PNG\r\n\x1a\nhalf")

    code, stdout, err = afx(capsys, *args)
    assert code == 0, err
    assert f"{len(done)} of 4 cells already done" in stdout
    rendered = {f"cells/00{m}.png" for m in re.findall(r"^cell (\d)/4", stdout, re.M)}
    assert rendered == {f"cells/00{i}.png" for i in range(1, 5)} - done
    assert {f: os.stat(out / f).st_mtime_ns for f in done} == kept
    assert not partials(out)
    assert sorted(p.name for p in (out / "cells").iterdir()) == [f"00{i}.png" for i in range(1, 5)]
    assert {c["status"] for c in json.loads((out / "sweep.json").read_text())["cells"]} == {"done"}

    # the same folder with other sets is another sweep: refused, nothing touched
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    code, _, err = afx(capsys, "sweep", DEMO, "--set", "field.seed=5,6", *TINY, "-o", out)
    assert code == 2 and err.startswith("error: -o:") and "another sweep" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_a_failed_cell_is_reported_and_the_others_go_on(tmp_path, capsys):
    song, bad = tmp_path / "song.wav", tmp_path / "bad<i>&.wav"     # a name to escape
    write_wav(song, beat_track(2.5), 22050)
    bad.write_bytes(os.urandom(4000))
    out = tmp_path / "sweep"
    code, stdout, err = afx(capsys, "sweep", DEMO, "--audio", song, "--set",
                            f"music.path={song},{bad}", "--set", "field.seed=1,2", *TINY,
                            "-o", out)
    assert code == 2
    errors = err.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("error: cell ") and "bad<i>&.wav" in e
                                    for e in errors)
    assert "2 rendered, 0 kept, 2 failed" in stdout
    assert sorted(p.name for p in (out / "cells").iterdir()) == ["001.png", "002.png"]
    status = [c["status"] for c in json.loads((out / "sweep.json").read_text())["cells"]]
    assert status == ["done", "done", "failed", "failed"]
    img = read_png(out / "contact.png")
    boxes = thumbnails(img)
    assert len(boxes) == 4
    for k, (r, c) in enumerate(boxes[2:], 3):              # the failed cells: red, so marked
        tile = img[r, c].reshape(-1, 3)
        assert (tile == sheet.FAILED).all(-1).mean() > 0.6
        assert find_text(img, f"#{k} failed", c.start, r.stop, r.stop + 80, sheet.FAILED_INK)
    text = (out / "index.html").read_text()
    assert text.count('<figure class="failed">') == 2 and "not an audio file" in text
    assert "bad&lt;i&gt;&amp;.wav" in text and "<i>" not in text


@pytest.mark.parametrize("sets, says", [
    (["nope.seed=1,2"], "there is no node 'nope'"),
    (["field.seed=1,x"], "expected a number"),
    (["field.seed=5..1"], "empty"),
    (["field.seed=0.5..2"], "needs a step"),
    (["field.seed=1..4/0"], "step"),
    (["field.hidden=8,2"], "below the minimum"),
    (["field.nope=1,2"], "unknown param"),
    (["field.seed=3"], "nothing to sweep"),
])
def test_a_bad_set_is_one_error_line_naming_set(tmp_path, capsys, sets, says):
    args = [a for s in sets for a in ("--set", s)]
    code, stdout, err = afx(capsys, "sweep", DEMO, *args, "-o", tmp_path / "sweep")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--set" in lines[0], err
    assert says in lines[0]
    assert not (tmp_path / "sweep").exists()


def test_a_folder_with_files_of_another_kind_is_not_written_over(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "index.html").write_text("my page")
    code, _, err = afx(capsys, "sweep", DEMO, *SETS, *TINY, "-o", out)
    assert code == 2 and "index.html already exists" in err and "--force" in err
    assert (out / "index.html").read_text() == "my page" and not (out / "cells").exists()


# -- on Ray -------------------------------------------------------------------------------------


@pytest.mark.xdist_group("ray")
def test_a_sweep_on_ray_gives_the_cells_of_one_in_process(tmp_path, capsys, local_ray):
    sets = ["--set", "field.seed=1,2", *TINY]
    code, stdout, err = afx(capsys, "sweep", DEMO, *sets, "-o", tmp_path / "ray", "--ray")
    assert code == 0, err
    assert "on Ray: 2 workers" in stdout and "2 rendered" in stdout
    assert local_ray.is_initialized()                     # the runner used the running Ray
    code, _, err = afx(capsys, "sweep", DEMO, *sets, "-o", tmp_path / "here")
    assert code == 0, err
    for name in ("001.png", "002.png"):     # float32 on a CPU: not bit-identical across
        a = read_png(tmp_path / "ray" / "cells" / name).astype(int)    # processes (a worker
        b = read_png(tmp_path / "here" / "cells" / name).astype(int)   # runs one thread)
        assert np.abs(a - b).mean() < 0.5
    assert len(thumbnails(read_png(tmp_path / "ray" / "contact.png"))) == 2


def test_ray_address_that_is_a_file_is_explained(tmp_path):
    r = run_afx("sweep", DEMO, "--set", "field.seed=1,2", "-o", tmp_path / "s", "--ray", DEMO)
    assert r.returncode == 2 and r.stderr.startswith("error: --ray:") and "file" in r.stderr
