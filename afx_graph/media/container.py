"""Opening a media file with PyAV, one way for every reader (the audio nodes, ``afx
analyze``): the checks that need no decoder, opening, decoding frame by frame, and one style
of message for each way that fails ("'song.mp3' is empty (0 bytes)").

Each reader says what it expects (``what``: "audio file", "video file") and how a problem is
raised (``bad``: the audio nodes raise NodeInputError on their ``path`` field, the command
line an AfxError)."""
from __future__ import annotations

import stat
from pathlib import Path
from typing import Callable

import av

from afx_graph.media.files import what_is

AV_ERRORS = (av.error.FFmpegError, OSError, ValueError)
Bad = Callable[[str], Exception]


def checked_file(path, what: str, bad: Bad) -> Path:
    """The file to read, after the checks that need no decoder (given, there, a regular
    file, not empty, readable)."""
    if path is None or not str(path).strip():
        raise bad(f"no {what} given")
    file = Path(path).expanduser()
    try:
        if file.is_dir():
            raise bad(f"'{file}' is a folder, not {_a(what)}")
        if not file.exists():
            raise bad(f"file not found: {file}")
        st = file.stat()
        if not stat.S_ISREG(st.st_mode):
            raise bad(f"'{file}' is {what_is(st)}, not {_a(what)}")
        if st.st_size == 0:
            raise bad(f"'{file.name}' is empty (0 bytes)")
    except (OSError, ValueError) as e:      # ValueError: a NUL byte in the name
        raise bad(f"cannot read '{file.name}': {getattr(e, 'strerror', None) or e}") from None
    return file


def open_container(file: Path, what: str, bad: Bad):
    """``av.open`` of a checked file; what ffmpeg cannot open becomes a plain message."""
    try:
        return av.open(str(file), metadata_errors="replace")
    except AV_ERRORS as e:
        raise unreadable(file, e, what, bad) from None


def unreadable(file: Path, e: Exception, what: str, bad: Bad) -> Exception:
    """A plain message for a file ffmpeg could not open."""
    name = file.name
    if isinstance(e, FileNotFoundError):
        return bad(f"file not found: {file}")
    if isinstance(e, PermissionError):
        return bad(f"cannot read '{name}': permission denied")
    if isinstance(e, EOFError):
        return bad(f"'{name}' is truncated or damaged (it ends too early)")
    if isinstance(e, av.error.InvalidDataError):
        return bad(f"'{name}' is not {_a(what)} that can be read "
                   "(unknown format, or the file is damaged)")
    return bad(f"cannot read '{name}': {getattr(e, 'strerror', None) or e}")


def damaged(file: Path, seconds: float, e: Exception, bad: Bad) -> Exception:
    """Decoding failed ``seconds`` into the file."""
    reason = getattr(e, "strerror", None) or str(e)
    where = f" after {seconds:.1f} s" if seconds > 0 else ""
    return bad(f"'{file.name}' is damaged or truncated: decoding failed{where} ({reason})")


def decoded(container, stream, file: Path, bad: Bad):
    """The decoded frames of ``stream``; a decoding failure is raised through ``bad``, with
    how far decoding got."""
    frames = container.decode(stream)
    at = 0.0
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except AV_ERRORS as e:
            raise damaged(file, at, e, bad) from None
        at = float(frame.time or at)
        yield frame


def _a(what: str) -> str:
    return ("an " if what[0] in "aeiou" else "a ") + what
