"""The CPU fast path of the CPPN (nodes.cppn.evaluate_chunked: in-place layers in reused
buffers, scale/drift/contrast folded into the weights, a floor under the gaussian's exponent)
draws the same picture as the plain math it replaces. Correctness only: the speed is measured
by `afx bench cppn`, not asserted here."""
import math
from types import SimpleNamespace

import pytest
import torch

from afx_graph.nodes.cppn import (ACTIVATIONS, CPPN, CPU_CHUNK, CYCLES, CPPNWeights, evaluate,
                                  gaussian_)
from afx_graph.nodes.field import coordinate_grid

TOL = 1e-4          # in [0, 1] RGB; one 8-bit level is 0.004


def reference(w, coords, frame_in, scale, contrast, drift, acts):
    """The field written the straightforward way, one frame at a time, in float64: the
    float32 paths are each compared with this, not with one another (a sin-only network at
    gain 5 turns float32 rounding into ~3e-5 differences between any two orders of sums)."""
    d64 = lambda t: None if t is None else t.double()   # noqa: E731
    w = SimpleNamespace(first=d64(w.first), first_bias=d64(w.first_bias),
                        drift=[d64(t) for t in w.drift], last=d64(w.last),
                        last_bias=d64(w.last_bias), hidden=[(d64(a), d64(b)) for a, b in w.hidden])
    coords, frame_in, scale, contrast, drift = map(d64, (coords, frame_in, scale, contrast, drift))
    frames = []
    for b in range(frame_in.shape[0]):
        first = w.first[:3]
        if drift is not None:
            first = first + drift[b, 0] * w.drift[0] + drift[b, 1] * w.drift[1]
        h = (coords @ first) * scale[b] + frame_in[b] @ w.first[3:] + w.first_bias
        h = acts[0](h)
        for i, (wh, bh) in enumerate(w.hidden):
            h = acts[(i + 1) % len(acts)](h @ wh + bh)
        frames.append(torch.sigmoid((h @ w.last + w.last_bias) * contrast[b]))
    return torch.stack(frames).float()


def inputs(size, frames, hidden=32, layers=4, n_features=8, seed=7, drift=True):
    w = CPPNWeights(seed=seed, n_in=3 + 4 + n_features, hidden=hidden, layers=layers, gain=5.0,
                    device=torch.device("cpu"), dtype=torch.float32)
    coords = coordinate_grid(*size, 1.0, torch.device("cpu")).reshape(-1, 3)
    g = torch.Generator().manual_seed(seed)
    frame_in = torch.rand(frames, 4 + n_features, generator=g) * 2 - 1
    scale = 0.75 + torch.rand(frames, generator=g) * 0.75     # punch zooms by up to 0.75
    contrast = 1 + torch.rand(frames, generator=g) * 3
    d = torch.rand(frames, 2, generator=g) - 0.5 if drift else None
    return w, coords, frame_in, scale, contrast, d


@pytest.mark.parametrize("cycle", CYCLES)
@pytest.mark.parametrize("size", [(64, 48), (97, 61)])   # one chunk; a ragged last chunk
def test_cpu_path_matches_the_plain_math(cycle, size):
    acts = [ACTIVATIONS[a] for a in cycle.split(",")]
    w, coords, frame_in, scale, contrast, drift = inputs(size, frames=3)
    want = reference(w, coords, frame_in, scale, contrast, drift, acts)
    got = evaluate(w, coords, frame_in, scale, contrast, drift, acts, CPU_CHUNK)
    assert got.shape == (3, size[0] * size[1], 3) and got.dtype == torch.float32
    assert (got - want).abs().max() < TOL
    # the picture is a lively field, not a grey one, so the comparison means something
    assert want.std() > 0.1


