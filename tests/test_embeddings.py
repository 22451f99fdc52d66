"""Audio embeddings: the published architectures loaded from randomly initialised checkpoints
in the ports' layouts through the nodes' real loading path, their front ends against
librosa, the missing-weights errors, the built-in timbre embedding, `afx models` and an
end-to-end render of graphs/cppn_embedding.yaml."""
import argparse
import io
import json
import math
import pickle
import warnings
from contextlib import redirect_stdout
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from afx_graph import Audio, Executor, Graph, NodeFailure, Plan, Registry, RenderSettings, loads
from afx_graph.sharing.opening import load_patch
from afx_graph.run.render import RunOptions, render_graph
from afx_graph.context import FrameContext
from afx_graph.errors import AfxError, NodeInputError
from afx_graph.nodes import embed_models as em
from afx_graph.nodes import embeddings as E

from media import read_video

ROOT = Path(__file__).resolve().parents[1]
SR = 44100
SECONDS = 3.0


@pytest.fixture(autouse=True)
def empty_model_cache(tmp_path, monkeypatch):
    """Every test sees an empty model cache of its own, never the user's."""
    cache = tmp_path / "models"
    monkeypatch.setenv(E.MODEL_DIR_ENV, str(cache))
    return cache


def context(fps=30.0) -> FrameContext:
    return FrameContext(settings=RenderSettings(size=(64, 64), fps=fps), device=torch.device("cpu"),
                        dtype=torch.float32, out_dir=None)


