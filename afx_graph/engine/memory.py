"""How much memory a render will need, checked before anything big is allocated.

The estimate counts, per pixel: what static nodes keep for the whole render (coordinate
grids, a CPPN's per-pixel first layer) and what each frame of a batch costs (every per-frame
node's output is alive until the batch ends, plus the largest node's temporaries, plus the
8-bit copies queued for the encoder). Nodes with a large working set say so with a
``pixel_floats(params, device) -> (static, per_frame)`` method on their class; others count
as an image output and twice that in temporaries.

The budget is a share of the memory free now (the GPU's for CUDA; for the CPU the smaller of
the system's available memory and the cgroup's limit), or ``AFX_MEMORY`` (e.g. ``4G``) when set.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from afx_graph.errors import AfxError
from afx_graph.engine.plan import FRAME, Plan
from afx_graph.settings import RenderSettings
from afx_graph.types import COORDS, IMAGE

BUDGET_SHARE = 0.6            # of the free memory: the rest is for torch, Python, the encoder
DEFAULT_FRAME_FLOATS = 4      # an RGB(A) output per pixel
DEFAULT_TEMP_FLOATS = 8       # temporaries while a node computes it
ENCODER_BATCHES = 5           # uint8 batches queued for / inside the encoder


def parse_bytes(text: str) -> int | None:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m:
        return None
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " "))


def available_bytes(device: torch.device) -> int:
    """Memory a render may use on ``device`` now."""
    env = os.environ.get("AFX_MEMORY")
    if env:
        limit = parse_bytes(env)
        if not limit:
            raise AfxError(f"AFX_MEMORY={env!r} is not a size such as 4G or 512M",
                           field="AFX_MEMORY")
        return limit
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    return _host_available()


def _host_available() -> int:
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = 8 * 1024 ** 3
    try:                                   # a container's own limit (cgroup v2)
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            avail = min(avail, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(int(avail), 0)


def estimate(graph, plan: Plan, settings: RenderSettings, device: torch.device
             ) -> tuple[int, int]:
    """(bytes kept for the whole render, bytes per frame of a batch) at the render's size."""
    pixels = settings.width * settings.height
    static_floats = frame_floats = temp_floats = 0
    for nid in plan.order:
        n = graph.nodes[nid]
        makes_pixels = any(o.type in (IMAGE, COORDS) for o in n.spec.outputs.values())
        hook = n.spec.hook("pixel_floats")
        if hook is not None:
            params = {name: n.param(name) for name in n.spec.params}
            s, f = hook(params, device)
        elif makes_pixels:
            s, f = (3, 0) if plan.rate[nid] != FRAME else (0, DEFAULT_FRAME_FLOATS)
        else:
            continue
        static_floats += s
        frame_floats += f
        if plan.rate[nid] == FRAME and makes_pixels:
            temp_floats = max(temp_floats, DEFAULT_TEMP_FLOATS)
    per_frame = pixels * (4 * (frame_floats + temp_floats) + 3 * ENCODER_BATCHES * len(plan.sinks))
    return pixels * 4 * static_floats, per_frame


def fit_batch(graph, plan: Plan, settings: RenderSettings, device: torch.device,
              batch: int) -> int:
    """The batch size to render with: ``batch``, or fewer frames where memory is short.
    Refuses a render whose single frame does not fit."""
    fixed, per_frame = estimate(graph, plan, settings, device)
    budget = int(available_bytes(device) * BUDGET_SHARE)
    w, h = settings.size
    if fixed + per_frame > budget:
        raise AfxError(f"a {w}x{h} render of this patch needs about {_gib(fixed + per_frame)} "
                       f"of memory for one frame, and {_gib(budget)} can be used here "
                       f"({device.type}); choose a smaller size", file=graph.file,
                       field="size")
    fits = max(1, (budget - fixed) // max(per_frame, 1))
    return int(max(1, min(batch, fits)))


def _gib(n: int) -> str:
    return f"{n / 1024 ** 3:.1f} GiB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.0f} MiB"
