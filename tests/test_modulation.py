"""Modulation nodes (nodes/modulation.py): exact maths on known inputs, stateful nodes through
the real executor (batch invariance, reset), and the promise that any numeric parameter of
any node can be driven by a scalar link."""
import math

import numpy as np
import pytest
import torch

from afx_graph import (IMAGE, SCALAR, TIMELINE, VECTOR, Executor, Graph, In, NodeFailure,
                       NodeInputError, Out, Param, Plan, Registry, RenderSettings, Timeline,
                       call_node, node)
from afx_graph.context import FrameContext
from afx_graph.nodes import modulation as mod
import graphkit
from graphkit import render

# -- helpers --------------------------------------------------------------------------------


@node("m.table", category="Test")
class Table:
    """A timeline read from `rows` (comma-separated numbers, one per frame) or i when empty;
    columns: the numbers, their square and a constant 1 (names a, b, c)."""
    rows = Param(str, "", doc="values")
    out = Out(TIMELINE)

    def process(self, ctx, rows):
        v = (np.array([float(x) for x in rows.split(",")]) if rows
             else np.arange(100, dtype=np.float64))
        return {"out": Timeline(np.stack([v, v * v, np.ones_like(v)], 1), ctx.fps, ("a", "b", "c"))}


@node("m.const", category="Test")
class Const:
    """A static python float, like features.onsets' tempo."""
    value = Param(float, 120.0, doc="the number")
    out = Out(SCALAR)

    def process(self, ctx, value):
        return {"out": float(value)}


@node("m.card", category="Test", rate="frame")
class Card:
    """A moving gradient."""
    out = Out(IMAGE)

    def process(self, ctx):
        x = torch.linspace(0, 1, ctx.width).view(1, 1, -1, 1)
        f = torch.as_tensor(ctx.frames, dtype=torch.float32).view(-1, 1, 1, 1)
        img = (x + 0.1 * f) % 1.0
        return {"out": img.expand(-1, ctx.height, -1, 3) * torch.tensor([1.0, 0.6, 0.3])}


@node("m.sink", category="Test", rate="frame", sink=True)
class Sink:
    """Keeps every value / image it is given."""
    value = In(VECTOR, optional=True)
    image = In(IMAGE, optional=True)

    def begin(self, ctx):
        self.values, self.images = [], []

    def process(self, ctx, value, image):
        if value is not None:
            self.values.append(value.expand(ctx.batch, -1).double().cpu().clone())
        if image is not None:
            self.images.append(image.expand(ctx.batch, -1, -1, -1).float().cpu().clone())
        return {}

    def finish(self, ctx):
        self.value = torch.cat(self.values)[:, 0].numpy() if self.values else None
        self.image = torch.cat(self.images) if self.images else None



HELPERS = [Table, Const, Card, Sink]


@pytest.fixture(scope="module")
def reg():
    r = Registry().load_builtins()
    r.register_all(HELPERS, source="test")
    return r


def build(reg, nodes, links, *, frames=20, fps=10, size=(16, 12)):
    return graphkit.build(reg, nodes, links, frames=frames, fps=fps, size=size)


def values(reg, nodes, links, batch=4, **kw):
    return render(build(reg, nodes, links, **kw), batch).value


def ctx(frames, fps=10.0):
    return FrameContext(RenderSettings((16, 12), fps, 100.0), torch.device("cpu"), torch.float32,
                        None, np.asarray(frames), 1000)


def call(cls, c, *inputs, inst=None, **params):
    kw = {n: p.default for n, p in cls.spec.params.items()}
    kw.update(params)
    return call_node(inst or cls(), c, *inputs, **kw)["out"].double().numpy()


# -- features.select ------------------------------------------------------------------------


def test_select_by_name_index_and_list():
    tl = Timeline(np.arange(12, dtype=np.float32).reshape(4, 3), 10.0, ("bass", "mid", "band0"))
    sel = mod.Select()
    out = sel.process(ctx([0]), tl, "mid")["out"]
    assert isinstance(out, Timeline) and out.names == ("mid",)
    np.testing.assert_array_equal(out.values[:, 0], [1, 4, 7, 10])
    assert sel.process(ctx([0]), tl, "0")["out"].names == ("bass",)
    assert sel.process(ctx([0]), tl, "-1")["out"].names == ("band0",)
    both = sel.process(ctx([0]), tl, "band0, bass")["out"]
    assert both.names == ("band0", "bass") and both.values.shape == (4, 2)


