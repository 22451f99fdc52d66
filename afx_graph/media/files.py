"""Writing outputs without losing anything of the user's (DESIGN.md sections 7 and 11).

An output is written under a temporary ``.NAME.partial-PID`` name beside its target and put in
place at the end. Without ``--force`` it is put in place with an exclusive operation (a hard
link, which fails if the name exists), so the no-overwrite rule holds at that moment and not
only when the render started. Only regular files are ever replaced; a frames folder is replaced
only when it holds nothing but numbered frames. Partial files of processes that died (SIGKILL,
a power cut) are recognised by their PID and removed by the next render to the same target.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import stat
from pathlib import Path

from afx_graph.errors import NodeInputError

# errno values that describe the user's machine (disk, permissions, names), not a bug of ours
ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.EFBIG: "the file is larger than this system allows",
    errno.EIO: "input/output error on the device",
    errno.ENOENT: "a folder on the way does not exist",
    errno.EEXIST: "it already exists",
    errno.ENOTEMPTY: "the folder is not empty",
    errno.EXDEV: "it is on another file system",
    errno.EMFILE: "too many open files",
    errno.ENXIO: "no such device",
    errno.ELOOP: "too many symbolic links",
}

FRAME_NAME = re.compile(r"^frame_\d{6}\.png$")
_PARTIAL = re.compile(r"^\.(?P<name>.*)\.partial-(?P<pid>\d+)$")
NAME_MAX = 255


def environment_reason(e: BaseException) -> str | None:
    """A plain reason for an OSError caused by the machine (full disk, read-only folder...)."""
    code = getattr(e, "errno", None)
    if isinstance(e, OSError) and code in ENVIRONMENT_ERRNOS:
        return ENVIRONMENT_ERRNOS[code]
    return None


def what_is(st: os.stat_result) -> str:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a regular file" if stat.S_ISREG(mode) else "a special file"


def target_problem(path: Path, *, folder: bool) -> str | None:
    """Why ``path`` (absolute) cannot be written as an output, from what is on disk now:
    a device or FIFO, a folder where a file goes (or the reverse), a file on the way, a name
    too long. None when it can be written (existing or not)."""
    text = str(path)
    if "\x00" in text:
        return "the path contains a NUL character"
    if len(os.fsencode(path.name)) > NAME_MAX:
        return f"the file name is too long ({len(os.fsencode(path.name))} bytes; at most {NAME_MAX})"
    if os.path.islink(path):
        return (f"it is a symbolic link (to {os.readlink(path)}); afx neither writes through "
                "nor replaces a link: give the path it points to")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        st = None
    except OSError as e:
        return f"cannot use it: {environment_reason(e) or e.strerror}"
    if st is not None:
        if folder and not stat.S_ISDIR(st.st_mode):
            return f"it is {what_is(st)}, not a folder for frames"
        if not folder and stat.S_ISDIR(st.st_mode):
            return "it is a folder; give a file name (for example .../video.mp4)"
        if not stat.S_ISDIR(st.st_mode) and not stat.S_ISREG(st.st_mode):
            return f"it is {what_is(st)}; afx only writes regular files and never replaces one"
    for parent in path.parents:       # the nearest existing folder on the way must be a
        try:                          # folder we may write in (the partial file goes there)
            pst = os.stat(parent)
        except (FileNotFoundError, NotADirectoryError):
            if os.path.islink(parent):      # a link to nothing: no folder can be made there
                return (f"'{parent}' is a symbolic link to '{os.readlink(parent)}', which "
                        "does not exist")
            continue
        except OSError as e:
            return f"cannot use '{parent}': {environment_reason(e) or e.strerror}"
        if not stat.S_ISDIR(pst.st_mode):
            return f"'{parent}' is {what_is(pst)}, so nothing can be written under it"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"the folder '{parent}' is read-only or not writable"
        break
    return None


def check_target(path: Path, *, overwrite: bool, folder: bool = False) -> None:
    """Refuse, before any work, an output that cannot or must not be written."""
    problem = target_problem(path, folder=folder)
    if problem:
        raise NodeInputError(f"cannot write {path}: {problem}", field="path")
    if not path.exists():
        return
    if not overwrite:
        raise NodeInputError(f"{path} already exists (use --force to overwrite it)", field="path")
    if folder:
        stranger = foreign_entry(path)
        if stranger is not None:
            raise NodeInputError(
                f"{path} holds '{stranger}', which afx did not write; a frames folder is only "
                "replaced when it holds nothing but frame_NNNNNN.png files", field="path")


def foreign_entry(folder: Path) -> str | None:
    """The name of something in ``folder`` that is not one of our numbered frames, or None."""
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if not (FRAME_NAME.match(entry.name) and entry.is_file(follow_symlinks=False)):
                    return entry.name
    except OSError as e:
        return f"(unreadable: {environment_reason(e) or e.strerror})"
    return None


def partial_path(path: Path) -> Path:
    """``.NAME.partial-PID`` beside ``path``; a long name is shortened so the temporary name
    fits where the final one does."""
    name = path.name
    tail = f".partial-{os.getpid()}"
    if len(os.fsencode(f".{name}{tail}")) > NAME_MAX:
        digest = hashlib.sha1(os.fsencode(name)).hexdigest()[:16]
        name = f"{digest}{path.suffix[:16]}"
    return path.with_name(f".{name}{tail}")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine); when unsure, yes."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:                 # EPERM: someone else's process
        return True
    return True


def remove_stale_partials(path: Path) -> list[Path]:
    """Remove partial outputs for ``path`` left by processes that no longer run (after a
    SIGKILL); a partial frames folder is removed only if it holds nothing but frames."""
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    stems = {path.name}
    shortened = partial_path(path).name.rsplit(".partial-", 1)[0][1:]
    stems.add(shortened)
    for entry in entries:
        m = _PARTIAL.match(entry.name)
        if not m or m.group("name") not in stems or pid_alive(int(m.group("pid"))):
            continue
        p = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                if foreign_entry(p) is None:
                    shutil.rmtree(p)
                    removed.append(p)
            elif entry.is_file(follow_symlinks=False) and _looks_written_by_us(p):
                p.unlink()
                removed.append(p)
        except OSError:
            pass
    return removed


# how the files our outputs write begin (MP4: a box size, then "ftyp"; PNG)
_SIGNATURES = ((4, b"ftyp"), (0, b"\x89PNG"))


def _looks_written_by_us(path: Path) -> bool:
    """An empty file (killed right after creating it) or one that starts like our outputs."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return not head or any(head[at:at + len(sig)] == sig for at, sig in _SIGNATURES)


