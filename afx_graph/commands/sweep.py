"""``afx sweep PATCH --set NODE.PARAM=VALUES... -o DIR``: render a patch once per combination
of parameter values (a still or a short clip per cell), in this process or over Ray, into a
folder a person can look at: the cells, a contact sheet, a web page and a manifest that lets a
rerun go on where a stopped sweep left off.

DIR/cells/001.png (or .mp4)  one file per cell, numbered in the order of the combinations
DIR/sweep.json               what was swept: the patch's hash, the sets, each cell's values,
                             status and seconds (rewritten whole after every cell)
DIR/contact.png              the cells as labelled thumbnails (it carries the patch as swept)
DIR/index.html               the cells on a page: stills as images, clips playable
"""
from __future__ import annotations

import html
import itertools
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from afx_graph.run import drive
from afx_graph.sharing import embedded
from afx_graph.media import files, sheet
from afx_graph.errors import AfxError, escape_controls
from afx_graph.graph import Graph
from afx_graph.run.jobs import Job, JobResult
from afx_graph.patchfile.patch import read_capped
from afx_graph.media.png import read_png, text_chunk, write_png
from afx_graph.run.render import set_output, set_param_from_text
from afx_graph.patchfile.safe_yaml import YamlRejected, load as yaml_load
from afx_graph.commands.options import RAY_JOBS_HELP, add_render_options

FORMAT = 1
DEFAULT_STILL = 2.0
MAX_CELLS = 4096
MAX_MANIFEST = 64 << 20          # bytes of an earlier sweep.json read
MANIFEST, SHEET, PAGE, CELLS = "sweep.json", "contact.png", "index.html", "cells"


def register(sub) -> None:
    p = sub.add_parser(
        "sweep", help="render a patch for every combination of parameter values, with a "
                      "contact sheet and a web page",
        description="Render PATCH once per combination of the values given with --set (a "
                    "still or a short clip each) into DIR: cells/NNN.png|mp4, contact.png, "
                    "index.html and sweep.json. A rerun with the same patch and sets renders "
                    "only the cells not done yet.")
    p.add_argument("patch", metavar="PATCH")
    p.add_argument("--set", dest="sets", action="append", default=[],
                   metavar="NODE.PARAM=VALUES",
                   help="values to sweep: 1..16 (whole numbers, both ends included), "
                        "0..1/0.25 (with a step), 0.5,1,2 (a list; items may be ranges); each "
                        "value is read as afx run reads a --set value. A single value is set in "
                        "every cell. Repeatable: the cells are every combination, the last "
                        "--set changing fastest")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--still", type=float, metavar="T",
                      help=f"each cell is the frame T seconds into the render (after --start) "
                           f"as a PNG; the default, at {DEFAULT_STILL:g} s: a moment known "
                           "without decoding the song (a third of the way in would move with "
                           "--audio and --start), a bar in at 120 bpm so the music and the "
                           "beat-driven nodes have started, and early, so that warming "
                           "stateful nodes up to it costs little")
    what.add_argument("--clip", type=float, metavar="S",
                      help="each cell is an S-second MP4 with the sound")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="the folder the sweep writes (with --export: the file the patch goes to)")
    p.add_argument("--export", metavar="CELL",
                   help="render nothing: print the patch of one cell, the patch with that "
                        "cell's values (CELL: its number, or its values as seed=3,scale=0.5); "
                        "with -o FILE it is written there instead")
    p.add_argument("--audio", metavar="FILE", help="feed this audio file into the patch")
    add_render_options(p, ray=RAY_JOBS_HELP, duration=False,
                             force="render every cell again, and replace another sweep or "
                                   "files of ours in DIR (other files there are never touched)")
    p.set_defaults(func=run)


