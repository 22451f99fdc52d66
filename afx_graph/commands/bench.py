"""``afx bench``: the project's speed figures, measured on this machine.

Sections (all by default):
  cppn    CPPN frames per second at 256x256 and 640x360 through the engine, next to a plain
          loop calling the same math with no graph (the overhead of the graph is the gap)
  render  the demo patch end to end: total time, rendering vs encoding split
  memory  peak memory (RSS) of 10 s and 60 s renders, each in a fresh process
  nodes   per-node cost: every example patch in graphs/ for --frames frames at 640x360,
          time per frame of each per-frame node type (median over the patches using it)
  embeddings  ms per second of audio for each learned embedding (random weights) and timbre
  script  `afx run graphs/demo.yaml --audio FILE` (x264 veryfast, crf 20, 640x360, 30 fps,
          --seconds long) next to bench_plain.py, the same work as one plain script that does
          not import afx, each in a fresh process on the same generated track: wall time,
          afx/script ratio, x realtime and peak memory of each

With --compile, the cppn section also times torch.compile (inductor) of the same chunk math on
a CPU: the reason the CPU path is hand-fused eager instead (README "Speed").
"""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from afx_graph.engine import devices
from afx_graph import examples
from afx_graph.engine.executor import Executor
from afx_graph.graph import Graph
from afx_graph.errors import AfxError
from afx_graph.patchfile.patch import loads
from afx_graph.sharing.opening import load_patch
from afx_graph.engine.plan import Plan
from afx_graph.registry import default_registry
from afx_graph.run.render import RunOptions, apply_overrides, image_sources, render_graph
from afx_graph.settings import RenderSettings
from afx_graph.types import Audio
from afx_graph.media.wav import write_wav

SECTIONS = ("cppn", "render", "memory", "nodes", "embeddings", "script", "live")
DEMO = examples.find("demo")       # shipped with the package: no checkout needed
PLAIN_SCRIPT = Path(__file__).with_name("bench_plain.py")


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure render speed on this machine")
    p.add_argument("sections", nargs="*",
                   metavar="SECTION", help=f"any of {', '.join(SECTIONS)} (default: all)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=devices.PRECISIONS)
    p.add_argument("--frames", type=int, default=60, help="frames per CPPN measurement")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--sizes", default="256x256,640x360")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--patch", type=Path, default=DEMO, help="patch for the render/memory sections")
    p.add_argument("--compile", action="store_true",
                   help="cppn: also time torch.compile of the same math (compiles: seconds)")
    p.add_argument("--seconds", type=float, default=8.0, help="script: seconds of video")
    p.add_argument("--repeat", type=int, default=1,
                   help="script: runs of each (alternating which goes first); medians shown")
    p.add_argument("--live-seconds", type=float, default=20.0,
                   help="live: seconds the demo is played live for the latency figures")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def machine() -> str:
    dev = devices.pick_device("auto")
    gpu = torch.cuda.get_device_name(0) if dev.type == "cuda" else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
            f"{gpu}, torch {torch.__version__}")


CPPN_PATCH = """\
afx: 1
settings: {{size: [{w}, {h}], fps: 30, duration: {d}}}
nodes:
  clock: {{type: field.coords}}
  field: {{type: cppn, params: {{hidden: {hidden}, layers: {layers}, seed: 7}}, inputs: {{coords: clock.coords}}}}
"""


def bench_cppn(args) -> list[dict]:
    """The field through the engine, and the node's own ``bench`` hook: the same math in a
    plain loop (and torch.compile of it with --compile), so the graph's overhead shows."""
    rows = []
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.lower().split("x"))
        text = CPPN_PATCH.format(w=w, h=h, d=args.frames / 30, hidden=args.hidden, layers=args.layers)
        g = Graph.from_patch(loads(text), default_registry())
        ex = Executor(g, device=args.device, precision=args.precision)
        plan = Plan(g, targets=["field"])
        st = RenderSettings((w, h), 30.0, args.frames / 30)
        batch = args.batch or ex.auto_batch(st)
        run = ex.prepare(plan, st)
        for _ in ex.frames(run, 0, batch, batch=batch):                      # warm-up
            pass
        _sync(ex.device)
        t0 = time.perf_counter()
        for _, out in ex.frames(run, 0, args.frames, batch=batch):
            out["field"]["image"].float().mean().item()        # force completion
        graph_s = time.perf_counter() - t0
        row = {"size": f"{w}x{h}", "device": str(ex.device), "dtype": str(ex.dtype).split(".")[-1],
               "batch": batch, "hidden": args.hidden, "layers": args.layers,
               "fps": args.frames / graph_s, "mpix_per_s": args.frames * w * h / graph_s / 1e6}
        row.update(ex.instance("field").bench(ex.context(st), frames=args.frames, batch=batch,
                                              compile=args.compile))
        rows.append(row)
    return rows


