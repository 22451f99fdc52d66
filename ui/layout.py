"""Node placement (no dearpygui): where a new node goes, places for nodes that have no
position, and the layered layout of a whole patch (Tidy).

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


def free_spot(placed: dict[str, Rect], size, near: str | None = None, *,
              view: Rect | None = None) -> tuple[int, int]:
    """A free place for a node of ``size``: right of (or below) ``near`` if there is room
    there (and, given ``view``, the visible part of the patch, it is in view); else, given
    ``view``, the free place nearest its centre; else the first free place scanning columns
    from the top left."""
    w, h = size
    boxes = list(placed.values())

    def free(x, y):
        return not any(overlaps((x, y, w, h), b, MARGIN - 1) for b in boxes)

    if near in placed:
        x, y, nw, nh = placed[near]
        for cand in ((x + nw + MARGIN * 2, y), (x, y + nh + MARGIN)):
            if free(*cand) and (view is None or _inside((cand[0], cand[1], w, h), view)):
                return int(cand[0]), int(cand[1])
    if view is not None:
        centre = (view[0] + view[2] / 2, view[1] + view[3] / 2)
        return free_spot_near(placed, size, centre, within=view)
    for col in range(0, 40):
        x = ORIGIN[0] + col * COLUMN
        y = ORIGIN[1]
        while y < 3000:
            if free(x, y):
                return int(x), int(y)
            hits = [b for b in boxes if overlaps((x, y, w, h), b, MARGIN - 1)]
            y = max(b[1] + b[3] for b in hits) + MARGIN
    return ORIGIN


def free_spot_near(placed: dict[str, Rect], size, centre, within: Rect | None = None,
                   step: float = 20.0, reach: float = 1200.0) -> tuple[int, int]:
    """The free place for a node of ``size`` whose centre is nearest ``centre`` (e.g. the
    middle of the view), trying places on a ``step`` grid out to ``reach``; places wholly
    inside ``within`` (e.g. the visible part of the patch) first."""
    w, h = size
    boxes = list(placed.values())
    x0, y0 = centre[0] - w / 2, centre[1] - h / 2

    def free(x, y):
        return not any(overlaps((x, y, w, h), b, MARGIN - 1) for b in boxes)

    n = int(reach // step)
    rings = sorted(((i * step) ** 2 + (j * step) ** 2, i, j)
                   for i in range(-n, n + 1) for j in range(-n, n + 1)
                   if (i * i + j * j) * step * step <= reach * reach)
    outside = None
    for _, i, j in rings:
        x, y = x0 + i * step, y0 + j * step
        if not free(x, y):
            continue
        if within is None or _inside((x, y, w, h), within):
            return int(round(x)), int(round(y))
        if outside is None:
            outside = (int(round(x)), int(round(y)))
    return outside if outside is not None else (int(round(x0)), int(round(y0)))


def _inside(r: Rect, box: Rect) -> bool:
    return (r[0] >= box[0] and r[1] >= box[1] and r[0] + r[2] <= box[0] + box[2]
            and r[1] + r[3] <= box[1] + box[3])


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


def place_missing(graph: Graph, sizes: dict) -> dict[str, tuple[int, int]]:
    """Places for the nodes that have no position, leaving every placed node where it is.
    A patch with no positions at all gets the layered layout (:func:`layered`); otherwise
    each unplaced node goes in the column of its depth, below the nodes already there."""
    placed = rects(graph, sizes)
    missing = [n for n in graph.nodes if n not in placed]
    if not missing:
        return {}
    if not placed:
        return layered(graph, sizes)
    new: dict[str, tuple[int, int]] = {}
    dep = depths(graph)
    for nid in sorted(missing, key=lambda n: (dep.get(n, 0), n)):
        w, h = size_of(graph, nid, sizes)
        x = ORIGIN[0] + dep.get(nid, 0) * COLUMN
        col = [r for r in placed.values() if r[0] < x + w and x < r[0] + r[2]]
        y = max((r[1] + r[3] + MARGIN for r in col), default=ORIGIN[1])
        placed[nid] = (x, y, w, h)
        new[nid] = (int(x), int(y))
    return new


# -- layered layout ------------------------------------------------------------------------
# Sugiyama's method, small: layers by longest path from the sources, an order within each
# layer from a few barycentre sweeps (fewest crossings kept), then x from the layer and y
# from the neighbours' pins, stacked with each node's real height so nothing overlaps. The
# editor draws a link as a curve from pin to pin, over whatever lies between: a long link
# gets a channel through the layers it crosses, of a few ways to weigh those channels the
# one that draws the fewest links behind nodes is kept, and a node a link still runs
# behind may move to the top or bottom of its layer.

LAYER_GAP = 60         # horizontal room for the links between two layers
CHANNEL = 2 * ROW      # the height a long link keeps free through a layer it crosses
SWEEPS = 8
NEAR = 12              # a link this close above or below a node seems to touch it


def _pin_fraction(graph: Graph, nid: str, port: str) -> float:
    """Where a port's pin sits down a node's body, 0 (top) .. 1 (bottom): rows are the
    inputs, then the params, then the outputs, as the editor draws them."""
    spec = graph.nodes[nid].spec
    if spec is None:
        return 0.5
    rows = [*spec.inputs, *spec.params, *spec.outputs]
    if port in spec.outputs:
        i = len(spec.inputs) + len(spec.params) + list(spec.outputs).index(port)
    elif port in rows:
        i = rows.index(port)
    else:
        return 0.5
    return (i + 0.5) / len(rows)


def _acyclic(g: nx.DiGraph) -> nx.DiGraph:
    """``g`` without the edges that close cycles (the engine refuses cycles; a hand-edited
    file may still have one)."""
    g = nx.DiGraph(g)
    while True:
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            return g
        g.remove_edge(*cycle[-1][:2])


def _layers(g: nx.DiGraph) -> dict:
    """Longest path from the sources; then each source moves right next to its nearest
    consumer (a node feeding only the last layer does not sit at the far left)."""
    layer: dict = {}
    for n in nx.topological_sort(g):
        layer[n] = max((layer[p] + 1 for p in g.predecessors(n)), default=0)
    for n in g:
        if g.in_degree(n) == 0 and g.out_degree(n) > 0:
            layer[n] = min(layer[s] for s in g.successors(n)) - 1
    return layer


def _crossings(orders: list[list], edges: list[tuple]) -> int:
    """Crossings between consecutive layers, pin by pin. ``edges``: (left node, its pin
    fraction, right node, its pin fraction, the left node's layer)."""
    pos = {n: i for order in orders for i, n in enumerate(order)}
    segs = [(pos[a] + fa, pos[b] + fb, layer) for a, fa, b, fb, layer in edges]
    count = 0
    for i, (a1, b1, l1) in enumerate(segs):
        for a2, b2, l2 in segs[i + 1:]:
            if l1 == l2 and (a1 - a2) * (b1 - b2) < 0:
                count += 1
    return count


def _isotonic(targets: list[float], weights: list[float]) -> list[float]:
    """The non-decreasing sequence nearest to ``targets`` (weighted least squares: pool
    adjacent violators)."""
    blocks: list[list[float]] = []          # [mean, weight, count]
    for t, w in zip(targets, weights):
        blocks.append([t, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return [m for m, _, c in blocks for _ in range(c)]


def _order(graph: Graph, nodes: list[str], links: list, rank: dict):
    """Layers and the order within each (dummy nodes included: a long link is cut into
    one piece per layer, ``("dummy", target, port, layer)``). Returns the layer of each
    node, the orders, and the pieces: (left end, its pin fraction, right end, its pin
    fraction, the left end's layer)."""
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from((l.src, l.dst) for l in links if l.src != l.dst)
    g = _acyclic(g)
    layer = _layers(g)
    n_layers = max(layer.values()) + 1
    segments: list[tuple] = []
    members: list[list] = [[] for _ in range(n_layers)]
    for n in nodes:
        members[layer[n]].append(n)
    for l in sorted(links, key=lambda l: (l.src, l.src_port, l.dst, l.dst_port)):
        if not g.has_edge(l.src, l.dst):
            continue
        a, fa = l.src, _pin_fraction(graph, l.src, l.src_port)
        for k in range(layer[l.src] + 1, layer[l.dst]):
            d = ("dummy", l.dst, l.dst_port, k)
            members[k].append(d)
            segments.append((a, fa, d, 0.5, k - 1))
            a, fa = d, 0.5
        segments.append((a, fa, l.dst, _pin_fraction(graph, l.dst, l.dst_port), layer[l.dst] - 1))

    orders = [sorted(m, key=lambda n: rank[n[1]] if isinstance(n, tuple) else rank[n])
              for m in members]
    best, best_count = [list(o) for o in orders], _crossings(orders, segments)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        for i in (range(1, n_layers) if down else range(n_layers - 2, -1, -1)):
            ref = {n: j for j, n in enumerate(orders[i - 1 if down else i + 1])}
            bary: dict = {}
            for a, fa, b, fb, li in segments:
                if down and li == i - 1:
                    bary.setdefault(b, []).append(ref[a] + fa)
                elif not down and li == i:
                    bary.setdefault(a, []).append(ref[b] + fb)
            here = {n: j for j, n in enumerate(orders[i])}
            orders[i].sort(key=lambda n: (sum(bary[n]) / len(bary[n]) if n in bary else here[n],
                                          here[n]))
        count = _crossings(orders, segments)
        if count < best_count:
            best, best_count = [list(o) for o in orders], count
        if best_count == 0:
            break
    return layer, best, segments


def _heights(orders: list[list], segments: list[tuple], size: dict,
             stiffness: float | None) -> dict:
    """Tops of the nodes of each layer (in its order, ``size[n][1] + MARGIN`` apart): each
    node where its links run level, pin facing pin, as near as the others allow (a few
    sweeps of weighted isotonic regression). With a ``stiffness`` a long link keeps a
    channel through each layer it crosses (its dummy there, ``CHANNEL`` high, pulled by
    the link's other pieces that much harder): it is not drawn behind a node, where it
    would seem to end at that node's pins. Without, dummies take no room."""
    if stiffness is None:
        orders = [[n for n in o if not isinstance(n, tuple)] for o in orders]
    else:
        orders = [list(o) for o in orders]
    size = dict(size)
    for o in orders:
        for n in o:
            if isinstance(n, tuple):
                size[n] = (0.0, CHANNEL)

    def pin(n, f):          # a pin's height below its node's top
        return size[n][1] / 2 if isinstance(n, tuple) else TITLE + f * (size[n][1] - TITLE)

    if stiffness is None:   # the links themselves, end to end
        pairs = []
        for a, fa, b, fb, _ in segments:
            if not isinstance(a, tuple):
                while isinstance(b, tuple):
                    b, fb = next((s[2], s[3]) for s in segments if s[0] == b)
                pairs.append((a, fa, b, fb, 1.0))
    else:
        pairs = [(a, fa, b, fb, stiffness if isinstance(a, tuple) or isinstance(b, tuple)
                  else 1.0) for a, fa, b, fb, _ in segments]
    near: dict = {}         # node -> [(other end, its fraction, this end's fraction, weight)]
    for a, fa, b, fb, w in pairs:
        near.setdefault(b, []).append((a, fa, fb, w))
        near.setdefault(a, []).append((b, fb, fa, w))
    y: dict = {}
    for o in orders:
        top = 0.0
        for n in o:
            y[n] = top
            top += size[n][1] + MARGIN
    for sweep in range(10):
        for i in (range(len(orders)) if sweep % 2 == 0 else range(len(orders) - 1, -1, -1)):
            targets, weights, stack = [], [], 0.0
            for n in orders[i]:
                springs = near.get(n, [])
                total = sum(w for *_, w in springs)
                want = (sum(w * (y[m] + pin(m, fm) - pin(n, f)) for m, fm, f, w in springs)
                        / total if springs else y[n])
                targets.append(want - stack)        # tops in a stack: minus what is above
                weights.append(total or 0.5)
                stack += size[n][1] + MARGIN
            stack = 0.0
            for n, z in zip(orders[i], _isotonic(targets, weights)):
                y[n] = z + stack
                stack += size[n][1] + MARGIN
    return {n: v for n, v in y.items() if not isinstance(n, tuple)}


def link_curve(a: tuple[float, float], b: tuple[float, float], steps: int = 24) -> list:
    """Points along a link as the node editor draws it (imnodes: a cubic Bezier from the
    output pin ``a`` to the input pin ``b``, its handles a quarter of its length out)."""
    off = 0.25 * ((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5
    p = (a, (a[0] + off, a[1]), (b[0] - off, b[1]), b)
    out = []
    for i in range(steps + 1):
        t = i / steps
        c = ((1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3)
        out.append((sum(k * q[0] for k, q in zip(c, p)), sum(k * q[1] for k, q in zip(c, p))))
    return out


def hidden_links(graph: Graph, sizes: dict, pos: dict | None = None) -> list[tuple]:
    """(link, node) for each link drawn behind a node that is not one of its ends, or
    along its top or bottom edge (``NEAR``): where it seems to end at that node's pins.
    (Along a side is where links come in and out of a column: that is not counted.)
    ``pos``: positions to check instead of the patch's."""
    if pos is None:
        pos = {n: r[:2] for n, r in rects(graph, sizes).items()}
    box = {n: (*pos[n], *size_of(graph, n, sizes)) for n in pos}
    out = []
    for l in graph.links():
        if l.src not in box or l.dst not in box:
            continue
        s, d = box[l.src], box[l.dst]
        a = (s[0] + s[2], s[1] + TITLE + _pin_fraction(graph, l.src, l.src_port) * (s[3] - TITLE))
        b = (d[0], d[1] + TITLE + _pin_fraction(graph, l.dst, l.dst_port) * (d[3] - TITLE))
        curve = link_curve(a, b)[1:-1]
        x0, x1 = min(p[0] for p in curve), max(p[0] for p in curve)
        y0, y1 = min(p[1] for p in curve), max(p[1] for p in curve)
        for n, (x, y, w, h) in box.items():
            x, y, w, h = x + 2, y - NEAR, w - 4, h + 2 * NEAR
            if n in (l.src, l.dst) or x > x1 or x + w < x0 or y > y1 or y + h < y0:
                continue
            if any(x < px < x + w and y < py < y + h for px, py in curve):
                out.append((l, n))
    return out


def _component(graph: Graph, nodes: list[str], links: list, sizes: dict,
               rank: dict) -> dict[str, tuple[int, int]]:
    layer, orders, segments = _order(graph, nodes, links, rank)
    size = {n: size_of(graph, n, sizes) for n in nodes}
    xs, x = [], 0.0         # one column per layer, as wide as its widest node
    for o in orders:
        xs.append(x)
        x += max((size[n][0] for n in o if n in size), default=0) + LAYER_GAP

    def place(orders, stiffness):
        y = _heights(orders, segments, size, stiffness)
        top = min(y.values())
        pos = {n: (round(xs[layer[n]]), round(y[n] - top)) for n in nodes}     # as saved
        hidden = hidden_links(graph, sizes, pos)
        return (len(hidden), _crossings(orders, segments),
                max(pos[n][1] + size[n][1] for n in nodes)), pos, hidden

    # a few ways to set the heights: the one drawing the fewest links behind nodes wins,
    # then the lowest
    best = min((place(orders, s) for s in (None, 4.0, 16.0, 64.0, 256.0)), key=lambda c: c[0])
    # a node a link still runs behind may go to the top or the bottom of its layer: a
    # crossing more is better than a link that seems to end at the wrong pins
    for _ in range(3):
        tries = []
        for n in list(dict.fromkeys(n for _, n in best[2]))[:6]:
            i = layer[n]
            rest = [m for m in orders[i] if m != n]
            for o in ([n] + rest, rest + [n]):
                tries.append(place(orders[:i] + [o] + orders[i + 1:], 64.0) + (o, i))
        better = [t for t in tries if t[0][0] < best[0][0]]
        if not better:
            break
        score, pos, hidden, o, i = min(better, key=lambda c: c[0])
        best = (score, pos, hidden)
        orders = orders[:i] + [o] + orders[i + 1:]
    return best[1]


def layered(graph: Graph, sizes: dict) -> dict[str, tuple[int, int]]:
    """A layered layout of the whole patch: sources on the left, outputs on the right, every
    link going left to right, few crossings, no two nodes overlapping (``sizes``: the nodes'
    drawn sizes; unmeasured ones are estimated). Separate parts of the patch are laid out
    one below the other. It depends on the patch's nodes, links and sizes only, not on
    where the nodes are now: Tidy twice moves nothing the second time. Returns a position
    for every node."""
    if not graph.nodes:
        return {}
    rank = {n: i for i, n in enumerate(graph.nodes)}      # the file's order, to start from
    links = graph.links()
    und = nx.Graph()
    und.add_nodes_from(graph.nodes)
    und.add_edges_from((l.src, l.dst) for l in links)
    parts = sorted((sorted(c, key=rank.get) for c in nx.connected_components(und)),
                   key=lambda c: (-len(c) if len(c) > 1 else 0, rank[c[0]]))
    out: dict[str, tuple[int, int]] = {}
    top = float(ORIGIN[1])
    for part in parts:
        inside = set(part)
        pos = _component(graph, part, [l for l in links if l.src in inside], sizes, rank)
        bottom = top
        for n, (x, y) in pos.items():
            out[n] = (ORIGIN[0] + x, int(round(top)) + y)
            bottom = max(bottom, top + y + size_of(graph, n, sizes)[1])
        top = bottom + 2 * MARGIN
    return out
