"""Subpatches fed what a careless or hostile patch gives them, and what users see: one
`error:` line naming the file, node and field, exit code 2, no traceback, nothing written
where it should not be (DESIGN.md section 7; README "Subpatches", "Sharing a piece",
"Every render carries its patch"). Found by hand-testing issue 13; each test is a bug seen
then (they fail until it is fixed)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest

from afx_graph import Graph, default_registry, load_patch
from afx_graph.subpatches import definitions as subpatch
from afx_graph.subpatches import grouping
from afx_graph.errors import AfxError
from afxcli import bad_input, run_afx

ROOT = Path(__file__).parents[1]
DEMO = ROOT / "graphs" / "demo.yaml"

from test_subpatch import GLOW                # the library subpatch of test_subpatch.py


def using(source: str, extra: str = "", out: str = "out.mp4") -> str:
    """A patch whose node 'halo' is a subpatch from ``source``, fed by a CPPN."""
    return f"""afx: 1
settings: {{size: [64, 36], fps: 30, duration: 0.3}}
{extra}nodes:
  field: {{type: cppn, params: {{seed: 5}}}}
  halo:
    type: subpatch
    params: {{source: {source}}}
    inputs: {{image: field.image}}
  video: {{type: output.video, params: {{path: {out}}}, inputs: {{image: halo.image}}}}
"""


@pytest.fixture(scope="module")
def reg():
    return default_registry()


@pytest.fixture(autouse=True)
def _no_home_recovery(tmp_path, monkeypatch):
    monkeypatch.setenv("AFX_RECOVERY_DIR", str(tmp_path / "recovery"))


# -- sources that are not subpatch files -------------------------------------------------------
def test_a_source_that_is_a_symlink_loop_is_bad_input(tmp_path, reg):
    """Seen: `internal error: RuntimeError: Symlink loop from ...`, exit 1 (Path.resolve in
    Library.resolve); the editor's Open raises RuntimeError out of the controller."""
    os.symlink("l2.yaml", tmp_path / "l1.yaml")
    os.symlink("l1.yaml", tmp_path / "l2.yaml")
    patch = tmp_path / "p.yaml"
    patch.write_text(using("l1.yaml"))
    for cmd in ("validate", "run"):
        bad_input(run_afx(cmd, patch, cwd=tmp_path), "node 'halo'", "params.source")
    assert not (tmp_path / "out.mp4").exists()
    from afx_graph.ui.controller import EditorController
    ctl = EditorController(reg, recovery=tmp_path / "recovery")
    issues = ctl.open(patch)              # opens, with the problem shown on the node
    assert any(i.node == "halo" and i.field == "params.source" for i in issues), issues


def test_an_inline_node_that_is_not_a_mapping_is_bad_input(tmp_path):
    """Seen: `internal error: AttributeError: 'int' object has no attribute 'type'`, exit 1,
    when the first node of a definition is not a mapping (the second one is refused well)."""
    extra = ("subpatches:\n  g:\n    expose: {inputs: {image: b.image}, outputs: {image: b.out}}\n"
             "    nodes: {b: 5}\n")
    patch = tmp_path / "p.yaml"
    patch.write_text(using("'#g'", extra))
    for cmd in ("validate", "run"):
        bad_input(run_afx(cmd, patch, cwd=tmp_path), "node 'halo'")
    assert not (tmp_path / "out.mp4").exists()


# -- what a definition may hold ----------------------------------------------------------------
OUTPUT_INSIDE = {
    "file": ("g.yaml", "",
             "afx: 1\nexpose: {inputs: {image: b.image}, outputs: {image: b.out}}\nnodes:\n"
             "  b: {type: image.blur}\n"
             "  v: {type: output.video, params: {path: inner.mp4}, inputs: {image: b.out}}\n"),
    "inline": ("'#g'",
               "subpatches:\n  g:\n    expose: {inputs: {image: b.image}, outputs: {image: b.out}}\n"
               "    nodes:\n      b: {type: image.blur}\n"
               "      v: {type: output.video, params: {path: inner.mp4}, inputs: {image: b.out}}\n",
               None),
}