def bench_render(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        g = Graph.from_patch(load_patch(args.patch), default_registry())
        out = Path(tmp) / "demo.mp4"
        t0 = time.perf_counter()
        stats, _ = render_graph(g, RunOptions(output=str(out), device=args.device,
                                              precision=args.precision, batch=args.batch))
        total = time.perf_counter() - t0
        sink = next(iter(stats.sink_stats.values()), {})
        nodes = {k: v for k, v in stats.node_seconds.items() if k != "video"}
        return {"patch": args.patch.name, "frames": stats.frames, "video_seconds": stats.duration,
                "total_s": total, "fps": stats.frames / total, "realtime": stats.duration / total,
                "node_seconds": nodes, "sink_process_s": stats.node_seconds.get("video", 0.0),
                "encode_s": sink.get("encode_seconds", 0.0),
                "final_wait_s": sink.get("wait_seconds", 0.0)}


MEMORY_SCRIPT = """
import resource, sys
from afx_graph.cli import main
rc = main(["run", sys.argv[1], "-o", sys.argv[2], "--duration", sys.argv[3], "--quiet", "--force",
           "--audio", sys.argv[4]] + sys.argv[5:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(rc)
"""


def bench_memory(args) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        song = Path(tmp) / "song.wav"
        _write_song(song, 62.0)
        for seconds in (10, 60):
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(args.patch), str(Path(tmp) / "m.mp4"),
                                str(seconds), str(song), "--device", args.device],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
            rows.append({"video_seconds": seconds, "peak_rss_mb": int(r.stdout.split()[-1]) / 1024,
                         "wall_s": time.perf_counter() - t0})
    return rows


def _write_song(path: Path, seconds: float) -> None:
    """A long track for the memory measurement, from the built-in synth, as a WAV file."""
    from afx_graph.commands.gallery import test_song
    audio = test_song(seconds)
    write_wav(path, audio.samples, audio.sr)


def bench_embeddings(args) -> list[dict]:
    """Every embedding node type's own ``bench`` hook (found through the registry)."""
    reg = default_registry()
    ctx = Executor(Graph(reg), device=args.device).context(RenderSettings(fps=30.0))
    return [spec.cls().bench(ctx, seconds=10.0) for spec in reg.specs()
            if spec.category == "Embeddings" and spec.hook("bench") is not None]


def bench_nodes(args) -> list[dict]:
    from collections import defaultdict

    per_frame = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        song = Path(tmp) / "song.wav"
        _write_song(song, args.frames / 30 + 2)
        for patch in examples.patches():
            g = Graph.from_patch(load_patch(patch), default_registry())
            files = [n for n, gn in g.nodes.items() if gn.spec and gn.spec.id == "audio.file"]
            g = apply_overrides(g, RunOptions(size=(640, 360), audio=str(song) if files else None,
                                              duration=args.frames / 30))
            g.check()
            node, _ = image_sources(g, Plan(g))[0]
            plan = Plan(g, targets=[node])
            ex = Executor(g, device=args.device, precision=args.precision)
            st = g.render_settings()
            run = ex.prepare(plan, st)
            batch = args.batch or ex.auto_batch(st)
            ex.node_seconds.clear()
            for _ in ex.frames(run, 0, args.frames, batch=batch):
                pass
            for nid in plan.frame_nodes:
                per_frame[g.nodes[nid].spec.id].append(ex.node_seconds[nid] / args.frames * 1000)
    rows = [{"type": t, "rate": "frame", "ms_per_frame": float(np.median(v)), "patches": len(v)}
            for t, v in per_frame.items()]
    rows.sort(key=lambda r: -r["ms_per_frame"])
    return rows


