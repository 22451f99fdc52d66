"""What part of the patch the node editor shows: zoom and pan as a view transform (no dearpygui).

The patch's ``ui: pos`` values are never changed by looking at the patch. The editor places a
node at its *grid* position (dearpygui's node coordinates)::

    grid = patch * zoom + offset          patch = (grid - offset) / zoom

Zooming, fitting and panning change only ``zoom`` and ``offset`` (and the editor's font and
spacing, which scale with ``zoom``); a node's patch position changes only when the user drags
it. Dear PyGui's node editor has no zoom of its own and no call to set its panning, so
``offset`` also does the panning (the user's middle-button panning is measured and folded
in by the caller: rectangles here are all in grid coordinates).

Rectangles are ``(x, y, w, h)``.
"""
from __future__ import annotations

from dataclasses import dataclass

FONT_PX = 15             # the editor's font at zoom 1 (theme.FONT_SIZE)
MIN_TEXT_PX = 11         # node text is never drawn smaller: a patch wider than the canvas at
ZOOM_MIN = MIN_TEXT_PX / FONT_PX     # this zoom shows its sources, the minimap the rest
ZOOM_MAX = 1.5
FIT_MAX = 1.0            # fitting never magnifies a small patch beyond its natural size
STEP = 1.2               # one wheel notch or one +/- press
MARGIN = 24.0            # screen pixels kept free around a fitted patch
MINIMAP = 0.22           # share of the canvas (bottom right) the minimap covers, with its padding

Rect = tuple[float, float, float, float]


def clamp_zoom(z: float, lo: float = ZOOM_MIN, hi: float = ZOOM_MAX) -> float:
    return min(hi, max(lo, float(z)))


@dataclass(frozen=True)
class View:
    zoom: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)

    def to_grid(self, p) -> tuple[float, float]:
        return (p[0] * self.zoom + self.offset[0], p[1] * self.zoom + self.offset[1])

    def to_patch(self, g) -> tuple[float, float]:
        return ((g[0] - self.offset[0]) / self.zoom, (g[1] - self.offset[1]) / self.zoom)

    def rect_to_grid(self, r: Rect) -> Rect:
        x, y = self.to_grid(r[:2])
        return x, y, r[2] * self.zoom, r[3] * self.zoom

    def zoom_at(self, factor: float, anchor, lo: float = ZOOM_MIN, hi: float = ZOOM_MAX) -> "View":
        """Zoom by ``factor`` keeping the patch point under ``anchor`` (a grid point, e.g.
        the mouse) where it is."""
        z = clamp_zoom(self.zoom * factor, lo, hi)
        px, py = self.to_patch(anchor)
        return View(z, (anchor[0] - px * z, anchor[1] - py * z))

    def panned(self, dx: float, dy: float) -> "View":
        return View(self.zoom, (self.offset[0] + dx, self.offset[1] + dy))


def bounds(rects) -> Rect | None:
    rects = list(rects)
    if not rects:
        return None
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    return x0, y0, x1 - x0, y1 - y0


def fit(rects, canvas: Rect, *, margin: float = MARGIN, minimap: float = MINIMAP,
        lo: float = ZOOM_MIN, hi: float = FIT_MAX) -> View:
    """The view that shows every rectangle (patch coordinates, the nodes' sizes at zoom 1)
    inside ``canvas`` (grid coordinates) with ``margin`` screen pixels around them, clear of
    the minimap in the bottom-right corner (``minimap``: its share of the canvas; 0 when
    there is none), centred. The zoom is clamped to ``lo..hi``: a patch too big for the
    canvas at ``lo`` (the smallest zoom whose text is readable) shows its left, where the
    sources are, and overflows: the minimap shows the whole patch."""
    cx, cy, cw, ch = canvas
    box = bounds(rects)
    if box is None:
        return View(1.0, (cx + margin, cy + margin))
    bx, by, bw, bh = box
    bw, bh = max(bw, 1.0), max(bh, 1.0)
    # the minimap takes a corner: keep the patch above it or left of it, whichever is larger
    areas = [(cw, ch)] if minimap <= 0 else [(cw, ch * (1 - minimap)), (cw * (1 - minimap), ch)]
    best = None
    for aw, ah in areas:
        z = clamp_zoom(min((aw - 2 * margin) / bw, (ah - 2 * margin) / bh), lo, hi)
        if best is None or z > best[0]:
            best = (z, aw, ah)
    z, aw, ah = best
    ox = cx + aw / 2 - (bx + bw / 2) * z
    oy = cy + ah / 2 - (by + bh / 2) * z
    if bw * z + 2 * margin > aw:        # overflowing (zoom at its minimum): show the left,
        ox = cx + margin - bx * z       # where the sources are
    if bh * z + 2 * margin > ah:
        oy = cy + margin - by * z
    return View(z, (ox, oy))


def inside(rect: Rect, canvas: Rect, slack: float = 0.0) -> bool:
    return (rect[0] >= canvas[0] - slack and rect[1] >= canvas[1] - slack
            and rect[0] + rect[2] <= canvas[0] + canvas[2] + slack
            and rect[1] + rect[3] <= canvas[1] + canvas[3] + slack)


# -- the window ----------------------------------------------------------------------------
DEFAULT_WINDOW = (1680, 960)
MIN_WINDOW = (800, 560)
SCREEN_RESERVE = 64      # px of the screen's height left to a task bar and the title bar


def window_size(screen: tuple[int, int] | None, default=DEFAULT_WINDOW) -> tuple[int, int]:
    """The editor window's size on a screen of ``screen`` pixels (None: unknown): the
    default when it fits, else the screen less room for a task bar and a title bar."""
    if not screen or screen[0] <= 0 or screen[1] <= 0:
        return 1280, 720
    w = min(default[0], screen[0])
    h = min(default[1], screen[1] - SCREEN_RESERVE if screen[1] > MIN_WINDOW[1] + SCREEN_RESERVE
            else screen[1])
    return max(min(MIN_WINDOW[0], screen[0]), w), max(min(MIN_WINDOW[1], screen[1]), h)
