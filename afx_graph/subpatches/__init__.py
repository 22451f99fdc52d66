"""Subpatches: ``definitions`` (below the graph: what a subpatch node offers, read from its
definition) and ``flatten`` (above it: a graph with its subpatches expanded into a ``FlatGraph``)."""
