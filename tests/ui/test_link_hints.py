"""Issue 12: while a link is dragged, which pins it can go to (no display)."""
from __future__ import annotations

from afx_graph.ui.link_drop import Pin
from afx_graph.ui.link_hints import targets


def test_an_audio_output_lights_the_audio_inputs_and_never_a_cycle(controller):
    c = controller
    src = c.add_node("audio.file", (0, 0))
    spec = c.add_node("features.spectrum", (300, 0))
    blur = c.add_node("image.blur", (600, 0))
    assert c.link(src, "audio", spec, "audio") is None
    found = targets(c.graph, Pin("out", src, "audio"))
    assert found[("in", spec, "audio")] is True
    assert found[("in", blur, "image")] is False           # an image input takes no audio
    assert not any(k[1] == src for k in found)               # never its own node
    # from the spectrum's input: its own source is offered, and nothing downstream of it
    back = targets(c.graph, Pin("in", spec, "audio"))
    assert back[("out", src, "audio")] is True
    assert all(k[0] == "out" for k in back)


def test_a_link_that_would_make_a_cycle_is_not_lit(controller):
    c = controller
    a = c.add_node("image.blur", (0, 0))
    b = c.add_node("image.color", (300, 0))
    assert c.link(a, "out", b, "image") is None
    found = targets(c.graph, Pin("out", b, "out"))
    assert found[("in", a, "image")] is False               # b feeds a would close a loop
