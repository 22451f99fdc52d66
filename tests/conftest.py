import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from afx_graph import Registry

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))


@pytest.fixture
def registry():
    import fixture_pack
    reg = Registry()
    reg.register_all(fixture_pack.NODES, source="fixture")
    return reg


def run_afx(*args, cwd=None, timeout=600):
    """Run the installed CLI as a user would; returns CompletedProcess."""
    exe = shutil.which("afx") or str(Path(sys.executable).parent / "afx")
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)
