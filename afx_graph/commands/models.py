"""``afx models [--json] [--download MODEL]``: the embedding models' weight files — which file
each needs, whether it is in the model cache, every place looked, and where to get it."""
from __future__ import annotations

import json

from ..errors import AfxError


def register(sub) -> None:
    p = sub.add_parser("models", help="list the embedding models' weight files (or fetch them)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--download", metavar="MODEL",
                   help="fetch MODEL's weights into the model cache once (vggish, yamnet, "
                        "openl3 or all); needs internet")
    p.set_defaults(func=run)


def status(entry) -> dict:
    from ..nodes import embeddings as E

    files = []
    for src in entry.sources:
        path = E.find_file(entry, [src])
        files.append({"file": src.filename, "url": src.url, "about": src.about,
                      "needs": src.needs, "readable": src.available(),
                      "present": path is not None, "path": str(path) if path else None})
    extras = []
    for role, src in entry.extras:
        path = E.find_file(entry, [src])
        extras.append({"role": role, "file": src.filename, "url": src.url, "about": src.about,
                       "present": path is not None, "path": str(path) if path else None})
    found = E.cached_weights(entry)
    return {"model": entry.key, "node": entry.node, "title": entry.title,
            "status": "present" if found else "missing", "path": str(found) if found else None,
            "looked_in": [str(p) for p in entry.folders()], "files": files, "optional": extras}


def run(args) -> int:
    from ..nodes import embeddings as E

    if args.download:
        keys = list(E.CATALOGUE) if args.download == "all" else [args.download]
        unknown = [k for k in keys if k not in E.CATALOGUE]
        if unknown:
            raise AfxError(f"unknown model {unknown[0]!r} (choose from "
                           f"{', '.join(E.CATALOGUE)} or all)", field="--download")
        for key in keys:
            E.download(E.CATALOGUE[key], log=(lambda m: None) if args.json else print)
    models = [status(entry) for entry in E.CATALOGUE.values()]
    if args.json:
        print(json.dumps({"model_dir": str(E.model_root()), "env": E.MODEL_DIR_ENV,
                          "models": models}, indent=2))
        return 0
    print(f"model cache: {E.model_root()}  (set {E.MODEL_DIR_ENV} to use another folder)")
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