# -- what is swept ------------------------------------------------------------------------------
@dataclass
class Axis:
    target: str                  # NODE.PARAM
    item: str                    # the --set as typed
    values: list[str]            # each value as text, ranges expanded
    short: str = ""              # PARAM where no other axis has that name, else NODE.PARAM
    is_path: bool = False        # a file's path: shown by its name

    def shown(self, value: str) -> str:
        """A value as labels show it (a path by its file name)."""
        return os.path.basename(value.rstrip("/")) or value if self.is_path else value

    @property
    def node(self) -> str:
        return self.target.partition(".")[0]

    @property
    def param(self) -> str:
        return self.target.partition(".")[2]


@dataclass
class Cell:
    index: int                   # 1..N
    values: list[str]            # one per axis
    text: str = ""               # the patch with its values
    sha: str = ""
    status: str = "pending"      # pending, done, failed
    error: str | None = None
    internal: bool = False
    seconds: float | None = None
    file: str = ""               # relative to DIR


_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_RANGE = re.compile(rf"^\s*(?P<a>{_NUMBER})\s*\.\.\s*(?P<b>{_NUMBER})\s*"
                    rf"(?:/\s*(?P<step>{_NUMBER})\s*)?$")
_LIKE_RANGE = re.compile(r"^\s*[-+\w.]*\.\.[-+\w./]*\s*$")   # nan..1, 1.., ..4, 0..1/inf
MAX_DIGITS = 100                 # characters of a number in a range


