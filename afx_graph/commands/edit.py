"""``afx edit [PATCH]``: the node editor with a live preview.

The editor (``afx_graph.ui``, Dear PyGui) is imported only when this command runs, so the
rest of the command line never loads a GUI toolkit."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("edit", help="open the node editor (live preview, save, render)")
    p.add_argument("patch", nargs="?", metavar="PATCH",
                   help="patch to open; a path that does not exist yet starts a new patch saved there")
    p.add_argument("--preview-size", type=int, default=256, choices=(128, 256, 384, 512),
                   help="long side of the live preview in pixels (default 256)")
    p.add_argument("--square", action="store_true",
                   help="preview square (size x size) instead of the patch's aspect ratio")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="where the preview renders")
    p.add_argument("--no-audio", action="store_true", help="preview silently on the wall clock")
    p.add_argument("--play", action="store_true", help="start playing the preview at once")
    p.add_argument("--size", type=_size, metavar="WxH",
                   help="window size in pixels (default: 1680x960, or the screen less room for a "
                        "task bar when it is smaller)")
    p.set_defaults(func=run)


def run(args) -> int:
    from afx_graph.ui.app import main  # the GUI toolkit loads here, and only here

    return main(Path(args.patch) if args.patch else None, preview_size=args.preview_size,
                aspect="square" if args.square else "patch", device=args.device,
                audio=not args.no_audio, play=args.play,
                width=args.size[0] if args.size else None, height=args.size[1] if args.size else None)


def _size(text: str) -> tuple[int, int]:
    import argparse
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT (e.g. 1366x740), got '{text}'")
    if w < 400 or h < 300:
        raise argparse.ArgumentTypeError(f"a window of {w}x{h} is too small for the editor")
    return w, h