@pytest.mark.parametrize("where", sorted(OUTPUT_INSIDE))
def test_an_output_node_inside_a_subpatch_is_refused(tmp_path, where):
    """README: 'an output node inside ... refused'. Seen: `afx validate` says ok (exit 0),
    then `afx run` fails with `internal error: KeyError: 'halo/v'` (exit 1)."""
    source, extra, text = OUTPUT_INSIDE[where]
    if text:
        (tmp_path / "g.yaml").write_text(text)
    patch = tmp_path / "p.yaml"
    patch.write_text(using(source, extra))
    first = bad_input(run_afx("validate", patch, cwd=tmp_path), "halo")
    assert "output" in first, first
    bad_input(run_afx("run", patch, cwd=tmp_path), "halo")
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "inner.mp4").exists()


def test_problems_in_a_subpatch_file_are_not_ignored(tmp_path):
    """The same node inline is refused (`node 'b' ...: a node ...`); from a file, what
    load_patch collected in patch.issues (a bad 'inputs', an unknown key) was dropped: the
    patch validated and rendered without a word."""
    (tmp_path / "g.yaml").write_text(
        "afx: 1\nexpose: {inputs: {image: b.image}, outputs: {image: b.out}}\n"
        "nodes:\n  b: {type: image.blur, inputs: 5, colour: red}\n")
    assert run_afx("validate", tmp_path / "g.yaml", cwd=tmp_path).returncode == 2
    patch = tmp_path / "p.yaml"
    patch.write_text(using("g.yaml"))
    first = bad_input(run_afx("validate", patch, cwd=tmp_path), "halo")
    assert "g.yaml" in first, first


