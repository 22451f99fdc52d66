"""Fuzzing the patch loader and validator (hypothesis, derandomized so every run tries the same
cases; a few seconds in all).

Invariant: loading and validating any text either succeeds or fails with PatchError/AfxError
(exit code 2 in the CLI), never another exception (exit code 1, "internal error"); and every
error line it would print is one line with no control characters."""
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afx_graph import Graph, default_registry, loads
from afx_graph.commands.validate import render_issues
from afx_graph.errors import AfxError
from afx_graph.patchfile.patch import TOP_KEYS, NODE_KEYS

GRAPHS = sorted((Path(__file__).resolve().parents[1] / "graphs").glob("*.yaml"))
EXAMPLES = [p.read_text() for p in GRAPHS]
REGISTRY = default_registry()
TYPES = sorted(s.id for s in REGISTRY.specs())
PARAMS = sorted({n for s in REGISTRY.specs() for n in s.params})
PORTS = sorted({n for s in REGISTRY.specs() for n in [*s.input_ports(), *s.outputs]})
UNSAFE = {"Cc", "Cf", "Zl", "Zp", "Cs"}

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("out")


def check(text: str, out_dir: Path) -> None:
    """The invariant, for one patch text."""
    try:
        g = Graph.from_patch(loads(text), REGISTRY)
        issues = g.validate(out_dir=out_dir) or render_issues(g)
        lines = [str(i) for i in issues]
    except AfxError as e:                   # PatchError included
        lines = e.lines
    check_lines(lines)


def check_lines(lines: list[str]) -> None:
    for line in lines:
        assert "\n" not in line, line
        bad = [c for c in line if unicodedata.category(c) in UNSAFE]
        assert not bad, (line, bad)


# -- strategies -----------------------------------------------------------------------------------
WEIRD = st.sampled_from(["\x1b[2J", "\x00", "\n", "\r", "\u202e", "\u2028", "\x85", "\ufeff",
                         "\t", "é", "日本", "\U0001f600", "\\", "'", '"'])
name = st.one_of(st.sampled_from(TYPES + PARAMS + PORTS + list(TOP_KEYS) + list(NODE_KEYS)),
                 st.text(min_size=0, max_size=12),
                 st.builds("".join, st.lists(st.one_of(st.sampled_from(PARAMS), WEIRD), max_size=3)))
scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 8, 64.0, 1e308, 2**63, 10**400, -10**400]),
    name, st.builds(lambda a, b: f"{a}.{b}", name, name))
# numbers, edge cases first: every numeric check in settings, params and versions sees these
number = st.one_of(st.sampled_from([0, -1, 0.5, 64.0, 1e308, -1e308, 2**63, 10**400, -10**400,
                                    float("inf"), float("nan"), True]),
                   st.integers(), st.floats(allow_nan=True, allow_infinity=True))
value = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(name, inner, max_size=4)), max_leaves=12)


def _some(draw, options: dict) -> dict:
    """Each key of ``options`` present or not (a coin each), with a value from its strategy."""
    return {k: draw(strategy) for k, strategy in options.items() if draw(st.booleans())}


@st.composite
def patch_data(draw):
    """Patch-shaped data: mostly the right keys, with anything in them."""
    nodes = {}
    for _ in range(draw(st.integers(0, 6))):
        nid = draw(st.sampled_from(["a", "b", "c", "v", "music"]) | name)
        shape = draw(st.sampled_from(["node", "node", "node", "shorthand", "anything"]))
        if shape == "shorthand":
            nodes[nid] = draw(st.sampled_from(TYPES))
        elif shape == "anything":
            nodes[nid] = draw(value)
        else:
            spec = REGISTRY.get(draw(st.sampled_from(TYPES)))
            link = st.builds(lambda n, p: f"{n}.{p}", st.sampled_from(["a", "b", "c", "music"]),
                             st.sampled_from(PORTS))
            nodes[nid] = {"type": spec.id if draw(st.integers(0, 9)) else draw(value), **_some(draw, {
                "params": st.dictionaries(st.sampled_from(list(spec.params) or PARAMS) | name,
                                          number | value, max_size=3) | value,
                "inputs": st.dictionaries(st.sampled_from(spec.input_ports() or PORTS) | name,
                                          link | value, max_size=3) | value,
                "version": number | value, "ui": value, draw(name): value})}
    data = {"afx": draw(st.sampled_from([1, 1, 1, 1, 2, 0, "1", 1.0, None])), "nodes": nodes}
    if draw(st.booleans()):
        data["settings"] = _some(draw, {
            "size": st.lists(number, min_size=2, max_size=2) | value,
            "fps": number | value, "duration": number | value, "start": number | value,
            draw(name): value}) if draw(st.integers(0, 9)) else draw(value)
    data.update(_some(draw, {"meta": value, draw(name): value}))
    return data


