"""Fixtures of the editor's tests: controllers on temporary recovery folders, the demo patch,
media made at run time, and (for the window tests) a private Xvfb display."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "graphs" / "demo.yaml"


@pytest.fixture(autouse=True)
def _recovery_env(tmp_path, monkeypatch):
    """Nothing a test does may touch ~/.cache/afx/recovery."""
    monkeypatch.setenv("AFX_RECOVERY_DIR", str(tmp_path / "recovery"))


@pytest.fixture
def demo() -> Path:
    return DEMO


@pytest.fixture
def controller(tmp_path):
    from afx_graph.ui.controller import EditorController
    return EditorController(recovery=tmp_path / "recovery")


@pytest.fixture
def not_audio(tmp_path) -> Path:
    """A file with an audio extension that is not audio."""
    p = tmp_path / "not_audio.mp3"
    p.write_text("this is text, not sound\n" * 20)
    return p


class Xvfb:
    """A virtual X display on a free display number (Xvfb picks it: -displayfd)."""

    def __init__(self, size="1920x1080x24"):
        exe = shutil.which("Xvfb")
        if exe is None:
            pytest.fail("Xvfb is not installed: the editor's window tests need a virtual display "
                        "(apt-get install xvfb; CI installs it)", pytrace=False)
        r, w = os.pipe()
        self.proc = subprocess.Popen([exe, "-displayfd", str(w), "-screen", "0", size, "-nolisten", "tcp"],
                                     pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(w)
        number = b""
        end = time.monotonic() + 20
        with os.fdopen(r, "rb") as f:
            while time.monotonic() < end and not number.endswith(b"\n"):
                ch = f.read(1)
                if not ch:
                    break
                number += ch
        if not number.strip():
            self.stop()
            pytest.fail("Xvfb did not start (no display number reported)", pytrace=False)
        self.display = f":{int(number)}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def xvfb():
    x = Xvfb()
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = x.display
    yield x
    x.stop()
    if old is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = old


@pytest.fixture(scope="session")
def app(xvfb, tmp_path_factory):
    """One editor window for every window test (one Dear PyGui context per process)."""
    from afx_graph.ui.app import EditorApp
    rec = tmp_path_factory.mktemp("recovery")
    a = EditorApp(None, recovery=rec, audio=False, preview_size=64, device="cpu",
                  offer_recovery=False, width=1680, height=960)
    a.build()
    yield a
    errors = list(a.callback_errors)
    worker_exc = a.worker.exception
    a.shutdown()
    assert not errors, errors[0]
    assert worker_exc is None


@pytest.fixture
def demo_app(app, demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert app.open(demo)
    app.worker.pause()
    app.worker.seek(0.0)
    app.select([])
    app.step(3)
    return app
