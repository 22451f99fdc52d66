"""``afx verify PATCH [--update]``: does this patch still make the pictures it made?

``--update`` renders a few frames of the patch (by default 4, spread over its first 4 seconds,
160 pixels wide) through the render's own frame generator (:meth:`Executor.frames`: the frames
``afx run`` writes, without writing a video) and keeps them beside the patch as golden frames::

    demo.yaml
    demo.golden/
      golden.json          what they were made with: times, frame indices, size, fps, device
      frame_0001.png ...

Without ``--update`` it renders the same frames again, at the golden size, and compares them
with the golden ones, one line per frame with the measured differences.

Exit codes: 0 every frame matches; 3 some frame differs (the patch, afx, a node pack or the
machine makes other pictures: not bad input, so not 2); 2 bad input as everywhere (no golden
frames yet, a broken patch, a golden folder afx did not write). A failure names the differing
frames and writes, for each, the golden frame, this run's frame and their difference (x4) side
by side into a temporary folder it names.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from afx_graph.errors import AfxError, escape_controls
from afx_graph.engine.executor import Executor
from afx_graph.graph import Graph
from afx_graph.media.video import to_uint8
from afx_graph.patchfile.patch import read_capped
from afx_graph.sharing.opening import load_patch
from afx_graph.engine.plan import Plan
from afx_graph.media.png import encode_png, read_png
from afx_graph.registry import default_registry
from afx_graph.run.render import RunOptions, apply_overrides, image_sources
from afx_graph.patchfile.requires import afx_version, graph_warnings
from afx_graph.settings import MAX_DURATION, MAX_FPS, MIN_SIDE, check_size
from afx_graph.commands.options import parse_size

EXIT_DIFFERENT = 3
DEFAULT_FRAMES = 4
MAX_FRAMES = 64
SPAN = 4.0                  # seconds the frames are spread over (the render's length if shorter)
DEFAULT_WIDTH = 160         # px; the height follows the patch's aspect ratio
GOLDEN_SUFFIX = ".golden"
INFO = "golden.json"
MAX_INFO = 1 << 20          # bytes of a golden.json read
MAX_INDEX = MAX_DURATION * MAX_FPS      # frames of the longest render at the highest rate
FRAME_FILE = re.compile(r"(?:[A-Za-z0-9_-]+\.[A-Za-z0-9_]+_)?frame_\d{4}\.png")

# How far a frame may be from its golden frame, in levels of 0..255, where d is, per pixel,
# the largest of its three channel differences: the mean of d and its 99th percentile are
# held to a limit each. No max: the periodic activations of a CPPN (sin of large arguments)
# and steep contrast curves turn tiny float differences into large ones on a few pixels (the
# edges of bands and rings); the percentile lets those few go, the mean holds the picture.
#
# Measured on the examples (160x90, 4 frames, CPU; golden frames made in fp32):
# - fp32 again, another process: mean <= 0.07, p99 <= 1, max 2 (float32 on a CPU is not
#   bit-identical from one process to the next: the kernels' paths vary);
# - fp16, a GPU's default precision: mean up to 3.30, p99 up to 20 (kaleido_beats: contrast
#   3.0 on a folded field), 0.7-1.5 for the other CPPN examples, under 0.5 for the rest;
# - bf16 is not the same picture (mean up to 28: it moves CPPN colours visibly) and is only
#   held to itself;
# - real changes: another seed, palette, scale or kaleidoscope turn moves the mean by 37-165;
#   audio_gain 0.1 -> 0.11 by 6-23; contrast 1.2 -> 1.25 (demo) by 2.0-2.5, 3.0 -> 3.1
#   (kaleido_beats) by 3.5-4.6.
# So frames made in the same precision as the golden ones (a CPU against a CPU, a GPU in fp16
# against a GPU) are held to SAME_PRECISION, which catches all of those changes (the demo's
# contrast tweak only just); frames in
# another precision (a GPU's fp16 against a CPU's fp32 goldens) to MIXED_PRECISION, which
# holds fp16 with 1.5x-2x room and still catches every change above but a contrast tweak of
# a few percent.
SAME_PRECISION = (2.0, 24.0)      # (mean, p99) limits, levels of 0..255
MIXED_PRECISION = (5.0, 40.0)
PERCENTILE = 99.0


def register(sub) -> None:
    p = sub.add_parser("verify", help="compare a patch's frames with its golden frames",
                       description="Render a few frames of PATCH and compare them with the golden "
                       "frames kept beside it (PATCH's name + .golden); --update makes them. "
                       "Exit 0: the same pictures; 3: some frame differs; 2: bad input.")
    p.add_argument("patch", metavar="PATCH", type=Path)
    p.add_argument("--update", action="store_true",
                   help="render the golden frames and keep them beside the patch")
    p.add_argument("--frames", type=int, metavar="N",
                   help=f"with --update: how many frames, spread over the first {SPAN:g} s "
                        f"(default {DEFAULT_FRAMES}, or as many as the golden frames had)")
    p.add_argument("--size", type=parse_size, metavar="WxH",
                   help=f"with --update: frame size (default {DEFAULT_WIDTH} px wide, the "
                        "patch's aspect, or the golden frames' size)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"),
                   help="auto: fp16 on a GPU, fp32 on a CPU")
    p.set_defaults(func=run)


def golden_dir(patch: Path) -> Path:
    return patch.with_name(patch.stem + GOLDEN_SUFFIX)


# -- rendering the frames ---------------------------------------------------------------------
def default_size(graph: Graph) -> tuple[int, int]:
    w, h = graph.render_settings().size
    return DEFAULT_WIDTH, max(MIN_SIDE, round(DEFAULT_WIDTH * h / w))


def frame_indices(count: int, duration: float, fps: float, total: int) -> list[int]:
    """``count`` frames spread evenly over the first SPAN seconds (the middle of each of
    ``count`` equal parts), fewer if the render is too short to have them all."""
    span = min(SPAN, duration)
    wanted = [min(total - 1, int(round((i + 0.5) * span / count * fps))) for i in range(count)]
    return sorted(set(wanted))


class Renderer:
    """The patch, ready to give its frames at one size on one device."""

    def __init__(self, patch: Path, size: tuple[int, int] | None, device: str, precision: str):
        graph = Graph.from_patch(load_patch(patch), default_registry())
        for line in graph_warnings(graph):
            warn(line)
        graph.check()
        self.size = size or default_size(graph)
        graph = apply_overrides(graph, RunOptions(size=self.size))
        graph.check()
        self.graph = graph
        self.sources = [f"{n}.{p}" for n, p in image_sources(graph, Plan(graph))]
        if not self.sources:
            raise AfxError("has no image going into an output node", file=graph.file)
        targets = sorted({s.split(".")[0] for s in self.sources})
        self.ex = Executor(graph, device=device, precision=precision)
        self.settings = graph.render_settings()
        self.run = self.ex.prepare(Plan(graph, targets=targets), self.settings, on_warning=warn)

    @property
    def device(self) -> str:
        return self.ex.device.type

    @property
    def precision(self) -> str:
        return {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}.get(
            self.ex.dtype, str(self.ex.dtype))

    def frames(self, indices: list[int], sources: list[str]) -> dict[tuple[int, str], np.ndarray]:
        """(frame index, 'node.port') -> (H, W, 3) uint8, as an output node gets it."""
        out = {}
        for i in sorted(set(indices)):     # stateful nodes get the frames in between computed
            for _, values in self.ex.frames(self.run, i, i + 1):
                for source in sources:
                    node, port = source.split(".")
                    out[i, source] = to_uint8(values[node][port][0])
        return out


def warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


# -- comparing ------------------------------------------------------------------------------------
def differences(golden: np.ndarray, new: np.ndarray) -> dict[str, float]:
    """mean, 99th percentile and max of d, the per-pixel largest channel difference (levels)."""
    d = np.abs(golden.astype(np.int16) - new.astype(np.int16)).max(axis=-1)
    return {"mean": float(d.mean()), "p99": float(np.percentile(d, PERCENTILE)),
            "max": float(d.max())}


def limits(golden_precision: str | None, precision: str) -> tuple[float, float]:
    """(mean, p99) limits for frames made in ``precision`` against goldens made in
    ``golden_precision``."""
    return SAME_PRECISION if golden_precision == precision else MIXED_PRECISION


def passes(diff: dict[str, float], limit: tuple[float, float]) -> bool:
    return diff["mean"] <= limit[0] and diff["p99"] <= limit[1]


def side_by_side(golden: np.ndarray, new: np.ndarray) -> np.ndarray:
    """golden | this run | difference (x4, white where they differ), 4 px apart."""
    d = np.abs(golden.astype(np.int16) - new.astype(np.int16)).max(axis=-1)
    diff = np.repeat(np.clip(d * 4, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    gap = np.full((golden.shape[0], 4, 3), 64, np.uint8)
    return np.concatenate([golden, gap, new, gap, diff], axis=1)


# -- the golden folder --------------------------------------------------------------------------
def read_info(folder: Path, patch: Path) -> dict:
    """golden.json, checked: every field of the type afx verify writes, every frame named
    in it ours. A file that is not (damaged, nested without end, edited) is bad input."""
    if not folder.exists() and not folder.is_symlink():
        raise AfxError(f"no golden frames yet ({folder} does not exist); make them with: "
                       f"afx verify {patch} --update", file=str(patch))
    if folder.is_symlink() or not folder.is_dir():
        raise AfxError(f"{folder} is not a golden folder afx verify wrote (remake it with "
                       f"afx verify {patch} --update after moving it away)", file=str(patch))
    path = folder / INFO
    if not os.path.lexists(path):
        raise AfxError(f"{folder} has no {INFO}: no golden frames yet; make them with: "
                       f"afx verify {patch} --update", file=str(patch))
    bad = AfxError(f"{path} is not a {INFO} afx verify wrote (remake the golden frames with "
                   f"afx verify {patch} --update after moving {folder} away)", file=str(patch))
    try:
        if path.is_symlink():
            raise ValueError("a link")
        info = json.loads(read_capped(path, MAX_INFO).decode("utf-8"))
    except (AfxError, OSError, ValueError, RecursionError):
        raise bad from None
    if not info_ok(info):
        raise bad
    return info


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def info_ok(info) -> bool:
    """Whether ``info`` has the shape :func:`update` writes."""
    if not isinstance(info, dict):
        return False
    size, frames = info.get("size"), info.get("frames")
    if not (isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in size)
            and check_size(size)[1] is None and isinstance(frames, list) and frames):
        return False
    for key in ("patch", "afx", "device", "precision"):
        if key in info and not isinstance(info[key], str):
            return False
    if "fps" in info and not (_number(info["fps"]) and 0 < info["fps"] <= MAX_FPS):
        return False
    names = set()
    for f in frames:
        if not (isinstance(f, dict) and isinstance(f.get("file"), str)
                and FRAME_FILE.fullmatch(f["file"]) and f["file"] not in names
                and isinstance(f.get("index"), int) and not isinstance(f["index"], bool)
                and 0 <= f["index"] < MAX_INDEX and isinstance(f.get("image"), str)
                and f["image"].count(".") == 1
                and ("time" not in f or _number(f["time"]))):
            return False
        names.add(f["file"])
    return frame_count(info) <= MAX_FRAMES


def frame_count(info: dict) -> int:
    """How many frames the golden frames are (each of them of every image)."""
    return len({f["index"] for f in info["frames"]})


def foreign(folder: Path) -> str | None:
    """Something in a golden folder that afx verify did not write, or None."""
    with os.scandir(folder) as it:
        for entry in it:
            ours = entry.name == INFO or FRAME_FILE.fullmatch(entry.name)
            if not (ours and entry.is_file(follow_symlinks=False)):
                return entry.name
    return None


def info_text(info: dict) -> str:
    """golden.json: a key a line, a frame a line (stable order: the same goldens, same bytes)."""
    lines = []
    for key, value in info.items():
        if key == "frames":
            rows = ",\n".join(f"    {json.dumps(f)}" for f in value)
            lines.append(f'  "frames": [\n{rows}\n  ]')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_golden(folder: Path, info: dict, images: dict[str, np.ndarray]) -> None:
    """Write the golden folder whole: into a temporary folder beside it, then swapped in. An
    existing folder is replaced only while it holds nothing but what afx verify writes."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise AfxError(f"{folder} is not a folder; move it away to keep golden frames there")
    if folder.exists():
        stranger = foreign(folder)
        if stranger is not None:
            raise AfxError(f"{folder} holds '{stranger}', which afx verify did not write; "
                           "nothing was changed (move it away)")
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    old = None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)           # mkdtemp's 0700 would keep others out
        for name, rgb in images.items():
            (tmp / name).write_bytes(encode_png(rgb))
        (tmp / INFO).write_text(info_text(info), encoding="utf-8")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.rename(folder, old)
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not folder.exists():
            os.rename(old, folder)              # put the old goldens back
        raise
    if old is not None:                          # held only our files: checked above
        for entry in os.scandir(old):
            if entry.name == INFO or FRAME_FILE.fullmatch(entry.name):
                os.unlink(entry.path)
        with contextlib.suppress(OSError):
            os.rmdir(old)


