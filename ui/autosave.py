"""Autosave files: unsaved work written every few seconds to a private recovery folder, and
offered back when an editor that did not save (a crash, a power cut, kill -9) left some.

One file per editor session and patch (two editors on the same patch never overwrite each
other's work); a header line says which patch it was, which process wrote it and when.
The :class:`~afx_graph.ui.controller.EditorController` decides when to write (its dirty
flag, its clock); this module knows the files."""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from afx_graph import PatchError
from afx_graph.media.files import pid_alive
from afx_graph.media.files import write_file
from afx_graph.patchfile.patch import loads

AUTOSAVE_SECONDS = 30.0
RECOVERY_ENV = "AFX_RECOVERY_DIR"
RECOVERY_HEADER = "# afx-recovery "


def recovery_dir() -> Path:
    """Where autosaves go: $AFX_RECOVERY_DIR, else ~/.cache/afx/recovery."""
    env = os.environ.get(RECOVERY_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "afx" / "recovery"


@dataclass
class Recovery:
    """An autosave left behind by an editor that did not save (a crash, a power cut)."""
    file: Path                  # the recovery file
    path: Path | None           # the patch it was editing (None: never saved)
    saved: float                # when it was written (epoch seconds)
    nodes: int

    @property
    def name(self) -> str:
        return self.path.name if self.path else "untitled"

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved))
        where = str(self.path) if self.path else "a new, never saved patch"
        return f"{where} ({self.nodes} nodes, autosaved {when})"


class RecoveryFolder:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.session = hashlib.sha1(f"{os.getpid()}-{time.time()}".encode()).hexdigest()[:8]

    def file_for(self, path: Path | None) -> Path:
        """This session's autosave of the patch at ``path`` (None: untitled)."""
        digest = hashlib.sha1(f"{path}-{self.session}".encode()).hexdigest()[:10]
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", path.stem if path else "untitled")
        return self.folder / f"{stem}-{digest}.yaml"

    def write(self, path: Path | None, text: str) -> Path:
        header = {"path": str(path) if path else None, "pid": os.getpid(), "time": time.time()}
        f = self.file_for(path)
        data = RECOVERY_HEADER + json.dumps(header) + "\n" + text
        write_file(f, data.encode("utf-8"), overwrite=True, private=True)   # stays private
        return f

    def left_behind(self) -> list[Recovery]:
        """Autosaves left by editors that are no longer running, newest first."""
        out = []
        if not self.folder.is_dir():
            return out
        for f in sorted(self.folder.glob("*.yaml")):
            rec = read(f)
            if rec is None:
                continue
            pid = rec[1].get("pid")
            if isinstance(pid, int) and pid != os.getpid() and pid_alive(pid):
                continue          # another editor still working on it
            out.append(rec[0])
        return sorted(out, key=lambda r: -r.saved)


def read(f: Path) -> tuple[Recovery, dict] | None:
    """A recovery file and its header; None for one that cannot be read."""
    try:
        text = f.read_text("utf-8")
        first = text.split("\n", 1)[0]
        header = json.loads(first[len(RECOVERY_HEADER):]) if first.startswith(RECOVERY_HEADER) else {}
        patch = loads(text)
    except (OSError, UnicodeDecodeError, ValueError, PatchError):
        return None
    path = Path(header["path"]) if header.get("path") else None
    saved = header.get("time") or f.stat().st_mtime
    return Recovery(f, path, float(saved), len(patch.nodes)), header


def remove(f: Path | None) -> None:
    """Remove a recovery file; one already gone, or that cannot go, is left be."""
    if f is None:
        return
    try:
        f.unlink()
    except OSError:
        pass
