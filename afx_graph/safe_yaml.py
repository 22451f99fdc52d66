"""Loading YAML from files written by other people, safely.

Only the safe constructors (no Python tags), a cap on file size, a cap on aliases, and a
budget on the size and depth of the loaded structure, so a 'billion laughs' file or a
self-referencing alias fails fast with a clear message instead of eating memory.
"""
from __future__ import annotations

import yaml

MAX_BYTES = 2 * 1024 * 1024
MAX_ALIASES = 64
MAX_NODES = 200_000
MAX_DEPTH = 64


class YamlRejected(ValueError):
    pass


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YamlRejected(f"too many YAML aliases (more than {MAX_ALIASES}); "
                                   "a patch file does not need them")
        return super().compose_node(parent, index)


def load(text: str | bytes):
    if len(text) > MAX_BYTES:
        raise YamlRejected(f"file is {len(text) // 1024} KiB; a patch is at most {MAX_BYTES // 1024} KiB")
    try:
        data = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except YamlRejected:
        raise
    except yaml.constructor.ConstructorError as e:
        tag = getattr(e, "problem", "") or str(e)
        raise YamlRejected(f"unsupported YAML tag ({tag.strip()}); patches hold plain data only") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise YamlRejected(f"not valid YAML{where}: {problem}") from None
    _check_budget(data)
    return data


def _check_budget(data) -> None:
    """Walk the structure once, counting values and depth; shared sub-structures count each
    time they are reached, which is exactly what expanding them would cost."""
    count = 0
    on_path: set[int] = set()

    def walk(obj, depth):
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise YamlRejected(f"patch expands to more than {MAX_NODES} values (alias expansion?)")
        if depth > MAX_DEPTH:
            raise YamlRejected(f"patch is nested more than {MAX_DEPTH} levels deep")
        if isinstance(obj, (dict, list)):
            if id(obj) in on_path:
                raise YamlRejected("patch contains a self-referencing alias")
            on_path.add(id(obj))
            items = obj.items() if isinstance(obj, dict) else enumerate(obj)
            for k, v in items:
                walk(v, depth + 1)
            on_path.discard(id(obj))

    walk(data, 0)
