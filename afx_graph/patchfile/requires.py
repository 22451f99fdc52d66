"""What a patch needs to open as it was made: the afx that saved it and the node packs of its
nodes (issue 13, patches people can share). Plain data, like the rest of the patch file.

In the file (a top-level key, after ``meta``)::

    requires:
      afx: 0.1.0                   # the afx version that saved the patch
      packs:                       # third-party node packs its nodes come from (built-ins: none)
        fancy-nodes:               # the pack's distribution name, as `pip install` takes it
          version: '1.2'           # the version that was installed when it was saved
          types: [fancy.glow]      # the node types of the patch that come from it

``requires`` is optional (patches saved before it existed have none) and saving always writes
it: ``afx`` is the saving program's version, ``packs`` lists only packs the patch's nodes use.
A hand-written ``NAME: VERSION`` is read as a pack with no types listed. On loading, a node
whose type is unknown and listed under a pack names the pack (installed or not) in its error;
a patch saved by a newer afx, or with a newer pack than the installed one, gets a warning
line (it may still open: nothing in it need be new).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from afx_graph.errors import Issue

DISTRIBUTION = "afx"          # afx's own distribution name (pyproject.toml [project] name)
PACK_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")   # PEP 508 names


@dataclass
class Pack:
    version: str | None = None
    types: tuple[str, ...] | None = None      # None: not listed (a hand-written NAME: VERSION)


@dataclass
class Requires:
    afx: str | None = None                    # the version that saved the patch, as read
    packs: dict[str, Pack] = field(default_factory=dict)


@lru_cache(maxsize=1)
def afx_version() -> str:
    """This afx's version: the installed distribution's metadata, else the pyproject.toml of
    the source tree it runs from, else the package's ``__version__``."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
        project = text.split("[project]", 1)[1].split("\n[", 1)[0]
        if re.search(rf'^name\s*=\s*"{DISTRIBUTION}"', project, re.M):
            found = re.search(r'^version\s*=\s*"([^"]+)"', project, re.M)
            if found:
                return found.group(1)
    except (OSError, IndexError, UnicodeDecodeError):
        pass
    from afx_graph import __version__
    return __version__


def version_key(text: str | None) -> tuple[int, ...] | None:
    """'1.2.3' -> (1, 2, 3) for comparing release numbers; None where there is none to read
    (pre-release and local parts are left out: this only decides whether to warn)."""
    found = re.match(r"v?(\d+(?:\.\d+)*)", str(text or "").strip())
    if not found:
        return None
    parts = [int(p) for p in found.group(1).split(".")]
    while len(parts) > 1 and parts[-1] == 0:    # 1.2 == 1.2.0
        parts.pop()
    return tuple(parts)


def newer(wanted: str | None, have: str | None) -> bool:
    w, h = version_key(wanted), version_key(have)
    return w is not None and h is not None and w > h


# -- reading and writing the file's key -------------------------------------------------------
def _version_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, (int, float)):          # an unquoted 1.2 reads as a number
        return str(value)
    return None


def parse(value: Any, file: str, issues: list[Issue]) -> Requires:
    """The ``requires`` key as read; a malformed part is an issue (reported with the rest of
    the patch's problems) and left out."""
    out = Requires()
    if value is None:
        return out
    if not isinstance(value, dict):
        issues.append(Issue(f"expected a mapping with 'afx' and 'packs', got "
                            f"{type(value).__name__}", file, field="requires"))
        return out
    for key in value:
        if key not in ("afx", "packs"):
            issues.append(Issue("unknown key (expected afx, packs)", file,
                                field=f"requires.{key}"))
    if value.get("afx") is not None:
        out.afx = _version_text(value["afx"])
        if out.afx is None:
            issues.append(Issue(f"expected a version such as '0.1.0', got {value['afx']!r}",
                                file, field="requires.afx"))
    packs = value.get("packs")
    if packs is None:
        return out
    if not isinstance(packs, dict):
        issues.append(Issue(f"expected a mapping of pack name -> version, got "
                            f"{type(packs).__name__}", file, field="requires.packs"))
        return out
    for name, entry in packs.items():
        where = f"requires.packs.{name}"
        if not isinstance(name, str) or not PACK_NAME.fullmatch(name):
            issues.append(Issue("a pack name is the name `pip install` takes (letters, digits, "
                                "'.', '_', '-')", file, field=where))
            continue
        if not isinstance(entry, dict):        # NAME: VERSION
            version = _version_text(entry) if entry is not None else None
            if entry is not None and version is None:
                issues.append(Issue(f"expected a version or a mapping with 'version' and "
                                    f"'types', got {entry!r}", file, field=where))
            out.packs[name] = Pack(version)
            continue
        for key in entry:
            if key not in ("version", "types"):
                issues.append(Issue("unknown key (expected version, types)", file,
                                    field=f"{where}.{key}"))
        version = _version_text(entry.get("version"))
        if entry.get("version") is not None and version is None:
            issues.append(Issue(f"expected a version such as '1.2', got {entry['version']!r}",
                                file, field=f"{where}.version"))
        types = entry.get("types")
        if types is not None and not (isinstance(types, list)
                                      and all(isinstance(t, str) and t for t in types)):
            issues.append(Issue("expected a list of node type ids", file, field=f"{where}.types"))
            types = None
        out.packs[name] = Pack(version, tuple(types) if types is not None else None)
    return out


