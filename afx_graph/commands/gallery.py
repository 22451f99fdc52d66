"""``afx gallery``: a contact sheet of the example patches, one strip per patch (a frame at a
few moments), for a person to look at. Patches that read an audio file get the built-in synth
track, so the gallery needs no media."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from afx_graph.sharing import embedded
from afx_graph.errors import AfxError, PatchError
from afx_graph.engine.executor import Executor
from afx_graph.graph import Graph
from afx_graph.sharing.opening import load_patch
from afx_graph.engine.plan import Plan
from afx_graph.media.png import text_chunk, write_png
from afx_graph.registry import default_registry
from afx_graph.run.render import RunOptions, apply_overrides, image_sources
from afx_graph.settings import RenderSettings
from afx_graph.media.wav import write_wav
from afx_graph.commands.options import number
from afx_graph.commands.options import parse_size

ROOT = Path(__file__).resolve().parents[2]
MOMENTS = (1.0, 3.5, 6.0, 8.5)


def register(sub) -> None:
    p = sub.add_parser("gallery", help="render a contact sheet of example patches")
    p.add_argument("patches", nargs="*", type=Path, metavar="PATCH",
                   help="patches to show (default: graphs/*.yaml)")
    p.add_argument("-o", "--out-dir", metavar="DIR",
                   help="where the PNG strips and index.md go (default: docs/gallery)")
    p.add_argument("--size", default="192x108", type=parse_size,
                   help="size of each frame (keeps each strip under 300 KB)")
    p.add_argument("--times", default=",".join(f"{t:g}" for t in MOMENTS), type=parse_times,
                   help="seconds at which to take frames")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


# the stand-in synth track is at most 600 s long and runs 2 s past the last moment
MAX_TIME = 598.0


def parse_times(text: str) -> list[float]:
    """--times 1,3.5,6: seconds from 0 to MAX_TIME, read by commands/options.py."""
    read = number("--times", 0, MAX_TIME, unit="seconds")
    return [read(t) for t in text.split(",")]


def strip(patch: Path, size: tuple[int, int], times: list[float], device: str,
          song: Path) -> np.ndarray:
    graph = Graph.from_patch(load_patch(patch), default_registry())
    files = [n for n, g in graph.nodes.items() if g.spec and g.spec.id == "audio.file"]
    graph = apply_overrides(graph, RunOptions(size=size, audio=str(song) if files else None))
    graph.check()
    plan = Plan(graph)
    sources = image_sources(graph, plan)
    if not sources:
        raise AfxError("has no image going into an output", file=str(patch))
    node, port = sources[0]
    plan = Plan(graph, targets=[node])
    ex = Executor(graph, device=device)
    st = graph.render_settings()
    run = ex.prepare(plan, st)
    wanted = sorted({min(run.total - 1, int(t * st.fps)) for t in times})
    frames = []
    for i in wanted:       # stateful nodes (feedback) get the frames in between computed
        for _, values in ex.frames(run, i, i + 1):
            one = values[node][port][0].float().clamp(0, 1)
            frames.append((one * 255).round().to(torch.uint8).cpu().numpy())
    gap = np.full((size[1], 4, 3), 16, np.uint8)
    parts = []
    for f in frames:
        parts += [f, gap]
    return np.concatenate(parts[:-1], axis=1)


def still_patch(patch: Path, size: tuple[int, int]) -> str:
    """The patch a strip carries: the example at the strip's size (its own audio, not the
    stand-in synth track)."""
    graph = Graph.from_patch(load_patch(patch), default_registry())
    graph = apply_overrides(graph, RunOptions(size=size))
    return embedded.patch_text(embedded.patch_of(graph), graph.render_settings())


def test_song(length: float):
    """The built-in synth track, made by running an audio.synth node (the public API: the
    engine does not import node internals)."""
    g = Graph(default_registry())
    g.add_node("audio.synth", "music", params={"tempo": 118.0, "seed": 5, "length": length})
    static = Executor(g, device="cpu").evaluate_static(Plan(g, targets=["music"]),
                                                        RenderSettings())
    return static["music"]["audio"]


def run(args) -> int:
    size, times = args.size, args.times
    patches = args.patches or sorted((ROOT / "graphs").glob("*.yaml"))
    out_dir = Path(args.out_dir) if args.out_dir is not None else ROOT / "docs" / "gallery"
    out_dir.mkdir(parents=True, exist_ok=True)
    header = ["# afx gallery", "", "One frame at " + ", ".join(f"{t:g} s" for t in times) +
              " of each example patch (made by `afx gallery`; patches that read an audio file "
              "get the built-in synth track).", ""]
    sections = index_sections(out_dir / "index.md")   # strips made earlier stay listed
    with tempfile.TemporaryDirectory() as tmp:
        song = Path(tmp) / "song.wav"
        track = test_song(max(times) + 2)
        write_wav(song, track.samples, track.sr)
        for patch in patches:
            try:
                img = strip(patch, size, times, args.device, song)
            except PatchError as e:
                raise AfxError(f"cannot show {patch}: {e.lines[0]}") from None
            out = out_dir / f"{patch.stem}.png"
            write_png(out, img, text_chunk(embedded.KEY, still_patch(patch, size)))
            name = load_patch(patch).meta.get("name", patch.stem)
            desc = " ".join(str(load_patch(patch).meta.get("description", "")).split())
            sections[out.name] = [f"## {name} (`graphs/{patch.name}`)", "", desc, "",
                                  f"![{name}]({out.name})", ""]
            print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
    rows = header + [line for key in sorted(sections) if (out_dir / key).exists()
                     for line in sections[key]]
    (out_dir / "index.md").write_text("\n".join(rows))
    print(f"wrote {out_dir / 'index.md'}")
    return 0


def index_sections(index: Path) -> dict[str, list[str]]:
    """The sections of an earlier index.md by the strip each shows, so that remaking some
    strips keeps the others listed."""
    if not index.exists():
        return {}
    sections, current = {}, None
    try:
        text = index.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AfxError(f"{index}: not an index afx gallery wrote (not UTF-8 text); move it away "
                       f"or choose another --out-dir") from None
    if not text.startswith("# afx gallery"):     # someone's own index.md: never rewritten
        raise AfxError(f"{index}: not an index afx gallery wrote; move it away or choose "
                       "another --out-dir")
    for line in text.splitlines():
        if line.startswith("## "):
            current = [line]
        elif current is not None:
            current.append(line)
            if line.startswith("![") and line.endswith(".png)"):
                name = line[line.rindex("(") + 1:-1]
                if "/" not in name and "\\" not in name:     # a strip beside the index, nothing else
                    sections[name] = current
                current = None
            continue
        else:
            continue
    for lines in sections.values():
        lines.append("")
    return sections