def test_select_unknown_feature_names_the_columns():
    tl = Timeline(np.zeros((4, 2)), 10.0, ("bass", "treble"))
    for bad in ("bas", "5", ""):
        with pytest.raises(NodeInputError) as e:
            mod.Select().process(ctx([0]), tl, bad)
        assert e.value.issue.field == "feature"
        assert "bass, treble" in str(e.value)


def test_select_stays_static_and_is_sampled_per_frame(reg):
    nodes = {"tab": ("m.table", {}), "sel": ("features.select", {"feature": "b"}),
             "rm": ("math.remap", {"in_min": 0.0, "in_max": 100.0, "out_min": 0.0,
                                   "out_max": 1.0}),
             "sink": ("m.sink", {})}
    links = [("tab.out", "sel.features"), ("sel.out", "rm.value"), ("rm.out", "sink.value")]
    g = build(reg, nodes, links, frames=10)
    plan = Plan(g)
    assert plan.rate["sel"] == "static" and plan.rate["rm"] == "frame"
    ex = Executor(g, device="cpu")
    sink = render(g, 4, ex)
    assert ex.calls["sel"] == 1
    np.testing.assert_allclose(sink.value, np.arange(10) ** 2 / 100.0, atol=1e-6)


def test_select_error_through_the_executor(reg):
    g = build(reg, {"tab": ("m.table", {}), "sel": ("features.select", {"feature": "bass"}),
                    "sink": ("m.sink", {})}, [("tab.out", "sel.features"), ("sel.out", "sink.value")])
    with pytest.raises(NodeFailure) as e:
        render(g, 4)
    assert "node 'sel' feature" in str(e.value) and "a, b, c" in str(e.value)


def test_with_real_features(reg):
    """audio.synth -> spectrum -> select 'bass' -> remap, and onsets' tempo -> a beat-synced
    LFO: the names the feature nodes promise work, and the LFO locks to the synth's tempo."""
    nodes = {"music": ("audio.synth", {"tempo": 120.0, "length": 4.0}),
             "spec": ("features.spectrum", {}), "beats": ("features.onsets", {}),
             "bass": ("features.select", {"feature": "bass"}),
             "rm": ("math.remap", {}),
             "lfo": ("math.lfo", {"sync": "beats", "rate": 1.0, "shape": "saw"}),
             "both": ("math.combine", {"op": "mix", "mix": 0.0}),
             "sink": ("m.sink", {})}
    links = [("music.audio", "spec.audio"), ("music.audio", "beats.audio"),
             ("spec.features", "bass.features"), ("bass.out", "rm.value"),
             ("beats.tempo", "lfo.tempo"), ("rm.out", "both.a"), ("lfo.out", "both.b"),
             ("both.out", "sink.value")]
    g = build(reg, nodes, links, frames=90, fps=30)
    ex = Executor(g, device="cpu")
    bass = render(g, 16, ex).value
    assert 0 <= bass.min() and bass.max() <= 1 and bass.std() > 0.05       # it moves with the music
    g.set_param("both", "mix", 1.0)
    saw = render(g, 16, ex).value
    assert ex.calls["spec"] == 1 and ex.calls["beats"] == 1               # analysed once
    period = np.flatnonzero(np.diff(saw) < 0)                              # saw wraps once per beat
    assert len(period) >= 4 and abs(np.median(np.diff(period)) - 15) <= 1  # 120 BPM at 30 fps


# -- math.remap -----------------------------------------------------------------------------


