"""Where files named in a patch live.

* Input assets (audio, images) given relatively resolve against the patch file's folder, so a
  shared folder works wherever it is unpacked.
* Output paths written in a patch must be relative and stay inside the output folder (the
  current directory by default), also once symbolic links are followed: a patch from someone
  else cannot write over ``~/.bashrc``. A path the user types on the command line (``-o``) is
  theirs and may be anything, except a device, a FIFO, or (for frames) a folder that holds
  the user's other files.
* A path typed on the command line for an output (``-o``) is first checked as text, the same
  way for every command (:func:`typed_output`): not empty, not ``-``, no control characters,
  and ``~`` is the home folder.
"""
from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath

from afx_graph.errors import AfxError, escape_controls

# Characters no output name may hold: C0 and C1 controls and DEL (a newline splits a name in
# two in every listing, ESC starts terminal escape sequences), line and paragraph separators,
# and the bidirectional controls that make a name read differently from what it is
# ("a\u202ekp4.mp4" shows as "a4pk.mp4"). Zero-width joiners (emoji) and undecodable bytes of
# an existing folder's name are allowed.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                  "\u2066\u2067\u2068\u2069")


def unsafe_character(text: str) -> str | None:
    """The first character of ``text`` that no output name may hold, or None."""
    if text.isprintable():
        return None
    for ch in text:
        if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            return ch
    return None


def expand_home(text: str, option: str) -> str:
    """``~`` and ``~/...`` as the home folder, ``~user/...`` as that user's; an unknown user
    is refused. Each command does this for its output paths, since a quoted ``'~/x'`` (or
    zsh's ``--output=~/x``) reaches afx as typed: a folder literally named ``~`` is never
    what was meant, and a later ``rm -r ~`` to clean it up is a disaster."""
    if not text.startswith("~"):
        return text
    try:
        path = os.path.expanduser(text)
    except (RuntimeError, KeyError, OSError) as e:       # no HOME and no passwd entry
        raise AfxError(f"{escape_controls(text)}: cannot find the home folder ({e})",
                       field=option) from None
    if path.startswith("~"):
        user = text[1:].split("/", 1)[0]
        raise AfxError(f"{escape_controls(text)}: there is no user '{escape_controls(user)}' "
                       "whose home folder ~ could name; give the folder's path", field=option)
    return path


def typed_output(text: str, option: str = "-o", *, folder: bool | None = None) -> str:
    """An output path typed on the command line, checked as text and with ``~`` expanded
    (:func:`expand_home`); the path on disk is checked later by files.target_problem.

    Refused: an empty or blank path (it would silently mean the default output, or the
    current folder), ``-`` (standard output: afx writes files), control characters (see
    :func:`unsafe_character`), and, where ``folder`` is False (a file is written), a path
    ending in ``/`` (a folder: ``-o newdir/`` once wrote a file named ``newdir``)."""
    if not text.strip():
        raise AfxError("the path is empty" if not text else
                       f"the path '{text}' is only spaces", field=option)
    if text == "-":
        raise AfxError("'-' would be standard output, but afx writes files: give a file "
                       "name (./- for a file named '-')", field=option)
    bad = unsafe_character(text)
    if bad is not None:
        raise AfxError(f"'{escape_controls(text)}' contains a control character "
                       f"({escape_controls(bad)}); afx does not write names with control "
                       "characters in them", field=option)
    path = expand_home(text, option)
    if folder is False and (path.endswith("/") or path.endswith(os.sep)):
        raise AfxError(f"'{escape_controls(text)}' ends in '/', which names a folder, but a "
                       f"file is written here: give its name (for example "
                       f"{escape_controls(path)}NAME)", field=option)
    return path


def resolve_asset(value: str, base_dir: Path) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else (base_dir / p)


def input_problem(path: Path) -> str | None:
    """Why an input file named in a patch cannot be read, or None (checked without opening
    it, so a FIFO or device never blocks validation)."""
    from afx_graph.media.files import what_is

    if "\x00" in str(path):
        return "the path contains a NUL character"
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return f"file not found: {path}"
    except OSError as e:
        return f"cannot read {path}: {e.strerror}"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is {what_is(st)}, not a file"
    return None


def output_path_problem(value: str) -> str | None:
    """Why a patch-written output path is refused, or None if it is acceptable."""
    if not value:
        return "output path is empty"
    if escape_controls(value) != value:
        return (f"'{value}' contains control or invisible characters; a patch's output "
                "names are plain text")
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


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def protected_folders(out_dir: Path, patch_dir: Path | None) -> list[Path]:
    """Folders that must never be a frames folder: the output folder (``.``), the patch's
    folder, the home folder, and every folder above them (``..``)."""
    out = [_real(out_dir), _real(Path.home())]
    if patch_dir is not None:
        out.append(_real(patch_dir))
    return out


def output_problem(value: str, out_dir: Path, *, folder: bool, from_patch: bool,
                   patch_dir: Path | None = None) -> str | None:
    """Why an output path cannot be used, or None. A path from a patch must stay inside the
    output folder once symbolic links are resolved; a frames folder must not be (or contain)
    the output folder, the patch's folder or the home folder; and whatever is on disk there
    must be something afx may write (see files.target_problem)."""
    from afx_graph.media.files import target_problem

    if "\x00" in value:
        return "the path contains a NUL character"
    if from_patch:
        problem = output_path_problem(value)
        if problem:
            return problem
    target = Path(os.path.expanduser(value))
    target = target if target.is_absolute() else out_dir / target
    real = _real(target)
    if from_patch:
        root = _real(out_dir)
        if real != root and root not in real.parents:
            return (f"'{value}' leads outside the output folder through a symbolic link "
                    f"(to {real}); a patch may only write inside it")
    if folder:
        for p in protected_folders(out_dir, patch_dir):
            if real == p or real in p.parents:
                what = ("the output folder" if p == _real(out_dir) else
                        "the home folder" if p == _real(Path.home()) else "the patch's folder")
                rel = "is" if real == p else "contains"
                return (f"'{value}' {rel} {what}; frames go into a folder of their own "
                        "(for example out/frames)")
    target = Path(os.path.abspath(target))
    problem = target_problem(target, folder=folder)
    return f"cannot write {target}: {problem}" if problem else None
