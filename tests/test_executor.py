import numpy as np
import pytest
import torch

from afx_graph import Executor, Graph, NodeFailure, PatchError, Plan, RenderSettings, loads

PATCH = """\
afx: 1
settings: {size: [32, 24], fps: 10, duration: 10}
nodes:
  ramp: {type: test.timeline, params: {frames: 100}}
  offset: {type: test.number, params: {value: 2.0}}
  sum: {type: test.add, inputs: {a: ramp.out, b: offset.out}}
  acc: {type: test.accum, inputs: {x: sum.out}}
  img: {type: test.image, inputs: {level: ramp.out}}
  sink: {type: test.sink, inputs: {image: img.out, value: acc.out}}
  unused: {type: test.number}
"""


def build(registry, text=PATCH):
    g = Graph.from_patch(loads(text), registry)
    g.check()
    return g


def render(g, batch):
    ex = Executor(g, device="cpu")
    plan = Plan(g)
    stats = ex.render(plan, g.render_settings(), batch=batch)
    return ex, plan, stats, ex.instance("sink")


def test_plan_prunes_orders_and_rates(registry):
    g = build(registry)
    plan = Plan(g)
    assert "unused" not in plan.order
    assert plan.order.index("ramp") < plan.order.index("sum") < plan.order.index("acc")
    assert plan.rate["ramp"] == "static" and plan.rate["offset"] == "static"
    # a timeline linked into a scalar input is sampled per frame
    assert plan.rate["sum"] == "frame" and plan.rate["img"] == "frame"


def test_static_node_runs_once_over_100_frames(registry):
    g = build(registry)
    ex, plan, stats, sink = render(g, batch=7)
    assert stats.frames == 100
    assert ex.calls["ramp"] == 1 and ex.calls["offset"] == 1
    assert ex.calls["sum"] == 15      # ceil(100 / 7) batches
    assert sink.frames == list(range(100))


def test_timeline_is_sampled_at_each_frame(registry):
    g = build(registry)
    _, _, _, sink = render(g, batch=8)
    # acc is the running sum of (ramp + 2) = sum(i + 2)
    expected = np.cumsum(np.arange(100) + 2.0)
    np.testing.assert_allclose(sink.values, expected)


def test_batch_size_does_not_change_output(registry):
    g = build(registry)
    _, _, _, s1 = render(g, batch=1)
    a = (list(s1.means), list(s1.values))
    _, _, _, s8 = render(build(registry), batch=8)
    assert s8.batches[0] == 8 and s1.batches[0] == 1
    np.testing.assert_array_equal(a[0], s8.means)
    np.testing.assert_array_equal(a[1], s8.values)


def test_stateful_nodes_reset_between_renders(registry):
    g = build(registry)
    ex = Executor(g, device="cpu")
    plan = Plan(g)
    ex.render(plan, g.render_settings(), batch=10)
    first = list(ex.instance("sink").values)
    ex.render(plan, g.render_settings(), batch=10)
    assert ex.instance("sink").values == first


def test_param_change_reruns_only_that_node_and_descendants(registry):
    text = """\
afx: 1
settings: {size: [16, 16], fps: 10, duration: 1}
nodes:
  a: {type: test.number, params: {value: 1}}
  b: {type: test.number, params: {value: 2}}
  sa: {type: test.add, inputs: {a: a.out}}
  sb: {type: test.add, inputs: {a: b.out}}
  both: {type: test.add, inputs: {a: sa.out, b: sb.out}}
"""
    g = build(registry, text)
    ex = Executor(g, device="cpu")
    plan = Plan(g, targets=["both"])
    st = RenderSettings((16, 16), 10, 1)
    v = ex.evaluate_static(plan, st)
    assert v["both"]["out"] == 3
    assert dict(ex.calls) == {"a": 1, "b": 1, "sa": 1, "sb": 1, "both": 1}
    ex.calls.clear()
    g.set_param("a", "value", 10)
    v = ex.evaluate_static(plan, st)
    assert v["both"]["out"] == 12
    assert dict(ex.calls) == {"a": 1, "sa": 1, "both": 1}   # b and sb came from the cache
    ex.calls.clear()
    ex.evaluate_static(plan, st)
    assert dict(ex.calls) == {}


