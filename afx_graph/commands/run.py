"""``afx run PATCH``: render a patch headlessly to its outputs."""
from __future__ import annotations

import sys

from afx_graph.sharing.bundle import running_bundles
from afx_graph.errors import AfxError, escape_controls
from afx_graph.graph import Graph
from afx_graph.sharing.opening import load_patch
from afx_graph.registry import default_registry
from afx_graph.run.render import RunOptions, render_graph
from afx_graph.patchfile.requires import graph_warnings
from afx_graph.settings import MAX_DURATION
from afx_graph.commands.options import add_render_options, number
from afx_graph.commands.progress import ProgressLine

MIN_CHUNK = 0.1


def register(sub) -> None:
    p = sub.add_parser("run", help="render a patch to video (or frames)")
    p.add_argument("patch", metavar="PATCH")
    p.add_argument("-o", "--output", metavar="OUT", help="path of the patch's single file output")
    p.add_argument("--causal", action="store_const", const="causal", dest="analysis",
                   help="analyse the audio as a live input would: each feature sees only "
                        "past sound, fed in blocks (settings.analysis: causal)")
    p.add_argument("--audio", metavar="FILE", help="feed this audio file into the patch")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override a parameter (repeatable)")
    add_render_options(p, duration=True, force="overwrite existing outputs",
                       ray="split the render in time over a Ray cluster (auto: the one this "
                           "machine belongs to, or a local one); needs pip install "
                           "'afx[cluster]'")
    p.add_argument("--chunk", type=number("--chunk", MIN_CHUNK, MAX_DURATION, unit="seconds"),
                   metavar="S",
                   help="with --ray: seconds of video per task (default: two tasks per worker)")
    p.add_argument("--shared", metavar="DIR",
                   help="with --ray: a folder every machine sees; chunks are written there "
                        "instead of travelling through the driver")
    p.set_defaults(func=run)


@running_bundles        # afx run piece.afxpack: unpacked into a temporary folder to render
def run(args) -> int:
    patch = load_patch(args.patch)
    if args.audio is None:                             # a render's patch: sound from the video
        for line in patch.warnings:
            print(f"warning: {escape_controls(line)}", file=sys.stderr)
    graph = Graph.from_patch(patch, default_registry())
    for line in graph_warnings(graph):                 # saved by a newer afx or pack
        print(f"warning: {line}", file=sys.stderr)
    opts = RunOptions(output=args.output, audio=args.audio, size=args.size, fps=args.fps,
                      duration=args.duration, start=args.start, analysis=args.analysis,
                      device=args.device,
                      precision=args.precision, sets=args.sets, force=args.force, batch=args.batch)
    show = not args.quiet and sys.stderr.isatty()
    if args.ray is not None:
        stats, outputs = _render_on_ray(graph, opts, args)
    else:
        if args.chunk is not None or args.shared is not None:
            raise AfxError("--chunk and --shared split a render over Ray: add --ray",
                           field="--chunk" if args.chunk is not None else "--shared")
        bar = ProgressLine() if show else None
        try:
            stats, outputs = render_graph(
                graph, opts, on_warning=lambda text: print(f"warning: {text}", file=sys.stderr),
                on_progress=None if bar is None else lambda p: bar(
                    p.done / max(p.total, 1), f"{p.done}/{p.total} frames {p.fps:6.1f} fps",
                    p.eta))
        finally:
            if bar is not None:
                bar.close()
    if not args.quiet:
        where = escape_controls(", ".join(str(p) for p in outputs))
        print(f"wrote {where}: {stats.frames} frames, {stats.duration:.2f} s of video in "
              f"{stats.elapsed:.2f} s ({stats.fps:.1f} fps, {stats.realtime:.2f}x realtime)")
    return 0


def _render_on_ray(graph, opts, args):
    from afx_graph.run.split import render_split
    from afx_graph.run.jobs import RayRunner
    if args.chunk is not None and not MIN_CHUNK <= args.chunk <= MAX_DURATION:
        raise AfxError(f"must be from {MIN_CHUNK:g} to {MAX_DURATION:g} seconds", field="--chunk")
    runner = RayRunner(args.ray)

    def progress(job, result, done, total):
        if not args.quiet:
            print(f"chunk {done}/{total} (frames {job.frames[0]}..{job.frames[1] - 1}) on "
                  f"{result.host}: {result.seconds:.1f} s", file=sys.stderr)
    try:
        return render_split(graph, opts, runner, chunk_seconds=args.chunk, shared=args.shared,
                            on_chunk=progress)
    finally:
        runner.close()
