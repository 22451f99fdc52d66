"""The example patches ship with the package (afx_graph.examples): `afx examples` lists
them and copies them out, so a pip install without a checkout can render them."""
from pathlib import Path

from afxcli import run_afx

GRAPHS = Path(__file__).resolve().parents[1] / "graphs"


def test_the_examples_are_the_installed_package_data():
    from afx_graph import examples
    assert examples.FOLDER == GRAPHS.resolve()
    assert [p.name for p in examples.patches()] == sorted(p.name for p in GRAPHS.glob("*.yaml"))
    assert examples.find("demo") == examples.find("demo.yaml") == GRAPHS.resolve() / "demo.yaml"


def test_examples_are_listed_and_copied_out_and_render(tmp_path):
    r = run_afx("examples")
    assert r.returncode == 0 and "demo" in r.stdout and "organic_breath" in r.stdout
    r = run_afx("examples", "mine", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for p in GRAPHS.glob("*.yaml"):
        assert (tmp_path / "mine" / p.name).read_bytes() == p.read_bytes()
    assert (tmp_path / "mine" / "looks" / "cells_to_fractal.safetensors").is_file()
    # the copies read what they need beside them: fitted_morph its look file
    r = run_afx("run", tmp_path / "mine" / "fitted_morph.yaml", "--audio", tmp_path / "none.wav",
                cwd=tmp_path)
    assert r.returncode == 2 and "none.wav" in r.stderr and "look" not in r.stderr
    r = run_afx("run", tmp_path / "mine" / "demo.yaml", "-o", "d.mp4", "--size", "32x18",
                "--duration", "0.3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_copying_over_existing_files_is_refused_and_writes_nothing(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "demo.yaml").write_text("my own demo\n")
    r = run_afx("examples", mine)
    assert r.returncode == 2 and r.stderr.count("error:") == 1 and "--force" in r.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["demo.yaml"]
    assert (mine / "demo.yaml").read_text() == "my own demo\n"
    r = run_afx("examples", mine, "--force")
    assert r.returncode == 0 and (mine / "demo.yaml").read_bytes() == (GRAPHS / "demo.yaml").read_bytes()
