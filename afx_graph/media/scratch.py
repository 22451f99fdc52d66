"""Temporary folders of this process that go away however it ends.

:func:`folder` is ``tempfile.TemporaryDirectory`` with one more promise: a signal that comes
while a module is being imported makes afx leave at once with ``os._exit`` (cli.py: raising
there can abort the process inside torch's C++), which skips every ``finally`` and so every
temporary folder's cleanup. The CLI calls :func:`remove_all` just before that exit, so a
Ctrl+C or SIGTERM during a sweep's first cell (whose nodes import their libraries as they
first run) leaves no ``afx-job-*`` folder behind. (Only ``kill -9`` still can.)
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

_LIVE: set[str] = set()


def make(prefix: str, dir: str | Path | None = None) -> Path:
    """A new empty folder (``tempfile.mkdtemp``); the caller removes it with :func:`remove`."""
    path = tempfile.mkdtemp(prefix=prefix, dir=dir)
    _LIVE.add(path)
    return Path(path)


def remove(path: str | Path) -> None:
    """Remove a folder of :func:`make` with what is in it."""
    _LIVE.discard(str(path))
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def folder(prefix: str, dir: str | Path | None = None) -> Iterator[Path]:
    """A new empty folder, removed with what is in it at the end."""
    path = make(prefix, dir)
    try:
        yield path
    finally:
        remove(path)


def remove_all() -> None:
    """Remove every folder of :func:`folder` still in use (from a signal handler, before
    ``os._exit``: nothing is imported, nothing raised)."""
    for path in list(_LIVE):
        shutil.rmtree(path, ignore_errors=True)
        _LIVE.discard(path)