def split_values(text: str) -> list[str]:
    """``text`` cut at the commas outside brackets and quotes (a value may be a list)."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def _number_text(x: float) -> str:
    text = f"{x:.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def shown(text: str, limit: int = 60) -> str:
    """Text the user typed, as a message quotes it: escaped, and cut when long."""
    text = escape_controls(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Range:
    """``a..b`` or ``a..b/step``, read exactly (no float rounding, no number too large)."""
    lo: Fraction
    step: Fraction
    count: int
    whole: bool

    def values(self) -> list[str]:
        if self.whole:
            return [str(int(self.lo + i * self.step)) for i in range(self.count)]
        return [_number_text(float(self.lo + i * self.step)) for i in range(self.count)]


def read_range(part: str, item: str) -> Range | None:
    """One list item as a range, checked and counted without listing its values; None
    for a plain value. Anything that looks like a range and is not one (``nan..1``,
    ``1..``, ``0..1/inf``) is refused rather than taken as a value."""
    m = _RANGE.match(part)
    if not m and not _LIKE_RANGE.match(part):
        return None

    def refuse(why: str) -> AfxError:       # the item is quoted only then: it may be long
        return AfxError(f"'{shown(part)}'{why}", field=f"--set {shown(item)}")

    if not m:
        raise refuse(" is not a range: write A..B or A..B/STEP with finite numbers (1..8, "
                     "0..1/0.25)")
    a, b, step = m.group("a"), m.group("b"), m.group("step")
    if any(v is not None and len(v) > MAX_DIGITS for v in (a, b, step)):
        raise refuse(f": a number in a range has at most {MAX_DIGITS} digits")
    whole = all(v is None or re.fullmatch(r"[-+]?\d+", v) for v in (a, b, step))
    if step is None and not whole:
        raise refuse(f": a range of fractions needs a step (e.g. {a}..{b}/0.25)")
    lo, hi, st = Fraction(a), Fraction(b), Fraction(step) if step is not None else Fraction(1)
    if st <= 0:
        raise refuse(": the step must be above 0")
    if lo > hi:
        raise refuse(f" is empty ({a} is above {b}); write {b}..{a}")
    n = math.floor((hi - lo) / st) + 1
    if n > MAX_CELLS:
        raise refuse(f" has {n if n < 10 ** 15 else 'more than 10^15'} values; a sweep has "
                     f"at most {MAX_CELLS} cells")
    return Range(lo, st, n, whole)


def parse_sets(items: list[str], graph: Graph) -> tuple[list[Axis], list[str]]:
    """(axes: sets with two or more values, fixed: NODE.PARAM=VALUE set in every cell).

    The cells are counted from the ranges as typed before any value is listed or checked,
    so a grid over the limit is refused at once, whatever its size."""
    read, seen = [], {}
    for item in items:
        target, sep, text = item.partition("=")
        node, dot, param = target.partition(".")
        if not sep or not dot or not node or not param:
            raise AfxError(f"'{shown(item)}' is not of the form NODE.PARAM=VALUES",
                           file=graph.file, field="--set")
        target = target.strip()
        where = f"--set {shown(item)}"
        if target in seen:
            raise AfxError(f"{shown(target)} is set twice ('{shown(seen[target])}' and "
                           f"'{shown(item)}'); give its values in one --set", field=where)
        seen[target] = item
        spec = graph.nodes[node].spec if node in graph.nodes else None
        p = spec.params.get(param) if spec is not None else None
        parts = split_values(text)
        if len(parts) > 1 and any(not v for v in parts):
            raise AfxError(f"'{shown(text)}' has an empty value in its list", field=where)
        text_param = p is not None and p.type is str     # taken as typed: quotes keep commas
        pieces = parts if text_param else [read_range(part, item) or part for part in parts]
        count = sum(x.count if isinstance(x, Range) else 1 for x in pieces)
        if count > MAX_CELLS:
            raise AfxError(f"{count} values; a sweep has at most {MAX_CELLS} cells",
                           field=where)
        read.append((item, target, p, pieces, count))
    check_count([(item, count) for item, _, _, _, count in read if count > 1])
    axes, fixed = [], []
    for item, target, p, pieces, count in read:
        if p is not None and p.type is str:
            values = [v[1:-1] if len(v) > 1 and v[0] == v[-1] and v[0] in "'\"" else v
                      for v in pieces]
        else:
            values = [v for x in pieces for v in (x.values() if isinstance(x, Range) else [x])]
        if len(values) == 1:
            fixed.append(f"{target}={values[0]}")
        else:
            axes.append(Axis(target, item, values,
                             is_path=p is not None and p.kind in ("path", "output")))
    names = [a.param for a in axes]
    for a in axes:
        a.short = a.param if names.count(a.param) == 1 else a.target
    return axes, fixed


def check_count(sets: list[tuple[str, int]]) -> None:
    """Refuse sets whose combinations are more than MAX_CELLS cells (counted, not listed)."""
    total = 1
    for _, n in sets:
        total *= n
        if total > 10 ** 18:
            break
    if total <= MAX_CELLS:
        return
    counts = " x ".join(str(n) for _, n in sets[:8]) + (" x ..." if len(sets) > 8 else "")
    made = f"{counts} = {total}" if total <= 10 ** 18 else f"{counts}: more than 10^18"
    raise AfxError(f"{made} cells; a sweep has at most {MAX_CELLS}", field="--set")


def blame_set(e: AfxError, item: str, graph: Graph) -> AfxError:
    """A value's error as an error of the --set it came from."""
    node = e.issue.node or item.partition(".")[0]
    message = e.issue.message
    return AfxError(message, file=graph.file, node=node, field=f"--set {shown(item)}")


def cell_values(axes: list[Axis]) -> list[list[str]]:
    check_count([(a.item, len(a.values)) for a in axes])
    return [list(c) for c in itertools.product(*(a.values for a in axes))]


def label(axes: list[Axis], values: list[str], sep: str = " ") -> str:
    return sep.join(f"{a.short}={a.shown(v)}" for a, v in zip(axes, values))


# -- the sweep's plan ---------------------------------------------------------------------------
@dataclass
class Plan:
    patch: str                   # as typed
    base: Graph                  # overrides and fixed sets applied
    base_text: str
    axes: list[Axis]
    fixed: list[str]
    kind: str                    # "still" or "clip"
    at: float                    # still: seconds into the render; clip: its length
    cells: list[Cell] = field(default_factory=list)

    @property
    def identity(self) -> dict:
        """What makes two sweeps the same sweep (the cells one made are the other's)."""
        return {"patch_sha256": drive.digest(self.base_text), "kind": self.kind, "at": self.at,
                "sets": [{"target": a.target, "values": a.values} for a in self.axes]}

    @property
    def suffix(self) -> str:
        return ".png" if self.kind == "still" else ".mp4"