def test_nesting_too_deep_through_files_names_the_files(tmp_path):
    """Seen: `subpatches nest more than 8 deep ( ->  ->  ->  ->  ->  ->  -> )`: the chain of
    files is printed as empty names."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "d9.yaml").write_text(GLOW)
    for i in range(8, 0, -1):
        (tmp_path / "lib" / f"d{i}.yaml").write_text(
            f"afx: 1\nexpose: {{inputs: {{image: s.image}}, outputs: {{image: s.image}}}}\n"
            f"nodes:\n  s: {{type: subpatch, params: {{source: d{i + 1}.yaml}}}}\n")
    patch = tmp_path / "p.yaml"
    patch.write_text(using("lib/d1.yaml"))
    first = bad_input(run_afx("validate", patch, cwd=tmp_path), "more than 8 deep")
    assert " ->  -> " not in first and "d1.yaml" in first and "d8.yaml" in first, first


# -- bundles: the patch may only read its own files --------------------------------------------
def hand_made_bundle(path: Path, patch_text: str) -> None:
    data = patch_text.encode()
    manifest = {"afx_bundle": 1, "patch": "patch.yaml",
                "files": [{"name": "patch.yaml", "size": len(data),
                           "sha256": hashlib.sha256(data).hexdigest()}]}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("patch.yaml", data)
        z.writestr("manifest.json", json.dumps(manifest))


@pytest.mark.parametrize("spelling", ["absolute", "relative"])
def test_a_bundle_whose_subpatch_is_outside_it_is_refused(tmp_path, spelling):
    """README: 'the patch may only read its own files; a refused bundle leaves nothing
    behind'. Seen: a bundle naming a subpatch file outside it unpacks (exit 0) and renders
    from that file; `afx run` of a '../../x/lib/glow.yaml' source read a file in /tmp that
    another user had left there."""
    outside = tmp_path / "outside" / "lib"
    outside.mkdir(parents=True)
    (outside / "glow.yaml").write_text(GLOW)
    work = tmp_path / "work"
    work.mkdir()
    source = str(outside / "glow.yaml") if spelling == "absolute" else \
        os.path.relpath(outside / "glow.yaml", work / "piece")
    bundle = work / "piece.afxpack"
    hand_made_bundle(bundle, using(source))
    first = bad_input(run_afx("unpack", bundle, "-o", work / "piece", cwd=work), "halo")
    assert "outside the bundle" in first, first
    assert not (work / "piece").exists()
    bad_input(run_afx("run", bundle, "-o", work / "out.mp4", cwd=work), "halo")
    assert not (work / "out.mp4").exists()


# -- every render carries its patch ------------------------------------------------------------
def test_a_video_made_with_a_subpatch_file_renders_from_the_video_alone(tmp_path):
    """README: 'Sent only the video?' and 'holds the patch that made it, as that run
    rendered it'. Seen: the embedded patch keeps `source: lib/glow.yaml`, so the video alone
    says `subpatch file lib/glow.yaml: ... no such file` (and an edit of the library file
    would change what the video's patch makes)."""
    maker = tmp_path / "maker"
    (maker / "lib").mkdir(parents=True)
    (maker / "lib" / "glow.yaml").write_text(GLOW)
    (maker / "p.yaml").write_text(using("lib/glow.yaml"))
    r = run_afx("run", maker / "p.yaml", cwd=maker)
    assert r.returncode == 0, r.stderr
    friend = tmp_path / "friend"
    friend.mkdir()
    shutil.copy(maker / "out.mp4", friend / "got.mp4")
    r = run_afx("run", friend / "got.mp4", "-o", friend / "again.mp4", cwd=friend)
    assert r.returncode == 0, r.stderr
    assert (friend / "again.mp4").stat().st_size > 0


def test_a_video_does_not_tell_where_its_maker_keeps_files_inside_subpatches(tmp_path):
    """README: 'Absolute paths ... keep only their file name, so a shared video does not
    tell where its maker keeps their music'. Seen: an absolute subpatch source and an
    absolute audio path inside an inline definition are embedded as typed (a top-level
    audio.file keeps only 'song.wav')."""
    lib = tmp_path / "private" / "stuff"
    lib.mkdir(parents=True)
    (lib / "glow.yaml").write_text(GLOW)
    song = lib / "song.wav"
    with wave.open(str(song), "wb") as w:              # 1 s of a quiet 220 Hz tone
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(22050)
        t = np.arange(22050) / 22050
        w.writeframes((3000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes())
    extra = (f"subpatches:\n  snd:\n    expose: {{outputs: {{audio: s.audio}}}}\n"
             f"    nodes:\n      s: {{type: audio.file, params: {{path: {song}}}}}\n")
    text = using(str(lib / "glow.yaml"), extra).replace(
        "  video: {type: output.video, params: {path: out.mp4}, inputs: {image: halo.image}}",
        "  music: {type: subpatch, params: {source: '#snd'}}\n"
        "  video: {type: output.video, params: {path: out.mp4}, "
        "inputs: {image: halo.image, audio: music.audio}}")
    patch = tmp_path / "p.yaml"
    patch.write_text(text)
    r = run_afx("run", patch, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_afx("extract", tmp_path / "out.mp4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert str(tmp_path / "private") not in r.stdout, r.stdout


# -- the editor: group, enter, render --------------------------------------------------------
def test_grouping_that_would_close_a_loop_is_refused(tmp_path, reg):
    """README: 'a link that would close a loop through a subpatch [is] refused'. Seen: in the
    demo, beats -> walk -> shift; grouping beats and shift (walk stays outside) makes
    group -> walk -> group, and the patch no longer validates (a cycle)."""
    from afx_graph.ui.controller import EditorController
    with pytest.raises(subpatch.SubpatchError, match="loop|cycle"):
        grouping.group(load_patch(DEMO), ["beats", "shift"], reg)
    ctl = EditorController(reg, recovery=tmp_path / "recovery")
    ctl.open(DEMO)
    assert ctl.group(["beats", "shift"]) is None
    assert ctl.last_refusal and ("loop" in ctl.last_refusal or "cycle" in ctl.last_refusal)
    assert ctl.graph.validate() == [] and not ctl.dirty


def test_grouping_nodes_a_subpatch_exposes_keeps_it_working(tmp_path, reg):
    """Seen: inside an inline subpatch, grouping a node its expose names (spectrum) leaves
    `expose.inputs.audio: spectrum.audio`; after leaving, the patch says `subpatch
    demo.yaml#group: expose.inputs.audio names no node 'spectrum'` and cannot be ungrouped.
    The same in a subpatch file (glow.yaml: blur, mix)."""
    from afx_graph.ui.controller import EditorController
    ctl = EditorController(reg, recovery=tmp_path / "recovery")
    shutil.copy(DEMO, tmp_path / "demo.yaml")
    ctl.open(tmp_path / "demo.yaml")
    nid = ctl.group(["spectrum", "beats"])
    assert nid and ctl.enter(nid) is None
    assert ctl.group(["spectrum"]) is not None
    assert ctl.leave() is None
    assert ctl.graph.validate() == [], [str(i) for i in ctl.graph.validate()]
    (tmp_path / "glow.yaml").write_text(GLOW)
    grouped, _ = grouping.group(load_patch(tmp_path / "glow.yaml"), ["blur"], reg)
    g = Graph.from_patch(grouped, reg)
    assert g.validate() == [], [str(i) for i in g.validate()]


def test_entering_a_subpatch_file_that_broke_since_opening_is_a_refusal(tmp_path, reg):
    """Seen: Ctrl+E on a node whose file became bad YAML (or a FIFO) after the patch was
    opened raises PatchError out of EditorController.enter (EditorApp.enter only expects a
    reason string), instead of saying why it cannot go inside."""
    from afx_graph.ui.controller import EditorController
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "glow.yaml").write_text(GLOW)
    (tmp_path / "p.yaml").write_text(using("lib/glow.yaml"))
    ctl = EditorController(reg, recovery=tmp_path / "recovery")
    ctl.open(tmp_path / "p.yaml")
    (tmp_path / "lib" / "glow.yaml").write_text("afx: 1\nnodes: [\n")
    reason = ctl.enter("halo")
    assert isinstance(reason, str) and "glow.yaml" in reason
    assert not ctl.outer and ctl.graph.path == tmp_path / "p.yaml"


def test_a_render_from_the_editor_never_overwrites_the_video_its_patch_came_from(tmp_path, reg,
                                                                                monkeypatch):
    """README: 'A render never writes over the file its patch came from, even with --force'
    (`afx run demo.mp4 -o demo.mp4 --force` is refused). Seen in the editor: open demo.mp4
    (untitled), Render..., its output box shows the patch's own path (the video beside it),
    tick 'overwrite', Render: the original 3 s video is replaced. This does what
    RenderDialog.start does with that output (keep it in step with ui/dialogs.py)."""
    from afx_graph.run.render import RunOptions, render_graph
    from afx_graph.ui.controller import EditorController
    monkeypatch.chdir(tmp_path)
    r = run_afx("run", DEMO, "--size", "64x36", "--duration", "0.3", "-o", tmp_path / "demo.mp4",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    before = (tmp_path / "demo.mp4").read_bytes()
    ctl = EditorController(reg, recovery=tmp_path / "recovery")
    ctl.open(tmp_path / "demo.mp4")
    graph = ctl.graph.copy()                   # RenderDialog.start
    graph.path = ctl.graph.path
    output = str(tmp_path / "demo.mp4")        # RenderDialog.default_output()
    with pytest.raises(AfxError, match="read from|came from"):
        render_graph(graph, RunOptions(output=output, force=True))
    assert (tmp_path / "demo.mp4").read_bytes() == before


def test_the_editor_opens_a_video_whose_subpatch_file_is_beside_it(tmp_path, reg, monkeypatch):
    """`afx validate piece.mp4` finds lib/glow.yaml beside the video; the editor's Open made
    the video's file params absolute but not the subpatch source, which then resolved
    against the current folder (from /: `subpatch file lib/glow.yaml: /usr/lib/glow.yaml: no
    such file`)."""
    from afx_graph.ui.controller import EditorController
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "glow.yaml").write_text(GLOW)
    (tmp_path / "p.yaml").write_text(using("lib/glow.yaml"))
    r = run_afx("run", tmp_path / "p.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert run_afx("validate", tmp_path / "out.mp4", cwd=tmp_path).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ctl = EditorController(reg, recovery=tmp_path / "recovery")
    issues = ctl.open(tmp_path / "out.mp4")
    assert issues == [], [str(i) for i in issues]
