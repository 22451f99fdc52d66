import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # numba (librosa's beat tracker) writes its compiled cache beside librosa's files; two
    # test workers compiling it at once on a fresh venv crashed one of them (a segfault in
    # beat_track, seen on a fresh clone): each worker keeps a cache of its own. Set before
    # anything imports librosa.
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(
        tempfile.gettempdir(), f"afx-tests-numba-{os.environ['PYTEST_XDIST_WORKER']}"))

import pytest

if os.environ.get("AFX_TEST_CHILDREN"):
    # AFX_TEST_CHILDREN=FILE: every process a test starts is counted, one line each in FILE
    # (how many child processes the suite pays for; each afx costs ~2.7 s of imports)
    def _count_children(event, args, _file=os.environ["AFX_TEST_CHILDREN"]):
        if event == "subprocess.Popen":
            with open(_file, "a") as f:
                f.write(f"{os.path.basename(str(args[0]))}\n")
    sys.addaudithook(_count_children)

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one torch thread per test worker (pytest-xdist runs one worker per core): workers that
    # each took every core would fight for them; child processes inherit the limit
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    torch.set_num_threads(1)

from afx_graph import Registry

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))

import livesound  # noqa: E402 (a test helper module, found through the line above)


@pytest.fixture
def registry():
    import fixture_pack
    reg = Registry()
    reg.register_all(fixture_pack.NODES, source="fixture")
    return reg



@pytest.fixture(scope="session")
def local_ray():
    """One local Ray for the tests that use it (marked xdist_group("ray"), so one worker runs
    them all): Ray's start and its workers' imports are paid once, not once per test file."""
    ray = pytest.importorskip("ray")   # the cluster extra: make test installs it
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    yield ray
    ray.shutdown()


# `make check` (the quick tier) leaves out tests marked slow: the editor's window tests and
# the files whose tests render whole examples, fit looks or start Ray (each over ~20 s of
# work in the full suite on the 2-core machine; `pytest --durations=0` shows the rest).
SLOW_FILES = {
    "test_validate_hostile.py", "test_sweep_hostile.py", "test_sweep.py", "test_patch_hostile.py",
    "test_chunks.py", "test_signals.py", "test_cli_engine.py", "test_cli_hostile.py",
    "test_fuzz.py", "test_batch.py", "test_run.py", "test_output_safety.py",
    "test_examples_follow_music.py", "test_sharing_hostile.py", "test_fit.py", "test_requires.py",
    "test_imports.py", "test_embeddings.py", "test_analyze.py", "test_graphs.py",
    "test_live.py", "test_capture.py", "test_preview_live.py",   # real time: sound for seconds
}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: left out of `make check` (the quick tier)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath))
        if "ui" in path.parent.parts[-1:]:
            # the editor's tests share one Dear PyGui context per process: one worker runs
            # them all, in file order, as a single process would
            item.add_marker(pytest.mark.xdist_group("ui"))
        if "ui" in path.parent.parts[-1:] or path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


# -- live sound: one PulseAudio null sink per worker (tests/livesound.py) ------------------------
@pytest.fixture(scope="session")
def pulse_server():
    """One PulseAudio server per test worker (starting one and warming it up costs ~2.6 s);
    the live tests share an xdist group, so they run on one worker, one after another."""
    if shutil.which("pulseaudio") is None:
        pytest.fail("pulseaudio is not installed (.ci/run installs it: apt-get install "
                    "pulseaudio alsa-utils libasound2-plugins)")
    with pytest.MonkeyPatch.context() as m:     # the server's start sets them for its
        m.delenv("HOME", raising=False)         # clients; each test sets them (`pulse`)
        m.delenv("XDG_RUNTIME_DIR", raising=False)
        server = livesound.Pulse().start()
    yield server
    server.stop()


@pytest.fixture
def pulse(pulse_server, monkeypatch):
    """The shared server, reached by this test's PortAudio (the environment the ALSA pulse
    plugin reads is set for this test only); its sink running and no player left after."""
    assert pulse_server.proc is not None and pulse_server.proc.poll() is None, \
        "the PulseAudio server of this worker died"
    monkeypatch.setenv("XDG_RUNTIME_DIR", pulse_server.runtime)
    monkeypatch.setenv("HOME", pulse_server.home)
    livesound.refresh()
    yield pulse_server
    livesound.stop_players()
    subprocess.run(["pactl", "suspend-sink", "afx_null", "0"], capture_output=True, timeout=10)