# -- the command ----------------------------------------------------------------------------------
def run(args) -> int:
    patch: Path = args.patch
    if args.frames is not None and not 1 <= args.frames <= MAX_FRAMES:
        raise AfxError(f"--frames: from 1 to {MAX_FRAMES}")
    folder = golden_dir(patch)
    if args.update:
        return update(args, patch, folder)
    load_patch(patch)             # a patch that cannot be read says so before its goldens do
    info = read_info(folder, patch)
    size = tuple(info["size"])
    for flag, given, have in (("--size", args.size, size),
                              ("--frames", args.frames, frame_count(info))):
        if given is not None and given != have:
            shown = "x".join(map(str, have)) if flag == "--size" else have
            raise AfxError(f"{flag}: the golden frames are {shown}; {flag} only chooses what "
                           "--update makes", file=str(patch))
    return verify(args, patch, folder, info, size)


def update(args, patch: Path, folder: Path) -> int:
    before = None
    with contextlib.suppress(AfxError):
        before = read_info(folder, patch)       # keep their size and count unless told
    size = args.size or (tuple(before["size"]) if before else None)
    count = args.frames or (frame_count(before) if before else DEFAULT_FRAMES)
    r = Renderer(patch, size, args.device, args.precision)
    indices = frame_indices(count, r.run.duration, r.settings.fps, r.run.total)
    got = r.frames(indices, r.sources)
    frames, images = [], {}
    for k, i in enumerate(indices, 1):
        for source in r.sources:
            name = f"frame_{k:04d}.png" if len(r.sources) == 1 else \
                f"{source}_frame_{k:04d}.png"
            images[name] = got[i, source]
            frames.append({"file": name, "image": source, "index": i,
                           "time": round(i / r.settings.fps, 6)})
    info = {"patch": patch.name, "afx": afx_version(), "size": list(r.size),
            "fps": r.settings.fps, "device": r.device, "precision": r.precision,
            "frames": frames}
    write_golden(folder, info, images)
    times = ", ".join(f"{i / r.settings.fps:.2f}" for i in indices)
    print(escape_controls(f"wrote {folder}: {len(images)} golden frames at "
                          f"{r.size[0]}x{r.size[1]} ({times} s) on {r.device} {r.precision}"))
    return 0


