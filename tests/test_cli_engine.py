"""`afx validate`, `afx nodes`, `afx schema` as a user runs them."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from afxcli import run_afx

TESTS = Path(__file__).parent
ROOT = TESTS.parent

GOOD = """\
afx: 1
settings: {size: [64, 48], fps: 10, duration: 1}
nodes:
  clock: {type: test.clock}
  img: {type: test.image, inputs: {level: clock.out}}
  sink: {type: test.sink, inputs: {image: img.out}}
"""

BROKEN = """\
afx: 1
settings: {size: [100000, 100000], fps: 10}
nodes:
  img: {type: test.imag}
  sink: {type: test.sink, inputs: {image: img.out}}
  other: {type: test.image, params: {level: 3, colour: red}}
"""


def install_fixture_pack(site: Path) -> Path:
    """A dist-info folder that declares the fixture pack under afx's entry-point group."""
    dist = site / "afx_fixture-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: afx-fixture\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[afx.nodes]\nfixture = fixture_pack\n")
    return site


@pytest.fixture
def afx(tmp_path, monkeypatch):
    """Run afx (in this process) with the fixture pack installed as an entry point: found on
    sys.path the way an installed package is, and the node registry built again for it."""
    import importlib

    from afx_graph.registry import default_registry
    monkeypatch.syspath_prepend(str(install_fixture_pack(tmp_path / "site")))
    importlib.invalidate_caches()
    default_registry.cache_clear()
    yield lambda *args: run_afx(*args, cwd=tmp_path)
    monkeypatch.undo()                         # the pack off sys.path before the next registry
    importlib.invalidate_caches()
    default_registry.cache_clear()


def test_an_installed_node_pack_is_found_by_a_fresh_process(tmp_path):
    """The entry point itself, as a user's pip-installed pack is found: in a new process."""
    site = install_fixture_pack(tmp_path / "site")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(TESTS)]))
    r = subprocess.run([sys.executable, "-m", "afx_graph.cli", "nodes", "test.image"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "level" in r.stdout and "(linkable)" in r.stdout


def test_validate_good_patch(afx, tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    r = afx("validate", "good.yaml")
    assert r.returncode == 0, r.stderr
    assert "ok: good.yaml (3 nodes, 2 links)" in r.stdout


def test_validate_lists_every_error(afx, tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(BROKEN)
    r = afx("validate", "good.yaml", "bad.yaml")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert "bad.yaml: settings.size: 100000x100000 is too large" in lines[0]
    joined = "\n".join(lines)
    assert "error: bad.yaml: node 'img' type: unknown node type 'test.imag' (did you mean 'test.image'?)" in joined
    assert "error: bad.yaml: node 'other' params.level: 3 is above the maximum 1" in joined
    assert "error: bad.yaml: node 'other' params.colour: unknown param" in joined
    assert lines[-1] == "1 of 2 patches invalid"
    assert "Traceback" not in r.stderr


def test_validate_yaml_garbage_and_missing_file(afx, tmp_path):
    (tmp_path / "junk.yaml").write_text("afx: 1\nnodes: [unclosed\n")
    r = afx("validate", "junk.yaml", "missing.yaml")
    assert r.returncode == 2
    assert "error: junk.yaml: not valid YAML at line" in r.stderr
    assert "error: missing.yaml: no such file" in r.stderr
    assert "Traceback" not in r.stderr


def test_nodes_lists_and_describes(afx):
    r = afx("nodes")
    assert r.returncode == 0
    assert "Test:" in r.stdout and "test.image" in r.stdout
    r = afx("nodes", "test.image")
    assert "level" in r.stdout and "[0..1]" in r.stdout and "(linkable)" in r.stdout
    r = afx("nodes", "--json", "test.image")
    d = json.loads(r.stdout)
    assert d["params"]["level"]["max"] == 1.0 and d["outputs"]["out"]["type"] == "image"
    r = afx("nodes", "test.imag")
    assert r.returncode == 2 and "did you mean 'test.image'" in r.stderr


def test_schema_is_json_schema_of_the_registry(afx):
    r = afx("schema")
    assert r.returncode == 0
    s = json.loads(r.stdout)
    assert s["properties"]["afx"]["const"] == 1
    node = s["else"]["properties"]["nodes"]["additionalProperties"]     # a patch (not a subpatch file)
    assert "test.image" in node["properties"]["type"]["enum"]
    rule = next(r for r in node["allOf"] if r["if"]["properties"]["type"]["enum"][0] == "test.image")
    assert rule["then"]["properties"]["params"]["properties"]["level"]["maximum"] == 1.0


def test_bad_arguments_exit_2(afx):
    r = afx("frobnicate")
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_validate_with_audio_checks_a_patch_as_run_with_audio_would(tmp_path):
    """graphs/cppn_audio_file.yaml names song.mp3, which the repository does not ship."""
    from media import beat_track, write_wav
    patch = ROOT / "graphs" / "cppn_audio_file.yaml"
    r = run_afx("validate", patch, cwd=tmp_path)
    assert r.returncode == 2 and "song.mp3" in r.stderr
    song = write_wav(tmp_path / "song.wav", beat_track(1.0), 22050)
    r = run_afx("validate", patch, ROOT / "graphs" / "demo.yaml", "--audio", song, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok: ") == 2
    r = run_afx("validate", patch, "--audio", tmp_path / "missing.wav", cwd=tmp_path)
    assert r.returncode == 2 and "no such audio file" in r.stderr and "Traceback" not in r.stderr


def test_debug_is_taken_after_the_command_too(afx, tmp_path):
    """The hint says 'run with --debug': `afx validate X --debug` works like `afx --debug validate X`."""
    r = afx("validate", str(tmp_path / "nope.yaml"), "--debug")
    assert r.returncode == 2 and "no such file" in r.stderr
    assert "unrecognized arguments" not in r.stderr
