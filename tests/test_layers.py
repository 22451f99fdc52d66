"""The import contract (pyproject.toml, [tool.importlinter]) holds, checked by import-linter.

import-linter reads the package from the file system, where nodes/ and ui/ sit beside
afx_graph/ and are only mapped to afx_graph.nodes and afx_graph.ui when installed. So the test
lays the installed layout out as links in a temporary folder and checks that."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"
MAPPED = {"nodes": "nodes", "ui": "ui", "examples": "graphs"}     # afx_graph.<key> = <folder>


def installed_layout(folder: Path, *, copy: tuple[str, ...] = ()) -> Path:
    """afx_graph as installed, as links to the checkout's files (``copy``: those as copies,
    to be edited by the test)."""
    pkg = folder / "afx_graph"
    _mirror(ROOT / "afx_graph", pkg, copy)
    for name, source in MAPPED.items():
        (pkg / name).symlink_to(ROOT / source)
    return folder


def _mirror(source: Path, target: Path, copy: tuple[str, ...], prefix: str = "") -> None:
    """``target`` as links to ``source``'s files; a sub-folder holding a file to copy is
    made for real, its other files linked."""
    target.mkdir(parents=True)
    for entry in source.iterdir():
        name = prefix + entry.name
        if entry.name == "__pycache__":
            continue
        if name in copy:
            shutil.copy(entry, target / entry.name)
        elif entry.is_dir() and any(c.startswith(name + "/") for c in copy):
            _mirror(entry, target / entry.name, copy, name + "/")
        else:
            (target / entry.name).symlink_to(entry)


def lint(folder: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    return subprocess.run([exe, str(CONFIG)], cwd=folder, capture_output=True, text=True,
                          timeout=300)


def test_the_import_contract_holds(tmp_path):
    r = lint(installed_layout(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("run/drive.py", "from afx_graph.commands import run as _run",
     "Only the CLI imports the commands"),
    ("engine/executor.py", "from afx_graph.nodes.outputs import VideoOut",
     "Nobody imports a node module"),
    ("graph.py", "import afx_graph.ui.app", "Only afx edit and afx live import the editor"),
    ("settings.py", "from afx_graph.engine import executor", "The node API"),
    ("patchfile/patch.py", "from afx_graph.sharing import bundle", "The engine's layers"),
    ("graph.py", "from afx_graph.subpatches import grouping", "The engine's layers"),
    ("media/files.py", "from afx_graph.media import paths", "No import cycles"),
])
def test_an_engine_module_importing_the_wrong_way_breaks_it(tmp_path, module, line, broken):
    layout = installed_layout(tmp_path, copy=(module,))
    path = layout / "afx_graph" / module
    path.write_text(path.read_text() + f"\n{line}\n")
    r = lint(layout)
    assert r.returncode != 0, r.stdout
    assert broken in r.stdout.replace("\n", " ")