def plan_sweep(args) -> Plan:
    kind, at = ("clip", args.clip) if args.clip is not None else \
        ("still", DEFAULT_STILL if args.still is None else args.still)
    if kind == "clip" and not 0 < at <= 3600:
        raise AfxError("must be above 0 and at most 3600 seconds", field="--clip")
    if kind == "still" and not 0 <= at <= 24 * 3600:
        raise AfxError("must be from 0 to 86400 seconds", field="--still")
    base = drive.load_base(args.patch, audio_given=args.audio is not None)
    axes, fixed = parse_sets(args.sets, base)
    if not axes:
        raise AfxError("nothing to sweep: give a --set NODE.PARAM=VALUES with two or more "
                       "values (1..8, or 0.5,1,2)", field="--set")
    base = drive.apply_run_options(base, args, audio=args.audio,  # --audio first, as afx run
                                   duration=at if kind == "clip" else None)
    for item in fixed:
        try:
            set_param_from_text(base, item)
        except AfxError as e:
            raise blame_set(e, item, base) from None
    drive.check_graph(base)
    if kind == "clip":      # a clip is the patch's single file output, written by the driver
        try:
            set_output(base.copy(), os.path.join(os.getcwd(), "cell.mp4"))
        except AfxError as e:
            raise AfxError(e.issue.message.replace("-o needs", "--clip needs"),
                           file=base.file, field="--clip") from None
    for a in axes:          # every value alone first: an error names the value
        for v in a.values:
            g = base.copy()
            try:
                set_param_from_text(g, f"{a.target}={v}")
            except AfxError as e:
                raise blame_set(e, a.item, base) from None
    plan = Plan(args.patch, base, drive.patch_text(base), axes, fixed, kind, at)
    combos = cell_values(axes)
    width = max(3, len(str(len(combos))))
    for i, values in enumerate(combos, 1):
        g = base.copy()
        for a, v in zip(axes, values):
            set_param_from_text(g, f"{a.target}={v}")
        try:
            drive.check_graph(g)
        except AfxError as e:
            raise AfxError(f"cell {i} ({escape_controls(label(axes, values))}): "
                           f"{e.issue.message}",
                           file=base.file, node=e.issue.node, field="--set") from None
        text = drive.patch_text(g)
        plan.cells.append(Cell(i, values, text, drive.digest(text),
                               file=f"{CELLS}/{i:0{width}d}{plan.suffix}"))
    return plan


# -- the folder --------------------------------------------------------------------------------
def read_manifest(out: Path) -> dict | None:
    """The sweep.json in ``out``: None where there is none, {} where it is not one afx
    sweep wrote (unreadable, not JSON, nested without end, or any field of another type
    than afx writes), else its data, every field checked."""
    path = out / MANIFEST
    if not os.path.lexists(path):
        return None
    try:
        data = json.loads(read_capped(path, MAX_MANIFEST).decode("utf-8"))
    except (AfxError, OSError, ValueError, RecursionError):
        return {}
    return data if manifest_ok(data) else {}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def manifest_ok(data) -> bool:
    """Whether ``data`` has the shape :func:`manifest` writes (what resuming reads)."""
    if not (isinstance(data, dict) and _whole(data.get("afx_sweep"))
            and data["afx_sweep"] == FORMAT):
        return False
    sets, cells = data.get("sets"), data.get("cells")
    if not (isinstance(data.get("patch_sha256"), str) and isinstance(data.get("kind"), str)
            and _number(data.get("at")) and isinstance(sets, list) and len(sets) <= MAX_CELLS
            and isinstance(cells, list) and len(cells) <= MAX_CELLS):
        return False
    for s in sets:
        if not (isinstance(s, dict) and isinstance(s.get("target"), str)
                and isinstance(s.get("values"), list) and len(s["values"]) <= MAX_CELLS
                and all(isinstance(v, str) for v in s["values"])):
            return False
    for c in cells:
        if not (isinstance(c, dict) and _whole(c.get("index")) and isinstance(c.get("file"), str)
                and isinstance(c.get("status"), str)
                and isinstance(c.get("patch_sha256"), (str, type(None)))
                and (c.get("seconds") is None or _number(c["seconds"]))):
            return False
    return True