def make_folders(folder: Path) -> list[Path]:
    """``mkdir -p``, returning the folders it created (deepest last), so a failed render can
    remove exactly those again."""
    missing = []
    p = folder
    while not os.path.lexists(p):
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d)
        except FileExistsError:
            pass
    return list(reversed(missing))


def remove_created_folders(created: list[Path]) -> None:
    """Remove the folders ``make_folders`` created, deepest first, where they are empty."""
    for d in reversed(created):
        try:
            os.rmdir(d)
        except OSError:
            break


def commit_file(tmp: Path, final: Path, *, overwrite: bool) -> None:
    """Put a finished temporary file in place. Without ``overwrite`` this is exclusive:
    if ``final`` appeared meanwhile (another render), nothing is replaced."""
    if overwrite:
        problem = target_problem(final, folder=False)
        if problem:
            raise NodeInputError(f"cannot write {final}: {problem}", field="path")
        os.replace(tmp, final)
        return
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise NodeInputError(f"{final} appeared while rendering (another render?); it was "
                             "left as it is (use --force to overwrite it)", field="path") from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK,
                           errno.EXDEV):
            raise
        if os.path.lexists(final):      # no hard links here (e.g. some network/FAT folders)
            raise NodeInputError(f"{final} appeared while rendering (another render?); it "
                                 "was left as it is", field="path") from None
        os.rename(tmp, final)
        return
    os.unlink(tmp)


def commit_folder(tmp: Path, final: Path, *, overwrite: bool) -> None:
    """Put a finished temporary frames folder in place. An existing folder is replaced only
    with ``overwrite`` and only while it still holds nothing but frames; anything else in it
    stays untouched."""
    if os.path.lexists(final):
        if not overwrite:
            raise NodeInputError(f"{final} appeared while rendering (another render?); it was "
                                 "left as it is (use --force to overwrite it)", field="path")
        problem = target_problem(final, folder=True)
        stranger = None if problem else foreign_entry(final)
        if problem or stranger:
            raise NodeInputError(f"cannot replace {final}: " + (problem or f"it now holds "
                                 f"'{stranger}', which afx did not write"), field="path")
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.rename(final, old)
        os.rename(tmp, final)
        for entry in os.scandir(old):           # only our frames were in it: checked above
            if FRAME_NAME.match(entry.name):
                os.unlink(entry.path)
        with contextlib.suppress(OSError):
            os.rmdir(old)
        return
    try:
        os.rename(tmp, final)       # fails if a non-empty folder appeared meanwhile
    except OSError as e:
        if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise NodeInputError(f"{final} appeared while rendering (another render?); it was "
                                 "left as it is", field="path") from None
        raise


@contextlib.contextmanager
def writing(path: Path):
    """Turn the machine's refusals (full disk, read-only folder, ...) while writing ``path``
    into a message about ``path``; anything else passes through."""
    try:
        yield
    except NodeInputError:
        raise
    except OSError as e:
        reason = environment_reason(e)
        if reason is None:
            raise
        raise NodeInputError(f"cannot write {path}: {reason}", field="path") from None


def write_file(path: Path, data: bytes, *, overwrite: bool, private: bool = False) -> None:
    """The one way afx writes a whole file (a patch, a manifest, a look, a cell's video):
    ``data`` at ``path``, whole or not at all. It is written to ``.NAME.partial-PID`` beside
    ``path`` (missing folders made, and removed again if it fails), synced, and put in place
    by :func:`commit_file`: an existing file is replaced only with ``overwrite`` (decided at
    the rename, not before), and never a link, a folder or a device. A replaced file keeps
    its mode; a new one gets 0666 less the umask (a shared patch must not turn private), or
    0600 with ``private`` (recovery files: unsaved work stays the user's)."""
    path = Path(path)
    remove_stale_partials(path)
    tmp = partial_path(path)
    with writing(path):
        created = make_folders(path.parent)
        try:
            if os.path.lexists(tmp):            # ours (this process), from a write that failed
                os.unlink(tmp)
            keep = None
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode) and not private:
                    keep = stat.S_IMODE(st.st_mode)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                         0o600 if private else 0o666)
            with os.fdopen(fd, "wb") as f:
                if keep is not None:
                    os.fchmod(f.fileno(), keep)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            commit_file(tmp, path, overwrite=overwrite)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            remove_created_folders(created)
            raise
