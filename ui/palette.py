"""The palette: every registered node type by category, with a search box (dearpygui).

Built from ``registry.categories()`` alone, so node families and third-party packs
registered later appear with no change here. Type to filter (every word must match the id,
title, category or doc); Enter adds the first match; a click adds that type.
"""
from __future__ import annotations

import dearpygui.dearpygui as dpg

from afx_graph.registry import Registry

from afx_graph.ui.theme import MUTED, category_color

SEARCH = "afx.palette.search"


def paragraphs(doc: str) -> str:
    """A docstring's hard-wrapped lines joined, so the window wraps them to its width."""
    paras = [" ".join(line.strip() for line in p.splitlines()) for p in doc.split("\n\n")]
    return "\n\n".join(p for p in paras if p)


def matches(spec, query: str) -> bool:
    words = query.lower().split()
    hay = " ".join((spec.id, spec.title, spec.category, spec.doc)).lower()
    return all(w in hay for w in words)


def search(registry: Registry, query: str) -> list[str]:
    """Type ids matching ``query``, in palette order (exact id or title matches first)."""
    q = query.strip().lower()
    specs = [s for s in registry.specs() if matches(s, q)]
    return [s.id for s in sorted(specs, key=lambda s: (0 if q in (s.id.lower(), s.title.lower())
                                                        else 1 if s.id.lower().startswith(q)
                                                        or s.id.split(".")[-1].startswith(q) else 2))]


class Palette:
    def __init__(self, registry: Registry, on_add):
        self.registry = registry
        self.on_add = on_add           # on_add(type_id)
        self.query = ""

    def build(self, parent) -> None:
        dpg.add_text("Nodes", parent=parent, color=MUTED)
        dpg.add_input_text(tag=SEARCH, hint="search, Enter adds", width=-1, parent=parent,
                           callback=lambda s, a: self.filter(a))
        with dpg.tooltip(SEARCH):
            dpg.add_text("Type to filter node types; Enter adds the first match.\n"
                         "Click a type to add it in the middle of the view (beside the\n"
                         "selected node when there is room there in view).")
        for category, specs in self.registry.categories().items():
            with dpg.collapsing_header(label=category, default_open=True, parent=parent,
                                       tag=f"afx.palcat.{category}"):
                for s in specs:
                    b = dpg.add_button(label=f"{s.title}", tag=f"afx.pal.{s.id}", width=-1,
                                       callback=lambda sender, a, u: self.on_add(u), user_data=s.id)
                    dpg.bind_item_theme(b, "afx.theme.palette_item")
                    with dpg.tooltip(b):
                        dpg.add_text(s.id, color=category_color(category))
                        if s.doc:
                            dpg.add_text(paragraphs(s.doc), wrap=380)
        if self.registry.load_errors:
            for msg in self.registry.load_errors:
                dpg.add_text(msg, wrap=200, color=(240, 180, 70), parent=parent)

    def filter(self, query: str) -> list[str]:
        self.query = query
        shown = set(search(self.registry, query))
        for category, specs in self.registry.categories().items():
            any_shown = False
            for s in specs:
                vis = s.id in shown
                any_shown |= vis
                dpg.configure_item(f"afx.pal.{s.id}", show=vis)
            dpg.configure_item(f"afx.palcat.{category}", show=any_shown)
        return search(self.registry, query)

    def first_match(self) -> str | None:
        found = search(self.registry, self.query)
        return found[0] if found else None
