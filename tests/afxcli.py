"""Calling the ``afx`` command line from tests.

``run_afx`` calls ``afx_graph.cli.main(argv)`` in this process, with the working folder, the
environment, standard input and both output streams (Python's and the C libraries' file
descriptors 1 and 2) set for the call and restored after it, and returns what a child process
would: a ``CompletedProcess`` with ``returncode``, ``stdout`` and ``stderr``. A child process
costs ~2.7 s of imports (torch, librosa, scipy); a call in this process costs nothing extra.

``run_afx_process`` starts the installed ``afx`` as a real child process. Use it where the
process is the subject: signals, the import guard, peak memory, hang guards (a ``timeout``),
two renders racing, the entry point itself, or an environment read when Python starts
(``PYTHONPATH``).
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

# environment variables read when Python or a package starts: a call in this process would
# not see them changed
_STARTUP_ENV = ("PYTHONPATH", "PYTHONHOME", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "LD_PRELOAD")


def afx_exe() -> str:
    return shutil.which("afx") or str(Path(sys.executable).parent / "afx")


def run_afx_process(*args, cwd=None, timeout=600, env=None, **kw) -> subprocess.CompletedProcess:
    """Run the installed CLI in a child process, as a user would. ``env`` entries are added
    to this process's environment."""
    full_env = None if env is None else {**os.environ, **{k: str(v) for k, v in env.items()}}
    return subprocess.run([afx_exe(), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=full_env, **kw)


def run_afx(*args, cwd=None, env=None, input: str | None = None, timeout=None,
            **kw) -> subprocess.CompletedProcess:
    """Run ``afx ARGS`` in this process (see the module's docstring). Arguments a child
    process alone can honour (``timeout``, an ``env`` read at start-up, other ``subprocess``
    options) send the call to :func:`run_afx_process`."""
    if kw or timeout is not None or (env and any(k in _STARTUP_ENV for k in env)):
        return run_afx_process(*args, cwd=cwd, env=env, input=input,
                               timeout=timeout or 600, **kw)
    from afx_graph.cli import main

    argv = [str(a) for a in args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        with _environment(env), _folder(cwd), _streams(out, err, input), _warnings_shown():
            try:
                code = main(argv)
            except SystemExit as e:             # argparse's --help and --version
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        return subprocess.CompletedProcess(["afx", *argv], code, _text(out), _text(err))


def _text(f) -> str:
    f.seek(0)
    return f.read().decode("utf-8", errors="replace")


@contextlib.contextmanager
def _environment(env):
    if not env:
        yield
        return
    old = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _folder(cwd):
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _streams(out, err, text_in):
    """Python's sys.stdout/stderr and file descriptors 1 and 2 (what PyAV's FFmpeg and
    torch's C++ write to) into ``out`` and ``err``; standard input from ``text_in``."""
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    py = sys.stdout, sys.stderr, sys.stdin
    for s in py[:2]:
        s.flush()
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    sys.stdout = io.TextIOWrapper(open(os.dup(out.fileno()), "wb"), encoding="utf-8",
                                  write_through=True)
    sys.stderr = io.TextIOWrapper(open(os.dup(err.fileno()), "wb"), encoding="utf-8",
                                  write_through=True)
    sys.stdin = io.StringIO(text_in or "")
    try:
        yield
    finally:
        for s in (sys.stdout, sys.stderr):
            s.flush()
            s.close()
        sys.stdout, sys.stderr, sys.stdin = py
        for fd, keep in saved.items():
            os.dup2(keep, fd)
            os.close(keep)


@contextlib.contextmanager
def _warnings_shown():
    """Python warnings printed to stderr as a child process would print them (pytest
    otherwise records them), each time, not once per place."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: \
            sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))
        yield


def bad_input(r, *words):
    """The CLI's answer to bad input: exit 2, an `error:` first line, no internal error."""
    first = r.stderr.splitlines()[0] if r.stderr else ""
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert first.startswith("error:"), r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    for w in words:
        assert w in first, (w, first)
    return first


# a small valid patch (coords -> cppn -> video) for tests that break one part of it
SMALL_PATCH = {
    "afx": 1,
    "settings": {"size": [64, 36], "fps": 10, "duration": 1},
    "nodes": {
        "c": {"type": "field.coords"},
        # written at cppn's current version: params of an older one are checked after migration
        "f": {"type": "cppn", "version": 2, "params": {"hidden": 8}, "inputs": {"coords": "c.coords"}},
        "v": {"type": "output.video", "params": {"path": "out.mp4"}, "inputs": {"image": "f.image"}},
    },
}
