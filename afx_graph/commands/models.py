"""``afx models [--json] [--download MODEL]``: the embedding models' weight files — which file
each needs, whether it is in the model cache, every place looked, and where to get it."""
from __future__ import annotations

import json

from afx_graph.errors import AfxError
from afx_graph.registry import default_registry


def register(sub) -> None:
    p = sub.add_parser("models", help="list the embedding models' weight files (or fetch them)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--download", metavar="MODEL",
                   help="fetch MODEL's weights into the model cache once (vggish, yamnet, "
                        "openl3 or all); needs internet")
    p.set_defaults(func=run)


def catalogue() -> dict[str, tuple[dict, type]]:
    """Every model a registered node type describes (its ``describe_models`` hook), by key,
    with the node class that can fetch it (``download_models``)."""
    out = {}
    for spec in default_registry().specs():
        describe = spec.hook("describe_models")
        for m in (describe() if describe is not None else ()):
            out[m["model"]] = (m, spec.cls)
    return out


def run(args) -> int:
    known = catalogue()
    if args.download:
        keys = list(known) if args.download == "all" else [args.download]
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise AfxError(f"unknown model {unknown[0]!r} (choose from "
                           f"{', '.join(known)} or all)", field="--download")
        for key in keys:
            known[key][1].download_models(log=(lambda m: None) if args.json else print)
        known = catalogue()
    models = [m for m, _ in known.values()]
    if not models:
        print("no installed node needs downloaded model weights")
        return 0
    if args.json:
        print(json.dumps({"model_dir": models[0]["cache"], "env": models[0]["env"],
                          "models": models}, indent=2))
        return 0
    print(f"model cache: {models[0]['cache']}  (set {models[0]['env']} to use another folder)")
    for m in models:
        print()
        print(f"{m['model']:<8} {m['status']:<8} {m['title']}  [node {m['node']}]")
        if m["path"]:
            print(f"  using     {m['path']}")
        for i, f in enumerate(m["files"]):
            label = "weights" if i == 0 else "or"
            state = "present" if f["present"] else "missing"
            needs = "" if not f["needs"] else (f"  (reading it needs {f['needs']}"
                                               + ("" if f["readable"] else ": not installed") + ")")
            print(f"  {label:<9} {f['file']:<38} {state}  {f['about']}{needs}")
            print(f"  {'':<9} {f['url'] or '(no download: make it with the port)'}")
        for f in m["optional"]:
            state = "present" if f["present"] else "missing"
            print(f"  optional  {f['file']:<38} {state}  {f['about']}")
            print(f"  {'':<9} {f['url']}")
        print(f"  looked in {', '.join(m['looked_in'])}")
    print()
    print("embed.timbre needs no weights. Put a file in the first folder listed for its model, "
          "set the node's weights param to it, or fetch it with `afx models --download MODEL`.")
    return 0
