"""What Delete removes from a selection (no display): a box drag selects the links it
crosses too, and those must survive when nodes are selected."""
from __future__ import annotations

import yaml

from afx_graph.ui.selection import to_delete


def links(c) -> set[str]:
    return {str(l) for l in c.graph.links()}


def test_with_nodes_selected_only_their_own_links_go(controller, demo):
    c = controller
    c.open(demo)
    before, text = links(c), c.dumps()
    crossing = [("video", "audio"), ("field", "coords"), ("field", "latent"), ("field", "features")]
    nodes, dropped = to_delete(["spectrum", "beats"], crossing)
    assert (nodes, dropped) == (["spectrum", "beats"], [])
    assert c.delete(nodes, dropped) == 2
    own = {l for l in before if "spectrum." in l or "beats." in l}
    assert own and links(c) == before - own
    assert any(l.src == "music" and l.dst == "video" for l in c.graph.links())   # the output's audio
    assert c.undo() and not c.can_undo                            # one undo step
    assert yaml.safe_load(c.dumps()) == yaml.safe_load(text)     # (node order aside)


def test_links_alone_are_deleted():
    assert to_delete([], [("video", "audio"), ("video", "audio")]) == ([], [("video", "audio")])
    assert to_delete([], []) == ([], [])