AFX_MAIN = "import sys; from afx_graph.cli import main; sys.exit(main(sys.argv[1:]))"
# runpy: the script's folder (afx_graph/commands) is not put on sys.path, as `python FILE` would
RUN_FILE = ("import runpy, sys; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")


def bench_script(args) -> dict:
    """`afx run` of the demo and the plain script on the same track, each in a fresh process:
    wall time (imports and all) and peak RSS, median over --repeat runs of each."""
    import av

    size, fps, seconds = (640, 360), 30, args.seconds
    runs = {"afx": [], "script": []}
    outputs = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        song = tmp / "song.wav"
        _write_song(song, seconds)
        for name in ("afx", "script"):
            outputs[name] = tmp / f"{name}.mp4"
        cmds = {
            "afx": [sys.executable, "-c", AFX_MAIN, "run", str(DEMO), "--audio", str(song),
                    "-o", str(outputs["afx"]), "--set", "video.preset=veryfast",
                    "--set", "video.crf=20", "--size", f"{size[0]}x{size[1]}", "--fps", str(fps),
                    "--duration", str(seconds), "--device", args.device, "--quiet", "--force"],
            "script": [sys.executable, "-c", RUN_FILE, str(PLAIN_SCRIPT), str(song),
                       str(outputs["script"]), "--size", f"{size[0]}x{size[1]}",
                       "--fps", str(fps), "--duration", str(seconds), "--preset", "veryfast",
                       "--crf", "20"]}
        for i in range(max(1, args.repeat)):
            for name in (("afx", "script") if i % 2 == 0 else ("script", "afx")):
                runs[name].append(_timed_process(name, cmds[name], tmp))
        result = {"size": f"{size[0]}x{size[1]}", "fps": fps, "video_seconds": seconds,
                  "runs": max(1, args.repeat)}
        for name, rs in runs.items():
            with av.open(str(outputs[name])) as c:
                video = c.streams.video[0]
                frames = sum(1 for packet in c.demux(video) if packet.size)
                has_audio = bool(c.streams.audio)
            wall = float(np.median([r[0] for r in rs]))
            result[name] = {"wall_s": wall, "walls": [r[0] for r in rs],
                            "peak_rss_mb": float(np.median([r[1] for r in rs])),
                            "realtime": seconds / wall, "frames": frames, "audio": has_audio,
                            "mb": outputs[name].stat().st_size / 1e6}
    result["ratio"] = result["afx"]["wall_s"] / result["script"]["wall_s"]
    return result


LIVE_SONGS = ((96.0, 11), (110.0, 12), (128.0, 13), (140.0, 14))   # tempo, seed: no example's
BEAT_WINDOW = 0.07            # a beat within 70 ms of the truth counts (the usual F-measure)


