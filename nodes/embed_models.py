"""Published audio-embedding networks in PyTorch: VGGish, YAMNet and OpenL3 (audio), each with
the preprocessing it was trained on, and loaders that map the weight files people can get
(the maintained PyTorch ports, the original Keras ``.h5`` files) onto these modules.

Written for afx from the published definitions; no code of the originals or the ports is
copied. What each follows:

* **VGGish** (Hershey et al. 2017; ``tensorflow/models research/audioset/vggish``):
  16 kHz mono, 25 ms periodic-Hann window / 10 ms hop, 512-point FFT magnitude, 64 mel bands
  125-7500 Hz (HTK mel, triangles linear in mel, DC bin excluded), ``log(mel + 0.01)``, examples
  of 96 frames x 64 bands. VGG stack conv64-pool-conv128-pool-conv256x2-pool-conv512x2-pool,
  3x3 convs with SAME padding, then fc 4096-4096-128; the 128-D layer is linear, as in
  ``vggish_slim.py`` (torchvggish puts a ReLU there). Optional AudioSet PCA whitening and 8-bit
  quantisation (``vggish_postprocess.py``, which truncates to the step below: ``astype(uint8)``).
* **YAMNet** (``tensorflow/models research/audioset/yamnet``): same 16 kHz front end with
  ``log(mel + 0.001)``, patches of 96 frames hopping 0.48 s, waveform padded to whole patches.
  MobileNetV1: a 3x3/2 conv (32) and 13 depthwise-separable blocks (64, 128/2, 128, 256/2, 256,
  512/2, 5x512, 1024/2, 1024), TensorFlow SAME padding, batch norm without scale (eps 1e-4),
  global average pooling -> 1024-D embedding, dense -> 521 sigmoid AudioSet scores.
* **OpenL3** audio subnetwork (Cramer et al. 2019; ``marl/openl3``): 48 kHz, 1 s windows; the
  kapre 0.1.4 front end its published weights were trained with (not openl3 0.4's kapre 0.3
  front end, which computes the spectrogram differently and so shifts the embeddings):
  mel256 / mel128 (2048-point periodic-Hann STFT, hop 242, SAME padding, power spectrum through
  an HTK mel filterbank with Slaney area norm, square root, 10*log10, minus the window's
  maximum, floor -80 dB) or linear (512-point, VALID,
  magnitude, same dB scaling); batch norm on the input, four blocks of two 3x3 conv+BN+ReLU
  (64, 128, 256, 512) with 2x2 max pooling between the first three, the last conv
  (``audio_embedding_layer``) without BN/ReLU, then max pooling over the whole map -> 512-D.
"""
from __future__ import annotations

import math
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class WeightsError(ValueError):
    """A weight file that cannot be used; the message says why."""


# -- mel filterbanks --------------------------------------------------------------------------

def hz_to_mel(f):
    """HTK mel scale (1127 ln(1 + f/700))."""
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * np.expm1(np.asarray(m, dtype=np.float64) / 1127.0)


