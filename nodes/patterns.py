"""Procedural pattern generators: the earlier prototype's four "designed" looks, rebuilt as
batched torch fields, plus the node that picks among them from the music.

* ``pattern.fractal``    escape-time Julia / Mandelbrot with smooth colouring.
* ``pattern.organic``    glossy cells (gaussian metaballs in a warped space) that breathe.
* ``pattern.flowing``    contour lines of travelling-wave interference, paced by the tempo.
* ``pattern.geometric``  nested rotating polygons over a kaleidoscope, snapping on beats.
* ``pattern.auto``       high energy -> geometric, high brightness -> fractal, medium energy ->
                         flowing, low energy -> organic; crossfades, hysteresis, a hold time.

Every generator is a plain function of a :class:`~afx_graph.context.FrameContext` and its
parameters (python numbers or per-frame ``(B,)`` tensors), so the node classes and
``pattern.auto`` share one implementation. Each frame of a batch is computed independently
(per-frame values go through float64 where a trigonometric function could round differently
in a vectorised loop), so a batch of frames equals the same frames rendered one at a time.
Pictures are drawn over :func:`~afx_graph.nodes.field.coordinate_grid` (the short side spans
-0.5..0.5), shapes and line widths are sized in those units, edges are anti-aliased over
~1.5 pixels and lines thinner than a pixel fade instead of vanishing, so a pattern looks the
same at 256x256 and at 1080p. Math runs in float32 on every device (fractal orbits need it;
the rest is cheap) and the image is returned in ``ctx.dtype``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from afx_graph import IMAGE, SCALAR, VECTOR, In, Out, Param, node

from afx_graph.nodes import palettes
from afx_graph.nodes.field import coordinate_grid

TAU = 2.0 * math.pi

PALETTE_NAMES = palettes.NAMES       # the library's one vocabulary (nodes/palettes.py)


# -- shared helpers --------------------------------------------------------------------------

def smoothstep(e0, e1, x: torch.Tensor) -> torch.Tensor:
    """Hermite step from 0 at ``e0`` to 1 at ``e1`` (``e0 > e1`` steps down)."""
    t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def coverage(d: torch.Tensor, px: float) -> torch.Tensor:
    """Anti-aliased inside-ness of a signed distance (negative inside), over ~1.5 pixels."""
    return smoothstep(0.75 * px, -0.75 * px, d)


def stroke(dist: torch.Tensor, half_width, px) -> torch.Tensor:
    """An anti-aliased line at unsigned distance ``dist`` with ``half_width`` (both in image
    units). A line thinner than a pixel is drawn a pixel wide and proportionally fainter, so
    it keeps the same weight in the picture at any resolution."""
    as_t = lambda v: torch.as_tensor(v, dtype=dist.dtype, device=dist.device)
    px, half_width = as_t(px), as_t(half_width)
    hw = torch.maximum(half_width, 0.5 * px)
    return coverage(dist - hw, px) * (half_width / hw)


def wrap(a: torch.Tensor, period) -> torch.Tensor:
    """``a`` modulo ``period`` in [0, period), with plain vectorised ops (torch.remainder is
    several times slower on a CPU)."""
    return a - period * torch.floor(a / period)


def centred(a: torch.Tensor, period) -> torch.Tensor:
    """``a`` modulo ``period`` in [-period/2, period/2]: the offset to the nearest repeat."""
    return a - period * torch.round(a / period)


_GRIDS: dict = {}


def grid(ctx) -> tuple[torch.Tensor, torch.Tensor, float]:
    """x and y (H, W) of the output size (short side -0.5..0.5) and the size of a pixel in
    those units."""
    key = (ctx.width, ctx.height, str(ctx.device))
    g = _GRIDS.get(key)
    if g is None:
        if len(_GRIDS) > 8:
            _GRIDS.clear()
        c = coordinate_grid(ctx.width, ctx.height, 1.0, ctx.device)
        g = _GRIDS[key] = (c[..., 0].contiguous(), c[..., 1].contiguous())
    return g[0], g[1], 1.0 / min(ctx.width, ctx.height)


def _wide(device: torch.device) -> torch.dtype:
    """Precision for per-frame values: float64 where the device has it."""
    return torch.float32 if device.type == "mps" else torch.float64


def wide(value: torch.Tensor) -> torch.Tensor:
    """A per-frame param (B,) in the wide precision, for sums that grow with time."""
    return value.to(_wide(value.device))


def frame_times(ctx) -> torch.Tensor:
    """Seconds of each frame, (B,), in the wide precision (exact frame times, not float32)."""
    times = torch.from_numpy(np.asarray(ctx.times, dtype=np.float64).reshape(-1))
    return times.to(_wide(ctx.device)).to(ctx.device)


def px3(v: torch.Tensor) -> torch.Tensor:
    """(B,) per-frame values in float32, shaped (B, 1, 1) to broadcast over (B, H, W)."""
    return v.to(torch.float32).reshape(-1, 1, 1)


def rng_for(seed: int, salt: int) -> np.random.Generator:
    """A seeded generator for a pattern's constants (the same on every device)."""
    return np.random.default_rng([int(seed) & 0x7FFFFFFF, salt])


