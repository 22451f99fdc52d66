"""Rendering a patch to its outputs: the one code path behind ``afx run`` and the editor's
Render... command. Overrides from the command line are applied through the graph's editing
API, then the whole graph is validated before any work starts."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from afx_graph.sharing import embedded
from afx_graph.media import files
from afx_graph import settings as settings_mod
from afx_graph.errors import AfxError, Issue, NodeInputError, PatchError
from afx_graph.engine.executor import Executor, Progress, RenderStats
from afx_graph.graph import Graph
from afx_graph.media.paths import typed_output
from afx_graph.engine.plan import Plan
from afx_graph.patchfile.safe_yaml import YamlRejected, load as yaml_load
from afx_graph.types import AUDIO, IMAGE

AUDIO_FILE = "audio.file"


@dataclass
class RunOptions:
    output: str | None = None              # -o: the single file output's path
    audio: str | None = None               # --audio: feed this file into the patch
    size: tuple[int, int] | None = None
    fps: float | None = None
    duration: float | None = None
    start: float | None = None
    analysis: str | None = None            # --causal: "causal" (settings.analysis)
    device: str = "auto"
    precision: str = "auto"
    sets: list[str] = field(default_factory=list)   # NODE.PARAM=VALUE
    force: bool = False
    batch: int | None = None
    out_dir: Path | None = None


def apply_overrides(graph: Graph, opts: RunOptions) -> Graph:
    """A copy of ``graph`` with the command-line choices applied (``graph`` itself, and the
    patch file, are not touched)."""
    graph = graph.copy()
    if opts.audio is not None:
        set_audio(graph, opts.audio)
    for item in opts.sets:
        set_param_from_text(graph, item)
    if opts.output is not None:
        set_output(graph, opts.output)
    s = dict(graph.settings)
    for key in ("fps", "duration", "start", "analysis"):
        if getattr(opts, key) is not None:
            s[key] = getattr(opts, key)
    if opts.size is not None:
        s["size"] = list(opts.size)
    graph.set_settings(s)
    return graph


def image_sources(graph: Graph, plan: Plan) -> list[tuple[str, str]]:
    """(node, port) of each picture that goes into an output node, each once, in the
    patch's order: what a gallery, a bench or afx verify looks at."""
    out = []
    for sink in plan.sinks:
        spec = graph.nodes[sink].spec
        for port, link in graph.inputs_of(sink).items():
            source = (link.src, link.src_port)
            if port in spec.inputs and spec.inputs[port].type is IMAGE and source not in out:
                out.append(source)
    return out


def audio_sources(graph: Graph) -> list[str]:
    """Nodes that produce audio from nothing (files, synths): the patch's audio sources."""
    out = []
    for nid, n in graph.nodes.items():
        if n.spec and any(o.type is AUDIO for o in n.spec.outputs.values()) \
                and not any(i.type is AUDIO for i in n.spec.inputs.values()):
            out.append(nid)
    return out


def typed_path(text: str, field: str, graph: Graph | None = None) -> str:
    """A path typed on the command line, made absolute (~ expanded, links left as they are)."""
    if not text.strip():            # '' would be the current folder
        raise AfxError("the path is empty", field=field, file=graph.file if graph else None)
    try:
        path = os.path.expanduser(text)
        if path.startswith("~"):
            raise ValueError("no such user's home folder")
        return os.path.abspath(path)
    except (RuntimeError, ValueError, OSError) as e:     # ~nosuchuser, NUL
        raise AfxError(f"{text}: cannot use this path ({e})", field=field,
                       file=graph.file if graph else None) from None


