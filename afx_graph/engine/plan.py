"""What to compute for a set of targets, in which order, and how often."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import networkx as nx

from afx_graph.errors import Issue, PatchError
from afx_graph.subpatches import definitions as subpatch
from afx_graph.subpatches import flatten
from afx_graph.graph import Graph
from afx_graph.spec import NodeSpec, Param
from afx_graph.types import converted_per_frame, converter

STATIC, FRAME = "static", "frame"


@dataclass(frozen=True)
class Binding:
    """A link into one input or param of a step, with what the link does to each value."""

    port: str                 # the input's or the param's name
    src: str                  # the node the value comes from
    src_port: str
    convert: Callable         # (value, ctx) -> value: conversion and normal form (types.converter)
    param: Param | None       # the param it drives; None for an input


@dataclass(frozen=True)
class Step:
    """One node of a plan, ready to run: its spec, how often it runs, and its links."""

    nid: str
    spec: NodeSpec
    rate: str                 # STATIC or FRAME
    bindings: tuple[Binding, ...]

    @property
    def frame(self) -> bool:
        return self.rate == FRAME


class Plan:
    """The nodes the targets need, in topological order, each with a rate: ``static``
    (computed once per render) or ``frame`` (computed for every frame batch), compiled to
    :attr:`steps` (one :class:`Step` per node, with the converter each link needs).

    A node is ``frame`` if its spec says so, if any source is ``frame``, or if it samples a
    timeline per frame (a timeline linked into a scalar or vector input)."""

    def __init__(self, graph: Graph, targets: list[str] | None = None):
        if subpatch.has_subpatches(graph):     # planned as the nodes they hold
            graph, targets = flatten.flattened_with_targets(graph, targets)
        self.graph = graph
        if targets is None:
            targets = [n for n, gn in graph.nodes.items() if gn.spec and gn.spec.sink]
            if not targets:
                raise PatchError([Issue("the patch has no output node (add output.video or "
                                        "output.frames)", graph.file)])
        missing = [t for t in targets if t not in graph.nodes]
        if missing:
            raise PatchError([Issue(f"no node '{m}' to render", graph.file) for m in missing])
        self.targets = list(targets)
        needed = set(targets)             # everything upstream, in one walk for all targets
        stack = list(targets)
        while stack:
            for src in graph.g.predecessors(stack.pop()):
                if src not in needed:
                    needed.add(src)
                    stack.append(src)
        sub = graph.g.subgraph(needed)
        try:
            self.order = list(nx.lexicographical_topological_sort(sub))
        except nx.NetworkXUnfeasible:
            cycle = [u for u, _, *_ in nx.find_cycle(sub)]
            raise PatchError([Issue(f"nodes {' -> '.join(cycle + cycle[:1])} form a cycle",
                                    graph.file, cycle[0], "inputs")]) from None
        self.rate: dict[str, str] = {}
        for nid in self.order:
            spec = graph.nodes[nid].spec
            frame = spec.rate == FRAME
            for port, link in graph.inputs_of(nid).items():
                src_spec = graph.nodes[link.src].spec
                if self.rate[link.src] == FRAME:
                    frame = True
                elif converted_per_frame(src_spec.outputs[link.src_port].type,
                                         spec.input_type(port)):
                    frame = True
            self.rate[nid] = FRAME if frame else STATIC
        self.steps: list[Step] = [self._step(nid) for nid in self.order]

    def _step(self, nid: str) -> Step:
        spec = self.graph.nodes[nid].spec
        bindings = []
        for port, link in self.graph.inputs_of(nid).items():
            source = self.graph.nodes[link.src].spec.outputs[link.src_port].type
            param = spec.params.get(port)
            bindings.append(Binding(port, link.src, link.src_port,
                                    converter(source, spec.input_type(port)), param))
        return Step(nid, spec, self.rate[nid], tuple(bindings))

    @property
    def static_steps(self) -> list[Step]:
        return [s for s in self.steps if not s.frame]

    @property
    def frame_steps(self) -> list[Step]:
        return [s for s in self.steps if s.frame]

    @property
    def static_nodes(self) -> list[str]:
        return [n for n in self.order if self.rate[n] == STATIC]

    @property
    def frame_nodes(self) -> list[str]:
        return [n for n in self.order if self.rate[n] == FRAME]

    @property
    def sinks(self) -> list[str]:
        return [n for n in self.order if self.graph.nodes[n].spec.sink]
