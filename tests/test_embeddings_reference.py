"""YAMNet with Google's own weights, checked against the outputs of Google's own graph.

The fixture (``<repo>/../shared/fixtures/yamnet/``, see its README) holds the TF-Hub / TFLite
YAMNet's weights as arrays and that graph's outputs on a 3 s clip. The test writes the weights
as a Keras ``yamnet.h5`` laid out the way Keras saves ``yamnet.py``'s model, loads it through
the ``embed.yamnet`` node (the real loading path: read_weight_file -> map_yamnet), and compares
log-mel patches, embeddings and class scores window by window.

Measured on a CPU in float32: per-window cosine of embeddings >= 0.99997, max |d embedding|
0.022, max |d score| 0.0034, max |d log-mel| 0.0088, the same top class in every window. Nearly
all of it is the int8 rounding of the graph's mel matrix: with that matrix in our front end,
2.5e-4, 1.2e-4 and 1.4e-3, cosine > 0.9999999. (The fixture's clip is tones, not speech: its
reference top classes are 495, 497 and 132, none is Speech, index 0.)
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from afx_graph import Audio, RenderSettings
from afx_graph.context import FrameContext
from afx_graph.nodes import embed_models as em
from afx_graph.nodes import embeddings as E

FIXTURE = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "yamnet"
CPU = torch.device("cpu")
HOP = 0.48


@pytest.fixture(autouse=True)
def empty_model_cache(tmp_path, monkeypatch):
    """Never the user's model cache."""
    monkeypatch.setenv(E.MODEL_DIR_ENV, str(tmp_path / "models"))


@pytest.fixture(scope="module")
def fixture():
    if not FIXTURE.is_dir():
        pytest.skip(f"the YAMNet reference fixture folder is absent ({FIXTURE}); it is kept "
                    f"in shared/ beside the repository, not in the project")
    with np.load(FIXTURE / "weights.npz") as w, np.load(FIXTURE / "reference.npz") as r:
        return {k: w[k] for k in w.files}, {k: r[k] for k in r.files}


def context(fps=30.0) -> FrameContext:
    return FrameContext(settings=RenderSettings(size=(64, 64), fps=fps), device=CPU,
                        dtype=torch.float32, out_dir=None)


# -- the fixture's TFLite arrays as Keras weights ----------------------------------------------

def dequantised(weights: dict, i: int) -> tuple[str, np.ndarray, np.ndarray]:
    """Operator ``i``: (graph name, float32 weights in TFLite layout, bias). int8 weights times
    their scale, per output channel: axis 0 (conv, dense), axis 3 (depthwise)."""
    k = f"op{i:02d}"
    if f"{k}_w_f32" in weights:
        w = weights[f"{k}_w_f32"]
    else:
        q, scale = weights[f"{k}_w_int8"].astype(np.float32), weights[f"{k}_scale"]
        shape = [1] * q.ndim
        shape[3 if "depthwise" in str(weights[f"{k}_name"]) else 0] = -1
        w = q * scale.reshape(shape)
    return str(weights[f"{k}_name"]), w.astype(np.float32), weights[f"{k}_bias"].astype(np.float32)


def keras_layers(weights: dict, classifier: str) -> list[tuple[str, dict[str, np.ndarray]]]:
    """``(layer name, {weight: array})`` in the order and the layouts Keras saves
    ``yamnet.py``'s model: convolutions without bias, each followed by a batch norm without
    scale (``beta``, ``moving_mean``, ``moving_variance``), then the dense classifier. The
    fixture's batch norms are folded into the convolutions, so each batch norm here is the
    identity plus the folded bias: mean 0, variance 1 - eps (1 / sqrt(var + eps) == 1)."""
    eps = np.float32(em.YAMNet.eps)
    var = np.float32(1.0) - eps
    assert np.float32(var + eps) == 1.0

    def bn(bias):
        return {"beta": bias, "moving_mean": np.zeros_like(bias),
                "moving_variance": np.full_like(bias, var)}

    layers = []
    n_ops = len([k for k in weights if k.endswith("_name")])
    assert n_ops == 29, n_ops
    for i in range(1, n_ops):       # op00 is the front end's mel matrix, not a Keras layer
        name, w, b = dequantised(weights, i)
        if name.endswith("dense/MatMul"):
            assert w.shape == (521, 1024)
            layers.append((classifier, {"kernel": w.T, "bias": b}))        # (out, in) -> (in, out)
            continue
        m = re.search(r"/layer(\d+)/(?:(depthwise_conv|pointwise_conv)/)?relu/", name)
        assert m, name
        layer = f"layer{m.group(1)}/{m.group(2) or 'conv'}"
        if m.group(2) == "depthwise_conv":      # (1, kh, kw, ch) -> Keras (kh, kw, ch, 1)
            assert w.shape[0] == 1
            layers.append((layer, {"depthwise_kernel": w.transpose(1, 2, 3, 0)}))
        else:                                   # (out, kh, kw, in) -> Keras (kh, kw, in, out)
            layers.append((layer, {"kernel": w.transpose(1, 2, 3, 0)}))
        layers.append((f"{layer}/bn", bn(b)))
    return layers


