"""Issue 12: a link dropped on empty canvas offers the node types that fit it (no display)."""
from __future__ import annotations

import pytest

from afx_graph import default_registry
from afx_graph import types as T
from afx_graph.ui.link_drop import compatible, port_for


@pytest.fixture(scope="module")
def registry():
    return default_registry()


def test_an_image_output_offers_the_image_effects_and_the_outputs(registry):
    fits = compatible(registry, "out", T.IMAGE)
    for t in ("image.blur", "image.color", "output.video"):
        assert t in fits
    assert fits["image.blur"] == "image"
    assert "features.spectrum" not in fits and "audio.file" not in fits


def test_an_audio_output_offers_the_analysers(registry):
    fits = compatible(registry, "out", T.AUDIO)
    assert "features.spectrum" in fits and fits["features.spectrum"] == "audio"
    assert "image.blur" not in fits


def test_an_image_input_offers_what_makes_images(registry):
    fits = compatible(registry, "in", T.IMAGE)
    assert "image.blur" in fits and fits["image.blur"] == "out"
    assert "output.video" not in fits and "audio.file" not in fits


@pytest.mark.parametrize("kind", ["out", "in"])
def test_never_a_type_without_a_compatible_port(registry, kind):
    for ptype in (T.AUDIO, T.IMAGE, T.SCALAR, T.VECTOR, T.TIMELINE, T.COORDS):
        fits = compatible(registry, kind, ptype)
        for spec in registry.specs():
            if kind == "out":
                ok = [p for p in spec.input_ports() if spec.input_type(p).accepts(ptype)]
            else:
                ok = [p for p, o in spec.outputs.items() if ptype.accepts(o.type)]
            assert (spec.id in fits) == bool(ok), (kind, ptype, spec.id)
            if ok:
                assert fits[spec.id] in ok


def test_a_real_input_before_a_param_and_the_same_type_before_a_conversion(registry):
    spec = registry.get("image.blur")
    assert port_for(spec, "out", T.IMAGE) == "image"
    # a timeline only drives params of image.blur (converted): one of them is chosen
    assert spec.input_type(port_for(spec, "out", T.TIMELINE)).accepts(T.TIMELINE)


def test_add_linked_is_one_undo_step(controller):
    c = controller
    src = c.add_node("audio.file", (0, 0))
    before = {str(l) for l in c.graph.links()}
    nid = c.add_linked("features.spectrum", (300, 40), "out", src, "audio", "audio")
    assert c.graph.nodes[nid].ui["pos"] == [300, 40]
    assert f"{src}.audio -> {nid}.audio" in {str(l) for l in c.graph.links()}
    assert c.undo()
    assert nid not in c.graph.nodes and {str(l) for l in c.graph.links()} == before
    assert src in c.graph.nodes
    assert c.redo() and nid in c.graph.nodes
