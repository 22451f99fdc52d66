"""Issue 13: subpatches. Grouping changes no frame, ungrouping gives the patch back, a
subpatch file serves two nodes (and edits to it reach both), and what cannot work (a file
that includes itself, an exponential nesting, an error deep inside) is refused by name."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from afx_graph import Graph, default_registry, load_patch
from afx_graph.subpatches import definitions as subpatch
from afx_graph.subpatches import flatten
from afx_graph.subpatches import grouping
from afx_graph.patchfile.patch import dumps
from afx_graph.run.render import RunOptions, render_graph
from afxcli import run_afx
from media import read_video

ROOT = Path(__file__).parents[1]
DEMO = ROOT / "graphs" / "demo.yaml"
RHYTHM = ["beats", "walk", "shift"]


@pytest.fixture(scope="module")
def registry():
    return default_registry()


def frames(patch, registry, out: Path) -> np.ndarray:
    """What `afx run PATCH --size 96x54 --duration 1.5 -o OUT` renders, decoded."""
    g = Graph.from_patch(patch, registry)
    render_graph(g, RunOptions(output=str(out), size=(96, 54), duration=1.5, device="cpu",
                               out_dir=out.parent))
    return read_video(out)["frames"]


def rendered(patch, registry, tmp: Path) -> np.ndarray:
    """The frames `afx run PATCH --size 96x54 --duration 1.5` sends to its encoder (before
    the lossy encoding, which may round two equal renders differently in one process)."""
    from afx_graph.run import chunks
    r = chunks.Renderable(Graph.from_patch(patch, registry),
                          RunOptions(size=(96, 54), duration=1.5, device="cpu", out_dir=tmp))
    return np.concatenate(list(chunks.render_frames(r, 0, r.total)))


def test_grouping_renders_the_same_frames_and_ungrouping_gives_the_patch_back(registry, tmp_path):
    p = load_patch(DEMO)
    grouped, nid = grouping.group(p, RHYTHM, registry, "rhythm")
    g = Graph.from_patch(grouped, registry)
    assert set(RHYTHM).isdisjoint(g.nodes) and g.nodes[nid].type == "subpatch"
    assert set(g.nodes[nid].spec.outputs) == {"latent", "beat", "out"}
    assert g.validate() == []
    a = rendered(p, registry, tmp_path)
    b = rendered(grouped, registry, tmp_path)
    assert a.shape == b.shape and a.shape[0] == 45
    assert np.array_equal(a, b)
    assert a.std() > 5                                   # a picture, not a flat frame
    v = frames(grouped, registry, tmp_path / "grouped.mp4")       # and it renders to a video
    assert v.shape == a.shape and np.abs(v.astype(int) - a.astype(int)).mean() < 20  # 4:2:0 at 96x54
    back, ids = grouping.ungroup(grouped, nid, registry)
    assert sorted(ids) == sorted(RHYTHM)
    assert dumps(back) == dumps(p)                       # the same file, byte for byte


GLOW = """afx: 1
meta: {name: Glow}
expose:
  inputs: {image: [blur.image, mix.b]}
  outputs: {image: mix.out}
  params: {radius: blur.radius}
nodes:
  blur: {type: image.blur, params: {radius: 6.0}}
  mix:
    type: image.blend
    params: {mode: screen}
    inputs: {a: blur.out}
"""

TWICE = """afx: 1
settings: {size: [96, 54], fps: 30, duration: 1.0}
nodes:
  music: {type: audio.synth, params: {tempo: 120, seed: 3}}
  field: {type: cppn, params: {seed: 5}}
  soft:
    type: subpatch
    params: {source: lib/glow.yaml}
    inputs: {image: field.image}
  softer:
    type: subpatch
    params: {source: lib/glow.yaml, radius: 20.0}
    inputs: {image: soft.image}
  video:
    type: output.video
    params: {path: out.mp4}
    inputs: {image: softer.image, audio: music.audio}
