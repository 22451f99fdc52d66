"""A JSON Schema of the patch format, generated from the registry, for editors such as VS Code
(with the YAML extension: ``# yaml-language-server: $schema=afx.schema.json``).

It accepts what the loader accepts (the ``id: type`` shorthand; ``null`` for ``meta``,
``settings``, ``params``, ``inputs``, ``ui`` and the numeric settings) and refuses, where JSON
Schema can say it, what ``afx validate`` refuses: unknown keys, types, params and input ports,
values out of range or not among the choices, node ids and links of the wrong form, a required
input left unlinked, a node version newer than this afx, a patch without an output node.

It also refuses, with JSON Schema's means:

- NaN (YAML ``.nan``): it passes every ``minimum``/``maximum`` (each comparison with NaN is
  false), so every number also carries ``not: {exclusiveMaximum: -MAX_FLOAT}``, which NaN
  (and only NaN, among numbers in range) satisfies; infinities are kept out by the bounds;
- output paths that are empty, absolute (``/``, a backslash, ``~``, a drive letter), hold control or
  invisible characters, or have a ``..`` part. The last is stricter than afx, which takes
  ``a/../b`` (it never leaves the output folder): no pattern can count the parts;
- the frame area limit (``MAX_PIXELS``) on top of the per-side limits, as a staircase of
  ``if``/``then`` rules every :data:`AREA_STEP` pixels of each side: never refusing a size afx
  takes, it lets through sizes up to about 1.4% over the area limit, which afx refuses;
- the params of a node written at an older version: they are migrated before they are checked,
  so a choice may have another name then (refused choices are left to afx), but a param keeps
  its type and range.

What it cannot say (``afx validate`` still checks these):

- that a link names an existing node and one of its outputs, port types, cycles;
- output paths leading outside the output folder through a link, input files existing;
- a render's length (``settings.duration`` or an audio source feeding an output);
- duplicate keys (the loader refuses them; parsed YAML/JSON no longer shows them);
- a subpatch node's params other than ``source`` (they are its definition's), and the nodes of
  an inline definition (checked by afx where the definition is used).
"""
from __future__ import annotations

import sys

from afx_graph.patchfile.patch import FORMAT_VERSION
from afx_graph.registry import Registry
from afx_graph.settings import ANALYSES, MAX_DURATION, MAX_FPS, MAX_PIXELS, MAX_SIDE, MIN_SIDE
from afx_graph.spec import NodeSpec, Param

# '$' in a Python regex (which Python validators use) also matches before a final newline;
# '(?![\s\S])' means "end of text" in both Python and ECMA-262 regexes.
END = r"(?![\s\S])"
NODE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*" + END
LINK_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*\.[A-Za-z_][A-Za-z0-9_]*" + END
FINITE = sys.float_info.max      # bounds that keep .inf / -.inf out of unbounded numbers
# NaN passes minimum and maximum (every comparison with it is false); "x >= -MAX_FLOAT" written
# as "not (x < -MAX_FLOAT)" is true of every number but NaN. Non-numbers pass exclusiveMaximum,
# so "not" refuses them too: only where the value must be a number.
NOT_NAN = {"not": {"exclusiveMaximum": -FINITE}}
AREA_STEP = 64                   # the frame-area staircase (see the module docstring)
# what paths.output_path_problem refuses in an output path a patch writes
_UNSAFE = "".join(  # the BMP characters errors.escape_controls escapes (Cc, Cf, Zl, Zp, Cs)
    f"\\u{lo:04x}-\\u{hi:04x}" if hi > lo else f"\\u{lo:04x}" for lo, hi in (
        (0x00, 0x1f), (0x7f, 0x9f), (0xad, 0xad), (0x600, 0x605), (0x61c, 0x61c),
        (0x6dd, 0x6dd), (0x70f, 0x70f), (0x890, 0x891), (0x8e2, 0x8e2), (0x180e, 0x180e),
        (0x200b, 0x200f), (0x2028, 0x202e), (0x2060, 0x2064), (0x2066, 0x206f),
        (0xd800, 0xdfff), (0xfeff, 0xfeff), (0xfff9, 0xfffb)))
