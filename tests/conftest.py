import os
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


def afx_exe() -> str:
    return shutil.which("afx") or str(Path(sys.executable).parent / "afx")


def run_afx(*args, cwd=None, timeout=600, env=None, **kw):
    """Run the installed CLI as a user would; returns CompletedProcess. ``env`` entries are
    added to this process's environment."""
    full_env = None if env is None else {**os.environ, **{k: str(v) for k, v in env.items()}}
    return subprocess.run([afx_exe(), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=full_env, **kw)