def _f_measure(found: np.ndarray, truth: np.ndarray, window: float = BEAT_WINDOW) -> float:
    """Beat F-measure: each true beat matched to at most one found beat within ``window``."""
    if not len(found) or not len(truth):
        return 0.0
    used, hits = set(), 0
    for t in truth:
        j = int(np.argmin(abs(found - t)))
        if abs(found[j] - t) <= window and j not in used:
            used.add(j)
            hits += 1
    precision, recall = hits / len(found), hits / len(truth)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def bench_live(args) -> dict:
    """Causal analysis against the truth and against librosa's offline beats, on synth songs
    at tempos and seeds no example uses; onset delay on a click track fed in 256-sample
    blocks; then the demo played live (its synth on the clock, no sound card needed) for the
    software latency."""
    from afx_graph.context import FrameContext
    from afx_graph.engine.executor import call_node
    from afx_graph.run.live import LiveShow
    reg = default_registry()
    Synth, Onsets = reg.get("audio.synth").cls, reg.get("features.onsets").cls
    fps = 100.0                                    # 10 ms rows: the timing is the analyser's

    def beats_of(audio, analysis: str) -> np.ndarray:
        ctx = FrameContext(RenderSettings(fps=fps, analysis=analysis), torch.device("cpu"),
                           torch.float32, Path.cwd())
        beat = call_node(Onsets(), ctx, audio=audio, decay=0.25, tightness=100.0)["beat"]
        return np.nonzero(beat.values[:, 0] >= 0.999)[0] / fps

    songs = []
    for tempo, seed in LIVE_SONGS:
        audio = call_node(Synth(), FrameContext(RenderSettings(), torch.device("cpu"),
                                                torch.float32, Path.cwd()),
                          tempo=tempo, seed=seed, length=40.0)["audio"]
        truth = np.arange(0.0, 40.0, 60.0 / tempo)
        after = 4.0                                   # the causal tracker's time to lock
        causal = beats_of(audio, "causal")
        offline = beats_of(audio, "offline")
        near = [b - truth[np.argmin(abs(truth - b))] for b in causal[causal > after]]
        songs.append({"tempo": tempo, "seed": seed,
                      "f_causal": _f_measure(causal[causal > after], truth[truth > after]),
                      "f_librosa": _f_measure(offline[offline > after], truth[truth > after]),
                      "beat_error_ms_p50": float(np.median(np.abs(near)) * 1000) if near else None,
                      "beat_error_ms_p90": float(np.percentile(np.abs(near), 90) * 1000)
                      if near else None})
    # onset delay: a click at a known sample, fed in callback-sized blocks, until the onset
    # strength crosses 0.5 (audio time from the click to the end of that row, plus the time
    # the analysis of the blocks took)
    sr, block = 48000, 256
    rng = np.random.default_rng(0)
    y = (0.005 * rng.standard_normal(sr * 30)).astype(np.float32)
    t = np.arange(int(0.04 * sr)) / sr
    kick = (0.8 * np.sin(2 * np.pi * 90 * t) * np.exp(-t * 70)).astype(np.float32)
    clicks = np.arange(1.0, 29.0, 0.5)
    for c in clicks:
        i = int(c * sr)
        y[i:i + len(kick)] += kick
    audio = Audio(y[None], sr)
    ctx = FrameContext(RenderSettings(fps=fps, analysis="causal"), torch.device("cpu"),
                       torch.float32, Path.cwd())
    t0 = time.perf_counter()
    onset = call_node(Onsets(), ctx, audio=audio, decay=0.25, tightness=100.0)["strength"]
    compute_per_block = (time.perf_counter() - t0) / (len(y) / block)
    rows = onset.values[:, 0]
    delays = []
    for c in clicks:
        k = int(c * fps)
        hit = np.nonzero(rows[k:k + 20] >= 0.5)[0]
        if len(hit):
            delays.append((k + hit[0] + 1) / fps - c + compute_per_block)
    # the demo live, on its synth's clock
    graph = Graph.from_patch(load_patch(args.patch), reg)
    with LiveShow(graph, size=(640, 360), fps=30, sound=False, device=args.device,
                  precision=args.precision) as show:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < args.live_seconds and not show.ended:
            show.next_frame(wait=0.1)
        p50, p95 = show.latency()
        shown, clock = show.shown, show.clock
    return {"songs": songs, "onset_delay_ms_p50": float(np.median(delays) * 1000),
            "onset_delay_ms_p90": float(np.percentile(delays, 90) * 1000),
            "onsets_found": f"{len(delays)}/{len(clicks)}",
            "analysis_ms_per_block": compute_per_block * 1000,
            "show": {"size": "640x360", "fps": 30, "seconds": clock, "shown": shown,
                     "shown_fps": shown / max(clock, 1e-9), "latency_ms_p50":
                     None if p50 is None else p50 * 1000,
                     "latency_ms_p95": None if p95 is None else p95 * 1000}}


