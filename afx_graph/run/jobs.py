"""Renders as jobs: what ``afx sweep``, ``afx batch`` and a render split in time hand out, in
this process or over a Ray cluster (``--ray``), one job per cell, song or time chunk.

A :class:`Job` is plain data (picklable): the patch as text with every override already in
it, the folder its relative files resolve against, and the run's options. :func:`run_job`
renders it in the process it runs in, into a private temporary folder, and returns the bytes
of what it made (:class:`JobResult`); the driver alone writes the user's files, with the same
rules as a local render (temporary name beside the target, no overwrite without --force).
With ``shared``, a job writes its result under that folder (a path every machine sees) and
returns its path instead of its bytes, so large chunks do not travel through the driver.

Runners: :class:`LocalRunner` (in this process, one job at a time: the default) and
:class:`RayRunner` (``--ray auto`` or ``--ray ADDRESS``; a GPU per task where the cluster has
them). A job that fails with bad input (an AfxError) fails at once; any other failure is
retried (twice) before it fails the work cleanly.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from afx_graph.media import scratch
from afx_graph.errors import AfxError

RETRIES = 2


@dataclass
class Job:
    key: str                             # unique within a run: a cell, a song, a chunk
    patch: str                           # the patch text, overrides applied
    base_dir: str                        # where its relative files resolve
    kind: str = "video"                  # "video" (an MP4), "still" (a PNG) or "chunk"
    options: dict = field(default_factory=dict)   # RunOptions fields (size, fps, duration...)
    audio: str | None = None             # --audio (absolute path)
    still_time: float = 0.0              # kind "still": the moment shown, seconds
    frames: tuple[int, int] = (0, 0)     # kind "chunk": frames [start, stop) of the render
    preroll: bool = True                 # kind "chunk"/"still": warm stateful nodes first
    shared: str | None = None            # write the result under this folder instead


@dataclass
class JobResult:
    key: str
    data: bytes | None = None            # the file made (None when written to ``shared``)
    path: str | None = None              # where it was written under ``shared``
    error: str | None = None             # why it failed (bad input: at once; else retried)
    internal: bool = False               # failed for another reason than bad input
    seconds: float = 0.0
    frames: int = 0
    host: str = ""


def run_job(job: Job) -> JobResult:
    """Render one job here. Bad input comes back as ``error``; anything else raises."""
    t0 = time.perf_counter()
    try:
        with scratch.folder("afx-job-") as tmp:
            made, frames = _render(job, tmp)
            result = JobResult(job.key, frames=frames, host=os.uname().nodename)
            if job.shared:
                dest = Path(job.shared) / f".afx-{job.key}-{os.getpid()}{made.suffix}"
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(made.read_bytes())
                result.path = str(dest)
            else:
                result.data = made.read_bytes()
    except AfxError as e:
        return JobResult(job.key, error=str(e), seconds=time.perf_counter() - t0)
    result.seconds = time.perf_counter() - t0
    return result


def _graph(job: Job):
    from afx_graph.graph import Graph
    from afx_graph.patchfile.patch import loads
    from afx_graph.registry import default_registry
    patch = loads(job.patch, path=Path(job.base_dir) / "patch.yaml")
    return Graph.from_patch(patch, default_registry())


def _options(job: Job, out: Path | None, out_dir: Path):
    from afx_graph.run.render import RunOptions
    o = dict(job.options)
    return RunOptions(output=str(out) if out else None, audio=job.audio,
                      size=tuple(o["size"]) if o.get("size") else None, fps=o.get("fps"),
                      duration=o.get("duration"), start=o.get("start"),
                      device=o.get("device", "auto"), precision=o.get("precision", "auto"),
                      batch=o.get("batch"), force=True, out_dir=out_dir)


def _render(job: Job, tmp: Path) -> tuple[Path, int]:
    graph = _graph(job)
    if job.kind == "video":
        from afx_graph.run.render import render_graph
        out = tmp / "out.mp4"
        stats, _ = render_graph(graph, _options(job, out, tmp))
        return out, stats.frames
    if job.kind == "still":
        from afx_graph.run.chunks import still
        out = tmp / "still.png"
        still(graph, _options(job, None, tmp), job.still_time, out, preroll=job.preroll)
        return out, 1
    if job.kind == "chunk":
        from afx_graph.run.chunks import render_segment
        out = tmp / "chunk.mp4"
        n = render_segment(graph, _options(job, None, tmp), job.frames, out, preroll=job.preroll)
        return out, n
    raise ValueError(f"unknown job kind {job.kind!r}")


# -- runners ---------------------------------------------------------------------------------
Done = Callable[[Job, JobResult], None]


class LocalRunner:
    """One job after another, in this process."""
    name = "in-process"
    workers = 1

    def run(self, jobs: Iterable[Job], done: Done) -> None:
        for job in jobs:
            done(job, run_job(job))

    def close(self) -> None:
        pass


class RayRunner:
    """Jobs as Ray tasks: ``address`` 'auto' joins the cluster this machine belongs to (or
    starts a local one), else the cluster at that address. Needs the optional extra:
    ``pip install afx[cluster]``."""

    name = "ray"

    def __init__(self, address: str = "auto", *, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise AfxError("--ray needs Ray, an optional extra: pip install 'afx[cluster]' "
                           "(or pip install ray)", field="--ray") from None
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            kw = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
            cpus = num_cpus or _env_int("AFX_RAY_CPUS")
            if address not in ("auto", "local", None):
                _reachable(address)
            try:
                if address in ("auto", "local", None):
                    ray.init(num_cpus=cpus, **kw) if cpus else ray.init(**kw)
                else:
                    ray.init(address=address, **kw)
            except Exception as e:          # no cluster there, wrong address, ...
                raise AfxError(f"cannot reach a Ray cluster at {address!r}: {e}",
                               field="--ray") from None
            self.started = True
        res = ray.cluster_resources()
        self.gpus = int(res.get("GPU", 0))
        self.workers = max(1, int(self.gpus or res.get("CPU", 1)))
        opts = dict(max_retries=RETRIES, retry_exceptions=True)
        opts.update(num_gpus=1) if self.gpus else opts.update(num_cpus=1)
        self._task = ray.remote(**opts)(run_job)

    def run(self, jobs: Iterable[Job], done: Done) -> None:
        ray = self.ray
        pending = {}
        for job in jobs:
            pending[self._task.remote(job)] = job
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as e:          # failed RETRIES + 1 times
                    msg = str(e).strip().splitlines()
                    result = JobResult(job.key, error=f"failed after {RETRIES + 1} tries: "
                                                       f"{msg[-1] if msg else type(e).__name__}",
                                       internal=True)
                done(job, result)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def runner_for(ray_address: str | None):
    return LocalRunner() if ray_address is None else RayRunner(ray_address)


def _env_int(name: str) -> int | None:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return None


def _reachable(address: str, seconds: float = 5.0) -> None:
    """Refuse at once an address nothing answers at (Ray itself waits a minute or more)."""
    import socket
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return                        # not host:port: let Ray say what it makes of it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=seconds).close()
    except OSError as e:
        raise AfxError(f"cannot reach a Ray cluster at {address!r}: {e.strerror or e}",
                       field="--ray") from None
