"""features.project: a wide timeline squeezed to a few columns in [-1, 1] by PCA or a seeded
random projection."""
import numpy as np
import pytest
import torch

from afx_graph import Registry, RenderSettings, Timeline
from afx_graph.context import FrameContext
from afx_graph.nodes import projection as P
from afx_graph.nodes.projection import Project


def context() -> FrameContext:
    return FrameContext(settings=RenderSettings(size=(64, 64), fps=30.0),
                        device=torch.device("cpu"), dtype=torch.float32, out_dir=None)


def project(values, **params) -> Timeline:
    kw = {**{n: p.default for n, p in Project.spec.params.items()}, **params}
    tl = Timeline(np.asarray(values, np.float32), 30.0,
                  tuple(f"c{i}" for i in range(np.shape(values)[1])))
    return Project().process(context(), timeline=tl, **kw)["features"]


def embedding_like(t=300, d=64, seed=0):
    """Columns driven by two slow latent signals (strong, weaker) plus a little noise."""
    rng = np.random.default_rng(seed)
    time = np.arange(t) / 30.0
    latent = np.stack([3.0 * np.sin(2 * np.pi * 0.2 * time), 1.0 * np.cos(2 * np.pi * 0.7 * time)], 1)
    mixing = rng.standard_normal((2, d))
    return latent @ mixing + 0.05 * rng.standard_normal((t, d)), latent


def test_declared_and_registered():
    spec = Registry().load_builtins().get("features.project")
    assert spec.category == "Features" and spec.rate == "static"
    assert str(spec.inputs["timeline"].type) == "TIMELINE"
    assert str(spec.outputs["features"].type) == "TIMELINE"
    assert spec.params["dims"].default == 8 and set(spec.params["method"].choices) == {"pca", "random"}
    assert all(p.doc for p in spec.params.values())


@pytest.mark.parametrize("method", ["pca", "random"])
def test_shape_range_names_and_determinism(method):
    x, _ = embedding_like()
    out = project(x, dims=6, method=method)
    assert out.values.shape == (300, 6) and out.fps == 30.0 and out.values.dtype == np.float32
    assert out.names[0] == ("pc0" if method == "pca" else "rp0")
    assert out.values.min() >= -1 and out.values.max() <= 1
    assert np.all(out.values.max(axis=0) > 0.9) and np.all(out.values.min(axis=0) < -0.9)
    assert np.array_equal(out.values, project(x, dims=6, method=method).values)


def test_pca_finds_the_strong_direction_first():
    x, latent = embedding_like()
    comps, var = P.fit_pca(P.standardise(x, scale=False), 4)
    assert var[0] >= var[1] >= var[2] >= var[3] >= 0
    assert var[0] > 5 * var[1] > 5 * var[2]          # two latent signals, then noise
    z = P.standardise(x, scale=False) @ comps
    assert abs(np.corrcoef(z[:, 0], latent[:, 0])[0, 1]) > 0.99
    assert abs(np.corrcoef(z[:, 1], latent[:, 1])[0, 1]) > 0.99
    # sign convention: the largest loading of every component is positive
    big = np.abs(comps).argmax(axis=0)
    assert np.all(comps[big, np.arange(4)] > 0)
    # the same data with its columns negated gives components with the same signs rule
    comps2, _ = P.fit_pca(P.standardise(-x, scale=False), 4)
    assert np.all(comps2[np.abs(comps2).argmax(axis=0), np.arange(4)] > 0)


def test_pca_output_follows_the_strongest_movement():
    x, latent = embedding_like()
    out = project(x, dims=2, method="pca", standardize=False).values
    assert abs(np.corrcoef(out[:, 0], latent[:, 0])[0, 1]) > 0.95


def test_more_dims_than_the_data_has_are_zero():
    x = np.random.default_rng(1).standard_normal((50, 3))
    out = project(x, dims=5, method="pca").values
    assert out.shape == (50, 5)
    assert np.abs(out[:, :3]).max() > 0.9 and np.abs(out[:, 3:]).max() == 0


def test_wide_short_input_uses_the_svd_path():
    x = np.random.default_rng(2).standard_normal((20, 512))
    out = project(x, dims=8).values
    assert out.shape == (20, 8) and np.isfinite(out).all() and np.abs(out).max() == 1


@pytest.mark.parametrize("method", ["pca", "random"])
@pytest.mark.parametrize("values", [np.zeros((90, 16)), np.full((90, 16), 3.5),
                                    np.zeros((1, 16)), np.full((90, 4), np.nan)])
def test_constant_silent_or_broken_input_gives_zeros(values, method):
    out = project(values, dims=4, method=method).values
    assert out.shape == (len(values), 4) and np.isfinite(out).all() and np.abs(out).max() == 0


def test_a_constant_column_does_not_amplify_noise():
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.standard_normal(200), np.full(200, 2.0) + 1e-9 * rng.standard_normal(200)])
    z = P.standardise(x)
    assert np.abs(z[:, 1]).max() == 0


def test_random_projection_depends_on_the_seed_only():
    x, _ = embedding_like()
    a = project(x, dims=4, method="random", seed=1).values
    b = project(x, dims=4, method="random", seed=2).values
    assert not np.allclose(a, b)
    assert np.array_equal(P.random_projection(64, 4, 1), P.random_projection(64, 4, 1))