OUTPUT_PATH = {
    "minLength": 1,
    "not": {"anyOf": [
        {"pattern": r"^[/\\~]", "description": "absolute"},
        {"pattern": r"^[A-Za-z]:", "description": "a drive"},
        {"pattern": r"(^|[/\\])\.\.([/\\]|$)", "description": "a '..' part"},
        {"pattern": f"[{_UNSAFE}]", "description": "control or invisible characters"},
    ]},
    "$comment": "relative, inside the output folder, plain text (paths.output_path_problem)",
}


def _bounded(p: Param) -> dict:
    return {"minimum": p.min if p.min is not None else -FINITE,
            "maximum": p.max if p.max is not None else FINITE, **NOT_NAN}


def _param_schema(p: Param) -> dict:
    s: dict = {"description": p.doc, "default": list(p.default) if p.type is tuple else p.default}
    if p.type is tuple:
        item = {"type": "number", **_bounded(p)}
        s.update(type="array", items=item, minItems=len(p.default), maxItems=len(p.default))
    else:
        s["type"] = {float: "number", int: "integer", bool: "boolean", str: "string"}[p.type]
        if p.is_numeric:
            s.update(_bounded(p))
        if p.kind == "output":
            s.update(OUTPUT_PATH)
    if p.choices is not None:
        s["enum"] = list(p.choices)
    return s


def _number(lo: float, hi: float, *, above: bool = False, **extra) -> dict:
    """A setting: a number from ``lo`` (or above it) to ``hi``, or null; never NaN."""
    bound = {"exclusiveMinimum": lo} if above else {"minimum": lo}
    return {"type": ["number", "null"], **bound, "maximum": hi,
            "if": {"type": "number"}, "then": NOT_NAN, **extra}


