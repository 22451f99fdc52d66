"""Fitting a look: the work of ``afx fit`` for every caller (the command line and the
editor's Fit dialog), below both. Images are read and scaled, :func:`afx_graph.looks.fitted.fit_look`
fits the network, and the look file is written safely. Everything that can be refused is
refused before any work, as an :class:`AfxError` naming the option or the file."""
from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from afx_graph.errors import AfxError, NodeInputError, escape_controls
from afx_graph.media.files import check_target, what_is, write_file
from afx_graph.media.paths import typed_output
from afx_graph.media.png import image_size

if TYPE_CHECKING:
    from afx_graph.looks.fitted import FitProgress, Look

MIN_SIZE, MAX_SIZE = 8, 1024
MAX_STEPS = 1_000_000
MAX_BUDGET = 7 * 24 * 3600.0
MAX_IMAGES = 64
MAX_SEED = 2 ** 63 - 1
MAX_IMAGE_PIXELS = 100_000_000      # what a source image may have before it is scaled down
SUFFIX = ".safetensors"
DEFAULT_STEPS = 3000
DEFAULT_SIZE = 128


def check_arguments(args) -> Path:
    """Everything that can be refused before any work; returns the output path."""
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        raise AfxError(f"must be from {MIN_SIZE} to {MAX_SIZE} pixels, got {args.size}",
                       field="--size")
    if not 1 <= args.steps <= MAX_STEPS:
        raise AfxError(f"must be from 1 to {MAX_STEPS}, got {args.steps}", field="--steps")
    if args.time_budget is not None and not (0 < args.time_budget <= MAX_BUDGET
                                              and math.isfinite(args.time_budget)):
        raise AfxError(f"must be more than 0 and at most {MAX_BUDGET:g} seconds, got "
                       f"{args.time_budget:g}", field="--time-budget")
    if not 0 <= args.seed <= MAX_SEED:
        raise AfxError(f"must be from 0 to {MAX_SEED}, got {args.seed}", field="--seed")
    if len(args.images) > MAX_IMAGES:
        raise AfxError(f"at most {MAX_IMAGES} images in one look, got {len(args.images)}")
    out = Path(typed_output(args.output, "-o", folder=False))
    if out.suffix.lower() != SUFFIX:
        raise AfxError(f"a look file's name ends in {SUFFIX} (got '{out.name}')", field="-o")
    try:                        # first: it names a link on the way as a link
        check_target(out.absolute(), overwrite=args.force)
    except NodeInputError as e:
        raise AfxError(e.issue.message, field="-o") from None
    parent = out.absolute().parent
    if not parent.is_dir():
        raise AfxError(f"the folder '{parent}' does not exist", field="-o")
    return out


def read_image(path: str) -> np.ndarray:
    """The first picture of ``path`` as (H, W, 3) uint8, read with PyAV (PNG, JPEG, WebP,
    a video's first frame...); anything wrong is an AfxError naming the file."""
    import av

    def bad(message):
        return AfxError(message, file=escape_controls(str(path)))

    if not str(path).strip():       # '' would be the current folder
        raise AfxError("an image's path is empty")
    file = Path(path).expanduser()
    try:
        st = os.stat(file)
    except (FileNotFoundError, NotADirectoryError):
        raise bad("file not found") from None
    except (OSError, ValueError) as e:
        raise bad(f"cannot read it: {getattr(e, 'strerror', None) or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise bad(f"it is {what_is(st)}, not an image file")
    if st.st_size == 0:
        raise bad("the file is empty (0 bytes)")
    w, h = image_size(file) or (0, 0)      # from its header: FFmpeg calls a huge one invalid
    if w * h > MAX_IMAGE_PIXELS:
        raise bad(f"the image is {w}x{h}; afx fit reads images of up to "
                  f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels")
    try:
        with av.open(str(file), metadata_errors="replace") as c:
            fmt = c.format.name
            if not c.streams.video or fmt == "tty":
                kind = ("a text file" if fmt == "tty" else "a sound file" if c.streams.audio
                        else "not an image")
                raise bad(f"it is {kind}; give an image (PNG, JPEG, ...)")
            stream = c.streams.video[0]
            w, h = stream.codec_context.width or 0, stream.codec_context.height or 0
            if w * h > MAX_IMAGE_PIXELS:
                raise bad(f"the image is {w}x{h}; afx fit reads images of up to "
                          f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels")
            for frame in c.decode(stream):
                return frame.to_ndarray(format="rgb24")
    except AfxError:
        raise
    except PermissionError:
        raise bad("cannot read it: permission denied") from None
    except av.error.InvalidDataError:
        raise bad("not an image that can be read (unknown format, or the file is damaged)") from None
    except (av.error.FFmpegError, OSError, ValueError, EOFError) as e:
        reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise bad(f"cannot read it as an image: {reason}") from None
    raise bad("it holds no picture (damaged or empty)")


def training_size(width: int, height: int, size: int) -> tuple[int, int]:
    """About ``size`` x ``size`` pixels with the image's aspect; never larger than it is."""
    scale = size / math.sqrt(width * height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def scale_image(img: np.ndarray, size: int) -> np.ndarray:
    """Scaled down (antialiased) to the training size."""
    import torch

    h, w = img.shape[:2]
    tw, th = training_size(w, h, size)
    if (tw, th) == (w, h):
        return img
    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
    t = torch.nn.functional.interpolate(t, size=(th, tw), mode="bilinear", antialias=True,
                                        align_corners=False)
    return t[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


@dataclass
class FitOptions:
    """What ``afx fit`` is asked, for callers other than the command line (the editor); the
    command's argparse namespace has the same attributes."""
    images: list[str]
    output: str
    size: int = DEFAULT_SIZE
    steps: int = DEFAULT_STEPS
    time_budget: float | None = None
    seed: int = 0
    device: str = "auto"
    force: bool = False


@dataclass
class FitResult:
    look: Look
    path: Path            # the look file written (as given: relative paths stay relative)
    size: int             # its bytes
    device: str


def fit_to_file(args, *, on_progress: Callable[[FitProgress], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> FitResult:
    """The work of ``afx fit`` for every caller: check the options (AfxError before any
    work), read and scale the images (AfxError naming the file), fit, and write the look
    file under a temporary name beside it, put in place at the end (never replacing a file
    without ``force``). ``should_stop`` returning True ends it with KeyboardInterrupt; then,
    as after any failure, nothing is left at the output path."""
    from afx_graph.engine.devices import pick_device
    from afx_graph.looks.fitted import fit_look

    def stop_now() -> None:
        if should_stop is not None and should_stop():
            raise KeyboardInterrupt

    out = check_arguments(args)
    device = pick_device(args.device)
    images = []
    for p in args.images:
        stop_now()
        images.append(scale_image(read_image(p), args.size))
    names = [Path(p).name for p in args.images]
    look = fit_look(images, names, steps=args.steps, time_budget=args.time_budget,
                    seed=args.seed, device=device, on_progress=on_progress,
                    should_stop=should_stop)
    look.info["size"] = args.size
    data = look.to_bytes()
    stop_now()
    try:
        write_file(out.absolute(), data, overwrite=args.force)
    except NodeInputError as e:
        raise AfxError(e.issue.message, field="-o") from None
    return FitResult(look, out, len(data), device.type)