TOKENS = ["afx: 1\n", "nodes:\n", "  ", "- ", "[", "]", "{", "}", ", ", ": ", "\n", "&a ", "*a",
          "!!int ", "!!python/object:os.system ", "!foo ", "<<: ", "? ", "|\n", ">\n", "'", '"',
          "#", "%YAML 1.1\n", "---\n", "...\n", "type: ", "cppn", "output.video", "inputs: ",
          "params: ", "c.coords", "1e999", ".nan", "2001-02-30", "0x", "~", "\\e", "\\x00",
          "\\u202e", "\u202e", "\t", "a", "b", "9" * 400, "9" * 5000]
printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=3)
yamlish = st.builds("".join, st.lists(st.sampled_from(TOKENS) | printable | st.text(max_size=2),
                                      max_size=40))


@st.composite
def mutated_example(draw):
    """An example patch with a few random edits to its text."""
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(0, 20)))
        text = text[:i] + draw(st.sampled_from(TOKENS) | printable) + text[j:]
    return text


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated_example_data(draw):
    """An example patch with one value somewhere in it replaced, removed or added."""
    data = yaml.safe_load(draw(st.sampled_from(EXAMPLES)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(data))[1:]))
        parent = data
        for k in path[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(number | value)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(name)] = draw(value)
        else:
            parent.append(draw(value))
    return data


def dump(data) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError, TypeError):   # unrepresentable: dump its repr instead
        return repr(data)


# -- the tests --------------------------------------------------------------------------------------
@FUZZ
@given(text=yamlish)
def test_yaml_ish_text(text, out_dir):
    check(text, out_dir)


@FUZZ
@given(data=patch_data())
def test_patch_shaped_data(data, out_dir):
    check(dump(data), out_dir)


@FUZZ
@given(text=mutated_example())
def test_examples_with_text_edits(text, out_dir):
    check(text, out_dir)


@FUZZ
@given(data=mutated_example_data())
def test_examples_with_value_edits(data, out_dir):
    check(dump(data), out_dir)


EDGE = [0, -1, 0.5, 64.0, 2**63, 10**400, -10**400, 1e308, float("inf"), float("nan"), True,
        None, "x", "", [], {}, [1, 2], {"a": 1}]


def test_every_param_setting_and_version_with_edge_values(out_dir):
    """Not random: every param of every node type, every setting, the node version and the
    format version, each given every edge value (huge ints, NaN, wrong types...)."""
    texts = []
    for spec in REGISTRY.specs():
        for pname in spec.params:
            for v in EDGE:
                texts.append(dump({"afx": 1, "nodes": {"n": {"type": spec.id, "params": {pname: v}}}}))
        for v in EDGE:
            texts.append(dump({"afx": 1, "nodes": {"n": {"type": spec.id, "version": v}}}))
    for key in ("size", "fps", "duration", "start"):
        for v in EDGE + [[v, 64] for v in EDGE]:
            texts.append(dump({"afx": 1, "settings": {key: v}, "nodes": {}}))
    for v in EDGE:
        texts.append(dump({"afx": v, "nodes": {}}))
    for text in texts:
        check(text, out_dir)


def test_the_invariant_catches_what_it_should(out_dir):
    """The checker itself: a clean patch passes, a hostile one yields escaped lines."""
    check(EXAMPLES[0], out_dir)
    check('afx: 1\nnodes:\n  "a\\e[2J\\nb": {type: "x\\u202e"}\n', out_dir)
    with pytest.raises(AssertionError):
        check_lines(["one\ntwo"])
    with pytest.raises(AssertionError):
        check_lines(["\x1b[2J"])
