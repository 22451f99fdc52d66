"""A JSON Schema of the patch format, generated from the registry, for editors such as VS Code
(with the YAML extension: ``# yaml-language-server: $schema=afx.schema.json``)."""
from __future__ import annotations

from .patch import FORMAT_VERSION, NODE_ID
from .registry import Registry
from .settings import MAX_DURATION, MAX_FPS, MAX_SIDE, MIN_SIDE
from .spec import Param

LINK_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*\.[A-Za-z_][A-Za-z0-9_]*$"


def _param_schema(p: Param) -> dict:
    s: dict = {"description": p.doc, "default": list(p.default) if p.type is tuple else p.default}
    if p.type is tuple:
        item = {"type": "number"}
        if p.min is not None:
            item["minimum"] = p.min
        if p.max is not None:
            item["maximum"] = p.max
        s.update(type="array", items=item, minItems=len(p.default), maxItems=len(p.default))
        return s
    s["type"] = {float: "number", int: "integer", bool: "boolean", str: "string"}[p.type]
    if p.min is not None:
        s["minimum"] = p.min
    if p.max is not None:
        s["maximum"] = p.max
    if p.choices is not None:
        s["enum"] = list(p.choices)
    return s


def patch_schema(registry: Registry) -> dict:
    type_ids = sorted({s.id for s in registry.specs()} | {a for s in registry.specs() for a in s.aliases})
    per_type = []
    for spec in registry.specs():
        ids = [spec.id, *spec.aliases]
        per_type.append({
            "if": {"properties": {"type": {"enum": ids}}, "required": ["type"]},
            "then": {"properties": {
                "params": {"type": "object", "additionalProperties": False,
                           "properties": {n: _param_schema(p) for n, p in spec.params.items()}},
                "inputs": {"type": "object", "additionalProperties": False,
                           "properties": {n: {"type": "string", "pattern": LINK_PATTERN,
                                              "description": f"{spec.input_type(n)} input"}
                                          for n in spec.input_ports()}},
            }},
        })
    node_schema = {
        "type": "object",
        "required": ["type"],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "enum": type_ids, "description": "node type id"},
            "version": {"type": "integer", "minimum": 1},
            "params": {"type": "object"},
            "inputs": {"type": "object", "additionalProperties": {"type": "string", "pattern": LINK_PATTERN}},
            "ui": {"type": "object", "description": "editor layout; ignored when rendering"},
        },
        "allOf": per_type,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "afx patch",
        "type": "object",
        "required": ["afx", "nodes"],
        "additionalProperties": False,
        "properties": {
            "afx": {"const": FORMAT_VERSION, "description": "patch format version"},
            "meta": {"type": "object", "properties": {
                "name": {"type": "string"}, "description": {"type": "string"},
                "author": {"type": "string"}}},
            "settings": {"type": "object", "additionalProperties": False, "properties": {
                "size": {"type": "array", "items": {"type": "integer", "minimum": MIN_SIDE,
                                                    "maximum": MAX_SIDE},
                         "minItems": 2, "maxItems": 2, "description": "[width, height]"},
                "fps": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_FPS},
                "duration": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DURATION},
                "start": {"type": "number", "minimum": 0},
            }},
            "nodes": {"type": "object",
                      "propertyNames": {"pattern": NODE_ID.pattern},
                      "additionalProperties": node_schema},
        },
    }