def finish(rgb: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1]. (Every formula is finite by construction over the params' ranges; a
    test renders every generator at the ends of every range.)"""
    return rgb.clamp_(0.0, 1.0)


# -- fractal ---------------------------------------------------------------------------------

JULIA_C = (-0.835, -0.2321)      # the default Julia constant: spirals of fine dendrites
FRACTAL_HOME = {"julia": (0.0, 0.0), "mandelbrot": (-0.6, 0.0)}
FRACTAL_HALF_VIEW = {"julia": 0.85, "mandelbrot": 1.15}   # half the short side at zoom 1
BOUNDED = -1e9                   # escape count of an orbit that never escaped
ESCAPE_MAG2 = 16.0               # |z| > 4 counts as escaped
CHECK_EVERY = 4                  # escape checks (and compaction) every 4 steps: |z| cannot
                                 # overflow float32 in 4 steps from |z| <= 4 (4^16 ~ 4e9)


def escape_time(x: torch.Tensor, y: torch.Tensor, cr, ci, zr0, zi0, limit: torch.Tensor,
                julia: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Iterate z <- z^2 + c for every pixel of (B, H, W) grids, at most ``limit[b]`` times for
    frame b. Julia: z starts at the pixel, c is per frame (cr, ci: (B,)); Mandelbrot: c is the
    pixel, z starts at (zr0, zi0) per frame. Returns the smooth (continuous) escape count
    (negative for pixels that start far out; ``BOUNDED`` where the orbit stays bounded) and,
    (B, H, W, 2), z at the last step for bounded pixels (0 elsewhere).

    Escapes are checked every few steps (and at each frame's limit); finished pixels are
    parked at z = c = 0 and dropped from the working set once enough have piled up, so the
    cost follows the pixels still iterating. The steps are plain float32 multiplies and adds
    done in place (no fused or vectorised complex arithmetic whose rounding could depend on a
    pixel's position in memory), and a pixel's steps depend only on its own frame's limit:
    batching frames does not change any value."""
    B, H, W = x.shape
    n_px = B * H * W
    dev = x.device
    per_px = lambda v: v.to(torch.float32).reshape(B, 1, 1).expand(B, H, W).reshape(-1).clone()
    if julia:
        zr, zi = x.reshape(-1).clone(), y.reshape(-1).clone()
        cr, ci = per_px(cr), per_px(ci)
    else:
        cr, ci = x.reshape(-1).clone(), y.reshape(-1).clone()
        zr, zi = per_px(zr0), per_px(zi0)
    parked = torch.iinfo(torch.int32).max
    lim = limit.to(torch.int32).reshape(B, 1, 1).expand(B, H, W).reshape(-1).clone()
    idx = torch.arange(n_px, device=dev)
    mu = torch.full((n_px,), BOUNDED, device=dev)
    inner = torch.zeros(n_px, 2, device=dev)
    limits = sorted(set(int(v) for v in limit.tolist()))
    # a check after the first step parks the pixels that start far out, so every pixel
    # still iterating has |z| <= 4 at its last check and cannot overflow before the next
    regular = {1} | set(range(CHECK_EVERY, limits[-1] + 1, CHECK_EVERY))
    checks = sorted({c for c in regular if c <= limits[-1]} | set(limits))
    zr2, zi2 = torch.empty_like(zr), torch.empty_like(zi)
    n, n_parked = 0, 0
    for check in checks:
        while n < check:                   # z <- z^2 + c, in place
            torch.mul(zr, zr, out=zr2)
            torch.mul(zi, zi, out=zi2)
            zi.mul_(zr)
            zi.add_(zi)
            zi.add_(ci)
            zr2.sub_(zi2)
            zr2.add_(cr)
            zr, zr2 = zr2, zr
            n += 1
        mag = zr * zr + zi * zi
        at_limit = lim <= n
        esc = mag > ESCAPE_MAG2
        if n not in regular:
            esc &= at_limit              # an off-schedule check only concerns frames ending here
        done = (esc | at_limit).nonzero().squeeze(1)
        if done.numel() == 0:
            continue
        take = lambda v, i: torch.index_select(v, 0, i)
        e = take(esc, done)
        where, m, zd_r, zd_i = (take(v, done) for v in (idx, mag, zr, zi))
        ei = e.nonzero().squeeze(1)
        bi = (~e).nonzero().squeeze(1)
        if ei.numel():
            # n - log2(log2|z|): continuous across the step where |z| passes the bailout
            mu.index_copy_(0, take(where, ei), n - torch.log2(0.5 * torch.log2(take(m, ei))))
        if bi.numel():
            inner.index_copy_(0, take(where, bi), torch.stack([take(zd_r, bi), take(zd_i, bi)], 1))
        for v in (zr, zi, cr, ci):        # parked: 0 stays 0 and never escapes
            v.index_fill_(0, done, 0.0)
        lim.index_fill_(0, done, parked)
        n_parked += done.numel()
        if n_parked == idx.numel():
            break
        if n_parked * 4 > idx.numel():    # compact once a quarter of the set is parked
            keep = (lim != parked).nonzero().squeeze(1)
            idx, zr, zi, cr, ci, lim = (take(v, keep) for v in (idx, zr, zi, cr, ci, lim))
            zr2, zi2 = torch.empty_like(zr), torch.empty_like(zi)
            n_parked = 0
    return mu.view(B, H, W), inner.view(B, H, W, 2)


