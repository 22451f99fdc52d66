import numpy as np
import pytest
import torch
import torch.nn.functional as F

from afx_graph import Executor, Graph, Plan, Registry, RenderSettings, call_node, loads
from afx_graph.context import FrameContext
from afx_graph.nodes import patterns as P

SIZE = (64, 48)
GENERATORS = {"fractal": P.Fractal, "organic": P.Organic, "flowing": P.Flowing,
              "geometric": P.Geometric, "auto": P.Auto}


def ctx(frames, size=SIZE, fps=30.0):
    return FrameContext(RenderSettings(size, fps, 60.0), torch.device("cpu"), torch.float32,
                        None, np.asarray(frames, dtype=np.int64), 1800)


def params(name, **kw):
    cls = GENERATORS[name]
    p = {n: q.default for n, q in cls.spec.params.items()}
    p.update({n: None for n in cls.spec.inputs})
    p.update(kw)
    return p


def render(name, frames, size=SIZE, node=None, fps=30.0, **kw):
    """The node's image for these frames (a fresh node unless one is given)."""
    node = node or GENERATORS[name]()
    return call_node(node, ctx(frames, size, fps), **params(name, **kw))["image"]


def T(*values):
    return torch.tensor(values, dtype=torch.float32)


def luma(img):
    return img @ torch.tensor([0.299, 0.587, 0.114])


def corr(a, b):
    a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
    return float((a @ b) / (a.norm() * b.norm() + 1e-12))


ALL = list(GENERATORS)


# -- every generator -----------------------------------------------------------------------

def test_registered_with_titles_and_docs():
    reg = Registry().load_builtins()
    for name, cls in GENERATORS.items():
        spec = reg.get(f"pattern.{name}")
        assert spec.cls is cls and spec.category == "Patterns" and spec.rate == "frame"
        assert spec.title and len(spec.title) < 20
        assert all(p.doc for p in spec.params.values()), name
    assert reg.get("pattern.auto").stateful
    for name in ("fractal", "organic", "flowing", "geometric"):
        assert reg.get(f"pattern.{name}").params["palette"].choices == P.PALETTE_NAMES
    lk = reg.get("pattern.fractal").params
    assert all(lk[n].linkable for n in ("zoom", "c_re", "c_im", "iterations", "rotate"))


@pytest.mark.parametrize("name", ALL)
def test_shape_dtype_range_and_not_flat(name):
    img = render(name, [0, 40, 95])
    assert img.shape == (3, 48, 64, 3) and img.dtype == torch.float32
    assert torch.isfinite(img).all() and img.min() >= 0 and img.max() <= 1
    for frame in img:     # a designed picture, not a flat colour (the prototype's grey bug)
        assert luma(frame).std() > 0.05
        assert frame.max() > 0.5


@pytest.mark.parametrize("name", ALL)
def test_finite_at_the_ends_of_every_range(name):
    spec = GENERATORS[name].spec
    for pname, p in spec.params.items():
        if p.type is tuple:
            values = [(p.min,) * len(p.default), (p.max,) * len(p.default)]
        elif p.is_numeric and p.min is not None:
            values = [p.type(p.min), p.type(p.max)]
        elif p.choices:
            values = list(p.choices)
        else:
            continue
        for v in values:
            img = render(name, [0, 45], size=(36, 16), **{pname: v})   # wide: far corners
            assert torch.isfinite(img).all() and img.min() >= 0 and img.max() <= 1, (pname, v)


@pytest.mark.parametrize("name", ALL)
def test_deterministic(name):
    torch.testing.assert_close(render(name, [7, 300]), render(name, [7, 300]), atol=0, rtol=0)


@pytest.mark.parametrize("name", ["organic", "flowing", "geometric"])
def test_seed_picks_the_layout(name):
    assert (render(name, [30], seed=1) - render(name, [30], seed=2)).abs().mean() > 0.02


@pytest.mark.parametrize("name", ALL)
def test_moves_smoothly_over_time(name):
    a, b, c = render(name, [200, 201, 290])
    step, far = (a - b).abs().mean(), (a - c).abs().mean()
    assert step > 1e-4                 # it moves from one frame to the next...
    assert far > 2 * step              # ...as motion, not as noise that differs every frame


