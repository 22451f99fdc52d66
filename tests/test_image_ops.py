"""Image operators (nodes/image.py): maths on tiny images, and whole renders through the real
executor for batch invariance and the stateful feedback trail."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from afx_graph import (IMAGE, VECTOR, Executor, Graph, In, Out, Plan, Registry, RenderSettings,
                       call_node, loads, node)
from afx_graph.context import FrameContext
from afx_graph.nodes import image as im
from afx_graph.nodes import palettes
import graphkit
from graphkit import render

# -- helpers --------------------------------------------------------------------------------


@node("t.card", category="Test", rate="frame")
class Card:
    """Test card: a colour gradient under a checkerboard that slides one pixel per frame."""
    out = Out(IMAGE)

    def process(self, ctx):
        h, w = ctx.height, ctx.width
        f = torch.as_tensor(ctx.frames, dtype=torch.float32).view(-1, 1, 1)
        y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                              torch.arange(w, dtype=torch.float32), indexing="ij")
        check = (torch.floor((x + f) / 4) + torch.floor(y / 4)) % 2
        r = (x / w).expand_as(check)
        g = (y / h).expand_as(check)
        return {"out": torch.stack([r, g, 0.2 + 0.6 * check], dim=-1)}


@node("t.still", category="Test")
class Still:
    """A still image (B = 1): a soft diagonal gradient."""
    out = Out(IMAGE)

    def process(self, ctx):
        h, w = ctx.height, ctx.width
        y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
        return {"out": torch.stack([x, 1 - y, (x + y) / 2], dim=-1)[None]}


@node("t.dot", category="Test", rate="frame")
class Dot:
    """Black, with a 2x2 white square at x = 2 + 2 * frame, rows 10-11."""
    out = Out(IMAGE)

    def process(self, ctx):
        img = torch.zeros(ctx.batch, ctx.height, ctx.width, 3)
        for i, f in enumerate(ctx.frames.tolist()):
            x = 2 + 2 * f
            img[i, 10:12, x:x + 2] = 1.0
        return {"out": img}


@node("t.capture", category="Test", rate="frame", sink=True)
class Capture:
    """Keeps every frame (and value) it is given, on the host."""
    image = In(IMAGE, optional=True)
    value = In(VECTOR, optional=True)

    def begin(self, ctx):
        self.images, self.values, self.batches = [], [], []

    def process(self, ctx, image, value):
        self.batches.append(ctx.batch)
        if image is not None:
            self.images.append(image.expand(ctx.batch, -1, -1, -1).float().cpu().clone())
        if value is not None:
            self.values.append(value.expand(ctx.batch, -1).float().cpu().clone())
        return {}

    def finish(self, ctx):
        self.image = torch.cat(self.images) if self.images else None
        self.value = torch.cat(self.values) if self.values else None



HELPERS = [Card, Still, Dot, Capture]


@pytest.fixture(scope="module")
def reg():
    r = Registry().load_builtins()
    r.register_all(HELPERS, source="test")
    return r


def build(reg, nodes, links, *, frames=12, fps=10, size=(32, 24)):
    return graphkit.build(reg, nodes, links, frames=frames, fps=fps, size=size)


def ctx(frames=(0,), size=(32, 24), fps=30.0):
    return FrameContext(RenderSettings(size, fps, 10.0), torch.device("cpu"), torch.float32,
                        None, np.asarray(frames), 300)


def smooth_image(h, w, b=1):
    """A smooth colourful field evaluated at pixel centres (same picture at any size)."""
    x, y = im.pixel_grid(h, w, torch.device("cpu"))
    img = torch.stack([0.5 + 0.4 * torch.sin(9 * x + 2 * y), 0.5 + 0.4 * torch.cos(7 * y - 3 * x),
                       0.5 + 0.4 * torch.sin(5 * (x * x + y * y) * 6)], dim=-1)
    return img.expand(b, -1, -1, -1).contiguous()


def noise(h, w, b=1, seed=0):
    return torch.rand(b, h, w, 3, generator=torch.Generator().manual_seed(seed))


def luma(img):
    """Rec. 709 luma of (B, H, W, 3)."""
    return img[..., 0] * 0.2126 + img[..., 1] * 0.7152 + img[..., 2] * 0.0722


def hf_energy(img):
    return float(((img[:, 1:] - img[:, :-1]) ** 2).mean() + ((img[:, :, 1:] - img[:, :, :-1]) ** 2).mean())


def run(cls, image, c=None, **params):
    spec = cls.spec
    kw = {n: p.default for n, p in spec.params.items()}
    kw.update(params)
    return call_node(cls(), c or ctx(range(max(1, image.shape[0]))), image, **kw)["out"]


# Each image node with its params driven by LFOs: node params, {param: (offset, amplitude)}
DRIVEN = {
    "image.blend": ({"mode": "screen"}, {"amount": (0.5, 0.5)}),
    "image.transform": ({"edge": "wrap"}, {"zoom": (1.2, 0.6), "rotate": (0, 40), "x": (0, 0.3),
                                           "y": (0, 0.2)}),
    "image.kaleidoscope": ({}, {"segments": (6, 4), "rotate": (0, 90), "angle": (0, 30),
                                "zoom": (1, 0.5)}),
    "image.color": ({"palette": "sunset", "palette_mix": 0.5},
                    {"hue": (0, 180), "saturation": (1, 0.8), "contrast": (1, 0.5),
                     "brightness": (1, 0.3), "palette_shift": (0, 1)}),
    "image.blur": ({}, {"radius": (300, 300)}),     # up to ~13 px at 24 px high: both paths
    "image.feedback": ({"zoom": 1.05}, {"decay": (0.8, 0.15), "rotate": (0, 5), "x": (0, 0.05),
                                        "zoom": (1.0, 0.05)}),
}


def driven_graph(reg, type_id, frames=12):
    params, drive = DRIVEN[type_id]
    nodes = {"card": ("t.card", {}), "n": (type_id, params), "sink": ("t.capture", {})}
    links = [("card.out", "n.image" if type_id != "image.blend" else "n.a"),
             ("n.out", "sink.image")]
    if type_id == "image.blend":
        nodes["still"] = ("t.still", {})
        links.append(("still.out", "n.b"))
    for i, (param, (offset, amp)) in enumerate(drive.items()):
        nodes[f"lfo{i}"] = ("math.lfo", {"rate": 0.7 + 0.3 * i, "offset": offset,
                                          "amplitude": amp, "shape": "triangle"})
        links.append((f"lfo{i}.out", f"n.{param}"))
    return build(reg, nodes, links, frames=frames)


# -- every operator -------------------------------------------------------------------------


@pytest.mark.parametrize("type_id", list(DRIVEN))
def test_output_shape_range_and_batch_invariance(reg, type_id):
    """Driven by per-frame LFOs: right shape, finite, in [0, 1]; a batch of 8 gives the same
    frames as 8 batches of 1; two renders give the same video."""
    one = render(driven_graph(reg, type_id), batch=1).image
    assert one.shape == (12, 24, 32, 3) and one.dtype == torch.float32
    assert torch.isfinite(one).all() and one.min() >= 0 and one.max() <= 1
    assert (one[0] - one[-1]).abs().mean() > 0.01            # it moves
    eight = render(driven_graph(reg, type_id), batch=8)
    assert eight.batches == [8, 4]
    torch.testing.assert_close(eight.image, one, atol=1e-5, rtol=0)
    again = render(driven_graph(reg, type_id), batch=5).image
    torch.testing.assert_close(again, one, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cls", [im.Blend, im.Transform, im.Kaleidoscope, im.Color, im.Blur])
def test_still_image_with_a_per_frame_param_becomes_a_batch(cls):
    still = smooth_image(24, 32)
    name = {im.Blend: "amount", im.Transform: "rotate", im.Kaleidoscope: "rotate",
            im.Color: "hue", im.Blur: "radius"}[cls]
    v = torch.tensor([0.2, 45.0, 90.0]) if name != "amount" else torch.tensor([0.0, 0.5, 1.0])
    c = ctx([0, 1, 2])
    if cls is im.Blend:
        out = call_node(cls(), c, still, 1 - still, "mix", v)["out"]
    else:
        out = run(cls, still, c, **{name: v})
    assert out.shape == (3, 24, 32, 3)
    assert (out[0] - out[2]).abs().mean() > 0.01
    assert torch.isfinite(out).all()


def test_static_patch_runs_once(reg):
    """A still image through unlinked operators is static: computed once per render."""
    g = build(reg, {"still": ("t.still", {}), "k": ("image.kaleidoscope", {}),
                    "b": ("image.blur", {"radius": 40.0}), "c": ("image.color", {"palette": "fire"}),
                    "sink": ("t.capture", {})},
              [("still.out", "k.image"), ("k.out", "b.image"), ("b.out", "c.image"),
               ("c.out", "sink.image")], frames=6)
    plan = Plan(g)
    assert {plan.rate[n] for n in ("k", "b", "c")} == {"static"}
    ex = Executor(g, device="cpu")
    sink = render(g, 4, ex)
    assert ex.calls["b"] == 1 and sink.image.shape == (6, 24, 32, 3)
    assert torch.equal(sink.image[0], sink.image[5])


# -- blend ----------------------------------------------------------------------------------


def test_blend_modes_maths():
    a = torch.full((1, 2, 2, 3), 0.25)
    b = torch.full((1, 2, 2, 3), 0.75)
    want = {"mix": 0.75, "add": 1.0, "subtract": 0.0, "multiply": 0.1875, "screen": 0.8125,
            "overlay": 0.375, "difference": 0.5, "lighten": 0.75, "darken": 0.25}
    for mode, v in want.items():
        out = call_node(im.Blend(), ctx(), a, b, mode, 1.0)["out"]
        torch.testing.assert_close(out, torch.full_like(a, v), msg=mode)
    half = call_node(im.Blend(), ctx(), a, b, "mix", 0.5)["out"]
    torch.testing.assert_close(half, torch.full_like(a, 0.5))
    assert torch.equal(call_node(im.Blend(), ctx(), a, b, "add", 0.0)["out"], a)


def test_blend_resizes_b_and_broadcasts_frames():
    a = smooth_image(24, 32, b=3)
    b = torch.full((1, 12, 16, 3), 0.5)
    out = call_node(im.Blend(), ctx([0, 1, 2]), a, b, "mix", torch.tensor([0.0, 0.5, 1.0]))["out"]
    assert out.shape == (3, 24, 32, 3)
    torch.testing.assert_close(out[0], a[0])
    torch.testing.assert_close(out[2], torch.full_like(a[0], 0.5))


# -- transform ------------------------------------------------------------------------------


def test_transform_identity_and_full_turn():
    img = noise(24, 32)
    assert run(im.Transform, img) is img                       # nothing to do
    same = run(im.Transform, img, zoom=torch.tensor([1.0]), rotate=torch.tensor([360.0]))
    torch.testing.assert_close(same, img, atol=1e-4, rtol=0)


def test_transform_rotates_counter_clockwise():
    img = noise(32, 32)
    out = run(im.Transform, img, rotate=90.0)
    torch.testing.assert_close(out, torch.rot90(img, 1, dims=(1, 2)), atol=1e-4, rtol=0)


def test_transform_translates_in_short_side_units():
    img = noise(32, 48)                                          # short side 32: 0.25 = 8 px
    right = run(im.Transform, img, x=0.25, edge="wrap")
    torch.testing.assert_close(right, torch.roll(img, 8, dims=2), atol=1e-5, rtol=0)
    up = run(im.Transform, img, y=0.25, edge="wrap")
    torch.testing.assert_close(up, torch.roll(img, -8, dims=1), atol=1e-5, rtol=0)


def test_transform_zoom_out_edges():
    img = noise(32, 32)
    small = F.avg_pool2d(img.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)   # 16 x 16
    for edge in im.EDGES:
        out = run(im.Transform, img, zoom=0.5, edge=edge)
        torch.testing.assert_close(out[:, 8:24, 8:24], small, atol=1e-5, rtol=0)
    wrap = run(im.Transform, img, zoom=0.5, edge="wrap")
    torch.testing.assert_close(wrap[:, 0:8, 8:24], small[:, 8:16], atol=1e-5, rtol=0)   # tiled
    reflect = run(im.Transform, img, zoom=0.5, edge="reflect")
    torch.testing.assert_close(reflect[:, 0:8, 8:24], small[:, 0:8].flip(1), atol=1e-5, rtol=0)
    black = run(im.Transform, img, zoom=0.5, edge="black")
    assert black[:, :7].abs().max() == 0 and black[:, :, :7].abs().max() == 0
    clamp = run(im.Transform, img, zoom=0.5, edge="clamp")
    border = img[:, 0, 8:10].mean(dim=1)                         # column 12 samples between 8 and 9
    torch.testing.assert_close(clamp[:, :8, 12], border[:, None].expand(1, 8, 3), atol=1e-5, rtol=0)


def test_transform_wrap_blends_across_the_seam():
    img = torch.zeros(1, 8, 8, 3)
    img[:, :, 0] = 1.0                                           # left column white
    out = run(im.Transform, img, x=-0.5 / 8 * 1, edge="wrap")    # half a pixel left
    # the right-most column now sits half-way between the last column and the (wrapped) first
    torch.testing.assert_close(out[0, :, 7, 0], torch.full((8,), 0.5), atol=1e-5, rtol=0)


# -- kaleidoscope ---------------------------------------------------------------------------


def test_kaleidoscope_is_symmetric_under_its_fold_rotation():
    img = noise(32, 32)
    out = run(im.Kaleidoscope, img, segments=4)
    torch.testing.assert_close(torch.rot90(out, 1, dims=(1, 2)), out, atol=1e-4, rtol=0)
    assert (out - img).abs().mean() > 0.1


def test_kaleidoscope_mirror_axis_and_six_fold_symmetry():
    img = smooth_image(48, 48)
    out = run(im.Kaleidoscope, img, segments=6, angle=20.0)
    torch.testing.assert_close(out.flip(1), out, atol=1e-5, rtol=0)     # mirror in the x axis
    turned = run(im.Transform, out, rotate=60.0)
    x, y = im.pixel_grid(48, 48, torch.device("cpu"))
    disc = (x * x + y * y < 0.4 ** 2)[0]
    assert (turned - out)[0][disc].abs().mean() < 0.01
    not_sym = run(im.Transform, out, rotate=30.0)
    assert (not_sym - out)[0][disc].abs().mean() > 0.03


def test_kaleidoscope_rotate_turns_the_whole_pattern():
    img = smooth_image(48, 48)
    base = run(im.Kaleidoscope, img, segments=5)
    turned = run(im.Kaleidoscope, img, segments=5, rotate=25.0)
    expect = run(im.Transform, base, rotate=25.0)
    x, y = im.pixel_grid(48, 48, torch.device("cpu"))
    disc = (x * x + y * y < 0.4 ** 2)[0]
    assert (turned - expect)[0][disc].abs().mean() < 0.01


# -- colour ---------------------------------------------------------------------------------


def test_hue_full_circle_is_identity():
    img = noise(24, 32)
    assert run(im.Color, img, hue=360.0) is img
    torch.testing.assert_close(run(im.Color, img, hue=torch.tensor([360.0])), img, atol=1e-5, rtol=0)
    torch.testing.assert_close(run(im.Color, img, hue=torch.tensor([-720.0])), img, atol=1e-5, rtol=0)


def test_hue_shift_turns_primaries():
    rgb = torch.tensor([[[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5, 0.5, 0.5]]]])
    out = run(im.Color, rgb, hue=120.0)
    want = torch.tensor([[[[0, 1.0, 0], [0, 0, 1.0], [1.0, 0, 0], [0.5, 0.5, 0.5]]]])
    torch.testing.assert_close(out, want, atol=1e-6, rtol=0)
    yellow = run(im.Color, rgb[:, :, :1], hue=60.0)
    torch.testing.assert_close(yellow, torch.tensor([[[[1.0, 1.0, 0]]]]), atol=1e-6, rtol=0)


def test_saturation_zero_is_grey_and_other_adjustments():
    img = noise(24, 32)
    grey = run(im.Color, img, saturation=0.0)
    assert torch.allclose(grey[..., 0], grey[..., 1]) and torch.allclose(grey[..., 1], grey[..., 2])
    torch.testing.assert_close(grey[..., 0], luma(img))
    assert run(im.Color, img, brightness=0.0).max() == 0
    torch.testing.assert_close(run(im.Color, img, contrast=0.0), torch.full_like(img, 0.5))
    vivid = run(im.Color, img, saturation=2.0)
    assert (vivid - luma(vivid)[..., None]).abs().mean() > (img - luma(img)[..., None]).abs().mean()


def test_palettes_map_luminance_through_a_gradient():
    ramp = torch.linspace(0, 1, 64).view(1, 1, 64, 1).expand(1, 2, 64, 3)
    torch.testing.assert_close(run(im.Color, ramp, palette="grey"), ramp, atol=1e-6, rtol=0)
    assert torch.equal(run(im.Color, ramp, palette="fire", palette_mix=0.0), ramp)
    for name in palettes.GRADIENTS:
        out = run(im.Color, ramp, palette=name)
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
        if name != "rainbow":      # dark to light
            lum = luma(out[0, 0])
            assert (lum[1:] - lum[:-1]).min() >= -1e-6, name
            assert lum[0] < 0.1 and lum[-1] > 0.85, name
    fire = run(im.Color, ramp, palette="fire")
    assert fire[0, 0, 40, 0] > fire[0, 0, 40, 2] + 0.3           # mid tones are red/orange
    # the shift bounces along the gradient with period 2
    torch.testing.assert_close(run(im.Color, ramp, palette="ice", palette_shift=2.0),
                               run(im.Color, ramp, palette="ice"), atol=1e-5, rtol=0)
    half = run(im.Color, ramp, palette="grey", palette_mix=torch.tensor([0.5]))
    torch.testing.assert_close(half, ramp, atol=1e-6, rtol=0)


def test_palettes_take_half_precision_levels_up_to_one():
    """In fp16 (a GPU's default) a level of 1.0 made the table index 4096, one past the end:
    organic_breath crashed in image.color on a GPU. The index is taken in float32."""
    levels = torch.tensor([0.0, 0.25, 0.9999, 1.0], dtype=torch.float16)
    for name in palettes.GRADIENTS:
        mapped = palettes.map_level(levels.view(1, 1, 1, 4), name)
        want = palettes.map_level(levels.float().view(1, 1, 1, 4), name)
        torch.testing.assert_close(mapped.float(), want, atol=2e-3, rtol=0)
        torch.testing.assert_close(palettes.colours(levels, name).float(),
                                   palettes.colours(levels.float(), name), atol=2e-3, rtol=0)


def test_one_palette_vocabulary_for_every_node():
    """Every palette name means the same colours in image.color and in the pattern nodes, and
    a patch saved before the three clashing gradients were renamed keeps its colours."""
    from afx_graph import default_registry, loads
    reg = default_registry()
    names = set(palettes.NAMES)
    assert set(reg.get("image.color").params["palette"].choices) == names | {"none"}
    for t in ("pattern.fractal", "pattern.organic", "pattern.flowing", "pattern.geometric",
              "pattern.auto"):
        assert set(reg.get(t).params["palette"].choices) == names, t
    ramp = torch.linspace(0, 1, 64).view(1, 1, 64, 1).expand(1, 2, 64, 3)
    for name in palettes.COSINE:          # a cosine palette maps a level over one period
        out = run(im.Color, ramp, palette=name)[0, 0]
        want = palettes.colours(torch.linspace(0, 1, 64), name).clamp(0, 1)
        torch.testing.assert_close(out, want, atol=2e-3, rtol=0)
    for name in palettes.GRADIENTS:       # a walked gradient bounces: period 2, continuous
        t = torch.tensor([0.25, 1.75, 2.25])
        c = palettes.colours(t, name)
        torch.testing.assert_close(c[0], c[1], atol=1e-6, rtol=0)
        torch.testing.assert_close(c[0], c[2], atol=1e-6, rtol=0)
    for old, new in palettes.RENAMED.items():
        g = Graph.from_patch(loads(f"afx: 1\nnodes:\n  c: {{type: image.color, params: "
                                   f"{{palette: {old}}}}}\n"), reg)
        assert g.nodes["c"].params["palette"] == new and g.nodes["c"].version == 2
        v2 = Graph.from_patch(loads(f"afx: 1\nnodes:\n  c: {{type: image.color, version: 2, "
                                    f"params: {{palette: {old}}}}}\n"), reg)
        assert v2.nodes["c"].params["palette"] == old        # a v2 patch means the new one
        assert not torch.equal(run(im.Color, ramp, palette=old), run(im.Color, ramp, palette=new))


def test_colour_params_per_frame():
    img = noise(24, 32, b=2)
    out = run(im.Color, img, hue=torch.tensor([0.0, 120.0]), saturation=torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(out[0], img[0], atol=1e-6, rtol=0)
    assert torch.allclose(out[1, ..., 0], out[1, ..., 2])


# -- blur -----------------------------------------------------------------------------------


def test_blur_radius_zero_is_identity():
    img = noise(24, 32, b=2)
    assert torch.equal(run(im.Blur, img, radius=0.0), img)
    assert torch.equal(run(im.Blur, img, radius=torch.tensor([0.0, 0.0])), img)


def test_blur_lowers_high_frequencies_and_keeps_the_mean():
    img = noise(108, 144)                                         # scale 0.1: radius 10 = 1 px
    energies = [hf_energy(img)]
    for r in (5.0, 20.0, 80.0, 250.0):                            # 0.5 .. 25 px (downscaled path)
        out = run(im.Blur, img, radius=r)
        assert out.shape == img.shape
        assert abs(float(out.mean() - img.mean())) < 0.005
        energies.append(hf_energy(out))
    assert all(a > b * 1.5 for a, b in zip(energies, energies[1:])), energies


def test_blur_is_resolution_independent():
    for radius in (45.0, 180.0):               # 1 and 4 px at 24 high (direct and downscaled)
        small = run(im.Blur, smooth_image(48, 64), radius=radius * 2)
        big = run(im.Blur, smooth_image(96, 128), radius=radius * 2)
        down = F.avg_pool2d(big.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
        assert (down - small).abs().mean() < 0.01, radius
        assert (down - small).abs().max() < 0.05, radius


def test_blur_wide_radius_matches_an_exact_gaussian():
    """Wide blurs run on a downscaled copy: close to the full-size Gaussian all over."""
    img = noise(216, 288)
    for sigma in (8.0, 20.0):
        out = run(im.Blur, img, radius=sigma / 0.2)                 # scale 216 / 1080 = 0.2
        exact = im.as_image(im.blur_direct(im.planar(img), sigma))
        assert (out - exact).abs().max() < 0.01
        inner = (out - exact)[:, 60:-60, 60:-60]
        assert inner.abs().mean() < 0.02 * exact.std()


def test_blur_per_frame_radius_is_batch_invariant():
    img = noise(24, 32, b=4)
    radii = torch.tensor([0.0, 90.0, 90.0, 400.0])
    out = run(im.Blur, img, ctx(range(4)), radius=radii)
    for i in range(4):
        one = run(im.Blur, img[i:i + 1], ctx([i]), radius=radii[i:i + 1])
        torch.testing.assert_close(out[i:i + 1], one, atol=1e-6, rtol=0)
    assert torch.equal(out[0], img[0])


# -- feedback -------------------------------------------------------------------------------

FEEDBACK = """\
afx: 1
settings: {size: [32, 24], fps: 30, duration: 0.5}
nodes:
  dot: {type: t.dot}
  fb: {type: image.feedback, params: {decay: 0.8, zoom: 1.0, mode: max}, inputs: {image: dot.out}}
  sink: {type: t.capture, inputs: {image: fb.out}}
"""


def feedback_graph(reg, text=FEEDBACK):
    g = Graph.from_patch(loads(text), reg)
    g.check()
    return g


def test_feedback_leaves_a_decaying_trail(reg):
    out = render(feedback_graph(reg), batch=4).image               # 15 frames
    assert out.shape == (15, 24, 32, 3)
    last = out[-1, 10, :, 0]                                       # the dot's row, red channel
    # frame 14 shows the dot at x = 30 and, k frames back, at 30 - 2k with brightness 0.8^k
    for k in range(0, 14):
        x = 30 - 2 * k
        torch.testing.assert_close(last[x], torch.tensor(0.8 ** k), atol=1e-5, rtol=0)
    assert out[-1, :8].max() == 0 and out[-1, 14:].max() == 0     # nothing off the path


def test_feedback_is_batch_invariant_across_boundaries(reg):
    text = FEEDBACK.replace("{decay: 0.8, zoom: 1.0, mode: max}",
                            "{decay: 0.9, zoom: 1.07, rotate: 4, x: 0.01, mode: add, edge: reflect}")
    one = render(feedback_graph(reg, text), batch=1).image
    for batch in (3, 8, 15):
        torch.testing.assert_close(render(feedback_graph(reg, text), batch=batch).image, one,
                                   atol=1e-6, rtol=0)
    assert (one[-1] > 0).float().mean() > (one[0] > 0).float().mean() * 3   # the trail spreads


def test_feedback_resets_at_every_render(reg):
    g = feedback_graph(reg)
    ex = Executor(g, device="cpu")
    first = render(g, 4, ex).image
    second = render(g, 4, ex).image
    assert torch.equal(first, second)
    # without the reset the second render would start from the first one's last frame
    inst = ex.instance("fb")
    c = ctx([0], fps=30)
    stale = call_node(inst, c, Dot().process(c)["out"], 0.8, 1.0, 0.0, 0.0, 0.0, "max", "black")["out"]
    assert not torch.equal(stale[0], first[0])


def test_feedback_modes_and_frame_rate():
    c = ctx([0, 1], fps=30)
    frames = torch.zeros(2, 8, 8, 3)
    frames[0, 4, 4] = 1.0
    frames[1, 4, 4] = 0.5
    for mode, want in (("max", 0.8), ("add", 1.0), ("mix", 0.5 + (1.0 - 0.5) * 0.8)):
        out = call_node(im.Feedback(), c, frames, 0.8, 1.0, 0.0, 0.0, 0.0, mode, "black")["out"]
        torch.testing.assert_close(out[1, 4, 4], torch.full((3,), want), atol=1e-6, rtol=0)
    # at 60 fps the trail fades per second as at 30: 0.8 per 1/30 s = sqrt(0.8) per frame
    c60 = ctx([0, 1], fps=60)
    frames[1] = 0
    out = call_node(im.Feedback(), c60, frames, 0.8, 1.0, 0.0, 0.0, 0.0, "max", "black")["out"]
    torch.testing.assert_close(out[1, 4, 4], torch.full((3,), math.sqrt(0.8)), atol=1e-6, rtol=0)


@pytest.mark.parametrize("cls", im.NODES)
def test_half_precision_images_keep_their_dtype(cls):
    """GPUs run in half precision: every operator keeps the image's dtype and gives nearly
    the float32 picture (sample points and the feedback trail stay in float32)."""
    img = smooth_image(24, 32, b=3)
    params = {im.Color: dict(hue=torch.tensor([30.0, 90.0, 400.0]), palette="fire", palette_mix=0.5),
              im.Transform: dict(rotate=torch.tensor([10.0, 20.0, 30.0]), zoom=0.7),
              im.Kaleidoscope: dict(rotate=torch.tensor([10.0, 20.0, 30.0])),
              im.Blur: dict(radius=torch.tensor([20.0, 60.0, 400.0])),
              im.Blend: dict(mode="overlay"), im.Feedback: dict(rotate=3.0, zoom=1.1)}[cls]
    outs = []
    for dtype in (torch.float32, torch.float16):
        x = img.to(dtype)
        if cls is im.Blend:
            outs.append(call_node(cls(), ctx(range(3)), x, x.flip(2), amount=0.7, **params)["out"])
        else:
            outs.append(run(cls, x, ctx(range(3)), **params))
    assert outs[1].dtype == torch.float16 and torch.isfinite(outs[1]).all()
    assert (outs[1].float() - outs[0]).abs().max() < 0.01
