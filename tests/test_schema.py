"""`afx schema` agrees with the loader and validator: the example patches and the loader's
shorthand forms pass both; broken patches fail both; the limits come from settings.py and the
registry. Where JSON Schema cannot say what the loader checks, a test pins down exactly what
differs (see the module docstring of afx_graph/schema.py)."""
import copy
import json
import math
from pathlib import Path

import jsonschema
import pytest
import yaml

from afx_graph import Graph, PatchError, default_registry, loads
from afx_graph.patchfile import safe_yaml
from afx_graph import settings as settings_mod
from afx_graph.commands.validate import render_issues
from afxcli import SMALL_PATCH, run_afx

GRAPHS = sorted((Path(__file__).resolve().parents[1] / "graphs").glob("*.yaml"))

@pytest.fixture(scope="module")
def schema():
    r = run_afx("schema")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    jsonschema.Draft202012Validator.check_schema(s)
    return s


@pytest.fixture(scope="module")
def validator(schema):
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def registry():
    return default_registry()


def strict(schema):
    """A validator whose "integer" is a Python int, as the loader's checks of sizes and
    versions are (standard JSON Schema: any number with no fraction is an integer)."""
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool))
    cls = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checker)
    return cls(schema)


def loader_issues(text: str, registry, tmp_path) -> list[str]:
    """What `afx validate` says about a patch (file checks off: the schema cannot see files)."""
    try:
        g = Graph.from_patch(loads(text), registry)
        issues = g.validate(out_dir=tmp_path, check_files=False) or render_issues(g)
    except PatchError as e:
        issues = e.issues
    return [str(i) for i in issues]


def schema_errors(validator, data) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:120]}"
            for e in validator.iter_errors(data)]


def as_yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def test_the_base_patch_passes_both(validator, registry, tmp_path):
    assert schema_errors(validator, SMALL_PATCH) == []
    assert loader_issues(as_yaml(SMALL_PATCH), registry, tmp_path) == []


@pytest.mark.parametrize("path", GRAPHS, ids=[g.stem for g in GRAPHS])
def test_every_example_patch_passes_the_schema(path, validator, schema, registry, tmp_path):
    data = safe_yaml.load(path.read_text())
    assert schema_errors(validator, data) == []
    assert list(strict(schema).iter_errors(data)) == []
    assert loader_issues(path.read_text(), registry, tmp_path) == []


def node(**kw):
    """A mutation of SMALL_PATCH: nodes given as id -> value (None removes the node)."""
    def apply(d):
        for nid, value in kw.items():
            if value is None:
                d["nodes"].pop(nid)
            else:
                d["nodes"][nid] = value
    return apply


def at(path, value):
    """Set SMALL_PATCH[path...] = value (value None with key '-' deletes)."""
    def apply(d):
        *parents, last = path
        for p in parents:
            d = d[p]
        if value == "-":
            del d[last]
        else:
            d[last] = value
    return apply


