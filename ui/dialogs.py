"""Dialogs of the editor (dearpygui): unsaved-changes prompt, file choosers, Render...,
recovered autosaves, keyboard shortcuts. Each is built once and shown when needed."""
from __future__ import annotations

import threading
import traceback
from pathlib import Path

import dearpygui.dearpygui as dpg

from afx_graph import AfxError, NodeCrash
from afx_graph.run.render import RunOptions, render_graph

from afx_graph.ui.theme import ERROR, MUTED, OK

CONFIRM = "afx.confirm"
RENDER = "afx.render"
RECOVER = "afx.recover"
SHORTCUTS = "afx.shortcuts"
FD_OPEN = "afx.fd.open"
FD_SAVE = "afx.fd.save"
FD_PARAM = "afx.fd.param"
FD_RENDER = "afx.fd.render"

SHORTCUT_TEXT = """\
Ctrl+N  new patch            Ctrl+O  open             Ctrl+S  save
Ctrl+Shift+S  save as        Ctrl+R  render...        Ctrl+Q  quit
Ctrl+Z  undo                 Ctrl+Shift+Z / Ctrl+Y  redo
Ctrl+C  copy                 Ctrl+V  paste            Ctrl+D  duplicate
Delete  remove selected nodes and links
Ctrl+G  group the selection into a subpatch      Ctrl+Shift+G  ungroup it
Ctrl+E or double-click a subpatch: go inside     Ctrl+Shift+E  back out
Ctrl+J  frame the selection (titled box)         Ctrl+Shift+J  remove its frames
Space   play / pause the preview
Drag from an output pin to an input pin to link; Ctrl+click a link and drag to remove it.
Right-click, double-click or Tab on the editor: search and add a node under the mouse.
Drop a link on empty canvas: add a node that fits it there, linked (one Ctrl+Z undoes both).
Right-click a param: back to default.
Middle mouse drag, or the wheel (Shift+wheel: sideways): pan the editor.
Ctrl+wheel  zoom about the mouse    + / -  zoom          Home / F  fit the patch to the view
F2  show / hide the palette          F3  show / hide the preview and inspector
F5  performance view: the preview alone, full size, with the music (Esc: back; F11: full screen)
F6  live input on / off: the preview's audio from the default input, analysed as it arrives"""