def set_audio(graph: Graph, file: str) -> None:
    path = typed_path(file, "--audio", graph)
    try:
        st = os.stat(path)
    except OSError:
        raise AfxError(f"{file}: no such audio file", field="--audio") from None
    if not stat.S_ISREG(st.st_mode):
        raise AfxError(f"{file}: is {files.what_is(st)}, not an audio file", field="--audio")
    sources = audio_sources(graph)
    readers = [n for n in sources if graph.nodes[n].spec.id == AUDIO_FILE]
    if len(sources) == 0:
        raise AfxError("the patch has no audio source to feed --audio into", file=graph.file,
                       field="--audio")
    if len(sources) > 1:
        raise AfxError(f"the patch has {len(sources)} audio sources ({', '.join(sources)}); "
                       f"choose one with --set NODE.path=FILE", file=graph.file, field="--audio")
    nid = sources[0]
    if nid not in readers:                       # e.g. audio.synth: swap in a file reader
        links = [l for l in graph.links() if l.src == nid]
        ui = dict(graph.nodes[nid].ui)
        graph.remove_node(nid)
        graph.add_node(AUDIO_FILE, nid, ui=ui)
        for l in links:
            graph.connect(nid, l.src_port, l.dst, l.dst_port)
    graph.set_param(nid, "path", path)
    graph.user_inputs.add((nid, "path"))


def set_output(graph: Graph, path: str) -> None:
    outs = [(nid, name) for nid, n in graph.nodes.items() if n.spec and n.spec.sink
            for name, p in n.spec.params.items() if p.kind == "output"]
    if len(outs) != 1:
        names = ", ".join(nid for nid, _ in outs) or "none"
        raise AfxError(f"-o needs a patch with exactly one file output (it has {names}); "
                       "use --set NODE.path=FILE", file=graph.file, field="-o")
    nid, name = outs[0]
    try:
        path = typed_output(path, "-o", folder=graph.nodes[nid].spec.params[name].folder)
    except AfxError as e:
        raise AfxError(e.issue.message, file=graph.file, field="-o") from None
    graph.set_param(nid, name, typed_path(path, "-o", graph))
    graph.user_outputs.add((nid, name))


def set_param_from_text(graph: Graph, item: str) -> None:
    """--set NODE.PARAM=VALUE, the value read as a YAML scalar (3, 0.5, true, text, [1, 2])."""
    target, sep, text = item.partition("=")
    node, dot, param = target.partition(".")
    if not sep or not dot or not node or not param:
        raise AfxError(f"'{item}' is not of the form NODE.PARAM=VALUE", file=graph.file,
                       field="--set")
    if node not in graph.nodes:
        raise AfxError(f"there is no node '{node}'", file=graph.file, node=node, field="--set")
    try:
        value = yaml_load(text) if text.strip() else ""
    except YamlRejected as e:
        raise AfxError(f"cannot read value {text!r}: {e}", file=graph.file, node=node,
                       field=f"--set {param}") from None
    spec = graph.nodes[node].spec
    if spec is not None and param in spec.params and spec.params[param].type is str:
        value = text   # text params take the text as typed
        if spec.params[param].kind in ("path", "output") and value:
            value = typed_path(value, f"--set {param}", graph)
        if spec.params[param].kind == "output":
            graph.user_outputs.add((node, param))
        if spec.params[param].kind == "path":
            graph.user_inputs.add((node, param))
    graph.set_param(node, param, value)


def output_targets(graph: Graph, plan: Plan, out_dir: Path) -> list[tuple[str, str, Path]]:
    """(node, param, absolute path) of every output the plan writes."""
    out = []
    for nid in plan.sinks:
        params = graph.resolved_params(nid, out_dir)
        for name, p in graph.nodes[nid].spec.params.items():
            if p.kind == "output" and params.get(name):
                out.append((nid, name, Path(params[name])))
    return out


