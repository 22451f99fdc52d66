"""afx fit and field.look (issue 11, part 2): a look fitted to generated images reproduces
them, round-trips through its file, morphs between keyframes, and the command guards its
inputs and outputs like afx run. Images are made here and written as PNG with PyAV."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from afx_graph import RenderSettings, call_node
from afx_graph.context import FrameContext
from afx_graph.errors import NodeInputError
from afx_graph.looks.fitted import Look, Renderer, fit_look, load_look
from afx_graph.nodes.look import FittedLook
from afx_graph.media.png import write_png
from afxcli import run_afx


def picture(size: int, seed: int) -> np.ndarray:
    """A photo-like picture: a smooth sky gradient, a soft sun, a hill with 1/f texture,
    a house with sharp (anti-aliased) edges. (size, size, 3) uint8."""
    rng = np.random.default_rng(seed)
    s = 2 * size
    y, x = np.mgrid[0:s, 0:s] / s
    sky = np.stack([0.3 + 0.5 * y, 0.5 + 0.3 * y, 0.95 - 0.4 * y], -1)
    cx, cy = rng.uniform(0.2, 0.8, 2) * [1, 0.5]
    sky += np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.01)[..., None] * [0.6, 0.5, 0.2]
    f = np.hypot(np.fft.fftfreq(s)[:, None], np.fft.fftfreq(s)[None, :])
    f[0, 0] = 1
    tex = np.real(np.fft.ifft2((rng.standard_normal((s, s)) + 1j * rng.standard_normal((s, s))) / f))
    tex /= tex.std()
    hill = y > 0.6 + 0.08 * np.sin(7 * x + rng.uniform(0, 6))
    ground = np.array(rng.uniform(0.1, 0.6, 3)) * (1 + 0.2 * tex[..., None])
    img = np.where(hill[..., None], ground, sky)
    hx = rng.uniform(0.15, 0.6)
    house = (x > hx) & (x < hx + 0.25) & (y > 0.45) & (y < 0.7)
    img = np.where(house[..., None], rng.uniform(0.4, 1.0, 3), img)
    img = img.reshape(size, 2, size, 2, 3).mean((1, 3))
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) / 255 - b.astype(np.float64) / 255) ** 2)
    return 10 * math.log10(1 / mse) if mse > 0 else math.inf


def ctx(size, frames=1):
    return FrameContext(RenderSettings(size, 30.0, 10.0), torch.device("cpu"), torch.float32,
                        None, frames=np.arange(frames))


def run_look(c, **given):
    """field.look's process with every argument not given at its default."""
    args = {"coords": None, "latent": None}
    args.update({name: p.default for name, p in FittedLook.spec.params.items()})
    args.update(given)
    return call_node(FittedLook(), c, **args)


def render_node(path, size, **params) -> np.ndarray:
    """field.look run by hand as the executor would: (B, H, W, 3) uint8."""
    frames = 1
    for v in params.values():
        if isinstance(v, (list, np.ndarray)):
            frames = len(v)
    params = {k: torch.tensor(np.asarray(v, dtype=np.float32)) if isinstance(v, (list, np.ndarray))
              else v for k, v in params.items()}
    out = run_look(ctx(size, frames), path=str(path), **params)["image"]
    assert out.shape == (frames, size[1], size[0], 3)
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    return (out.numpy() * 255 + 0.5).astype(np.uint8)


@pytest.fixture(scope="module")
def two_keys(tmp_path_factory):
    """Two generated keyframes fitted into one look file (32x32, a few hundred steps)."""
    folder = tmp_path_factory.mktemp("look")
    images = [picture(32, 1), picture(32, 2)]
    look = fit_look(images, ["a.png", "b.png"], steps=400, seed=3)
    path = folder / "two.safetensors"
    path.write_bytes(look.to_bytes())
    return images, look, path


def test_fit_reaches_a_psnr_floor_within_a_step_budget():
    """64x64: more pixels than one step's batch, so this is the random-batch path of a real
    fit (measured 45 dB at 300 steps)."""
    img = picture(64, 0)
    seen = []
    look = fit_look([img], ["p.png"], steps=300, seed=0, on_progress=seen.append)
    assert len(seen) == 300 and seen[-1].step == 300 and seen[-1].fraction == 1.0
    assert seen[-1].psnr > seen[0].psnr + 10            # the progress line's estimate rises
    info = look.images[0]
    assert (info.width, info.height) == (64, 64)
    assert info.psnr >= 35, info.psnr
    assert look.info["steps"] == 300