def fractal(ctx, *, mode: str, palette: str, zoom, center, rotate, c_re, c_im, morph,
            iterations, speed, **_) -> torch.Tensor:
    """Escape-time fractal frames (B, H, W, 3) in [0, 1], float32."""
    x, y, px = grid(ctx)
    wide_t = _wide(ctx.device)
    t = frame_times(ctx) * wide(speed)
    # view: a slow breathing zoom around `zoom`, rotation in turns per minute
    z = wide(zoom) * torch.exp2(0.35 * torch.sin(TAU * t / 29.0))
    angle = TAU * frame_times(ctx) * wide(rotate) / 60.0 + 0.2 * torch.sin(TAU * t / 37.0)
    scale = 2.0 * FRACTAL_HALF_VIEW[mode] / z
    cs, sn = torch.cos(angle) * scale, torch.sin(angle) * scale
    hx, hy = FRACTAL_HOME[mode]
    cx = torch.full_like(t, hx + float(center[0]))
    cy = torch.full_like(t, hy + float(center[1]))
    X = x * px3(cs) - y * px3(sn) + px3(cx)
    Y = x * px3(sn) + y * px3(cs) + px3(cy)
    # the Julia constant (or the Mandelbrot start point) circles around (c_re, c_im)
    m = wide(morph)
    wr = wide(c_re) + m * torch.cos(TAU * t / 13.0)
    wi = wide(c_im) + m * torch.sin(TAU * t / 17.0)
    lim = wide(iterations).round().clamp(1, 4096).to(torch.int64)
    if mode == "julia":
        mu, inner = escape_time(X, Y, wr, wi, None, None, lim, julia=True)
    else:
        mu, inner = escape_time(X, Y, None, None, wr - JULIA_C[0], wi - JULIA_C[1], lim, julia=False)
    outside = mu > BOUNDED * 0.5
    mu = torch.where(outside, mu, torch.zeros_like(mu)).clamp(min=0.0)
    limf = px3(lim.to(wide_t))
    hue = px3(torch.remainder(t / 23.0, 1.0))
    # colour bands along sqrt(count): wide bands far out, ever finer towards the set; light
    # rises from black far out, with a white-hot filament at the set's edge
    s = 0.32 * torch.sqrt(mu) + hue
    light = 1.0 - torch.exp(-mu / 7.0)
    rgb = palettes.colours(s, palette) * (light * torch.sqrt(light))[..., None]
    edge = (mu / limf).clamp(0.0, 1.0)
    edge = edge * edge
    rgb += (0.4 * edge * edge * edge)[..., None]
    # bounded orbits: dark, softly shaded by where the orbit ended up (the direction of its
    # last point shows the basins of the attracting cycle)
    zr, zi = inner[..., 0], inner[..., 1]
    glass = 0.5 + 0.5 * (zr * zr - zi * zi) / (zr * zr + zi * zi + 1e-12)    # cos of 2 x angle
    tint = palettes.colours(hue + 0.5, palette)                                # (B, 1, 1, 3)
    deep = tint * (0.04 + 0.10 * glass)[..., None]
    rgb = torch.where(outside[..., None], rgb, deep)
    return finish(rgb)



# -- organic ---------------------------------------------------------------------------------

N_BLOBS = 12
WORLD = (2.2, 1.4)          # the cells live on a wrapped world this size (x, y)