def same_sweep(old: dict, plan: Plan) -> bool:
    return {k: old.get(k) for k in plan.identity} == json.loads(json.dumps(plan.identity))


def adopt(plan: Plan, out: Path, old: dict | None, force: bool) -> list[Path]:
    """Decide what an earlier sweep in ``out`` means for this one: the cells it did are kept
    (same patch and sets), or it is refused (another sweep, or files afx did not write
    there) unless --force. Returns cell files of a replaced sweep to remove."""
    where = escape_controls(str(out))
    if old is None:
        ours = [out / SHEET, out / PAGE] + [out / c.file for c in plan.cells]
        there = [p for p in ours if os.path.lexists(p)]
        if there and not force:
            raise AfxError(f"{escape_controls(str(there[0]))} already exists and {where} holds "
                           "no sweep.json (use --force to overwrite it, or choose another "
                           "-o DIR)", field="-o")
        return []
    if old == {}:
        if not force:
            raise AfxError(f"{where}/{MANIFEST} is not a manifest afx sweep wrote (use --force "
                           "to replace it, or choose another -o DIR)", field="-o")
        return []
    if not same_sweep(old, plan):
        if not force:
            was = shown(" ".join(f"{s['target']}={','.join(s['values'])}"
                                 for s in old["sets"]), 200)
            why = "another patch" if old.get("patch_sha256") != plan.identity["patch_sha256"] \
                else f"other sets ({was})" if old.get("sets") != plan.identity["sets"] \
                else "another kind of cell" if old.get("kind") != plan.kind \
                else "another moment" if plan.kind == "still" else "another clip length"
            raise AfxError(f"{where} holds another sweep ({why}); choose "
                           "another -o DIR, or --force to replace it", field="-o")
        mine = {c.file for c in plan.cells}
        return [out / c["file"] for c in old["cells"] if c["file"] not in mine
                and re.fullmatch(rf"{CELLS}/\d+\.(png|mp4)", c["file"])]
    if not force:
        done = {c["index"]: c for c in old["cells"]}
        for cell in plan.cells:
            was = done.get(cell.index)
            if was and was.get("status") == "done" and was.get("patch_sha256") == cell.sha \
                    and os.path.isfile(out / cell.file):
                cell.status, cell.seconds = "done", was["seconds"]
    return []


def manifest(plan: Plan, runner: str, seconds: float) -> str:
    data = {"afx_sweep": FORMAT, "patch": plan.patch, **plan.identity,
            "fixed": plan.fixed, "runner": runner, "seconds": round(seconds, 3),
            "cells": [{"index": c.index, "file": c.file, "label": label(plan.axes, c.values),
                       "values": {a.target: _value(v)
                                  for a, v in zip(plan.axes, c.values)},
                       "status": c.status, "seconds": c.seconds, "error": c.error,
                       "patch_sha256": c.sha} for c in plan.cells]}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _value(text: str):
    """A value as the patch holds it (a number, text, a list), for the manifest."""
    try:
        v = yaml_load(text) if text.strip() else ""
    except YamlRejected:
        return text
    return v if isinstance(v, (int, float, str, bool, list)) else text


# -- the pictures ------------------------------------------------------------------------------
def middle_frame(path: Path) -> np.ndarray:
    """The middle frame of a video (decoded up to there)."""
    import av
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        n = stream.frames or max(1, int(float(stream.duration * stream.time_base)
                                        * float(stream.average_rate))
                                 if stream.duration and stream.average_rate else 1)
        frame = None
        for i, f in enumerate(c.decode(video=0)):
            frame = f
            if i >= n // 2:
                break
        if frame is None:
            raise ValueError("no frames")
        return frame.to_ndarray(format="rgb24")