def test_remap_linear_and_clamp():
    c = ctx(range(5))
    v = torch.tensor([-3.0, -1.0, 0.0, 0.5, 3.0])
    out = call(mod.Remap, c, v, in_min=-1.0, in_max=1.0, out_min=0.0, out_max=10.0)
    np.testing.assert_allclose(out, [0, 0, 5, 7.5, 10], atol=1e-6)
    free = call(mod.Remap, c, v, in_min=-1.0, in_max=1.0, out_min=0.0, out_max=10.0, clamp=False)
    np.testing.assert_allclose(free, [-10, 0, 5, 7.5, 20], atol=1e-6)
    flipped = call(mod.Remap, c, v, in_min=1.0, in_max=-1.0, out_min=0.0, out_max=1.0)
    np.testing.assert_allclose(flipped, [1, 1, 0.5, 0.25, 0], atol=1e-6)


def test_remap_curves():
    c = ctx(range(3))
    t = torch.tensor([0.0, 0.25, 1.0])
    p = dict(in_min=0.0, in_max=1.0, out_min=0.0, out_max=1.0)
    def curve(name, **kw):
        return call(mod.Remap, c, t, curve=name, **p, **kw)
    np.testing.assert_allclose(curve("ease-in", power=2.0), [0, 0.0625, 1], atol=1e-7)
    np.testing.assert_allclose(curve("ease-in", power=3.0), [0, 0.015625, 1], atol=1e-7)
    np.testing.assert_allclose(curve("ease-out", power=2.0), [0, 0.4375, 1], atol=1e-7)
    np.testing.assert_allclose(curve("smoothstep"), [0, 0.15625, 1], atol=1e-7)
    k = 2.0
    np.testing.assert_allclose(call(mod.Remap, c, t, curve="exp", power=k, **p),
                               [0, math.expm1(k * 0.25) / math.expm1(k), 1], atol=1e-6)
    # unclamped curves carry on outside 0..1 without NaN
    wide = call(mod.Remap, ctx(range(2)), torch.tensor([-1.0, 2.0]), curve="ease-in", power=2.5,
                clamp=False, **p)
    assert np.isfinite(wide).all() and wide[0] < 0 < 1 < wide[1]


def test_remap_edge_cases_and_per_frame_params():
    c = ctx(range(3))
    v = torch.tensor([0.0, 1.0, 2.0])
    step = call(mod.Remap, c, v, in_min=1.0, in_max=1.0, out_min=-1.0, out_max=1.0)
    np.testing.assert_array_equal(step, [-1, 1, 1])                   # zero-width: a step
    per = call(mod.Remap, c, v, in_min=0.0, in_max=2.0, out_min=0.0,
               out_max=torch.tensor([1.0, 10.0, 100.0]))
    np.testing.assert_allclose(per, [0, 5, 100], atol=1e-6)
    static = call_node(mod.Remap(), FrameContext(RenderSettings(), torch.device("cpu"), torch.float32,
                                                 None), 0.5, 0.0, 1.0, 0.0, 4.0, "linear", 2.0, True)
    assert static["out"].shape == (1,) and float(static["out"]) == 2.0


# -- math.combine ---------------------------------------------------------------------------


def test_combine_ops():
    c = ctx(range(2))
    a, b = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.5])
    want = {"add": [4, -1.5], "subtract": [-2, -2.5], "multiply": [3, -1], "min": [1, -2],
            "max": [3, 0.5], "mix": [1 + 2 * 0.25, -2 + 2.5 * 0.25]}
    for op, w in want.items():
        np.testing.assert_allclose(call(mod.Combine, c, a, b, op=op, mix=0.25), w, atol=1e-6, err_msg=op)
    np.testing.assert_allclose(call(mod.Combine, c, a, None, op="multiply", b_value=10.0), [10, -20])
    np.testing.assert_allclose(call(mod.Combine, c, 2.0, None, op="add", b_value=torch.tensor([1.0, 2.0])),
                               [3, 4])


# -- math.lfo -------------------------------------------------------------------------------


def lfo_at(times_fps_frames, **params):
    frames, fps = times_fps_frames
    return call(mod.LFO, ctx(frames, fps), **params)