def organic(ctx, *, energy, scale, speed, softness, palette, seed, **_) -> torch.Tensor:
    """Glossy cell frames (B, H, W, 3) in [0, 1]: gaussian metaballs drifting across a
    wrapped world through a gently warped space, swelling with ``energy`` (-1 calm .. 1 loud).
    ``scale`` > 1 zooms out (more, smaller cells: the world repeats)."""
    x, y, px = grid(ctx)
    rng = rng_for(seed, 1)
    t = frame_times(ctx) * wide(speed)
    e = (wide(energy).clamp(-1.0, 1.0) + 1.0) * 0.5          # 0 calm .. 1 loud
    sc = wide(scale)
    u, v = x * px3(sc), y * px3(sc)
    # domain warp: two rounds of sines, stronger when loud
    warp = px3(0.04 + 0.08 * e)
    for k in range(2):
        f, ph, w = rng.uniform(2.5, 4.5), rng.uniform(0, TAU, 2), rng.uniform(0.04, 0.10, 2)
        p1 = px3(torch.remainder(ph[0] + t * TAU * w[0], TAU))
        p2 = px3(torch.remainder(ph[1] + t * TAU * w[1], TAU))
        u, v = u + warp * torch.sin(f * v + p1), v + warp * torch.sin(f * u + p2)
    # blobs on Lissajous paths; radii swell with energy and breathe on slow cycles of their own
    field = torch.zeros_like(u)
    hue = torch.zeros_like(u)
    for i in range(N_BLOBS):
        x0, y0 = rng.uniform(-0.5, 0.5) * WORLD[0], rng.uniform(-0.5, 0.5) * WORLD[1]
        vx, vy = rng.uniform(0.01, 0.035) * rng.choice([-1, 1]), rng.uniform(-0.02, 0.02)
        fx, fy = rng.uniform(0.03, 0.08, 2)
        phx, phy, phr = rng.uniform(0, TAU, 3)
        r0 = rng.uniform(0.08, 0.16)
        h = rng.uniform(0.0, 0.5)
        # drift across a wrapped world (leaving one side, coming back on the other), wobbling
        cx = torch.remainder(x0 + vx * t + 0.08 * torch.sin(TAU * fx * t + phx), WORLD[0])
        cy = torch.remainder(y0 + vy * t + 0.08 * torch.sin(TAU * fy * t + phy), WORLD[1])
        r = r0 * (0.7 + 0.6 * e) * (1.0 + 0.15 * torch.sin(TAU * 0.09 * t + phr))
        inv = -1.0 / (r * r)
        dx = centred(u - px3(cx), WORLD[0])
        dy = centred(v - px3(cy), WORLD[1])
        g = torch.exp((dx * dx + dy * dy) * px3(inv))
        field += g
        hue += g * h
    hue = hue / (field + 1e-6)
    # the field's slope for the lighting: central differences (the field is smooth at the
    # pixel scale), in image units
    gy, gx = torch.gradient(field, spacing=px, dim=(1, 2))
    # the surface: a smooth threshold of the summed field, softened by `softness`
    level = 0.5
    soft = px3(0.03 + 0.6 * wide(softness) ** 1.5) + 1.5 * px
    body = smoothstep(level - soft, level + soft, field)
    # lighting from the field as a height map: diffuse, a specular highlight, and a hue that
    # shifts towards the rims (a soap-film sheen)
    hgt = 0.05 / px3(sc * sc)
    nx, ny = -gx * hgt, -gy * hgt
    nz = torch.rsqrt(nx * nx + ny * ny + 1.0)
    nx, ny = nx * nz, ny * nz
    lx, ly, lz = -0.40, -0.55, 0.73
    diff = (nx * lx + ny * ly + nz * lz).clamp(min=0.0)
    hx, hy, hz = lx, ly, lz + 1.0
    hn = 1.0 / math.sqrt(hx * hx + hy * hy + hz * hz)
    spec = ((nx * hx + ny * hy + nz * hz) * hn).clamp(min=0.0) ** 48
    drift = px3(torch.remainder(t / 40.0, 1.0))
    sheen = 1.0 - nz
    inside = palettes.colours(hue + 0.35 * sheen + drift, palette)
    # a nucleus where blobs pile up: a second, brighter surface at a higher level
    core = smoothstep(2.1 * level - soft, 2.1 * level + soft, field)
    shade = (0.22 + 0.85 * diff) * (1.0 + 0.35 * core)
    cell = inside * shade[..., None] + (0.6 * spec)[..., None]
    # backdrop: the field's halo in the palette's opposite colour over a dark vignette
    halo = palettes.colours(hue + drift + 0.5, palette) * (0.35 * field.clamp(max=1.0))[..., None]
    vignette = (0.07 - 0.05 * (x * x + y * y)).clamp(min=0.0)
    bg = halo + vignette[..., None]
    rgb = bg + (cell - bg) * body[..., None]
    return finish(rgb)


# -- flowing ---------------------------------------------------------------------------------

