"""Audio embeddings as timelines: what the music sounds like (mood, timbre, texture), beside
the FFT features that say how loud and where (reactivity).

* ``embed.vggish``  128-D AudioSet VGGish embedding (0.96 s windows).
* ``embed.yamnet``  1024-D YAMNet embedding and its 521 AudioSet class scores (0.96 s windows).
* ``embed.openl3``  512-D OpenL3 music/environment embedding (1 s windows).
* ``embed.timbre``  a built-in embedding that needs no downloaded weights: log-mel statistics,
  MFCC, chroma and spectral contrast, optionally through a fixed random projection.

All are static: they analyse the whole track once and return one row per video frame
(``T = ceil(duration * fps)``, row ``i`` at ``i / fps`` seconds), the network's windows
interpolated linearly between their centres and held at the ends. The networks run in
batches on the render device. The learned ones need their published weights: a file named
in the ``weights`` param, or the expected file in the model cache
(``~/.cache/afx/models/<model>/``, or ``$AFX_MODEL_DIR/<model>/``); ``afx models`` lists what
is there and where to get the rest, ``afx models --download NAME`` fetches it once.
The architectures and weight-file layouts are in :mod:`.embed_models`.
"""
from __future__ import annotations

import csv
import gzip
import math
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from afx_graph.errors import AfxError, NodeInputError
from afx_graph.spec import In, Node, Out, Param, node
from afx_graph.types import AUDIO, TIMELINE, Audio, Timeline

from afx_graph.nodes import embed_models as em
from afx_graph.nodes.features import finite_mono, frame_count
from afx_graph.nodes.projection import normalise_columns, random_projection, standardise

MODEL_DIR_ENV = "AFX_MODEL_DIR"
DOWNLOAD_TIMEOUT = 20.0         # seconds without data before a download gives up


# -- the model catalogue: files, where they come from, where they are looked for ------------

@dataclass(frozen=True)
class WeightSource:
    """One file that can provide a model's weights."""

    filename: str               # the name looked for in the cache
    url: str | None             # where it comes from (None: made by the user, see `about`)
    about: str                  # which port / format it is
    gzip: bool = False          # the download is gzip-compressed (saved decompressed)
    needs: str | None = None    # an optional Python package needed to read it

    def available(self) -> bool:
        if self.needs is None:
            return True
        import importlib.util
        return importlib.util.find_spec(self.needs) is not None


@dataclass(frozen=True)
class ModelEntry:
    key: str                                    # "vggish": the cache sub-folder
    node: str                                   # "embed.vggish"
    name: str                                   # "VGGish", for messages
    title: str
    sources: tuple[WeightSource, ...]           # any one of them will do, best first
    extras: tuple[tuple[str, WeightSource], ...] = ()   # optional companions: (role, file)

    def preferred(self) -> WeightSource:
        """The source to recommend: downloadable and readable here, else downloadable."""
        urls = [s for s in self.sources if s.url]
        return next((s for s in urls if s.available()), urls[0])

    def folders(self) -> list[Path]:
        """Where weight files are looked for, in order."""
        root = model_root()
        return [root / self.key, root]