@pytest.mark.parametrize("chunk", [1, 1000, 4096, 10**6])
def test_chunk_size_does_not_change_the_picture(chunk):
    """Many chunks with a ragged end, exactly one, one larger than the frame."""
    acts = [ACTIVATIONS[a] for a in CYCLES[0].split(",")]
    w, coords, frame_in, scale, contrast, drift = inputs((50, 41), frames=2)
    if chunk == 1:
        coords = coords[:300]
    want = reference(w, coords, frame_in, scale, contrast, drift, acts)
    got = evaluate(w, coords, frame_in, scale, contrast, drift, acts, chunk)
    assert (got - want).abs().max() < TOL


@pytest.mark.parametrize("hidden,layers", [(4, 1), (16, 2), (48, 5)])
def test_other_network_shapes(hidden, layers):
    acts = [ACTIVATIONS[a] for a in "gaussian,sin".split(",")]
    w, coords, frame_in, scale, contrast, _ = inputs((40, 30), frames=2, hidden=hidden,
                                                     layers=layers, drift=False)
    want = reference(w, coords, frame_in, scale, contrast, None, acts)
    got = evaluate(w, coords, frame_in, scale, contrast, None, acts, 512)
    assert (got - want).abs().max() < TOL


def test_cpu_path_matches_the_batched_path():
    """evaluate without a chunk (the GPU path, run here on the CPU) draws the same frames."""
    acts = [ACTIVATIONS[a] for a in CYCLES[0].split(",")]
    w, coords, frame_in, scale, contrast, drift = inputs((61, 37), frames=4)
    chunked = evaluate(w, coords, frame_in, scale, contrast, drift, acts, CPU_CHUNK)
    whole = evaluate(w, coords, frame_in, scale, contrast, drift, acts, None)
    assert (chunked - whole).abs().max() < TOL


def test_an_activation_without_an_in_place_form_still_works():
    acts = [torch.sin, torch.nn.functional.softsign]
    w, coords, frame_in, scale, contrast, drift = inputs((30, 20), frames=2)
    want = reference(w, coords, frame_in, scale, contrast, drift, acts)
    got = evaluate(w, coords, frame_in, scale, contrast, drift, acts, 256)
    assert (got - want).abs().max() < TOL


def test_gaussian_floor_is_invisible():
    """Inputs whose gaussian underflows come out as ~1e-38 instead of 0 or a denormal;
    NaN stays NaN, as in exp(-x * x)."""
    x = torch.tensor([0.0, 0.5, -2.0, 9.0, 9.4, 30.0, -1e5, math.inf, -math.inf, math.nan])
    want = ACTIVATIONS["gaussian"](x)
    got = gaussian_(x.clone())
    torch.testing.assert_close(got, want, atol=2e-38, rtol=1e-6, equal_nan=True)
    assert torch.isnan(got[-1]) and (got[:-1] >= 0).all()


def test_node_on_a_ragged_frame_size():
    """Through the node: 1.3 chunks per frame, several frames, beat punch and drift."""
    import numpy as np

    from afx_graph import RenderSettings, call_node
    from afx_graph.context import FrameContext

    size = (83, 64)          # 5312 pixels: one full chunk and a partial one
    ctx = FrameContext(RenderSettings(size, 30.0, 10.0), torch.device("cpu"), torch.float32,
                       None, np.arange(3), 300)
    img = call_node(CPPN(), ctx, coords=None, features=torch.linspace(-1, 1, 24).reshape(3, 8),
                    embedding=None, hidden=32, layers=4, activations=CYCLES[0], seed=7,
                    gain=5.0, scale=1.0, audio_gain=3.0, cycle=8.0, drift=0.5,
                    contrast=2.5, punch=torch.tensor([0.0, 1.0, 0.0]), latent=None,
                    latent_gain=1.0, color="rgb", palette="velvet", palette_shift=0.0)["image"]
    assert img.shape == (3, 64, 83, 3) and torch.isfinite(img).all()
    assert 0 <= img.min() and img.max() <= 1 and img.std() > 0.1