def test_a_high_learning_rate_does_not_wreck_the_fit():
    """Five times the default rate: the warm-up and the step back from a blow-up keep it
    (without them it stuck at 16 dB)."""
    look = fit_look([picture(64, 0)], ["p.png"], steps=300, seed=0, lr=1e-2)
    assert look.images[0].psnr >= 30, look.images[0].psnr


def test_fit_is_deterministic_for_a_seed():
    img = picture(16, 4)
    a = fit_look([img], ["p"], steps=20, seed=5).tensors
    b = fit_look([img], ["p"], steps=20, seed=5).tensors
    c = fit_look([img], ["p"], steps=20, seed=6).tensors
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["layer1.weight"], c["layer1.weight"])


def test_morph_0_and_1_reproduce_the_keyframes(two_keys):
    images, look, path = two_keys
    assert all(i.psnr >= 28 for i in look.images), [i.psnr for i in look.images]
    frames = render_node(path, (32, 32), morph=[0.0, 1.0, 0.5])
    assert psnr(frames[0], images[0]) >= 28
    assert psnr(frames[1], images[1]) >= 28
    assert psnr(frames[0], images[1]) < 20           # the two keyframes are different pictures
    mid = frames[2]                                   # half way: neither keyframe
    assert psnr(mid, images[0]) < psnr(frames[0], images[0]) - 5
    assert psnr(mid, images[1]) < psnr(frames[1], images[1]) - 5


def test_a_look_file_round_trips(two_keys, tmp_path):
    images, look, path = two_keys
    loaded = load_look(path)
    assert [(i.name, i.width, i.height) for i in loaded.images] == [("a.png", 32, 32), ("b.png", 32, 32)]
    assert all(abs(i.psnr - j.psnr) < 0.01 for i, j in zip(loaded.images, look.images))
    assert all(torch.equal(loaded.tensors[k], look.tensors[k]) for k in look.tensors)
    from afx_graph import __version__
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    assert meta["architecture"] == "siren-shift" and meta["afx_version"] == __version__
    assert meta["width"] == "64" and meta["layers"] == "4"
    # the node renders the same frame as the look it was saved from
    grid = torch.from_numpy(np.stack(np.meshgrid((np.arange(40) + 0.5 - 20) / 30,
                                                 (np.arange(30) + 0.5 - 15) / 30), -1)
                            .reshape(-1, 2).astype(np.float32))
    direct = Renderer(look, torch.device("cpu")).render(grid, torch.tensor([0.25]))
    via_node = render_node(path, (40, 30), morph=[0.25])
    assert np.array_equal(via_node[0], (direct.view(30, 40, 3).numpy() * 255 + 0.5).astype(np.uint8))
    # saving what was loaded gives the same tensors again
    again = tmp_path / "again.safetensors"
    again.write_bytes(loaded.to_bytes())
    assert all(torch.equal(load_look(again).tensors[k], look.tensors[k]) for k in look.tensors)


def test_the_node_renders_any_size_and_audio_moves_it_without_losing_it(two_keys):
    images, look, path = two_keys
    wide = render_node(path, (64, 32), morph=[0.0])[0]
    # aspect-correct and centred: the middle 32x32 of a 64x32 frame is the picture, scaled
    centre = wide[:, 16:48]
    assert psnr(centre, images[0]) >= 24
    assert np.array_equal(wide[:, 15::-1], wide[:, 16:32])      # mirrored beyond its edge
    base = render_node(path, (32, 32), morph=[0.0])[0]
    zoomed = render_node(path, (32, 32), morph=[0.0], zoom=[2.0])[0]
    assert psnr(zoomed, base) < 25
    turned = render_node(path, (32, 32), morph=[0.0], hue=[120.0])[0].astype(float)
    grey = base.astype(float).mean(-1)
    assert abs(turned.mean(-1) - grey).mean() < 3              # brightness kept, colours turned
    assert np.abs(turned - base).mean() > 10
    feats = torch.tensor([[1.0, -0.5, 0.3, 0.8, -1.0, 0.2, 0.0, 0.6]])
    pushed = run_look(ctx((32, 32)), path=str(path), latent=feats, push=0.5)["image"][0]
    pushed = pushed.numpy() * 255
    change = np.abs(pushed - base).mean()
    assert 1 < change < 40, change                             # it moves ...
    corr = np.corrcoef(pushed.mean(-1).ravel(), base.mean(-1).ravel())[0, 1]
    assert corr > 0.8, corr                                    # ... and keeps its structure


def test_bad_look_files_name_the_path_field(tmp_path, two_keys):
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(two_keys[2].read_bytes()[:-100])
    cases = {"missing.safetensors": "not found", "other.safetensors": "not an afx look",
             "junk.safetensors": "not a safetensors file", "empty.safetensors": "empty",
             "cut.safetensors": "damaged", "": "no look file"}
    for name, words in cases.items():
        with pytest.raises(NodeInputError) as e:
            render_node(tmp_path / name if name else "", (8, 8))
        assert e.value.issue.field == "path" and words in str(e.value), (name, str(e.value))


