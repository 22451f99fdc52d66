"""What Delete removes, from what the node editor has selected.

A box drag in the node editor selects the nodes inside the rectangle and also every link whose
curve crosses it, including links between nodes outside it (the music -> output link passing
behind two selected feature nodes, say). Deleting those would cut chains the user never
pointed at, so: with nodes selected, Delete removes those nodes and their own links (a link
with both ends among them goes with them) and no other link; a link goes on its own only
when links alone are selected (a click on a link, Ctrl+clicks on several)."""
from __future__ import annotations


def to_delete(nodes, links) -> tuple[list[str], list[tuple[str, str]]]:
    """(nodes, links) that Delete removes, given the selected node ids and the selected
    links as (dst, dst_port) pairs."""
    nodes = list(dict.fromkeys(nodes))
    if nodes:
        return nodes, []
    return [], list(dict.fromkeys(links))
