"""``afx fit IMAGE... -o look.safetensors``: fit a coordinate network to a person's images,
one learned code per image, for the ``field.look`` node. The work is afx_graph/looks.py's
(shared with the editor); this module reads the options and prints."""
from __future__ import annotations

import sys

from afx_graph.errors import escape_controls
from afx_graph.looks.fitted import BATCH_PER_IMAGE
from afx_graph.looks.fit import (DEFAULT_SIZE, DEFAULT_STEPS, MAX_BUDGET, MAX_SEED, MAX_SIZE,
    MAX_STEPS, MIN_SIZE, fit_to_file)
from afx_graph.commands.options import number, whole
from afx_graph.commands.progress import ProgressLine


def register(sub) -> None:
    p = sub.add_parser("fit", help="fit a look (a neural field) to your images, for field.look",
                       description="Fit one coordinate network to one or more images, with a "
                       "learned code per image, and save it as a look file for the field.look "
                       "node (morph moves between the images in the order given).")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG or any image ffmpeg reads")
    p.add_argument("-o", "--output", required=True, metavar="LOOK",
                   help="the look file to write (NAME.safetensors)")
    p.add_argument("--size", type=whole("--size", MIN_SIZE, MAX_SIZE, unit="pixels"),
                   default=DEFAULT_SIZE, metavar="N",
                   help="training resolution: each image is scaled to about NxN pixels, its "
                        f"aspect kept, never enlarged (default {DEFAULT_SIZE})")
    p.add_argument("--steps", type=whole("--steps", 1, MAX_STEPS), default=DEFAULT_STEPS,
                   metavar="N",
                   help=f"optimiser steps, each on {BATCH_PER_IMAGE} random pixels of every "
                        f"image (default {DEFAULT_STEPS})")
    p.add_argument("--time-budget", metavar="SECONDS",
                   type=number("--time-budget", 0, MAX_BUDGET, above=True, unit="seconds"),
                   help="stop after this many seconds even if steps are left")
    p.add_argument("--seed", type=whole("--seed", 0, MAX_SEED), default=0,
                   help="same seed, same images: same look")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--force", action="store_true", help="overwrite an existing look file")
    p.add_argument("--quiet", action="store_true", help="no progress line or summary")
    p.set_defaults(func=run)


def run(args) -> int:
    show = not args.quiet and sys.stderr.isatty()
    bar = ProgressLine() if show else None
    try:
        result = fit_to_file(args, on_progress=None if bar is None else lambda p: bar(
            p.fraction, f"step {p.step}/{p.steps}  {p.psnr:5.1f} dB  {p.elapsed:5.1f}s", p.eta))
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        look = result.look
        fitted = ", ".join(f"{escape_controls(i.name)} {i.width}x{i.height} {i.psnr:.1f} dB"
                           for i in look.images)
        print(f"wrote {escape_controls(str(result.path))} ({result.size / 1024:.0f} KB): "
              f"{look.info['steps']} steps in {look.info['seconds']:.1f} s on {result.device}; "
              f"PSNR {fitted}")
    return 0
