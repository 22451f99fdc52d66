import os
import sys
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one torch thread per test worker (pytest-xdist runs one worker per core): workers that
    # each took every core would fight for them; child processes inherit the limit
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    torch.set_num_threads(1)

from afx_graph import Registry

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))


@pytest.fixture
def registry():
    import fixture_pack
    reg = Registry()
    reg.register_all(fixture_pack.NODES, source="fixture")
    return reg

