"""The side panels (palette left, preview right) can be hidden from the View menu, giving
their room to the node editor; the palette can also be resized by dragging its right edge
(dearpygui). The node editor's width is "what the panels leave", so it follows both."""
from __future__ import annotations

import dearpygui.dearpygui as dpg

LEFT = "afx.left"
RIGHT = "afx.right"
SPACING = 8              # between the editor and the preview panel


class Panels:
    def __init__(self, preview_width: int):
        self.preview_width = preview_width
        self.visible = {LEFT: True, RIGHT: True}

    def menu(self) -> None:
        """The panel items of the View menu (inside a ``dpg.menu``)."""
        dpg.add_menu_item(label="Palette", tag="afx.menu.palette", check=True, default_value=True,
                          shortcut="F2", callback=lambda s, a: self.show(LEFT, bool(a)))
        dpg.add_menu_item(label="Preview and inspector", tag="afx.menu.preview", check=True,
                          default_value=True, shortcut="F3",
                          callback=lambda s, a: self.show(RIGHT, bool(a)))

    def shown(self, panel: str) -> bool:
        return self.visible[panel]

    def show(self, panel: str, show: bool) -> None:
        self.visible[panel] = show
        dpg.configure_item(panel, show=show)
        dpg.set_value("afx.menu.palette" if panel == LEFT else "afx.menu.preview", show)
        dpg.configure_item("afx.editor", width=self.editor_width())

    def toggle(self, panel: str) -> None:
        self.show(panel, not self.shown(panel))

    def editor_width(self) -> int:
        """The node editor's width: negative, "all but this much" of the row."""
        return -(self.preview_width + SPACING) if self.shown(RIGHT) else -1

    def press(self, key: int) -> bool:
        if key == dpg.mvKey_F2:
            self.toggle(LEFT)
        elif key == dpg.mvKey_F3:
            self.toggle(RIGHT)
        else:
            return False
        return True


def center(tag: str, w: int, h: int) -> None:
    """Put a ``w`` x ``h`` window in the middle of the viewport (a third of the way down)."""
    vw, vh = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
    dpg.configure_item(tag, pos=[max(0, (vw - w) // 2), max(0, (vh - h) // 3)])
