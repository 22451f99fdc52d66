"""Hostile patches: mutations of the example patches (graphs/*.yaml), and the check that
``afx validate`` refuses what ``afx run`` refuses before rendering starts (DESIGN.md section
7; issue 20).

Each case is one mutation of one example: a wrong type, NaN, an infinity or a huge number in a
param or a setting, an absurd size, fps, duration or start, an empty string, a bad output
path, an unknown param or port, a bad link, an odd subpatch use. :func:`cases` makes them from
a seed (the same seed, the same cases). :func:`compare` runs both commands in-process
(``afx_graph.cli.main``) in a fresh folder: ``afx validate p.yaml``, then ``afx run p.yaml``
with the patch's own settings, stopped when the first frame would be computed (what run
refuses before that, from the patch and its settings, validate must refuse), and
``afx run p.yaml --duration 0.1 --size 32x18`` rendered to the end.

As a script, the survey::

    .venv/bin/python tests/hostile_patches.py [COUNT] [SEED]

prints every case where the two disagree, or where either says ``internal error``.
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import random
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GRAPHS = sorted((ROOT / "graphs").glob("*.yaml"))
TINY = ["--duration", "0.1", "--size", "32x18"]


@dataclass(frozen=True)
class Case:
    name: str            # what was done: 'demo.yaml: field params.hidden = nan'
    text: str            # the patch

    def __str__(self) -> str:
        return self.name


# -- the mutations ------------------------------------------------------------------------------
HUGE = [1e308, -1e308, 10 ** 30, -(10 ** 30), 2 ** 63, 1e-320, -0.0]
ODD = [math.nan, math.inf, -math.inf, "", " ", "x" * 300, None, True, False, [], {}, [1, 2],
       {"a": 1}, "NaN", "1e9", 0, -1, 2.5, 0.5, 1, 65536, 1e9]
SIZES = [[0, 0], [-64, 36], [100000, 100000], [8192, 8192], [8192, 8], [64.5, 36], ["64", "36"],
         [64], [64, 36, 3], "640x360", None, [math.nan, 36], [True, 36], 64, [], [8, 8],
         [7, 36], [8193, 8]]
NUMBERS = [0, -1, math.nan, math.inf, -math.inf, 1e9, 1e308, 10 ** 30, "30", True, None, [], 0.001,
           1e-9, 241, 240, 6 * 3600, 6 * 3600 + 1, 100, 86400]
OUT_PATHS = ["/tmp/afx-hostile.mp4", "../x.mp4", "a/../../x.mp4", "", " ", ".", "..", "out/",
             "~/x.mp4", "~nosuchuser/x.mp4", "x\x00.mp4", "x" * 300 + ".mp4", "a/" * 200 + "x.mp4",
             "p.yaml", "out", "/dev/null", "x.txt", "x", "x.mp4/", "./x.mp4", "\u202ex.mp4",
             "con.mp4", "x\n.mp4", 5, None, ["a"], "sub", "looks"]
IN_PATHS = ["", " ", "missing.wav", ".", "..", "/dev/zero", "/dev/null", "p.yaml", "looks",
            "x\x00.wav", "x" * 300, "/nonexistent/song.wav", 5, None, "~/nope.wav",
            "~nosuchuser/a.wav", "song.mp3/", "looks/cells_to_fractal.safetensors"]
LINKS = ["", "nope", "nope.out", "x.y.z", ".out", "a.", 5, None, ["a.b"], {"a": "b"}, "music.nope",
         "video.image", "self", "coords.coords", "music.audio", "\x00.a", "a b.c", "1a.b"]
SOURCES = ["", "#", "#nope", "nope.yaml", "p.yaml", ".", "/dev/zero", "#g", 5, None, "#g/x",
           "looks/cells_to_fractal.safetensors", "sub.yaml", "selfref.yaml", "deep.yaml"]
VERSIONS = [0, -1, 2.5, 99, "2", None, True, math.nan, 10 ** 30]


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


def _registry():
    from afx_graph import default_registry
    return default_registry()


def _node(rng, data) -> tuple[str, dict] | None:
    nodes = data.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        return None
    nid = rng.choice(sorted(map(str, nodes)))
    e = nodes.get(nid)
    if isinstance(e, str):
        e = nodes[nid] = {"type": e}
    return (nid, e) if isinstance(e, dict) else None


def _spec(reg, e):
    try:
        return reg.get(e.get("type"))
    except Exception:
        return None


def mutate(rng: random.Random, data: dict, reg) -> str:
    """Change ``data`` in place, one hostile change; returns what was done."""
    kind = rng.choice(["param", "param", "param", "param", "setting", "setting", "output",
                       "output", "input_file", "link", "link", "unknown", "type", "subpatch",
                       "subpatch", "structure", "version"])
    picked = _node(rng, data)
    if picked is None:
        kind = "setting"
        data.setdefault("nodes", {})
    if kind == "param":
        nid, e = picked
        spec = _spec(reg, e)
        names = sorted(spec.params) if spec else ["x"]
        name = rng.choice(names)
        p = spec.params.get(name) if spec else None
        pool = ODD + HUGE
        if p is not None and p.is_numeric:
            pool = pool + [p.min, p.max, (p.min or 0) - 1, (p.max or 0) + 1, (p.max or 1) * 1e6]
            if p.type is int:
                pool = pool + [1.5, (p.max or 4) - 0.5]
        if p is not None and p.choices:
            pool = pool + [c.upper() if isinstance(c, str) else c for c in p.choices] + [" " + str(p.choices[0])]
        if p is not None and p.type is tuple:
            pool = pool + [[math.nan] * len(p.default), [1e308] * len(p.default),
                           list(p.default) + [0], [str(v) for v in p.default]]
        value = rng.choice(pool)
        e.setdefault("params", {})
        if e["params"] is None:
            e["params"] = {}
        e["params"][name] = value
        return f"{nid} params.{name} = {value!r}"[:200]
    if kind == "setting":
        s = data.get("settings")
        if not isinstance(s, dict):
            s = data["settings"] = {}
        key = rng.choice(["size", "fps", "duration", "start", "start", "duration", "size",
                          "colour"])
        value = rng.choice(SIZES if key == "size" else NUMBERS)
        s[key] = value
        if rng.random() < 0.2:
            data["settings"] = rng.choice([None, [], "30", 5])
            return f"settings = {data['settings']!r}"
        return f"settings.{key} = {value!r}"
    if kind == "output":
        outs = [(nid, e) for nid, e in (data.get("nodes") or {}).items()
                if isinstance(e, dict) and str(e.get("type", "")).startswith("output.")]
        if not outs:
            return mutate(rng, data, reg)
        nid, e = rng.choice(outs)
        value = rng.choice(OUT_PATHS)
        if rng.random() < 0.15:           # a second output, maybe to the same place
            data["nodes"]["video2"] = copy.deepcopy(e)
            e2 = data["nodes"]["video2"]
            e2["type"] = rng.choice(["output.video", "output.frames"])
            e2.setdefault("params", {})["path"] = rng.choice([e.get("params", {}).get("path"),
                                                              value, "out", "frames"])
            return f"second output {e2['type']} path={e2['params']['path']!r}"
        e.setdefault("params", {})
        if e["params"] is None:
            e["params"] = {}
        e["params"]["path"] = value
        return f"{nid} params.path = {value!r}"[:200]
    if kind == "input_file":
        files = [(nid, e) for nid, e in (data.get("nodes") or {}).items()
                 if isinstance(e, dict) and e.get("type") in ("audio.file", "field.look")]
        value = rng.choice(IN_PATHS)
        if not files:
            nid = "music"
            data["nodes"]["extra_audio"] = {"type": "audio.file", "params": {"path": value}}
            return f"extra audio.file path = {value!r}"[:200]
        nid, e = rng.choice(files)
        e.setdefault("params", {})["path"] = value
        return f"{nid} params.path = {value!r}"[:200]
    if kind == "link":
        nid, e = picked
        spec = _spec(reg, e)
        ports = (spec.input_ports() if spec else []) + ["nope"]
        port = rng.choice(ports)
        value = rng.choice(LINKS + [f"{n}.{o}" for n in list(data["nodes"])[:4]
                                    for o in ("out", "image", "audio", "features", "value")])
        if value == "self":
            value = f"{nid}.out"
        if rng.random() < 0.15:
            e["inputs"] = rng.choice([5, "x", [], None, {"": "a.b"}])
            return f"{nid} inputs = {e['inputs']!r}"
        if not isinstance(e.get("inputs"), dict):
            e["inputs"] = {}
        e["inputs"][port] = value
        return f"{nid} inputs.{port} = {value!r}"
    if kind == "unknown":
        nid, e = picked
        where = rng.choice(["param", "key", "top", "setting", "meta", "ui"])
        if where == "param":
            e.setdefault("params", {})
            if e["params"] is None:
                e["params"] = {}
            e["params"][rng.choice(["colour", "", "Seed", "seed ", "x.y", "1"])] = 1
        elif where == "key":
            e[rng.choice(["input", "param", "Type", "outputs"])] = {}
        elif where == "top":
            data[rng.choice(["node", "Settings", "controls", "subpatch"])] = {}
        elif where == "setting":
            data.setdefault("settings", {})
            if isinstance(data["settings"], dict):
                data["settings"][rng.choice(["Size", "frames", "audio", "seed"])] = 3
        elif where == "meta":
            data["meta"] = rng.choice([5, "x", [], {"name": math.nan}, {"name": "x" * 5000}])
        else:
            e["ui"] = rng.choice([5, "x", [], {"pos": [math.nan, math.inf]}, {"pos": "a"}])
        return f"unknown {where} on {nid}"
    if kind == "type":
        nid, e = picked
        e["type"] = rng.choice(["", "nope", "cppn ", "CPPN", "output.Video", "subpatch",
                                "audio.file", "output.frames", "features.select", 5, None,
                                "math.lfo", "image.blur"])
        return f"{nid} type = {e['type']!r}"
    if kind == "subpatch":
        return _subpatch_mutation(rng, data, reg)
    if kind == "version":
        nid, e = picked
        what = rng.choice(["node", "node", "afx"])
        value = rng.choice(VERSIONS)
        if what == "afx":
            data["afx"] = value
            return f"afx = {value!r}"
        e["version"] = value
        return f"{nid} version = {value!r}"
    # structure: remove or rename nodes, empty things
    nid, e = picked
    what = rng.choice(["remove", "remove", "rename", "params", "nodes", "empty_node"])
    if what == "remove":
        del data["nodes"][nid]
        return f"removed node {nid}"
    if what == "rename":
        new = rng.choice(["1x", "a.b", "", "x y", "video", "a/b", "subpatch", "_ok"])
        data["nodes"][new] = data["nodes"].pop(nid)
        return f"renamed {nid} to {new!r}"
    if what == "params":
        e["params"] = rng.choice([5, "x", [1], None, {}])
        return f"{nid} params = {e['params']!r}"
    if what == "nodes":
        data["nodes"] = rng.choice([None, [], "x", {}])
        return f"nodes = {data['nodes']!r}"
    data["nodes"][nid] = rng.choice([None, 5, [], {}, "nope"])
    return f"{nid} = {data['nodes'][nid]!r}"


def _subpatch_mutation(rng, data, reg) -> str:
    """Group two nodes of the patch into an inline subpatch, then break something about it."""
    from afx_graph.subpatches import grouping
    from afx_graph.patchfile.patch import from_data, to_data
    patch = from_data(copy.deepcopy(data))
    movable = [n for n, e in patch.nodes.items() if not e.type.startswith("output.")]
    if len(movable) < 2:
        return "no subpatch (too few nodes)"
    ids = rng.sample(movable, 2)
    try:
        grouped, sid = grouping.group(patch, ids, reg, "g")
    except Exception as e:        # a loop through the group: that is its own case
        return f"group {ids} refused: {type(e).__name__}"
    out = to_data(grouped)
    out.pop("requires", None)
    data.clear()
    data.update(out)
    node = data["nodes"][sid]
    inner = data["subpatches"]["g"]
    what = rng.choice(["source", "inner_param", "exposed_param", "expose", "inner_link",
                       "inner_type", "definition", "uses", "output_inside"])
    if what == "source":
        node["params"]["source"] = rng.choice(SOURCES)
        return f"grouped {ids}; source = {node['params']['source']!r}"
    if what == "inner_param":
        inid = rng.choice(sorted(inner["nodes"]))
        e = inner["nodes"][inid]
        spec = _spec(reg, e)
        name = rng.choice(sorted(spec.params)) if spec and spec.params else "x"
        value = rng.choice(ODD + HUGE)
        e.setdefault("params", {})[name] = value
        return f"grouped {ids}; inside {inid} params.{name} = {value!r}"[:200]
    if what == "exposed_param":
        value = rng.choice(ODD + HUGE)
        node["params"][rng.choice(["seed", "radius", "nope", "source2", "amount"])] = value
        return f"grouped {ids}; a param on the subpatch node = {value!r}"
    if what == "expose":
        inner["expose"] = rng.choice([5, "x", {"inputs": 5}, {"outputs": {"x": "nope.out"}},
                                      {"params": {"p": "a"}}, {"outputs": {"source": "a.b"}},
                                      {"colour": {}}, None, {"inputs": {"x": []}}])
        return f"grouped {ids}; expose = {inner['expose']!r}"
    if what == "inner_link":
        inid = rng.choice(sorted(inner["nodes"]))
        inner["nodes"][inid].setdefault("inputs", {})[rng.choice(["x", "image", "audio"])] = \
            rng.choice(LINKS)
        return f"grouped {ids}; inside {inid} a bad link"
    if what == "inner_type":
        inid = rng.choice(sorted(inner["nodes"]))
        inner["nodes"][inid]["type"] = rng.choice(["nope", "", 5, "subpatch"])
        return f"grouped {ids}; inside {inid} type = {inner['nodes'][inid]['type']!r}"
    if what == "definition":
        data["subpatches"]["g"] = rng.choice([5, "x", [], {}, {"nodes": {}}, {"nodes": 5},
                                              None])
        return f"grouped {ids}; definition = {data['subpatches']['g']!r}"
    if what == "uses":
        for k in range(rng.choice([2, 3, 20])):
            data["nodes"][f"{sid}_{k}"] = copy.deepcopy(node)
        return f"grouped {ids}; the subpatch node copied"
    inner["nodes"]["v"] = {"type": "output.video", "params": {"path": "inner.mp4"}}
    return f"grouped {ids}; an output node inside"


def cases(count: int, seed: int = 20) -> list[Case]:
    """``count`` hostile patches, the same ones for the same seed."""
    reg = _registry()
    rng = random.Random(seed)
    examples = [(p.name, _load(p)) for p in GRAPHS]
    out = []
    for i in range(count):
        name, data = rng.choice(examples)
        data = copy.deepcopy(data)
        what = []
        for _ in range(1 if rng.random() < 0.8 else 2):
            before = copy.deepcopy(data)
            try:
                what.append(mutate(rng, data, reg))
            except Exception:         # a second change that no longer applies
                data = before
        try:
            text = _dump(data)
        except Exception:             # not representable in YAML: skip
            continue
        out.append(Case(f"{i}: {name}: {'; '.join(what)}", text))
    return out


# -- running both commands ----------------------------------------------------------------------
class Started(BaseException):
    """Raised where the first frame would be computed: run accepted the patch."""


class TookTooLong(BaseException):
    pass


@dataclass
class Answer:
    code: int | str          # exit code, or 'started' (run reached its first frame)
    errors: list[str]

    @property
    def refused(self) -> bool:
        return self.code not in (0, "started")

    def __str__(self) -> str:
        return f"{self.code} {self.errors[:2]}"


def _call(argv: list[str], cwd: Path, stop_at_first_frame: bool, limit: int) -> Answer:
    from afx_graph import cli
    from afx_graph.engine import executor

    real = executor.Executor.frames

    def first_frame(self, *a, **kw):
        raise Started()
        yield                                         # pragma: no cover

    err = io.StringIO()
    old = os.getcwd()

    def alarm(*_):
        raise TookTooLong()
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(limit)
    try:
        os.chdir(cwd)
        if stop_at_first_frame:
            executor.Executor.frames = first_frame
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code: int | str = cli.main(argv)
            except Started:
                code = "started"
            except TookTooLong:
                code = "timeout"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        executor.Executor.frames = real
        os.chdir(old)
    lines = err.getvalue().splitlines()
    return Answer(code, [l for l in lines if l.startswith(("error:", "internal error", "Traceback"))])


def workspace(case: Case, folder: Path) -> Path:
    """A fresh folder with the patch (p.yaml), the example's look file, a short song.mp3 (a
    WAV: read by its content) and two subpatch files the mutations name."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "graphs" / "looks", folder / "looks")
    global _SONG
    if _SONG is None:
        import numpy as np
        from afx_graph.media.wav import write_wav
        _SONG = Path(tempfile.mkdtemp()) / "song.wav"
        t = np.arange(22050 * 3) / 22050
        write_wav(_SONG, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None, :], 22050)
    shutil.copy(_SONG, folder / "song.mp3")
    (folder / "selfref.yaml").write_text(
        "afx: 1\nexpose: {outputs: {image: s.image}}\n"
        "nodes:\n  s: {type: subpatch, params: {source: selfref.yaml}}\n")
    (folder / "sub.yaml").write_text(
        "afx: 1\nexpose: {inputs: {image: b.image}, outputs: {image: b.out}}\n"
        "nodes:\n  b: {type: image.blur}\n")
    (folder / "p.yaml").write_text(case.text)
    return folder / "p.yaml"