def plan_issues(graph: Graph, plan: Plan, out_dir: Path, *,
                start_field: str = "settings.start", again: bool = False) -> list[Issue]:
    """What a render of ``plan`` is refused for before any node runs, from the patch and its
    settings alone: ``afx run`` (:func:`prepare`) and ``afx validate`` both ask this.

    - an output that is the file the patch was read from (not even with --force: a render's
      patch names its render), or that another output writes too, or that is inside another
      output's path or holds it (one would be a folder the other needs as a file);
    - no length: no ``settings.duration`` and no audio to take it from;
    - a start past the end of audio whose length is known before it runs (``audio.synth``).

    ``again``: the patch is a render's, checked as such (``afx validate r.mp4``): it names its
    render as its output, and run's -o, not the patch, is what makes it render again.
    """
    issues: list[Issue] = []
    f = graph.file
    read = graph.read_from or graph.path        # an editor's patch opened from a render
    source = Path(os.path.realpath(read)) if read else None
    seen: list[tuple[Path, str, Path]] = []
    for nid, name, path in output_targets(graph, plan, out_dir):
        where = "-o" if (nid, name) in graph.user_outputs else f"params.{name}"
        real = Path(os.path.realpath(path))
        problem = None
        if real == source and not again:
            problem = f"{path} is the file this patch was read from; write the render elsewhere (-o OUT)"
        for other_real, other, other_path in seen:
            if problem:
                break
            if real == other_real:
                problem = f"{path} is also written by node '{other}'"
            elif other_real in real.parents:
                problem = f"{path} is inside {other_path}, which node '{other}' writes"
            elif real in other_real.parents:
                problem = f"{path} holds {other_path}, which node '{other}' writes"
            if problem:
                problem += "; each output needs a path of its own"
        if problem:
            issues.append(Issue(problem, f, nid, where))
        seen.append((real, nid, path))
    settings = graph.render_settings()
    flat = plan.graph                            # subpatches flattened: their nodes by path
    audio = next((nid for nid in plan.static_nodes
                  if any(o.type is AUDIO for o in flat.nodes[nid].spec.outputs.values())), None)
    if audio is None and settings.duration is None:
        issues.append(Issue(settings_mod.NO_LENGTH, f, field="settings.duration"))
    length = flat.nodes[audio].spec.hook("audio_length") if audio else None
    if length is not None:
        n = flat.nodes[audio]
        problem = settings_mod.past_end(settings.start,
                                        length({k: n.param(k) for k in n.spec.params}))
        if problem:
            issues.append(Issue(problem, f, audio, start_field))
    return issues


def prepare(graph: Graph, opts: RunOptions
            ) -> tuple[Graph, Plan, settings_mod.RenderSettings]:
    """The graph with ``opts`` applied, checked, its plan and its settings."""
    graph = apply_overrides(graph, opts)
    graph.check(out_dir=opts.out_dir)
    plan = Plan(graph)
    out_dir = opts.out_dir or Path.cwd()
    issues = plan_issues(graph, plan, out_dir,
                         start_field="--start" if opts.start is not None else "settings.start")
    if issues:
        raise PatchError(issues)
    for nid, name, path in output_targets(graph, plan, out_dir):
        where = "-o" if (nid, name) in graph.user_outputs else f"params.{name}"
        try:             # fail before any work, not after minutes of rendering
            files.check_target(path, overwrite=opts.force,
                               folder=graph.nodes[nid].spec.params[name].folder)
        except NodeInputError as e:
            raise AfxError(e.issue.message, file=graph.file, node=nid, field=where) from None
    return graph, plan, graph.render_settings()


def render_graph(graph: Graph, opts: RunOptions,
                 on_progress: Callable[[Progress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 on_warning: Callable[[str], None] | None = None
                 ) -> tuple[RenderStats, list[Path]]:
    graph, plan, settings = prepare(graph, opts)
    ex = Executor(graph, device=opts.device, precision=opts.precision, out_dir=opts.out_dir,
                  overwrite=opts.force, patch=embedded.patch_of(graph))
    try:
        stats = ex.render(plan, settings, batch=opts.batch, on_progress=on_progress,
                          should_stop=should_stop, on_warning=on_warning)
    except AfxError as e:       # blame the flag where the value came from the command line
        if e.issue.field in ("size", "start") and getattr(opts, e.issue.field) is not None:
            e.issue = replace(e.issue, field=f"--{e.issue.field}")
            e.args = (str(e.issue),)
        raise
    return stats, [p for _, _, p in output_targets(graph, plan, opts.out_dir or Path.cwd())]
