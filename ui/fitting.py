"""Fitting a look from the editor, without dearpygui (testable with no display).

:class:`FitJob` runs ``afx fit``'s own code (:func:`afx_graph.looks.fit.fit_to_file`) on a
background thread: progress (step, ETA, PSNR) is read by the UI each frame, Cancel stops the
fit at its next step, and the look file is written the command's way (a temporary file
beside it, put in place at the end without replacing anything), so a cancelled or failed fit
leaves nothing behind. :func:`apply_look` puts the finished look into the patch as one undo
step: a new ``field.look`` node, or the path of the selected one.
"""
from __future__ import annotations

import os
import threading
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Callable

from afx_graph import AfxError
from afx_graph.looks.fit import SUFFIX, FitOptions, FitResult, fit_to_file
from afx_graph.media.files import environment_reason

from afx_graph.ui import layout

LOOKS_FOLDER = "looks"
LOOK_TYPE = "field.look"
# the command's flags, as the dialog names them
FIELDS = {"-o": "look file", "--size": "size", "--steps": "steps", "--seed": "seed",
          "--time-budget": "time budget"}


def default_look_path(base_dir: Path, images: list[str]) -> Path:
    """``looks/<first image>.safetensors`` in the patch's folder; a name that is taken gets
    a number (``sky-2``), so the default never points at an existing file."""
    stem = Path(images[0]).stem if images else ""
    stem = stem.strip() or "look"
    folder = Path(base_dir) / LOOKS_FOLDER
    path, n = folder / f"{stem}{SUFFIX}", 2
    while os.path.lexists(path):
        path, n = folder / f"{stem}-{n}{SUFFIX}", n + 1
    return path


def relative_to(path: str | Path, base: Path) -> str:
    """``path`` relative to ``base`` when it lies inside it (as a patch holds an asset),
    else absolute."""
    p = Path(path).resolve()
    try:
        return p.relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return str(p)


def describe(e: AfxError) -> str:
    """An error of the fit as the dialog shows it: the file it is about, and the dialog's
    name for a field rather than the command's flag."""
    issue = e.issue
    if issue.field in FIELDS:
        issue = replace(issue, field=FIELDS[issue.field])
    return str(issue)


def summary(result: FitResult) -> str:
    """One line: the file, each image's PSNR, steps and seconds."""
    look = result.look
    psnrs = ", ".join(f"{i.name} {i.psnr:.1f} dB" for i in look.images)
    return (f"fitted {result.path.name}: {psnrs}; {look.info['steps']} steps in "
            f"{float(look.info['seconds']):.1f} s on {result.device}")


class FitJob:
    """One fit on a thread of its own. Read :attr:`progress` (the latest
    :class:`~afx_graph.looks.fitted.FitProgress`, None before the first step) while :attr:`busy`;
    afterwards :attr:`result` or :attr:`error` says how it ended."""

    def __init__(self, images: list[str | os.PathLike], output: str | os.PathLike, *,
                 steps: int, size: int, seed: int = 0, device: str = "auto",
                 overwrite: bool = False, on_progress: Callable | None = None):
        self.options = FitOptions([str(p) for p in images], str(output), size=int(size),
                                  steps=int(steps), seed=int(seed), device=device,
                                  force=bool(overwrite))
        self.on_progress = on_progress
        self.progress = None
        self.result: FitResult | None = None
        self.error: str | None = None
        self.cancelled = False
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def output(self) -> Path:
        return Path(self.options.output)

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def done(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()

    def start(self) -> "FitJob":
        self.thread = threading.Thread(target=self._work, name="afx-fit", daemon=True)
        self.thread.start()
        return self

    def cancel(self) -> None:
        """Stop at the next step; nothing is written."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.busy

    def _progress(self, p) -> None:
        self.progress = p
        if self.on_progress is not None:
            self.on_progress(p)

    def _work(self) -> None:
        folder = self.output.absolute().parent
        try:
            made = _make_folders(folder)
        except OSError as e:
            self.error = f"cannot make the folder {folder}: {environment_reason(e) or e}"
            return
        try:
            self.result = fit_to_file(self.options, on_progress=self._progress,
                                      should_stop=self._stop.is_set)
        except KeyboardInterrupt:
            self.cancelled = True
            self.error = "cancelled; nothing was written"
        except AfxError as e:
            self.error = describe(e)
        except FloatingPointError as e:        # the fit diverged for good
            self.error = f"{e}; try fewer steps or another seed"
        except MemoryError:
            self.error = "out of memory: try a smaller size"
        except Exception as e:                 # a bug: say so, keep the editor going
            traceback.print_exc()
            self.error = f"internal error: {type(e).__name__}: {e}"
        finally:
            if self.result is None:
                _remove_empty(made)


def apply_look(controller, look: str | Path, *, target: str | None = None,
               sizes: dict | None = None) -> tuple[str, bool]:
    """Put the look file ``look`` into the patch as one undo step, its path relative to the
    patch's folder: into ``target`` when that is a field.look node, else in a new field.look
    node (in a free place). Returns (node id, whether it was added). Raises AfxError."""
    g = controller.graph
    rel = relative_to(look, g.base_dir)
    node = g.nodes.get(target) if target else None
    if node is not None and node.type == LOOK_TYPE and node.spec is not None:
        reason = controller.set_param(target, "path", rel)
        if reason:
            raise AfxError(reason, node=target, field="path")
        return target, False
    spec = controller.registry.get(LOOK_TYPE)
    rows = len(spec.inputs) + len(spec.params) + len(spec.outputs)
    pos = controller.free_spot(sizes or {}, (layout.NODE_WIDTH, layout.TITLE + layout.ROW * rows + 8))
    return controller.add_node(LOOK_TYPE, pos, params={"path": rel}), True


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and the missing ones above it; returns those made, deepest first."""
    made = []
    p = folder
    while not os.path.lexists(p) and p != p.parent:
        made.append(p)
        p = p.parent
    for f in reversed(made):
        try:
            f.mkdir()
        except OSError:
            _remove_empty(made[made.index(f) + 1:])      # the ones made above it
            raise
    return made


def _remove_empty(folders: list[Path]) -> None:
    for f in folders:
        try:
            f.rmdir()
        except OSError:
            return
