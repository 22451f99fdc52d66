"""Project a wide timeline (a 512-D embedding, dozens of descriptors) onto a few columns.

``features.project`` fits a PCA on the track (or uses a fixed seeded random projection) and
scales each output column to [-1, 1], so an embedding can drive a CPPN or any other input
without drowning it: a CPPN's first layer sees a handful of well-scaled numbers instead of
hundreds. Constant or silent input gives zeros; the same input gives the same output.
"""
from __future__ import annotations

import numpy as np

from afx_graph.spec import In, Out, Param, node
from afx_graph.types import TIMELINE, Timeline

PERCENTILES = (2.0, 98.0)   # robust range mapped to [-1, 1]
REL_FLOOR = 1e-6            # spreads below this fraction of the largest one count as none


def standardise(x: np.ndarray, scale: bool = True) -> np.ndarray:
    """Centre each column (and with ``scale`` divide it by its standard deviation). Columns
    that barely vary (relative to the widest one) become exactly 0, so numerical noise in a
    constant column is never blown up."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    x = x - x.mean(axis=0, keepdims=True)
    std = x.std(axis=0)
    top = float(std.max(initial=0.0))
    dead = std <= max(top * REL_FLOOR, 1e-12)
    x[:, dead] = 0.0
    if scale:
        x[:, ~dead] /= std[~dead]
    return x


def fit_pca(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Principal axes of centred ``x`` (T, D): ``(D, k)`` components ordered by variance and
    the variance along each. Deterministic sign: each component's largest-magnitude loading
    is positive. Components beyond the data's rank are zero (variance 0)."""
    t, d = x.shape
    comps = np.zeros((d, k))
    var = np.zeros(k)
    if t < 2 or d == 0:
        return comps, var
    if d <= t:
        evals, evecs = np.linalg.eigh(x.T @ x / (t - 1))
        order = np.argsort(evals)[::-1]
        evals, evecs = evals[order], evecs[:, order]
    else:
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        evals, evecs = s ** 2 / (t - 1), vt.T
    n = min(k, evecs.shape[1])
    evals = np.maximum(evals[:n], 0.0)
    keep = evals > max(float(evals.max(initial=0.0)) * 1e-12, 1e-20)
    comps[:, :n] = evecs[:, :n] * keep
    var[:n] = evals * keep
    big = np.argmax(np.abs(comps), axis=0)
    sign = np.sign(comps[big, np.arange(k)])
    comps *= np.where(sign == 0, 1.0, sign)
    return comps, var


def random_projection(d: int, k: int, seed: int) -> np.ndarray:
    """A fixed ``(d, k)`` Gaussian projection for a seed, scaled by 1/sqrt(d)."""
    rng = np.random.default_rng(int(seed))
    return rng.standard_normal((d, k)) / np.sqrt(max(d, 1))


def normalise_columns(x: np.ndarray) -> np.ndarray:
    """Map each column's 2nd..98th percentile to [-1, 1] and clip; a column that does not
    vary (relative to the widest column) is 0. Always finite, float32."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if x.size == 0:
        return x.astype(np.float32)
    lo, hi = np.percentile(x, PERCENTILES, axis=0)
    narrow = hi - lo <= 0           # a column that holds still most of the time: full range
    lo = np.where(narrow, x.min(axis=0), lo)
    hi = np.where(narrow, x.max(axis=0), hi)
    half = (hi - lo) / 2
    top = float(half.max(initial=0.0))
    dead = half <= max(top * REL_FLOOR, 1e-12)
    out = np.where(dead, 0.0, (x - (lo + hi) / 2) / np.where(dead, 1.0, half))
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def project(values: np.ndarray, dims: int, method: str, seed: int = 0,
            scale: bool = True) -> np.ndarray:
    """``(T, D)`` -> ``(T, dims)`` by PCA fitted on ``values`` or a seeded random projection,
    each output column normalised to [-1, 1]."""
    x = standardise(values, scale)
    if method == "pca":
        comps, _ = fit_pca(x, dims)
    elif method == "random":
        comps = random_projection(x.shape[1], dims, seed)
    else:
        raise ValueError(f"unknown projection method {method!r}")
    return normalise_columns(x @ comps)


@node("features.project", category="Features", uses=())
class Project:
    """Project to a few dims

    Squeezes a wide timeline (an embedding with hundreds of columns, a stack of descriptors)
    into `dims` columns: a PCA fitted on this track (`pca`: the directions the music moves
    along most, strongest first) or a fixed seeded random projection (`random`). Each output
    column is scaled to [-1, 1] over the track, so it can feed a CPPN's `embedding` or
    `features` input alongside other features without drowning them."""

    timeline = In(TIMELINE, doc="the columns to project, e.g. embed.timbre or embed.openl3")
    dims = Param(int, 8, min=1, max=256, linkable=False, doc="number of output columns")
    method = Param(str, "pca", choices=("pca", "random"),
                   doc="pca: fitted on this track; random: fixed Gaussian projection")
    standardize = Param(bool, True,
                        doc="scale every input column to unit variance first (else wide "
                            "columns dominate)")
    seed = Param(int, 0, min=0, max=2**31 - 1, linkable=False,
                 doc="picks the random projection (method random)")
    features = Out(TIMELINE, doc="pc0.. (pca) or rp0.. (random), each in [-1, 1]")

    def process(self, ctx, timeline, dims, method, standardize, seed):
        values = project(timeline.values, int(dims), method, int(seed), bool(standardize))
        prefix = "pc" if method == "pca" else "rp"
        return {"features": Timeline(values, timeline.fps,
                                     tuple(f"{prefix}{i}" for i in range(int(dims))),
                                     timeline.start)}


NODES = [Project]
