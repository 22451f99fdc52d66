import numpy as np
import torch

from afx_graph import RenderSettings, call_node
from afx_graph.context import FrameContext
from afx_graph.nodes.cppn import CPPN
from afx_graph.nodes.field import coordinate_grid

DEFAULTS = dict(coords=None, embedding=None, hidden=32, layers=4, activations="sin,cos,gaussian,tanh",
                seed=7, gain=5.0, scale=1.0, audio_gain=3.0, cycle=8.0, drift=0.0, contrast=2.5,
                punch=0.0, latent=None, latent_gain=1.0, color="rgb", palette="velvet",
                palette_shift=0.0)   # the raw network; colour modes: test_looks.py


def ctx(frames, size=(64, 48), total=300):
    return FrameContext(RenderSettings(size, 30.0, 10.0), torch.device("cpu"), torch.float32,
                        None, np.asarray(frames), total)


def field(frames, features=None, **kw):
    p = {**DEFAULTS, **kw}
    c = ctx(frames, kw.pop("size", (64, 48)))
    f = features if features is not None else torch.zeros(len(frames), 8)
    return call_node(CPPN(), c, features=f, **p)["image"]


def test_shape_dtype_range():
    img = field([0, 1, 2])
    assert img.shape == (3, 48, 64, 3) and img.dtype == torch.float32
    assert 0 <= img.min() and img.max() <= 1 and torch.isfinite(img).all()


def test_not_flat_grey():
    """The prototype's bug: gain 1 let the signal vanish and every frame came out grey."""
    img = field([0])[0]
    assert img.std() > 0.15                      # a structured field, not a flat colour
    assert (img.reshape(-1, 3).std(0) > 0.1).all()   # every channel varies


def test_moves_with_time_and_with_audio():
    a, b = field([0, 15])
    assert (a - b).abs().mean() > 0.02
    quiet = field([30], torch.full((1, 8), -1.0))
    loud = field([30], torch.full((1, 8), 1.0))
    assert (quiet - loud).abs().mean() > 0.05


def test_deterministic_for_a_seed_and_different_across_seeds():
    assert torch.equal(field([5], seed=3), field([5], seed=3))
    assert (field([5], seed=3) - field([5], seed=4)).abs().mean() > 0.05


def test_batch_size_invariance():
    feats = torch.linspace(-1, 1, 8 * 8).reshape(8, 8)
    whole = field(list(range(8)), feats, drift=0.5)
    ones = torch.cat([field([i], feats[i:i + 1], drift=0.5) for i in range(8)])
    # float32 rounding of batched matmuls only: far below one 8-bit level (0.004)
    torch.testing.assert_close(whole, ones, atol=2e-4, rtol=0)
    assert ((whole * 255).round() != (ones * 255).round()).float().mean() < 0.001


def test_linked_params_are_per_frame():
    scale = torch.tensor([1.0, 3.0])
    img = field([0, 0], scale=scale)
    torch.testing.assert_close(img[0], field([0], scale=1.0)[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(img[1], field([0], scale=3.0)[0], atol=1e-5, rtol=0)


def test_punch_changes_the_frame_on_a_beat():
    on = field([10], punch=torch.tensor([1.0]))
    off = field([10], punch=torch.tensor([0.0]))
    assert (on - off).abs().mean() > 0.03


def test_coordinate_grid_is_aspect_correct():
    g = coordinate_grid(200, 100)
    assert g.shape == (100, 200, 3)
    assert abs(float(g[..., 1].max()) - 0.5) < 0.01       # short side spans +-0.5
    assert abs(float(g[..., 0].max()) - 1.0) < 0.01       # long side proportionally more
    torch.testing.assert_close(g[..., 2], torch.sqrt(g[..., 0] ** 2 + g[..., 1] ** 2))