def thumbnail(plan: Plan, out: Path, cell: Cell) -> np.ndarray | None:
    if cell.status != "done":
        return None
    try:
        path = out / cell.file
        return read_png(path) if plan.kind == "still" else middle_frame(path)
    except Exception:       # a damaged or removed cell file shows as no picture
        return None


def write_sheet(plan: Plan, out: Path) -> None:
    s = plan.base.render_settings()
    tiles = [sheet.Tile(thumbnail(plan, out, c),
                        [f"#{c.index}" + (" failed" if c.status == "failed" else "")]
                        + [f"{a.short}={a.shown(v)}" for a, v in zip(plan.axes, c.values)],
                        failed=c.status == "failed") for c in plan.cells]
    name = plan.base.meta.get("name") or Path(plan.patch).stem
    what = f"still at {plan.at:g} s" if plan.kind == "still" else f"{plan.at:g} s clips"
    title = [f"{name}: {len(plan.cells)} cells, {what}, {s.width}x{s.height}",
             " ".join(a.item for a in plan.axes)]
    img = sheet.contact_sheet(tiles, aspect=s.width / s.height, title=title,
                              row_length=len(plan.axes[-1].values))
    carried = embedded.patch_text(embedded.patch_of(plan.base), s)
    extra = text_chunk(embedded.KEY, carried) + text_chunk(
        "afx-sweep", json.dumps({**plan.identity, "fixed": plan.fixed}))
    target = out / SHEET
    tmp = files.partial_path(target)
    try:
        with files.writing(target):
            write_png(tmp, img, extra)
            os.replace(tmp, target)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def page(plan: Plan) -> str:
    e = html.escape
    s = plan.base.render_settings()
    name = plan.base.meta.get("name") or Path(plan.patch).stem
    rows = []
    for c in plan.cells:
        caption = f"#{c.index} {label(plan.axes, c.values)}"
        href = e(c.file)
        if c.status == "done" and plan.kind == "clip":
            media = f'<video src="{href}" controls loop muted preload="metadata"></video>'
        elif c.status == "done":
            media = f'<a href="{href}"><img src="{href}" alt="{e(caption)}"></a>'
        else:
            media = f'<div class="missing">{e(c.status)}</div>'
        err = f'<div class="error">{e(c.error)}</div>' if c.error else ""
        rows.append(f'<figure class="{e(c.status)}">{media}<figcaption>{e(caption)}'
                    f'</figcaption>{err}</figure>')
    sets = " ".join(f"--set {a.item}" for a in plan.axes)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(str(name))}: sweep</title>