def tones(seconds=SECONDS, sr=SR, seed=0) -> Audio:
    """A chord that changes half way, with noise bursts: (2, n) at 44.1 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f = np.where(t < seconds / 2, 220.0, 330.0)
    y = 0.3 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 2.5 * f * t)
    y = y + 0.1 * rng.standard_normal(len(t)) * ((t % 1.0) < 0.3)
    y = y.astype(np.float32)
    return Audio(np.stack([y, 0.8 * y]), sr)


def rows(audio, fps):
    return math.ceil(audio.duration * fps - 1e-9)


def defaults(cls, **kw):
    return {**{n: p.default for n, p in cls.spec.params.items()}, **kw}


def rand(*shape, scale=0.1, gen=None):
    """Uniform with standard deviation ``scale`` (cheaper than normal for 72M weights)."""
    return (torch.rand(*shape, generator=gen) * 2 - 1) * (scale * math.sqrt(3))


def bn_state(prefix, c, gen, scale=True):
    d = {f"{prefix}.bias": rand(c, gen=gen), f"{prefix}.running_mean": rand(c, gen=gen),
         f"{prefix}.running_var": torch.rand(c, generator=gen) + 0.5,
         f"{prefix}.num_batches_tracked": torch.tensor(0)}
    d[f"{prefix}.weight"] = (torch.rand(c, generator=gen) + 0.5) if scale else torch.ones(c)
    return d


# -- reference forwards written from the ports' layouts (independent of afx's modules) --------

def torchvggish_checkpoint(gen) -> dict:
    """harritaylor/torchvggish layout: features.{0,3,6,8,11,13}, embeddings.{0,2,4}, pproc."""
    sd = {}
    for i, (cin, cout) in zip((0, 3, 6, 8, 11, 13),
                              ((1, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512))):
        sd[f"features.{i}.weight"] = rand(cout, cin, 3, 3, scale=math.sqrt(2 / (9 * cin)), gen=gen)
        sd[f"features.{i}.bias"] = rand(cout, scale=0.01, gen=gen)
    for i, (cin, cout) in zip((0, 2, 4), ((12288, 4096), (4096, 4096), (4096, 128))):
        sd[f"embeddings.{i}.weight"] = rand(cout, cin, scale=math.sqrt(2 / cin), gen=gen)
        sd[f"embeddings.{i}.bias"] = rand(cout, scale=0.01, gen=gen)
    sd["pproc.pca_eigen_vectors"] = rand(128, 128, scale=0.3, gen=gen)
    sd["pproc.pca_means"] = rand(128, 1, gen=gen)
    return sd


def torchvggish_forward(sd, patches):
    x = patches[:, None]
    for i in (0, 3, 6, 8, 11, 13):
        x = F.relu(F.conv2d(x, sd[f"features.{i}.weight"], sd[f"features.{i}.bias"], padding=1))
        if i in (0, 3, 8, 13):
            x = F.max_pool2d(x, 2)
    x = x.transpose(1, 3).transpose(1, 2).reshape(len(x), -1)
    x = F.relu(F.linear(x, sd["embeddings.0.weight"], sd["embeddings.0.bias"]))
    x = F.relu(F.linear(x, sd["embeddings.2.weight"], sd["embeddings.2.bias"]))
    return F.linear(x, sd["embeddings.4.weight"], sd["embeddings.4.bias"])   # linear, as in TF


YAMNET_BLOCKS = ((32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1),
                 (256, 512, 2), (512, 512, 1), (512, 512, 1), (512, 512, 1), (512, 512, 1),
                 (512, 512, 1), (512, 1024, 2), (1024, 1024, 1))


def torch_audioset_yamnet_checkpoint(gen) -> dict:
    """w-hc/torch_audioset layout (its batch norms carry a weight of ones)."""
    sd = {"layer1.fused.conv.weight": rand(32, 1, 3, 3, scale=0.5, gen=gen)}
    sd.update(bn_state("layer1.fused.bn", 32, gen, scale=False))
    for n, (cin, cout, _) in enumerate(YAMNET_BLOCKS, start=2):
        sd[f"layer{n}.depthwise_conv.conv.weight"] = rand(cin, 1, 3, 3, scale=0.4, gen=gen)
        sd.update(bn_state(f"layer{n}.depthwise_conv.bn", cin, gen, scale=False))
        sd[f"layer{n}.pointwise_conv.conv.weight"] = rand(cout, cin, 1, 1,
                                                          scale=math.sqrt(2 / cin), gen=gen)
        sd.update(bn_state(f"layer{n}.pointwise_conv.bn", cout, gen, scale=False))
    sd["classifier.weight"] = rand(521, 1024, scale=0.05, gen=gen)
    sd["classifier.bias"] = rand(521, gen=gen)
    return sd


def conv_tf_same(x, w, stride, groups=1):
    """torch_audioset's Conv2d_tf: the odd padding pixel at the end, the rest both sides."""
    pads, sym = [], []
    for dim in (0, 1):
        size, k = x.shape[2 + dim], w.shape[2 + dim]
        out = (size + stride - 1) // stride
        total = max(0, (out - 1) * stride + k - size)
        pads.append(total % 2)
        sym.append(total // 2)
    x = F.pad(x, [0, pads[1], 0, pads[0]])
    return F.conv2d(x, w, stride=stride, padding=sym, groups=groups)


def torch_audioset_yamnet_forward(sd, patches):
    def bn_relu(x, p):
        return F.relu(F.batch_norm(x, sd[f"{p}.running_mean"], sd[f"{p}.running_var"],
                                   sd[f"{p}.weight"], sd[f"{p}.bias"], False, 0.0, 1e-4))
    x = bn_relu(conv_tf_same(patches[:, None], sd["layer1.fused.conv.weight"], 2), "layer1.fused.bn")
    for n, (cin, _, stride) in enumerate(YAMNET_BLOCKS, start=2):
        x = conv_tf_same(x, sd[f"layer{n}.depthwise_conv.conv.weight"], stride, groups=cin)
        x = bn_relu(x, f"layer{n}.depthwise_conv.bn")
        x = conv_tf_same(x, sd[f"layer{n}.pointwise_conv.conv.weight"], 1)
        x = bn_relu(x, f"layer{n}.pointwise_conv.bn")
    emb = x.mean(dim=(2, 3))
    return emb, torch.sigmoid(F.linear(emb, sd["classifier.weight"], sd["classifier.bias"]))


OPENL3_CHANNELS = ((1, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512),
                   (512, 512))


def torchopenl3_checkpoint(gen) -> dict:
    """torchopenl3 PytorchOpenl3 state dict (with its spectrogram buffers, to be ignored)."""
    sd = bn_state("batch_normalization_1", 1, gen)
    names = [f"conv2d_{i}" for i in range(1, 8)] + ["audio_embedding_layer"]
    for i, (name, (cin, cout)) in enumerate(zip(names, OPENL3_CHANNELS)):
        sd[f"{name}.weight"] = rand(cout, cin, 3, 3, scale=math.sqrt(2 / (9 * cin)), gen=gen)
        sd[f"{name}.bias"] = rand(cout, scale=0.01, gen=gen)
        if i < 7:
            sd.update(bn_state(f"batch_normalization_{i + 2}", cout, gen))
    sd["speclayer.mel_basis"] = torch.rand(256, 1025, generator=gen)
    return sd


def torchopenl3_forward(sd, spec):
    def bn(x, p):
        return F.batch_norm(x, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"],
                            sd[f"{p}.bias"], False, 0.0, 1e-3)
    x = bn(spec, "batch_normalization_1")
    for i in range(1, 8):
        x = F.conv2d(F.pad(x, (1, 1, 1, 1)), sd[f"conv2d_{i}.weight"], sd[f"conv2d_{i}.bias"])
        x = F.relu(bn(x, f"batch_normalization_{i + 1}"))
        if i in (2, 4, 6):
            x = F.max_pool2d(x, 2)
    x = F.conv2d(F.pad(x, (1, 1, 1, 1)), sd["audio_embedding_layer.weight"],
                 sd["audio_embedding_layer.bias"])
    return F.max_pool2d(x, (32, 24)).reshape(len(x), -1)


# -- declarations -----------------------------------------------------------------------------

def test_nodes_are_declared_and_registered():
    reg = Registry().load_builtins()
    for cls in E.NODES:
        spec = reg.get(cls.spec.id)
        assert spec.category == "Embeddings" and spec.rate == "static" and spec.title
        assert str(spec.inputs["audio"].type) == "AUDIO"
        assert str(spec.outputs["embedding"].type) == "TIMELINE"
        assert all(p.doc for p in spec.params.values())
        assert not any(p.linkable for p in spec.params.values())
    for cls in (E.VGGishEmbedding, E.YAMNetEmbedding, E.OpenL3Embedding):
        assert cls.spec.params["weights"].kind == "path"
    assert set(E.YAMNetEmbedding.spec.outputs) == {"embedding", "scores"}


def test_parameter_counts_match_the_published_architectures():
    for kind, kw in (("vggish", {}), ("yamnet", {}), ("openl3", {"input_repr": "mel256"})):
        arch = em.ARCHITECTURES[kind]
        assert em.count_parameters(arch(**kw)) == arch.REFERENCE_PARAMETERS, kind


# -- the three networks through the nodes' loading path ---------------------------------------

def test_vggish_loads_a_torchvggish_checkpoint(tmp_path):
    gen = torch.Generator().manual_seed(1)
    sd = torchvggish_checkpoint(gen)
    path = tmp_path / "vggish-port.pth"
    torch.save(sd, path)
    a = tones(2.0)
    node = E.VGGishEmbedding()
    tl = node.process(context(), audio=a, **defaults(E.VGGishEmbedding, weights=str(path)))["embedding"]
    assert tl.values.shape == (rows(a, 30), 128) and tl.fps == 30
    assert tl.names[0] == "vggish0" and tl.names[-1] == "vggish127"
    assert np.isfinite(tl.values).all() and tl.values.std(axis=0).max() > 0
    model = node._model
    assert torch.equal(model.conv4_2.weight, sd["features.13.weight"])
    patches = torch.randn(3, 96, 64)
    with torch.inference_mode():
        torch.testing.assert_close(model(patches), torchvggish_forward(sd, patches),
                                   rtol=1e-4, atol=1e-4)
    # the same model at another frame rate (cached) and with the checkpoint's PCA
    tl24 = node.process(context(24.0), audio=a,
                        **defaults(E.VGGishEmbedding, weights=str(path)))["embedding"]
    assert tl24.values.shape == (rows(a, 24), 128) and tl24.fps == 24
    q = node.process(context(), audio=a, **defaults(E.VGGishEmbedding, weights=str(path),
                                                    postprocess="quantized"))["embedding"].values
    # window rows are whole numbers 0..255; the frames between them are interpolated
    assert q.min() >= 0 and q.max() <= 255
    # a separate PCA file as torchvggish ships it (numpy arrays in a torch file): identity
    # whitening leaves the embedding as it is, clipped to [-2, 2]
    pca_file = tmp_path / "vggish_pca_params.pth"
    torch.save({"pca_eigen_vectors": np.eye(128), "pca_means": np.zeros(128)}, pca_file)
    node.process(context(), audio=a, **defaults(E.VGGishEmbedding, weights=str(path),
                                                postprocess="pca", pca_weights=str(pca_file)))
    cpu = torch.device("cpu")
    raw, _ = E.vggish_windows(node._model, a, 0.96, "none", cpu)
    ident, _ = E.vggish_windows(node._model, a, 0.96, "pca", cpu)
    np.testing.assert_allclose(ident, np.clip(raw, -2, 2), atol=1e-5)


def test_yamnet_loads_a_torch_audioset_checkpoint(tmp_path):
    gen = torch.Generator().manual_seed(2)
    sd = torch_audioset_yamnet_checkpoint(gen)
    path = tmp_path / "yamnet-port.pth"
    torch.save(sd, path)
    a = tones()
    node = E.YAMNetEmbedding()
    out = node.process(context(), audio=a, **defaults(E.YAMNetEmbedding, weights=str(path)))
    emb, scores = out["embedding"], out["scores"]
    n = rows(a, 30)
    assert emb.values.shape == (n, 1024) and scores.values.shape == (n, 521)
    assert emb.fps == scores.fps == 30 and emb.names[5] == "yamnet5"
    assert scores.names[:2] == ("class0", "class1")
    assert (scores.values >= 0).all() and (scores.values <= 1).all()
    assert emb.values.std(axis=0).max() > 0
    patches = torch.randn(4, 96, 64)
    with torch.inference_mode():
        ours = node._model(patches)
        ref = torch_audioset_yamnet_forward(sd, patches)
    torch.testing.assert_close(ours[0], ref[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours[1], ref[1], rtol=1e-4, atol=1e-5)


def test_yamnet_from_the_cache_with_class_names(empty_model_cache):
    folder = empty_model_cache / "yamnet"
    folder.mkdir(parents=True)
    torch.save(torch_audioset_yamnet_checkpoint(torch.Generator().manual_seed(3)),
               folder / "yamnet.pth")
    lines = ["index,mid,display_name"] + [f"{i},/m/{i},Sound {i}" for i in range(521)]
    (folder / "yamnet_class_map.csv").write_text("\n".join(lines) + "\n")
    out = E.YAMNetEmbedding().process(context(), audio=tones(1.0), **defaults(E.YAMNetEmbedding))
    assert out["scores"].names[:2] == ("Sound 0", "Sound 1")
    assert out["embedding"].values.shape == (30, 1024)


def test_openl3_loads_torchopenl3_checkpoints(tmp_path):
    gen = torch.Generator().manual_seed(4)
    sd = torchopenl3_checkpoint(gen)
    path = tmp_path / "openl3-port.pth"
    torch.save(sd, path)
    a = tones(2.0)
    node = E.OpenL3Embedding()
    tl = node.process(context(), audio=a, **defaults(E.OpenL3Embedding, weights=str(path),
                                                     hop=1.0))["embedding"]
    assert tl.values.shape == (rows(a, 30), 512) and tl.fps == 30
    assert tl.names[0] == "openl3_0" and np.isfinite(tl.values).all()
    assert tl.values.std(axis=0).max() > 0
    spec = torch.randn(1, 1, 256, 199)
    model = node._model
    with torch.inference_mode():
        ours = model.convs[-1](model_tail(model, spec))
    torch.testing.assert_close(F.max_pool2d(ours, (32, 24)).flatten(1),
                               torchopenl3_forward(sd, spec), rtol=1e-4, atol=1e-4)

    # torchopenl3's numpy weight dict (read without unpickling anything but arrays)
    layers = {}
    for k, v in sd.items():
        layer, _, kind = k.rpartition(".")
        if layer == "speclayer" or kind == "num_batches_tracked":
            continue
        conv = layer.startswith(("conv2d", "audio"))
        name = {"weight": "weights" if conv else "scale", "running_mean": "mean",
                "running_var": "var"}.get(kind, kind)
        layers.setdefault(layer, {})[name] = v.numpy()
    npy = tmp_path / "openl3_mel256_music_layer_weights"
    with open(npy, "wb") as f:
        np.save(f, np.array(layers, dtype=object), allow_pickle=True)
    node2 = E.OpenL3Embedding()
    tl2 = node2.process(context(), audio=a, **defaults(E.OpenL3Embedding, weights=str(npy),
                                                       hop=1.0))["embedding"]
    np.testing.assert_allclose(tl2.values, tl.values, rtol=1e-5, atol=1e-6)


def model_tail(model, spec):
    """afx's OpenL3 from the spectrogram up to (not including) the embedding layer."""
    x = model.input_bn(spec)
    for i, conv in enumerate(model.convs[:-1]):
        x = F.relu(model.bns[i](conv(x)))
        if i in model.POOL_AFTER:
            x = F.max_pool2d(x, 2)
    return x


def test_a_pickle_with_code_is_refused(tmp_path):
    bad = tmp_path / "evil.npy"
    np.save(bad, np.array([Fraction(1, 2)], dtype=object), allow_pickle=True)
    with pytest.raises(NodeInputError) as e:
        E.OpenL3Embedding().process(context(), audio=tones(1.0),
                                    **defaults(E.OpenL3Embedding, weights=str(bad)))
    assert e.value.issue.field == "weights" and "evil.npy" in str(e.value)
    assert "fractions.Fraction" in str(e.value)


def test_numpy_1_pickles_load(tmp_path):
    """Files written under numpy 1 name numpy.core.multiarray (numpy 2: numpy._core)."""
    buf = io.BytesIO()
    torch.save({"pca_eigen_vectors": np.eye(128), "pca_means": np.ones(128)}, buf,
               _use_new_zipfile_serialization=False)
    old = buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"numpy.core.multiarray" in old
    (tmp_path / "pca.pth").write_bytes(old)
    matrix, means = em.vggish_pca_from(*em.read_weight_file(tmp_path / "pca.pth"))
    assert matrix.shape == (128, 128) and float(means.sum()) == 128
    weights = {"conv2d_1": {"weights": np.ones((2, 2), np.float32)}}
    data = pickle.dumps(np.array(weights, dtype=object), protocol=2)
    data = data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"numpy.core.multiarray" in data
    with open(tmp_path / "w.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|O", "fortran_order": False, "shape": ()})
        f.write(data)
    fmt, content = em.read_weight_file(tmp_path / "w.npy")
    assert fmt == "npy" and content["conv2d_1"]["weights"].sum() == 4


def keras_conv(t):
    return t.numpy().transpose(2, 3, 1, 0)          # torch -> Keras (kh, kw, in, out)


def keras_yamnet_layers(sd, classifier="logits") -> list:
    """A torch_audioset checkpoint as the Keras layers of Google's yamnet.h5 (the classifier
    is ``logits`` in the released file, ``dense`` when saved from the current yamnet.py)."""
    depthwise = lambda t: t.numpy().transpose(2, 3, 0, 1)        # (in,1,kh,kw) -> (kh,kw,in,1)
    bn = lambda p: {"beta": sd[f"{p}.bias"].numpy(), "moving_mean": sd[f"{p}.running_mean"].numpy(),
                    "moving_variance": sd[f"{p}.running_var"].numpy()}
    layers = [("layer1/conv", {"kernel": keras_conv(sd["layer1.fused.conv.weight"])}),
              ("layer1/conv/bn", bn("layer1.fused.bn"))]
    for n in range(2, 15):
        layers += [
            (f"layer{n}/depthwise_conv",
             {"depthwise_kernel": depthwise(sd[f"layer{n}.depthwise_conv.conv.weight"])}),
            (f"layer{n}/depthwise_conv/bn", bn(f"layer{n}.depthwise_conv.bn")),
            (f"layer{n}/pointwise_conv",
             {"kernel": keras_conv(sd[f"layer{n}.pointwise_conv.conv.weight"])}),
            (f"layer{n}/pointwise_conv/bn", bn(f"layer{n}.pointwise_conv.bn"))]
    layers.append((classifier, {"kernel": sd["classifier.weight"].numpy().T,
                                "bias": sd["classifier.bias"].numpy()}))
    return layers


def test_keras_h5_files_load(tmp_path):
    import h5py  # a test dependency: the .h5 path is real code and must run in CI
    gen = torch.Generator().manual_seed(5)

    def keras_layer(f, name, weights):
        g = f.require_group(name)
        g.attrs["weight_names"] = [f"{name}/{w}:0".encode() for w in weights]
        for w, arr in weights.items():
            g.create_dataset(f"{name}/{w}:0", data=arr)

    # YAMNet as Google's yamnet.h5
    sd = torch_audioset_yamnet_checkpoint(gen)
    conv = keras_conv
    path = tmp_path / "yamnet.h5"
    layers = keras_yamnet_layers(sd)
    with h5py.File(path, "w") as f:
        for name, w in layers:
            keras_layer(f, name, w)
        f.attrs["layer_names"] = [name.encode() for name, _ in layers]
    model = em.load_model("yamnet", path)
    patches = torch.randn(2, 96, 64)
    with torch.inference_mode():
        torch.testing.assert_close(model(patches)[0], torch_audioset_yamnet_forward(sd, patches)[0],
                                   rtol=1e-4, atol=1e-5)

    # OpenL3 as marl/openl3's Keras weights (layer order from the file, not the names)
    sd = torchopenl3_checkpoint(gen)
    path = tmp_path / "openl3_audio_mel256_music.h5"
    order = ["batch_normalization_1"]
    for i in range(1, 8):
        order += [f"conv2d_{i}", f"batch_normalization_{i + 1}"]
    order.append("audio_embedding_layer")
    with h5py.File(path, "w") as f:
        for name in order:
            if name.startswith("batch"):
                keras_layer(f, name, {"gamma": sd[f"{name}.weight"].numpy(),
                                      "beta": sd[f"{name}.bias"].numpy(),
                                      "moving_mean": sd[f"{name}.running_mean"].numpy(),
                                      "moving_variance": sd[f"{name}.running_var"].numpy()})
            else:
                keras_layer(f, name, {"kernel": conv(sd[f"{name}.weight"]),
                                      "bias": sd[f"{name}.bias"].numpy()})
        f.attrs["layer_names"] = [n.encode() for n in order]
    model = em.load_model("openl3", path, input_repr="mel256")
    spec = torch.randn(1, 1, 256, 199)
    with torch.inference_mode():
        ours = model.convs[-1](model_tail(model, spec))
    torch.testing.assert_close(F.max_pool2d(ours, (32, 24)).flatten(1),
                               torchopenl3_forward(sd, spec), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("classifier", ["logits", "dense", "yamnet_frames/dense_1"])
def test_yamnet_keras_classifier_is_found_by_shape_under_any_name(classifier):
    """Released yamnet.h5: ``logits``; saved from the current yamnet.py: ``dense``."""
    sd = torch_audioset_yamnet_checkpoint(torch.Generator().manual_seed(8))
    model = em.YAMNet()
    em.load_into(model, em.map_yamnet(model, "keras", keras_yamnet_layers(sd, classifier)), "h5")
    assert torch.equal(model.logits.weight, sd["classifier.weight"])
    assert torch.equal(model.logits.bias, sd["classifier.bias"])


def test_yamnet_keras_without_or_with_two_classifiers_is_refused():
    sd = torch_audioset_yamnet_checkpoint(torch.Generator().manual_seed(9))
    layers = keras_yamnet_layers(sd, "dense")
    model = em.YAMNet()
    with pytest.raises(em.WeightsError, match="missing .*logits"):
        em.load_into(model, em.map_yamnet(model, "keras", layers[:-1]), "h5")
    with pytest.raises(em.WeightsError, match="2 layers shaped like YAMNet's classifier"):
        em.map_yamnet(model, "keras", layers + [("logits", layers[-1][1])])
    # a dense layer of another shape is not taken for it
    other = layers[:-1] + [("dense", {"kernel": np.zeros((1024, 10), np.float32),
                                      "bias": np.zeros(10, np.float32)})]
    with pytest.raises(em.WeightsError, match="missing"):
        em.load_into(model, em.map_yamnet(model, "keras", other), "h5")


def test_vggish_quantisation_truncates_like_googles_postprocessor():
    """vggish_postprocess.py: clip to [-2, 2], (x + 2) * 255 / 4, then astype(uint8), which
    truncates: a value just under a step stays on the step below."""
    model = em.VGGish()
    model.set_pca(np.eye(128), np.zeros(128))
    step = 4.0 / 255.0
    k = torch.arange(128, dtype=torch.float64) % 255
    x = (-2.0 + (k + 0.999) * step).float()[None]       # 0.999 of the way to the next step
    q = model.postprocess(x, quantize=True)
    assert torch.equal(q[0], k.float())
    google = ((np.clip(x.numpy().astype(np.float64), -2, 2) + 2.0) * (255.0 / 4.0)).astype(np.uint8)
    np.testing.assert_array_equal(q.numpy(), google)
    # the ends and the clipping
    ends = model.postprocess(torch.tensor([[-5.0, -2.0, 2.0, 5.0] + [0.0] * 124]), quantize=True)
    assert ends[0, :4].tolist() == [0.0, 0.0, 255.0, 255.0]
    assert ends[0, 4].item() == 127.0                   # 63.75 * 2 = 127.5 -> 127, not 128
    torch.testing.assert_close(model.postprocess(x, quantize=False), x)


# -- front ends against librosa ----------------------------------------------------------------

def test_audioset_log_mel_agrees_with_librosa():
    import librosa
    a = tones(2.0, sr=16000)
    y = a.mono
    fe = em.AudioSetLogMel(0.01)
    ours = fe(torch.from_numpy(y)).numpy()
    # librosa centres the 400-sample window in the 512-point frame: shift by 56 to align
    mag = np.abs(librosa.stft(np.pad(y, 56), n_fft=512, hop_length=160, win_length=400,
                              window="hann", center=False)).T[:len(ours)]
    np.testing.assert_allclose(fe.magnitude(torch.from_numpy(y)).numpy(), mag, rtol=1e-4,
                               atol=1e-4 * mag.max())
    mel = librosa.filters.mel(sr=16000, n_fft=512, n_mels=64, fmin=125, fmax=7500, htk=True,
                              norm=None)
    # VGGish/YAMNet triangles are linear in mel, librosa's in Hz: the same bands within 0.5%
    np.testing.assert_allclose(em.mel_matrix_tf(512, 16000, 64, 125, 7500).T, mel, atol=5e-3)
    ref = np.log(mag @ mel.T + 0.01)
    assert ours.shape == (198, 64)
    assert np.abs(ours - ref).max() < 0.02 and np.abs(ours - ref).mean() < 2e-3


def test_openl3_spectrogram_agrees_with_librosa():
    import librosa
    rng = np.random.default_rng(0)
    t = np.arange(48000) / 48000
    y = (0.4 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(48000)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # librosa: some of 256 bands are empty at 2048 points
        mel = librosa.filters.mel(sr=48000, n_fft=2048, n_mels=256, fmin=0, fmax=24000, htk=True,
                                  norm="slaney")
    np.testing.assert_allclose(em.mel_matrix_slaney(2048, 48000, 256, 0, 24000), mel, atol=1e-7)
    power = np.abs(librosa.stft(np.pad(y, 982), n_fft=2048, hop_length=242, window="hann",
                                center=False)) ** 2
    db = 10 * np.log10(np.maximum(np.sqrt(mel @ power), 1e-10))
    ref = np.maximum(db - db.max(), -80.0)
    ours = em.KapreSpectrogram("mel256")(torch.from_numpy(y)[None])[0, 0].numpy()
    assert ours.shape == ref.shape == (256, 199)
    loud = ref > -60
    np.testing.assert_allclose(ours[loud], ref[loud], atol=0.01)
    assert np.abs(ours - ref).max() < 0.5


def test_windows_become_frames_by_linear_interpolation_with_held_ends():
    values = np.array([[0.0], [10.0], [20.0]])
    out = E.windows_to_frames(values, np.array([0.5, 1.5, 2.5]), 30, 10.0)
    assert out.shape == (30, 1)
    assert out[0, 0] == 0 and out[5, 0] == 0 and out[29, 0] == 20      # held before/after
    assert out[10, 0] == pytest.approx(5.0) and out[15, 0] == pytest.approx(10.0)


# -- missing weights --------------------------------------------------------------------------

@pytest.mark.parametrize("cls,filename", [(E.VGGishEmbedding, "vggish-10086976.pth"),
                                          (E.YAMNetEmbedding, "yamnet.pth"),
                                          (E.OpenL3Embedding, "openl3_mel256_music_layer_weights")])
def test_missing_weights_say_what_to_get_and_where(cls, filename, empty_model_cache):
    with pytest.raises(NodeInputError) as e:
        cls().process(context(), audio=tones(1.0), **defaults(cls))
    msg = str(e.value)
    assert e.value.issue.field == "weights"
    assert filename in msg and "https://" in msg
    assert str(empty_model_cache / cls.kind) in msg and "afx models" in msg


def test_unusable_weight_files_are_user_errors(tmp_path):
    with pytest.raises(NodeInputError, match="not found"):
        E.YAMNetEmbedding().process(context(), audio=tones(1.0),
                                    **defaults(E.YAMNetEmbedding, weights=str(tmp_path / "no.pth")))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(NodeInputError, match="junk.pth"):
        E.YAMNetEmbedding().process(context(), audio=tones(1.0),
                                    **defaults(E.YAMNetEmbedding, weights=str(junk)))
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, wrong)
    with pytest.raises(NodeInputError, match="torch_audioset") as e:
        E.YAMNetEmbedding().process(context(), audio=tones(1.0),
                                    **defaults(E.YAMNetEmbedding, weights=str(wrong)))
    assert e.value.issue.field == "weights"


def test_missing_weights_through_the_executor_name_the_node():
    text = """
afx: 1
settings: {size: [32, 32], fps: 10, duration: 1}
nodes:
  music: {type: audio.synth, params: {length: 1.0}}
  mood: {type: embed.vggish, inputs: {audio: music.audio}}
"""
    g = Graph.from_patch(loads(text), Registry().load_builtins())
    with pytest.raises(NodeFailure) as e:
        Executor(g, device="cpu").evaluate_static(Plan(g, targets=["mood"]), g.render_settings())
    assert e.value.issue.node == "mood" and e.value.issue.field == "weights"
    assert "node 'mood'" in str(e.value) and "vggish-10086976.pth" in str(e.value)


# -- the built-in timbre embedding ------------------------------------------------------------

def test_timbre_embedding_shape_range_and_determinism():
    a = tones()
    tl = E.TimbreEmbedding().process(context(), audio=a, **defaults(E.TimbreEmbedding))["embedding"]
    assert tl.values.shape == (rows(a, 30), 32) and tl.fps == 30 and tl.names[0] == "timbre0"
    assert np.isfinite(tl.values).all() and tl.values.min() >= -1 and tl.values.max() <= 1
    # the chord changes half way: the embedding moves with it
    first, second = tl.values[10:35].mean(axis=0), tl.values[55:80].mean(axis=0)
    assert np.abs(first - second).max() > 0.5
    again = E.TimbreEmbedding().process(context(), audio=a, **defaults(E.TimbreEmbedding))["embedding"]
    assert np.array_equal(tl.values, again.values)
    raw = E.TimbreEmbedding().process(context(24), audio=a, **defaults(E.TimbreEmbedding, dims=0))
    raw = raw["embedding"]
    assert raw.values.shape == (rows(a, 24), 119) and "chroma_A" in raw.names
    other = E.TimbreEmbedding().process(context(), audio=a, **defaults(E.TimbreEmbedding, seed=1))
    assert not np.array_equal(other["embedding"].values, tl.values)


def test_timbre_embedding_of_silence_and_tiny_audio_is_zero_and_finite():
    for audio in (Audio(np.zeros((1, SR * 2), np.float32), SR), Audio(np.zeros((1, 10), np.float32), SR)):
        tl = E.TimbreEmbedding().process(context(), audio=audio, **defaults(E.TimbreEmbedding))
        v = tl["embedding"].values
        assert v.shape == (E.frame_count(audio, 30), 32)
        assert np.isfinite(v).all() and np.abs(v).max() == 0


# -- afx models -------------------------------------------------------------------------------

def run_models(*argv) -> tuple[int, str]:
    from afx_graph.commands import models
    parser = argparse.ArgumentParser(prog="afx")
    models.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["models", *argv])
    out = io.StringIO()
    with redirect_stdout(out):
        rc = args.func(args)
    return rc, out.getvalue()


def test_afx_models_lists_every_model_as_missing(empty_model_cache):
    rc, text = run_models()
    assert rc == 0
    for key, filename in (("vggish", "vggish-10086976.pth"), ("yamnet", "yamnet.pth"),
                          ("openl3", "openl3_audio_mel256_music.h5")):
        assert key in text and filename in text
        assert str(empty_model_cache / key) in text
    assert "missing" in text and "present" not in text.replace("missing", "")
    rc, text = run_models("--json")
    data = json.loads(text)
    assert sorted(m["model"] for m in data["models"]) == ["openl3", "vggish", "yamnet"]
    assert all(m["status"] == "missing" for m in data["models"])
    assert all(m["looked_in"] and m["files"][0]["url"] for m in data["models"])
    # a file in the cache shows as present, with its path
    (empty_model_cache / "yamnet").mkdir(parents=True)
    (empty_model_cache / "yamnet" / "yamnet.pth").write_bytes(b"x")
    data = json.loads(run_models("--json")[1])
    yam = next(m for m in data["models"] if m["model"] == "yamnet")
    assert yam["status"] == "present" and yam["path"].endswith("yamnet.pth")


def test_download_fails_gracefully_without_internet(monkeypatch, empty_model_cache):
    src = E.WeightSource("yamnet.pth", "http://127.0.0.1:9/yamnet.pth", "test")
    monkeypatch.setitem(E.CATALOGUE, "yamnet", E.ModelEntry("yamnet", "embed.yamnet", "YAMNet",
                                                            "YAMNet", (src,)))
    with pytest.raises(AfxError) as e:
        run_models("--download", "yamnet")
    msg = str(e.value)
    assert "yamnet.pth" in msg and "http://127.0.0.1:9/yamnet.pth" in msg
    assert str(empty_model_cache / "yamnet") in msg
    assert not any((empty_model_cache / "yamnet").iterdir())      # no partial file left


# -- benchmark and an end-to-end render -------------------------------------------------------

def test_bench_embeddings_reports_every_embedding():
    """Every embedding node type's ``bench`` hook, found through the registry the way
    ``afx bench embeddings`` finds them."""
    reg = Registry().load_builtins()
    c = Executor(Graph(reg), device="cpu").context(RenderSettings(fps=30.0))
    rows_ = [spec.cls().bench(c, seconds=0.5) for spec in reg.specs()
             if spec.category == "Embeddings" and spec.hook("bench") is not None]
    assert sorted(r["model"] for r in rows_) == ["embed.openl3", "embed.timbre", "embed.vggish",
                                                 "embed.yamnet"]
    assert {r["model"]: r["dims"] for r in rows_} == {"embed.vggish": 128, "embed.yamnet": 1024,
                                                      "embed.openl3": 512, "embed.timbre": 32}
    assert all(r["ms_per_audio_second"] > 0 and r["frames"] == 15 for r in rows_)


def test_cppn_embedding_patch_renders(tmp_path):
    """graphs/cppn_embedding.yaml through the render API behind `afx run`, as
    `afx run graphs/cppn_embedding.yaml -o e.mp4 --size 64x36 --duration 2`."""
    out = tmp_path / "e.mp4"
    g = Graph.from_patch(load_patch(ROOT / "graphs" / "cppn_embedding.yaml"),
                         Registry().load_builtins())
    stats, written = render_graph(g, RunOptions(output=str(out), size=(64, 36), duration=2.0,
                                                sets=["music.length=2.5"], device="cpu",
                                                out_dir=tmp_path))
    assert written == [out] and stats.frames == 60
    info = read_video(out)
    frames = info["frames"].astype(np.float32)
    assert frames.shape[0] == 60 and frames.shape[1:3] == (36, 64)
    assert frames.std(axis=(1, 2, 3)).min() > 10                  # no flat frames
    assert np.abs(np.diff(frames, axis=0)).mean() > 2               # and they move