def test_lfo_shapes_at_known_times():
    frames = np.arange(0, 8)                     # fps 8, rate 1 Hz: eighths of a cycle
    p = dict(rate=1.0, amplitude=1.0, offset=0.0)
    q = np.arange(8) / 8
    np.testing.assert_allclose(lfo_at((frames, 8.0), shape="sine", **p), np.sin(2 * np.pi * q), atol=1e-6)
    np.testing.assert_allclose(lfo_at((frames, 8.0), shape="saw", **p), 2 * q - 1, atol=1e-6)
    np.testing.assert_allclose(lfo_at((frames, 8.0), shape="triangle", **p),
                               [0, 0.5, 1, 0.5, 0, -0.5, -1, -0.5], atol=1e-6)
    np.testing.assert_allclose(lfo_at((frames, 8.0), shape="square", **p), [1, 1, 1, 1, -1, -1, -1, -1])
    # defaults: 0..1 around 0.5; amplitude, offset and phase
    d = lfo_at((frames, 8.0), shape="sine", rate=1.0)
    assert d.min() >= 0 and d.max() <= 1 and abs(d[2] - 1) < 1e-6
    shifted = lfo_at((frames, 8.0), shape="saw", rate=1.0, amplitude=2.0, offset=3.0, phase=0.25)
    np.testing.assert_allclose(shifted, 3 + 2 * (2 * ((q + 0.25) % 1) - 1), atol=1e-6)


def test_lfo_period_in_hz():
    frames = np.arange(0, 100)
    out = lfo_at((frames, 20.0), shape="sine", rate=2.0)          # period 0.5 s = 10 frames
    np.testing.assert_allclose(out[10:], out[:-10], atol=1e-6)
    assert np.abs(out[5:] - out[:-5]).max() > 0.5                  # not a shorter period


def test_lfo_beat_sync_at_120_bpm_has_half_second_period(reg):
    nodes = {"tempo": ("m.const", {"value": 120.0}),
             "lfo": ("math.lfo", {"sync": "beats", "rate": 1.0, "shape": "saw"}),
             "sink": ("m.sink", {})}
    out = values(reg, nodes, [("tempo.out", "lfo.tempo"), ("lfo.out", "sink.value")],
                 frames=60, fps=30)
    np.testing.assert_allclose(out[15:], out[:-15], atol=1e-6)    # 0.5 s = 15 frames
    np.testing.assert_allclose(out[:15], np.arange(15) / 15, atol=1e-6)   # one ramp per beat
    quarter = values(reg, {**nodes, "lfo": ("math.lfo", {"sync": "beats", "rate": 0.25, "shape": "saw"})},
                     [("tempo.out", "lfo.tempo"), ("lfo.out", "sink.value")], frames=60, fps=30)
    np.testing.assert_allclose(quarter[:60], np.arange(60) / 60, atol=1e-6)   # once per bar (2 s)
    # a tempo of 0 (no beat found) falls back to 120 BPM
    zero = values(reg, {**nodes, "tempo": ("m.const", {"value": 0.0})},
                  [("tempo.out", "lfo.tempo"), ("lfo.out", "sink.value")], frames=60, fps=30)
    np.testing.assert_allclose(zero, out, atol=1e-6)


def test_lfo_random_is_sample_and_hold_and_seeded():
    frames = np.arange(40)
    a = lfo_at((frames, 10.0), shape="random", rate=1.0, amplitude=1.0, offset=0.0, seed=3)
    held = a.reshape(4, 10)
    assert (held == held[:, :1]).all()                  # constant within each 1 s cycle
    assert len(set(held[:, 0])) == 4 and np.abs(a).max() <= 1
    np.testing.assert_array_equal(a, lfo_at((frames, 10.0), shape="random", rate=1.0,
                                            amplitude=1.0, offset=0.0, seed=3))
    assert not np.array_equal(a, lfo_at((frames, 10.0), shape="random", rate=1.0,
                                        amplitude=1.0, offset=0.0, seed=4))


def test_lfo_modulated_rate_does_not_jump(reg):
    """The phase integrates the frequency: when the rate steps from 1 to 2 Hz after 50 s, the
    saw keeps ramping (rate * time would have jumped by 50 cycles' worth of phase)."""
    rows = ",".join(["1"] * 505 + ["2"] * 100)
    nodes = {"r": ("m.table", {"rows": rows}), "sel": ("features.select", {"feature": "a"}),
             "lfo": ("math.lfo", {"shape": "saw", "amplitude": 0.5, "offset": 0.5, "phase": 0.05}),
             "sink": ("m.sink", {})}
    links = [("r.out", "sel.features"), ("sel.out", "lfo.rate"), ("lfo.out", "sink.value")]
    out = values(reg, nodes, links, frames=600, fps=10, batch=64)
    steps = np.diff(out) % 1.0
    np.testing.assert_allclose(steps[:500], 0.1, atol=1e-6)
    np.testing.assert_allclose(steps[-90:], 0.2, atol=1e-6)
    assert steps.max() <= 0.2 + 1e-6
    again = values(reg, nodes, links, frames=600, fps=10, batch=7)
    np.testing.assert_array_equal(again, out)


