"""Choosing where tensors live and in what precision."""
from __future__ import annotations

import torch

from afx_graph.errors import AfxError

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def pick_device(name: str = "auto") -> torch.device:
    if name not in DEVICES and not name.startswith("cuda:"):
        raise AfxError(f"unknown device '{name}' (choose from {', '.join(DEVICES)})", field="--device")
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if has_mps else torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise AfxError("no CUDA device is available on this machine (try --device cpu)",
                       field="--device")
    if name == "mps" and not has_mps:
        raise AfxError("no MPS (Apple GPU) device is available on this machine (try --device cpu)",
                       field="--device")
    return torch.device(name)


def compute_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """Precision for the heavy per-pixel math. Half precision on a GPU, where it does not
    hurt the picture; float32 on the CPU (half is slower there, not faster)."""
    if precision not in PRECISIONS:
        raise AfxError(f"unknown precision '{precision}' (choose from {', '.join(PRECISIONS)})",
                       field="--precision")
    if precision == "fp32" or (precision == "auto" and device.type == "cpu"):
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16" or device.type in ("cuda", "mps"):
        return torch.float16
    return torch.float32


def pixel_budget(device: torch.device) -> int:
    """Pixels per frame batch: fills a GPU (the prototype's tuned ~5M), stays cache-sized on
    a CPU where batching buys little."""
    return 5_000_000 if device.type == "cuda" else 1_000_000 if device.type == "mps" else 600_000
