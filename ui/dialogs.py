"""Dialogs of the editor (dearpygui): unsaved-changes prompt, file choosers, recovered
autosaves, keyboard shortcuts (Render... and its queue: render_queue.py). Each is built once and shown when needed."""
from __future__ import annotations

from pathlib import Path

import dearpygui.dearpygui as dpg

from afx_graph.ui.panels import center  # noqa: F401 (the dialogs' modules use it from here)
from afx_graph.ui.render_queue import RENDER
from afx_graph.ui.theme import MUTED

CONFIRM = "afx.confirm"
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
Ctrl+B  bypass the selected nodes (their input passes through)   Ctrl+M  mute them (zeros)
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
        if not p or Path(p).is_dir() or not _a_name(info):
            return False                  # a folder: the dialog opens it
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
        """The chosen file. A path typed whole into the name field (``/music/song.wav``,
        ``~/song.wav``) is taken as typed: the dialog would put it under its folder without
        its leading slash and add the filter's extension."""
        info = app_data or {}
        typed = str(info.get("file_name") or "").strip()
        if typed.startswith(("/", "~")) or (len(typed) > 2 and typed[1] == ":"):
            return str(Path(typed).expanduser())
        if not _a_name(info):
            return None                   # only the filter's extension: no file chosen
        p = info.get("file_path_name")
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


def _a_name(info) -> bool:
    """Whether the dialog's name field names a file: not empty and not just an extension
    (Enter on a folder left '.yaml' there, which it then tried to open)."""
    info = info or {}
    name = info.get("file_name")
    if name is None:                  # a path handed over whole (tests, scripts)
        name = Path(str(info.get("file_path_name") or "")).name
    name = str(name).strip()
    return bool(name) and Path(name).stem not in ("", ".*") and not (
        name.startswith(".") and "." not in name[1:] and len(name) <= 6)
