"""The example patches, installed as ``afx_graph.examples`` (package data), so that
``pip install`` users have them too: ``afx examples DIR`` copies them out, and ``afx bench``
and ``afx gallery`` find them here. Each ``*.yaml`` here renders and is tested."""
from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def patches() -> list[Path]:
    """Every example patch, by name."""
    return sorted(FOLDER.glob("*.yaml"))


def find(name: str) -> Path:
    """The example called ``name`` (``demo`` or ``demo.yaml``)."""
    path = FOLDER / (name if name.endswith(".yaml") else f"{name}.yaml")
    if path.parent != FOLDER or not path.is_file():
        raise KeyError(name)
    return path


def assets() -> list[Path]:
    """The files the examples read besides themselves (look files), relative to FOLDER."""
    return sorted(p.relative_to(FOLDER) for p in (FOLDER / "looks").glob("*.safetensors"))