def _timed_process(name: str, cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process; raises if it fails."""
    with open(cwd / "stdout", "w+") as out, open(cwd / "stderr", "w+") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"bench script: the {name} run failed:\n{err.read()[-2000:]}")
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return wall, rss


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def run(args) -> int:
    sections = args.sections or list(SECTIONS)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise AfxError(f"unknown bench section {unknown[0]!r} (choose from {', '.join(SECTIONS)})")
    result = {"machine": machine()}
    if "cppn" in sections:
        result["cppn"] = bench_cppn(args)
    if "render" in sections:
        result["render"] = bench_render(args)
    if "memory" in sections:
        result["memory"] = bench_memory(args)
    if "nodes" in sections:
        result["nodes"] = bench_nodes(args)
    if "script" in sections:
        result["script"] = bench_script(args)
    if "embeddings" in sections:
        result["embeddings"] = bench_embeddings(args)
    if "live" in sections:
        result["live"] = bench_live(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"machine: {result['machine']}")
    if "live" in result:
        r = result["live"]
        for x in r["songs"]:
            print(f"live beats: synth {x['tempo']:g} BPM seed {x['seed']}: F causal "
                  f"{x['f_causal']:.3f}, librosa offline {x['f_librosa']:.3f}; causal beat "
                  f"error p50 {x['beat_error_ms_p50'] or 0:.0f} ms, p90 "
                  f"{x['beat_error_ms_p90'] or 0:.0f} ms (after 4 s)")
        print(f"live onsets: {r['onsets_found']} clicks, delay p50 {r['onset_delay_ms_p50']:.1f} "
              f"ms, p90 {r['onset_delay_ms_p90']:.1f} ms (analysis {r['analysis_ms_per_block']:.2f}"
              f" ms per 256-sample block)")
        sh = r["show"]
        lat = "no latency" if sh["latency_ms_p50"] is None else \
            f"latency p50 {sh['latency_ms_p50']:.0f} ms, p95 {sh['latency_ms_p95']:.0f} ms"
        print(f"live show: demo {sh['size']} at {sh['fps']} fps for {sh['seconds']:.0f} s: "
              f"{sh['shown_fps']:.1f} frames shown a second, {lat}")
    for r in result.get("cppn", []):
        print(f"cppn {r['size']:>9} {r['device']}/{r['dtype']} batch {r['batch']:>2}, "
              f"{r['hidden']}x{r['layers']} ({r['params']} params): {r['fps']:7.1f} fps "
              f"({r['mpix_per_s']:.1f} Mpix/s); plain loop {r['plain_fps']:7.1f} fps")
        if "compiled_fps" in r:
            print(f"    torch.compile of the same math: {r['compiled_fps']:7.1f} fps after "
                  f"{r['compile_s']:.1f} s to compile or load "
                  f"(inductor cache: {r['compile_cache']})")
        elif "compiled" in r:
            print(f"    torch.compile: {r['compiled']}")
    if "render" in result:
        r = result["render"]
        nodes = ", ".join(f"{k} {v:.2f}s" for k, v in sorted(r["node_seconds"].items(), key=lambda kv: -kv[1]))
        print(f"render {r['patch']}: {r['frames']} frames ({r['video_seconds']:.1f} s of video) in "
              f"{r['total_s']:.2f} s = {r['fps']:.1f} fps, {r['realtime']:.2f}x realtime")
        print(f"  nodes: {nodes}")
        print(f"  video sink on the render thread {r['sink_process_s']:.2f}s; encoder thread busy "
              f"{r['encode_s']:.2f}s (overlapped), left to finish after the last frame {r['final_wait_s']:.2f}s")
    for r in result.get("nodes", []):
        print(f"node {r['type']:<20} {r['ms_per_frame']:7.1f} ms/frame at 640x360 "
              f"(median over {r['patches']} patch{'es' if r['patches'] > 1 else ''})")
    for r in result.get("embeddings", []):
        print("embedding " + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in r.items()))
    if "script" in result:
        r = result["script"]
        print(f"script: demo patch vs a plain script of the same work, {r['size']} {r['fps']} fps "
              f"{r['video_seconds']:g} s, x264 veryfast crf 20, each in a fresh process"
              + (f", median of {r['runs']}" if r["runs"] > 1 else ""))
        for name, label in (("afx", "afx run"), ("script", "plain script")):
            x = r[name]
            print(f"  {label:<12} {x['wall_s']:6.2f} s wall = {x['realtime']:.2f}x realtime, "
                  f"peak RSS {x['peak_rss_mb']:.0f} MB; {x['frames']} frames"
                  f"{' + audio' if x['audio'] else ', NO AUDIO'}, {x['mb']:.2f} MB")
        print(f"  afx / script = {r['ratio']:.2f}")
    for r in result.get("memory", []):
        print(f"memory: {r['video_seconds']:>3} s render -> peak RSS {r['peak_rss_mb']:.0f} MB "
              f"({r['wall_s']:.1f} s wall)")
    return 0
