import pytest

from afx_graph import IMAGE, SCALAR, TIMELINE, VECTOR, In, Out, Param, node
from afx_graph.spec import ParamValueError


def test_spec_is_introspectable_without_running(registry):
    spec = registry.get("test.image")
    assert spec.category == "Test" and spec.version == 1
    assert spec.outputs["out"].type is IMAGE
    level = spec.params["level"]
    assert (level.type, level.default, level.min, level.max) == (float, 0.5, 0.0, 1.0)
    assert level.doc == "brightness"
    # a numeric param is also a (scalar) input port
    assert spec.input_type("level") is SCALAR
    assert "level" in spec.input_ports()
    d = spec.to_dict()
    assert d["params"]["level"] == {"type": "float", "default": 0.5, "doc": "brightness",
                                    "min": 0.0, "max": 1.0, "linkable": True}
    assert d["outputs"] == {"out": {"type": "image", "doc": ""}}


def test_declaration_order_is_kept(registry):
    spec = registry.get("test.sink")
    assert list(spec.inputs) == ["image", "value"]


def test_choice_and_text_params_are_not_ports(registry):
    spec = registry.get("test.modern")
    assert spec.input_type("mode") is None
    assert spec.input_type("gain") is SCALAR


def test_port_types_are_objects_with_a_rule():
    assert SCALAR.accepts(SCALAR) and SCALAR.accepts(TIMELINE)
    assert VECTOR.accepts(SCALAR) and VECTOR.accepts(TIMELINE)
    assert not IMAGE.accepts(SCALAR) and not SCALAR.accepts(IMAGE)
    assert not TIMELINE.accepts(SCALAR)


@pytest.mark.parametrize("value,msg", [
    ("x", "expected a number"), (True, "expected a number"), (2.0, "above the maximum 1"),
    (-1, "below the minimum 0"), (float("nan"), "finite"),
])
def test_param_coercion_messages(registry, value, msg):
    p = registry.get("test.image").params["level"]
    with pytest.raises(ParamValueError, match=msg):
        p.coerce(value)


def test_int_param_refuses_fractions():
    p = Param(int, 3, min=1, max=10)
    assert p.coerce(4.0) == 4 and isinstance(p.coerce(4.0), int)
    with pytest.raises(ParamValueError, match="whole number"):
        p.coerce(4.5)


def test_node_without_process_is_refused():
    with pytest.raises(TypeError, match="process"):
        @node("bad.node", category="X")
        class Bad:
            out = Out(SCALAR)


def test_stateful_node_needs_reset():
    with pytest.raises(TypeError, match="reset"):
        @node("bad.state", category="X", rate="frame", stateful=True)
        class Bad:
            x = In(SCALAR)

            def process(self, ctx, x):
                return {}


def test_ports_and_params_inherit_and_hooks_default():
    """A base class's ports and params reach its subclasses (base first, redefinable,
    removable), each subclass gets its own copies, and every node has the lifecycle hooks."""
    from afx_graph import IMAGE, SCALAR, In, Node, Out, Param, node

    class Base(Node):
        image = In(IMAGE)
        amount = Param(float, 0.5, min=0.0, max=1.0, doc="how much")
        extra = Param(int, 1, doc="to be removed")
        out = Out(IMAGE)

    @node("test.child", category="Test")
    class Child(Base):
        """Child."""
        amount = Param(float, 0.25, min=0.0, max=2.0, doc="redefined")
        extra = None
        level = In(SCALAR, optional=True)

        def process(self, ctx, image, level, amount):
            return {"out": image}

    @node("test.plain", category="Test")
    class Plain:
        """No base class."""
        out = Out(SCALAR)

        def process(self, ctx):
            return {"out": 1.0}

    spec = Child.spec
    assert list(spec.inputs) == ["image", "level"] and list(spec.params) == ["amount"]
    assert spec.params["amount"].default == 0.25 and spec.params["amount"].max == 2.0
    assert spec.inputs["image"] is not Base.image            # a copy: specs share nothing
    for cls in (Child, Plain):
        inst = cls()
        assert inst.begin(None) is None and inst.finish(None) == {} and inst.abort(None) is None
        inst.reset()
    with pytest.raises(TypeError, match="needs a process"):
        node("test.noprocess", category="Test")(type("NoProcess", (Node,), {"__doc__": "x"}))
    with pytest.raises(TypeError, match="needs a reset"):
        node("test.nostate", category="Test", stateful=True)(Plain)


@pytest.mark.parametrize("name", ["setle", "Fade", "pixel_float", "describe_model", "advnce"])
def test_a_misspelt_hook_is_refused(name):
    """The engine calls hooks by their exact names: a near miss would never run, so the
    declaration is refused and names the hook meant."""
    def hook(*args):
        return None

    with pytest.raises(TypeError, match="misspelt"):
        node("bad.hook", category="X")(type("Bad", (), {
            "out": Out(SCALAR), "process": lambda self, ctx: {}, name: staticmethod(hook)}))


def test_hooks_are_found_only_where_a_node_defines_them():
    """NodeSpec.hook gives a node's own hook, None for the documenting stubs on Node, and
    None for a param that shares a hook's name (math.state's ``fade`` seconds)."""
    from afx_graph import Node
    from afx_graph.registry import default_registry

    @node("test.hooks", category="Test", rate="frame", stateful=True)
    class WithSettle(Node):
        out = Out(SCALAR)

        def reset(self):
            pass

        def process(self, ctx):
            return {}

        @staticmethod
        def settle(params, fps, linked):
            return 1.5

    spec = WithSettle.spec
    assert spec.hook("settle")({}, 30, set()) == 1.5
    assert spec.hook("fade") is None and spec.hook("advance") is None
    reg = default_registry()
    assert reg.get("math.state").hook("fade") is None
    assert reg.get("image.feedback").hook("fade") is not None
    assert reg.get("cppn").migrate is not None and reg.get("image.blur").migrate is None
    with pytest.raises(ValueError):
        spec.hook("process_frames")