# -- math.envelope --------------------------------------------------------------------------


def test_envelope_attack_and_release_time_constants(reg):
    fps = 100
    rows = ",".join(["0"] * 10 + ["1"] * 100 + ["0"] * 100)
    nodes = {"r": ("m.table", {"rows": rows}), "env": ("math.envelope", {"attack": 0.2, "release": 0.5}),
             "sink": ("m.sink", {})}
    links = [("r.out", "env.value"), ("env.out", "sink.value")]
    out = values(reg, nodes, links, frames=210, fps=fps, batch=16)
    assert out[9] == 0
    # rises 63% of the way in `attack` seconds: 1 - e^(-t / 0.2) at t = k / fps
    k = np.arange(1, 101)
    np.testing.assert_allclose(out[9 + k], 1 - np.exp(-k / fps / 0.2), atol=1e-6)
    assert abs(out[9 + 20] - (1 - math.exp(-1))) < 1e-6
    top = out[109]
    np.testing.assert_allclose(out[109 + k], top * np.exp(-k / fps / 0.5), atol=1e-6)
    one = values(reg, nodes, links, frames=210, fps=fps, batch=1)
    np.testing.assert_allclose(one, out, atol=1e-6)


def test_envelope_starts_at_its_input_and_resets(reg):
    nodes = {"r": ("m.table", {"rows": "5,5,0,0"}), "env": ("math.envelope", {"attack": 0.0, "release": 1.0}),
             "sink": ("m.sink", {})}
    g = build(reg, nodes, [("r.out", "env.value"), ("env.out", "sink.value")], frames=4)
    ex = Executor(g, device="cpu")
    first = render(g, 2, ex).value
    assert first[0] == 5 and first[1] == 5 and 0 < first[3] < first[2] < 5
    np.testing.assert_array_equal(render(g, 3, ex).value, first)


# -- math.pulse -----------------------------------------------------------------------------


def beats(n_frames, period, decay=0.5):
    """A features.onsets-like beat: 1 on each beat frame, halving every frame after."""
    return [decay ** (i % period) for i in range(n_frames)]


def test_pulse_fires_once_per_beat_and_decays(reg):
    fps = 30
    trig = beats(90, 15)                                    # 120 BPM at 30 fps: 6 beats
    nodes = {"r": ("m.table", {"rows": ",".join(map(str, trig))}),
             "p": ("math.pulse", {"threshold": 0.5, "decay": 0.1}), "sink": ("m.sink", {})}
    links = [("r.out", "p.trigger"), ("p.out", "sink.value")]
    out = values(reg, nodes, links, frames=90, fps=fps, batch=8)
    fired = np.flatnonzero(out == 1.0)
    np.testing.assert_array_equal(fired, np.arange(0, 90, 15))
    k = np.arange(1, 15)
    np.testing.assert_allclose(out[15 + k], np.exp(-k / fps / 0.1), atol=1e-6)
    np.testing.assert_allclose(values(reg, nodes, links, frames=90, fps=fps, batch=1), out, atol=1e-7)


def test_pulse_needs_an_upward_crossing():
    c = ctx(range(8), fps=10)
    trig = torch.tensor([0.2, 0.6, 0.9, 0.7, 0.4, 0.6, 0.6, 0.1])
    out = call(mod.Pulse, c, trig, threshold=0.5, decay=0.0)
    np.testing.assert_array_equal(out, [0, 1, 0, 0, 0, 1, 0, 0])   # staying high does not refire
    p = mod.Pulse()
    a = call(mod.Pulse, ctx(range(4)), trig[:4], inst=p, threshold=0.5, decay=1.0)
    b = call(mod.Pulse, ctx(range(4, 8)), trig[4:], inst=p, threshold=0.5, decay=1.0)
    whole = call(mod.Pulse, c, trig, threshold=0.5, decay=1.0)
    np.testing.assert_allclose(np.concatenate([a, b]), whole)
    p.reset()
    np.testing.assert_allclose(call(mod.Pulse, ctx(range(4)), trig[:4], inst=p, threshold=0.5,
                                    decay=1.0), a)