def test_a_patch_reads_its_look_beside_it(two_keys, tmp_path):
    """A relative path is read from the patch's folder; morph linked to an LFO moves it."""
    from afx_graph import Executor, Plan, default_registry, load_graph
    images, _, path = two_keys
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "look.safetensors").write_bytes(path.read_bytes())
    (folder / "p.yaml").write_text(
        "afx: 1\nsettings: {size: [32, 32], fps: 10, duration: 0.3}\nnodes:\n"
        "  lfo: {type: math.lfo, params: {rate: 1.0}}\n"
        "  look: {type: field.look, params: {path: look.safetensors}, inputs: {morph: lfo.out}}\n"
        "  out: {type: output.frames, params: {path: frames}, inputs: {image: look.image}}\n")
    g = load_graph(folder / "p.yaml", default_registry())
    g.check()
    ex = Executor(g, device="cpu", out_dir=tmp_path)
    run = ex.prepare(Plan(g, ["look"]), g.render_settings())
    got = [(values["look"]["image"].numpy() * 255 + 0.5).astype(np.uint8)
           for _, values in ex.frames(run, batch=3)]
    frames = np.concatenate(got)
    assert frames.shape == (3, 32, 32, 3)
    # morph 0.5, 0.79, 0.98: on the way from the first keyframe to the second
    assert psnr(frames[2], images[1]) >= 24
    assert psnr(frames[0], images[1]) < psnr(frames[2], images[1]) - 3


# --------------------------------------------------------------------------------------
# the command, run as a user would
# --------------------------------------------------------------------------------------

def test_the_command_fits_and_refuses_to_overwrite(tmp_path):
    write_png(tmp_path / "a.png", picture(48, 1))
    write_png(tmp_path / "b.png", picture(40, 2))
    out = tmp_path / "look.safetensors"
    r = run_afx("fit", "a.png", "b.png", "-o", out.name, "--size", "24", "--steps", "60",
                "--seed", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "look.safetensors" in r.stdout and "dB" in r.stdout and r.stderr == ""
    look = load_look(out)
    assert [(i.name, i.width, i.height) for i in look.images] == [("a.png", 24, 24), ("b.png", 24, 24)]
    before = out.read_bytes()
    r = run_afx("fit", "a.png", "-o", out.name, "--steps", "5", cwd=tmp_path)
    assert r.returncode == 2 and "already exists" in r.stderr and "--force" in r.stderr
    assert "Traceback" not in r.stderr and out.read_bytes() == before
    r = run_afx("fit", "a.png", "-o", out.name, "--size", "16", "--steps", "5", "--force",
                "--quiet", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    assert len(load_look(out).images) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "look.safetensors"]


def test_the_command_reports_bad_input_with_exit_2(tmp_path, capsys, monkeypatch):
    write_png(tmp_path / "a.png", picture(16, 1))
    (tmp_path / "notes.txt").write_text("not a picture\n" * 20)
    (tmp_path / "song.wav").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    as_user = [     # in a process of its own, as a user runs it
        (["missing.png", "-o", "x.safetensors"], "missing.png: file not found"),
        (["a.png", "-o", "x.safetensors", "--size", "100000"], "--size"),
        (["a.png", "-o", "no/such/folder/x.safetensors"], "does not exist"),
    ]
    for args, words in as_user:
        r = run_afx("fit", *args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("error: ") and words in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    from afx_graph.cli import main
    in_process = [  # the same entry point, called in this process (quicker)
        (["notes.txt", "-o", "x.safetensors"], "notes.txt: not an image"),
        (["song.wav", "-o", "x.safetensors"], "song.wav: the file is empty"),
        ([".", "-o", "x.safetensors"], "a folder"),
        (["a.png", "-o", "x.safetensors", "--size", "2"], "--size"),
        (["a.png", "-o", "x.safetensors", "--steps", "0"], "--steps"),
        (["a.png", "-o", "x.safetensors", "--time-budget", "-1"], "--time-budget"),
        (["a.png", "-o", "x.safetensors", "--time-budget", "nan"], "--time-budget"),
        (["a.png", "-o", "x.png"], ".safetensors"),
        (["a.png", "-o", "."], ".safetensors"),
    ]
    for args, words in in_process:
        assert main(["fit", *args]) == 2, args
        err = capsys.readouterr().err
        assert "error: " in err and words in err and "Traceback" not in err, (args, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "notes.txt", "song.wav"]
