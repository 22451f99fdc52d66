"""The editor window (dearpygui): palette | node editor | preview, a menu bar and a status bar.

:class:`EditorApp` wires dearpygui callbacks to the :class:`~afx_graph.ui.controller.
EditorController` (all editing) and the :class:`~afx_graph.ui.preview.PreviewWorker` (all
rendering, on its own thread). Its public methods are the actions a person triggers (add a
node from the palette, drag a link, move a slider, press a shortcut, save...): ``afx edit``
runs the normal event loop, and tests drive the same methods frame by frame with
:meth:`EditorApp.step` on a virtual display.

Callbacks run on this (the UI) thread: dearpygui's manual callback management queues them
and :meth:`EditorApp.step` runs them after each frame.
"""
from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

import dearpygui.dearpygui as dpg

from afx_graph import AfxError
from afx_graph.registry import Registry

from . import dialogs, error_dialog, fit_dialog, layout, screen, view, widgets
from .canvas import CANVAS, Canvas
from .controller import AUTOSAVE_SECONDS, EditorController
from .link_drop import LinkDropWatcher
from .nodes import EDITOR, NodeViews, parse_tag
from .palette import SEARCH, Palette, paragraphs, search
from .panels import Panels
from .preview import DEFAULT_SIZE, PreviewWorker
from .performance import PerformanceView
from .preview_panel import PreviewPanel
from .selection import to_delete
from .theme import ERROR, MUTED, OK, TEXT, WARNING, Themes

PALETTE_W = 200
PREVIEW_W = 420
STATUS_H = 30
MAIN = "afx.main"
STATUS = "afx.status"
PROBLEMS = "afx.problems"
INSPECT = "afx.inspect"
TOAST = "afx.toast"
ADDMENU = "afx.addmenu"
PARAM_HANDLERS = "afx.h.param"
MODALS = (dialogs.CONFIRM, dialogs.RECOVER, dialogs.FD_OPEN, dialogs.FD_SAVE, dialogs.FD_PARAM,
          dialogs.FD_RENDER, fit_dialog.FD_IMAGES, error_dialog.OPEN_ERROR)