"""


def piece(tmp_path: Path, glow: str = GLOW) -> Path:
    (tmp_path / "lib").mkdir(exist_ok=True)
    (tmp_path / "lib" / "glow.yaml").write_text(glow)
    patch = tmp_path / "piece.yaml"
    patch.write_text(TWICE)
    return patch


def test_a_subpatch_file_used_twice_and_edited_once(registry, tmp_path):
    patch = piece(tmp_path)
    g = Graph.from_patch(load_patch(patch), registry)
    assert g.validate() == []
    spec = g.nodes["soft"].spec
    assert set(spec.inputs) == {"image"} and set(spec.outputs) == {"image"}
    assert spec.params["radius"].default == 6.0 and spec.params["radius"].linkable
    flat = flatten.flatten(g)
    assert {"soft/blur", "soft/mix", "softer/blur", "softer/mix"} <= set(flat.nodes)
    assert flat.nodes["softer/blur"].params["radius"] == 20.0        # the node's own value
    assert flat.nodes["soft/blur"].params.get("radius", 6.0) == 6.0
    assert str(flat.link_into("softer/blur", "image")) == "soft/mix.out -> softer/blur.image"
    before = frames(load_patch(patch), registry, tmp_path / "a.mp4")
    (tmp_path / "lib" / "glow.yaml").write_text(GLOW.replace("mode: screen", "mode: multiply"))
    after = frames(load_patch(patch), registry, tmp_path / "b.mp4")
    assert np.abs(before.astype(int) - after.astype(int)).mean() > 2    # both uses changed


def test_a_file_that_includes_itself_is_refused(registry, tmp_path):
    (tmp_path / "a.yaml").write_text(
        "afx: 1\nexpose: {outputs: {image: b.image}}\n"
        "nodes:\n  b: {type: subpatch, params: {source: b.yaml}}\n")
    (tmp_path / "b.yaml").write_text(
        "afx: 1\nexpose: {outputs: {image: a.image}}\n"
        "nodes:\n  a: {type: subpatch, params: {source: a.yaml}}\n")
    patch = tmp_path / "p.yaml"
    patch.write_text("afx: 1\nnodes:\n  x: {type: subpatch, params: {source: a.yaml}}\n"
                     "  video: {type: output.video, params: {path: o.mp4}, inputs: {image: x.image}}\n")
    issues = Graph.from_patch(load_patch(patch), registry).validate()
    assert any("includes itself" in i.message and i.node == "x" for i in issues), issues
    r = run_afx("run", patch, cwd=tmp_path)
    assert r.returncode == 2 and "includes itself" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("error:") >= 1 and not (tmp_path / "o.mp4").exists()


def test_an_inline_definition_that_names_itself_is_refused(registry):
    from afx_graph.patchfile.patch import loads
    p = loads("afx: 1\nsubpatches:\n  loop:\n    expose: {outputs: {image: me.image}}\n"
              "    nodes:\n      me: {type: subpatch, params: {source: '#loop'}}\n"
              "nodes:\n  x: {type: subpatch, params: {source: '#loop'}}\n")
    issues = Graph.from_patch(p, registry).validate()
    assert any("includes itself" in i.message for i in issues), issues


def test_nesting_that_grows_exponentially_is_refused(registry):
    """Each level uses the one below four times: 4^7 nodes would be built (a 'billion
    laughs' made of subpatches) without the limit."""
    from afx_graph.patchfile.patch import loads
    text = "afx: 1\nsubpatches:\n  l0:\n    expose: {outputs: {image: f.image}}\n" \
           "    nodes: {f: {type: cppn}}\n"
    for i in range(1, 8):
        nodes = ", ".join(f"n{k}: {{type: subpatch, params: {{source: '#l{i - 1}'}}}}" for k in range(4))
        text += f"  l{i}:\n    expose: {{outputs: {{image: n0.image}}}}\n    nodes: {{{nodes}}}\n"
    text += "nodes:\n  top: {type: subpatch, params: {source: '#l7'}}\n" \
            "  video: {type: output.video, params: {path: o.mp4}, inputs: {image: top.image}}\n"
    g = Graph.from_patch(loads(text), registry)
    issues = g.validate()
    assert any(f"more than {subpatch.MAX_NODES} nodes" in i.message for i in issues), issues


def test_an_error_inside_is_named_by_its_path(registry, tmp_path):
    patch = piece(tmp_path, GLOW.replace("radius: 6.0", "radius: -3.0"))
    issues = Graph.from_patch(load_patch(patch), registry).validate()
    named = [str(i) for i in issues if i.node == "soft/blur"]
    assert named and "params.radius" in named[0], issues
    r = run_afx("validate", patch, cwd=tmp_path)
    assert r.returncode == 2 and "node 'soft/blur' params.radius" in r.stderr, r.stderr


def test_a_link_across_the_boundary_that_closes_a_loop_is_refused(registry):
    from afx_graph.patchfile.patch import loads
    p = loads("afx: 1\nsubpatches:\n  shape:\n"
              "    expose: {inputs: {x: r.value}, outputs: {y: r.out}}\n"
              "    nodes: {r: {type: math.remap}}\n"
              "nodes:\n  lfo: {type: math.lfo}\n"
              "  s: {type: subpatch, params: {source: '#shape'}, inputs: {x: lfo.out}}\n")
    g = Graph.from_patch(p, registry)
    assert g.validate() == [] or all("output" in i.message for i in g.validate())
    reason = g.check_link("s", "y", "lfo", "rate")       # lfo -> s -> lfo
    assert reason is not None and "cycle" in reason


def test_outputs_stay_outside(registry):
    p = load_patch(DEMO)
    with pytest.raises(subpatch.SubpatchError, match="output"):
        grouping.group(p, ["field", "video"], registry)


def test_pack_carries_a_subpatch_file_and_the_unpacked_piece_runs(registry, tmp_path):
    patch = piece(tmp_path)
    shutil.copy(patch, tmp_path / "keep.yaml")
    r = run_afx("pack", patch, "-o", tmp_path / "piece.afxpack", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "elsewhere"
    r = run_afx("unpack", tmp_path / "piece.afxpack", "-o", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    inside = load_patch(out / "patch.yaml")
    assert "glow" in inside.subpatches                    # the file went in as a definition
    assert inside.nodes["soft"].params["source"] == "#glow"
    r = run_afx("run", out / "patch.yaml", "-o", tmp_path / "again.mp4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert read_video(tmp_path / "again.mp4")["frames"].shape[0] == 30


def test_the_schema_takes_subpatches_and_a_subpatch_file(registry, tmp_path):
    import jsonschema
    import yaml

    from afx_graph.patchfile.schema import patch_schema
    v = jsonschema.Draft202012Validator(patch_schema(registry))
    grouped, nid = grouping.group(load_patch(DEMO), RHYTHM, registry, "rhythm")
    data = yaml.safe_load(dumps(grouped))
    assert not list(v.iter_errors(data))
    assert not list(v.iter_errors(yaml.safe_load(GLOW)))          # no output node: a subpatch file
    data["nodes"][nid]["params"] = {}
    assert list(v.iter_errors(data))                               # a subpatch names its source
    no_output = yaml.safe_load(dumps(grouped))
    del no_output["nodes"]["video"]
    assert list(v.iter_errors(no_output))                          # a patch still needs an output
