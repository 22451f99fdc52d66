"""The add menu: a search box and a list of node types at the mouse (right-click, Tab or a
double-click on empty canvas; a link dropped on empty canvas opens it filtered to the types
that fit: link_drop.py). Enter or a click adds the chosen type where the menu was opened."""
from __future__ import annotations

import dearpygui.dearpygui as dpg

from afx_graph.ui.palette import search
from afx_graph.ui.theme import MUTED

ADDMENU = "afx.addmenu"
SEARCH = f"{ADDMENU}.search"
WIDTH = 320


class AddMenu:
    def __init__(self, app):
        self.app = app
        self.found: list[str] = []      # the type ids listed now, in order
        self.at = None                  # where a chosen node goes (patch units)
        self.only = None                # the type ids it may offer (None: all)
        self.then = None                # what choosing does instead of adding

    def build(self) -> None:
        # a popup sizes itself to its content, so its items get fixed widths: with -1 the
        # list shrank to ~170 px and cut the type ids ("Feedback [image.feedba")
        with dpg.window(tag=ADDMENU, show=False, popup=True, width=WIDTH + 20, height=300,
                        no_title_bar=True):
            dpg.add_text("Add node here", tag=f"{ADDMENU}.title", color=MUTED)
            dpg.add_input_text(tag=SEARCH, width=WIDTH, hint="search, Enter adds",
                               callback=lambda s, a: self.filter(a))
            dpg.add_listbox([], tag=f"{ADDMENU}.list", width=WIDTH, num_items=12,
                            callback=lambda s, a: self.pick(a))

    @property
    def shown(self) -> bool:
        return dpg.is_item_shown(ADDMENU)

    def hide(self) -> None:
        dpg.configure_item(ADDMENU, show=False)

    def open(self, at=None, *, only=None, then=None, title=None, screen=None) -> None:
        """At the mouse (``screen``), adding at ``at`` (patch units; default: under the
        mouse); ``only``: the type ids it offers, ``then(type_id, at)``: what choosing does
        instead of adding."""
        self.at = at if at is not None else self.app.mouse_grid()
        self.only, self.then = only, then
        mx, my = screen if screen is not None else dpg.get_mouse_pos(local=False)
        dpg.set_value(f"{ADDMENU}.title", title or "Add node here")
        dpg.set_value(SEARCH, "")
        self.filter("")
        dpg.configure_item(ADDMENU, show=True, pos=[int(mx), int(my)])
        dpg.focus_item(SEARCH)

    def filter(self, query: str) -> list[str]:
        registry = self.app.registry
        found = search(registry, query)
        if self.only is not None:
            found = [t for t in found if t in self.only]
        dpg.configure_item(f"{ADDMENU}.list", items=[f"{registry.get(t).title}  [{t}]" for t in found])
        self.found = found
        return found

    def pick(self, label) -> str | None:
        """A click on ``label`` (None: Enter, the first match)."""
        if not self.found:
            return None
        type_id = self.found[0]
        if label:
            type_id = label.rsplit("[", 1)[-1].rstrip("]")
        self.hide()
        if self.then is not None:
            return self.then(type_id, self.at)
        return self.app.add_from_palette(type_id, self.at)
