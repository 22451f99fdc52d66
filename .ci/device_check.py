"""GPU checks run by hand on a machine with an NVIDIA GPU (never by CI): half precision against
fp32, batch sizes, the encoder the video node picks, and a fit on the GPU. Prints a table.

    python .ci/device_check.py OUTDIR
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from afx_graph.engine.executor import Executor
from afx_graph.graph import Graph
from afx_graph.sharing.opening import load_patch
from afx_graph.engine.plan import Plan
from afx_graph.registry import default_registry
from afx_graph.settings import RenderSettings

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/afx-device")
OUT.mkdir(parents=True, exist_ok=True)
results: dict = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}


def frames_of(patch: str, device: str, precision: str, size=(640, 360), n=60, batch=None):
    g = Graph.from_patch(load_patch(ROOT / "graphs" / patch), default_registry())
    src = next(l for l in g.links() if l.dst_port == "image" and g.nodes[l.dst].spec.id == "output.video")
    ex = Executor(g, device=device, precision=precision)
    plan = Plan(g, targets=[src.src])
    st = RenderSettings(size, 30.0, n / 30)
    batch = batch or ex.auto_batch(st)
    run = ex.prepare(plan, st)
    got = []
    if ex.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _, out in ex.frames(run, 0, n, batch=batch):
        img = out[src.src][src.src_port]
        got.append((img.float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy())
    secs = time.perf_counter() - t0
    return np.concatenate(got), secs, batch


for patch in ("demo.yaml", "feedback_trails.yaml", "fitted_morph.yaml"):
    ref, cpu_s, _ = frames_of(patch, "cpu", "fp32")
    for prec in ("fp32", "fp16", "bf16"):
        got, s, b = frames_of(patch, "cuda", prec)
        diff = np.abs(got.astype(int) - ref.astype(int))
        key = f"{patch}:{prec}"
        results[key] = {"max_diff_255": int(diff.max()), "mean_diff_255": float(diff.mean()),
                        "pct_over_8": float((diff.max(-1) > 8).mean() * 100), "batch": b,
                        "fps_640x360": 60 / s, "cpu_fps": 60 / cpu_s}
        print(key, results[key], flush=True)

# batch sizes at 1080p for the demo's field
for b in (1, 4, 8, 16, 32):
    try:
        _, s, _ = frames_of("demo.yaml", "cuda", "fp16", size=(1920, 1080), n=64, batch=b)
        _, s, _ = frames_of("demo.yaml", "cuda", "fp16", size=(1920, 1080), n=64, batch=b)
        results[f"1080p_fp16_batch{b}_fps"] = 64 / s
    except Exception as e:  # noqa: BLE001 - a report, not a program
        results[f"1080p_fp16_batch{b}_fps"] = f"failed: {e}"
    print("batch", b, results[f"1080p_fp16_batch{b}_fps"], flush=True)

import av  # noqa: E402
results["nvenc_in_av"] = "h264_nvenc" in av.codecs_available
print(json.dumps(results, indent=1))
(OUT / "device_check.json").write_text(json.dumps(results, indent=1))
