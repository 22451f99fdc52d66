"""``afx nodes [--json] [TYPE]`` and ``afx schema``: what the registry knows."""
from __future__ import annotations

import json
import textwrap

from afx_graph.errors import AfxError
from afx_graph.registry import UnknownNodeType, default_registry
from afx_graph.patchfile.schema import patch_schema


def register_nodes(sub) -> None:
    p = sub.add_parser("nodes", help="list node types, or describe one")
    p.add_argument("type", nargs="?", metavar="TYPE")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_nodes)


def register_schema(sub) -> None:
    p = sub.add_parser("schema", help="print a JSON Schema of the patch format")
    p.set_defaults(func=lambda args: print(json.dumps(patch_schema(default_registry()), indent=2)))


def run_nodes(args) -> int:
    reg = default_registry()
    if args.type:
        try:
            spec = reg.get(args.type)
        except UnknownNodeType as e:
            raise AfxError(str(e), field="TYPE") from None
        print(json.dumps(spec.to_dict(), indent=2) if args.json else describe(spec))
        return 0
    if args.json:
        print(json.dumps([s.to_dict() for s in reg.specs()], indent=2))
        return 0
    for category, specs in reg.categories().items():
        print(f"{category}:")
        width = max(len(s.id) for s in specs)
        for s in specs:
            print(f"  {s.id:<{width}}  {s.title}")
    return 0


def describe(spec) -> str:
    lines = [f"{spec.id}  (category {spec.category}, version {spec.version}, rate {spec.rate}"
             + (", stateful" if spec.stateful else "") + (", output" if spec.sink else "") + ")"]
    if spec.aliases:
        lines.append(f"  also known as: {', '.join(spec.aliases)}")
    if spec.doc:
        lines += ["", textwrap.indent(spec.doc, "  ")]
    if spec.inputs:
        lines += ["", "inputs:"]
        for n, i in spec.inputs.items():
            opt = " (optional)" if i.optional else ""
            lines.append(f"  {n:<14} {str(i.type):<9}{opt} {i.doc}".rstrip())
    if spec.outputs:
        lines += ["", "outputs:"]
        for n, o in spec.outputs.items():
            lines.append(f"  {n:<14} {str(o.type):<9} {o.doc}".rstrip())
    if spec.params:
        lines += ["", "params:"]
        for n, p in spec.params.items():
            t = "list" if p.type is tuple else p.type.__name__
            rng = ""
            if p.choices is not None:
                rng = " one of " + "|".join(map(str, p.choices))
            elif p.min is not None or p.max is not None:
                lo = "" if p.min is None else f"{p.min:g}"
                hi = "" if p.max is None else f"{p.max:g}"
                rng = f" [{lo}..{hi}]"
            link = " (linkable)" if p.linkable else ""
            default = list(p.default) if p.type is tuple else p.default
            lines.append(f"  {n:<14} {t} = {default!r}{rng}{link}  {p.doc}".rstrip())
    return "\n".join(lines)