def _area_rules() -> list[dict]:
    """``[w, h]`` within MAX_PIXELS: where one side is at least ``a``, the other is at most
    MAX_PIXELS // a, for ``a`` every AREA_STEP pixels from where the limit starts to bite.
    Both sides' staircases, so a size afx takes always passes."""
    rules = []
    first = MAX_PIXELS // MAX_SIDE
    for a in range(first - first % AREA_STEP, MAX_SIDE + 1, AREA_STEP):
        if MAX_PIXELS // a >= MAX_SIDE:
            continue
        for side in (0, 1):
            when = [True, True]
            when[side] = {"minimum": a}
            then = [True, True]
            then[1 - side] = {"maximum": MAX_PIXELS // a}
            rules.append({"if": {"prefixItems": when}, "then": {"prefixItems": then}})
    return rules


def _link(description: str = "") -> dict:
    s = {"type": "string", "pattern": LINK_PATTERN}
    if description:
        s["description"] = description
    return s


def _required_inputs(spec: NodeSpec) -> list[str]:
    return [n for n, i in spec.inputs.items() if not i.optional]


def _type_rule(spec: NodeSpec) -> dict:
    """Params, inputs and version of one node type (and its aliases)."""
    params = {"type": ["object", "null"], "additionalProperties": False,
              "properties": {n: _param_schema(p) for n, p in spec.params.items()}}
    inputs: dict = {"type": ["object", "null"], "additionalProperties": False,
                    "properties": {n: _link(f"{spec.input_type(n)} input")
                                   for n in spec.input_ports()}}
    then: dict = {"properties": {"version": {"maximum": spec.version}, "inputs": inputs}}
    required = _required_inputs(spec)
    if required:
        inputs.update(type="object", required=required)
        then["required"] = ["inputs"]
    if spec.version > 1 and spec.migrate is not None:
        # params written for an older version are migrated before they are checked: their
        # names and choices may differ then, their types and ranges do not
        then["if"] = {"properties": {"version": {"const": spec.version}}, "required": ["version"]}
        then["then"] = {"properties": {"params": params}}
        old = {n: {k: v for k, v in ps.items() if k != "enum"}
               for n, ps in params["properties"].items()}
        then["else"] = {"properties": {"params": {"type": ["object", "null"],
                                                  "properties": old}}}
    else:
        then["properties"]["params"] = params
    return {"if": {"properties": {"type": {"enum": [spec.id, *spec.aliases]}},
                   "required": ["type"]},
            "then": then}


# a subpatch (afx_graph/subpatch.py): what it offers, names -> 'node.port' (or a list)
_TARGETS = {"type": ["object", "null"], "propertyNames": {"not": {"const": "source"}},
            "additionalProperties": {"anyOf": [
                {"type": "string", "pattern": r"^[^.]+\.[A-Za-z_][A-Za-z0-9_]*$"},
                {"type": "array", "minItems": 1,
                 "items": {"type": "string", "pattern": r"^[^.]+\.[A-Za-z_][A-Za-z0-9_]*$"}}]}}
_EXPOSE = {"type": ["object", "null"], "additionalProperties": False,
           "description": "what a subpatch offers: inputs and params feed node.port(s), "
                          "outputs come from one node.port",
           "properties": {"inputs": _TARGETS, "outputs": _TARGETS, "params": _TARGETS}}
_SUBPATCH_RULE = {
    "if": {"properties": {"type": {"enum": ["subpatch"]}}, "required": ["type"]},
    "then": {"properties": {"params": {"type": "object", "required": ["source"],
                                       "properties": {"source": {
                                           "type": "string", "minLength": 1,
                                           "description": "'#name' of an inline definition, "
                                                          "or a subpatch file's path"}}}},
             "required": ["params"]}}

def _loose(node_schema: dict) -> dict:
    """The node schema without the required-input rules (a subpatch file's nodes may be fed
    through what it exposes)."""
    import copy
    loose = copy.deepcopy(node_schema)
    for rule in loose.get("allOf", []):
        then = rule.get("then", {})
        then.pop("required", None)
        then.get("properties", {}).get("inputs", {}).pop("required", None)
    return loose


_VERSION = {"type": ["string", "number"], "pattern": r"\S",
            "description": "a version such as '1.2.0'"}
# what afx_graph.patchfile.requires reads: written on save, optional on load
_REQUIRES = {
    "type": ["object", "null"], "additionalProperties": False,
    "description": "written on save: the afx version that saved the patch and the node packs "
                   "its nodes come from (built-ins need none)",
    "properties": {
        "afx": {**_VERSION, "description": "the afx version that saved the patch (a newer one "
                                           "than installed gives a warning)"},
        "packs": {"type": ["object", "null"],
                  "description": "node pack (the name `pip install` takes) -> what it gives",
                  "propertyNames": {"pattern": r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
                                               + END},
                  "additionalProperties": {"anyOf": [
                      _VERSION,
                      {"type": "null"},
                      {"type": "object", "additionalProperties": False, "properties": {
                          "version": _VERSION,
                          "types": {"type": "array", "items": {"type": "string", "minLength": 1},
                                    "description": "the patch's node types from this pack"}}},
                  ]}},
    },
}


def patch_schema(registry: Registry) -> dict:
    specs = registry.specs()
    type_ids = sorted({s.id for s in specs} | {a for s in specs for a in s.aliases})
    # "id: type" is a node with no params and no inputs: only types that need no input
    short_ids = sorted({i for s in specs if not _required_inputs(s) for i in (s.id, *s.aliases)})
    sink_ids = sorted({i for s in specs if s.sink for i in (s.id, *s.aliases)})
    short_sinks = sorted(set(sink_ids) & set(short_ids))
    node_schema = {
        "type": ["object", "string"],
        "required": ["type"],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "enum": type_ids, "description": "node type id"},
            "version": {"type": "integer", "minimum": 1},
            "mode": {"enum": ["bypass", "mute"],
                     "description": "bypass: the node passes its input through; mute: zeros"},
            "params": {"type": ["object", "null"]},
            "inputs": {"type": ["object", "null"], "additionalProperties": _link()},
            "ui": {"type": ["object", "null"], "description": "editor layout; ignored when rendering"},
        },
        # "id: type" is {type: TYPE} with no params and no inputs: a type that needs no input
        "if": {"type": "string"},
        "then": {"enum": short_ids, "description": "shorthand for {type: TYPE}"},
        "allOf": [_type_rule(s) for s in specs] + [_SUBPATCH_RULE],
    }
    node_schema["properties"]["type"]["enum"] = [*type_ids, "subpatch"]
    is_sink: dict = {"type": "object", "required": ["type"],
                     "properties": {"type": {"enum": sink_ids}}}
    if short_sinks:
        is_sink = {"anyOf": [is_sink, {"type": "string", "enum": short_sinks}]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "afx patch",
        "type": "object",
        "required": ["afx", "nodes"],
        "additionalProperties": False,
        # "some node is an output": not every node is a non-output. A subpatch file (with
        # expose:) needs none, and its nodes' required inputs may be fed from outside.
        "if": {"required": ["expose"]},
        "then": {"properties": {"nodes": {"additionalProperties": _loose(node_schema)}}},
        "else": {"properties": {"nodes": {"additionalProperties": node_schema,
                                          "not": {"additionalProperties": {"not": is_sink}}}}},
        "properties": {
            "afx": {"type": "integer", "const": FORMAT_VERSION,
                    "description": "patch format version"},
            "meta": {"type": ["object", "null"], "properties": {
                "name": {"description": "title of the patch"},
                "description": {"description": "what it does"},
                "author": {"description": "who made it"}}},
            "requires": _REQUIRES,
            "settings": {"type": ["object", "null"], "additionalProperties": False, "properties": {
                "size": {"type": "array", "items": {"type": "integer", "minimum": MIN_SIDE,
                                                    "maximum": MAX_SIDE},
                         "minItems": 2, "maxItems": 2,
                         "description": f"[width, height] in whole pixels, at most "
                                        f"{MAX_PIXELS // 1_000_000} megapixels",
                         "allOf": _area_rules(),
                         "$comment": f"width x height <= {MAX_PIXELS}, in steps of {AREA_STEP}"},
                "fps": _number(1, MAX_FPS),
                "duration": _number(0, MAX_DURATION, above=True,
                                    description="seconds (default: the length of the audio)"),
                "start": _number(0, MAX_DURATION,
                                 description="seconds into the audio where the first frame sits"),
                "analysis": {"enum": list(ANALYSES), "default": "offline",
                             "description": "offline: features see the whole track; causal: "
                                            "only past audio, as a live input"},
            }},
            "nodes": {"type": "object",
                      "propertyNames": {"pattern": NODE_ID_PATTERN},
                      "description": "node id -> node (see the if/then/else above): at least "
                                     "one output node, except in a subpatch file"},
            "expose": _EXPOSE,
            "subpatches": {"type": ["object", "null"],
                           "propertyNames": {"pattern": NODE_ID_PATTERN},
                           "additionalProperties": {
                               "type": "object", "required": ["nodes"],
                               "additionalProperties": False,
                               "properties": {"expose": _EXPOSE,
                                              "nodes": {"type": "object", "minProperties": 1}}},
                           "description": "inline subpatch definitions, used by "
                                          "{type: subpatch, params: {source: '#name'}}"},
            "ui": {"type": ["object", "null"],
                   "description": "editor-only data the engine ignores",
                   "properties": {"frames": {"type": "array", "items": {
                       "type": "object", "required": ["nodes"],
                       "properties": {
                           "title": {"type": "string", "maxLength": 200},
                           "nodes": {"type": "array", "items": {"type": "string"}},
                           "color": {"type": "array", "items": {"type": "integer", "minimum": 0,
                                                                "maximum": 255},
                                     "minItems": 3, "maxItems": 3}},
                       "description": "a titled frame drawn around these nodes"}}}},
        },
    }