def flowing(ctx, *, tempo, bands, speed, waves, palette, seed, **_) -> torch.Tensor:
    """Flow-line frames (B, H, W, 3) in [0, 1]: contour lines of a sum of travelling waves.
    Each wave advances a fraction of a cycle per bar at ``tempo``; ``bands`` (B, D) in
    [-1, 1] swell and stretch the waves (band j drives the waves spread over it)."""
    x, y, px = grid(ctx)
    rng = rng_for(seed, 2)
    bpm = wide(tempo)
    bpm = torch.where(bpm > 0, bpm, torch.full_like(bpm, 120.0))          # no beat found: 120
    bars = frame_times(ctx) * bpm / 240.0 * wide(speed)        # bars of 4 beats
    n = int(waves)
    lev = None
    if bands is not None:
        bv = torch.nan_to_num(wide(bands))
        lev = bv.clamp(-1.0, 1.0)
    psi = torch.zeros(ctx.batch, *x.shape, device=ctx.device)
    gx = torch.zeros_like(psi)
    gy = torch.zeros_like(psi)
    base = rng.uniform(0, math.pi)
    for i in range(n):
        ang = base + math.pi * (i + rng.uniform(-0.25, 0.25)) / n
        k = rng.uniform(4.0, 9.0)
        amp = 1.0 / k
        cycles = rng.uniform(0.15, 0.45) * rng.choice([-1, 1])      # cycles per bar
        ph = rng.uniform(0, TAU)
        kk = torch.full_like(bars, k)
        aa = torch.full_like(bars, amp)
        if lev is not None:
            b = lev[:, min(lev.shape[1] - 1, i * lev.shape[1] // n)]
            aa = aa * (1.0 + 0.7 * b)
            kk = kk * (1.0 + 0.12 * b)
        phase = torch.remainder(ph + TAU * cycles * bars, TAU)
        kx, ky = kk * math.cos(ang), kk * math.sin(ang)
        arg = x * px3(kx) + y * px3(ky) + px3(phase)
        s, c = torch.sin(arg), torch.cos(arg)
        psi += s * px3(aa)
        ac = c * px3(aa)
        gx += ac * px3(kx)
        gy += ac * px3(ky)
    # contour lines of psi, a constant width in pixels thanks to the analytic gradient
    density = 7.0
    u = psi * density
    dist = (u - torch.round(u)).abs() / (density * torch.sqrt(gx * gx + gy * gy) + 1e-4)
    major = (wrap(torch.round(u), 3.0) < 0.5).to(u.dtype)  # every third line bolder
    line = stroke(dist, 0.0035 + 0.003 * major, px)
    glow = torch.exp(-dist / (0.012 + 0.018 * major))
    band = wrap(torch.floor(u), 2.0)                      # alternating shades
    hue = px3(torch.remainder(bars * 0.0625, 1.0))
    col = palettes.colours(0.8 * psi + 0.15 * band + hue, palette)
    shade = 0.06 + 0.07 * band + (0.25 + 0.2 * major) * glow
    rgb = col * (shade + 0.8 * line)[..., None] + ((0.1 + 0.25 * major) * line)[..., None]
    return finish(rgb)


# -- geometric -------------------------------------------------------------------------------

def geometric(ctx, *, beat, sides, rings, symmetry, rotation, kick, palette, seed,
              **_) -> torch.Tensor:
    """Geometric frames (B, H, W, 3) in [0, 1]: `rings` nested polygons counter-rotating over
    a kaleidoscope of `symmetry` folds whose shapes stream outwards like a tunnel. On a beat
    pulse (1 on the beat, decaying) each polygon and the kaleidoscope turn one symmetry step
    forward with an ease-out (a whole step, so the pulse's jump is invisible and the motion
    reads as a snap), and the picture kicks larger."""
    x, y, px = grid(ctx)
    rng = rng_for(seed, 3)
    t = frame_times(ctx)
    b = wide(beat).clamp(0.0, 1.0)
    k = wide(kick)
    snap = (1.0 - b) * k.clamp(max=1.0)        # 0 on the beat -> 1 (one whole step) after it
    zoom = 1.0 + 0.15 * k * b * b
    bf = px3(b)
    xs, ys = x / px3(zoom), y / px3(zoom)
    pxs = px / px3(zoom)                        # a pixel in the zoomed units
    r = torch.sqrt(xs * xs + ys * ys)
    theta = torch.atan2(ys, xs)
    spin = TAU * t * wide(rotation) / 60.0          # turns per minute
    n_sides = wide(sides).round().clamp(3, 64)
    folds = wide(symmetry).round().clamp(1, 64)
    hue = px3(torch.remainder(t / 30.0 + rng.uniform(0, 1), 1.0))
    # kaleidoscope: fold the angle into a mirrored wedge, turning slowly and snapping on beats
    wedge = TAU / folds
    a = theta - px3(torch.remainder(-0.5 * spin + wedge * snap, TAU))
    a = wrap(a, px3(wedge))
    a = (a - px3(wedge / 2)).abs()                               # 0 .. wedge / 2
    # shapes in log-polar space (conformal: a circle there is a circle here, sized with r),
    # repeating along the radius and streaming outwards
    lr = torch.log(r + 1e-6)
    rgb = palettes.colours(hue + 0.5 + 0.3 * r, palette) * (0.07 * torch.exp(-1.5 * r))[..., None]
    half = px3(wedge / 2)
    fade = smoothstep(0.015, 0.10, r) * torch.exp(-1.4 * r)
    for j in range(3):
        period = rng.uniform(0.45, 0.7)
        off = rng.uniform(0.0, 1.0)
        flow = (0.10 + 0.06 * j) * (1.0 if j != 1 else -1.0)
        v0 = rng.uniform(0.2, 0.8)
        u = centred(lr / period - px3(torch.remainder(t * flow + off, 1.0)), 1.0)
        du = u * period                                          # radians, like the angle
        dv = a - half * v0
        rho = px3(torch.minimum(half.reshape(-1) * 0.4, torch.full_like(half.reshape(-1),
                                                                          period * 0.2)))
        col = palettes.colours(hue + 0.2 * j + 0.1, palette)
        if j == 0:                                                # jewels: filled discs
            dd = torch.sqrt(du * du + dv * dv)
            d = (dd - rho) * r
            amount = (coverage(d, pxs) * (0.1 + 0.45 * (1.0 - dd / rho).clamp(0.0, 1.0) ** 2)
                      + stroke(d.abs(), 0.0012, pxs) * 0.5)
        elif j == 1:                                              # diamond outlines
            d = ((du.abs() + dv.abs()) * 0.7071 - rho) * r
            amount = stroke(d.abs(), 0.0012, pxs) * 0.5
        else:                                                     # tunnel rings
            d = du.abs() * r
            amount = stroke(d, 0.0008, pxs) * 0.22
        rgb = rgb + col * (amount * fade)[..., None]
    # rays along the mirror lines of the kaleidoscope
    ray = stroke((r * a).abs(), 0.0008, pxs) * smoothstep(0.05, 0.25, r)
    rgb = rgb + (0.18 * ray)[..., None]
    # nested polygons, alternately turning, each snapping one side's angle per beat
    sector = TAU / n_sides
    n_rings = int(rings)
    for i in range(n_rings):
        radius = 0.07 + 0.40 * (i + 1) / n_rings
        direction = 1.0 if i % 2 == 0 else -1.0
        rot = direction * (spin * (1.0 + 0.35 * i) + sector * snap) + rng.uniform(0, TAU)
        ai = wrap(theta - px3(torch.remainder(rot, TAU)), px3(sector)) - px3(sector / 2)
        d = r * torch.cos(ai) - radius * px3(torch.cos(sector / 2))
        thick = 0.0025 + 0.002 * (i % 3)
        edge = stroke(d.abs(), thick, pxs)
        glow = torch.exp(-d.abs() / (0.012 + 0.02 * bf))
        col = palettes.colours(hue + 0.6 * i / n_rings, palette)
        rgb = rgb * (1.0 - 0.6 * edge)[..., None] + col * (edge * (0.85 + 0.4 * bf) + glow * 0.25)[..., None]
    rgb = rgb * (1.0 + 0.2 * bf)[..., None]
    return finish(rgb)


# -- nodes -----------------------------------------------------------------------------------

def _param_defaults(cls, ctx) -> dict:
    """The params of a generator at their defaults, in the form the executor gives a
    per-frame node ((B,) tensors for the linkable ones)."""
    return {n: torch.full((ctx.batch,), float(p.default), device=ctx.device) if p.linkable
            else p.default for n, p in cls.spec.params.items()}


PALETTE_DOC = "colour palette: " + ", ".join(PALETTE_NAMES)
SEED_DOC = "picks the pattern's layout: same seed, same picture"


@node("pattern.fractal", category="Patterns", rate="frame")
class Fractal:
    """Fractal

    Escape-time Julia or Mandelbrot set with smooth colouring through a palette. The view
    breathes and turns slowly; the Julia constant circles around (c_re, c_im) so the set
    morphs. Zoom, the constant and the iteration count can all be driven by audio."""

    mode = Param(str, "julia", choices=("julia", "mandelbrot"), doc="which set to draw")
    palette = Param(str, "sunset", choices=PALETTE_NAMES, doc=PALETTE_DOC)
    zoom = Param(float, 1.0, min=0.1, max=10000.0, doc="magnification (1 shows the whole set)")
    center = Param(tuple, (0.0, 0.0), min=-4.0, max=4.0,
                   doc="view centre as an offset from the set's home position (re, im)")
    rotate = Param(float, 0.5, min=-60.0, max=60.0, doc="rotation speed in turns per minute")
    c_re = Param(float, JULIA_C[0], min=-2.0, max=2.0,
                 doc="Julia constant, real part (Mandelbrot: moving it shifts the start point "
                     "and morphs the set)")
    c_im = Param(float, JULIA_C[1], min=-2.0, max=2.0, doc="Julia constant, imaginary part")
    morph = Param(float, 0.03, min=0.0, max=0.5,
                  doc="how far the constant wanders around (c_re, c_im) over time")
    iterations = Param(int, 48, min=1, max=1024,
                       doc="escape-time iterations: more shows finer detail, costs more")
    speed = Param(float, 1.0, min=0.0, max=20.0, doc="animation speed (0 holds still)")
    image = Out(IMAGE)

    def process(self, ctx, **p):
        return {"image": fractal(ctx, **p).to(ctx.dtype)}


@node("pattern.organic", category="Patterns", rate="frame")
class Organic:
    """Organic

    Glossy, softly lit cells that drift, merge and split: gaussian metaballs in a gently
    warped space. They swell and the space churns with `energy` (link spectrum.rms)."""

    energy = Param(float, 0.0, min=-1.0, max=1.0,
                   doc="-1 calm .. 1 loud: blobs swell and warp (link spectrum.rms or bass)")
    scale = Param(float, 1.0, min=0.1, max=10.0, doc="pattern size: higher is more, smaller cells")
    speed = Param(float, 1.0, min=0.0, max=20.0, doc="how fast the cells drift (0 holds still)")
    softness = Param(float, 0.1, min=0.0, max=1.0, doc="edge softness: 0 crisp .. 1 misty")
    palette = Param(str, "candy", choices=PALETTE_NAMES, doc=PALETTE_DOC)
    seed = Param(int, 1, min=0, max=2**31 - 1, linkable=False, doc=SEED_DOC)
    image = Out(IMAGE)

    def process(self, ctx, **p):
        return {"image": organic(ctx, **p).to(ctx.dtype)}


@node("pattern.flowing", category="Patterns", rate="frame")
class Flowing:
    """Flowing

    Contour lines of interfering travelling waves, like silk or topography in motion. The
    waves travel in step with `tempo` (link features.onsets.tempo), and audio
    band levels swell and stretch them."""

    bands = In(VECTOR, optional=True,
               doc="band levels per frame in [-1, 1] (e.g. spectrum.band_levels)")
    tempo = Param(float, 120.0, min=0.0, max=400.0,
                  doc="beats per minute that pace the flow (0, no beat found, counts as 120)")
    speed = Param(float, 1.0, min=0.0, max=20.0, doc="flow speed relative to the tempo (0 holds still)")
    waves = Param(int, 6, min=1, max=24, linkable=False, doc="number of interfering waves")
    palette = Param(str, "neon", choices=PALETTE_NAMES, doc=PALETTE_DOC)
    seed = Param(int, 1, min=0, max=2**31 - 1, linkable=False, doc=SEED_DOC)
    image = Out(IMAGE)

    def process(self, ctx, **p):
        return {"image": flowing(ctx, **p).to(ctx.dtype)}


@node("pattern.geometric", category="Patterns", rate="frame")
class Geometric:
    """Geometric

    Nested polygons counter-rotating over a kaleidoscope. Link a beat pulse into `beat`:
    on every beat each shape snaps one step round and the picture kicks outwards."""

    beat = Param(float, 0.0, min=0.0, max=1.0,
                 doc="beat pulse (1 on the beat, decaying): link features.onsets.beat")
    sides = Param(int, 6, min=3, max=12, doc="sides of the polygons")
    rings = Param(int, 5, min=1, max=12, linkable=False, doc="number of nested polygons")
    symmetry = Param(int, 8, min=1, max=24, doc="folds of the kaleidoscope")
    rotation = Param(float, 2.0, min=-60.0, max=60.0, doc="rotation speed in turns per minute")
    kick = Param(float, 1.0, min=0.0, max=2.0, doc="how hard a beat snaps and kicks the shapes")
    palette = Param(str, "spectrum", choices=PALETTE_NAMES, doc=PALETTE_DOC)
    seed = Param(int, 1, min=0, max=2**31 - 1, linkable=False, doc=SEED_DOC)
    image = Out(IMAGE)

    def process(self, ctx, **p):
        return {"image": geometric(ctx, **p).to(ctx.dtype)}


RENDERERS = (fractal, organic, flowing, geometric)
FRACTAL, ORGANIC, FLOWING, GEOMETRIC = range(4)


def choose(energy: float, bright: float, current: int | None, *, high_energy: float,
           high_brightness: float, low_energy: float, hysteresis: float) -> int:
    """pattern.auto's rule for one frame. Thresholds move by ``hysteresis`` in favour of the
    current choice: it is easier to stay than to switch."""
    h = hysteresis if current is not None else 0.0
    he = high_energy - h if current == GEOMETRIC else high_energy + h
    hb = high_brightness - h if current == FRACTAL else high_brightness + h
    le = low_energy + h if current == ORGANIC else low_energy - h
    if energy > he:
        return GEOMETRIC
    if bright > hb:
        return FRACTAL
    if energy < le:
        return ORGANIC
    return FLOWING


@node("pattern.auto", category="Patterns", rate="frame", stateful=True)
class Auto:
    """Auto pattern

    Picks among the four generators from the music, as the earlier prototype did: high energy
    -> geometric, high brightness -> fractal, medium energy -> flowing, low energy -> organic.
    The rule reads energy and brightness averaged over `smoothing` seconds; switches crossfade
    over `crossfade` seconds; `hysteresis` and `hold` keep a jittery signal from flapping
    between looks. `choice` tells which generator dominates each frame (0 fractal, 1 organic,
    2 flowing, 3 geometric). Only the looks visible in a frame are rendered."""

    bands = In(VECTOR, optional=True, doc="band levels for the flowing look (spectrum.band_levels)")
    energy = Param(float, 0.0, min=-1.0, max=1.0, doc="loudness in [-1, 1]: link spectrum.rms")
    brightness = Param(float, 0.0, min=-1.0, max=1.0,
                       doc="brightness in [-1, 1]: link spectrum.centroid")
    beat = Param(float, 0.0, min=0.0, max=1.0, doc="beat pulse for the geometric look")
    tempo = Param(float, 120.0, min=0.0, max=400.0, doc="tempo (BPM) for the flowing look")
    high_energy = Param(float, 0.4, min=-1.0, max=1.0, doc="energy above this: geometric")
    high_brightness = Param(float, 0.4, min=-1.0, max=1.0,
                            doc="brightness above this (energy not high): fractal")
    low_energy = Param(float, -0.3, min=-1.0, max=1.0,
                       doc="energy below this (brightness not high): organic; between: flowing")
    hysteresis = Param(float, 0.1, min=0.0, max=1.0,
                       doc="how far past a threshold a signal must go to switch away")
    smoothing = Param(float, 1.0, min=0.0, max=30.0,
                      doc="seconds over which energy and brightness are averaged before the "
                          "rule looks at them (0: raw), so beats do not switch looks")
    hold = Param(float, 2.0, min=0.0, max=60.0,
                 doc="seconds to stay with a look before switching again")
    crossfade = Param(float, 1.5, min=0.0, max=30.0, doc="seconds a switch takes (0: hard cut)")
    palette = Param(str, "neon", choices=PALETTE_NAMES, doc=PALETTE_DOC)
    speed = Param(float, 1.0, min=0.0, max=20.0, doc="animation speed of every look")
    seed = Param(int, 1, min=0, max=2**31 - 1, linkable=False, doc=SEED_DOC)
    image = Out(IMAGE)
    choice = Out(SCALAR, doc="the dominant look per frame: 0 fractal, 1 organic, 2 flowing, 3 geometric")

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame picks its look afresh, without a fade."""
        self.current: int | None = None        # the look shown (or being faded in)
        self.weights = np.zeros(4)              # blend weights of the four looks, sum 1
        self.since = 0.0                        # seconds since the last switch
        self.level = (0.0, 0.0)                 # smoothed energy and brightness
        self.last_frame: int | None = None

    def step(self, frame: int, fps: float, energy: float, bright: float, *, smoothing: float,
             crossfade: float, hold: float, **rule) -> np.ndarray:
        """Advance the selection to ``frame``; returns the blend weights of the four looks.
        The same frame again changes nothing; an earlier frame (a seek back) starts afresh."""
        if self.last_frame is not None and frame < self.last_frame:
            self.reset()
        if self.current is None:
            self.level = (energy, bright)
            self.current = choose(energy, bright, None, **rule)
            self.weights = np.eye(4)[self.current]
            self.since, self.last_frame = 0.0, frame
            return self.weights.copy()
        dt = (frame - self.last_frame) / fps
        self.last_frame = frame
        if dt <= 0:
            return self.weights.copy()
        a = 1.0 - math.exp(-dt / smoothing) if smoothing > 0 else 1.0
        e = self.level[0] + a * (energy - self.level[0])
        b = self.level[1] + a * (bright - self.level[1])
        self.level = (e, b)
        self.since += dt
        target = choose(e, b, self.current, **rule)
        if target != self.current and self.since >= hold:
            self.current, self.since = target, 0.0
        w, c = self.weights, self.current
        if crossfade <= 0:
            self.weights = np.eye(4)[c]
        elif w[c] < 1.0:                         # linear fade: exactly 0 and 1 at the ends
            new = min(1.0, w[c] + dt / crossfade)
            w = w * ((1.0 - new) / (1.0 - w[c]))
            w[c] = new
            self.weights = w
        return self.weights.copy()

    @staticmethod
    def settle(params, fps, linked):
        """Its look depends on every switch since the start (hysteresis, hold): a render
        split in time runs its selection (:meth:`advance`) from frame 0 (chunks.py)."""
        return None

    def advance(self, ctx, bands, energy, brightness, beat, tempo, high_energy, high_brightness,
                low_energy, hysteresis, smoothing, hold, crossfade, palette, speed, seed):
        """The selection only, no pictures: what a chunk's pre-roll needs."""
        self._weights(ctx, energy, brightness, high_energy, high_brightness, low_energy,
                      hysteresis, smoothing, hold, crossfade)

    def _weights(self, ctx, energy, brightness, high_energy, high_brightness, low_energy,
                 hysteresis, smoothing, hold, crossfade) -> np.ndarray:
        frames = ctx.frames if ctx.frames is not None else np.zeros(1, np.int64)
        per = lambda v: v.cpu().double().numpy()     # one small sync per batch
        e, br, he, hb, le, hy, sm, ho, cf = map(per, (
            energy, brightness, high_energy, high_brightness, low_energy, hysteresis, smoothing,
            hold, crossfade))
        # the selection runs frame by frame, so any batching gives the same weights
        return np.stack([self.step(int(f), float(ctx.fps), e[i], br[i], smoothing=sm[i],
                                   crossfade=cf[i], hold=ho[i], high_energy=he[i],
                                   high_brightness=hb[i], low_energy=le[i], hysteresis=hy[i])
                         for i, f in enumerate(frames)])

    def process(self, ctx, bands, energy, brightness, beat, tempo, high_energy, high_brightness,
                low_energy, hysteresis, smoothing, hold, crossfade, palette, speed, seed):
        W = self._weights(ctx, energy, brightness, high_energy, high_brightness, low_energy,
                          hysteresis, smoothing, hold, crossfade)
        frames = ctx.frames if ctx.frames is not None else np.zeros(1, np.int64)
        bright01 = (brightness.clamp(-1, 1) + 1) * 0.5
        shared = dict(palette=palette, speed=speed, seed=seed)
        args = [
            {**_param_defaults(Fractal, ctx), **shared, "morph": 0.02 + 0.05 * bright01},
            {**_param_defaults(Organic, ctx), **shared, "energy": energy},
            {**_param_defaults(Flowing, ctx), **shared, "tempo": tempo, "bands": bands},
            {**_param_defaults(Geometric, ctx), **shared, "beat": beat},
        ]
        out = torch.zeros(ctx.batch, ctx.height, ctx.width, 3, device=ctx.device)
        for g, (render, kw) in enumerate(zip(RENDERERS, args)):
            on = np.flatnonzero(W[:, g] > 0)
            if len(on) == 0:
                continue
            idx = torch.as_tensor(on, device=ctx.device)
            sub = ctx.with_frames(frames[on])
            img = render(sub, **{k: v[idx] if isinstance(v, torch.Tensor) else v   # these frames'
                                 for k, v in kw.items()})                      # values
            wg = torch.as_tensor(W[on, g], dtype=torch.float32, device=ctx.device)
            out[idx] += img * wg.reshape(-1, 1, 1, 1)
        choice = torch.as_tensor(W.argmax(axis=1), dtype=torch.float32, device=ctx.device)
        return {"image": out.clamp_(0.0, 1.0).to(ctx.dtype), "choice": choice}


NODES = [Fractal, Organic, Flowing, Geometric, Auto]