_SONG: Path | None = None


@dataclass
class Comparison:
    case: Case
    validate: Answer
    run: Answer           # the patch's settings, stopped at the first frame
    tiny: Answer | None   # --duration 0.1 --size 32x18, to the end

    @property
    def problems(self) -> list[str]:
        out = []
        if not self.validate.refused and self.run.refused:
            out.append("validate ok, run refused")
        if self.tiny is not None and not self.validate.refused and self.tiny.refused:
            out.append("validate ok, tiny run refused")
        for what, a in (("validate", self.validate), ("run", self.run), ("tiny", self.tiny)):
            if a is not None and (a.code in (1, "timeout") or any(
                    l.startswith(("internal error", "Traceback")) for l in a.errors)):
                out.append(f"{what}: {a.code}")
            elif a is not None and a.refused and a.code != 2:
                out.append(f"{what}: exit {a.code}")
        return out


def compare(case: Case, folder: Path, tiny: bool = True, limit: int = 120) -> Comparison:
    patch = workspace(case, folder)
    v = _call(["validate", str(patch.name)], folder, False, limit)
    workspace(case, folder)
    r = _call(["run", patch.name, "--quiet"], folder, True, limit)
    t = None
    if tiny:
        workspace(case, folder)
        t = _call(["run", patch.name, "--quiet", *TINY], folder, False, limit)
    return Comparison(case, v, r, t)


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 548
    seed = int(argv[1]) if len(argv) > 1 else 20
    tiny = "--no-tiny" not in argv
    from afx_graph.errors import escape_controls
    work = Path(tempfile.mkdtemp(prefix="afx-hostile-"))
    found = 0
    all_cases = cases(count, seed)
    for i, case in enumerate(all_cases):
        c = compare(case, work / "case", tiny=tiny)
        if c.problems:
            found += 1
            print(escape_controls(f"{case.name}\n  {c.problems}\n  validate {c.validate}\n"
                                  f"  run      {c.run}\n  tiny     {c.tiny}"), flush=True)
        if i % 25 == 0:
            print(f"... {i}/{len(all_cases)}", file=sys.stderr, flush=True)
    print(f"{found} of {len(all_cases)} cases differ or fail")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
