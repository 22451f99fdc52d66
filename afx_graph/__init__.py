"""afx: a node-graph engine for audio-reactive neural visuals.

The public API (the CLI and the editor use only this):

    from afx_graph import default_registry, load_graph, Plan, Executor

Names are imported on first use, so ``afx`` starts (and installs its signal handlers) before
torch and the node library are loaded: Ctrl+C during start-up is handled like any other.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_WHERE = {
    ".errors": ("AfxError", "GraphEditError", "Issue", "NodeCrash", "NodeFailure",
                "NodeInputError", "PatchError"),
    ".engine.executor": ("Executor", "Progress", "RenderStats", "call_node"),
    ".graph": ("Graph", "GraphNode", "Link"),
    ".patchfile.patch": ("NodeEntry", "Patch", "dumps", "loads", "save_patch"),
    ".sharing.opening": ("load_graph", "load_patch"),
    ".engine.plan": ("Plan",),
    ".registry": ("Registry", "default_registry"),
    ".settings": ("RenderSettings",),
    ".spec": ("In", "Node", "NodeSpec", "Out", "Param", "node"),
    ".types": ("AUDIO", "COORDS", "IMAGE", "SCALAR", "TIMELINE", "VECTOR", "Audio", "PortType",
               "Timeline"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = list(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'afx_graph' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
