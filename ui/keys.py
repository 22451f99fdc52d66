"""The keyboard: which key does what, and when a key belongs to something else (a dialog, a
text field being typed in, the performance view). Help > Keyboard and mouse lists them
(dialogs.py); the View keys are the canvas's and the panels' own (canvas.py, panels.py)."""
from __future__ import annotations

import dearpygui.dearpygui as dpg

from afx_graph.ui.add_menu import SEARCH as MENU_SEARCH
from afx_graph.ui.node_views import EDITOR
from afx_graph.ui.palette import SEARCH

ENTER = (dpg.mvKey_Return, dpg.mvKey_NumPadEnter)
CTRL = (dpg.mvKey_ModCtrl, dpg.mvKey_LControl, dpg.mvKey_RControl)
SHIFT = (dpg.mvKey_ModShift, dpg.mvKey_LShift, dpg.mvKey_RShift)
TEXT_EDIT_KEYS = (dpg.mvKey_Z, dpg.mvKey_Y, dpg.mvKey_C, dpg.mvKey_V, dpg.mvKey_D)


class Keys:
    def __init__(self, app, text_inputs: set[str]):
        self.app = app
        self.text_inputs = set(text_inputs)      # the window's own text fields
        self.last_typed: str | None = None       # the search field active in the previous frame

    def ctrl_actions(self, shift: bool) -> dict:
        app = self.app
        return {
            dpg.mvKey_Z: app.redo if shift else app.undo, dpg.mvKey_Y: app.redo,
            dpg.mvKey_C: app.copy, dpg.mvKey_V: app.paste, dpg.mvKey_D: app.duplicate,
            dpg.mvKey_G: app.ungroup if shift else app.group,
            dpg.mvKey_E: app.leave if shift else app.enter,
            dpg.mvKey_J: app.unframe if shift else app.frame_selection,
            dpg.mvKey_B: lambda: app.toggle_mode("bypass"),
            dpg.mvKey_M: lambda: app.toggle_mode("mute"),
            dpg.mvKey_S: app.show_save_dialog if shift else app.save,
            dpg.mvKey_O: app.request_open, dpg.mvKey_N: app.request_new,
            dpg.mvKey_R: app.render_dialog.show, dpg.mvKey_Q: app.request_quit,
        }

    def typing(self) -> bool:
        """A text field (or a slider typed into) has the keyboard: keys are its own."""
        views = self.app.views
        tags = self.text_inputs | views.text_inputs
        if any(dpg.does_item_exist(t) and dpg.is_item_active(t) for t in tags):
            return True
        return any(dpg.is_item_active(w.tag) for v in views.views.values()
                   for w in v.widgets.values() if dpg.does_item_exist(w.tag))

    def after_frame(self) -> None:
        """Remember which search field had the keyboard (Enter ends its editing before the
        key handler runs)."""
        self.last_typed = next((t for t in (SEARCH, MENU_SEARCH) if dpg.is_item_active(t)), None)

    def on_key(self, sender, key) -> None:
        """The key press handler."""
        self.press(key, ctrl=any(dpg.is_key_down(k) for k in CTRL),
                   shift=any(dpg.is_key_down(k) for k in SHIFT))

    def press(self, key: int, *, ctrl: bool = False, shift: bool = False) -> None:
        app = self.app
        if key == dpg.mvKey_F12:
            app.save_screenshot()
            return
        if key == dpg.mvKey_F6:         # live input on / off, in the performance view too
            app.toggle_live()
            return
        if app.performance.press(key):
            return                      # the performance view is up: the editor is hidden
        if app.open_error.showing and (key in ENTER or key == dpg.mvKey_Escape):
            app.open_error.close()
            return
        if key in ENTER and app.dialogs.enter():
            return                      # Enter in a file dialog: its OK
        if key == dpg.mvKey_Escape and app.dialogs.escape():
            return
        if app.frames.press(key):
            return                      # the frame title being edited
        if app.modal_shown():
            return                      # keys belong to the dialog
        typing = self.typing()
        if key in ENTER:
            if app.add_menu.shown and self.last_typed in (MENU_SEARCH, None):
                app.add_menu.pick(None)
            elif self.last_typed == SEARCH or dpg.is_item_active(SEARCH):
                app.add_first_match()
            return
        if ctrl:
            if typing and key in TEXT_EDIT_KEYS:
                return                  # the text field's own undo / copy / paste
            action = self.ctrl_actions(shift).get(key)
            if action is not None:
                action()
            return
        if typing:
            return
        if app.canvas.press(key) or app.panels.press(key):
            return
        if key == dpg.mvKey_Delete:
            app.delete_selected()
        elif key == dpg.mvKey_F5:
            app.performance.open()

        elif key == dpg.mvKey_Spacebar:
            app.panel.toggle()
        elif key == dpg.mvKey_Escape:
            app.add_menu.hide()
        elif key == dpg.mvKey_Tab and dpg.is_item_hovered(EDITOR):
            app.add_menu.open()
