"""The editor window (dearpygui): palette | node editor | preview, a menu bar and a status bar.

:class:`EditorApp` builds the window and wires it to the :class:`~afx_graph.ui.controller.
EditorController` (all editing) and the :class:`~afx_graph.ui.preview.PreviewWorker` (all
rendering, on its own thread). Its public methods are the actions a person triggers (add a
node from the palette, drag a link, move a slider, press a shortcut, save...): ``afx edit``
runs the event loop (event_loop.py), and tests drive the same methods frame by frame with
:meth:`EditorApp.step` on a virtual display.

Where the rest lives: the keyboard in keys.py, the inspector below the preview in
inspector.py, the add menu in add_menu.py, the status bar in status_bar.py, zoom and pan in
canvas.py, frames around groups in frames.py, the dialogs in dialogs.py.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import dearpygui.dearpygui as dpg

from afx_graph import AfxError
from afx_graph.subpatches import definitions as subpatch
from afx_graph.registry import Registry

from afx_graph.ui import (dialogs, error_dialog, event_loop, fit_dialog, layout, nesting,
                          render_queue, screen, view, widgets)
from afx_graph.ui.add_menu import ADDMENU, AddMenu
from afx_graph.ui.cook_times import CookTimes
from afx_graph.ui.canvas import CANVAS, Canvas
from afx_graph.ui.controller import AUTOSAVE_SECONDS, EditorController
from afx_graph.ui.frames import FrameLayer
from afx_graph.ui.inspector import INSPECT, SETTINGS_INPUTS, Inspector, resolve_port  # noqa: F401 (resolve_port: API)
from afx_graph.ui.keys import Keys
from afx_graph.ui.link_drop import LinkDropWatcher
from afx_graph.ui.node_views import EDITOR, NodeViews, parse_tag
from afx_graph.ui.palette import SEARCH, Palette
from afx_graph.ui.panels import Panels
from afx_graph.ui.performance import PerformanceView
from afx_graph.ui.preview import DEFAULT_SIZE, PreviewWorker
from afx_graph.ui.preview_panel import PreviewPanel
from afx_graph.ui.selection import to_delete
from afx_graph.ui.status_bar import Problems, StatusBar
from afx_graph.ui.theme import Themes

PALETTE_W = 200
PREVIEW_W = 420
STATUS_H = 30
MAIN = "afx.main"
PARAM_HANDLERS = "afx.h.param"
CRUMB = "afx.crumb"
MODALS = (dialogs.CONFIRM, dialogs.RECOVER, dialogs.FD_OPEN, dialogs.FD_SAVE, dialogs.FD_PARAM,
          dialogs.FD_RENDER, fit_dialog.FD_IMAGES, error_dialog.OPEN_ERROR)


LIVE_MENU = "afx.menu.live"


class EditorApp:
    def __init__(self, path: str | Path | None = None, *, registry: Registry | None = None,
                 recovery: str | Path | None = None, preview_size: int = DEFAULT_SIZE,
                 aspect: str = "patch", device: str = "auto", audio: bool = True,
                 width: int | None = None, height: int | None = None,
                 autosave_seconds: float = AUTOSAVE_SECONDS,
                 offer_recovery: bool = True, play: bool = False, title: str = "afx"):
        self.controller = EditorController(registry, recovery=recovery,
                                           autosave_seconds=autosave_seconds)
        self.registry = self.controller.registry
        self.worker = PreviewWorker(size=preview_size, aspect=aspect, device=device, audio=audio)
        self.initial_path = Path(path) if path else None
        self.size = (width, height)       # None: sized to the screen (see build)
        self.offer_recovery = offer_recovery
        self.autoplay = play
        self.app_title = title
        self.running = False
        self.built = False
        self.callback_errors: list[str] = []    # exceptions raised inside callbacks
        self.problems = Problems()              # what validation says, by node
        self.status_bar = StatusBar(PALETTE_W, on_problems=lambda: self.go_to_problem())
        self.add_menu = AddMenu(self)
        self.inspector = Inspector(self, PREVIEW_W)
        self.cook = CookTimes(self)          # each node's time per frame, drawn under it
        self.frames = FrameLayer(self)
        self._need_sync = True
        self._rebuild = True
        self._layout_in = -1                    # frames until the first layout fix-up
        self._active_widget: str | None = None  # the slider being dragged: left alone by sync
        self._errors_seen = -1
        self._problems_seen = -1
        self._title = None
        self._selection_seen: list[str] = []     # the editor's own selection, last frame
        self._autoplay = False
        self.controller.subscribe(self._on_controller)

    # -- building the window -----------------------------------------------------------------
    def build(self) -> "EditorApp":
        _leave_a_core_to_the_ui()
        dpg.create_context()
        dpg.configure_app(manual_callback_management=True)
        fit = view.window_size(screen.screen_size())
        w, h = self.size[0] or fit[0], self.size[1] or fit[1]
        dpg.create_viewport(title=self.app_title, width=w, height=h, disable_close=True,
                            x_pos=0, y_pos=0)
        self.themes = Themes()
        self.themes.load_font()
        with dpg.item_handler_registry(tag=PARAM_HANDLERS):
            dpg.add_item_deactivated_after_edit_handler(callback=self._on_param_done)
            dpg.add_item_clicked_handler(button=dpg.mvMouseButton_Right, callback=self._on_param_reset)
        self.views = NodeViews(self.themes, on_param=self._on_param, on_browse=self._on_browse,
                               param_handlers=PARAM_HANDLERS)
        self.canvas = Canvas(self.views, self.themes)     # zoom, pan, fit
        self.panels = Panels(PREVIEW_W)
        self.palette = Palette(self.registry, self.add_from_palette)
        self.panel = PreviewPanel(self.worker, PREVIEW_W - 12)
        self.performance = PerformanceView(self.panel, self.worker)
        with dpg.window(tag=MAIN, no_scrollbar=True):
            self._menu()
            with dpg.group(horizontal=True):
                with dpg.child_window(tag="afx.left", width=PALETTE_W, height=-STATUS_H,
                                      resizable_x=True):
                    self.palette.build("afx.left")
                with dpg.group(tag=CANVAS):
                    dpg.add_node_editor(tag=EDITOR, callback=self._on_link,
                                        delink_callback=self._on_delink,
                                        width=self.panels.editor_width(), height=-STATUS_H,
                                        minimap=True,
                                        minimap_location=dpg.mvNodeMiniMap_Location_BottomRight)
                with dpg.child_window(tag="afx.right", width=PREVIEW_W, height=-STATUS_H):
                    self.panel.build("afx.right")
                    dpg.add_separator()
                    dpg.add_group(tag=INSPECT)
            self.status_bar.build()
        self.status_bar.build_toast()
        self.add_menu.build()
        self.confirm_dialog = dialogs.ConfirmDialog(self)
        self.dialogs = dialogs.FileDialogs(self)
        self.render_dialog = render_queue.RenderDialog(self)
        self.recovery_dialog = dialogs.RecoveryDialog(self)
        self.fit_dialog = fit_dialog.FitDialog(self)
        self.open_error = error_dialog.OpenErrorDialog(self)
        dialogs.build_shortcuts()
        self.canvas.build()
        self.frames.build()
        self.cook.build()
        self.keys = Keys(self, {SEARCH, f"{ADDMENU}.search", *render_queue.TEXT_INPUTS, *SETTINGS_INPUTS}
                         | self.fit_dialog.text_inputs | self.frames.text_inputs)
        with dpg.handler_registry():
            dpg.add_key_press_handler(callback=self.keys.on_key)
            dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Right, callback=self._on_canvas_click)
            dpg.add_mouse_double_click_handler(button=dpg.mvMouseButton_Left,
                                               callback=lambda s, a: self._on_canvas_click(s, a, True))
        self.link_drop = LinkDropWatcher(self)      # a link dropped on empty canvas
        dpg.set_viewport_resize_callback(lambda: self._on_resize())
        dpg.set_exit_callback(lambda: self.request_quit())
        dpg.set_primary_window(MAIN, True)
        dpg.setup_dearpygui()
        dpg.show_viewport()
        self.built = True
        self.worker.start()
        if self.initial_path is not None:
            self.open_at_start(self.initial_path)
        if self.offer_recovery:
            self.recovery_dialog.offer()
        self._autoplay = self.autoplay
        self.step(1)
        return self

    def _menu(self) -> None:
        with dpg.menu_bar():
            with dpg.menu(label="File"):
                dpg.add_menu_item(label="New", shortcut="Ctrl+N", callback=lambda: self.request_new())
                dpg.add_menu_item(label="Open...", shortcut="Ctrl+O", callback=lambda: self.request_open())
                dpg.add_menu_item(label="Save", shortcut="Ctrl+S", callback=lambda: self.save())
                dpg.add_menu_item(label="Save As...", shortcut="Ctrl+Shift+S",
                                  callback=lambda: self.show_save_dialog())
                dpg.add_separator()
                dpg.add_menu_item(label="Render...", shortcut="Ctrl+R",
                                  callback=lambda: self.render_dialog.show())
                dpg.add_menu_item(label="Fit a look from images...",
                                  callback=lambda: self.fit_dialog.choose())
                dpg.add_menu_item(label="Recover autosaves...", callback=lambda: self._offer_recovery())
                dpg.add_menu_item(label="Save screenshot", shortcut="F12",
                                  callback=lambda: self.save_screenshot())
                dpg.add_separator()
                dpg.add_menu_item(label="Quit", shortcut="Ctrl+Q", callback=lambda: self.request_quit())
            with dpg.menu(label="Edit"):
                dpg.add_menu_item(label="Undo", tag="afx.menu.undo", shortcut="Ctrl+Z",
                                  callback=lambda: self.undo())
                dpg.add_menu_item(label="Redo", tag="afx.menu.redo", shortcut="Ctrl+Shift+Z",
                                  callback=lambda: self.redo())
                dpg.add_separator()
                dpg.add_menu_item(label="Copy", shortcut="Ctrl+C", callback=lambda: self.copy())
                dpg.add_menu_item(label="Paste", shortcut="Ctrl+V", callback=lambda: self.paste())
                dpg.add_menu_item(label="Duplicate", shortcut="Ctrl+D", callback=lambda: self.duplicate())
                dpg.add_menu_item(label="Delete", shortcut="Del", callback=lambda: self.delete_selected())
                dpg.add_menu_item(label="Bypass (pass the input through)", shortcut="Ctrl+B",
                                  callback=lambda: self.toggle_mode("bypass"))
                dpg.add_menu_item(label="Mute (outputs zero)", shortcut="Ctrl+M",
                                  callback=lambda: self.toggle_mode("mute"))
                dpg.add_separator()
                dpg.add_menu_item(label="Group into a subpatch", shortcut="Ctrl+G",
                                  callback=lambda: self.group())
                dpg.add_menu_item(label="Ungroup", shortcut="Ctrl+Shift+G",
                                  callback=lambda: self.ungroup())
                dpg.add_menu_item(label="Go inside the subpatch", shortcut="Ctrl+E / double-click",
                                  callback=lambda: self.enter())
                dpg.add_menu_item(label="Back out of the subpatch", shortcut="Ctrl+Shift+E",
                                  callback=lambda: self.leave())
                dpg.add_separator()
                dpg.add_menu_item(label="Frame the selected nodes", shortcut="Ctrl+J",
                                  callback=lambda: self.frame_selection())
                dpg.add_menu_item(label="Remove their frames", shortcut="Ctrl+Shift+J",
                                  callback=lambda: self.unframe())
                dpg.add_menu_item(label="Tidy layout", callback=lambda: self.tidy())
            with dpg.menu(label="View"):
                self.canvas.menu()
                dpg.add_separator()
                self.panels.menu()
                self.cook.menu()
            with dpg.menu(label="Preview"):
                dpg.add_menu_item(label="Play / Pause", shortcut="Space",
                                  callback=lambda: self.panel.toggle())
                dpg.add_menu_item(label="Back to start", callback=lambda: self.worker.seek(0.0))
                dpg.add_menu_item(label="Performance view", shortcut="F5",
                                  callback=lambda: self.performance.open())
                dpg.add_menu_item(label="Live input (the default device)", shortcut="F6",
                                  check=True, tag=LIVE_MENU, callback=lambda: self.toggle_live())
            with dpg.menu(label="Help"):
                dpg.add_menu_item(label="Keyboard and mouse",
                                  callback=lambda: dpg.configure_item(dialogs.SHORTCUTS, show=True))
            # where the editor is when inside a subpatch; a click goes back out
            dpg.add_menu_item(label="", tag=CRUMB, show=False, callback=lambda: self.leave())

    def _on_resize(self) -> None:
        dpg.configure_item(EDITOR, width=self.panels.editor_width())

    # -- running -----------------------------------------------------------------------------
    def run(self) -> int:
        """The normal event loop of ``afx edit``; returns when the user quits."""
        if not self.built:
            self.build()
        return event_loop.run(self)

    def step(self, frames: int = 1) -> bool:
        """Render ``frames`` frames, run the callbacks they queued, bring the window up to
        date with the graph and the preview. Returns whether any callback ran."""
        ran = False
        for _ in range(frames):
            dpg.render_dearpygui_frame()
            ran |= event_loop.dispatch(dpg.get_callback_queue(), self._internal_error)
            try:
                self.update()
            except Exception as e:      # keep the editor (and the work in it) alive
                self._internal_error(e)
        return ran

    def _internal_error(self, e: Exception) -> None:
        event_loop.report(self, e)

    def shutdown(self) -> None:
        self.running = False
        self.worker.stop()
        if self.built:
            self.fit_dialog.shutdown()
            self.built = False
            dpg.destroy_context()

    # -- keeping the window in step ----------------------------------------------------------
    def _on_controller(self, what: str) -> None:
        self._need_sync = True
        if what == "graph":
            self._rebuild = True

    def update(self) -> None:
        c = self.controller
        dragging = dpg.is_mouse_button_down(dpg.mvMouseButton_Left)
        if self._rebuild:
            self.views.clear()
            self._rebuild = False
            self._need_sync = True
            self._layout_in = 2
            self.inspector.invalidate()
        if self._need_sync:
            self._need_sync = False
            self.views.sync(c.graph, active=self._active_widget, positions=not dragging)
            self._check()
        elif not dragging:
            moved = self.views.moved()
            if moved:
                c.move_nodes(moved)
        self.canvas.update(dragging)       # a patch just opened is fitted to the view
        if self._layout_in > 0:
            self._layout_in -= 1
            if self._layout_in == 0:
                if c.place_unplaced(self.views.sizes()):      # an edit: shown, undoable
                    self.canvas.fit_soon()
                    self.status("placed the nodes that had no position (Ctrl+Z undoes)", "ok")
        if self._autoplay and self.worker.latest() is not None:
            self._autoplay = False          # --play: once there is a picture to play
            self.worker.play()
        self._poll_selection()
        self.link_drop.update()
        self.keys.after_frame()
        self.worker.follow(c.preview_graph())   # inside a subpatch: the patch around it
        self.panel.update(c.graph.nodes)
        self.performance.update()
        if self.worker.errors_serial != self._errors_seen or self.problems.serial != self._problems_seen:
            self._errors_seen = self.worker.errors_serial
            self._problems_seen = self.problems.serial
            self.views.show_messages(self.shown_errors(), self.problems.by_node)
        self.render_dialog.update()
        self.fit_dialog.update()
        self.open_error.update()
        c.maybe_autosave()
        self._update_title()
        self.inspector.update()
        self.inspector.params.poll()
        self.frames.update(hidden=self.popup_shown() or self.performance.showing)
        self.cook.update(hidden=self.popup_shown() or self.performance.showing)
        self.status_bar.update()

    def _check(self) -> None:
        """Validation problems of the graph, shown on the nodes and in the status bar; the
        undo items say what they undo."""
        self.status_bar.problems(self.problems.check(self.controller.graph))
        undo = self.controller.undo_label
        redo = self.controller.redo_label
        dpg.configure_item("afx.menu.undo", label=f"Undo {undo}" if undo else "Undo",
                           enabled=undo is not None)
        dpg.configure_item("afx.menu.redo", label=f"Redo {redo}" if redo else "Redo",
                           enabled=redo is not None)

    @property
    def issues(self) -> dict[str, str]:
        """node -> its validation problem (what the nodes show)."""
        return self.problems.by_node

    def _update_title(self) -> None:
        title = f"{self.controller.title} - {self.app_title}"
        if title != self._title:
            self._title = title
            dpg.set_viewport_title(title)
            inside = bool(self.controller.outer)
            dpg.configure_item(CRUMB, show=inside, label=(
                f"    <  {' > '.join(nesting.breadcrumb(self.controller))}   (back out: "
                "Ctrl+Shift+E)") if inside else "")

    def _poll_selection(self) -> None:
        """Follow the editor's selection when it changes (a click, a box select)."""
        ids = []
        for item in dpg.get_selected_nodes(EDITOR):
            nid = dpg.get_item_user_data(item)
            if isinstance(nid, str):
                ids.append(nid)
        if ids == self._selection_seen:
            return
        self._selection_seen = ids
        if ids != self.controller.selection:
            self.controller.select(ids)
            self.worker.set_target(self.preview_node(ids[0]) if len(ids) == 1 else None)

    def preview_node(self, nid: str) -> str:
        """A node shown here as the preview names it (inside #rhythm: 'rhythm/walk')."""
        return self.controller.preview_prefix + nid

    def shown_errors(self) -> dict[str, str]:
        """The preview's errors by the nodes shown: an error inside a subpatch is shown on
        the subpatch node (or, inside it, on its own node)."""
        prefix = self.controller.preview_prefix
        out: dict[str, str] = {}
        for node, message in self.worker.errors.items():
            if prefix and not node.startswith(prefix):
                continue
            rest = node[len(prefix):]
            out.setdefault(rest.split("/", 1)[0], message)
        return out

    def modal_shown(self) -> bool:
        """A dialog is up: the keys are its own."""
        return any(dpg.is_item_shown(t) for t in MODALS)

    def popup_shown(self) -> bool:
        """Anything drawn over the canvas (the frames are drawn on top: they hide)."""
        return self.modal_shown() or self.add_menu.shown or self.frames.editing_shown

    # -- status ------------------------------------------------------------------------------
    def toggle_live(self, device: str | None = "default") -> None:
        """Switch the preview's audio between the patch's file and a live input (the patch
        is not changed: afx live --input does the same for a show)."""
        live = None if self.worker.live_input is not None else device
        self.worker.set_live_input(live)
        if dpg.does_item_exist(LIVE_MENU):
            dpg.set_value(LIVE_MENU, live is not None)
        self.worker.play()
        self.status("preview: live input " + ("on (" + live + ")" if live else
                                              "off: the patch's own audio"))

    def status(self, text: str, level: str = "info", *, toast: bool = True) -> None:
        """A message in the status bar (an error also pops up by the mouse)."""
        self.status_bar.show(text, level, toast=toast)

    @property
    def status_text(self) -> str:
        return self.status_bar.text

    # -- callbacks from the node editor ------------------------------------------------------
    def _on_link(self, sender, app_data) -> str | None:
        return self.link(app_data[0], app_data[1])

    def _on_delink(self, sender, app_data) -> None:
        self.unlink(app_data)

    def link(self, attr_a, attr_b) -> str | None:
        """What dragging a link between two pins does. Returns None when linked, else the
        reason (shown in the status bar and a popup; no link appears)."""
        a, b = parse_tag(attr_a), parse_tag(attr_b)
        if a and b and a[0] == "in" and b[0] == "out":
            a, b = b, a
        if not (a and b and a[0] == "out" and b[0] == "in"):
            reason = "drag from an output pin (right side) to an input pin (left side)"
        else:
            reason = self.controller.link(a[1], a[2], b[1], b[2])
        if reason:
            self.status(f"cannot link: {reason}", "error")
        else:
            self.status(f"linked {a[1]}.{a[2]} -> {b[1]}.{b[2]}", "ok")
        return reason

    def unlink(self, link_item) -> None:
        t = parse_tag(link_item)
        if t and t[0] == "link":
            old = self.controller.unlink(t[1], t[2])
            if old:
                self.status(f"unlinked {old}", "info")

    def _on_param(self, sender, app_data, user_data) -> None:
        node, name = user_data
        view = self.views.views.get(node)
        if view is None or name not in view.widgets:
            return
        w = view.widgets[name]
        value = widgets.from_widget(w.param, dpg.get_value(sender))
        live = w.kind in widgets.LIVE_KINDS
        self._active_widget = w.tag if live else None
        self._apply_param(node, name, value, live)

    def _apply_param(self, node: str, name: str, value, live: bool) -> str | None:
        reason = self.controller.set_param(node, name, value, live=live)
        if reason:
            self.status(f"{node}.{name}: {reason}", "error")
            self._need_sync = True        # the widget goes back to the graph's value
        return reason

    def _on_param_done(self, sender, app_data) -> None:
        t = parse_tag(app_data)
        self._active_widget = None
        if not t or t[0] != "param":
            self.controller.end_param_edit()
            return
        view = self.views.views.get(t[1])
        w = view.widgets.get(t[2]) if view else None
        if w is not None and w.kind in widgets.TEXT_KINDS:
            self._apply_param(t[1], t[2], widgets.from_widget(w.param, dpg.get_value(w.tag)), False)
        self.controller.end_param_edit()
        self._need_sync = True

    def _on_param_reset(self, sender, app_data) -> None:
        item = app_data[1] if isinstance(app_data, (list, tuple)) and len(app_data) > 1 else app_data
        t = parse_tag(item)
        if t and t[0] == "param" and t[1] in self.controller.graph.nodes:
            self.controller.reset_param(t[1], t[2])
            self.status(f"{t[1]}.{t[2]} back to its default", "info")

    def _on_browse(self, sender, app_data, user_data) -> None:
        node, name = user_data
        p = self.controller.graph.nodes[node].spec.params[name]
        self.dialogs.show_param(node, name, p.kind or "path")

    def _on_canvas_click(self, sender, app_data, double: bool = False) -> None:
        """A right-click or a double-click: on a frame's title, rename it; on empty canvas,
        the add menu; a double-click on a subpatch node goes inside."""
        if not dpg.is_item_hovered(EDITOR) or self.confirm_dialog.showing:
            return
        mouse = dpg.get_mouse_pos(local=False)
        index = self.frames.title_at(mouse)
        if index is not None:
            self.frames.edit(index, mouse)
            return
        over = [nid for nid, v in self.views.views.items() if dpg.is_item_hovered(v.tag)
                or any(dpg.does_item_exist(w.tag) and (dpg.is_item_hovered(w.tag)
                                                       or dpg.is_item_active(w.tag))
                       for w in v.widgets.values())]
        if over:            # a double-click on a value types it: no canvas action fires through
            if double and self.controller.graph.nodes[over[0]].type == subpatch.TYPE:
                self.enter(over[0])
            return
        self.add_menu.open()

    def patch_relative(self, path: str, kind: str) -> str:
        """A chosen file as the patch should hold it: an input file relative to the patch's
        folder when it is inside it; an output relative to the output folder (here)."""
        if kind == "output":
            rel = dialogs.relative_to(path, Path.cwd())
            if Path(rel).is_absolute():
                self.status("outputs written in a patch must stay inside the output folder; "
                            "use Render... to write anywhere", "warning")
            return rel
        return dialogs.relative_to(path, self.controller.graph.base_dir)

    # -- actions a person triggers (also the test API) ---------------------------------------
    def add_from_palette(self, type_id: str, pos=None) -> str | None:
        """Add a node of ``type_id`` at ``pos`` (patch coordinates), else beside the
        selected node when that is in view, else in the free place nearest the middle of
        the view (the palette: the view may be zoomed and panned anywhere)."""
        c = self.controller
        if pos is None:
            try:
                spec = self.registry.get(type_id)
            except KeyError as e:
                self.status(str(e), "error")
                return None
            rows = len(spec.inputs) + len(spec.params) + len(spec.outputs)
            size = (layout.NODE_WIDTH, layout.TITLE + layout.ROW * rows + 8)
            pos = c.free_spot(self.views.sizes(), size,
                              near=c.selection[0] if len(c.selection) == 1 else None,
                              view=self.canvas.visible_patch())
        try:
            nid = c.add_node(type_id, pos)
        except AfxError as e:
            self.status(str(e.issue.message), "error")
            return None
        self.status(f"added {nid} ({type_id}) at {list(pos)}", "ok")
        return nid

    def open_add_menu(self, at=None, **how) -> None:
        """The add menu at the mouse (add_menu.py)."""
        self.add_menu.open(at, **how)

    def set_param_widget(self, node: str, name: str, value, *, drag: bool = False) -> str | None:
        """Put ``value`` in a param's widget and fire its callback, as a person editing it
        does (``drag=True``: one step of a slider drag; release with :meth:`release_widget`)."""
        if node not in self.views.views:
            self.step(1)                  # the node appears with the next frame
        view = self.views.views[node]
        w = view.widgets[name]
        dpg.set_value(w.tag, widgets.to_widget(w.param, value))
        self._on_param(w.tag, dpg.get_value(w.tag), (node, name))
        if not drag:
            self.release_widget(node, name)
        return None

    def release_widget(self, node: str, name: str) -> None:
        self._on_param_done(PARAM_HANDLERS, self.views.views[node].widgets[name].tag)

    def set_param(self, node: str, name: str, value) -> str | None:
        return self._apply_param(node, name, value, False)

    def select(self, ids) -> None:
        """Select nodes (dearpygui has no call to select nodes; this is what a click does to
        the editor's state)."""
        dpg.clear_selected_nodes(EDITOR)
        self._selection_seen = []
        self.controller.select(list(ids))
        self.worker.set_target(self.preview_node(ids[0]) if len(ids) == 1 else None)

    def toggle_mode(self, mode: str) -> None:
        """Ctrl+B / Ctrl+M: bypass or mute the selected nodes (again: they run)."""
        reason = self.controller.toggle_mode(mode)
        if reason:
            self.status(reason, "info")
            return
        sel = self.controller.selection
        now = self.controller.graph.nodes[sel[0]].mode
        self.status(f"{', '.join(sel)}: {now + 'ed' if now == 'bypass' else now + 'd' if now else 'running'}"
                    " (Ctrl+Z undoes)", "ok")

    def go_to_problem(self) -> str | None:
        """A click on "N problems": the first node with one is selected and brought into the
        middle of the canvas (a problem of the patch's settings: its form, in the inspector)."""
        by_node = self.problems.by_node
        nid = next((n for n in by_node if n in self.controller.graph.nodes), None)
        if nid is None:
            self.select([])
            if self.problems.other:
                self.status(self.problems.other[0], "warning")
            return None
        self.select([nid])
        self.canvas.show_node(nid)
        self.status(f"{nid}: {by_node[nid]}", "warning")
        return nid

    def delete_selected(self) -> int:
        """Delete: the selected nodes with their own links, or the selected links when no
        node is selected (a box select also selects links it crosses: see selection.py)."""
        links = []
        for item in dpg.get_selected_links(EDITOR):
            t = parse_tag(item)
            if t and t[0] == "link":
                links.append((t[1], t[2]))
        nodes, links = to_delete(self.controller.selection, links)
        n = self.controller.delete(nodes, links)
        if n:
            dpg.clear_selected_nodes(EDITOR)
            dpg.clear_selected_links(EDITOR)
            self.status(f"deleted {n} item{'s' if n != 1 else ''}", "info")
        return n

    def undo(self) -> bool:
        label = self.controller.undo_label
        ok = self.controller.undo()
        self.status(f"undid {label}" if ok else "nothing to undo", "info")
        return ok

    def redo(self) -> bool:
        label = self.controller.redo_label
        ok = self.controller.redo()
        self.status(f"redid {label}" if ok else "nothing to redo", "info")
        return ok

    def copy(self) -> int:
        n = self.controller.copy()
        self.status(f"copied {n} node{'s' if n != 1 else ''}" if n else "select nodes to copy", "info")
        return n

    def paste(self, at=None) -> list[str]:
        if at is None and dpg.is_item_hovered(EDITOR):
            at = self.mouse_grid()
        new = self.controller.paste(at)
        if new:
            self.select(new)              # what was pasted is what Delete or Ctrl+C acts on next
            self.status(f"pasted {', '.join(new)} (selected)", "ok")
        return new

    def duplicate(self) -> list[str]:
        new = self.controller.duplicate()
        if new:
            self.select(new)
            self.status(f"duplicated as {', '.join(new)} (selected)", "ok")
        return new

    def frame_selection(self, title: str = "") -> int | None:
        """Ctrl+J: a frame around the selected nodes; its title is asked at once."""
        index = self.controller.add_frame(self.controller.selection, title)
        if index is None:
            self.status("select the nodes to frame first", "warning")
            return None
        self.status("framed the selection; type its title (Ctrl+Z undoes)", "ok")
        if not title and self.built:
            self.step(1)                        # drawn, so the popup sits on its title
            tab = self.frames.drawn.get(index)
            self.frames.edit(index, (tab[0], tab[1]) if tab else None)
        return index

    def unframe(self) -> int:
        """Ctrl+Shift+J: take away the frames around the selected nodes (they stay)."""
        n = self.controller.remove_frames(self.controller.frames_around(self.controller.selection))
        self.status(f"removed {n} frame{'s' if n != 1 else ''}" if n else
                    "no frame around the selected nodes", "info")
        return n

    def group(self) -> str | None:
        """Ctrl+G: the selected nodes become one subpatch node (Ctrl+Z undoes)."""
        nid = self.controller.group()
        if nid is None:
            self.status(f"cannot group: {self.controller.last_refusal}", "warning")
            return None
        self.status(f"grouped into {nid}: double-click it (or Ctrl+E) to go inside", "ok")
        return nid

    def ungroup(self, nid: str | None = None) -> list[str]:
        """Ctrl+Shift+G: the selected subpatch node becomes the nodes it holds."""
        sel = self.controller.selection
        nid = nid or (sel[0] if len(sel) == 1 else None)
        if nid is None:
            self.status("select one subpatch node to ungroup", "warning")
            return []
        ids = self.controller.ungroup(nid)
        if not ids:
            self.status(f"cannot ungroup: {self.controller.last_refusal}", "warning")
        else:
            self.status(f"ungrouped {nid} into {', '.join(ids)}", "ok")
        return ids

    def enter(self, nid: str | None = None) -> bool:
        """Ctrl+E or a double-click: edit what the subpatch holds."""
        sel = self.controller.selection
        nid = nid or (sel[0] if len(sel) == 1 else None)
        reason = self.controller.enter(nid) if nid else "select a subpatch node first"
        if reason:
            self.status(f"cannot go inside: {reason}", "warning")
            return False
        dpg.clear_selected_nodes(EDITOR)
        self._selection_seen = []
        self.worker.set_target(None)
        self.canvas.fit_soon()
        self.status(f"inside {' > '.join(nesting.breadcrumb(self.controller))} "
                    "(Ctrl+Shift+E backs out)", "ok")
        return True

    def leave(self) -> bool:
        """Ctrl+Shift+E or the breadcrumb: back to the patch around."""
        reason = self.controller.leave()
        if reason:
            self.status(reason, "warning")
            return False
        dpg.clear_selected_nodes(EDITOR)
        self._selection_seen = []
        self.worker.set_target(None)
        self.canvas.fit_soon()
        self.status(f"back in {' > '.join(nesting.breadcrumb(self.controller))}", "ok")
        return True

    def tidy(self) -> None:
        if self.controller.tidy(self.views.sizes()):
            self.canvas.fit_soon()          # the new layout, all of it
            self.status("tidied the layout", "ok")

    def confirm(self, what: str, action) -> None:
        """Run ``action`` now, or after the unsaved-changes prompt when there are any."""
        if self.controller.dirty:
            self.confirm_dialog.ask(what, action)
        else:
            action()

    def request_new(self) -> None:
        self.confirm("start a new patch", self.new)

    def request_open(self, path=None) -> None:
        self.confirm("open another patch",
                     (lambda: self.open(path)) if path is not None else self.dialogs.show_open)

    def request_quit(self) -> None:
        self.confirm("quit", self.quit_now)

    def quit_now(self) -> None:
        self.controller.close()
        self.running = False
        if self.built:
            dpg.stop_dearpygui()

    def _replaced(self, play: bool = False) -> None:
        """Another patch is in the editor: the preview drops the last one's picture (and
        ``play``s the new one from its first frame)."""
        self.worker.new_document(self.controller.preview_graph(), play)
        self.panel.forget()

    def new(self) -> None:
        self.controller.new()
        self._replaced()
        self.canvas.fit_soon()
        self.status("new patch", "info")

    def open_at_start(self, path: Path) -> None:
        """``afx edit PATH``: open it; a path with no file yet is a new patch that Save writes
        there. A file that cannot be opened leaves the new, empty patch, untitled (Save must
        not replace the user's broken file with an empty patch), and the dialog says why."""
        if path.exists():
            self.open(path)
        else:
            self.controller.new()
            self._replaced()
            self.controller.graph.path = path.expanduser().resolve()
            self.status(f"new patch: Save writes {path}", "info")

    def open(self, path) -> bool:
        """Open a patch now (unsaved changes are dropped: :meth:`request_open` asks first)."""
        try:
            issues = self.controller.open(path)
        except AfxError as e:       # nothing changed: the dialog says where the file is wrong
            self.status(f"cannot open: {e.lines[0]}", "error", toast=False)
            self.open_error.show(path, e)
            return False
        self._replaced(play=True)           # a patch opens playing
        self.canvas.fit_soon()
        n = len(self.controller.graph.nodes)
        if issues:
            self.status(f"opened {Path(path).name} ({n} nodes) with {len(issues)} problem"
                        f"{'s' if len(issues) != 1 else ''}: {issues[0]}", "warning")
        else:
            self.status(f"opened {Path(path).name} ({n} nodes)", "ok")
        return True

    def restore(self, rec) -> None:
        self.controller.restore_recovery(rec)
        self._replaced()
        self.canvas.fit_soon()
        self.status(f"restored unsaved work on {rec.name}; Save to keep it", "warning")

    def _offer_recovery(self) -> None:
        if not self.recovery_dialog.offer():
            self.status("no autosaves to recover", "info")

    def show_save_dialog(self, then=None) -> None:
        self.dialogs.show_save(then)

    def save(self, path=None) -> bool:
        """Save (to ``path``, else to the patch's file; a new patch asks where)."""
        if path is None and self.controller.path is None:
            self.show_save_dialog()
            return False
        try:
            p = self.controller.save(path)
        except (AfxError, OSError) as e:
            self.status(f"cannot save: {e}", "error")
            return False
        self.status(f"saved {p}", "ok")
        return True

    def start_render(self, output: str | None = None, force: bool = False) -> bool:
        self.render_dialog.show()
        return self.render_dialog.start(output, force)

    def press(self, key: int, *, ctrl: bool = False, shift: bool = False) -> None:
        """A key press (keys.py; tests call it directly)."""
        self.keys.press(key, ctrl=ctrl, shift=shift)

    def add_first_match(self) -> str | None:
        """Enter in the palette's search box: add the first matching type."""
        first = self.palette.first_match()
        if first is None:
            self.status(f"no node type matches '{self.palette.query}'", "warning")
            return None
        return self.add_from_palette(first)

    def type_in_search(self, text: str) -> list[str]:
        """Typing in the palette's search box."""
        dpg.set_value(SEARCH, text)
        return self.palette.filter(text)

    def mouse_grid(self) -> tuple[int, int]:
        """The patch position under the mouse (through the view's zoom and pan)."""
        x, y = self.canvas.screen_to_patch(dpg.get_mouse_pos(local=False))
        return int(round(x)), int(round(y))

    # -- looking at it -----------------------------------------------------------------------
    def screenshot(self, path: str | Path, frames: int = 30) -> Path:
        """Save what the window shows to a PNG (after the next frame is drawn)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        dpg.output_frame_buffer(file=str(path))
        for _ in range(frames):
            self.step(1)
            if path.exists() and path.stat().st_size > 0:
                break
        return path

    def save_screenshot(self, folder: str | Path | None = None) -> Path:
        """File > Save screenshot: the window as a PNG in the current folder (written when
        the next frame is drawn)."""
        folder = Path(folder) if folder is not None else Path.cwd()
        path = folder / time.strftime("afx-screenshot-%Y%m%d-%H%M%S.png")
        dpg.output_frame_buffer(file=str(path))
        self.status(f"screenshot: {path}", "ok")
        return path

    def preview_region(self) -> tuple[list[int], list[int]]:
        return self.panel.region()

    def wait_preview(self, predicate=lambda f: True, timeout: float = 60.0, frames_between: int = 1):
        """Step frames until the preview shows a frame satisfying ``predicate``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.step(frames_between)
            f = self.panel.last
            if f is not None and predicate(f):
                return f
            time.sleep(0.01)
        return None


def _leave_a_core_to_the_ui() -> None:
    """Torch's threads busy-wait for each other; when they share the cores with the window
    (and a software OpenGL drawing it) the preview slows to a crawl (measured on 2 cores:
    0.5 frames/s with 2 threads, 21 with 1 at 256x256). So the editor's process keeps one
    core for the window."""
    import os
    import torch
    cores = os.cpu_count() or 1
    if torch.get_num_threads() >= cores:
        torch.set_num_threads(max(1, cores - 1))


def check_display() -> None:
    if sys.platform.startswith("linux"):
        import os
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            raise AfxError("afx edit needs a display, and there is none (DISPLAY is not set); on a "
                           "machine without a screen run it under Xvfb: Xvfb :99 & DISPLAY=:99 afx edit")


def main(path=None, **options) -> int:
    check_display()
    app = EditorApp(path, **options)
    import signal

    def stop(signum, frame):          # killed or logged out: keep the unsaved work
        app.controller.autosave()
        raise SystemExit(128 + signum)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)
    return app.run()
