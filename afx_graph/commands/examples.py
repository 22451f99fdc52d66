"""``afx examples [DIR] [--force]``: the example patches that ship with afx. Without DIR
they are listed; with DIR they are copied there (with the look files they read), so a
``pip install`` without a checkout has them: ``afx examples mine && afx run mine/demo.yaml``.
No existing file is replaced without ``--force``, and nothing is written if one would be."""
from __future__ import annotations

from pathlib import Path

from afx_graph import examples
from afx_graph.media import files
from afx_graph.errors import AfxError, NodeInputError
from afx_graph.sharing.opening import load_patch
from afx_graph.media.paths import typed_output
from afx_graph.run.render import typed_path


def register(sub) -> None:
    p = sub.add_parser("examples", help="list the example patches, or copy them into a folder")
    p.add_argument("folder", nargs="?", metavar="DIR", help="copy the examples here")
    p.add_argument("--force", action="store_true", help="overwrite files already there")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.folder is None:
        for path in examples.patches():
            meta = load_patch(path).meta or {}
            print(f"{path.stem:18} {meta.get('name', '')}")
        print(f"\n{len(examples.patches())} examples in {examples.FOLDER}; "
              "`afx examples DIR` copies them out")
        return 0
    folder = Path(typed_path(typed_output(args.folder, "DIR", folder=True), "DIR"))
    names = [p.relative_to(examples.FOLDER) for p in examples.patches()] + examples.assets()
    there = [n for n in names if (folder / n).exists()]
    if there and not args.force:
        raise AfxError(f"{folder / there[0]} already exists ({len(there)} of the {len(names)} "
                       "files are there); use --force to overwrite", field="DIR")
    for name in names:
        try:
            files.write_file(folder / name, (examples.FOLDER / name).read_bytes(),
                             overwrite=args.force)
        except NodeInputError as e:
            raise AfxError(e.issue.message, field="DIR") from None
    print(f"copied {len(names)} files into {folder}: run `afx run {folder / 'demo.yaml'}`")
    return 0