FRAME_SECONDS = 1 / 60          # UI frame rate while the user works,
PLAY_FRAME_SECONDS = 1 / 30     # while the preview plays on its own,
IDLE_FRAME_SECONDS = 1 / 20     # and while nothing happens (leaves the CPU to the preview)
SLOW_FRAME = 0.025              # a frame this slow to draw means software OpenGL


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
        self.issues: dict[str, str] = {}         # node -> validation problem
        self.global_issues: list[str] = []
        self._need_sync = True
        self._rebuild = True
        self._layout_in = -1                    # frames until the first layout fix-up
        self._active_widget: str | None = None
        self._errors_seen = -1
        self._title = None
        self._toast_until = 0.0
        self._addmenu_at = None
        self._inspected = object()
        self._status_text = ""
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
                                        width=self._editor_width(w), height=-STATUS_H, minimap=True,
                                        minimap_location=dpg.mvNodeMiniMap_Location_BottomRight)
                with dpg.child_window(tag="afx.right", width=PREVIEW_W, height=-STATUS_H):
                    self.panel.build("afx.right")
                    dpg.add_separator()
                    dpg.add_group(tag=INSPECT)
            with dpg.group(horizontal=True):
                dpg.add_text("", tag=STATUS)
                dpg.add_text("", tag=PROBLEMS, color=WARNING)
                with dpg.tooltip(PROBLEMS):
                    dpg.add_text("", tag=f"{PROBLEMS}.list", wrap=600)
        with dpg.window(tag=TOAST, show=False, no_title_bar=True, autosize=True, no_move=True,
                        min_size=(60, 20), no_focus_on_appearing=True, no_resize=True):
            dpg.add_text("", tag=f"{TOAST}.text", color=ERROR, wrap=420)
        # a popup sizes itself to its content, so its items get fixed widths: with -1 the
        # list shrank to ~170 px and cut the type ids ("Feedback [image.feedba")
        with dpg.window(tag=ADDMENU, show=False, popup=True, width=340, height=300, no_title_bar=True):
            dpg.add_text("Add node here", tag=f"{ADDMENU}.title", color=MUTED)
            dpg.add_input_text(tag=f"{ADDMENU}.search", width=320, hint="search, Enter adds",
                               callback=lambda s, a: self._addmenu_filter(a))
            dpg.add_listbox([], tag=f"{ADDMENU}.list", width=320, num_items=12,
                            callback=lambda s, a: self._addmenu_pick(a))
        self.confirm_dialog = dialogs.ConfirmDialog(self)
        self.dialogs = dialogs.FileDialogs(self)
        self.render_dialog = dialogs.RenderDialog(self)
        self.recovery_dialog = dialogs.RecoveryDialog(self)
        self.fit_dialog = fit_dialog.FitDialog(self)
        self.open_error = error_dialog.OpenErrorDialog(self)
        dialogs.build_shortcuts()
        self.canvas.build()
        with dpg.handler_registry():
            dpg.add_key_press_handler(callback=self._on_key)
            dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Right, callback=self._on_right_click)
            dpg.add_mouse_double_click_handler(button=dpg.mvMouseButton_Left,
                                               callback=self._on_right_click)
        self.link_drop = LinkDropWatcher(self)      # a link dropped on empty canvas
        self.text_inputs = {SEARCH, f"{ADDMENU}.search", f"{dialogs.RENDER}.out", "afx.set.size",
                            "afx.set.fps", "afx.set.duration"} | self.fit_dialog.text_inputs
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
                dpg.add_menu_item(label="Recover autosaves...", callback=self._offer_recovery)
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
                dpg.add_separator()
                dpg.add_menu_item(label="Tidy layout", callback=lambda: self.tidy())
            with dpg.menu(label="View"):
                self.canvas.menu()
                dpg.add_separator()
                self.panels.menu()
            with dpg.menu(label="Preview"):
                dpg.add_menu_item(label="Play / Pause", shortcut="Space",
                                  callback=lambda: self.panel.toggle())
                dpg.add_menu_item(label="Back to start", callback=lambda: self.worker.seek(0.0))
                dpg.add_menu_item(label="Performance view", shortcut="F5",
                                  callback=lambda: self.performance.open())
            with dpg.menu(label="Help"):
                dpg.add_menu_item(label="Keyboard and mouse",
                                  callback=lambda: dpg.configure_item(dialogs.SHORTCUTS, show=True))

    def _editor_width(self, viewport_w: int) -> int:
        return self.panels.editor_width()       # what the panels leave (they can be hidden)

    def _on_resize(self) -> None:
        dpg.configure_item(EDITOR, width=self._editor_width(dpg.get_viewport_client_width()))

    # -- running -----------------------------------------------------------------------------
    def run(self) -> int:
        """The normal event loop of ``afx edit``; returns when the user quits."""
        if not self.built:
            self.build()
        self.running = True
        last_input, last_mouse = 0.0, None
        try:
            while self.running and dpg.is_dearpygui_running():
                t0 = time.perf_counter()
                self.step(1)
                mouse = dpg.get_mouse_pos(local=False)
                if (mouse != last_mouse or self._callbacks_ran or dpg.is_mouse_button_down(0)
                        or dpg.is_mouse_button_down(1) or dpg.is_mouse_button_down(2)):
                    last_input, last_mouse = t0, mouse
                frame = (FRAME_SECONDS if t0 - last_input < 1.0 else
                         PLAY_FRAME_SECONDS if self.worker.clock.playing else IDLE_FRAME_SECONDS)
                cost = time.perf_counter() - t0
                spare = frame - cost
                if cost > SLOW_FRAME and t0 - last_input >= 1.0:
                    spare = max(spare, cost)   # software GL: leave at least half the CPU to the preview
                if spare > 0:
                    time.sleep(spare)
        except BaseException:
            self.controller.autosave()          # never lose work to a crash
            raise
        finally:
            self.shutdown()
        return 0

    def step(self, frames: int = 1) -> None:
        """Render ``frames`` frames, run the callbacks they queued, bring the window up to
        date with the graph and the preview."""
        for _ in range(frames):
            dpg.render_dearpygui_frame()
            self._dispatch(dpg.get_callback_queue())
            try:
                self.update()
            except Exception as e:      # keep the editor (and the work in it) alive
                self._internal_error(e)

    def _internal_error(self, e: Exception) -> None:
        self.callback_errors.append(traceback.format_exc())
        traceback.print_exc()
        self.status(f"internal error: {type(e).__name__}: {e}", "error")
        try:
            self.controller.autosave()
        except Exception:
            pass

    def _dispatch(self, jobs) -> None:
        self._callbacks_ran = bool(jobs)
        for job in jobs or ():
            fn = job[0]
            if fn is None:
                continue
            try:
                try:
                    n = fn.__code__.co_argcount - (1 if hasattr(fn, "__self__") else 0)
                except AttributeError:
                    n = 3
                fn(*job[1:1 + n])
            except Exception as e:       # a bug in a callback must not take the editor down
                self._internal_error(e)

    _callbacks_ran = False
    _autoplay = False
    _last_typed: str | None = None     # the text field active in the previous frame

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
            self._inspected = object()
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
        self._last_typed = next((t for t in (SEARCH, f"{ADDMENU}.search") if dpg.is_item_active(t)),
                                None)
        self.worker.follow(c.graph)
        self.panel.update(c.graph.nodes)
        self.performance.update()
        if self.worker.errors_serial != self._errors_seen or self._issues_changed:
            self._errors_seen = self.worker.errors_serial
            self._issues_changed = False
            self.views.show_messages(self.worker.errors, self.issues)
            self._inspected = object()
        self.render_dialog.update()
        self.fit_dialog.update()
        self.open_error.update()
        c.maybe_autosave()
        self._update_title()
        self._inspect()
        if self._toast_until and time.monotonic() > self._toast_until:
            self._toast_until = 0.0
            dpg.configure_item(TOAST, show=False)

    _issues_changed = True

    def _check(self) -> None:
        """Validation problems of the graph, shown on the nodes and in the status bar."""
        issues: dict[str, str] = {}
        other = []
        for i in self.controller.graph.validate():
            text = f"{i.field}: {i.message}" if i.field else i.message
            if i.node and i.node in self.controller.graph.nodes:
                issues.setdefault(i.node, text)
            else:
                other.append(f"{i.node}: {text}" if i.node else text)
        all_lines = [f"{n}: {m}" for n, m in issues.items()] + other
        if issues != self.issues:
            self.issues = issues
            self._issues_changed = True
        self.global_issues = other
        n = len(all_lines)
        dpg.set_value(PROBLEMS, f"   {n} problem{'s' if n != 1 else ''}" if n else "")
        dpg.set_value(f"{PROBLEMS}.list", "\n".join(all_lines[:30]))
        undo = self.controller.undo_label
        redo = self.controller.redo_label
        dpg.configure_item("afx.menu.undo", label=f"Undo {undo}" if undo else "Undo",
                           enabled=undo is not None)
        dpg.configure_item("afx.menu.redo", label=f"Redo {redo}" if redo else "Redo",
                           enabled=redo is not None)

    def _update_title(self) -> None:
        title = f"{self.controller.title} - {self.app_title}"
        if title != self._title:
            self._title = title
            dpg.set_viewport_title(title)

    def _poll_selection(self) -> None:
        """Follow the editor's selection when it changes (a click, a box select)."""
        ids = []
        for item in dpg.get_selected_nodes(EDITOR):
            nid = dpg.get_item_user_data(item)
            if isinstance(nid, str):
                ids.append(nid)
        if ids == self._dpg_selection:
            return
        self._dpg_selection = ids
        if ids != self.controller.selection:
            self.controller.select(ids)
            self.worker.set_target(ids[0] if len(ids) == 1 else None)

    _dpg_selection: list = []

    def _inspect(self) -> None:
        """Below the preview: the selected node's doc and problem, or the patch settings."""
        sel = tuple(self.controller.selection)
        key = (sel, self.controller.graph.revision, id(self.controller.graph),
               self.worker.errors_serial, self._issues_changed)
        if key == self._inspected:
            return
        self._inspected = key
        dpg.delete_item(INSPECT, children_only=True)
        g = self.controller.graph
        if len(sel) == 1 and sel[0] in g.nodes:
            n = g.nodes[sel[0]]
            dpg.add_text(f"{n.id}", parent=INSPECT, color=OK)
            if n.spec is None:
                dpg.add_text(f"unknown type '{n.type}'", parent=INSPECT, color=WARNING)
            else:
                dpg.add_text(f"{n.spec.id}  ({n.spec.category}, {n.spec.rate})", parent=INSPECT, color=MUTED)
                if len(n.spec.outputs) > 1:
                    node_id = n.id
                    shown = self.worker.target[1] if self.worker.target[0] == n.id else None
                    with dpg.group(horizontal=True, parent=INSPECT):
                        dpg.add_text("preview output")
                        dpg.add_combo(list(n.spec.outputs), tag="afx.inspect.port", width=170,
                                      default_value=shown or resolve_port(n.spec),
                                      callback=lambda s_, a: self.worker.set_target(node_id, a))
                dpg.add_text(paragraphs(n.spec.doc), parent=INSPECT, wrap=PREVIEW_W - 30)
            if n.id in self.worker.errors:
                dpg.add_text(f"failed: {self.worker.errors[n.id]}", parent=INSPECT, color=ERROR,
                             wrap=PREVIEW_W - 30)
            if n.id in self.issues:
                dpg.add_text(self.issues[n.id], parent=INSPECT, color=WARNING, wrap=PREVIEW_W - 30)
            return
        s = g.settings
        dpg.add_text("Patch settings", parent=INSPECT, color=MUTED)
        size = s.get("size") if isinstance(s.get("size"), list) else [640, 360]
        with dpg.group(horizontal=True, parent=INSPECT):
            dpg.add_text("size")
            dpg.add_input_intx(tag="afx.set.size", size=2, width=150, default_value=list(size) + [0, 0],
                               on_enter=True, callback=lambda s_, a: self._set_setting(
                                   "size", [int(a[0]), int(a[1])]))
            dpg.add_text("fps")
            dpg.add_input_float(tag="afx.set.fps", width=90, default_value=float(s.get("fps") or 30),
                                step=0, on_enter=True, format="%.3g",
                                callback=lambda s_, a: self._set_setting("fps", a))
        with dpg.group(horizontal=True, parent=INSPECT):
            dpg.add_text("duration")
            dpg.add_input_float(tag="afx.set.duration", width=90, step=0, on_enter=True, format="%.2f",
                                default_value=float(s.get("duration") or 0),
                                callback=lambda s_, a: self._set_setting("duration", a if a > 0 else None))
            dpg.add_text("s (0: the audio's length)", color=MUTED)
        if self.global_issues:
            dpg.add_text("\n".join(self.global_issues[:6]), parent=INSPECT, color=WARNING,
                         wrap=PREVIEW_W - 30)
        dpg.add_text("Select a node to preview it and read what it does.", parent=INSPECT, color=MUTED,
                     wrap=PREVIEW_W - 30)

    def _set_setting(self, key: str, value) -> None:
        reason = self.controller.set_settings(**{key: value})
        if reason:
            self.status(f"settings: {reason}", "error")
            self._inspected = object()

    # -- status ------------------------------------------------------------------------------
    def status(self, text: str, level: str = "info", *, toast: bool = True) -> None:
        self._status_text = text
        color = {"error": ERROR, "ok": OK, "warning": WARNING}.get(level, TEXT)
        if not self.built:
            return
        dpg.set_value(STATUS, text)
        dpg.configure_item(STATUS, color=color)
        if level == "error" and toast:
            self.toast(text)

    @property
    def status_text(self) -> str:
        return self._status_text

    def toast(self, text: str, seconds: float = 4.0) -> None:
        dpg.set_value(f"{TOAST}.text", text)
        mx, my = dpg.get_mouse_pos(local=False)
        vw = dpg.get_viewport_client_width()
        x = int(min(max(mx + 16, PALETTE_W + 20), vw - 460))
        y = int(max(my + 16, 40))
        dpg.configure_item(TOAST, show=True, pos=[x, y])
        self._toast_until = time.monotonic() + seconds

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
        self._dpg_selection = []
        self.controller.select(list(ids))
        self.worker.set_target(ids[0] if len(ids) == 1 else None)

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
            at = self._mouse_grid()
        new = self.controller.paste(at)
        if new:
            self.status(f"pasted {', '.join(new)}", "ok")
        return new

    def duplicate(self) -> list[str]:
        new = self.controller.duplicate()
        if new:
            self.status(f"duplicated as {', '.join(new)}", "ok")
        return new

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

    def new(self) -> None:
        self.controller.new()
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

    # -- keyboard and mouse ------------------------------------------------------------------
    def _typing(self) -> bool:
        """A text field (or a slider typed into) has the keyboard: keys are its own."""
        tags = self.text_inputs | self.views.text_inputs
        if any(dpg.does_item_exist(t) and dpg.is_item_active(t) for t in tags):
            return True
        return any(dpg.is_item_active(w.tag) for v in self.views.views.values()
                   for w in v.widgets.values() if dpg.does_item_exist(w.tag))

    def _on_key(self, sender, key) -> None:
        ctrl = any(dpg.is_key_down(k) for k in (dpg.mvKey_ModCtrl, dpg.mvKey_LControl, dpg.mvKey_RControl))
        shift = any(dpg.is_key_down(k) for k in (dpg.mvKey_ModShift, dpg.mvKey_LShift, dpg.mvKey_RShift))
        self.press(key, ctrl=ctrl, shift=shift)

    def press(self, key: int, *, ctrl: bool = False, shift: bool = False) -> None:
        """A key press (what the key handler does; tests call it directly)."""
        if key == dpg.mvKey_F12:
            self.save_screenshot()
            return
        if self.performance.press(key):
            return                      # the performance view is up: the editor is hidden
        if self.open_error.showing and key in (dpg.mvKey_Return, dpg.mvKey_NumPadEnter,
                                               dpg.mvKey_Escape):
            self.open_error.close()
            return
        if key in (dpg.mvKey_Return, dpg.mvKey_NumPadEnter) and self.dialogs.enter():
            return                      # Enter in a file dialog: its OK
        if key == dpg.mvKey_Escape and self.dialogs.escape():
            return
        if any(dpg.is_item_shown(t) for t in MODALS):
            return                      # keys belong to the dialog
        typing = self._typing()
        if key in (dpg.mvKey_Return, dpg.mvKey_NumPadEnter):
            # Enter ends the text field's editing before this runs: ask which field it was
            if dpg.is_item_shown(ADDMENU) and self._last_typed in (f"{ADDMENU}.search", None):
                self._addmenu_pick(None)
            elif self._last_typed == SEARCH or dpg.is_item_active(SEARCH):
                self.add_first_match()
            return
        if ctrl:
            if typing and key in (dpg.mvKey_Z, dpg.mvKey_Y, dpg.mvKey_C, dpg.mvKey_V, dpg.mvKey_D):
                return                  # the text field's own undo / copy / paste
            action = {
                dpg.mvKey_Z: self.redo if shift else self.undo, dpg.mvKey_Y: self.redo,
                dpg.mvKey_C: self.copy, dpg.mvKey_V: self.paste, dpg.mvKey_D: self.duplicate,
                dpg.mvKey_S: self.show_save_dialog if shift else self.save,
                dpg.mvKey_O: self.request_open, dpg.mvKey_N: self.request_new,
                dpg.mvKey_R: self.render_dialog.show, dpg.mvKey_Q: self.request_quit,
            }.get(key)
            if action is not None:
                action()
            return
        if typing:
            return
        if self.canvas.press(key) or self.panels.press(key):
            return
        if key == dpg.mvKey_Delete:
            self.delete_selected()
        elif key == dpg.mvKey_F5:
            self.performance.open()
        elif key == dpg.mvKey_Spacebar:
            self.panel.toggle()
        elif key == dpg.mvKey_Escape:
            dpg.configure_item(ADDMENU, show=False)
        elif key == dpg.mvKey_Tab and dpg.is_item_hovered(EDITOR):
            self.open_add_menu()

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

    def _on_right_click(self, sender, app_data) -> None:
        if not dpg.is_item_hovered(EDITOR) or self.confirm_dialog.showing:
            return
        if any(dpg.is_item_hovered(v.tag) for v in self.views.views.values()):
            return
        self.open_add_menu()

    def open_add_menu(self, at=None, *, only=None, then=None, title=None, screen=None) -> None:
        """The add menu at the mouse (``screen``), adding at ``at`` (patch units; default:
        under the mouse); ``only``: the type ids it offers (a dropped link: link_drop.py),
        ``then(type_id, at)``: what choosing does instead of adding."""
        self._addmenu_at = at if at is not None else self._mouse_grid()
        self._addmenu_only, self._addmenu_then = only, then
        mx, my = screen if screen is not None else dpg.get_mouse_pos(local=False)
        dpg.set_value(f"{ADDMENU}.title", title or "Add node here")
        dpg.set_value(f"{ADDMENU}.search", "")
        self._addmenu_filter("")
        dpg.configure_item(ADDMENU, show=True, pos=[int(mx), int(my)])
        dpg.focus_item(f"{ADDMENU}.search")

    def _addmenu_filter(self, query: str) -> None:
        found = search(self.registry, query)
        if self._addmenu_only is not None:
            found = [t for t in found if t in self._addmenu_only]
        items = [f"{self.registry.get(t).title}  [{t}]" for t in found]
        dpg.configure_item(f"{ADDMENU}.list", items=items)
        self._addmenu_found = found

    _addmenu_found: list = []
    _addmenu_only = _addmenu_then = None

    def _addmenu_pick(self, label) -> str | None:
        found = self._addmenu_found
        if not found:
            return None
        type_id = found[0]
        if label:
            type_id = label.rsplit("[", 1)[-1].rstrip("]")
        dpg.configure_item(ADDMENU, show=False)
        at = self._addmenu_at
        if self._addmenu_then is not None:
            return self._addmenu_then(type_id, at)
        return self.add_from_palette(type_id, at)

    def _mouse_grid(self) -> tuple[int, int]:
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


def resolve_port(spec) -> str:
    """The output the preview shows for a node unless told otherwise: its first image."""
    from afx_graph import IMAGE
    return next((p for p, o in spec.outputs.items() if o.type is IMAGE), next(iter(spec.outputs)))


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