def to_data(requires: Requires | None, used_types: Iterable[str]) -> dict:
    """The ``requires`` key as saved: this afx's version, and the packs that the patch's node
    types (``used_types``) come from, sorted, each with the types it gives the patch."""
    used = set(used_types)
    data: dict[str, Any] = {"afx": afx_version()}
    packs = {}
    for name in sorted((requires.packs if requires else {})):
        pack = requires.packs[name]
        entry: dict[str, Any] = {}
        if pack.version is not None:
            entry["version"] = pack.version
        if pack.types is not None:
            types = sorted(set(pack.types) & used)
            if not types:           # no node of the patch needs it any more
                continue
            entry["types"] = types
        packs[name] = entry if entry else None
    if packs:
        data["packs"] = packs
    return data


# -- what a graph needs, from its registry ----------------------------------------------------
def of_nodes(nodes: Iterable[tuple[str, Any]], registry, loaded: Requires | None) -> Requires:
    """The packs that nodes (type as written, spec or None) come from: the registry's pack
    for each known type; for a type this afx does not know, the pack the loaded patch said
    it came from (so opening and saving without the pack installed loses nothing)."""
    packs: dict[str, Pack] = {}

    def add(name: str, version: str | None, type_id: str) -> None:
        have = packs.get(name)
        types = (have.types if have else ()) + (type_id,)
        packs[name] = Pack(version if have is None else have.version, tuple(sorted(set(types))))

    for type_id, spec in nodes:
        if spec is not None:
            pack = registry.pack_of(spec)
            if pack is not None:
                add(pack[0], pack[1], type_id)
        elif loaded is not None:
            for name, p in loaded.packs.items():
                if p.types is not None and type_id in p.types:
                    add(name, p.version, type_id)
                    break
    if loaded is not None:          # hand-written NAME: VERSION entries (types not listed) stay
        for name, p in loaded.packs.items():
            if p.types is None and name not in packs:
                packs[name] = Pack(p.version)
    return Requires(loaded.afx if loaded else None, packs)


def unknown_type_message(type_id: str, requires: Requires | None, registry) -> str | None:
    """Words for a node whose type is unknown, where the patch says which pack it is from:
    '... from node pack 'fancy-nodes' 1.2, which is not installed (pip install fancy-nodes)'.
    None where the patch does not say (the usual 'did you mean' applies)."""
    if requires is None:
        return None
    installed = registry.installed_packs()
    for name, pack in requires.packs.items():
        if pack.types is None or type_id not in pack.types:
            continue
        saved = f" {pack.version}" if pack.version else ""
        have = _installed_version(name, installed)
        if have is None and _installed_version(name, registry.broken_packs()) is not None:
            return (f"unknown node type '{type_id}' from node pack '{name}'{saved}, which is "
                    f"installed but could not be loaded (see its warning)")
        if have is None:
            return (f"unknown node type '{type_id}' from node pack '{name}'{saved}, which is not "
                    f"installed (pip install {name})")
        return (f"unknown node type '{type_id}' from node pack '{name}'{saved}; the installed "
                f"'{name}' {have} does not have it (pip install -U {name})")
    missing = [(n, p) for n, p in requires.packs.items()
               if p.types is None and _installed_version(n, installed) is None]
    if missing:
        listed = ", ".join(f"'{n}'" + (f" {p.version}" if p.version else "") for n, p in missing)
        packs = "packs" if len(missing) > 1 else "pack"
        return (f"unknown node type '{type_id}'; the patch needs node {packs} {listed}, not "
                f"installed (pip install {' '.join(n for n, _ in missing)})")
    return None


def _installed_version(name: str, installed: dict[str, str | None]) -> str | None:
    key = _canonical(name)
    for have, version in installed.items():
        if _canonical(have) == key:
            return version or "(version unknown)"
    return None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()      # PEP 503: Fancy_Nodes == fancy-nodes


def warnings(requires: Requires | None, registry,
             used_types: Iterable[str] | None = None) -> list[str]:
    """Warning lines for a patch saved by a newer afx, or with a newer version of a pack it
    uses than the one installed. Not errors: the patch may still open and render as it did."""
    if requires is None:
        return []
    out = []
    mine = afx_version()
    if newer(requires.afx, mine):
        out.append(f"the patch was saved by afx {requires.afx}, newer than this afx {mine}; if "
                   f"something in it is refused or looks different, upgrade afx")
    installed = registry.installed_packs()
    used = None if used_types is None else set(used_types)
    for name, pack in sorted(requires.packs.items()):
        if used is not None and pack.types is not None and not used & set(pack.types):
            continue
        have = _installed_version(name, installed)
        if have is not None and newer(pack.version, have):
            out.append(f"the patch was saved with node pack '{name}' {pack.version}, newer than "
                       f"the installed {have}; if its nodes are refused or look different, "
                       f"pip install -U {name}")
    return out


def graph_warnings(graph) -> list[str]:
    """:func:`warnings` for a loaded graph, each line naming its file (escaped: the versions
    come from the file)."""
    from afx_graph.errors import escape_controls
    found = warnings(graph.requires, graph.registry, [n.type for n in graph.nodes.values()])
    return [escape_controls(f"{graph.file}: {line}") for line in found]