def model_root() -> Path:
    env = os.environ.get(MODEL_DIR_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "afx" / "models"


TORCHVGGISH = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
AUDIOSET = "https://storage.googleapis.com/audioset/"

VGGISH = ModelEntry(
    "vggish", "embed.vggish", "VGGish", "VGGish (AudioSet), 128-D",
    (WeightSource("vggish-10086976.pth", TORCHVGGISH + "vggish-10086976.pth",
                  "harritaylor/torchvggish state dict"),),
    (("pca", WeightSource("vggish_pca_params-970ea276.pth",
                          TORCHVGGISH + "vggish_pca_params-970ea276.pth",
                          "torchvggish PCA parameters (postprocess pca/quantized)")),
     ("pca", WeightSource("vggish_pca_params.npz", AUDIOSET + "vggish_pca_params.npz",
                          "AudioSet PCA parameters (postprocess pca/quantized)"))))

YAMNET = ModelEntry(
    "yamnet", "embed.yamnet", "YAMNet", "YAMNet (AudioSet), 1024-D + 521 class scores",
    (WeightSource("yamnet.pth", "https://github.com/w-hc/torch_audioset/releases/download/v0.1/"
                  "yamnet.pth", "w-hc/torch_audioset state dict"),
     WeightSource("yamnet.h5", AUDIOSET + "yamnet.h5", "Google's Keras weights", needs="h5py")),
    (("class names", WeightSource(
        "yamnet_class_map.csv", "https://raw.githubusercontent.com/tensorflow/models/master/"
        "research/audioset/yamnet/yamnet_class_map.csv", "names of the 521 score columns")),))

OPENL3_REPRS = ("mel256", "mel128", "linear")
OPENL3_CONTENT = ("music", "env")


def openl3_entry(input_repr: str = "mel256", content_type: str = "music") -> ModelEntry:
    name = f"{input_repr}_{content_type}"
    return ModelEntry(
        "openl3", "embed.openl3", f"OpenL3 {input_repr}/{content_type}",
        f"OpenL3 ({input_repr}, {content_type}), 512-D",
        (WeightSource(f"openl3_audio_{name}.h5",
                      f"https://github.com/marl/openl3/raw/models/openl3_audio_{name}-v0_4_0.h5.gz",
                      "marl/openl3 Keras weights", gzip=True, needs="h5py"),
         WeightSource(f"openl3_{name}_layer_weights",
                      f"https://raw.githubusercontent.com/turian/openl3_numpy_weights/main/"
                      f"openl3_{name}_layer_weights.npz", "torchopenl3 numpy weights"),
         WeightSource(f"openl3_{name}.pth", None,
                      "torchopenl3 PytorchOpenl3 state dict: torch.save(model.state_dict(), ...)")))


CATALOGUE = {"vggish": VGGISH, "yamnet": YAMNET, "openl3": openl3_entry()}


def find_file(entry: ModelEntry, sources) -> Path | None:
    """The first of ``sources`` present in ``entry``'s folders."""
    for folder in entry.folders():
        for src in sources:
            p = folder / src.filename
            if p.is_file():
                return p
    return None


def cached_weights(entry: ModelEntry) -> Path | None:
    """The weights file the model cache holds for ``entry``: one this Python can read first
    (an .h5 needs h5py), then any."""
    readable = [s for s in entry.sources if s.available()]
    return find_file(entry, readable + [s for s in entry.sources if s not in readable])


def missing_weights(entry: ModelEntry) -> NodeInputError:
    """The error for a model whose weights are nowhere: which file, from where, put where."""
    src = entry.preferred()
    where = entry.folders()[0]
    others = [s.filename + (f" (needs {s.needs})" if s.needs else "")
              for s in entry.sources if s is not src]
    alt = f" (or {' or '.join(others)})" if others else ""
    needs = f"; reading it needs {src.needs} (pip install {src.needs})" if src.needs else ""
    return NodeInputError(
        f"no {entry.name} weights: get {src.filename} from {src.url} and put it in {where}/"
        f"{alt}{needs}; `afx models --download {entry.key}` does that, or set weights to the "
        f"file's path", field="weights")


def resolve_weights(entry: ModelEntry, weights: str) -> Path:
    """The weights file a node uses: its ``weights`` param, else the model cache."""
    if weights:
        p = Path(weights).expanduser()
        if not p.is_file():
            raise NodeInputError(f"weights file not found: {p}", field="weights")
        return p
    found = cached_weights(entry)
    if found is None:
        raise missing_weights(entry)
    return found


def download(entry: ModelEntry, *, extras: bool = True, timeout: float = DOWNLOAD_TIMEOUT,
             log=print) -> list[Path]:
    """Fetch ``entry``'s first downloadable weights (and its optional companions) into the
    model cache, once: files already there are kept. Raises :class:`AfxError` naming the file,
    the URL and the folder when a download fails (no internet, moved file)."""
    folder = entry.folders()[0]
    wanted = [entry.preferred()]
    if extras:
        seen = set()
        for role, src in entry.extras:      # one file per role is enough
            if role not in seen and src.url:
                wanted.append(src)
                seen.add(role)
    got = []
    for i, src in enumerate(wanted):
        dest = folder / src.filename
        if dest.is_file():
            log(f"{src.filename}: already in {folder}")
            got.append(dest)
            continue
        try:
            fetch(src, dest, timeout, log)
            got.append(dest)
        except AfxError:
            if i == 0:
                raise
            log(f"warning: optional {src.filename} not downloaded")
    return got


def fetch(src: WeightSource, dest: Path, timeout: float, log=print) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    log(f"downloading {src.url} ...")
    tmp = None
    try:
        with urllib.request.urlopen(src.url, timeout=timeout) as r:
            fd, tmp = tempfile.mkstemp(prefix=".part-", dir=dest.parent)
            with os.fdopen(fd, "wb") as f:
                shutil.copyfileobj(gzip.GzipFile(fileobj=r) if src.gzip else r, f, 1 << 20)
        os.replace(tmp, dest)
        tmp = None
        log(f"saved {dest}")
    except (urllib.error.URLError, OSError, EOFError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise AfxError(f"could not download {src.filename} from {src.url} ({reason}); download "
                       f"it yourself and put it in {dest.parent}/") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


# -- shared machinery -----------------------------------------------------------------------

def resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return np.ascontiguousarray(y, dtype=np.float32)
    import librosa
    return librosa.resample(y.astype(np.float32), orig_sr=sr, target_sr=target).astype(np.float32)


def windows_to_frames(values: np.ndarray, centres: np.ndarray, n_frames: int,
                      fps: float) -> np.ndarray:
    """Rows at the video frames (``i / fps`` seconds) from per-window rows at ``centres``
    (seconds, increasing): linear between window centres, held before the first and after
    the last."""
    values = np.asarray(values, dtype=np.float32)
    if len(values) == 1:
        return np.repeat(values, n_frames, axis=0)
    pos = np.interp(np.arange(n_frames) / float(fps), centres, np.arange(len(centres)))
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(values) - 1)
    w = (pos - lo).astype(np.float32)[:, None]
    return values[lo] + (values[hi] - values[lo]) * w      # exact at (and between equal) rows


def on_device(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The model on ``device``, in float32; OpenL3's full-resolution convolutions in channels-last
    layout (about 20% faster on a CPU)."""
    model = model.to(device=device, dtype=torch.float32)
    if isinstance(model, em.OpenL3):
        model = model.to(memory_format=torch.channels_last)
    return model


def batch_size(kind: str, device: torch.device) -> int:
    """Windows per forward pass: enough to keep the device busy, small enough for its memory."""
    if device.type == "cpu":
        return {"vggish": 32, "yamnet": 64, "openl3": 8}[kind]
    return {"vggish": 256, "yamnet": 512, "openl3": 64}[kind]


def hop_frames(hop: float) -> int:
    """A hop in seconds as a whole number of 10 ms log-mel frames (at least one)."""
    return max(1, int(round(hop * 100)))


def audioset_patches(model, y16: np.ndarray, hop: float, pad_to_patches: bool,
                     device: torch.device) -> tuple[torch.Tensor, np.ndarray]:
    """16 kHz mono -> ``(P, 96, 64)`` log-mel patches on ``device`` hopping ``hop`` seconds, and
    each patch's centre in seconds. At least one patch: audio shorter than a patch is padded
    with silence (YAMNet also pads to a whole number of hops, ``pad_to_patches``)."""
    fe = model.frontend
    h = hop_frames(hop)
    need = (model.example_frames - 1) * fe.hop + fe.win            # samples for one patch
    n = len(y16)
    pad = max(0, need - n)
    if pad_to_patches and n > need:                                # YAMNet's pad_waveform
        extra = n - need
        pad = math.ceil(extra / (h * fe.hop)) * h * fe.hop - extra
    y = torch.from_numpy(np.pad(y16, (0, pad))).to(device)
    logmel = fe(y)                                                  # (F, 64)
    patches = logmel.unfold(0, model.example_frames, h).transpose(1, 2)   # (P, 96, 64)
    centres = (np.arange(patches.shape[0]) * h * fe.hop + need / 2.0) / fe.sr
    return patches, centres


def run_batches(fn, inputs: torch.Tensor, batch: int) -> list[np.ndarray]:
    """``fn`` over ``inputs`` in slices of ``batch`` rows, kept on the device until the end;
    each output as one float32 numpy array."""
    outs = []
    for s in range(0, inputs.shape[0], batch):
        r = fn(inputs[s:s + batch].contiguous())
        outs.append(r if isinstance(r, tuple) else (r,))
    return [torch.cat(parts).float().cpu().numpy() for parts in zip(*outs)]


# -- the three networks, as functions of audio (the nodes and the benchmark share them) -------

def vggish_windows(model: em.VGGish, audio: Audio, hop: float, postprocess: str,
                   device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """``(W, 128)`` VGGish embeddings and window centres (seconds)."""
    y = resample(finite_mono(audio), audio.sr, model.sample_rate)
    with torch.inference_mode():
        patches, centres = audioset_patches(model, y, hop, False, device)

        def step(x):
            e = model(x)
            return model.postprocess(e, postprocess == "quantized") if postprocess != "none" else e
        (values,) = run_batches(step, patches, batch_size("vggish", device))
    return values, centres


def yamnet_windows(model: em.YAMNet, audio: Audio, hop: float,
                   device: torch.device) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(W, 1024)`` YAMNet embeddings, ``(W, 521)`` class scores, window centres (s)."""
    y = resample(finite_mono(audio), audio.sr, model.sample_rate)
    with torch.inference_mode():
        patches, centres = audioset_patches(model, y, hop, True, device)
        emb, scores = run_batches(model, patches, batch_size("yamnet", device))
    return emb, scores, centres


def openl3_windows(model: em.OpenL3, audio: Audio, hop: float,
                   device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """``(W, 512)`` OpenL3 embeddings of 1 s windows centred every ``hop`` seconds from 0
    (openl3's ``center=True``), and their centres (s)."""
    y = resample(finite_mono(audio), audio.sr, model.sample_rate)
    hop_n = max(1, int(round(hop * model.sample_rate)))
    half = model.window // 2
    n = len(y) + half
    n_windows = 1 if n <= model.window else 1 + math.ceil((n - model.window) / hop_n)
    total = model.window + (n_windows - 1) * hop_n
    y = np.pad(y, (half, max(0, total - n)))
    with torch.inference_mode():
        windows = torch.from_numpy(y).to(device).unfold(0, model.window, hop_n)
        (values,) = run_batches(model, windows, batch_size("openl3", device))
    return values, np.arange(n_windows) * hop_n / model.sample_rate


# -- nodes ------------------------------------------------------------------------------------

def model_status(entry: ModelEntry) -> dict:
    """What `afx models` shows of a model: its files, present or not, where they were looked
    for and where to get them."""
    files = []
    for src in entry.sources:
        path = find_file(entry, [src])
        files.append({"file": src.filename, "url": src.url, "about": src.about,
                      "needs": src.needs, "readable": src.available(),
                      "present": path is not None, "path": str(path) if path else None})
    extras = []
    for role, src in entry.extras:
        path = find_file(entry, [src])
        extras.append({"role": role, "file": src.filename, "url": src.url, "about": src.about,
                       "present": path is not None, "path": str(path) if path else None})
    found = cached_weights(entry)
    return {"model": entry.key, "node": entry.node, "title": entry.title,
            "status": "present" if found else "missing", "path": str(found) if found else None,
            "looked_in": [str(p) for p in entry.folders()], "files": files, "optional": extras,
            "cache": str(model_root()), "env": MODEL_DIR_ENV}


class LearnedEmbedding(Node):
    """Weights resolution and a loaded-model cache shared by the learned-embedding nodes,
    and the input they share (inherited by each)."""

    kind = ""
    audio = In(AUDIO, doc="the track to analyse")

    # -- hooks for `afx models` (the command reaches the models only through these) ----------
    @classmethod
    def describe_models(cls) -> list[dict]:
        return [model_status(CATALOGUE[cls.kind])]

    @classmethod
    def download_models(cls, log) -> None:
        download(CATALOGUE[cls.kind], log=log)

    def bench(self, ctx, *, seconds: float = 10.0, **_) -> dict:
        """``afx bench embeddings``' hook (random weights: no download needed)."""
        return bench_embedding(type(self).spec.id, ctx.device, seconds, float(ctx.fps))

    @classmethod
    def file_problem(cls, param: str, path: str, params: dict) -> str | None:
        """Why ``path`` is not what ``param`` reads (the weights, loaded as the node loads
        them; PCA parameters), or None (``afx pack`` carries only files their node reads)."""
        try:
            if param == "pca_weights":
                if em.vggish_pca_from(*em.read_weight_file(Path(path))) is None:
                    raise em.WeightsError("holds no pca_eigen_vectors / pca_means")
            else:
                kw = {"input_repr": params.get("input_repr")} if cls.kind == "openl3" else {}
                em.load_model(cls.kind, Path(path), **kw)
        except (em.WeightsError, OSError, ValueError) as e:
            what = "PCA parameters" if param == "pca_weights" else f"{cls.kind} weights"
            return f"cannot be read as {what}: {e}"
        return None

    def __init__(self):
        self._model_key = None
        self._model = None

    def model(self, ctx, entry: ModelEntry, weights: str, **kw):
        path = resolve_weights(entry, weights)
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size, str(ctx.device), tuple(kw.items()))
        if key != self._model_key:
            self._model = self._model_key = None
            try:
                model = em.load_model(self.kind, path, **kw)
            except em.WeightsError as e:
                raise NodeInputError(f"{path.name} {e}", field="weights") from None
            self._model = on_device(model, ctx.device)
            self._model_key = key
        return self._model, path


@node("embed.vggish", category="Embeddings", uses=("fps", "device"))
class VGGishEmbedding(LearnedEmbedding):
    """VGGish embedding

    The 128-D VGGish embedding of the track (Google's VGG-like audio network, the embedding
    AudioSet was released with): timbre and texture over 0.96 s windows, one row per video
    frame. Needs the published weights (see `afx models`). Feed it through features.project
    for a few well-scaled columns."""

    kind = "vggish"
    weights = Param(str, "", kind="path",
                    doc="VGGish weights: a .pth state dict in the torchvggish layout "
                        "(vggish-10086976.pth); empty: from the model cache (afx models)")
    hop = Param(float, 0.96, min=0.05, max=10.0, linkable=False,
                doc="seconds between analysis windows (published 0.96); smaller follows the "
                    "music more closely and costs more")
    postprocess = Param(str, "none", choices=("none", "pca", "quantized"),
                        doc="none: the network's output; pca: AudioSet PCA whitening, clipped "
                            "to [-2, 2]; quantized: as released in AudioSet (8-bit, 0..255)")
    pca_weights = Param(str, "", kind="path",
                        doc="PCA parameters for postprocess (vggish_pca_params-970ea276.pth or "
                            "vggish_pca_params.npz); empty: from the checkpoint or the cache")
    embedding = Out(TIMELINE, doc="vggish0..vggish127, one row per video frame")

    def process(self, ctx, audio, weights, hop, postprocess, pca_weights):
        model, _ = self.model(ctx, VGGISH, weights)
        if postprocess != "none":
            self.load_pca(model, pca_weights)
        values, centres = vggish_windows(model, audio, float(hop), postprocess, ctx.device)
        rows = windows_to_frames(values, centres, frame_count(audio, ctx.fps), ctx.fps)
        return {"embedding": Timeline(rows, ctx.fps, tuple(f"vggish{i}" for i in range(128)),
                                      audio.offset)}

    @staticmethod
    def load_pca(model: em.VGGish, pca_weights: str) -> None:
        if pca_weights:
            path = Path(pca_weights).expanduser()
            if not path.is_file():
                raise NodeInputError(f"PCA parameters file not found: {path}", field="pca_weights")
        elif model.has_pca:
            return
        else:
            path = find_file(VGGISH, [s for _, s in VGGISH.extras])
            if path is None:
                src = VGGISH.extras[0][1]
                raise NodeInputError(
                    f"postprocess needs the AudioSet PCA parameters: get {src.filename} from "
                    f"{src.url} and put it in {VGGISH.folders()[0]}/ (or set pca_weights), or "
                    f"use postprocess none", field="pca_weights")
        try:
            pca = em.vggish_pca_from(*em.read_weight_file(path))
            if pca is None:
                raise em.WeightsError("holds no pca_eigen_vectors / pca_means")
            model.set_pca(*pca)
        except em.WeightsError as e:
            raise NodeInputError(f"{path.name} {e}", field="pca_weights") from None


@node("embed.yamnet", category="Embeddings", uses=("fps", "device"))
class YAMNetEmbedding(LearnedEmbedding):
    """YAMNet embedding

    The 1024-D YAMNet embedding of the track (a MobileNet trained on AudioSet) and its 521
    AudioSet class scores (speech, music genres, instruments, environments...), over 0.96 s
    windows, one row per video frame. Needs the published weights (see `afx models`). Feed
    the embedding through features.project for a few well-scaled columns."""

    kind = "yamnet"
    weights = Param(str, "", kind="path",
                    doc="YAMNet weights: yamnet.pth (torch_audioset layout) or Google's "
                        "yamnet.h5 (needs h5py); empty: from the model cache (afx models)")
    hop = Param(float, 0.48, min=0.05, max=10.0, linkable=False,
                doc="seconds between analysis windows (published 0.48)")
    embedding = Out(TIMELINE, doc="yamnet0..yamnet1023, one row per video frame")
    scores = Out(TIMELINE, doc="521 AudioSet class scores in [0, 1] (class0.., or the names "
                               "from yamnet_class_map.csv when it is beside the weights)")

    def process(self, ctx, audio, weights, hop):
        model, path = self.model(ctx, YAMNET, weights)
        emb, scores, centres = yamnet_windows(model, audio, float(hop), ctx.device)
        n = frame_count(audio, ctx.fps)
        return {"embedding": Timeline(windows_to_frames(emb, centres, n, ctx.fps), ctx.fps,
                                      tuple(f"yamnet{i}" for i in range(1024)), audio.offset),
                "scores": Timeline(np.clip(windows_to_frames(scores, centres, n, ctx.fps), 0, 1),
                                   ctx.fps, class_names(path), audio.offset)}


def class_names(weights_path: Path) -> tuple[str, ...]:
    """The 521 AudioSet display names from a ``yamnet_class_map.csv`` beside the weights or in
    the cache (as Google distributes it with the model); ``class0``.. without one."""
    generic = tuple(f"class{i}" for i in range(em.YAMNet.classes))
    for folder in [weights_path.parent] + YAMNET.folders():
        p = folder / "yamnet_class_map.csv"
        if not p.is_file():
            continue
        try:
            with open(p, newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f))[1:]
            names = [r[2].strip() for r in rows if len(r) >= 3]
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
        if len(names) == em.YAMNet.classes and len(set(names)) == len(names):
            return tuple(names)
    return generic


@node("embed.openl3", category="Embeddings", uses=("fps", "device"))
class OpenL3Embedding(LearnedEmbedding):
    """OpenL3 embedding

    The 512-D OpenL3 embedding of the track (Look, Listen and Learn: an audio network trained
    self-supervised on music or environmental video), over 1 s windows, one row per video
    frame. Needs the published weights (see `afx models`). Feed it through features.project
    for a few well-scaled columns."""

    kind = "openl3"
    weights = Param(str, "", kind="path",
                    doc="OpenL3 weights: marl/openl3's openl3_audio_<repr>_<content>.h5 (needs "
                        "h5py), torchopenl3's numpy weights or a torchopenl3 .pth state dict; "
                        "empty: from the model cache (afx models)")
    input_repr = Param(str, "mel256", choices=OPENL3_REPRS,
                       doc="spectrogram the model was trained on (must match the weights)")
    content_type = Param(str, "music", choices=OPENL3_CONTENT,
                         doc="music or env(ironmental) training data (picks the cached file)")
    hop = Param(float, 0.25, min=0.02, max=10.0, linkable=False,
                doc="seconds between 1 s windows (openl3's default is 0.1: finer, 2.5x slower)")
    embedding = Out(TIMELINE, doc="openl3_0..openl3_511, one row per video frame")

    def process(self, ctx, audio, weights, input_repr, content_type, hop):
        model, path = self.model(ctx, openl3_entry(input_repr, content_type), weights,
                                 input_repr=input_repr)
        named = [r for r in OPENL3_REPRS if r in path.name.lower()]
        if named and named[0] != input_repr:
            raise NodeInputError(f"{path.name} looks like {named[0]} weights but input_repr is "
                                 f"{input_repr}: set input_repr to {named[0]}", field="input_repr")
        values, centres = openl3_windows(model, audio, float(hop), ctx.device)
        rows = windows_to_frames(values, centres, frame_count(audio, ctx.fps), ctx.fps)
        return {"embedding": Timeline(rows, ctx.fps, tuple(f"openl3_{i}" for i in range(512)),
                                      audio.offset)}


# -- the built-in embedding -------------------------------------------------------------------

TIMBRE_SR = 22050
TIMBRE_FFT = 2048
TIMBRE_HOP = 256              # 11.6 ms: several analysis frames per video frame
TIMBRE_MELS = 40
TIMBRE_MFCC = 20
TIMBRE_TOP_DB = 80.0          # quieter than this below the track's peak is all silence
CONTRAST_BANDS = 6            # -> 7 contrast rows


def timbre_descriptors(audio: Audio) -> tuple[np.ndarray, float, list[str]]:
    """Per analysis frame ``(N, 79)``: log-mel (40), MFCC (20), chroma (12), spectral contrast
    (7); the analysis frame rate; the column names."""
    import librosa

    y = resample(finite_mono(audio), audio.sr, TIMBRE_SR)
    if len(y) < TIMBRE_FFT:
        y = np.pad(y, (0, TIMBRE_FFT - len(y)))
    mag = np.abs(librosa.stft(y, n_fft=TIMBRE_FFT, hop_length=TIMBRE_HOP))
    power = mag ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=TIMBRE_SR, n_mels=TIMBRE_MELS)
    logmel = librosa.power_to_db(mel, ref=1.0, amin=1e-10)
    logmel = np.maximum(logmel, logmel.max(initial=-100.0) - TIMBRE_TOP_DB)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=TIMBRE_MFCC)
    chroma = librosa.feature.chroma_stft(S=power, sr=TIMBRE_SR, tuning=0.0)
    # chroma of (near) silence is noise: weight it by how far the frame is above the floor
    level = power.sum(axis=0)
    audible = np.clip((librosa.power_to_db(level, ref=level.max(initial=0.0) or 1.0) + 60) / 20,
                      0, 1)
    chroma = chroma * audible
    contrast = librosa.feature.spectral_contrast(S=mag, sr=TIMBRE_SR, n_bands=CONTRAST_BANDS)
    rows = np.concatenate([logmel, mfcc, chroma, contrast]).T
    names = ([f"mel{i}" for i in range(TIMBRE_MELS)] + [f"mfcc{i}" for i in range(TIMBRE_MFCC)]
             + [f"chroma_{n}" for n in ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A",
                                        "Bb", "B")]
             + [f"contrast{i}" for i in range(CONTRAST_BANDS + 1)])
    return np.nan_to_num(rows.astype(np.float64)), TIMBRE_SR / TIMBRE_HOP, names


