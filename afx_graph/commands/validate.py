"""``afx validate PATCH...``: check patches without rendering; every error listed."""
from __future__ import annotations

import sys

from ..errors import PatchError
from ..graph import Graph
from ..patch import load_patch
from ..registry import default_registry


def register(sub) -> None:
    p = sub.add_parser("validate", help="check patch files without rendering")
    p.add_argument("patches", nargs="+", metavar="PATCH")
    p.set_defaults(func=run)


def run(args) -> int:
    registry = default_registry()
    bad = 0
    for path in args.patches:
        try:
            graph = Graph.from_patch(load_patch(path), registry)
            issues = graph.validate()
        except PatchError as e:
            issues = e.issues
        if issues:
            bad += 1
            for issue in issues:
                print(f"error: {issue}", file=sys.stderr)
        else:
            print(f"ok: {path} ({len(graph.nodes)} nodes, {len(graph.links())} links)")
    if bad:
        total = len(args.patches)
        print(f"{bad} of {total} patch{'es' if total != 1 else ''} invalid", file=sys.stderr)
        return 2
    return 0
