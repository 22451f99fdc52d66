"""Node placement (no dearpygui): where a new node goes, columns for nodes that have no
position, and pushing apart nodes a patch placed on top of each other.

Sizes are the nodes' drawn sizes in editor pixels (the app measures them); a node the app
has not measured yet gets an estimate from its spec.
"""
from __future__ import annotations

import networkx as nx

from afx_graph import Graph

NODE_WIDTH = 220
ROW = 23               # pixels per attribute row
TITLE = 30
MARGIN = 24            # free space kept between nodes
COLUMN = NODE_WIDTH + 50
ORIGIN = (20, 20)

Rect = tuple[float, float, float, float]     # x, y, w, h


def estimate_size(graph: Graph, nid: str) -> tuple[float, float]:
    spec = graph.nodes[nid].spec
    if spec is None:
        return NODE_WIDTH, TITLE + 2 * ROW
    rows = len(spec.inputs) + len(spec.params) + len(spec.outputs)
    return NODE_WIDTH, TITLE + ROW * max(rows, 1) + 8


def size_of(graph: Graph, nid: str, sizes: dict) -> tuple[float, float]:
    s = sizes.get(nid)
    if s and s[0] > 0 and s[1] > 0:
        return float(s[0]), float(s[1])
    return estimate_size(graph, nid)


def rects(graph: Graph, sizes: dict) -> dict[str, Rect]:
    """Rectangles of the nodes that have a position."""
    out = {}
    for nid, n in graph.nodes.items():
        pos = n.ui.get("pos")
        if _is_pos(pos):
            w, h = size_of(graph, nid, sizes)
            out[nid] = (float(pos[0]), float(pos[1]), w, h)
    return out


def _is_pos(pos) -> bool:
    return (isinstance(pos, (list, tuple)) and len(pos) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos))


def overlaps(a: Rect, b: Rect, margin: float = 0) -> bool:
    return (a[0] < b[0] + b[2] + margin and b[0] < a[0] + a[2] + margin
            and a[1] < b[1] + b[3] + margin and b[1] < a[1] + a[3] + margin)


def free_spot(placed: dict[str, Rect], size, near: str | None = None) -> tuple[int, int]:
    """A free place for a node of ``size``: right of ``near`` if there is room there, else
    the first free place scanning columns from the top left."""
    w, h = size
    boxes = list(placed.values())

    def free(x, y):
        return not any(overlaps((x, y, w, h), b, MARGIN - 1) for b in boxes)

    if near in placed:
        x, y, nw, nh = placed[near]
        for cand in ((x + nw + MARGIN * 2, y), (x, y + nh + MARGIN)):
            if free(*cand):
                return int(cand[0]), int(cand[1])
    for col in range(0, 40):
        x = ORIGIN[0] + col * COLUMN
        y = ORIGIN[1]
        while y < 3000:
            if free(x, y):
                return int(x), int(y)
            hits = [b for b in boxes if overlaps((x, y, w, h), b, MARGIN - 1)]
            y = max(b[1] + b[3] for b in hits) + MARGIN
    return ORIGIN


def depths(graph: Graph) -> dict[str, int]:
    """Longest distance from a source node (a cycle counts as depth 0)."""
    g = nx.DiGraph(graph.g)
    try:
        order = list(nx.topological_sort(g))
    except nx.NetworkXUnfeasible:
        return {n: 0 for n in graph.nodes}
    d: dict[str, int] = {}
    for n in order:
        d[n] = max((d[p] + 1 for p in g.predecessors(n)), default=0)
    return d


def arrange(graph: Graph, sizes: dict) -> dict[str, tuple[int, int]]:
    """New positions for the nodes that need one: nodes without a position go in columns by
    their depth in the graph; overlapping nodes are pushed down, keeping their columns.
    Returns only the nodes that move."""
    placed = rects(graph, sizes)
    new: dict[str, tuple[int, int]] = {}
    missing = [n for n in graph.nodes if n not in placed]
    if missing:
        dep = depths(graph)
        for nid in sorted(missing, key=lambda n: (dep.get(n, 0), n)):
            w, h = size_of(graph, nid, sizes)
            x = ORIGIN[0] + dep.get(nid, 0) * COLUMN
            col = [r for r in placed.values() if r[0] < x + w and x < r[0] + r[2]]
            y = max((r[1] + r[3] + MARGIN for r in col), default=ORIGIN[1])
            placed[nid] = (x, y, w, h)
            new[nid] = (int(x), int(y))
    done: list[Rect] = []
    for nid in sorted(placed, key=lambda n: (placed[n][0], placed[n][1], n)):
        x, y, w, h = placed[nid]
        y0 = y
        moved = True
        while moved:
            moved = False
            for b in done:
                if overlaps((x, y, w, h), b, MARGIN / 2 - 1):
                    y = b[1] + b[3] + MARGIN
                    moved = True
        done.append((x, y, w, h))
        if y != y0 or nid in new:
            new[nid] = (int(x), int(y))
    return new
