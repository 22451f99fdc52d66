"""afx: a node-graph engine for audio-reactive neural visuals.

The public API (the CLI and the editor use only this):

    from afx_graph import default_registry, load_graph, Plan, Executor
"""
from .errors import AfxError, GraphEditError, Issue, NodeCrash, NodeFailure, NodeInputError, PatchError
from .executor import Executor, Progress, RenderStats
from .graph import Graph, GraphNode, Link, load_graph
from .patch import NodeEntry, Patch, dumps, load_patch, loads, save_patch
from .plan import Plan
from .registry import Registry, default_registry
from .settings import RenderSettings
from .spec import In, NodeSpec, Out, Param, node
from .types import AUDIO, COORDS, IMAGE, SCALAR, TIMELINE, VECTOR, Audio, PortType, Timeline

__version__ = "0.1.0"

__all__ = [
    "AfxError", "GraphEditError", "Issue", "NodeCrash", "NodeFailure", "NodeInputError", "PatchError",
    "Executor", "Progress", "RenderStats", "Graph", "GraphNode", "Link", "load_graph",
    "NodeEntry", "Patch", "dumps", "load_patch", "loads", "save_patch", "Plan", "Registry",
    "default_registry", "RenderSettings", "In", "NodeSpec", "Out", "Param", "node",
    "AUDIO", "COORDS", "IMAGE", "SCALAR", "TIMELINE", "VECTOR", "Audio", "PortType", "Timeline",
]