def mel_matrix_tf(n_fft: int, sr: float, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """``(n_fft//2 + 1, n_mels)`` filterbank of VGGish's ``mel_features`` and
    ``tf.signal.linear_to_mel_weight_matrix`` (YAMNet): triangles linear on the HTK mel scale
    between equally spaced mel edges, the DC bin always zero, no area normalisation."""
    bins_mel = hz_to_mel(np.linspace(0.0, sr / 2.0, n_fft // 2 + 1))[:, None]
    edges = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    w = np.maximum(0.0, np.minimum((bins_mel - lo) / (mid - lo), (hi - bins_mel) / (hi - mid)))
    w[0, :] = 0.0
    return w.astype(np.float32)


def mel_matrix_slaney(n_fft: int, sr: float, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """``(n_mels, n_fft//2 + 1)`` filterbank of kapre 0.1.4 / librosa with ``htk=True,
    norm='slaney'``: edges equally spaced on the HTK mel scale, triangles linear in Hz, each
    scaled to unit area (2 / bandwidth)."""
    freqs = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    width = np.diff(edges)
    rise = (freqs[None, :] - edges[:-2, None]) / width[:-1, None]
    fall = (edges[2:, None] - freqs[None, :]) / width[1:, None]
    w = np.maximum(0.0, np.minimum(rise, fall))
    w *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return w.astype(np.float32)


# -- front ends (torch, on the device) --------------------------------------------------------

class AudioSetLogMel(nn.Module):
    """16 kHz waveform -> ``(frames, 64)`` log-mel, the front end of VGGish and YAMNet: frame
    ``j`` covers samples ``[160 j, 160 j + 400)`` (no centring), periodic Hann, 512-point FFT
    magnitude, the TF mel matrix, ``log(mel + offset)``."""

    sr, win, hop, n_fft, n_mels, fmin, fmax = 16000, 400, 160, 512, 64, 125.0, 7500.0
    CHUNK = 8192        # STFT frames per step: bounds memory on long tracks

    def __init__(self, log_offset: float):
        super().__init__()
        self.log_offset = float(log_offset)
        self.register_buffer("window", torch.hann_window(self.win, periodic=True), persistent=False)
        self.register_buffer("mel", torch.from_numpy(
            mel_matrix_tf(self.n_fft, self.sr, self.n_mels, self.fmin, self.fmax)), persistent=False)

    def magnitude(self, y: torch.Tensor) -> torch.Tensor:
        """|STFT| of ``y`` (L,) -> ``(frames, 257)``."""
        frames = y.unfold(0, self.win, self.hop)
        out = [torch.fft.rfft(frames[s:s + self.CHUNK] * self.window, n=self.n_fft).abs()
               for s in range(0, len(frames), self.CHUNK)]
        return torch.cat(out) if out else y.new_zeros(0, self.n_fft // 2 + 1)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return torch.log(self.magnitude(y) @ self.mel + self.log_offset)

    @classmethod
    def frames_in(cls, n_samples: int) -> int:
        return 0 if n_samples < cls.win else 1 + (n_samples - cls.win) // cls.hop


class KapreSpectrogram(nn.Module):
    """OpenL3's kapre 0.1.4 front end: ``(N, samples)`` 1 s windows at 48 kHz ->
    ``(N, 1, bins, frames)`` decibels relative to each window's maximum, floored at -80 dB."""

    sr, hop, amin, dynamic_range = 48000, 242, 1e-10, 80.0

    def __init__(self, input_repr: str = "mel256"):
        super().__init__()
        if input_repr not in ("mel256", "mel128", "linear"):
            raise ValueError(f"unknown OpenL3 input representation {input_repr!r}")
        self.input_repr = input_repr
        self.n_fft = 512 if input_repr == "linear" else 2048
        self.register_buffer("window", torch.hann_window(self.n_fft, periodic=True), persistent=False)
        if input_repr == "linear":
            self.mel = None
        else:
            n_mels = 256 if input_repr == "mel256" else 128
            self.register_buffer("mel", torch.from_numpy(
                mel_matrix_slaney(self.n_fft, self.sr, n_mels, 0.0, self.sr / 2)).T.contiguous(),
                persistent=False)

    def same_padding(self, n: int) -> tuple[int, int]:
        """Keras SAME padding of a strided 1-D convolution over ``n`` samples."""
        total = max((math.ceil(n / self.hop) - 1) * self.hop + self.n_fft - n, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mel is not None:    # mel reps: SAME padding; linear: VALID
            x = F.pad(x, self.same_padding(x.shape[-1]))
        frames = x.unfold(-1, self.n_fft, self.hop) * self.window          # (N, T, n_fft)
        spec = torch.fft.rfft(frames, dim=-1)
        power = spec.real.square() + spec.imag.square()                      # (N, T, bins)
        if self.mel is not None:
            power = power @ self.mel                                         # (N, T, mels)
        # kapre: sqrt(power) ** power_melgram(1.0), then amplitude_to_decibel (10 log10)
        db = 10.0 * torch.log10(torch.clamp(power.sqrt(), min=self.amin))
        db = db - db.amax(dim=(1, 2), keepdim=True)
        return torch.clamp(db, min=-self.dynamic_range).transpose(1, 2).unsqueeze(1)

    def frames_out(self, n: int) -> int:
        if self.mel is not None:
            return math.ceil(n / self.hop)
        return 1 + (n - self.n_fft) // self.hop


# -- shared layers ----------------------------------------------------------------------------

def tf_same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad ``(N, C, H, W)`` like TensorFlow's SAME: the odd pixel goes after."""
    pads = []
    for size in (x.shape[3], x.shape[2]):               # F.pad order: W then H
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class BatchNormNoScale(nn.Module):
    """Inference batch norm with a learned shift but no scale (Keras ``scale=False``)."""

    def __init__(self, channels: int, eps: float):
        super().__init__()
        self.eps = eps
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, None, self.bias, False, 0.0,
                            self.eps)


def count_parameters(module: nn.Module) -> int:
    """Weights plus batch-norm statistics (Keras counts both), without torch's
    ``num_batches_tracked`` counters."""
    return sum(v.numel() for k, v in module.state_dict().items()
               if not k.endswith("num_batches_tracked"))


# -- VGGish -----------------------------------------------------------------------------------

class VGGish(nn.Module):
    """VGGish: ``(N, 96, 64)`` log-mel examples -> ``(N, 128)`` embeddings."""

    sample_rate = 16000
    log_offset = 0.01
    example_frames = 96
    dims = 128
    # (name, in, out, max-pool after) in the order of vggish_slim.py's scopes
    CONVS = (("conv1", 1, 64, True), ("conv2", 64, 128, True), ("conv3_1", 128, 256, False),
             ("conv3_2", 256, 256, True), ("conv4_1", 256, 512, False), ("conv4_2", 512, 512, True))
    FCS = (("fc1_1", 512 * 6 * 4, 4096), ("fc1_2", 4096, 4096), ("fc2", 4096, 128))
    # the published vggish_slim.py layer list (the paper's "72M"); afx counts the same
    REFERENCE_PARAMETERS = 72_141_184

    def __init__(self):
        super().__init__()
        self.frontend = AudioSetLogMel(self.log_offset)
        for name, cin, cout, _ in self.CONVS:
            self.add_module(name, nn.Conv2d(cin, cout, 3, padding=1))
        for name, cin, cout in self.FCS:
            self.add_module(name, nn.Linear(cin, cout))
        # AudioSet PCA postprocessor: None until loaded (not part of the network's state dict)
        self.register_buffer("pca_matrix", None, persistent=False)
        self.register_buffer("pca_means", None, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(1)
        for name, _, _, pool in self.CONVS:
            x = F.relu(getattr(self, name)(x))
            if pool:
                x = F.max_pool2d(x, 2)
        x = x.permute(0, 2, 3, 1).flatten(1)          # TensorFlow's (H, W, C) flatten order
        x = F.relu(self.fc1_1(x))
        x = F.relu(self.fc1_2(x))
        return self.fc2(x)

    def set_pca(self, matrix, means) -> None:
        matrix = torch.as_tensor(np.asarray(matrix), dtype=torch.float32)
        means = torch.as_tensor(np.asarray(means), dtype=torch.float32).reshape(-1)
        if tuple(matrix.shape) != (128, 128) or means.numel() != 128:
            raise WeightsError(f"PCA parameters have shapes {tuple(matrix.shape)} and "
                               f"{tuple(means.shape)}, expected (128, 128) and (128,)")
        dev = self.fc2.weight.device
        self.pca_matrix, self.pca_means = matrix.to(dev), means.to(dev)

    @property
    def has_pca(self) -> bool:
        return self.pca_matrix is not None

    def postprocess(self, emb: torch.Tensor, quantize: bool) -> torch.Tensor:
        """AudioSet release: PCA (with whitening), clip to [-2, 2], and with ``quantize`` the
        8-bit values 0..255 of the released embeddings."""
        if self.pca_matrix is None:
            raise WeightsError("no PCA parameters loaded")
        x = torch.clamp((emb - self.pca_means) @ self.pca_matrix.T, -2.0, 2.0)
        if not quantize:
            return x
        # vggish_postprocess.py: (x - min) * (255 / (max - min)), then astype(uint8), which
        # truncates (the value is never negative here, so truncation is the floor)
        return torch.floor((x + 2.0) * (255.0 / 4.0))


# -- YAMNet -----------------------------------------------------------------------------------

class SeparableBlock(nn.Module):
    """Depthwise 3x3 (stride s) + BN + ReLU, pointwise 1x1 + BN + ReLU."""

    def __init__(self, cin: int, cout: int, stride: int, eps: float):
        super().__init__()
        self.stride = stride
        self.depthwise = nn.Conv2d(cin, cin, 3, stride=stride, groups=cin, bias=False)
        self.depthwise_bn = BatchNormNoScale(cin, eps)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.pointwise_bn = BatchNormNoScale(cout, eps)

    def forward(self, x):
        x = F.relu(self.depthwise_bn(self.depthwise(tf_same_pad(x, 3, self.stride))))
        return F.relu(self.pointwise_bn(self.pointwise(x)))


class YAMNet(nn.Module):
    """YAMNet: ``(N, 96, 64)`` log-mel patches -> ``(N, 1024)`` embeddings and ``(N, 521)``
    AudioSet class scores."""

    sample_rate = 16000
    log_offset = 0.001
    example_frames = 96
    dims = 1024
    classes = 521
    eps = 1e-4
    # (out channels, stride) of the 13 separable blocks after the 3x3/2 stem of 32
    BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
              (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
    # Keras count_params() of Google's yamnet model (weights + batch-norm statistics)
    REFERENCE_PARAMETERS = 3_751_369

    def __init__(self):
        super().__init__()
        self.frontend = AudioSetLogMel(self.log_offset)
        self.stem = nn.Conv2d(1, 32, 3, stride=2, bias=False)
        self.stem_bn = BatchNormNoScale(32, self.eps)
        blocks, cin = [], 32
        for cout, stride in self.BLOCKS:
            blocks.append(SeparableBlock(cin, cout, stride, self.eps))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.logits = nn.Linear(1024, self.classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu(self.stem_bn(self.stem(tf_same_pad(x.unsqueeze(1), 3, 2))))
        for block in self.blocks:
            x = block(x)
        emb = x.mean(dim=(2, 3))
        return emb, torch.sigmoid(self.logits(emb))


# -- OpenL3 -----------------------------------------------------------------------------------

class OpenL3(nn.Module):
    """OpenL3 audio subnetwork: ``(N, 48000)`` 1 s windows at 48 kHz -> ``(N, 512)``."""

    sample_rate = 48000
    window = 48000
    dims = 512
    eps = 1e-3
    CHANNELS = ((1, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512),
                (512, 512))
    POOL_AFTER = (1, 3, 5)          # 2x2 max pooling after these convs
    # max-pool size giving the 512-D embedding (the whole final map), per input representation
    POOL_512 = {"mel256": (32, 24), "mel128": (16, 24), "linear": (32, 24)}
    # what Keras counts for the published layer list (8 convs + 8 batch norms with statistics);
    # no official figure is published
    REFERENCE_PARAMETERS = 4_689_860

    def __init__(self, input_repr: str = "mel256"):
        super().__init__()
        self.input_repr = input_repr
        self.frontend = KapreSpectrogram(input_repr)
        self.input_bn = nn.BatchNorm2d(1, eps=self.eps)
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 3, padding=1) for i, o in self.CHANNELS)
        self.bns = nn.ModuleList(nn.BatchNorm2d(o, eps=self.eps) for _, o in self.CHANNELS[:-1])

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        x = self.input_bn(self.frontend(windows))
        for i, conv in enumerate(self.convs[:-1]):
            x = F.relu(self.bns[i](conv(x)))
            if i in self.POOL_AFTER:
                x = F.max_pool2d(x, 2)
        x = self.convs[-1](x)                                   # audio_embedding_layer
        x = F.max_pool2d(x, self.POOL_512[self.input_repr])
        return x.permute(0, 2, 3, 1).flatten(1)


ARCHITECTURES = {"vggish": VGGish, "yamnet": YAMNet, "openl3": OpenL3}


# -- reading weight files ---------------------------------------------------------------------

H5_MAGIC = b"\x89HDF\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"


def read_weight_file(path: Path) -> tuple[str, object]:
    """Read a weight file without running code from it. Returns ``(format, content)``:
    ``("torch", state dict)``, ``("npz", dict of arrays)``, ``("npy", object)`` or
    ``("keras", [(layer name, {weight name: array})...])``."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x1f\x8b"):
        raise WeightsError("is gzip-compressed: decompress it first (gunzip)")
    if head == H5_MAGIC:
        return "keras", read_keras_h5(path)
    if head.startswith(NPY_MAGIC):
        return "npy", read_npy(path)
    if head.startswith(b"PK") and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        if not any(n.endswith("data.pkl") for n in names):
            with np.load(path, allow_pickle=False) as npz:
                return "npz", {k: npz[k] for k in npz.files}
    return "torch", read_torch(path)


# numpy's pickled arrays (numpy 1 and 2 module names): all that the restricted loaders allow
def _numpy_globals() -> dict[str, object]:
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    allowed = {"_reconstruct": multiarray._reconstruct, "scalar": multiarray.scalar}
    out = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        for name, obj in allowed.items():
            out[f"{mod}.{name}"] = obj
    out["numpy.ndarray"] = np.ndarray
    out["numpy.dtype"] = np.dtype
    import codecs
    import collections
    out["collections.OrderedDict"] = collections.OrderedDict
    out["_codecs.encode"] = codecs.encode      # how protocol-2 pickles spell bytes
    for t in (np.dtypes.Float32DType, np.dtypes.Float64DType, np.dtypes.Int64DType,
              np.dtypes.Int32DType) if hasattr(np, "dtypes") else ():
        out[f"numpy.dtypes.{t.__name__}"] = t
    return out


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists and numpy arrays; refuses any other class (no code runs)."""

    allowed = None

    def find_class(self, module, name):
        obj = _numpy_globals().get(f"{module}.{name}")
        if obj is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return obj


def read_npy(path: Path):
    """A ``.npy`` file; an object array (a pickled dict, as torchopenl3's weights are) is read
    with an unpickler that only builds numpy arrays and plain containers."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if not dtype.hasobject:
            f.seek(0)
            return np.load(f, allow_pickle=False)
        try:
            obj = _NumpyOnlyUnpickler(f, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as e:
            raise WeightsError(f"cannot read it as numpy weights: {e}") from None
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
        obj = obj.item()
    return obj


def read_torch(path: Path) -> dict:
    """A PyTorch checkpoint, loaded with ``weights_only=True`` (tensors, containers and, for
    torchvggish's PCA file, numpy arrays; nothing else)."""
    safe = [(obj, name) for name, obj in _numpy_globals().items()]
    try:
        with torch.serialization.safe_globals(safe):
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:      # corrupt, not a checkpoint, or holding code
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsError(f"cannot read it as a PyTorch checkpoint ({first[:160]})") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict):
        raise WeightsError(f"holds a {type(sd).__name__}, not a state dict")
    return sd


def read_keras_h5(path: Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Layers of a Keras HDF5 weights (or whole-model) file in the file's layer order, each
    with its weights by short name (``kernel``, ``bias``, ``gamma``, ``moving_mean``...).
    Needs the optional ``h5py`` package."""
    try:
        import h5py
    except ImportError:
        raise WeightsError("is a Keras .h5 file: reading it needs h5py (pip install h5py), "
                           "or use the PyTorch-port .pth file instead") from None
    layers: list[tuple[str, dict[str, np.ndarray]]] = []
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in root.attrs.get("layer_names", [])]
        if names:
            for name in names:
                g = root[name]
                wnames = [w.decode() if isinstance(w, bytes) else str(w)
                          for w in g.attrs.get("weight_names", [])]
                if wnames:
                    layers.append((name, {_short(w): np.asarray(g[w]) for w in wnames}))
        else:   # no Keras attributes: group datasets by the group that holds them
            found: dict[str, dict[str, np.ndarray]] = {}

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    parent = name.rsplit("/", 1)[0] if "/" in name else ""
                    found.setdefault(parent, {})[_short(name)] = np.asarray(obj)
            root.visititems(visit)
            layers = sorted(found.items(), key=lambda kv: _natural(kv[0]))
    return layers


def _short(weight_name: str) -> str:
    """'layer1/conv/bn/beta:0' -> 'beta'."""
    return weight_name.rsplit("/", 1)[-1].split(":")[0]


def _natural(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _tensor(a) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().to("cpu", torch.float32)
    return torch.from_numpy(np.ascontiguousarray(np.asarray(a, dtype=np.float32)))


def _keras_conv(kernel: np.ndarray) -> torch.Tensor:
    """Keras (kh, kw, in, out) -> torch (out, in, kh, kw)."""
    return _tensor(np.transpose(kernel, (3, 2, 0, 1)))


def _keras_depthwise(kernel: np.ndarray) -> torch.Tensor:
    """Keras depthwise (kh, kw, in, 1) -> torch grouped (in, 1, kh, kw)."""
    return _tensor(np.transpose(kernel, (2, 3, 0, 1)))


def _strip_prefix(sd: dict, markers: tuple[str, ...]) -> dict:
    """Drop a wrapper prefix ('module.', 'model.'...) in front of the first key that starts
    with one of ``markers``."""
    for key in sd:
        for m in markers:
            i = key.find(m)
            if i > 0 and key[i - 1] == ".":
                pre = key[:i]
                return {k[len(pre):] if k.startswith(pre) else k: v for k, v in sd.items()}
    return sd


def load_into(model: nn.Module, mapped: dict[str, torch.Tensor], source: str) -> None:
    """Copy ``mapped`` (keys of ``model``'s state dict) into ``model``: every key must be there
    with the right shape."""
    own = model.state_dict()
    missing = [k for k in own if k not in mapped and not k.endswith("num_batches_tracked")]
    if missing:
        raise WeightsError(f"{source}: missing {len(missing)} weights (first: {missing[0]})")
    for k, v in mapped.items():
        if k not in own:
            raise WeightsError(f"{source}: unexpected weight {k}")
        if tuple(v.shape) != tuple(own[k].shape):
            raise WeightsError(f"{source}: {k} has shape {tuple(v.shape)}, the architecture "
                               f"needs {tuple(own[k].shape)}")
    with torch.no_grad():
        for k, v in mapped.items():
            own[k].copy_(v)


def _own_layout(model: nn.Module, sd: dict) -> dict | None:
    """``sd`` already in this module's layout (an afx checkpoint)?"""
    keys = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    given = {k for k in sd if not k.endswith("num_batches_tracked")}
    return {k: _tensor(sd[k]) for k in keys} if keys and keys <= given else None


# -- VGGish layouts ---------------------------------------------------------------------------

def map_vggish(model: VGGish, fmt: str, content) -> dict:
    """Accepted: afx's own layout; harritaylor/torchvggish (``features.N`` / ``embeddings.N``,
    optional ``pproc.*``); torchaudio's prototype VGGish (``features_network.N`` /
    ``embedding_network.N``)."""
    if fmt != "torch":
        raise WeightsError("VGGish weights must be a PyTorch .pth state dict (torchvggish layout)")
    sd = content
    own = _own_layout(model, sd)
    if own is not None:
        return own
    sd = _strip_prefix(sd, ("features.", "features_network.", "embeddings.", "embedding_network."))
    convs: dict[int, dict] = {}
    fcs: dict[int, dict] = {}
    for k, v in sd.items():
        m = re.fullmatch(r"(features|features_network|embeddings|embedding_network)\.(\d+)\."
                         r"(weight|bias)", k)
        if m:
            group = convs if m.group(1).startswith("features") else fcs
            group.setdefault(int(m.group(2)), {})[m.group(3)] = v
    if len(convs) != len(VGGish.CONVS) or len(fcs) != len(VGGish.FCS):
        raise WeightsError("is not a VGGish checkpoint in the torchvggish layout (expected "
                           f"6 features.N convs and 3 embeddings.N layers, found {len(convs)} "
                           f"and {len(fcs)})")
    out = {}
    for (name, *_), idx in zip(VGGish.CONVS, sorted(convs)):
        for kind in ("weight", "bias"):
            out[f"{name}.{kind}"] = _tensor(convs[idx][kind])
    for (name, *_), idx in zip(VGGish.FCS, sorted(fcs)):
        for kind in ("weight", "bias"):
            out[f"{name}.{kind}"] = _tensor(fcs[idx][kind])
    return out


def vggish_pca_from(fmt: str, content) -> tuple | None:
    """PCA parameters (matrix, means) held by a checkpoint or a PCA file, if any: torchvggish's
    ``pproc.pca_eigen_vectors`` / ``pproc.pca_matrix`` + ``pproc.pca_means``, its
    ``vggish_pca_params`` file, or AudioSet's ``vggish_pca_params.npz``."""
    if not isinstance(content, dict):
        return None
    flat = {k.rsplit(".", 1)[-1]: v for k, v in content.items() if isinstance(k, str)}
    matrix = flat.get("pca_eigen_vectors", flat.get("pca_matrix"))
    means = flat.get("pca_means")
    if matrix is None or means is None:
        return None
    return _tensor(matrix), _tensor(means)


# -- YAMNet layouts ---------------------------------------------------------------------------

def map_yamnet(model: YAMNet, fmt: str, content) -> dict:
    """Accepted: afx's own layout; w-hc/torch_audioset (``layer1.fused.conv``,
    ``layerN.{depthwise,pointwise}_conv.{conv,bn}``, ``classifier``); Google's Keras
    ``yamnet.h5`` (``layerN/conv``, ``layerN/{depthwise,pointwise}_conv`` with ``/bn``, and
    the classifier, a dense layer with a ``(1024, 521)`` kernel under any name: ``logits`` in
    the released file, ``dense`` in files saved from the current ``yamnet.py``)."""
    if fmt == "keras":
        return _yamnet_from_keras(content)
    if fmt != "torch":
        raise WeightsError("YAMNet weights must be a .pth state dict or Keras yamnet.h5")
    sd = content
    own = _own_layout(model, sd)
    if own is not None:
        return own
    sd = _strip_prefix(sd, ("layer1.", "classifier."))
    out: dict[str, torch.Tensor] = {}

    def bn(src: str, dst: str):
        gamma = sd.get(f"{src}.weight")
        if gamma is not None and not torch.allclose(_tensor(gamma), torch.ones(1), atol=1e-6):
            raise WeightsError(f"{src} has a batch-norm scale; YAMNet's batch norms have none")
        out[f"{dst}.bias"] = _tensor(_need(sd, f"{src}.bias"))
        out[f"{dst}.running_mean"] = _tensor(_need(sd, f"{src}.running_mean"))
        out[f"{dst}.running_var"] = _tensor(_need(sd, f"{src}.running_var"))

    if "layer1.fused.conv.weight" not in sd:
        raise WeightsError("is not a YAMNet checkpoint in the torch_audioset layout (no "
                           "layer1.fused.conv.weight)")
    out["stem.weight"] = _tensor(sd["layer1.fused.conv.weight"])
    bn("layer1.fused.bn", "stem_bn")
    for i in range(len(YAMNet.BLOCKS)):
        src, dst = f"layer{i + 2}", f"blocks.{i}"
        out[f"{dst}.depthwise.weight"] = _tensor(_need(sd, f"{src}.depthwise_conv.conv.weight"))
        bn(f"{src}.depthwise_conv.bn", f"{dst}.depthwise_bn")
        out[f"{dst}.pointwise.weight"] = _tensor(_need(sd, f"{src}.pointwise_conv.conv.weight"))
        bn(f"{src}.pointwise_conv.bn", f"{dst}.pointwise_bn")
    out["logits.weight"] = _tensor(_need(sd, "classifier.weight"))
    out["logits.bias"] = _tensor(_need(sd, "classifier.bias"))
    return out


def _is_yamnet_classifier(weights: dict) -> bool:
    """The 1024 -> 521 dense layer: found by its shapes, whatever it is called (``logits`` in
    the first release, ``dense`` in files saved from the current ``yamnet.py``)."""
    kernel, bias = weights.get("kernel"), weights.get("bias")
    return (kernel is not None and bias is not None
            and np.shape(kernel) == (YAMNet.dims, YAMNet.classes)
            and np.shape(bias) == (YAMNet.classes,))


def _yamnet_from_keras(layers) -> dict:
    out: dict[str, torch.Tensor] = {}
    pattern = re.compile(r"(?:^|/)layer(\d+)/(conv|depthwise_conv|pointwise_conv)(/bn)?$")
    classifiers = [name for name, weights in layers if _is_yamnet_classifier(weights)]
    if len(classifiers) > 1:
        raise WeightsError(f"has {len(classifiers)} layers shaped like YAMNet's classifier "
                           f"(1024 -> 521): {', '.join(classifiers)}")
    for name, weights in layers:
        if _is_yamnet_classifier(weights):
            out["logits.weight"] = _tensor(np.asarray(weights["kernel"]).T)
            out["logits.bias"] = _tensor(weights["bias"])
            continue
        m = pattern.search(name)
        if not m:
            continue
        i, kind, is_bn = int(m.group(1)), m.group(2), bool(m.group(3))
        if i == 1:
            dst = "stem_bn" if is_bn else "stem"
        else:
            part = "depthwise" if kind == "depthwise_conv" else "pointwise"
            dst = f"blocks.{i - 2}.{part}" + ("_bn" if is_bn else "")
        if is_bn:
            if "gamma" in weights:
                raise WeightsError(f"{name} has a batch-norm scale; YAMNet's have none")
            out[f"{dst}.bias"] = _tensor(weights["beta"])
            out[f"{dst}.running_mean"] = _tensor(weights["moving_mean"])
            out[f"{dst}.running_var"] = _tensor(weights["moving_variance"])
        elif kind == "depthwise_conv":
            out[f"{dst}.weight"] = _keras_depthwise(weights["depthwise_kernel"])
        else:
            out[f"{dst}.weight"] = _keras_conv(weights["kernel"])
    if not out:
        raise WeightsError("is a Keras file without YAMNet layers (layer1/conv ... and a "
                           "1024 -> 521 dense classifier)")
    return out


def _need(sd: dict, key: str):
    if key not in sd:
        raise WeightsError(f"lacks {key}")
    return sd[key]


# -- OpenL3 layouts ---------------------------------------------------------------------------

OPENL3_BN = tuple(f"batch_normalization_{i}" for i in range(1, 9))
OPENL3_CONV = tuple(f"conv2d_{i}" for i in range(1, 8)) + ("audio_embedding_layer",)


def map_openl3(model: OpenL3, fmt: str, content) -> dict:
    """Accepted: afx's own layout; torchopenl3's ``PytorchOpenl3`` state dict
    (``batch_normalization_1..8``, ``conv2d_1..7``, ``audio_embedding_layer``; its
    ``speclayer`` buffers are ignored); torchopenl3's numpy weight dict (the same layer names,
    ``weights``/``bias`` and ``scale``/``bias``/``mean``/``var``); marl/openl3's Keras
    ``openl3_audio_<repr>_<content>.h5``."""
    if fmt == "keras":
        return _openl3_from_keras(content)
    if fmt == "npy":
        if not isinstance(content, dict):
            raise WeightsError("is a numpy file but not torchopenl3's weight dict")
        return _openl3_from_dict({_text(k): {_text(a): b for a, b in v.items()}
                                  for k, v in content.items() if isinstance(v, dict)})
    if fmt != "torch":
        raise WeightsError("OpenL3 weights must be a .pth state dict, torchopenl3 numpy weights "
                           "or a Keras .h5 file")
    own = _own_layout(model, content)
    if own is not None:
        return own
    sd = _strip_prefix(content, ("batch_normalization_1.", "conv2d_1."))
    nested: dict[str, dict] = {}
    for k, v in sd.items():
        layer, _, kind = k.rpartition(".")
        nested.setdefault(layer, {})[{"weight": "weights" if layer.startswith(("conv2d", "audio"))
                                      else "scale", "running_mean": "mean",
                                      "running_var": "var"}.get(kind, kind)] = v
    return _openl3_from_dict(nested)


def _text(k) -> str:
    return k.decode() if isinstance(k, bytes) else str(k)


def _openl3_from_dict(layers: dict[str, dict]) -> dict:
    missing = [n for n in OPENL3_BN + OPENL3_CONV if n not in layers]
    if missing:
        raise WeightsError(f"is not an OpenL3 audio model in the torchopenl3 layout (no {missing[0]})")
    out = {}
    for i, name in enumerate(OPENL3_BN):
        dst = "input_bn" if i == 0 else f"bns.{i - 1}"
        w = layers[name]
        out[f"{dst}.weight"] = _tensor(w["scale"]) if "scale" in w else torch.ones(
            np.asarray(w["mean"]).shape)
        out[f"{dst}.bias"] = _tensor(w["bias"]) if "bias" in w else torch.zeros(
            np.asarray(w["mean"]).shape)
        out[f"{dst}.running_mean"] = _tensor(w["mean"])
        out[f"{dst}.running_var"] = _tensor(w["var"])
    for i, name in enumerate(OPENL3_CONV):
        out[f"convs.{i}.weight"] = _tensor(layers[name]["weights"])
        out[f"convs.{i}.bias"] = _tensor(layers[name]["bias"])
    return out


def _openl3_from_keras(layers) -> dict:
    """Keras layers in file order: 8 batch norms and 8 convs (the last the embedding layer)."""
    bns = [w for _, w in layers if "moving_mean" in w]
    convs = [w for _, w in layers if "kernel" in w and np.asarray(w["kernel"]).ndim == 4]
    if len(bns) != 8 or len(convs) != 8:
        raise WeightsError(f"is not an OpenL3 audio model: found {len(convs)} convolutions and "
                           f"{len(bns)} batch norms, expected 8 and 8")
    out = {}
    for i, w in enumerate(bns):
        dst = "input_bn" if i == 0 else f"bns.{i - 1}"
        shape = np.asarray(w["moving_mean"]).shape
        out[f"{dst}.weight"] = _tensor(w["gamma"]) if "gamma" in w else torch.ones(shape)
        out[f"{dst}.bias"] = _tensor(w["beta"]) if "beta" in w else torch.zeros(shape)
        out[f"{dst}.running_mean"] = _tensor(w["moving_mean"])
        out[f"{dst}.running_var"] = _tensor(w["moving_variance"])
    for i, w in enumerate(convs):
        out[f"convs.{i}.weight"] = _keras_conv(w["kernel"])
        out[f"convs.{i}.bias"] = _tensor(w["bias"])
    return out


MAPPERS = {"vggish": map_vggish, "yamnet": map_yamnet, "openl3": map_openl3}


def load_model(kind: str, path: Path, **kw) -> nn.Module:
    """Build architecture ``kind`` and load ``path`` into it (any accepted layout); eval mode,
    on the CPU. Raises :class:`WeightsError` with the reason when the file does not fit."""
    model = ARCHITECTURES[kind](**kw)
    fmt, content = read_weight_file(path)
    load_into(model, MAPPERS[kind](model, fmt, content), Path(path).name)
    if kind == "vggish":
        pca = vggish_pca_from(fmt, content)
        if pca is not None:
            model.set_pca(*pca)
    return model.eval()


def random_model(kind: str, seed: int = 0, **kw) -> nn.Module:
    """An architecture with seeded random weights (benchmarks and tests), batch-norm statistics
    set to plausible values so activations neither vanish nor explode."""
    torch.manual_seed(seed)
    model = ARCHITECTURES[kind](**kw)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                buf.normal_(0.0, 0.1)
    return model.eval()
