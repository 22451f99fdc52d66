"""``afx run --ray`` and ``--jobs``: a render cut into chunks (chunks.py), run as jobs by a
runner (jobs.py: local processes or Ray), and joined into the patch's video output."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from afx_graph.engine.executor import RenderStats
from afx_graph.errors import AfxError
from afx_graph.graph import Graph
from afx_graph.media import files, scratch
from afx_graph.patchfile.patch import dumps
from afx_graph.sharing import embedded
from afx_graph.run.chunks import Renderable, join, spans
from afx_graph.run.jobs import Job
from afx_graph.run.render import output_targets, prepare


def render_split(graph: Graph, opts, runner, *, chunk_seconds: float | None = None,
                 shared: str | None = None, preroll: bool = True, on_chunk=None):
    """``afx run --ray``: the render cut into chunks run by ``runner`` (jobs.py), joined into
    the patch's video output with the rules of a local render (checked before any work, a
    partial file renamed at the end, nothing overwritten without --force). Returns
    (RenderStats, [output path])."""
    t0 = time.perf_counter()
    graph, plan, _ = prepare(graph, opts)          # overrides, checks, no-overwrite: up front
    targets = output_targets(graph, plan, opts.out_dir or Path.cwd())
    r = Renderable(graph, opts, applied=True, device="cpu")
    [(sink, param, out)] = targets
    job_patch = graph.to_patch()            # the chunks write no file of the patch's own
    job_patch.nodes[sink].params[param] = "chunk.mp4"
    text = dumps(job_patch)
    chunks = spans(r.total, r.settings.fps, getattr(runner, "workers", 1),
                   chunk_seconds=chunk_seconds)
    options = {"device": opts.device, "precision": opts.precision}
    jobs = [Job(f"chunk{i:04d}", text, str(graph.base_dir), kind="chunk", options=options,
                frames=span, preroll=preroll, shared=shared) for i, span in enumerate(chunks)]
    created = files.make_folders(out.parent)
    work = scratch.make(f".{out.name}.chunks-", out.parent)
    results, failures = {}, []

    def done(job, result):
        if result.error is not None:
            failures.append((job, result))
            return
        seg = work / f"{job.key}.mp4"
        if result.path is not None:
            shutil.move(result.path, seg)
        else:
            seg.write_bytes(result.data)
        results[job.key] = (seg, result)
        if on_chunk is not None:
            on_chunk(job, result, len(results), len(jobs))

    try:
        with files.writing(out):
            runner.run(jobs, done)
            if failures:
                job, res = failures[0]
                where = f"frames {job.frames[0]}..{job.frames[1]}"
                if res.internal:
                    raise RuntimeError(f"chunk {job.key} ({where}) {res.error}")
                raise AfxError(f"chunk {job.key} ({where}): {res.error}", file=graph.file)
            tmp = files.partial_path(out)
            try:
                frames_done = join([results[j.key][0] for j in jobs], tmp, r,
                                   patch_text=embedded.patch_text(embedded.patch_of(graph),
                                                                  r.settings, r.total))
                files.commit_file(tmp, out, overwrite=opts.force)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    except BaseException:
        files.remove_created_folders(created)
        raise
    finally:
        scratch.remove(work)
    elapsed = time.perf_counter() - t0
    stats = RenderStats(frames_done, frames_done / r.settings.fps, elapsed, 0,
                        sink_stats={"chunks": {"count": len(jobs),
                                               "seconds": [res.seconds for _, res in results.values()],
                                               "hosts": sorted({res.host for _, res in results.values()})}})
    return stats, [out]