LINKED = {   # per-frame values for the audio params of each generator (6 frames)
    "fractal": dict(zoom=T(1.0, 1.5, 0.8, 2.0, 1.0, 1.2), c_re=T(-0.835, -0.8, -0.7, -0.9, -0.835, -0.75),
                    c_im=T(-0.2321, 0.156, -0.3, 0.1, -0.2, 0.2),
                    iterations=T(48, 20, 64, 33, 1, 48)),
    "organic": dict(energy=T(-1, -0.5, 0, 0.3, 0.7, 1)),
    "flowing": dict(tempo=T(120, 90, 0, 174, 128, 60), bands=torch.linspace(-1, 1, 6 * 8).reshape(6, 8)),
    "geometric": dict(beat=T(1, 0.8, 0.5, 0.2, 0.05, 0), sides=T(6, 6, 5, 3, 8, 6)),
    "auto": dict(energy=T(0.9, 0.9, 0.2, 0.2, -0.8, -0.8), brightness=T(0, 0, 0, 0.8, 0.8, 0),
                 beat=T(1, 0.5, 0.2, 1, 0.5, 0.2), crossfade=0.05, hold=0.0, smoothing=0.0),
}


@pytest.mark.parametrize("name", ALL)
def test_batch_size_invariance(name):
    kw = LINKED[name]
    frames = [10, 11, 12, 13, 14, 15]
    whole = render(name, frames, **kw)
    node = GENERATORS[name]()       # the same node frame after frame: auto keeps its state
    ones = torch.cat([render(name, [f], node=node, **{k: v[i:i + 1] if isinstance(v, torch.Tensor)
                                                       else v for k, v in kw.items()})
                      for i, f in enumerate(frames)])
    torch.testing.assert_close(whole, ones, atol=1e-4, rtol=0)


def pool(img, k):
    return F.avg_pool2d(img.permute(2, 0, 1)[None], k)[0].permute(1, 2, 0)


@pytest.mark.parametrize("name", ALL)
def test_resolution_independent(name):
    """128x128 averaged down to 32x32 matches a 32x32 render (lines keep their weight). A
    fractal's filaments alias when point-sampled at 32 pixels: compare it at 16x16."""
    big = render(name, [120], size=(128, 128))[0]
    small = render(name, [120], size=(32, 32))[0]
    k = 2 if name == "fractal" else 1
    down, small = pool(big, 4 * k), pool(small, k)
    assert corr(luma(down), luma(small)) > (0.8 if k > 1 else 0.9)
    assert (down - small).abs().mean() < 0.05


# -- the audio params move the picture -------------------------------------------------------

def test_linked_tensor_equals_the_literal():
    cases = [("fractal", "zoom", 1.7), ("fractal", "c_re", -0.75), ("fractal", "iterations", 30),
             ("organic", "energy", 0.6), ("flowing", "tempo", 90.0), ("geometric", "beat", 0.7)]
    for name, param, value in cases:
        lit = render(name, [50], **{param: value})
        linked = render(name, [50], **{param: T(value)})
        torch.testing.assert_close(lit, linked, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name,param,low,high", [
    ("fractal", "zoom", 1.0, 3.0),
    ("fractal", "c_re", -0.835, -0.7),
    ("fractal", "c_im", -0.2321, 0.1),
    ("fractal", "iterations", 8, 64),
    ("organic", "energy", -1.0, 1.0),
    ("flowing", "tempo", 60.0, 180.0),
    ("geometric", "beat", 0.0, 1.0),
])
def test_audio_params_change_the_picture(name, param, low, high):
    img = render(name, [150, 150], **{param: T(low, high)})
    assert (img[0] - img[1]).abs().mean() > 0.02


def test_energy_swells_the_cells():
    calm, loud = render("organic", [150, 150], energy=T(-1.0, 1.0))
    assert loud.mean() > calm.mean() * 1.3


def test_bands_modulate_the_waves():
    quiet = render("flowing", [60], bands=torch.full((1, 8), -1.0))
    loud = render("flowing", [60], bands=torch.full((1, 8), 1.0))
    plain = render("flowing", [60])
    assert (quiet - loud).abs().mean() > 0.03
    assert torch.equal(render("flowing", [60], bands=torch.zeros(1, 8)), plain)


