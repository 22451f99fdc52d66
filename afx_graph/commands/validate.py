"""``afx validate PATCH...``: check patches without rendering; every error listed.

A patch that validates is one ``afx run`` accepts: besides the graph's own checks, the same
render plan is built (no output node is refused in the same words) and run's own checks before
any node runs are asked (render.plan_issues): outputs that collide or overwrite the patch, a
render with no length, a start past the end of audio of a known length.
"""
from __future__ import annotations

import sys
from pathlib import Path

from afx_graph.sharing.bundle import opened_bundle
from afx_graph.errors import AfxError, Issue, PatchError, escape_controls
from afx_graph.graph import Graph
from afx_graph.sharing.opening import load_patch
from afx_graph.engine.plan import Plan
from afx_graph.registry import default_registry
from afx_graph.run.render import plan_issues, set_audio
from afx_graph.patchfile.requires import graph_warnings
from afx_graph.sharing import embedded
from afx_graph import settings as settings_mod

NO_LENGTH = settings_mod.NO_LENGTH


def register(sub) -> None:
    p = sub.add_parser("validate", help="check patch files without rendering")
    p.add_argument("patches", nargs="+", metavar="PATCH")
    p.add_argument("--audio", metavar="FILE",
                   help="check the patches as `afx run --audio FILE` would run them")
    p.set_defaults(func=run)


def render_issues(graph: Graph, out_dir: Path | None = None) -> list[Issue]:
    """What ``afx run`` would still refuse in a graph with no validation issues, found the
    way run finds it (its Plan, then render.plan_issues: the same checks), without running
    any node. A render's patch names that render as its output: run wants -o for it, which
    is no fault of the patch."""
    try:
        plan = Plan(graph)
        again = graph.path is not None and embedded.media_kind(graph.path) is not None
        return plan_issues(graph, plan, out_dir or Path.cwd(), again=again)
    except PatchError as e:
        return e.issues


def subpatch_issues(graph: Graph, registry) -> list[Issue]:
    """A subpatch file as a patch using it sees it: what it exposes must exist and be typed."""
    from afx_graph.subpatches import definitions as subpatch
    lib = subpatch.Library({}, graph.base_dir, graph.file)
    try:
        d = lib.resolve(graph.path.name if graph.path else "")
        subpatch.spec_for(d, registry, (d.key,))
    except subpatch.SubpatchError as e:
        return [Issue(str(e), graph.file, field="expose")]
    return []


def check(path: str, args, registry) -> tuple[Graph | None, list[Issue]]:
    """The graph of one patch (a render's, a bundle's) and what is wrong with it."""
    with opened_bundle(path, registry) as inside:        # a bundle: checked unpacked
        patch = load_patch(inside)
        if args.audio is None:                     # a render's patch: sound from the video
            for line in patch.warnings:
                print(f"warning: {escape_controls(line)}", file=sys.stderr)
        graph = Graph.from_patch(patch, registry)
        for line in graph_warnings(graph):         # saved by a newer afx or pack
            print(f"warning: {line}", file=sys.stderr)
        if args.audio is not None:
            set_audio(graph, args.audio)
        if graph.expose is not None:               # a subpatch file: checked as one
            return graph, graph.validate() or subpatch_issues(graph, registry)
        return graph, graph.validate() or render_issues(graph)


def run(args) -> int:
    registry = default_registry()
    bad = 0
    for path in args.patches:
        graph = None
        try:
            graph, issues = check(path, args, registry)
        except PatchError as e:
            issues = e.issues
        except AfxError as e:
            issues = [e.issue]
        if issues:
            bad += 1
            for issue in issues:
                print(f"error: {issue}", file=sys.stderr)
        elif graph.expose is not None:
            offers = ", ".join(f"{k} {', '.join(v)}" for k, v in graph.expose.items() if v)
            print(f"ok: {path} (a subpatch file: {len(graph.nodes)} nodes; offers {offers or 'nothing'})")
        else:
            print(f"ok: {path} ({len(graph.nodes)} nodes, {len(graph.links())} links)")
    if bad:
        total = len(args.patches)
        print(f"{bad} of {total} patch{'es' if total != 1 else ''} invalid", file=sys.stderr)
        return 2
    return 0
