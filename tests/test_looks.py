"""Issue 11's looks: the CPPN's colour modes, folded and warped coordinates, the latent walk."""
import math

import numpy as np
import pytest
import torch

from afx_graph import Executor, Graph, Plan, RenderSettings, call_node, default_registry, loads
from afx_graph.context import FrameContext
from afx_graph.nodes import palettes
from afx_graph.nodes.cppn import CPPN
from afx_graph.nodes.field import Coords
from afx_graph.nodes.modulation import State, Walk


def ctx(frames, size=(96, 54), fps=30.0):
    return FrameContext(RenderSettings(size, fps, 10.0), torch.device("cpu"), torch.float32,
                        None, np.asarray(frames), 300)


def field(frames, **params):
    p = {n: q.default for n, q in CPPN.spec.params.items()}
    p.update(params)
    return call_node(CPPN(), ctx(frames), coords=None, features=None, embedding=None,
                     latent=None, **p)["image"]


def test_palette_mode_stays_within_its_palette():
    """Every pixel is a colour of the palette's table (gradients) and the default is a palette."""
    assert CPPN.spec.params["color"].default == "palette"
    for name in ("velvet", "fire", "lagoon"):
        img = field([0, 40], palette=name).reshape(-1, 3)
        table = palettes.lut(name, torch.device("cpu")).T          # (LUT_SIZE, 3)
        nearest = torch.cdist(img, table).min(dim=1).values
        assert nearest.max() < 2e-3, name
    raw = field([0], color="rgb").reshape(-1, 3)
    table = palettes.lut("velvet", torch.device("cpu")).T
    assert torch.cdist(raw, table).min(dim=1).values.max() > 0.1   # raw colours leave it


def test_palette_shift_moves_the_colours_and_hsv_is_in_range():
    a, b = field([5], palette_shift=0.0), field([5], palette_shift=0.3)
    assert (a - b).abs().mean() > 0.05
    hsv = field([5], color="hsv")
    assert hsv.min() >= 0 and hsv.max() <= 1 and hsv.std() > 0.05


def test_version_1_patch_keeps_its_raw_colours():
    text = """afx: 1
settings: {size: [48, 27], fps: 10, duration: 0.2}
nodes:
  f: {type: cppn}
  v: {type: output.frames, params: {folder: out}, inputs: {image: f.image}}
"""
    g = Graph.from_patch(loads(text), default_registry())
    assert g.resolved_params("f")["color"] == "rgb"
    g2 = Graph.from_patch(loads(text.replace("{type: cppn}", "{type: cppn, version: 2}")),
                          default_registry())
    assert g2.resolved_params("f")["color"] == "palette"


def coords(**params):
    p = {n: q.default for n, q in Coords.spec.params.items()}
    p.update(params)
    return Coords().process(ctx(None, size=(201, 201)), **p)["coords"]


def test_radial_symmetry_repeats_every_wedge_and_mirror_folds():
    c = coords(symmetry="radial", folds=6, warp=0.1)
    h, w = c.shape[:2]
    for ang in (0.2, 1.0, 2.5):
        pts = []
        for k in range(6):
            a = ang + k * math.pi / 3
            pts.append(c[int(round(h / 2 - 60 * math.sin(a))), int(round(w / 2 + 60 * math.cos(a)))])
        pts = torch.stack(pts)
        assert (pts - pts[0]).abs().max() < 0.03          # the same point of the pattern, 6 times
    m = coords(symmetry="mirror")
    assert torch.allclose(m, m.flip(1), atol=1e-6)
    plain = coords()
    assert not torch.allclose(plain, plain.flip(1), atol=1e-3)


def walk(trigger, batch, **params):
    node = Walk()
    p = {n: q.default for n, q in Walk.spec.params.items()}
    p.update(params)
    lat, steps = [], []
    for s in range(0, len(trigger), batch):
        out = call_node(node, ctx(np.arange(s, min(len(trigger), s + batch))),
                        torch.tensor(trigger[s:s + batch], dtype=torch.float32), **p)
        lat.append(out["latent"])
        steps.append(out["steps"])
    return torch.cat(lat).numpy(), torch.cat(steps).numpy()