def verify(args, patch: Path, folder: Path, info: dict, size: tuple[int, int]) -> int:
    r = Renderer(patch, size, args.device, args.precision)
    entries = info["frames"]
    present = [e for e in entries if e["image"] in r.sources]
    got = r.frames([e["index"] for e in present], sorted({e["image"] for e in present}))
    failed, shots = [], None
    limit = limits(info.get("precision"), r.precision)
    if info.get("precision") != r.precision:
        print(escape_controls(
            f"note: the golden frames were made in {info.get('precision', '?')}, this run is "
            f"{r.precision}: held to the limits for another precision"
            + ("; bf16 moves CPPN colours visibly, so expect it to differ (--precision "
               f"{info.get('precision')} checks them as made)" if "bf16" in
               (info.get("precision"), r.precision) else "")))
    for e in entries:
        when = f"{e['index'] / r.settings.fps:5.2f} s (frame {e['index']})"
        if e["index"] >= r.run.total:
            failed.append(e["file"])
            print(escape_controls(f"{e['file']}  {when}: the render has only {r.run.total} "
                                  "frames now  DIFFERENT"))
            continue
        if e["image"] not in r.sources:
            failed.append(e["file"])
            print(escape_controls(f"{e['file']}  {when}: no image '{e['image']}' goes into an "
                                  f"output now ({', '.join(r.sources)} do)  DIFFERENT"))
            continue
        try:
            golden = read_png(folder / e["file"])
        except Exception:
            raise AfxError(f"{folder / e['file']}: cannot read this golden frame (remake them "
                           f"with --update)", file=str(patch)) from None
        new = got[e["index"], e["image"]]
        if golden.shape != new.shape:
            raise AfxError(f"{folder / e['file']}: is {golden.shape[1]}x{golden.shape[0]}, not "
                           f"{size[0]}x{size[1]} as {INFO} says (remake them with --update)",
                           file=str(patch))
        diff = differences(golden, new)
        ok = passes(diff, limit)
        line = (f"{e['file']}  {when}: mean {diff['mean']:.2f}/255 (limit {limit[0]:g}), "
                f"p99 {diff['p99']:.0f}/255 (limit {limit[1]:g}), max {diff['max']:.0f}/255  "
                + ("ok" if ok else "DIFFERENT"))
        print(escape_controls(line))
        if not ok:
            failed.append(e["file"])
            shots = shots or Path(tempfile.mkdtemp(prefix="afx-verify-"))
            shot = shots / e["file"]
            shot.write_bytes(encode_png(side_by_side(golden, new)))
            print(escape_controls(f"  golden | this run | difference x4: {shot}"))
    made = f"made on {info.get('device', '?')} {info.get('precision', '?')}"
    here = f"checked on {r.device} {r.precision}"
    if failed:
        print(escape_controls(
            f"failed: {patch}: {len(failed)} of {len(entries)} frames differ from {folder} "
            f"({', '.join(failed)}; {made}, {here}). If the change is meant, remake them: "
            f"afx verify {patch} --update"), file=sys.stderr)
        return EXIT_DIFFERENT
    print(escape_controls(f"ok: {patch} matches its {len(entries)} golden frames in {folder} "
                          f"({made}, {here})"))
    return 0
