"""``afx pack PATCH -o piece.afxpack`` and ``afx unpack piece.afxpack [-o DIR]``: a patch
and the files it reads (audio, looks) in one file to share (see afx_graph/bundle.py)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from afx_graph.sharing.bundle import SUFFIX, folder_name, size_text, unpack_bundle, write_bundle
from afx_graph.errors import PatchError, escape_controls
from afx_graph.graph import Graph
from afx_graph.sharing.opening import load_patch
from afx_graph.media.paths import typed_output
from afx_graph.registry import default_registry
from afx_graph.run.render import set_audio


def register(sub) -> None:
    p = sub.add_parser("pack", help="put a patch and the files it reads into one .afxpack file")
    p.add_argument("patch", metavar="PATCH")
    p.add_argument("-o", "--output", metavar="OUT",
                   help=f"the bundle to write (default: the patch's name + {SUFFIX} here)")
    p.add_argument("--audio", metavar="FILE",
                   help="pack this audio file as the patch's audio source (as afx run --audio)")
    p.add_argument("--allow-outside", action="store_true",
                   help="also pack files from outside the patch's folder (each is named on "
                        "stderr; by default such a file is refused)")
    p.add_argument("--force", action="store_true", help="overwrite an existing bundle")
    p.add_argument("--quiet", action="store_true", help="no summary")
    p.set_defaults(func=pack)

    u = sub.add_parser("unpack", help="unpack an .afxpack bundle into a new folder")
    u.add_argument("bundle", metavar="BUNDLE")
    u.add_argument("-o", "--output", metavar="DIR",
                   help="folder to create (must not exist, or be empty; default: the "
                        "bundle's name here)")
    u.add_argument("--quiet", action="store_true", help="no summary")
    u.set_defaults(func=unpack)


def pack(args) -> int:
    registry = default_registry()
    graph = Graph.from_patch(load_patch(args.patch), registry)
    if args.audio is not None:
        set_audio(graph, args.audio)
    issues = graph.validate()           # a bundle of a patch that cannot run helps no one
    if issues:
        raise PatchError(issues)
    out = Path(typed_output(args.output, "-o", folder=False) if args.output   # a file
               else f"{Path(args.patch).stem}{SUFFIX}")
    packed = write_bundle(graph.to_patch(), registry, out, overwrite=args.force,
                          typed=graph.user_inputs, outside_ok=args.allow_outside)
    for line in packed.outside:        # even with --quiet: whoever gets the bundle reads them
        print(f"warning: packed {escape_controls(line)} from outside the patch's folder: "
              "whoever gets the bundle can read it", file=sys.stderr)
    if not args.quiet:
        n = packed.entries - 2                     # less the patch and the manifest
        print(f"wrote {escape_controls(str(args.output or out))} ({size_text(packed.size)}): "
              f"the patch and {n} file{'s' * (n != 1)} it reads, {size_text(packed.content)} "
              "unpacked")
    return 0


def unpack(args) -> int:
    bundle = Path(args.bundle)
    target = Path(args.output) if args.output else \
        Path.cwd() / folder_name(bundle, shown=args.bundle)
    done = unpack_bundle(bundle, target, default_registry(), shown=args.bundle)
    if not args.quiet:
        patch = os.path.relpath(done.patch)
        patch = patch if not patch.startswith("..") else str(done.patch)
        print(f"unpacked {done.entries} files ({size_text(done.size)}) into "
              f"{escape_controls(str(done.folder))}; render it with: afx run "
              f"{escape_controls(patch)}")
    return 0