def pool_windows(rows: np.ndarray, rate: float, n_frames: int, fps: float,
                 seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``rows`` (at ``rate`` per second) over ``seconds``
    centred on each video frame (at least one analysis frame)."""
    csum = np.concatenate([np.zeros((1, rows.shape[1])), np.cumsum(rows, axis=0)])
    csq = np.concatenate([np.zeros((1, rows.shape[1])), np.cumsum(rows ** 2, axis=0)])
    centre = np.arange(n_frames) / float(fps) * rate
    half = max(0.5, seconds * rate / 2)
    lo = np.clip(np.floor(centre - half).astype(np.int64), 0, len(rows) - 1)
    hi = np.clip(np.ceil(centre + half).astype(np.int64), lo + 1, len(rows))
    n = (hi - lo)[:, None]
    mean = (csum[hi] - csum[lo]) / n
    var = np.maximum((csq[hi] - csq[lo]) / n - mean ** 2, 0.0)
    return mean, np.sqrt(var)


def timbre_embedding(audio: Audio, fps: float, dims: int, window: float,
                     seed: int) -> Timeline:
    """The ``embed.timbre`` timeline (see the node)."""
    rows, rate, names = timbre_descriptors(audio)
    n = frame_count(audio, fps)
    mean, std = pool_windows(rows, rate, n, fps, window)
    # the spread of the log-mel bands (how busy the texture is) + the means of everything
    feats = np.concatenate([mean, std[:, :TIMBRE_MELS]], axis=1)
    names = names + [f"mel{i}_std" for i in range(TIMBRE_MELS)]
    z = standardise(feats)
    if dims > 0:
        z = z @ random_projection(z.shape[1], dims, seed)
        names = [f"timbre{i}" for i in range(dims)]
    return Timeline(normalise_columns(z), fps, tuple(names), audio.offset)


@node("embed.timbre", category="Embeddings", uses=("fps",))
class TimbreEmbedding:
    """Timbre embedding (built in)

    An embedding that needs no downloaded weights: the colour of the sound around each video
    frame from log-mel band levels and their spread, MFCCs, chroma (harmony) and spectral
    contrast, standardised over the track and mixed by a fixed seeded random projection into
    `dims` columns in [-1, 1] (dims 0: the 119 descriptors themselves). Deterministic; silence
    gives zeros. Feed it through features.project for a few strong columns."""

    audio = In(AUDIO, doc="the track to analyse")
    dims = Param(int, 32, min=0, max=512, linkable=False,
                 doc="output columns (random projection); 0 keeps the named descriptors")
    window = Param(float, 0.25, min=0.02, max=5.0, linkable=False,
                   doc="seconds of audio summarised around each frame")
    seed = Param(int, 0, min=0, max=2**31 - 1, linkable=False, doc="picks the projection")
    embedding = Out(TIMELINE, doc="timbre0.. (or the descriptors' names), each in [-1, 1]")

    def bench(self, ctx, *, seconds: float = 10.0, **_) -> dict:
        """``afx bench embeddings``' hook."""
        return bench_embedding(type(self).spec.id, ctx.device, seconds, float(ctx.fps))

    def process(self, ctx, audio, dims, window, seed):
        return {"embedding": timbre_embedding(audio, float(ctx.fps), int(dims), float(window),
                                              int(seed))}


NODES = [VGGishEmbedding, YAMNetEmbedding, OpenL3Embedding, TimbreEmbedding]


# -- benchmark --------------------------------------------------------------------------------

def bench_audio(seconds: float, sr: int = 44100, seed: int = 0) -> Audio:
    """A test signal: a chord with a moving overtone, noise bursts and clicks, stereo."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    tone = sum(np.sin(2 * np.pi * f * t * (1 + 0.01 * np.sin(0.5 * t))) for f in (110, 220, 330, 440))
    bursts = rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 0.5 * t) > 0.6)
    clicks = (np.mod(t, 0.5) < 0.01) * np.sin(2 * np.pi * 2000 * t)
    y = (0.15 * tone + 0.1 * bursts + 0.3 * clicks).astype(np.float32)
    return Audio(np.stack([y, y]), sr)


def bench_embedding(type_id: str, device: torch.device, seconds: float = 10.0,
                    fps: float = 30.0) -> dict:
    """Milliseconds per second of audio for one embedding node type on ``device`` at its
    default hop, everything the node does included (resampling, spectrogram, windows, the
    network in batches, interpolation to the frame rate), with random weights (no files
    needed); timed after a warm-up run on a clip of up to 2 s."""
    dev = torch.device(device)
    audio, warm = bench_audio(seconds), bench_audio(min(2.0, seconds), seed=1)
    kind = {"embed.vggish": "vggish", "embed.yamnet": "yamnet", "embed.openl3": "openl3"}.get(type_id)
    hop = {c.spec.id: c.spec.params["hop"].default for c in NODES if "hop" in c.spec.params}.get(type_id)

    def frames(values, centres, a):
        return windows_to_frames(values, centres, frame_count(a, fps), fps)

    def fn(model, a):
        if kind == "vggish":
            return frames(*vggish_windows(model, a, hop, "none", dev), a)
        if kind == "yamnet":
            emb, _, centres = yamnet_windows(model, a, hop, dev)
            return frames(emb, centres, a)
        if kind == "openl3":
            return frames(*openl3_windows(model, a, hop, dev), a)
        return timbre_embedding(a, fps, 32, 0.25, 0).values

    model = on_device(em.random_model(kind), dev) if kind else None
    fn(model, warm)
    _sync(dev)
    t0 = time.perf_counter()
    out = fn(model, audio)
    _sync(dev)
    elapsed = time.perf_counter() - t0
    return {"model": type_id, "dims": int(out.shape[1]), "frames": int(out.shape[0]),
            "params": em.count_parameters(model) if model is not None else 0,
            "hop": hop, "device": str(dev), "audio_seconds": seconds,
            "ms_per_audio_second": elapsed * 1000.0 / seconds}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
