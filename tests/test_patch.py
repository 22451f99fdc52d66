import os
import stat
import time

import pytest

from afx_graph import Graph, PatchError, dumps, load_patch, loads, save_patch
from afx_graph.patchfile.requires import afx_version

PATCH = """\
afx: 1
meta:
  name: Test patch
  author: someone
requires:
  afx: """ + afx_version() + """
settings:
  size: [64, 48]
  fps: 25
  duration: 2.0
nodes:
  clock:
    type: test.clock
  img:
    type: test.image
    params:
      level: 0.25
    inputs:
      level: clock.out
    ui:
      pos: [100, 40]
  sink:
    type: test.sink
    inputs:
      image: img.out
    ui:
      pos: [400, 40]
"""


def test_round_trip_is_byte_identical(tmp_path, registry):
    p = tmp_path / "a.yaml"
    p.write_text(PATCH)
    g = Graph.from_patch(load_patch(p), registry)
    save_patch(g.to_patch(), tmp_path / "b.yaml")
    first = (tmp_path / "b.yaml").read_bytes()
    g2 = Graph.from_patch(load_patch(tmp_path / "b.yaml"), registry)
    save_patch(g2.to_patch(), tmp_path / "c.yaml")
    assert (tmp_path / "c.yaml").read_bytes() == first
    assert first.decode() == PATCH          # our own format comes back exactly
    assert g2.nodes["img"].ui == {"pos": [100, 40]}


def test_save_has_stable_key_order_whatever_the_input_order(registry):
    shuffled = loads("nodes:\n  s: {inputs: {image: i.out}, type: test.sink}\n"
                     "  i: {params: {level: 0.1}, type: test.image}\nsettings: {fps: 10}\nafx: 1\n")
    text = dumps(Graph.from_patch(shuffled, registry).to_patch())
    assert text.index("afx:") < text.index("settings:") < text.index("nodes:")
    assert text.index("type: test.sink") < text.index("inputs:")


def test_python_tags_are_rejected():
    with pytest.raises(PatchError, match="unsupported YAML tag"):
        loads("afx: 1\nnodes: !!python/object/apply:os.system ['echo hacked']\n")


def test_billion_laughs_fails_fast():
    bomb = "afx: 1\n" + "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    t = time.perf_counter()
    with pytest.raises(PatchError, match="alias"):
        loads(bomb)
    assert time.perf_counter() - t < 1.0


def test_few_aliases_that_expand_hugely_are_caught():
    # under the alias cap, but each level multiplies: 10^6 values
    doc = "afx: 1\na: &a [1,2,3,4,5,6,7,8,9,10]\n"
    for i, name in enumerate("bcdef"):
        prev = "abcdef"[i]
        doc += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    with pytest.raises(PatchError, match="alias"):
        loads(doc)


def test_self_referencing_alias_is_rejected():
    with pytest.raises(PatchError, match="self-referencing"):
        loads("afx: 1\nnodes: &n {x: *n}\n")


def test_oversized_file_is_rejected(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("afx: 1\n# " + "x" * (3 * 1024 * 1024) + "\n")
    with pytest.raises(PatchError, match="at most"):
        load_patch(p)


def test_newer_format_is_a_clear_error():
    with pytest.raises(PatchError, match="newer than this afx"):
        loads("afx: 99\nnodes: {}\n")


def test_missing_format_version():
    with pytest.raises(PatchError, match="afx: 1"):
        loads("nodes: {}\n")


def test_format_migration_runs(monkeypatch):
    from afx_graph.patchfile import patch as patch_mod
    monkeypatch.setattr(patch_mod, "FORMAT_VERSION", 2)
    monkeypatch.setitem(patch_mod.FORMAT_MIGRATIONS, 1,
                        lambda d: {**d, "nodes": {k: {**v, "type": v["kind"]} for k, v in d["nodes"].items()}})
    p = loads("afx: 1\nnodes:\n  a: {kind: test.clock}\n")
    assert p.nodes["a"].type == "test.clock"


def test_node_version_migration_and_alias(registry):
    g = Graph.from_patch(loads("afx: 1\nnodes:\n  m: {type: test.legacy, params: {amount: 3}}\n"),
                         registry)
    assert g.validate() == []
    assert g.nodes["m"].params == {"gain": 3}
    text = dumps(g.to_patch())
    assert "version: 2" in text and "gain: 3" in text and "amount" not in text


def test_relative_asset_paths_resolve_against_patch_folder(tmp_path, registry, monkeypatch):
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "song.wav").write_bytes(b"RIFF")
    (folder / "p.yaml").write_text("afx: 1\nnodes:\n  f: {type: test.failing, params: {path: song.wav}}\n")
    monkeypatch.chdir(tmp_path)
    g = Graph.from_patch(load_patch(folder / "p.yaml"), registry)
    assert g.resolved_params("f")["path"] == str(folder / "song.wav")
    assert g.validate() == []


def test_save_is_atomic_and_keeps_old_file_on_failure(tmp_path, registry, monkeypatch):
    target = tmp_path / "p.yaml"
    target.write_text("old contents")
    g = Graph.from_patch(loads(PATCH), registry)
    import afx_graph.patchfile.patch as patch_mod

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(patch_mod.os, "fsync", boom)
    with pytest.raises(OSError):
        save_patch(g.to_patch(), target)
    assert target.read_text() == "old contents"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o664, 0o600])
def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path, registry, mode):
    target = tmp_path / "p.yaml"
    target.write_text("old contents")
    target.chmod(mode)
    save_patch(Graph.from_patch(loads(PATCH), registry).to_patch(), target)
    assert stat.S_IMODE(target.stat().st_mode) == mode and "nodes" in target.read_text()


def test_a_new_patch_file_is_readable_by_others_as_the_umask_allows(tmp_path, registry):
    old = os.umask(0o022)
    try:
        save_patch(Graph.from_patch(loads(PATCH), registry).to_patch(), tmp_path / "new.yaml")
        os.umask(0o027)
        save_patch(Graph.from_patch(loads(PATCH), registry).to_patch(), tmp_path / "new2.yaml")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o644   # was 0600 (mkstemp)
    assert stat.S_IMODE((tmp_path / "new2.yaml").stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.yaml", "new2.yaml"]
