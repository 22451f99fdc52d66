import pytest

from afx_graph import Graph, GraphEditError, loads

HEAD = "afx: 1\nsettings: {size: [64, 48], fps: 10, duration: 1}\nnodes:\n"


def issues_of(registry, body, **kw):
    g = Graph.from_patch(loads(HEAD + body), registry)
    return [str(i) for i in g.validate(**kw)]


def one(registry, body):
    found = issues_of(registry, body)
    assert len(found) == 1, found
    return found[0]


def test_valid_patch_has_no_issues(registry):
    assert issues_of(registry, "  c: {type: test.clock}\n  i: {type: test.image, inputs: {level: c.out}}\n"
                               "  s: {type: test.sink, inputs: {image: i.out}}\n") == []


def test_unknown_node_type_suggests(registry):
    msg = one(registry, "  x: {type: test.imag}\n")
    assert "node 'x' type: unknown node type 'test.imag' (did you mean 'test.image'?)" in msg


def test_unknown_param(registry):
    msg = one(registry, "  i: {type: test.image, params: {levle: 0.2}}\n")
    assert "node 'i' params.levle: unknown param (did you mean 'level'?)" in msg


def test_wrong_param_type(registry):
    msg = one(registry, "  i: {type: test.image, params: {level: bright}}\n")
    assert "node 'i' params.level: expected a number, got 'bright'" in msg


def test_out_of_range(registry):
    msg = one(registry, "  i: {type: test.image, params: {level: 7}}\n")
    assert "node 'i' params.level: 7 is above the maximum 1" in msg


def test_bad_choice(registry):
    msg = one(registry, "  m: {type: test.modern, params: {mode: z}}\n")
    assert "node 'm' params.mode: 'z' is not one of a, b" in msg


def test_unknown_port(registry):
    msg = one(registry, "  c: {type: test.clock}\n  i: {type: test.image, inputs: {lvl: c.out}}\n")
    assert "node 'i' inputs.lvl: unknown input port" in msg


def test_unknown_output_port(registry):
    msg = one(registry, "  c: {type: test.clock}\n  i: {type: test.image, inputs: {level: c.value}}\n")
    assert "node 'i' inputs.level: 'c' (test.clock) has no output 'value'" in msg


def test_incompatible_types_name_both(registry):
    msg = one(registry, "  t: {type: test.tone}\n  i: {type: test.image, inputs: {level: t.audio}}\n")
    assert "node 'i' inputs.level: SCALAR input cannot take AUDIO from 't.audio'" in msg


def test_required_input_unconnected(registry):
    msg = one(registry, "  s: {type: test.sink}\n")
    assert "node 's' inputs.image: required input is not connected (needs IMAGE)" in msg


def test_link_to_missing_node(registry):
    msg = one(registry, "  s: {type: test.sink, inputs: {image: imgg.out}}\n  img: {type: test.image}\n")
    assert "node 's' inputs.image: links to 'imgg.out' but there is no node 'imgg' (did you mean 'img'?)" in msg


def test_bad_link_syntax(registry):
    msg = one(registry, "  s: {type: test.sink, inputs: {image: imgout}}\n  img: {type: test.image}\n")
    assert "node 's' inputs.image: 'imgout' is not of the form node.port" in msg


def test_cycle_names_the_nodes(registry):
    msg = one(registry, "  a: {type: test.add, inputs: {a: b.out}}\n  b: {type: test.add, inputs: {a: a.out}}\n")
    assert "node 'a' inputs: nodes a -> b -> a form a cycle" in msg


def test_all_errors_in_one_pass(registry):
    found = issues_of(registry, "  x: {type: nope}\n  i: {type: test.image, params: {level: 9}}\n"
                                "  s: {type: test.sink}\n")
    assert len(found) == 3
    assert all(f.startswith("<patch>: node '") for f in found)


def test_errors_name_the_file(tmp_path, registry):
    from afx_graph import load_patch
    p = tmp_path / "mine.yaml"
    p.write_text(HEAD + "  s: {type: test.sink}\n")
    g = Graph.from_patch(load_patch(p), registry)
    assert str(g.validate()[0]).startswith(f"{p}: node 's' inputs.image")


@pytest.mark.parametrize("settings,msg", [
    ("{size: [100000, 100000]}", "settings.size: 100000x100000 is too large"),
    ("{size: [640]}", "settings.size: expected [width, height]"),
    ("{fps: 0}", "settings.fps: 0 is out of range"),
    ("{duration: -3}", "settings.duration: -3 is out of range"),
    ("{colour: red}", "settings.colour: unknown setting"),
])
def test_settings_are_checked(registry, settings, msg):
    g = Graph.from_patch(loads(f"afx: 1\nsettings: {settings}\nnodes: {{}}\n"), registry)
    found = [str(i) for i in g.validate()]
    assert any(msg in f for f in found), found