<style>
body {{ background: #18181c; color: #ddd; font: 14px sans-serif; margin: 16px; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 12px; }}
figure {{ margin: 0; }}
img, video, .missing {{ width: 100%; aspect-ratio: {s.width} / {s.height}; display: block;
  background: #333; }}
.failed .missing {{ background: #6e1418; }}
.missing {{ display: flex; align-items: center; justify-content: center; }}
figcaption {{ font-family: monospace; margin-top: 4px; }}
.error {{ color: #f99; font-family: monospace; font-size: 12px; white-space: pre-wrap; }}
</style>
</head>
<body>
<h1>{e(str(name))}</h1>
<p><code>afx sweep {e(plan.patch)} {e(sets)}</code>: {len(plan.cells)} cells.
<a href="{SHEET}">contact sheet</a>, <a href="{MANIFEST}">manifest</a></p>
<div class="grid">
{chr(10).join(rows)}
</div>
</body>
</html>
"""


# -- the command --------------------------------------------------------------------------------
def run(args) -> int:
    from afx_graph.sharing.bundle import opened_bundle
    drive.check_ray(args.ray)
    shown = args.patch
    with opened_bundle(args.patch) as args.patch:
        plan = plan_sweep(args)
        plan.patch = shown
        if args.export is not None:
            return export(plan, args)
        if args.output is None:
            raise AfxError("the folder the sweep writes is needed (-o DIR)", field="-o")
        return sweep(plan, args)


def find_cell(plan: Plan, text: str) -> Cell:
    text = text.strip()
    if re.fullmatch(r"#?\d+", text):
        digits = text.lstrip("#").lstrip("0") or "0"
        i = int(digits) if len(digits) <= len(str(MAX_CELLS)) else None
        if i is None or not 1 <= i <= len(plan.cells):
            raise AfxError(f"there is no cell {shown(digits, 20)} (cells 1 to "
                           f"{len(plan.cells)})", field="--export")
        return plan.cells[i - 1]
    wanted = {}
    for part in (p for p in re.split(r"[\s,]+(?=[^\s,=]+=)", text) if p):
        key, sep, value = part.partition("=")
        axis = next((a for a in plan.axes if key in (a.short, a.target)), None)
        if not sep or axis is None:
            raise AfxError(f"'{shown(part)}' names no swept value (swept: "
                           f"{', '.join(a.short for a in plan.axes)})", field="--export")
        wanted[axis.target] = value.strip()

    def same(a: str, b: str) -> bool:
        if a == b:
            return True
        try:
            return yaml_load(a) == yaml_load(b)
        except Exception:       # noqa: BLE001 - a value that cannot be read matches nothing
            return False

    found = [c for c in plan.cells if all(same(v, wanted[a.target])
                                          or same(a.shown(v), wanted[a.target])
                                          for a, v in zip(plan.axes, c.values)
                                          if a.target in wanted)]
    if not found:
        raise AfxError(f"no cell has {shown(text)} (e.g. cell 1 is "
                       f"{shown(label(plan.axes, plan.cells[0].values, ','), 200)})",
                       field="--export")
    if len(found) > 1:
        raise AfxError(f"{shown(text)} is {len(found)} cells "
                       f"({', '.join(str(c.index) for c in found[:8])}"
                       f"{'...' if len(found) > 8 else ''}); give every swept value",
                       field="--export")
    return found[0]


def export(plan: Plan, args) -> int:
    cell = find_cell(plan, args.export)
    g = plan.base.copy()
    for a, v in zip(plan.axes, cell.values):
        set_param_from_text(g, f"{a.target}={v}")
    if args.output is None:
        drive.absolute_paths(g)
        sys.stdout.write(drive.patch_text(g))
        sys.stdout.flush()
        return 0
    from afx_graph.run.render import typed_path
    target = Path(typed_path(args.output, "-o"))
    drive.refuse_reads(target, [plan.patch] + drive.files_read(g))
    if Path(os.path.realpath(target.parent)) != Path(os.path.realpath(g.base_dir)):
        drive.absolute_paths(g)
    try:
        files.check_target(target, overwrite=args.force)
    except AfxError as e:
        raise AfxError(e.issue.message, field="-o") from None
    files.write_file(target, drive.patch_text(g).encode("utf-8"), overwrite=args.force)
    if not args.quiet:
        print(f"wrote {escape_controls(str(target))}: cell {cell.index} "
              f"({escape_controls(label(plan.axes, cell.values))})")
    return 0


def check_folder(out: Path, plan: Plan) -> None:
    """Refuse, before anything is written, a sweep folder that is the home folder or one
    above it (a sweep's cells/, index.html... belong in a folder of their own), and names
    of ours there that are something afx does not write over: a folder, a link, a FIFO."""
    real = Path(os.path.realpath(out))
    try:
        home = Path(os.path.realpath(Path.home()))
    except (RuntimeError, KeyError, OSError):     # no HOME and no passwd entry
        home = None
    if real == Path(real.anchor) or (home is not None and (real == home or real in home.parents)):
        what = "your home folder" if real == home else f"the folder {real}" \
            if real == Path(real.anchor) else "a folder above your home folder"
        raise AfxError(f"{escape_controls(str(out))} is {what}; a sweep writes {CELLS}/, "
                       f"{MANIFEST}, {SHEET} and {PAGE}, so give it a folder of its own "
                       f"(for example {escape_controls(str(out / 'sweep'))})", field="-o")
    names = [(out / CELLS, True)] + [(out / name, False) for name in (MANIFEST, SHEET, PAGE)] \
        + [(out / c.file, False) for c in plan.cells]
    for path, folder in names:
        if os.path.lexists(path):
            problem = files.target_problem(path, folder=folder)
            if problem:
                raise AfxError(f"cannot write {escape_controls(str(path))}: {problem}",
                               field="-o")


def sweep(plan: Plan, args) -> int:
    out = drive.output_folder(args.output)
    check_folder(out, plan)
    old = read_manifest(out) if out.is_dir() else None
    stale = adopt(plan, out, old, args.force)
    files.make_folders(out / CELLS)
    drive.remove_stale(out, [MANIFEST, SHEET, PAGE])
    for c in plan.cells:                # what killed sweeps left half-written
        files.remove_stale_partials(out / c.file)
    for p in stale:                     # cells of the sweep --force replaces
        if p.is_file() and not p.is_symlink():
            p.unlink()
    t0 = time.perf_counter()
    runner_name = "ray" if args.ray is not None else "in-process"
    files.write_file(out / MANIFEST, manifest(plan, runner_name, 0.0).encode(), overwrite=True)
    todo = [c for c in plan.cells if c.status != "done"]
    kept = len(plan.cells) - len(todo)
    say = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    if kept:
        say(f"{kept} of {len(plan.cells)} cells already done in {escape_controls(str(out))}" +
            (f"; rendering the other {len(todo)}" if todo else ""))
    base_dir = str(plan.base.base_dir)
    jobs = [Job(key=str(c.index), patch=c.text, base_dir=base_dir,
                kind="still" if plan.kind == "still" else "video",
                options=drive.job_options(args), still_time=plan.at) for c in todo]
    by_key = {str(c.index): c for c in todo}
    results: list[JobResult] = []
    n = len(plan.cells)

    def done(job: Job, result: JobResult) -> None:
        cell = by_key[job.key]
        results.append(result)
        name = escape_controls(label(plan.axes, cell.values))
        if result.error is None:
            try:
                drive.write_result(result, out / cell.file, overwrite=True)
            except AfxError as e:
                result.error = str(e)
        cell.seconds = round(result.seconds, 3)
        if result.error is None:
            cell.status, cell.error = "done", None
            say(f"cell {cell.index}/{n} {name}: {result.seconds:.1f} s")
        else:
            cell.status, cell.internal = "failed", result.internal
            cell.error = drive.job_error(result, base_dir, plan.patch)
            print(f"{'internal error' if result.internal else 'error'}: cell {cell.index}/{n} "
                  f"{name}: {escape_controls(cell.error)}", file=sys.stderr, flush=True)
        text = manifest(plan, runner_name, time.perf_counter() - t0)
        files.write_file(out / MANIFEST, text.encode(), overwrite=True)

    drive.run_jobs(args, jobs, done)
    elapsed = time.perf_counter() - t0
    files.write_file(out / MANIFEST, manifest(plan, runner_name, elapsed).encode(), overwrite=True)
    write_sheet(plan, out)
    files.write_file(out / PAGE, page(plan).encode(), overwrite=True)
    failed = [c for c in plan.cells if c.status == "failed"]
    if not args.quiet:
        rendered = len(todo) - len(failed)
        print(f"swept {n} cells in {elapsed:.1f} s ({runner_name}): {rendered} rendered, "
              f"{kept} kept, {len(failed)} failed; wrote "
              f"{escape_controls(str(out / SHEET))} and {escape_controls(str(out / PAGE))}")
    return drive.exit_code(results)