def test_tempo_sets_the_pace():
    """Twice the tempo covers the same motion in half the time; 0 (no beat) counts as 120."""
    torch.testing.assert_close(render("flowing", [60], tempo=240.0), render("flowing", [120], tempo=120.0),
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(render("flowing", [60], tempo=0.0), render("flowing", [60], tempo=120.0))


def test_beat_snaps_a_whole_step():
    """On the beat the shapes kick; once the pulse has decayed they have turned one whole
    symmetry step, which looks the same as no step: no jump between beats."""
    on, off = render("geometric", [90, 90], beat=T(1.0, 0.0))
    assert (on - off).abs().mean() > 0.03
    still = render("geometric", [90], beat=0.0, rotation=0.0)
    decayed = render("geometric", [90], beat=1e-6, rotation=0.0)
    torch.testing.assert_close(still, decayed, atol=2e-3, rtol=0)


def test_fractal_iterations_per_frame_and_modes():
    few, many = render("fractal", [0, 0], iterations=T(4, 64))
    assert (few - many).abs().mean() > 0.02
    mandel = render("fractal", [0], mode="mandelbrot")[0]
    julia = render("fractal", [0])[0]
    assert (mandel - julia).abs().mean() > 0.05
    # the main cardioid of the Mandelbrot set is bounded: dark at the centre of its view
    assert mandel[24, 32 + 6].max() < 0.3


# -- pattern.auto ----------------------------------------------------------------------------

RULE = dict(high_energy=0.4, high_brightness=0.4, low_energy=-0.3, hysteresis=0.0)


def test_rule():
    assert P.choose(0.8, 0.9, None, **RULE) == P.GEOMETRIC      # high energy wins
    assert P.choose(0.0, 0.8, None, **RULE) == P.FRACTAL
    assert P.choose(0.0, 0.0, None, **RULE) == P.FLOWING
    assert P.choose(-0.8, 0.0, None, **RULE) == P.ORGANIC
    assert P.choose(-0.8, 0.8, None, **RULE) == P.FRACTAL       # brightness over low energy


def run_auto(energy, brightness=None, node=None, batch=None, **kw):
    """Choices and images of pattern.auto over a sequence (one frame per value)."""
    n = len(energy)
    brightness = brightness if brightness is not None else [0.0] * n
    node = node or P.Auto()
    batch = batch or n
    kw = {"crossfade": 0.0, "hold": 0.0, "smoothing": 0.0, "hysteresis": 0.0, **kw}
    choices, images = [], []
    for s in range(0, n, batch):
        sl = slice(s, min(n, s + batch))
        out = call_node(node, ctx(list(range(s, sl.stop)), size=(16, 12)),
                        **params("auto", energy=torch.tensor(energy[sl], dtype=torch.float32),
                                 brightness=torch.tensor(brightness[sl], dtype=torch.float32), **kw))
        choices += out["choice"].tolist()
        images.append(out["image"])
    return choices, torch.cat(images)


def test_auto_follows_the_rule():
    e = [0.8] * 3 + [0.0] * 3 + [-0.8] * 3 + [0.0] * 3
    b = [0.0] * 3 + [0.0] * 3 + [0.0] * 3 + [0.9] * 3
    choices, _ = run_auto(e, b)
    assert choices == [3] * 3 + [2] * 3 + [1] * 3 + [0] * 3


def test_auto_image_is_the_chosen_generator():
    _, img = run_auto([-0.8, -0.8])
    alone = render("organic", [0, 1], size=(16, 12), energy=T(-0.8, -0.8), palette="neon")
    torch.testing.assert_close(img, alone, atol=1e-6, rtol=0)


def test_auto_crossfades_instead_of_cutting():
    node = P.Auto()
    n = 30                                  # one second at 30 fps; a 0.5 s crossfade
    choices, img = run_auto([0.8] * 5 + [-0.8] * (n - 5), node=node, crossfade=0.5)
    assert choices[0] == 3 and choices[-1] == 1
    w = []
    node.reset()
    for i, e in enumerate([0.8] * 5 + [-0.8] * (n - 5)):
        w.append(node.step(i, 30.0, e, 0.0, smoothing=0.0, crossfade=0.5, hold=0.0, **RULE))
    w = np.array(w)
    organic = w[:, P.ORGANIC]
    assert organic[4] == 0 and organic[-1] == 1
    ramp = organic[5:21]
    assert np.all(np.diff(ramp) > 0) and 0.4 < organic[12] < 0.6    # halfway at 0.25 s
    assert np.allclose(w.sum(axis=1), 1)
    # the images pass through blends: never equal to either end between the switch and the end
    mid = img[12]
    assert (mid - img[0]).abs().mean() > 0.02 and (mid - img[-1]).abs().mean() > 0.02


def test_auto_hysteresis_stops_flapping():
    jitter = [0.38, 0.45, 0.36, 0.43, 0.39, 0.44, 0.37, 0.42] * 3   # around high_energy=0.4
    raw, _ = run_auto(jitter)
    assert sum(a != b for a, b in zip(raw, raw[1:])) > 10            # without: it flaps
    steady, _ = run_auto(jitter, hysteresis=0.1)
    assert len(set(steady)) == 1
    # a clear move past the threshold still switches
    moved, _ = run_auto([0.0] * 5 + [0.8] * 5, hysteresis=0.1)
    assert moved[0] == 2 and moved[-1] == 3


def test_auto_hold_and_smoothing():
    pulse = [0.8, -0.8] * 10            # loud and quiet on alternate frames: beats, not sections
    flapping, _ = run_auto(pulse)
    assert len(set(flapping)) == 2
    held, _ = run_auto(pulse, hold=1.0)
    assert sum(a != b for a, b in zip(held, held[1:])) == 0          # 20 frames < 1 s
    smooth, _ = run_auto(pulse, smoothing=1.0)
    assert len(set(smooth[1:])) == 1


def test_auto_reset_restores_the_initial_state():
    node = P.Auto()
    first, img1 = run_auto([0.8] * 4 + [-0.8] * 8, node=node, crossfade=0.3)
    node.reset()
    again, img2 = run_auto([0.8] * 4 + [-0.8] * 8, node=node, crossfade=0.3)
    assert first == again
    torch.testing.assert_close(img1, img2, atol=0, rtol=0)


def test_auto_state_is_batch_invariant():
    e = [0.8] * 7 + [0.0] * 9 + [-0.8] * 8
    b = [0.0] * 16 + [0.9] * 8
    kw = dict(crossfade=0.2, hold=0.1, hysteresis=0.1, smoothing=0.1)
    c1, i1 = run_auto(e, b, batch=24, **kw)
    c2, i2 = run_auto(e, b, batch=5, **kw)
    c3, i3 = run_auto(e, b, batch=1, **kw)
    assert c1 == c2 == c3 and len(set(c1)) >= 3
    torch.testing.assert_close(i1, i2, atol=1e-4, rtol=0)
    torch.testing.assert_close(i1, i3, atol=1e-4, rtol=0)


def test_auto_renders_only_visible_looks(monkeypatch):
    calls = []
    original = P.RENDERERS

    def spy(i, fn):
        def wrapped(c, **kw):
            calls.append((i, len(c.frames)))
            return fn(c, **kw)
        return wrapped

    monkeypatch.setattr(P, "RENDERERS", tuple(spy(i, f) for i, f in enumerate(original)))
    run_auto([-0.8] * 6)
    assert calls == [(P.ORGANIC, 6)]


# -- through the real engine -----------------------------------------------------------------

PATCH = """\
afx: 1
settings: {size: [48, 32], fps: 10, duration: 4}
nodes:
  music: {type: audio.synth, params: {tempo: 120, seed: 3, length: 4}}
  spectrum: {type: features.spectrum, inputs: {audio: music.audio}}
  cells:
    type: pattern.organic
    inputs: {energy: spectrum.rms}
  auto:
    type: pattern.auto
    params: {smoothing: 0.0, hold: 0.0, crossfade: 0.2}
    inputs: {energy: spectrum.rms, brightness: spectrum.centroid, bands: spectrum.band_levels}
"""


def test_patterns_run_in_the_executor_driven_by_features():
    reg = Registry().load_builtins()
    g = Graph.from_patch(loads(PATCH), reg)
    g.check()
    plan = Plan(g, targets=["cells", "auto"])
    assert plan.rate["cells"] == "frame" and plan.rate["auto"] == "frame"
    ex = Executor(g, device="cpu")
    st = g.render_settings()
    static = ex.evaluate_static(plan, st)
    rms = static["spectrum"]["rms"].values[:, 0]
    ex.reset(plan)
    cells, choices = [], []
    for s in range(0, 40, 16):
        v = ex.evaluate_frames(plan, st, np.arange(s, min(40, s + 16)), static, 40)
        cells.append(v["cells"]["image"])
        choices += v["auto"]["choice"].tolist()
        assert v["auto"]["image"].shape == (len(v["auto"]["choice"]), 32, 48, 3)
    cells = torch.cat(cells)
    assert cells.shape == (40, 32, 48, 3) and torch.isfinite(cells).all()
    # the linked feature drives it: louder frames show more (bigger) cells than quieter ones
    loud, quiet = int(np.argmax(rms[:40])), int(np.argmin(rms[:40]))
    assert rms[loud] - rms[quiet] > 0.5
    # the same frames with the energy held at the quiet level differ at the loud frame
    lit = render("organic", [loud], size=(48, 32), fps=10.0, energy=float(rms[quiet]))
    assert (cells[loud] - lit[0]).abs().mean() > 0.01
    assert set(choices) <= {0.0, 1.0, 2.0, 3.0} and len(set(choices)) >= 2
    # a second render after reset gives the same choices (state restored)
    ex.reset(plan)
    again = []
    for s in range(0, 40, 7):
        again += ex.evaluate_frames(plan, st, np.arange(s, min(40, s + 7)), static, 40)["auto"]["choice"].tolist()
    assert again == choices