def test_output_paths_are_confined(registry):
    for bad, why in (("/etc/passwd", "is absolute"), ("../../x.mp4", "leaves the output folder"),
                     ("~/x.mp4", "is absolute")):
        msg = one(registry, f"  i: {{type: test.image}}\n  w: {{type: test.writer, params: {{path: '{bad}'}}, inputs: {{image: i.out}}}}\n")
        assert "node 'w' params.path" in msg and why in msg
    assert issues_of(registry, "  i: {type: test.image}\n  w: {type: test.writer, params: {path: a/../b.mp4}, inputs: {image: i.out}}\n") == []


def test_missing_asset_file(registry):
    msg = one(registry, "  f: {type: test.failing, params: {path: nowhere.wav}}\n")
    assert "node 'f' params.path: file not found" in msg


# -- the editing API ------------------------------------------------------------------------
def test_edit_api_refuses_bad_links_with_reason(registry):
    g = Graph(registry)
    t = g.add_node("test.tone")
    i = g.add_node("test.image")
    with pytest.raises(GraphEditError, match="SCALAR input 'level' of 'image' cannot take AUDIO"):
        g.connect(t, "audio", i, "level")
    c = g.add_node("test.clock")
    g.connect(c, "out", i, "level")
    assert g.is_linked(i, "level")
    a = g.add_node("test.add")
    b = g.add_node("test.add")
    g.connect(a, "out", b, "a")
    with pytest.raises(GraphEditError, match="cycle"):
        g.connect(b, "out", a, "a")


def test_connect_replaces_the_single_source(registry):
    g = Graph(registry)
    c1, c2, i = g.add_node("test.clock"), g.add_node("test.clock"), g.add_node("test.image")
    g.connect(c1, "out", i, "level")
    old = g.connect(c2, "out", i, "level")
    assert old.src == c1 and g.link_into(i, "level").src == c2
    assert len(g.links()) == 1


def test_set_param_checks_value(registry):
    g = Graph(registry)
    i = g.add_node("test.image")
    g.set_param(i, "level", 0.75)
    assert g.nodes[i].params["level"] == 0.75
    with pytest.raises(GraphEditError, match="above the maximum"):
        g.set_param(i, "level", 3)


def test_unknown_nodes_survive_a_round_trip(registry):
    """Opening someone's patch that uses a pack we don't have must not destroy it on save."""
    from afx_graph import dumps
    text = HEAD + "  x:\n    type: their.pack.node\n    params:\n      knob: 3\n"
    g = Graph.from_patch(loads(text), registry)
    again = loads(dumps(g.to_patch()))
    assert again.nodes["x"].type == "their.pack.node"
    assert again.nodes["x"].params == {"knob": 3}


def test_settings_edits_are_changes_of_the_graph(registry):
    """The editor's preview and caches notice a settings edit by the revision, like any edit."""
    from afx_graph import Graph
    g = Graph(registry)
    seen = []
    g.subscribe(lambda what, node: seen.append(what))
    r0 = g.revision
    g.set_settings({"size": [64, 36], "fps": 10})
    assert g.revision == r0 + 1 and seen == ["settings"]
    g.set_settings({"fps": 10, "size": [64, 36]})          # the same values: no change
    assert g.revision == r0 + 1 and seen == ["settings"]
    assert g.render_settings().size == (64, 36)


def test_one_table_decides_links_and_per_frame_conversions(registry, monkeypatch):
    """types.CONVERSIONS is the only place that says which types link and how: the graph's
    link check and the plan's rates follow it when it changes."""
    from afx_graph import Graph, Plan, loads
    from afx_graph import types
    text = """\
afx: 1
nodes:
  tl: {type: test.timeline}
  n: {type: test.number}
  add: {type: test.add, inputs: {a: tl.out}}
  vec: {type: test.vec, inputs: {v: n.out}}
  img: {type: test.image, inputs: {level: add.out}}
  sink: {type: test.sink, inputs: {image: img.out, value: add.out}}
"""
    g = Graph.from_patch(loads(text), registry)
    assert g.validate() == []
    plan = Plan(g, targets=["sink", "vec"])
    assert plan.rate["add"] == "frame" and plan.rate["vec"] == "static"
    # a scalar -> vector conversion made per frame: the vector's consumer becomes per-frame
    monkeypatch.setitem(types.CONVERSIONS, ("scalar", "vector"),
                        types.Conversion(types.CONVERSIONS[("scalar", "vector")].convert,
                                         per_frame=True))
    assert Plan(g, targets=["vec"]).rate["vec"] == "frame"
    # no timeline -> scalar entry: that link is refused, by the editor's check and validation
    monkeypatch.delitem(types.CONVERSIONS, ("timeline", "scalar"))
    assert "cannot take TIMELINE" in g.check_link("tl", "out", "add", "b")
    assert any("cannot take TIMELINE" in i.message for i in g.validate())