def test_linked_param_is_clamped_to_its_range(registry):
    text = """\
afx: 1
settings: {size: [8, 8], fps: 10, duration: 1}
nodes:
  ramp: {type: test.timeline, params: {frames: 10}}
  img: {type: test.image, inputs: {level: ramp.out}}
  sink: {type: test.sink, inputs: {image: img.out}}
"""
    g = build(registry, text)
    _, _, _, sink = render(g, batch=4)
    assert max(sink.means) <= 0.5 + 1e-6      # level clamped to 1.0, gradient mean 0.5
    assert sink.means[0] == 0.0


def test_node_failure_names_node_and_field(registry, tmp_path):
    text = f"""\
afx: 1
settings: {{size: [8, 8], fps: 10, duration: 1}}
nodes:
  bad: {{type: test.failing}}
  add: {{type: test.add, inputs: {{a: bad.out}}}}
  img: {{type: test.image, inputs: {{level: add.out}}}}
  sink: {{type: test.sink, inputs: {{image: img.out}}}}
"""
    g = build(registry, text)
    with pytest.raises(NodeFailure) as e:
        Executor(g, device="cpu").render(Plan(g), g.render_settings())
    assert str(e.value) == "<patch>: node 'bad' path: cannot read this file"


def test_duration_from_audio(registry):
    text = """\
afx: 1
settings: {size: [8, 8], fps: 10}
nodes:
  tone: {type: test.tone, params: {seconds: 2.5}}
  img: {type: test.image}
  sink: {type: test.sink, inputs: {image: img.out}}
"""
    g = build(registry, text)
    plan = Plan(g, targets=["sink", "tone"])
    stats = Executor(g, device="cpu").render(plan, g.render_settings())
    assert stats.frames == 25


def test_no_duration_and_no_audio_is_an_error(registry):
    g = build(registry, "afx: 1\nnodes:\n  img: {type: test.image}\n  s: {type: test.sink, inputs: {image: img.out}}\n")
    with pytest.raises(PatchError, match="settings.duration is not set"):
        Executor(g, device="cpu").render(Plan(g), g.render_settings())


def test_patch_without_outputs(registry):
    g = build(registry, "afx: 1\nnodes:\n  n: {type: test.number}\n")
    with pytest.raises(PatchError, match="no output node"):
        Plan(g)


def test_graph_copy_is_independent_and_executor_follows_edits(registry):
    g = build(registry)
    snap = g.copy()
    g.set_param("offset", "value", 5.0)
    assert snap.nodes["offset"].params["value"] == 2.0
    ex = Executor(snap, device="cpu")
    plan = Plan(snap, targets=["sum"])
    st = snap.render_settings()
    ex.evaluate_static(plan, st)
    ex.calls.clear()
    edited = g.copy()
    ex.set_graph(edited)
    ex.evaluate_static(Plan(edited, targets=["sum"]), st)
    assert dict(ex.calls) == {"offset": 1}      # ramp came from the cache


def test_the_batch_shrinks_to_the_memory_there_is(registry, monkeypatch):
    """Same frames whatever the budget; a tight budget renders fewer frames a batch, and a
    budget below one frame is refused before anything is allocated."""
    from afx_graph.engine import memory
    g = build(registry)
    plan = Plan(g)
    s = g.render_settings()
    fixed, per_frame = memory.estimate(g, plan, s, torch.device("cpu"))
    assert per_frame > 32 * 24 * 4                 # at least one float image a frame
    monkeypatch.setenv("AFX_MEMORY", str(int((fixed + 3.5 * per_frame) / memory.BUDGET_SHARE)))
    assert memory.fit_batch(g, plan, s, torch.device("cpu"), 50) == 3
    _, _, stats, sink = render(g, 50)
    assert stats.batch == 3
    tight = (list(sink.values), list(sink.means))
    monkeypatch.delenv("AFX_MEMORY")
    _, _, stats, sink = render(g, 50)
    assert stats.batch == 50 and len(sink.values) == 100
    assert np.allclose(tight[0], sink.values) and np.allclose(tight[1], sink.means)
    monkeypatch.setenv("AFX_MEMORY", "1k")
    with pytest.raises(Exception, match="needs about .* for one frame"):
        render(g, 1)
    monkeypatch.setenv("AFX_MEMORY", "lots")
    with pytest.raises(Exception, match="AFX_MEMORY"):
        render(g, 1)


