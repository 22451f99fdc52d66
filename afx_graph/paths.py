"""Where files named in a patch live.

* Input assets (audio, images) given relatively resolve against the patch file's folder, so a
  shared folder works wherever it is unpacked.
* Output paths written in a patch must be relative and stay inside the output folder (the
  current directory by default): a patch from someone else cannot write over ``~/.bashrc``.
  A path the user types on the command line (``-o``) is theirs and may be anything.
"""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath


def resolve_asset(value: str, base_dir: Path) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else (base_dir / p)


def output_path_problem(value: str) -> str | None:
    """Why a patch-written output path is refused, or None if it is acceptable."""
    if not value:
        return "output path is empty"
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute() \
            or PureWindowsPath(value).drive or value.startswith("~"):
        return (f"'{value}' is absolute; a patch may only write inside the output folder "
                "(use a relative path, or -o on the command line)")
    depth = 0
    for part in PurePosixPath(value.replace("\\", "/")).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return f"'{value}' leaves the output folder; a patch may only write inside it"
    return None


def resolve_output(value: str, out_dir: Path) -> Path:
    return out_dir / value
