"""The driver's side of jobs (``afx sweep``, ``afx batch``): the options they share with
``afx run``, the ``--ray`` option, the patch with the command line's overrides as a job's
text, and writing what a job made to the user's file: under a temporary name beside it,
renamed at the end, so a killed run leaves no half-written file (DESIGN.md sections 5, 7, 11).
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
import traceback
from dataclasses import replace
from pathlib import Path

from afx_graph.media import files
from afx_graph.errors import AfxError, PatchError, escape_controls
from afx_graph.graph import Graph
from afx_graph.errors import NodeCrash
from afx_graph.run.jobs import Job, JobResult, LocalRunner, run_job
from afx_graph.patchfile.patch import dumps
from afx_graph.sharing.opening import load_patch
from afx_graph.registry import default_registry
from afx_graph.run.render import RunOptions, apply_overrides
from afx_graph.patchfile.requires import graph_warnings

RAY_ADDRESS = re.compile(r"^(ray://)?[^\s/]+:\d{1,5}$")
# a job that ran out of memory (sweep and batch both have these options)
OUT_OF_MEMORY = "out of memory while rendering; try a smaller --size or --batch"


def check_ray(address: str | None) -> None:
    if address is None or address in ("auto", "local") or RAY_ADDRESS.match(address):
        return
    if os.path.exists(address):
        raise AfxError(f"'{address}' is a file, not a Ray address; write --ray=ADDRESS, or "
                       "--ray after the other arguments", field="--ray")
    raise AfxError(f"'{address}' is not a Ray address (auto, HOST:PORT or ray://HOST:PORT)",
                   field="--ray")


def job_options(args) -> dict:
    """What a job needs besides its patch text (size, fps and times are in the text)."""
    return {"device": args.device, "precision": args.precision, "batch": args.batch}


def load_base(patch_path: str, *, audio_given: bool) -> Graph:
    """The patch as a graph, its warnings printed (as ``afx run`` does: what loading a
    render's patch changed only matters where its sound is not replaced)."""
    patch = load_patch(patch_path)
    if not audio_given:
        for line in patch.warnings:
            print(f"warning: {escape_controls(line)}", file=sys.stderr)
    graph = Graph.from_patch(patch, default_registry())
    for line in graph_warnings(graph):
        print(f"warning: {line}", file=sys.stderr)
    return graph


def apply_run_options(graph: Graph, args, *, audio: str | None = None,
                      duration: float | None = None, sets: list[str] = ()) -> Graph:
    """A copy of ``graph`` with ``--audio``, ``--set``, ``--size``, ``--fps``, ``--duration``,
    ``--start`` written into it, so a job's patch text says everything about what it renders."""
    return apply_overrides(graph, RunOptions(audio=audio, size=args.size, fps=args.fps,
                                      duration=duration if duration is not None else
                                      getattr(args, "duration", None),
                                      start=args.start, sets=list(sets)))


def check_graph(graph: Graph) -> None:
    """``graph.check()`` for a sweep or a batch, whose ``-o`` is a folder: an output path
    the patch may not write is fixed with ``--set NODE.PARAM=FILE``, not with ``-o``."""
    try:
        graph.check()
    except PatchError as e:
        raise PatchError([replace(i, message=i.message.replace(
            "or -o on the command line",
            f"or --set {i.node}.{(i.field or 'path').removeprefix('params.')}=FILE"))
            if i.node else i for i in e.issues]) from None


def patch_text(graph: Graph) -> str:
    return dumps(graph.to_patch())


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_params(graph: Graph):
    """(node, param, value) of every file path the graph reads (audio, looks)."""
    for nid, n in graph.nodes.items():
        if n.spec is None:
            continue
        for name, p in n.spec.params.items():
            value = n.params.get(name)
            if p.kind == "path" and isinstance(value, str) and value:
                yield nid, name, value


def absolute_paths(graph: Graph) -> None:
    """Relative file paths read by the patch (audio, looks) made absolute against its
    folder, so the patch works wherever it is saved."""
    base = graph.base_dir
    for nid, name, value in list(_file_params(graph)):
        if not os.path.isabs(os.path.expanduser(value)):
            graph.set_param(nid, name, str(base / value))


def files_read(graph: Graph) -> list[str]:
    """The files a render of ``graph`` reads: its patch (and the render it came out of) and
    every file a param names."""
    out = [str(p) for p in (graph.path, graph.read_from) if p]
    for _, _, value in _file_params(graph):
        try:
            out.append(str(graph.base_dir / os.path.expanduser(value)))
        except (RuntimeError, ValueError):      # ~nosuchuser: not a file anyone can name
            continue
    return out


def refuse_reads(target: Path, reads: list[str], field: str = "-o") -> None:
    """Refuse to write ``target`` where it is the patch or a file it reads, under any name
    (another spelling, a link, a hard link), even with --force: as afx run does for the
    patch and afx pack for every file it packs."""
    for path in reads:
        try:
            same = os.path.samefile(target, path)
        except (OSError, ValueError):       # one of them does not exist: not the same
            same = False
        if same:
            raise AfxError(f"{escape_controls(str(target))} is the patch or a file it reads "
                           f"({escape_controls(str(path))}); choose another name", field=field)


def job_error(result: JobResult, base_dir: str, shown: str) -> str:
    """A job's error, naming the user's patch rather than the job's stand-in file name."""
    text = result.error or "failed"
    return text.replace(str(Path(base_dir) / "patch.yaml"), shown)


def write_result(result: JobResult, target: Path, *, overwrite: bool) -> None:
    """Put what a job made at ``target``: written to ``.NAME.partial-PID`` beside it, then
    renamed; nothing is left there if this fails or is interrupted."""
    if result.path is None:
        files.write_file(target, result.data or b"", overwrite=overwrite)
        return
    files.remove_stale_partials(target)
    tmp = files.partial_path(target)
    try:
        with files.writing(target):
            os.replace(result.path, tmp)      # written by the job under a shared folder
            files.commit_file(tmp, target, overwrite=overwrite)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def remove_stale(folder: Path, names: list[str]) -> None:
    """Remove ``.NAME.partial-PID`` files of these names (ours) left by killed runs."""
    wanted = set(names)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        m = re.match(r"^\.(?P<name>.*)\.partial-(?P<pid>\d+)$", entry.name)
        if m and m.group("name") in wanted and entry.is_file(follow_symlinks=False) \
                and not files.pid_alive(int(m.group("pid"))):
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def output_folder(text: str) -> Path:
    """``-o DIR``: made absolute; refused when it is something other than a folder."""
    from afx_graph.run.render import typed_path
    path = Path(typed_path(text, "-o"))
    if os.path.lexists(path) and not path.is_dir():
        raise AfxError(f"{text} is not a folder", field="-o")
    problem = files.target_problem(path, folder=True)
    if problem and os.path.lexists(path):
        raise AfxError(f"cannot write in {text}: {problem}", field="-o")
    return path


def runner(address: str | None):
    from afx_graph.run.jobs import runner_for
    return runner_for(address)


def run_all(runner, jobs: list[Job], done, *, debug: bool = False) -> None:
    """Every job through ``runner``, ``done(job, result)`` as each finishes. In this process
    a job's internal fault becomes its failed result (LocalRunner lets it through, which
    suits a single render), so the other jobs go on, as they do on Ray."""
    if not isinstance(runner, LocalRunner):
        runner.run(jobs, done)
        return
    for job in jobs:
        try:
            result = run_job(job)
        except MemoryError:             # the machine's limit, not a fault: the others go on
            result = JobResult(job.key, error=OUT_OF_MEMORY)
        except Exception as e:          # KeyboardInterrupt (Ctrl+C, SIGTERM) ends the run
            if debug:
                traceback.print_exc()
            reason = files.environment_reason(e)
            text = f"{getattr(e, 'filename', None) or ''}: {reason}".lstrip(": ") if reason \
                else f"{e}" if isinstance(e, NodeCrash) else f"{type(e).__name__}: {e}"
            result = JobResult(job.key, error=text, internal=reason is None)
        done(job, result)


def run_jobs(args, jobs: list[Job], done) -> None:
    """``jobs`` in this process or on Ray (``args.ray``), saying where unless ``--quiet``."""
    if not jobs:
        return
    r = runner(args.ray)
    try:
        if not args.quiet and args.ray is not None:
            print(f"on Ray: {r.workers} worker{'s' * (r.workers != 1)}", flush=True)
        run_all(r, jobs, done, debug=getattr(args, "debug", False))
    finally:
        r.close()


def exit_code(results: list[JobResult]) -> int:
    """0 when every job worked; else 1 when one failed for an internal reason, 2 for bad input."""
    failed = [r for r in results if r.error is not None]
    if not failed:
        return 0
    return 1 if any(r.internal for r in failed) else 2