def test_a_static_result_is_kept_across_context_it_does_not_use():
    """The editor's preview changes size and fps: the audio is not decoded (or synthesised)
    again for a new size, the features only for a new frame rate, the grid for a new size."""
    from afx_graph import default_registry
    g = Graph.from_patch(loads("""\
afx: 1
settings: {size: [64, 36], fps: 10, duration: 2}
nodes:
  music: {type: audio.synth, params: {length: 2}}
  spectrum: {type: features.spectrum, inputs: {audio: music.audio}}
  grid: {type: field.coords}
"""), default_registry())
    ex = Executor(g, device="cpu")
    plan = Plan(g, targets=["spectrum", "grid"])
    base = g.render_settings()
    for s in (base, base.with_(size=(32, 18)), base.with_(size=(48, 27)), base.with_(fps=20.0),
              base.with_(duration=1.5)):
        ex.evaluate_static(plan, s)
    assert ex.calls["music"] == 1                     # depends on nothing of the context
    assert ex.calls["spectrum"] == 2                  # the frame rate (10, then 20)
    assert ex.calls["grid"] == 3                      # the size (64x36, 32x18, 48x27)


# -- bypass and mute ------------------------------------------------------------------------
def _chain(mode_of_blur=None):
    from afx_graph import Graph, default_registry, loads
    text = """
afx: 1
settings: {size: [32, 18], fps: 10, duration: 0.3}
nodes:
  c: {type: field.coords}
  f: {type: cppn, params: {hidden: 8}, inputs: {coords: c.coords}}
  b: {type: image.blur, params: {radius: 250}, inputs: {image: f.image}}
  v: {type: output.frames, params: {path: out}, inputs: {image: b.out}}
"""
    g = Graph.from_patch(loads(text), default_registry())
    if mode_of_blur:
        g.set_mode("b", mode_of_blur)
    return g


def _frame(g, node, port="image"):
    from afx_graph import Executor, Plan
    ex = Executor(g, device="cpu")
    plan = Plan(g, targets=[node])
    run = ex.prepare(plan, g.render_settings())
    for _, values in ex.frames(run, 0, 1):
        pass
    return values[node][port]


def test_a_bypassed_node_passes_its_input_through_and_a_muted_one_gives_black():
    import torch
    field = _frame(_chain(), "f")
    blurred = _frame(_chain(), "b", "out")
    assert not torch.allclose(blurred, field)                  # the blur does something
    assert torch.equal(_frame(_chain("bypass"), "b", "out"), field)   # taken out of the chain
    muted = _frame(_chain("mute"), "b", "out")
    assert muted.shape == field.shape and float(muted.abs().max()) == 0.0


def test_a_nodes_mode_is_saved_and_read_and_refused_when_unknown():
    from afx_graph import PatchError, dumps, loads
    g = _chain("bypass")
    text = dumps(g.to_patch())
    assert "    mode: bypass\n" in text
    assert loads(text).nodes["b"].mode == "bypass"
    g.set_mode("b", None)
    assert "mode" not in dumps(g.to_patch())
    p = loads(text.replace("mode: bypass", "mode: sometimes"))
    assert any(i.field == "mode" and "bypass or mute" in i.message for i in p.issues)
    import pytest
    with pytest.raises(Exception, match="bypass or mute"):
        g.set_mode("b", "sometimes")
