"""Contact sheets without an imaging library: thumbnails resampled in numpy, captions drawn
with a 5x7 bitmap font (upper-case letters, digits and the punctuation a parameter value
needs), a grid of labelled tiles as one uint8 image (``afx sweep``'s contact.png)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# 5x7 glyphs, one string of 5 characters per row ('#' lit). Lower case is drawn as upper case.
_GLYPHS = {
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    " ": (".....",) * 7,
    "=": (".....", ".....", "#####", ".....", "#####", ".....", "....."),
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
    ",": (".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."),
    "-": (".....", ".....", ".....", "#####", ".....", ".....", "....."),
    "+": (".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."),
    ":": (".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."),
    "_": (".....", ".....", ".....", ".....", ".....", ".....", "#####"),
    "/": (".....", "....#", "...#.", "..#..", ".#...", "#....", "....."),
    "#": (".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."),
    "(": ("...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."),
    ")": (".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."),
    "[": (".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###."),
    "]": (".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###."),
    "'": ("..#..", "..#..", ".#...", ".....", ".....", ".....", "....."),
    "!": ("..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."),
    "?": (".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."),
}
GLYPH_W, GLYPH_H = 5, 7
ADVANCE = GLYPH_W + 1            # a column of space between characters
_BITS = {ch: np.array([[c == "#" for c in row] for row in rows], bool)
         for ch, rows in _GLYPHS.items()}


def glyph(ch: str) -> np.ndarray:
    """The (7, 5) bool mask of ``ch``; lower case as upper case, anything unknown as '?'."""
    return _BITS.get(ch) if ch in _BITS else _BITS.get(ch.upper(), _BITS["?"])


def text_width(text: str, scale: int = 1) -> int:
    return max(0, len(text) * ADVANCE - 1) * scale


def text_mask(text: str, scale: int = 1) -> np.ndarray:
    """``text`` as an (7*scale, width) bool mask."""
    if not text:
        return np.zeros((GLYPH_H * scale, 0), bool)
    cols = []
    gap = np.zeros((GLYPH_H, 1), bool)
    for i, ch in enumerate(text):
        if i:
            cols.append(gap)
        cols.append(glyph(ch))
    mask = np.concatenate(cols, axis=1)
    return mask.repeat(scale, axis=0).repeat(scale, axis=1)


def draw_text(img: np.ndarray, text: str, x: int, y: int, colour, scale: int = 1) -> None:
    """Draw ``text`` with its top-left corner at (x, y), clipped to ``img``."""
    mask = text_mask(text, scale)
    h, w = mask.shape
    H, W = img.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return
    sub = mask[y0 - y:y1 - y, x0 - x:x1 - x]
    img[y0:y1, x0:x1][sub] = colour


def fit_text(text: str, width: int, scale: int) -> str:
    """``text`` cut to ``width`` pixels, ending in '..' where it was cut."""
    chars = (width + scale) // (ADVANCE * scale)
    if len(text) <= chars:
        return text
    return text[:max(0, chars - 2)] + ".." if chars >= 3 else text[:max(chars, 0)]


# -- resampling ----------------------------------------------------------------------------------
def _weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) area weights: each output pixel averages the input span it covers (a box
    filter down, a blocky stretch up)."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    px = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, px + 1) - np.maximum(lo, px), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, C) uint8 -> (height, width, C) uint8 by area averaging."""
    if img.shape[0] == height and img.shape[1] == width:
        return img
    ry = _weights(img.shape[0], height).astype(np.float32)
    rx = _weights(img.shape[1], width).astype(np.float32)
    out = np.einsum("yh,hwc,xw->yxc", ry, img.astype(np.float32), rx, optimize=True)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


# -- the sheet -----------------------------------------------------------------------------------
BACKGROUND = (24, 24, 28)
INK = (235, 235, 235)
DIM = (150, 150, 160)
FAILED = (110, 20, 24)
FAILED_INK = (255, 200, 200)
PENDING = (60, 60, 66)


@dataclass
class Tile:
    image: np.ndarray | None          # (H, W, 3) uint8; None: no picture (failed, not rendered)
    lines: list[str]                  # caption, first line first
    failed: bool = False


def layout(n: int, row_length: int | None = None) -> tuple[int, int]:
    """(columns, rows) for ``n`` tiles: the sweep's last axis as a row where it is 2..8 long,
    else near square (at most 8 across)."""
    cols = row_length if row_length and 2 <= row_length <= 8 else min(8, math.ceil(math.sqrt(n)))
    cols = max(1, min(cols, n))
    return cols, math.ceil(n / cols)


def contact_sheet(tiles: list[Tile], *, thumb_width: int = 192, aspect: float = 16 / 9,
                  title: list[str] = (), row_length: int | None = None,
                  scale: int = 2) -> np.ndarray:
    """The tiles in a grid, each thumbnail ``thumb_width`` wide with its caption below; a failed
    tile is dark red with its caption in pink. ``title``: lines across the top."""
    tw = thumb_width
    th = max(1, round(tw / aspect))
    pad, line_h = 8, (GLYPH_H + 3) * scale
    n_lines = max((len(t.lines) for t in tiles), default=1)
    cell_w, cell_h = tw, th + 4 + n_lines * line_h
    cols, rows = layout(len(tiles), row_length)
    W = pad + cols * (cell_w + pad)
    small = 1 if any(text_width(t, scale) > W - 2 * pad for t in title) else scale
    head = (len(title) * (GLYPH_H + 3) * small + pad) if title else 0
    H = pad + head + rows * (cell_h + pad)
    sheet = np.empty((H, W, 3), np.uint8)
    sheet[:] = BACKGROUND
    for i, line in enumerate(title):       # smaller where it does not fit, then cut
        draw_text(sheet, fit_text(line, W - 2 * pad, small), pad,
                  pad + i * (GLYPH_H + 3) * small, DIM, small)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        x, y = pad + c * (cell_w + pad), pad + head + r * (cell_h + pad)
        if tile.image is not None:
            sheet[y:y + th, x:x + tw] = resize(tile.image[..., :3], tw, th)
        else:
            sheet[y:y + th, x:x + tw] = FAILED if tile.failed else PENDING
            word = "FAILED" if tile.failed else "NOT RENDERED"
            big = 2 * scale if text_width(word, 2 * scale) <= tw - 8 else scale
            draw_text(sheet, word, x + (tw - text_width(word, big)) // 2,
                      y + (th - GLYPH_H * big) // 2, FAILED_INK if tile.failed else DIM, big)
        ink = FAILED_INK if tile.failed else INK
        for j, line in enumerate(tile.lines):
            draw_text(sheet, fit_text(line, tw, scale), x, y + th + 4 + j * line_h,
                      ink if j else (ink if tile.failed else DIM), scale)
    return sheet
