"""Fitting a look from the editor, without a display (``afx_graph.ui.fitting``): the fit
runs afx fit's code on a thread, reports its steps, writes the look file beside the patch,
and the patch gets a field.look node reading it as one undo step; Cancel and bad images
leave nothing behind. Images are made here (32x32, 60 steps: a second or two)."""
from __future__ import annotations

import numpy as np
import pytest

from afx_graph.looks.fitted import load_look
from afx_graph.media.png import write_png
from afx_graph.ui.fitting import FitJob, apply_look, default_look_path


def image(path, seed: int):
    y, x = np.mgrid[0:32, 0:32] / 32
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(1, 6, 3)
    img = np.stack([np.sin(a * x + b * y), np.cos(b * x * y * 4), np.sin(c * (x - y))], -1)
    write_png(path, ((img * 0.5 + 0.5) * 255).astype(np.uint8))
    return path


@pytest.fixture(autouse=True)
def _one_thread():
    """As in the editor (it leaves a core to the window): torch's threads busy-wait for each
    other, and on a busy 2-core machine a tiny fit with two of them crawled."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def two(tmp_path):
    (tmp_path / "pics").mkdir()
    return [image(tmp_path / "pics" / "dawn.png", 1), image(tmp_path / "pics" / "dusk.png", 2)]


@pytest.fixture
def saved(controller, tmp_path):
    controller.save(tmp_path / "patch.yaml")
    return controller


def files(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_a_fit_writes_the_look_beside_the_patch_and_adds_a_node(saved, two, tmp_path):
    c = saved
    out = default_look_path(c.graph.base_dir, two)
    assert out == tmp_path / "looks" / "dawn.safetensors"
    seen = []
    job = FitJob(two, out, steps=60, size=32, device="cpu", on_progress=seen.append).start()
    assert job.wait(120) and job.error is None, job.error
    assert [p.step for p in seen] == list(range(1, 61)) and seen[-1].fraction == 1.0
    assert all(p.steps == 60 and np.isfinite(p.psnr) for p in seen)
    look = load_look(out)
    assert [i.name for i in look.images] == ["dawn.png", "dusk.png"]
    assert [i.psnr for i in look.images] == pytest.approx([i.psnr for i in job.result.look.images],
                                                          abs=0.01)
    # the default never names an existing file
    assert default_look_path(c.graph.base_dir, two).name == "dawn-2.safetensors"

    nid, added = apply_look(c, out)
    assert added and c.graph.nodes[nid].type == "field.look"
    assert c.graph.nodes[nid].params == {"path": "looks/dawn.safetensors"}
    assert not [i for i in c.graph.validate() if i.node == nid]       # the file is found
    assert c.undo_label == f"add {nid}"
    c.undo()
    assert nid not in c.graph.nodes and not c.dirty

    # a selected field.look node gets the path instead (one undo step too)
    old = c.add_node("field.look", params={"path": "old.safetensors"})
    assert apply_look(c, out, target=old) == (old, False)
    assert c.graph.nodes[old].params["path"] == "looks/dawn.safetensors"
    assert list(c.graph.nodes) == [old]
    c.undo()
    assert c.graph.nodes[old].params["path"] == "old.safetensors"


def test_cancel_leaves_no_file_and_no_folder(saved, two, tmp_path):
    before = files(tmp_path)
    job = FitJob(two, tmp_path / "looks" / "x.safetensors", steps=100_000, size=32, device="cpu")
    job.on_progress = lambda p: job.cancel() if p.step >= 3 else None
    job.start()
    assert job.wait(120)
    assert job.cancelled and job.result is None and "nothing was written" in job.error
    assert job.progress.step < 10
    assert files(tmp_path) == before          # no look, no partial file, no looks/ folder


def test_a_bad_image_is_named_and_an_existing_look_is_kept(saved, two, tmp_path):
    notes = tmp_path / "pics" / "notes.png"
    notes.write_text("not a picture\n" * 20)
    before = files(tmp_path)
    job = FitJob([two[0], notes], tmp_path / "looks" / "x.safetensors", steps=60, size=32,
                 device="cpu").start()
    assert job.wait(120) and job.result is None
    assert "notes.png" in job.error and "not an image" in job.error
    assert files(tmp_path) == before
    kept = tmp_path / "kept.safetensors"
    kept.write_bytes(b"mine")
    job = FitJob(two, kept, steps=5, size=32, device="cpu").start()
    assert job.wait(120) and job.result is None
    assert "look file" in job.error and "already exists" in job.error
    assert kept.read_bytes() == b"mine"
