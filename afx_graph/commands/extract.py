"""``afx extract RENDER [-o PATCH] [--force]``: the patch a render (MP4 or PNG) carries inside,
as the YAML that made it (afx_graph/embedded.py). Without ``-o`` it is printed.

The text is read through the same limits and safe loader as a patch file: one that would not
load is refused, and nothing is written. ``-o`` never replaces a file without ``--force``,
and never the render itself."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from afx_graph.sharing import embedded
from afx_graph.media import files
from afx_graph.errors import AfxError, NodeInputError
from afx_graph.patchfile.patch import loads
from afx_graph.media.paths import typed_output
from afx_graph.run.render import typed_path


def register(sub) -> None:
    p = sub.add_parser("extract", help="take the patch out of a render (MP4 or PNG)")
    p.add_argument("render", metavar="RENDER", help="an MP4 or PNG afx wrote")
    p.add_argument("-o", "--output", metavar="PATCH", help="write the patch here (default: print it)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=run)


def run(args) -> int:
    text, _ = embedded.read_text(args.render)
    loads(text, path=Path(args.render))           # refused here if it would not load as a file
    if args.output is None:
        sys.stdout.write(text)
        return 0
    out = Path(typed_path(typed_output(args.output, "-o", folder=False), "-o"))
    if out.exists() and os.path.samefile(out, args.render):
        raise AfxError(f"{args.output} is the render itself; write the patch to a .yaml file",
                       field="-o")
    try:
        files.check_target(out, overwrite=args.force)
        files.write_file(out, text.encode("utf-8"), overwrite=args.force)
    except NodeInputError as e:
        raise AfxError(e.issue.message, field="-o") from None
    print(f"wrote {out}")
    return 0
