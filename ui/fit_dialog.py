"""Looks > Fit a look from images...: choose pictures, a look file, steps and size; the fit
runs on a background thread (:class:`~afx_graph.ui.fitting.FitJob`, the code of ``afx fit``)
with a progress bar, step, PSNR and ETA, and Cancel. When it ends, the look goes into the
patch as one undo step (a new field.look node, or the path of the selected one)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import dearpygui.dearpygui as dpg

from afx_graph import AfxError
from afx_graph.looks.fit import (DEFAULT_SIZE, DEFAULT_STEPS, MAX_IMAGES, MAX_SIZE, MAX_STEPS,
                             MIN_SIZE, SUFFIX)

from afx_graph.ui.dialogs import center
from afx_graph.ui.fitting import LOOK_TYPE, FitJob, apply_look, default_look_path, summary
from afx_graph.ui.theme import ERROR, MUTED, OK, WARNING

FIT = "afx.fit"
FD_IMAGES = "afx.fd.fit"
W, H = 600, 310
IMAGE_FILTER = "PNG / JPEG{.png,.jpg,.jpeg,.PNG,.JPG,.JPEG}"      # no comma in the name: it splits filters


def clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s} s" if s < 60 else f"{s // 60}:{s % 60:02d}"


class FitDialog:
    def __init__(self, app):
        self.app = app
        self.images: list[str] = []
        self.job: FitJob | None = None
        self.target: str | None = None        # the field.look node selected when it started
        self.patch: Path | None = None        # the patch it started on
        self._handled = True
        with dpg.file_dialog(tag=FD_IMAGES, label="Images to fit a look to (Ctrl/Shift+click: "
                             "several)", show=False, modal=True, width=760, height=460,
                             file_count=MAX_IMAGES, callback=self._chosen,
                             default_path=str(Path.cwd()), directory_selector=False):
            dpg.add_file_extension(IMAGE_FILTER, color=(150, 220, 150, 255))
            dpg.add_file_extension(".*", color=(200, 200, 200, 255))
        with dpg.window(tag=FIT, label="Fit a look from images", show=False, width=W, height=H,
                        no_collapse=True):
            dpg.add_text("Trains a small neural field on your pictures, like `afx fit`; a "
                         "field.look node renders it, and its morph moves between the pictures "
                         "in this order.", color=MUTED, wrap=W - 20)
            with dpg.group(horizontal=True):
                dpg.add_text("images ")
                dpg.add_button(label="Choose...", width=90, callback=lambda: self.choose())
                dpg.add_text("", tag=f"{FIT}.images", wrap=W - 180)
            with dpg.group(horizontal=True):
                dpg.add_text("look   ")
                dpg.add_input_text(tag=f"{FIT}.out", width=-1, hint=f"looks/NAME{SUFFIX}")
            with dpg.group(horizontal=True):
                dpg.add_text("steps  ")
                dpg.add_input_int(tag=f"{FIT}.steps", width=120, default_value=DEFAULT_STEPS,
                                  min_value=1, max_value=MAX_STEPS, min_clamped=True,
                                  max_clamped=True, step=500, step_fast=1000)
                dpg.add_text("  size")
                dpg.add_input_int(tag=f"{FIT}.size", width=120, default_value=DEFAULT_SIZE,
                                  min_value=MIN_SIZE, max_value=MAX_SIZE, min_clamped=True,
                                  max_clamped=True, step=32, step_fast=128)
                dpg.add_text("px", color=MUTED)
            dpg.add_text("", tag=f"{FIT}.into", color=MUTED, wrap=W - 20)
            with dpg.group(horizontal=True, tag=f"{FIT}.ask", show=False):
                dpg.add_text("", tag=f"{FIT}.ask.text", color=WARNING)
                dpg.add_button(label="Replace", tag=f"{FIT}.replace", width=80,
                               callback=lambda: self.start(overwrite=True))
                dpg.bind_item_theme(f"{FIT}.replace", "afx.theme.danger_button")
                dpg.add_button(label="Keep it", width=80, callback=lambda: self._ask(None))
            with dpg.group(horizontal=True):
                dpg.add_button(label="Fit", tag=f"{FIT}.go", width=100, callback=lambda: self.start())
                dpg.bind_item_theme(f"{FIT}.go", "afx.theme.accent_button")
                dpg.add_button(label="Cancel", tag=f"{FIT}.cancel", width=100, enabled=False,
                               callback=lambda: self.cancel())
                dpg.add_button(label="Close", width=100, callback=lambda: self.close())
            dpg.add_progress_bar(tag=f"{FIT}.bar", width=-1, default_value=0.0, overlay="")
            dpg.add_text("", tag=f"{FIT}.stats")
            dpg.add_text("", tag=f"{FIT}.msg", wrap=W - 20)

    text_inputs = {f"{FIT}.out", f"{FIT}.steps", f"{FIT}.size"}

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.busy

    @property
    def shown(self) -> bool:
        return bool(dpg.is_item_shown(FIT))

    # -- opening -----------------------------------------------------------------------------
    def choose(self) -> None:
        """The menu item: pick images (or, while a fit runs, look at it)."""
        if self.busy:
            self._show()
            return
        start = Path(self.images[0]).parent if self.images else self.app.controller.graph.base_dir
        dpg.configure_item(FD_IMAGES, default_path=str(start))
        dpg.configure_item(FD_IMAGES, show=True)

    def _chosen(self, sender, app_data) -> None:
        data = app_data or {}
        picked = list((data.get("selections") or {}).values())
        if not picked and data.get("file_path_name"):
            picked = [data["file_path_name"]]
        if picked:
            self.show(picked)

    def show(self, images: list[str | os.PathLike]) -> None:
        """The dialog for these images, with a free look file name beside the patch."""
        if self.busy:
            self._show()
            return
        self.images = [str(Path(p).expanduser().absolute()) for p in images]
        names = ", ".join(Path(p).name for p in self.images[:6])
        more = f" and {len(self.images) - 6} more" if len(self.images) > 6 else ""
        dpg.set_value(f"{FIT}.images", f"{names}{more}  ({len(self.images)})")
        g = self.app.controller.graph
        out = default_look_path(g.base_dir, self.images)
        dpg.set_value(f"{FIT}.out", str(out))
        self._ask(None)
        self._message("", MUTED)
        dpg.set_value(f"{FIT}.bar", 0.0)
        dpg.configure_item(f"{FIT}.bar", overlay="")
        dpg.set_value(f"{FIT}.stats", "")
        self._show()

    def _show(self) -> None:
        self._describe_target()
        center(FIT, W, H)
        dpg.configure_item(FIT, show=True)

    def _describe_target(self) -> None:
        if self.busy:
            return
        nid = self._selected_look()
        if nid:
            text = f"When it is done, the selected node '{nid}' reads the new look."
        else:
            text = "When it is done, a field.look node with the new look is added to the patch."
        if self.app.controller.path is None:
            text += (" The patch is not saved yet: its path is kept relative to the current "
                     "folder.")
        dpg.set_value(f"{FIT}.into", text)

    def _selected_look(self) -> str | None:
        c = self.app.controller
        if len(c.selection) == 1:
            n = c.graph.nodes.get(c.selection[0])
            if n is not None and n.type == LOOK_TYPE:
                return n.id
        return None

    def close(self) -> None:
        """Close the window (a running fit goes on; the menu item shows it again)."""
        dpg.configure_item(FIT, show=False)

    # -- the fit -------------------------------------------------------------------------------
    def output(self) -> Path | None:
        text = dpg.get_value(f"{FIT}.out").strip()
        if not text:
            return None
        p = Path(text).expanduser()
        if not p.suffix:
            p = p.with_suffix(SUFFIX)
        if not p.is_absolute():
            p = self.app.controller.graph.base_dir / p
        return p

    def start(self, output: str | os.PathLike | None = None, *, steps: int | None = None,
              size: int | None = None, overwrite: bool = False) -> bool:
        """Fit (the Fit button; tests pass the values a person types). A look file that
        exists is only replaced after Replace (``overwrite``). Returns whether it started."""
        if self.busy:
            return False
        if output is not None:
            dpg.set_value(f"{FIT}.out", str(output))
        if steps is not None:
            dpg.set_value(f"{FIT}.steps", int(steps))
        if size is not None:
            dpg.set_value(f"{FIT}.size", int(size))
        self._ask(None)
        if not self.images:
            self._message("choose the images to fit first", ERROR)
            return False
        out = self.output()
        if out is None:
            self._message("give the look file a name", ERROR)
            return False
        dpg.set_value(f"{FIT}.out", str(out))
        if os.path.lexists(out) and not overwrite:
            self._ask(f"{out.name} exists. Replace it?")
            return False
        self.target = self._selected_look()
        self.patch = self.app.controller.path
        self.job = FitJob(self.images, out, steps=dpg.get_value(f"{FIT}.steps"),
                          size=dpg.get_value(f"{FIT}.size"), device=self.app.worker.device,
                          overwrite=overwrite).start()
        self._handled = False
        dpg.configure_item(f"{FIT}.go", enabled=False)
        dpg.configure_item(f"{FIT}.cancel", enabled=True)
        dpg.set_value(f"{FIT}.bar", 0.0)
        dpg.configure_item(f"{FIT}.bar", overlay="reading the images...")
        dpg.set_value(f"{FIT}.stats", "")
        self._message("", MUTED)
        self._show()
        return True

    def cancel(self) -> None:
        if self.busy:
            self.job.cancel()
            dpg.configure_item(f"{FIT}.bar", overlay="cancelling...")

    def wait(self, timeout: float = 120.0) -> None:
        if self.job is not None:
            self.job.wait(timeout)

    def shutdown(self) -> None:
        """The editor is closing: stop a running fit (nothing is written)."""
        if self.busy:
            self.job.cancel()
            self.job.wait(10)

    def _ask(self, question: str | None) -> None:
        dpg.set_value(f"{FIT}.ask.text", question or "")
        dpg.configure_item(f"{FIT}.ask", show=bool(question))

    def _message(self, text: str, color) -> None:
        dpg.set_value(f"{FIT}.msg", text)
        dpg.configure_item(f"{FIT}.msg", color=color)

    def update(self) -> None:
        """Each UI frame: the progress, then what came of it."""
        job = self.job
        if job is None or self._handled:
            return
        p = job.progress
        if p is not None:
            dpg.set_value(f"{FIT}.bar", p.fraction)
            dpg.configure_item(f"{FIT}.bar", overlay=f"step {p.step} / {p.steps}")
            dpg.set_value(f"{FIT}.stats", f"PSNR {p.psnr:.1f} dB (so far)     ETA {clock(p.eta)}"
                                          f"     {p.elapsed:.1f} s")
        if job.busy:
            return
        self._handled = True
        dpg.configure_item(f"{FIT}.go", enabled=True)
        dpg.configure_item(f"{FIT}.cancel", enabled=False)
        if job.result is None:
            dpg.configure_item(f"{FIT}.bar", overlay="cancelled" if job.cancelled else "failed")
            self._message(job.error or "failed", WARNING if job.cancelled else ERROR)
            self.app.status(f"fit: {job.error}", "info" if job.cancelled else "error")
            self.app.controller.autosave()        # nothing lost when something fails
            return
        dpg.set_value(f"{FIT}.bar", 1.0)
        dpg.configure_item(f"{FIT}.bar", overlay="done")
        info = job.result.look.info
        dpg.set_value(f"{FIT}.stats", f"{info['steps']} steps in {float(info['seconds']):.1f} s")
        text = summary(job.result)
        c = self.app.controller
        if c.path != self.patch:
            text += f" (another patch is open now: give a field.look node {job.result.path})"
            self._message(text, OK)
            self.app.status(text, "ok")
            return
        try:
            nid, added = apply_look(c, job.output, target=self.target, sizes=self.app.views.sizes())
        except (AfxError, KeyError) as e:    # the file is written: say why it is not in the patch
            msg = f"{text}; could not put it in the patch: {e}"
            self._message(msg, ERROR)
            self.app.status(msg, "error")
            return
        text += f"; {'added' if added else 'set'} {nid}"
        self.app.select([nid])
        self._message(text, OK)
        self.app.status(text, "ok")