def center(tag: str, w: int, h: int) -> None:
    vw, vh = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
    dpg.configure_item(tag, pos=[max(0, (vw - w) // 2), max(0, (vh - h) // 3)])


class ConfirmDialog:
    """'<file> has unsaved changes': Save / Don't save / Cancel, then the pending action."""

    def __init__(self, app):
        self.app = app
        self.pending = None
        with dpg.window(tag=CONFIRM, label="Unsaved changes", modal=True, show=False, no_resize=True,
                        width=420, height=130, no_collapse=True):
            dpg.add_text("", tag=f"{CONFIRM}.text", wrap=400)
            dpg.add_spacer(height=8)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Save", width=110, callback=lambda: self.answer("save"),
                               tag=f"{CONFIRM}.save")
                dpg.bind_item_theme(f"{CONFIRM}.save", "afx.theme.accent_button")
                dpg.add_button(label="Don't save", width=110, callback=lambda: self.answer("discard"))
                dpg.add_button(label="Cancel", width=110, callback=lambda: self.answer("cancel"))

    def ask(self, what: str, action) -> None:
        self.pending = action
        name = self.app.controller.path.name if self.app.controller.path else "This new patch"
        dpg.set_value(f"{CONFIRM}.text", f"{name} has unsaved changes. Save them before you {what}?")
        center(CONFIRM, 420, 130)
        dpg.configure_item(CONFIRM, show=True)

    @property
    def showing(self) -> bool:
        return bool(dpg.get_item_configuration(CONFIRM)["show"])

    def answer(self, choice: str) -> None:
        dpg.configure_item(CONFIRM, show=False)
        action, self.pending = self.pending, None
        if action is None or choice == "cancel":
            return
        if choice == "save":
            if self.app.controller.path is None:
                self.app.show_save_dialog(then=action)
                return
            if not self.app.save():
                return
        else:
            self.app.controller.close()           # the user chose to drop the changes
        action()


# Dear PyGui's file dialog (ImGuiFileDialog) has its labels and units compiled in: its size
# column reads "o / Ko / Mo / Go" (French for B / KB / MB / GB) and its buttons are single
# letters, with no setting for either. A side pane says what they are.
FD_HELP = """\
Enter or OK: {verb}.
Esc or Cancel: close.

Buttons at the top:
  +   new folder here
  R   back to the folder
      afx was started in
  E   type a folder path
      (or right-click a
      folder button)
  R   (by Search) clear
      the search

Sizes: Ko = KB, Mo = MB,
Go = GB (the dialog's
French units)."""


class FileDialogs:
    """Open, Save As, a param's file and Render's output file. Each is built anew when it is
    shown: ImGuiFileDialog keeps its folder and name while it counts as open, which a
    dialog hidden from Python (Enter, below) still does."""

    def __init__(self, app):
        self.app = app
        self.param_target = None
        self.after_save = None
        self.start = str(Path.cwd())
        self.kinds = {
            FD_OPEN: ("Open patch", self._opened, (".yaml", ".yml", ".mp4", ".png", ".*"), "open"),
            FD_SAVE: ("Save patch as", self._saved, (".yaml", ".yml", ".*"), "save"),
            FD_PARAM: ("Choose file", self._param_chosen, (".*", ".wav", ".mp3", ".flac", ".ogg",
                                                          ".m4a", ".mp4", ".png", ".jpg"),
                       "choose the file"),
            FD_RENDER: ("Render to", self._render_chosen, (".mp4", ".*"), "choose the file")}
        for tag in self.kinds:
            self._build(tag, show=False)

    def _build(self, tag: str, show: bool = True, **config) -> None:
        if dpg.does_item_exist(tag):
            dpg.delete_item(tag)
        label, cb, filters, verb = self.kinds[tag]
        config = {"label": label, "default_path": self.start, **config}
        with dpg.file_dialog(tag=tag, show=show, modal=True, width=960, height=460,
                             callback=cb, directory_selector=False, **config):
            for ext in filters:
                color = (150, 220, 150, 255) if ext != ".*" else (200, 200, 200, 255)
                dpg.add_file_extension(ext, color=color)
            dpg.add_text(FD_HELP.format(verb=verb), color=MUTED, tag=f"{tag}.help")

    def showing(self) -> str | None:
        return next((t for t in self.kinds if dpg.does_item_exist(t) and dpg.is_item_shown(t)), None)

    def enter(self) -> bool:
        """Enter while a file dialog is up: what its OK does, with the name typed in it (the
        dialog itself only takes Enter to open a folder). A folder's name is left to it."""
        tag = self.showing()
        if tag is None:
            return False
        info = dpg.get_file_dialog_info(tag)
        p = self._path(info)
        if not (info or {}).get("file_name") or not p or Path(p).is_dir():
            return False
        dpg.configure_item(tag, show=False)
        self.kinds[tag][1](tag, info)
        return True

    def escape(self) -> bool:
        """Esc while a file dialog is up: what its Cancel does."""
        tag = self.showing()
        if tag is not None:
            dpg.configure_item(tag, show=False)
        return tag is not None

    @staticmethod
    def _path(app_data) -> str | None:
        p = (app_data or {}).get("file_path_name")
        return p or None

    def show_open(self) -> None:
        self._build(FD_OPEN)

    def show_save(self, then=None) -> None:
        self.after_save = then
        c = self.app.controller
        if c.path is not None:
            self._build(FD_SAVE, default_path=str(c.path.parent), default_filename=c.path.stem)
        else:
            self._build(FD_SAVE, default_filename="untitled")

    def show_param(self, node: str, name: str, kind: str) -> None:
        self.param_target = (node, name, kind)
        base = self.app.controller.graph.base_dir
        self._build(FD_PARAM, label="Choose an input file" if kind == "path" else "Write to",
                    default_path=str(base))

    def show_render(self) -> None:
        self._build(FD_RENDER)

    def _opened(self, sender, app_data) -> None:
        p = self._path(app_data)
        if p:
            self.app.open(p)

    def _saved(self, sender, app_data) -> None:
        p = self._path(app_data)
        if not p:
            return
        if Path(p).suffix.lower() not in (".yaml", ".yml"):
            p = str(Path(p).with_suffix(".yaml")) if Path(p).suffix in ("", ".*") else p
        then, self.after_save = self.after_save, None
        if self.app.save(p) and then is not None:
            then()

    def _param_chosen(self, sender, app_data) -> None:
        p = self._path(app_data)
        if not p or self.param_target is None:
            return
        node, name, kind = self.param_target
        value = self.app.patch_relative(p, kind)
        self.app.set_param(node, name, value)

    def _render_chosen(self, sender, app_data) -> None:
        p = self._path(app_data)
        if p:
            dpg.set_value(f"{RENDER}.out", p)


class RenderDialog:
    """Render... : output path (the patch's output path by default), overwrite, a progress
    bar; renders on a background thread with the code path of ``afx run``."""

    def __init__(self, app):
        self.app = app
        self.thread: threading.Thread | None = None
        self.cancel = False
        self.progress = None          # (done, total, fps)
        self.result: str | None = None
        self.error: str | None = None
        self.stopped: str | None = None   # Stop was pressed (not a failure)
        self.outputs: list[Path] = []
        with dpg.window(tag=RENDER, label="Render", show=False, width=520, height=210, no_collapse=True):
            dpg.add_text("Renders the whole patch at its own size with the music, like `afx run`.",
                         color=MUTED, wrap=500)
            with dpg.group(horizontal=True):
                dpg.add_text("output")
                dpg.add_input_text(tag=f"{RENDER}.out", width=380)
                dpg.add_button(label="...", width=28, callback=lambda: self.app.dialogs.show_render())
            dpg.add_checkbox(label="overwrite an existing file", tag=f"{RENDER}.force")
            with dpg.group(horizontal=True):
                dpg.add_button(label="Render", tag=f"{RENDER}.go", width=100, callback=lambda: self.start())
                dpg.bind_item_theme(f"{RENDER}.go", "afx.theme.accent_button")
                dpg.add_button(label="Stop", tag=f"{RENDER}.stop", width=100, callback=lambda: self.stop(),
                               enabled=False)
                dpg.add_button(label="Close", width=100,
                               callback=lambda: dpg.configure_item(RENDER, show=False))
            dpg.add_progress_bar(tag=f"{RENDER}.bar", width=-1, default_value=0.0, overlay="")
            dpg.add_text("", tag=f"{RENDER}.msg", wrap=500)

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def default_output(self) -> str:
        """The patch's own output path, where `afx run` would write it from here."""
        g = self.app.controller.graph
        outs = [(nid, name) for nid, n in g.nodes.items() if n.spec and n.spec.sink
                for name, p in n.spec.params.items() if p.kind == "output"]
        if len(outs) != 1:
            return ""
        nid, name = outs[0]
        value = g.nodes[nid].param(name)
        return str(Path(value) if Path(value).is_absolute() else Path.cwd() / value)

    def show(self) -> None:
        if not self.busy:
            dpg.set_value(f"{RENDER}.out", self.default_output())
        center(RENDER, 520, 210)
        dpg.configure_item(RENDER, show=True)

    def start(self, output: str | None = None, force: bool | None = None) -> bool:
        if self.busy:
            return False
        out = output if output is not None else dpg.get_value(f"{RENDER}.out").strip()
        force = bool(dpg.get_value(f"{RENDER}.force")) if force is None else force
        graph = self.app.controller.graph.copy()      # the render's own snapshot
        graph.path = self.app.controller.graph.path
        opts = RunOptions(output=out or None, force=force)
        self.cancel, self.progress, self.result, self.error = False, (0, 1, 0.0), None, None
        self.stopped = None
        dpg.configure_item(f"{RENDER}.go", enabled=False)
        dpg.configure_item(f"{RENDER}.stop", enabled=True)
        dpg.set_value(f"{RENDER}.msg", "preparing...")
        dpg.configure_item(f"{RENDER}.msg", color=MUTED)

        def work():
            try:
                stats, outputs = render_graph(graph, opts, on_progress=self._on_progress,
                                              should_stop=lambda: self.cancel)
                self.outputs = outputs
                self.result = (f"wrote {', '.join(str(p) for p in outputs)}: {stats.frames} frames "
                               f"in {stats.elapsed:.1f} s ({stats.fps:.1f} fps)")
            except KeyboardInterrupt:       # Stop: what the user asked for, not a failure
                self.stopped = "render stopped; nothing was written"
            except AfxError as e:
                self.error = "\n".join(e.lines)
            except NodeCrash as e:
                self.error = f"internal error: {e}"
            except Exception as e:
                traceback.print_exc()
                self.error = f"internal error: {type(e).__name__}: {e}"

        self.thread = threading.Thread(target=work, name="afx-render", daemon=True)
        self.thread.start()
        return True

    def _on_progress(self, p) -> None:
        self.progress = (p.done, p.total, p.fps)

    def stop(self) -> None:
        self.cancel = True

    def wait(self, timeout: float = 120.0) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def update(self) -> None:
        """Each UI frame: progress and the outcome."""
        if self.progress is None:
            return
        done, total, fps = self.progress
        dpg.set_value(f"{RENDER}.bar", done / max(total, 1))
        dpg.configure_item(f"{RENDER}.bar", overlay=f"{done}/{total} frames  {fps:.1f} fps")
        if self.busy:
            if done:
                dpg.set_value(f"{RENDER}.msg", "rendering...")
            return
        dpg.configure_item(f"{RENDER}.go", enabled=True)
        dpg.configure_item(f"{RENDER}.stop", enabled=False)
        if self.stopped:
            dpg.set_value(f"{RENDER}.msg", self.stopped)
            dpg.configure_item(f"{RENDER}.msg", color=MUTED)
            self.app.status(self.stopped, "info")
        elif self.error:
            dpg.set_value(f"{RENDER}.msg", self.error)
            dpg.configure_item(f"{RENDER}.msg", color=ERROR)
            self.app.status(f"render failed: {self.error.splitlines()[0]}", "error")
            self.app.controller.autosave()          # nothing lost when something fails
        elif self.result:
            dpg.set_value(f"{RENDER}.msg", self.result)
            dpg.configure_item(f"{RENDER}.msg", color=OK)
            self.app.status(self.result, "ok")
        self.progress = None


class RecoveryDialog:
    """Autosaves left by an editor that did not get to save: restore or discard each."""

    def __init__(self, app):
        self.app = app
        with dpg.window(tag=RECOVER, label="Recover unsaved work", modal=True, show=False,
                        width=640, height=260, no_collapse=True):
            dpg.add_text("afx found work that was never saved (the editor closed before saving):",
                         wrap=620)
            dpg.add_group(tag=f"{RECOVER}.list")
            dpg.add_spacer(height=6)
            dpg.add_button(label="Later", width=100, callback=lambda: dpg.configure_item(RECOVER, show=False))

    def offer(self) -> bool:
        recs = self.app.controller.list_recoveries()
        if not recs:
            return False
        dpg.delete_item(f"{RECOVER}.list", children_only=True)
        for i, rec in enumerate(recs[:8]):
            with dpg.group(horizontal=True, parent=f"{RECOVER}.list"):
                dpg.add_button(label="Restore", width=80, user_data=rec,
                               callback=lambda s, a, u: self.restore(u))
                dpg.add_button(label="Discard", width=80, user_data=rec,
                               callback=lambda s, a, u: self.discard(u))
                dpg.add_text(rec.describe(), wrap=440)
        center(RECOVER, 640, 260)
        dpg.configure_item(RECOVER, show=True)
        return True

    def restore(self, rec) -> None:
        dpg.configure_item(RECOVER, show=False)
        self.app.confirm("restore it", lambda: self.app.restore(rec))

    def discard(self, rec) -> None:
        self.app.controller.discard_recovery(rec)
        if not self.offer():
            dpg.configure_item(RECOVER, show=False)


def build_shortcuts() -> None:
    with dpg.window(tag=SHORTCUTS, label="Keyboard and mouse", show=False, width=640, height=250,
                    no_collapse=True):
        dpg.add_text(SHORTCUT_TEXT)


def relative_to(path: str, base: Path) -> str:
    """``path`` relative to ``base`` when it lies inside it, else absolute."""
    p = Path(path).resolve()
    try:
        return p.relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(p)