# -- any numeric param can be driven by a scalar link ---------------------------------------


def linkable_params(registry):
    for spec in registry.specs():
        for name, p in spec.params.items():
            if p.linkable:
                yield spec, name, p


def test_every_linkable_param_of_every_node_accepts_a_scalar_link():
    """Over every registered node type, including families added later."""
    registry = Registry().load_builtins()
    seen = 0
    for spec, name, p in linkable_params(registry):
        assert p.is_numeric, f"{spec.id}.{name}: only numbers can be linked"
        g = Graph(registry)
        g.add_node("math.lfo", "lfo")
        g.add_node(spec.id, "n")
        assert g.check_link("lfo", "out", "n", name) is None, (spec.id, name)
        assert g.check_link("lfo", "out", "n", name) is None
        g.connect("lfo", "out", "n", name)
        assert not [i for i in g.validate(check_files=False) if i.field == f"inputs.{name}"]
        seen += 1
    assert seen >= 30
    # a timeline column works the same way (sampled per frame)
    g = Graph(registry)
    g.add_node("features.select", "sel")
    g.add_node("image.blur", "blur")
    assert g.check_link("sel", "out", "blur", "radius") is None


def test_numeric_params_here_are_linkable():
    for cls in mod.NODES + __import__("afx_graph.nodes.image", fromlist=["NODES"]).NODES:
        for name, p in cls.spec.params.items():
            assert p.doc, f"{cls.spec.id}.{name} has no doc"
            # seeds, a vector's width and an event count are structure, not per-frame values
            if p.is_numeric and p.choices is None and name not in ("seed", "dims", "every"):
                assert p.linkable, f"{cls.spec.id}.{name}"
        assert cls.spec.title and len(cls.spec.title) < 30


def _span(p):
    lo = -10.0 if p.min is None else max(p.min, -1e4)
    hi = 10.0 if p.max is None else min(p.max, 1e4)
    return (lo + hi) / 2, (hi - lo) / 2


def _driven_cases():
    registry = Registry().load_builtins()
    for spec, name, p in linkable_params(registry):
        if spec.category in ("Image", "Modulation"):
            yield pytest.param(spec.id, name, id=f"{spec.id}.{name}")


@pytest.mark.parametrize("type_id, param", list(_driven_cases()))
def test_image_and_modulation_params_render_when_driven(reg, type_id, param):
    """Drive one param over its whole range with an LFO and render: finite output."""
    spec = reg.get(type_id)
    offset, amp = _span(spec.params[param])
    nodes = {"drive": ("math.lfo", {"shape": "triangle", "rate": 3.0, "offset": offset,
                                    "amplitude": amp}),
             "n": (type_id, {}), "sink": ("m.sink", {})}
    links = [("drive.out", f"n.{param}")]
    feeds = {IMAGE: ("card", "m.card", {}), SCALAR: ("src", "math.lfo", {"rate": 0.3}),
             TIMELINE: ("tab", "m.table", {}), VECTOR: ("tab", "m.table", {})}
    for port, i in spec.inputs.items():
        nid, t, params = feeds[i.type]
        nodes[nid] = (t, params)
        links.append((f"{nid}.out", f"n.{port}"))
    out_port, out = next(iter(spec.outputs.items()))
    links.append((f"n.{out_port}", "sink.image" if out.type is IMAGE else "sink.value"))
    g = build(reg, nodes, links, frames=5, fps=10)
    sink = render(g, 2)
    got = sink.image if out.type is IMAGE else torch.as_tensor(sink.value)
    assert got.shape[0] == 5 and torch.isfinite(got).all()
    if out.type is IMAGE:
        assert got.min() >= 0 and got.max() <= 1
