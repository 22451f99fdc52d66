"""The set of known node types.

Built-in nodes come from the modules of the ``afx_graph.nodes`` package, found by walking it
(each module lists its exports in ``NODES``; helper modules have none); third-party packs
register through the entry-point group ``afx.nodes``. A patch can only
name types registered here: code named inside a patch file is never imported.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
import warnings
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Iterable

from afx_graph.spec import NodeSpec

ENTRY_POINT_GROUP = "afx.nodes"
BUILTIN_PACKAGE = "afx_graph.nodes"


def builtin_modules() -> list[str]:
    """The modules of the built-in node package, by name, in a stable order."""
    package = importlib.import_module(BUILTIN_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.ispkg)


class UnknownNodeType(KeyError):
    def __init__(self, type_id: str, suggestion: str | None):
        self.type_id, self.suggestion = type_id, suggestion
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        super().__init__(f"unknown node type '{type_id}'{hint}")

    def __str__(self) -> str:
        return self.args[0]


class Registry:
    def __init__(self):
        self._specs: dict[str, NodeSpec] = {}
        self._aliases: dict[str, str] = {}
        self.load_errors: list[str] = []
        self._packs: dict[str, tuple[str, str | None]] = {}   # type id -> (pack name, version)
        self._broken: dict[str, str | None] = {}               # packs that failed to load

    # -- registration -------------------------------------------------------------------
    def register(self, cls_or_spec, *, source: str = "builtin",
                 pack: tuple[str, str | None] | None = None) -> NodeSpec:
        """``pack``: the (distribution name, version) the node comes from, recorded in the
        patches that use it (``requires``); None for built-ins and nodes registered by code."""
        spec = cls_or_spec if isinstance(cls_or_spec, NodeSpec) else getattr(cls_or_spec, "spec", None)
        if not isinstance(spec, NodeSpec):
            raise TypeError(f"{cls_or_spec!r} is not a node (decorate it with @node)")
        if spec.id in self._specs and self._specs[spec.id].cls is not spec.cls:
            raise ValueError(f"node type '{spec.id}' is registered twice "
                             f"({self._specs[spec.id].source} and {source})")
        spec.source = source
        if pack is not None:        # kept here, not on the spec: specs are shared by registries
            self._packs[spec.id] = pack
        self._specs[spec.id] = spec
        for alias in spec.aliases:
            self._aliases[alias] = spec.id
        return spec

    def register_all(self, classes: Iterable, *, source: str = "builtin",
                     pack: tuple[str, str | None] | None = None) -> None:
        for cls in classes:
            self.register(cls, source=source, pack=pack)

    def load_builtins(self) -> "Registry":
        for name in builtin_modules():
            module = importlib.import_module(f"{BUILTIN_PACKAGE}.{name}")
            self.register_all(getattr(module, "NODES", ()), source="builtin")
        return self

    def load_entry_points(self) -> "Registry":
        """Register the nodes of every installed pack. A pack's entry point may name a module
        with a ``NODES`` list, a list of node classes, or a callable returning one. A broken
        pack is reported in ``load_errors`` and skipped; it never stops the program."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            pack = _distribution(ep)
            try:
                obj = ep.load()
                if hasattr(obj, "NODES"):
                    obj = obj.NODES
                elif callable(obj) and not hasattr(obj, "spec"):
                    obj = obj()
                self.register_all(obj, source=f"{ENTRY_POINT_GROUP}:{ep.name}", pack=pack)
            except Exception as e:  # a third-party pack must not take the tool down
                self._broken[pack[0]] = pack[1]
                msg = f"node pack '{ep.name}' ({ep.value}) could not be loaded: {e}"
                self.load_errors.append(msg)
                warnings.warn(msg, stacklevel=2)
        return self

    # -- lookup -------------------------------------------------------------------------
    def resolve_id(self, type_id: str) -> str:
        return type_id if type_id in self._specs else self._aliases.get(type_id, type_id)

    def get(self, type_id: str) -> NodeSpec:
        spec = self._specs.get(self.resolve_id(type_id))
        if spec is None:
            raise UnknownNodeType(type_id, self.suggest(type_id))
        return spec

    def __contains__(self, type_id: str) -> bool:
        return self.resolve_id(type_id) in self._specs

    def suggest(self, type_id: str) -> str | None:
        names = list(self._specs) + list(self._aliases)
        best = difflib.get_close_matches(type_id, names, n=1, cutoff=0.5)
        if not best:  # "blur" -> "image.blur"
            best = [n for n in names if n.split(".")[-1] == type_id.split(".")[-1]][:1]
        return self.resolve_id(best[0]) if best else None

    def pack_of(self, spec: NodeSpec) -> tuple[str, str | None] | None:
        """(pack name, version) of a registered node's pack; None for built-ins."""
        return self._packs.get(spec.id)

    def installed_packs(self) -> dict[str, str | None]:
        """Pack name -> version of every pack whose nodes are registered."""
        return dict(self._packs.values())

    def broken_packs(self) -> dict[str, str | None]:
        """Pack name -> version of installed packs that could not be loaded."""
        return dict(self._broken)

    def specs(self) -> list[NodeSpec]:
        return sorted(self._specs.values(), key=lambda s: (s.category, s.id))

    def categories(self) -> dict[str, list[NodeSpec]]:
        out: dict[str, list[NodeSpec]] = {}
        for s in self.specs():
            out.setdefault(s.category, []).append(s)
        return out

    def __len__(self) -> int:
        return len(self._specs)


def _distribution(ep) -> tuple[str, str | None]:
    """(name, version) of the distribution that declares an entry point: what `pip install`
    takes. An entry point without one (rare: a bare .egg-link) is named by itself."""
    dist = getattr(ep, "dist", None)
    try:
        name = dist.metadata["Name"] if dist is not None else None
        if name:
            return name, dist.version
    except Exception:       # malformed metadata must not stop the program
        pass
    return ep.name, None


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """Built-ins plus installed packs, built once per process and passed explicitly to the
    code that needs it (nothing reads a global registry behind the caller's back)."""
    return Registry().load_builtins().load_entry_points()