BROKEN = {
    "unknown top-level key": at(["colour"], "red"),
    "missing format version": at(["afx"], "-"),
    "newer format version": at(["afx"], 2),
    "format version is text": at(["afx"], "1"),
    "missing nodes": at(["nodes"], "-"),
    "nodes is a list": at(["nodes"], [{"type": "field.coords"}]),
    "meta is not a mapping": at(["meta"], 5),
    "unknown setting": at(["settings", "colour"], "red"),
    "fps below 1": at(["settings", "fps"], 0.5),
    "fps above the maximum": at(["settings", "fps"], settings_mod.MAX_FPS + 1),
    "fps infinite": at(["settings", "fps"], math.inf),
    "fps is text": at(["settings", "fps"], "fast"),
    "fps is a bool": at(["settings", "fps"], True),
    "duration zero": at(["settings", "duration"], 0),
    "duration too long": at(["settings", "duration"], settings_mod.MAX_DURATION + 1),
    "start negative": at(["settings", "start"], -1),
    "start too late": at(["settings", "start"], settings_mod.MAX_DURATION + 1),
    "size too small": at(["settings", "size"], [4, 36]),
    "size too wide": at(["settings", "size"], [settings_mod.MAX_SIDE + 2, 36]),
    "size of three": at(["settings", "size"], [64, 36, 3]),
    "size null": at(["settings", "size"], None),
    "size with a fraction": at(["settings", "size"], [64.5, 36]),
    "unknown node type": at(["nodes", "c", "type"], "field.cords"),
    "empty node type": at(["nodes", "c", "type"], ""),
    "node without a type": at(["nodes", "c"], {"params": {}}),
    "node is null": at(["nodes", "c"], None),
    "node is a number": at(["nodes", "c"], 3),
    "unknown node key": at(["nodes", "c", "colour"], "red"),
    "node version newer than afx": at(["nodes", "c", "version"], 2),
    "node version zero": at(["nodes", "c", "version"], 0),
    "bad node id": node(**{"1abc": {"type": "field.coords"}}),
    "node id with a space": node(**{"a b": {"type": "field.coords"}}),
    "node id with a trailing newline": node(**{"abc\n": {"type": "field.coords"}}),
    "unknown param": at(["nodes", "f", "params", "hiden"], 8),
    "param above the maximum": at(["nodes", "f", "params", "hidden"], 9999),
    "param below the minimum": at(["nodes", "f", "params", "gain"], 0.0),
    "int param with a fraction": at(["nodes", "f", "params", "hidden"], 8.5),
    "int param as text": at(["nodes", "f", "params", "hidden"], "8"),
    "float param infinite": at(["nodes", "f", "params", "gain"], -math.inf),
    "param not among the choices": at(["nodes", "v", "params", "preset"], "fastest"),
    "text param given a number": at(["nodes", "v", "params", "preset"], 3),
    "bool param given text": node(n={"type": "math.lfo"},
                                  r={"type": "math.remap", "params": {"clamp": "yes"},
                                     "inputs": {"value": "n.out"}}),
    "list param of the wrong length": node(p={"type": "pattern.fractal",
                                              "params": {"center": [0.0]}}),
    "list param out of range": node(p={"type": "pattern.fractal",
                                       "params": {"center": [0.0, 9.0]}}),
    "params is a list": at(["nodes", "f", "params"], [1, 2]),
    "inputs is text": at(["nodes", "f", "inputs"], "c.coords"),
    "link without a port": at(["nodes", "f", "inputs", "coords"], "c"),
    "link with two dots": at(["nodes", "f", "inputs", "coords"], "c.coords.x"),
    "link with a trailing newline": at(["nodes", "f", "inputs", "coords"], "c.coords\n"),
    "link is a number": at(["nodes", "f", "inputs", "coords"], 3),
    "unknown input port": at(["nodes", "f", "inputs", "colour"], "c.coords"),
    "required input not linked": at(["nodes", "v", "inputs"], {}),
    "required input, inputs null": at(["nodes", "v", "inputs"], None),
    "shorthand for a type that needs an input": node(v="output.video"),
    "shorthand for an unknown type": node(c="field.cords"),
    "no output node": node(v=None),
    "no nodes at all": at(["nodes"], {}),
    "nodes null": at(["nodes"], None),
    "not a mapping at all": lambda d: d.clear(),
    "requires is text": at(["requires"], "afx 0.1.0"),
    "requires with an unknown key": at(["requires"], {"afx": "0.1.0", "python": "3.11"}),
    "requires.afx is a bool": at(["requires"], {"afx": True}),
    "requires.afx is blank": at(["requires"], {"afx": "  "}),
    "pack name with a space": at(["requires"], {"packs": {"fancy nodes": "1.2"}}),
    "pack types is text": at(["requires"], {"packs": {"fancy-nodes": {"types": "fancy.glow"}}}),
    "pack with an unknown key": at(["requires"], {"packs": {"fancy-nodes": {"url": "x"}}}),
    "pack version is a list": at(["requires"], {"packs": {"fancy-nodes": [1, 2]}}),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_patches_fail_both(kind, validator, registry, tmp_path):
    data = copy.deepcopy(SMALL_PATCH)
    BROKEN[kind](data)
    if not data:
        data = ["not", "a", "mapping"]
    text = as_yaml(data)
    assert safe_yaml.load(text) == data                # the YAML says what we meant
    assert schema_errors(validator, data), f"the schema accepts: {kind}"
    assert loader_issues(text, registry, tmp_path), f"afx validate accepts: {kind}"


ACCEPTED = {
    "id: type shorthand": node(c2="field.coords"),
    "inputs null": at(["nodes", "c", "inputs"], None),
    "params null": at(["nodes", "c", "params"], None),
    "ui null": at(["nodes", "c", "ui"], None),
    "ui with anything": at(["nodes", "c", "ui"], {"pos": [1, 2], "note": {"x": [None]}}),
    "meta null": at(["meta"], None),
    "meta with any values": at(["meta"], {"name": 2024, "tags": ["a", "b"]}),
    "settings without size": at(["settings", "size"], "-"),
    "fps null": at(["settings", "fps"], None),
    "start null": at(["settings", "start"], None),
    "start zero": at(["settings", "start"], 0),
    "float fps": at(["settings", "fps"], 29.97),
    "int param written 8.0": at(["nodes", "f", "params", "hidden"], 8.0),
    "float param written as int": at(["nodes", "f", "params", "gain"], 5),
    "linkable param linked": node(n={"type": "math.lfo"},
                                  f={"type": "cppn", "inputs": {"coords": "c.coords",
                                                                 "scale": "n.out"}}),
    "node version 1 written": at(["nodes", "c", "version"], 1),
    "list param": node(p={"type": "pattern.fractal", "params": {"center": [0.5, -1]}}),
    "node id with - and _": node(**{"_a-b_2": {"type": "field.coords"}}),
    "requires as saved": at(["requires"], {"afx": "0.1.0", "packs": {
        "fancy-nodes": {"version": "1.2", "types": ["fancy.glow"]}}}),
    "requires written by hand": at(["requires"], {"afx": 0.1, "packs": {
        "fancy_nodes": "1.2", "other": 2, "x.y": None}}),
    "requires null": at(["requires"], None),
}


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_loader_forms_pass_both(kind, validator, registry, tmp_path):
    data = copy.deepcopy(SMALL_PATCH)
    ACCEPTED[kind](data)
    text = as_yaml(data)
    assert safe_yaml.load(text) == data
    assert schema_errors(validator, data) == []
    assert loader_issues(text, registry, tmp_path) == []


def test_settings_with_no_size_and_null_settings(validator, registry, tmp_path):
    """settings: null is accepted by both; with no duration the patch needs audio to run."""
    data = {"afx": 1, "settings": None, "meta": None,
            "nodes": {"m": "audio.synth", "c": "field.coords",
                      "f": {"type": "cppn", "inputs": {"coords": "c.coords"}},
                      "v": {"type": "output.video", "params": {"path": "o.mp4"},
                            "inputs": {"image": "f.image", "audio": "m.audio"}}}}
    assert schema_errors(validator, data) == []
    assert loader_issues(as_yaml(data), registry, tmp_path) == []


def test_whole_numbers_written_with_a_point_are_whole_numbers(schema, validator, registry,
                                                            tmp_path):
    """JSON has one kind of number: standard JSON Schema calls 64.0 an integer, and so does
    the loader, for frame sizes, the format version, node versions and int params alike
    (a patch written by a JSON tool says 64.0). 64.5 is refused by both."""
    for mutate in (at(["settings", "size"], [64.0, 36.0]), at(["afx"], 1.0),
                   at(["nodes", "c", "version"], 1.0)):
        data = copy.deepcopy(SMALL_PATCH)
        mutate(data)
        assert schema_errors(validator, data) == []
        assert loader_issues(as_yaml(data), registry, tmp_path) == []
    for mutate in (at(["settings", "size"], [64.5, 36.0]), at(["afx"], 1.5),
                   at(["nodes", "c", "version"], 1.5)):
        data = copy.deepcopy(SMALL_PATCH)
        mutate(data)
        assert schema_errors(validator, data) != []
        assert loader_issues(as_yaml(data), registry, tmp_path) != []
    # ...and the other way round, for int params: the loader takes 8.0, so does the schema
    data = copy.deepcopy(SMALL_PATCH)
    at(["nodes", "f", "params", "hidden"], 8.0)(data)
    assert schema_errors(validator, data) == []
    assert loader_issues(as_yaml(data), registry, tmp_path) == []


def test_what_the_schema_leaves_to_afx_validate(validator, registry, tmp_path):
    """Documented gaps: each passes the schema and is refused by afx validate."""
    gaps = {
        "frame area just over the limit": at(["settings", "size"], [4650, 8119]),
        "link to a missing node": at(["nodes", "f", "inputs", "coords"], "nope.coords"),
        "cycle": at(["nodes", "c"], {"type": "math.lfo", "inputs": {"rate": "c.out"}}),
        "no length": at(["settings", "duration"], "-"),
    }
    for name, mutate in gaps.items():
        data = copy.deepcopy(SMALL_PATCH)
        mutate(data)
        assert schema_errors(validator, data) == [], name
        assert loader_issues(as_yaml(data), registry, tmp_path) != [], name


def test_limits_come_from_settings_and_registry(schema, registry):
    s = schema["properties"]["settings"]["properties"]
    assert s["size"]["items"]["minimum"] == settings_mod.MIN_SIDE
    assert s["size"]["items"]["maximum"] == settings_mod.MAX_SIDE
    assert (s["fps"]["minimum"], s["fps"]["maximum"]) == (1, settings_mod.MAX_FPS)
    assert (s["duration"]["exclusiveMinimum"], s["duration"]["maximum"]) == (0, settings_mod.MAX_DURATION)
    assert (s["start"]["minimum"], s["start"]["maximum"]) == (0, settings_mod.MAX_DURATION)
    rules = schema["else"]["properties"]["nodes"]["additionalProperties"]["allOf"]
    by_type = {r["if"]["properties"]["type"]["enum"][0]: r["then"] for r in rules}
    for spec in registry.specs():
        rule = by_type[spec.id]
        if spec.version > 1 and spec.migrate is not None:   # checked at the current version
            assert rule["if"]["properties"]["version"]["const"] == spec.version
            rule = rule["then"]
        params = rule["properties"]["params"]["properties"]
        assert set(params) == set(spec.params)
        for name, p in spec.params.items():
            got = params[name]["items"] if p.type is tuple else params[name]
            if p.min is not None:
                assert got["minimum"] == p.min, (spec.id, name)
            if p.max is not None:
                assert got["maximum"] == p.max, (spec.id, name)
            if p.choices is not None:
                assert params[name]["enum"] == list(p.choices)
        inputs = by_type[spec.id]["properties"]["inputs"]
        assert set(inputs["properties"]) == set(spec.input_ports())
        assert inputs.get("required", []) == [n for n, i in spec.inputs.items() if not i.optional]