def test_walk_steps_on_each_event_the_same_for_any_batch():
    trig = np.zeros(90)
    trig[[10, 11, 40, 70]] = 1.0                         # three events (10-11 is one)
    lat, steps = walk(trig, 7, glide=0.2, dims=3)
    lat1, steps1 = walk(trig, 1, glide=0.2, dims=3)
    np.testing.assert_allclose(lat, lat1)
    np.testing.assert_allclose(steps, steps1)
    assert steps[9] == 0 and steps[-1] == 3 and np.all(np.diff(steps) >= -1e-9)
    moved = np.abs(np.diff(lat, axis=0)).sum(axis=1)
    assert moved[:9].max() == 0                           # still before the first event
    assert moved[10] > 0 and moved[20:39].max() < 1e-9    # moves on the event, then settles
    jump, _ = walk(trig, 5, glide=0.0, dims=3)
    assert np.count_nonzero(np.abs(np.diff(jump, axis=0)).sum(axis=1)) == 3   # a jump per event
    every2, s2 = walk(trig, 5, every=2, dims=3)
    assert s2[-1] == 1


def state(value, batch, **params):
    node = State()
    p = {n: q.default for n, q in State.spec.params.items()}
    p.update(params)
    got = []
    for s in range(0, len(value), batch):
        out = call_node(node, ctx(np.arange(s, min(len(value), s + batch))),
                        torch.tensor(value[s:s + batch], dtype=torch.float32), **p)
        got.append(torch.stack([out["state"], out["level"]], 1))
    return torch.cat(got).numpy().T


def test_state_turns_busy_when_the_music_does_and_calm_only_well_below():
    """30 fps: 4 s of silence, 6 s of dense onsets (0.6), then 6 s at 0.22, between the
    thresholds (busy above 0.3, calm below 0.15, of a 1 s average): still busy; then silence."""
    v = np.concatenate([np.zeros(120), np.full(180, 0.6), np.full(180, 0.22), np.zeros(240)])
    st, level = state(v, 16, window=1.0, busy=0.3, calm=0.15, fade=1.0)
    st1, level1 = state(v, 1, window=1.0, busy=0.3, calm=0.15, fade=1.0)
    np.testing.assert_allclose(st, st1, atol=1e-6)           # the same for any batch
    assert st[:120].max() == 0                                # calm before the music
    turned = int(np.argmax(st > 0))
    assert 120 < turned < 150                                 # busy once the 1 s average > 0.3
    assert st[turned + 29] == pytest.approx(1.0) and 0 < st[turned + 10] < 1   # a 1 s fade
    assert st[300:480].min() == pytest.approx(1.0)            # 0.22: above calm, stays busy
    assert st[-1] == 0 and level[-1] < 0.15                   # calm again after the silence
    cut, _ = state(v, 16, window=1.0, busy=0.3, calm=0.15, fade=0.0)
    assert set(np.round(cut, 6)) == {0.0, 1.0}                # fade 0: a cut
    odd, _ = state(v, 16, window=1.0, busy=0.3, calm=0.5, fade=0.0)   # calm above busy
    assert np.count_nonzero(np.diff(odd)) <= 2                # switches, never flickers


def test_demo_patch_uses_the_looks():
    """The demo renders in its palette with six-fold symmetry (its look statistics and r are
    checked on a render in test_analyze_examples)."""
    from pathlib import Path
    from afx_graph.sharing.opening import load_patch
    g = Graph.from_patch(load_patch(Path(__file__).parents[1] / "graphs" / "demo.yaml"),
                         default_registry())
    g.set_settings({"size": [96, 54], "fps": 10, "duration": 1.0})
    ex = Executor(g, device="cpu")
    run = ex.prepare(Plan(g, targets=["field"]), g.render_settings())
    img = next(iter(ex.frames(run, 3, 4)))[1]["field"]["image"][0]
    table = palettes.lut("velvet", torch.device("cpu")).T
    assert torch.cdist(img.reshape(-1, 3), table).min(dim=1).values.max() < 2e-3