def write_keras_h5(path: Path, layers) -> None:
    """A Keras 2 ``save_weights`` HDF5 file: ``layer_names`` (weightless layers included),
    one group per layer with its ``weight_names``; a layer named ``a/b`` is nested groups."""
    import h5py  # a test dependency
    order = ["input_1", "tf_op_layer_Pad", "reshape"]
    for name, _ in layers:
        order.append(name)
        if name.endswith("/bn"):
            order.append(name[:-len("conv/bn")] + "relu" if name.endswith("/conv/bn")
                         else name[:-len("/bn")] + "/relu")
    order[-1:-1] = ["global_average_pooling2d"]          # before the classifier
    order.append("activation")
    found = dict(layers)
    with h5py.File(path, "w") as f:
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["layer_names"] = [n.encode() for n in order]
        for name in order:
            g = f.require_group(name)
            weights = found.get(name, {})
            g.attrs["weight_names"] = [f"{name}/{w}:0".encode() for w in weights]
            for w, arr in weights.items():
                g.create_dataset(f"{name}/{w}:0", data=arr)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# -- the comparison ----------------------------------------------------------------------------

@pytest.mark.parametrize("classifier", ["dense", "logits"])
def test_yamnet_with_googles_weights_matches_googles_graph(fixture, tmp_path, classifier):
    """``dense``: files saved from the current yamnet.py; ``logits``: the released yamnet.h5."""
    weights, ref = fixture
    path = tmp_path / "yamnet.h5"
    write_keras_h5(path, keras_layers(weights, classifier))
    wave = ref["waveform16k"].astype(np.float32)
    assert wave.shape == (48000,)
    audio = Audio(wave[None, :], 16000)

    # the node itself, loading the file as it does for its `weights` param
    node = E.YAMNetEmbedding()
    out = node.process(context(), audio=audio, weights=str(path), hop=HOP)
    assert out["embedding"].values.shape == (90, 1024)
    assert out["scores"].values.shape == (90, 521)
    model = node._model
    assert isinstance(model, em.YAMNet) and not model.training

    # its windows: 3 s padded to whole hops -> 6 windows of 0.96 s every 0.48 s
    patches, centres = E.audioset_patches(model, wave, HOP, True, CPU)
    emb, scores, centres2 = E.yamnet_windows(model, audio, HOP, CPU)
    assert patches.shape == ref["logmel"].shape == (6, 96, 64)
    assert emb.shape == ref["embedding"].shape and scores.shape == ref["scores"].shape
    np.testing.assert_allclose(centres, 0.4875 + HOP * np.arange(6), atol=1e-9)
    np.testing.assert_array_equal(centres, centres2)

    # log-mel: mostly the graph's int8-rounded mel matrix (measured 0.0088; range -6.9..3.7)
    d_logmel = np.abs(patches.numpy() - ref["logmel"]).max()
    assert d_logmel < 0.02, d_logmel

    cos = cosine(emb, ref["embedding"])
    d_emb = np.abs(emb - ref["embedding"]).max()
    d_scores = np.abs(scores - ref["scores"]).max()
    assert cos.min() >= 0.9999, cos
    assert d_emb < 0.03, d_emb            # README: 0.022
    assert d_scores < 0.005, d_scores     # README: 0.0034
    # the same top class in every window, Speech (index 0) wherever the reference's is
    top, ref_top = scores.argmax(1), ref["scores"].argmax(1)
    np.testing.assert_array_equal(top, ref_top)
    assert ((top == 0) == (ref_top == 0)).all()

    # the node's rows are these windows, interpolated to the video frames
    np.testing.assert_allclose(out["embedding"].values, E.windows_to_frames(emb, centres, 90, 30),
                               atol=1e-6)
    np.testing.assert_allclose(out["scores"].values, E.windows_to_frames(scores, centres, 90, 30),
                               atol=1e-6)


def test_yamnet_network_with_the_graphs_own_mel_matrix(fixture, tmp_path):
    """With the graph's own (int8) mel matrix in our front end, what is left is the network:
    float rounding only (measured 2.5e-4 on embeddings, 1.2e-4 on scores, 1.4e-3 on log-mel)."""
    weights, ref = fixture
    path = tmp_path / "yamnet.h5"
    write_keras_h5(path, keras_layers(weights, "dense"))
    model = em.load_model("yamnet", path)
    name, mel, offset = dequantised(weights, 0)
    assert name.endswith("MatMul") and mel.shape == (64, 257)
    # the graph folds `+ log offset` into the mel layer's bias
    np.testing.assert_allclose(offset, model.log_offset, rtol=1e-6)
    model.frontend.mel = torch.from_numpy(mel.T.copy())
    wave = ref["waveform16k"].astype(np.float32)
    with torch.inference_mode():
        patches, _ = E.audioset_patches(model, wave, HOP, True, CPU)
        emb, scores = (t.numpy() for t in model(patches))
    d_logmel = np.abs(patches.numpy() - ref["logmel"]).max()
    d_emb = np.abs(emb - ref["embedding"]).max()
    d_scores = np.abs(scores - ref["scores"]).max()
    assert d_logmel < 3e-3, d_logmel
    assert d_emb < 5e-4, d_emb
    assert d_scores < 2.5e-4, d_scores
    assert cosine(emb, ref["embedding"]).min() > 0.999999
    np.testing.assert_array_equal(scores.argmax(1), ref["scores"].argmax(1))
