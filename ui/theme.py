"""Colours, fonts and themes of the editor (dearpygui)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import dearpygui.dearpygui as dpg

from afx_graph.types import PortType

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:/Windows/Fonts/segoeui.ttf",
)
FONT_SIZE = 15

ERROR = (235, 80, 80)
WARNING = (240, 180, 70)
OK = (120, 210, 140)
MUTED = (150, 150, 160)
TEXT = (220, 220, 225)

# title bar colours by category; unknown (new) categories get a colour from their name
CATEGORY_COLORS = {
    "Audio": (46, 120, 80),
    "Features": (140, 110, 30),
    "Field": (40, 110, 120),
    "Neural": (105, 65, 150),
    "Patterns": (150, 70, 110),
    "Image": (50, 90, 150),
    "Modulation": (120, 100, 60),
    "Math": (90, 90, 100),
    "Embeddings": (80, 60, 130),
    "Output": (60, 70, 90),
}


def category_color(category: str) -> tuple[int, int, int]:
    if category in CATEGORY_COLORS:
        return CATEGORY_COLORS[category]
    h = hashlib.sha1(category.encode()).digest()
    return 50 + h[0] % 100, 50 + h[1] % 100, 50 + h[2] % 100


def _lift(c, k=1.25):
    return tuple(min(255, int(v * k)) for v in c)


class Themes:
    """Themes built once per context and bound to items."""

    def __init__(self):
        self.unicode = False
        self.font = None
        self._category: dict[str, int] = {}
        self._pins: dict[str, int] = {}
        self.global_theme = self._global()
        self.error_node = self._title((170, 40, 40), tag="afx.theme.error")
        self.hot_node = self._title((205, 110, 20), tag="afx.theme.hot")     # the slowest
        self.bypassed_node = self._title((70, 90, 120), tag="afx.theme.bypassed")
        self.muted_node = self._title((75, 75, 80), tag="afx.theme.muted")
        self.unknown_node = self._title((110, 60, 60), tag="afx.theme.unknown")
        with dpg.theme(tag="afx.theme.danger_button"):
            with dpg.theme_component(dpg.mvButton):
                dpg.add_theme_color(dpg.mvThemeCol_Button, (150, 50, 50))
                dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, (180, 60, 60))
        with dpg.theme(tag="afx.theme.accent_button"):
            with dpg.theme_component(dpg.mvButton):
                dpg.add_theme_color(dpg.mvThemeCol_Button, (50, 100, 160))
                dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, (60, 120, 190))
        with dpg.theme(tag="afx.theme.palette_item"):
            with dpg.theme_component(dpg.mvButton):
                dpg.add_theme_color(dpg.mvThemeCol_Button, (40, 42, 48))
                dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, (60, 80, 110))
                dpg.add_theme_style(dpg.mvStyleVar_ButtonTextAlign, 0.0, 0.5)

    def load_font(self) -> None:
        path = next((p for p in FONT_CANDIDATES if Path(p).is_file()), None)
        if path is None:
            return
        with dpg.font_registry():
            f = dpg.add_font(path, FONT_SIZE)     # dearpygui 2 loads glyphs as they are used
        dpg.bind_font(f)
        self.font, self.unicode = f, True

    def arrow(self) -> str:
        return "\u2190" if self.unicode else "<-"

    def _global(self) -> int:
        with dpg.theme(tag="afx.theme.global") as t:
            with dpg.theme_component(dpg.mvAll):
                dpg.add_theme_style(dpg.mvStyleVar_FrameRounding, 3)
                dpg.add_theme_style(dpg.mvStyleVar_WindowPadding, 8, 6)
                dpg.add_theme_style(dpg.mvStyleVar_ItemSpacing, 6, 4)
                dpg.add_theme_color(dpg.mvThemeCol_WindowBg, (28, 29, 33))
                dpg.add_theme_color(dpg.mvThemeCol_ChildBg, (32, 33, 38))
                dpg.add_theme_color(dpg.mvNodeCol_GridBackground, (24, 25, 29),
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_color(dpg.mvNodeCol_GridLine, (38, 40, 46),
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_color(dpg.mvNodeCol_NodeBackground, (44, 46, 52),
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_color(dpg.mvNodeCol_NodeBackgroundHovered, (50, 52, 60),
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_color(dpg.mvNodeCol_NodeBackgroundSelected, (54, 58, 70),
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_color(dpg.mvNodeCol_Link, (170, 170, 190),
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_color(dpg.mvNodeCol_LinkSelected, (250, 210, 90),
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_style(dpg.mvNodeStyleVar_NodeCornerRounding, 4,
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_style(dpg.mvNodeStyleVar_NodePadding, 8, 4,
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_style(dpg.mvNodeStyleVar_LinkThickness, 2.5,
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_style(dpg.mvNodeStyleVar_PinCircleRadius, 4.5,
                                    category=dpg.mvThemeCat_Nodes)
        dpg.bind_theme(t)
        return t

    def _title(self, color, tag=None) -> int:
        kw = {"tag": tag} if tag else {}
        with dpg.theme(**kw) as t:
            with dpg.theme_component(dpg.mvNode):
                dpg.add_theme_color(dpg.mvNodeCol_TitleBar, color, category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_color(dpg.mvNodeCol_TitleBarHovered, _lift(color, 1.2),
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_color(dpg.mvNodeCol_TitleBarSelected, _lift(color, 1.45),
                                    category=dpg.mvThemeCat_Nodes)
        return t

    def category(self, category: str) -> int:
        if category not in self._category:
            self._category[category] = self._title(category_color(category))
        return self._category[category]

    def pin(self, ptype: PortType | None) -> int:
        key = ptype.id if ptype is not None else "?"
        if key not in self._pins:
            color = ptype.color if ptype is not None else MUTED
            with dpg.theme() as t:
                with dpg.theme_component(dpg.mvNodeAttribute):
                    dpg.add_theme_color(dpg.mvNodeCol_Pin, color, category=dpg.mvThemeCat_Nodes)
                    dpg.add_theme_color(dpg.mvNodeCol_PinHovered, _lift(color, 1.3),
                                        category=dpg.mvThemeCat_Nodes)
            self._pins[key] = t
        return self._pins[key]
