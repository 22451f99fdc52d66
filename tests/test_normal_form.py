"""The executor owns the form of every value a node receives (issue 10): a per-frame node gets
its linkable params and per-frame inputs as tensors with the batch's B rows on the device,
whether linked or not; a static node gets plain values. Checked with a node that records
what it was given."""
import numpy as np
import torch

from afx_graph import (IMAGE, SCALAR, TIMELINE, VECTOR, Executor, Graph, In, Out, Param, Plan,
                       Registry, RenderSettings, Timeline, call_node, node)

SEEN: dict[str, dict] = {}


@node("nf.timeline", category="Test")
class Source:
    out = Out(TIMELINE)

    def process(self, ctx):
        return {"out": Timeline(np.arange(40, dtype=np.float32).reshape(20, 2), 10.0, ("a", "b"))}


@node("nf.still", category="Test", rate="frame")
class Still:
    """An image that does not change: B = 1, whatever the batch."""
    out = Out(IMAGE)
    level = Out(SCALAR)

    def process(self, ctx):
        return {"out": torch.full((1, 6, 8, 3), 0.5), "level": 0.25}


@node("nf.probe", category="Test", rate="frame")
class Probe:
    image = In(IMAGE, optional=True)
    vec = In(VECTOR, optional=True)
    amount = Param(float, 0.5, min=0.0, max=10.0)
    count = Param(int, 3, min=1, max=8)
    mode = Param(str, "a", choices=("a", "b"))
    out = Out(SCALAR)

    def process(self, ctx, image, vec, amount, count, mode):
        SEEN["probe"] = dict(image=image, vec=vec, amount=amount, count=count, mode=mode)
        return {"out": amount}


@node("nf.static", category="Test")
class StaticProbe:
    source = In(TIMELINE)
    amount = Param(float, 0.5, min=0.0, max=10.0)
    out = Out(TIMELINE)

    def process(self, ctx, source, amount):
        SEEN["static"] = dict(amount=amount)
        return {"out": source}


def graph(links: dict[str, str]) -> Graph:
    reg = Registry()
    reg.register_all([Source, Still, Probe, StaticProbe])
    g = Graph(reg)
    g.add_node("nf.timeline", "tl")
    g.add_node("nf.still", "still")
    g.add_node("nf.probe", "probe")
    g.add_node("nf.static", "st", params={"amount": 2.5})
    g.connect("tl", "out", "st", "source")
    for dst, src in links.items():
        s_node, s_port = src.split(".")
        d_node, d_port = dst.split(".")
        g.connect(s_node, s_port, d_node, d_port)
    return g


def frames(g: Graph, batch: int, start: int = 0):
    ex = Executor(g, device="cpu")
    plan = Plan(g, targets=["probe", "st"])
    run = ex.prepare(plan, RenderSettings((8, 6), 10.0, 2.0))
    for _, values in ex.frames(run, start, start + batch, batch=batch):
        return values


def test_unlinked_numeric_params_of_a_frame_node_are_batch_tensors():
    frames(graph({}), batch=5)
    seen = SEEN["probe"]
    for name, value in (("amount", 0.5), ("count", 3.0)):
        v = seen[name]
        assert isinstance(v, torch.Tensor) and v.shape == (5,) and v.dtype == torch.float32
        assert v.tolist() == [value] * 5
    assert seen["mode"] == "a"                     # a choice stays plain
    assert seen["image"] is None and seen["vec"] is None


def test_linked_inputs_take_their_normal_form():
    """A still image (B = 1) arrives with the batch's B frames; a scalar linked into a vector
    input is (B, 1); a timeline linked into a param is sampled per frame, clamped, and
    rounded for an int param."""
    g = graph({"probe.image": "still.out", "probe.vec": "still.level",
               "probe.amount": "tl.out", "probe.count": "tl.out"})
    frames(g, batch=4, start=3)
    seen = SEEN["probe"]
    assert seen["image"].shape == (4, 6, 8, 3)
    assert seen["vec"].shape == (4, 1) and seen["vec"].tolist() == [[0.25]] * 4
    # column a of the timeline at frames 3..6 is 6, 8, 10, 12: clamped to 10 (amount) and 8 (count)
    assert seen["amount"].tolist() == [6.0, 8.0, 10.0, 10.0]
    assert seen["count"].tolist() == [6.0, 8.0, 8.0, 8.0]


def test_a_static_node_gets_plain_values():
    frames(graph({}), batch=3)
    assert SEEN["static"]["amount"] == 2.5 and isinstance(SEEN["static"]["amount"], float)


def test_plan_steps_carry_the_converter_of_each_link():
    g = graph({"probe.amount": "tl.out", "probe.vec": "still.level"})
    plan = Plan(g, targets=["probe"])
    step = next(s for s in plan.steps if s.nid == "probe")
    assert step.frame
    by_port = {b.port: b for b in step.bindings}
    assert by_port["amount"].param is g.nodes["probe"].spec.params["amount"]
    assert by_port["vec"].param is None
    ctx = Executor(g, device="cpu").context(RenderSettings((8, 6), 10.0, 2.0)).with_frames(
        np.arange(2))
    assert by_port["vec"].convert(0.75, ctx).tolist() == [[0.75], [0.75]]
    tl = Source().process(ctx)["out"]
    assert by_port["amount"].convert(tl, ctx).tolist() == [0.0, 2.0]


def test_call_node_gives_a_node_the_executors_form():
    ctx = Executor(graph({}), device="cpu").context(RenderSettings((8, 6), 10.0, 2.0)).with_frames(
        np.arange(3))
    call_node(Probe(), ctx, torch.zeros(1, 6, 8, 3), None, 1.5, 2, "b")
    seen = SEEN["probe"]
    assert seen["image"].shape == (3, 6, 8, 3)
    assert seen["amount"].tolist() == [1.5] * 3 and seen["mode"] == "b"
