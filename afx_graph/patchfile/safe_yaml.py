"""Loading YAML from files written by other people, safely.

Only the safe constructors (no Python tags), a cap on file size, a cap on aliases, and a
budget on the size and depth of the loaded structure, so a 'billion laughs' file or a
self-referencing alias fails fast with a clear message instead of eating memory. Nesting depth
is counted while the document is composed, so ten thousand '[' fail at level MAX_DEPTH + 1
instead of running PyYAML's recursive composer into a RecursionError. A key given twice in one
mapping is an error (YAML says keys are unique; PyYAML would silently keep the last one).
"""
from __future__ import annotations

import sys

import yaml

MAX_BYTES = 2 * 1024 * 1024
MAX_ALIASES = 64
MAX_NODES = 200_000
MAX_DEPTH = 64


class YamlRejected(ValueError):
    pass


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YamlRejected(f"too many YAML aliases (more than {MAX_ALIASES}); "
                                   "a patch file does not need them")
            return super().compose_node(parent, index)
        # the root is depth 0, as in _check_budget; refuse before PyYAML recurses any deeper
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise YamlRejected(f"patch is nested more than {MAX_DEPTH} levels deep "
                               f"(at line {mark.line + 1}, column {mark.column + 1})")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        """A scalar its tag cannot read (``2001-02-30``, ``!!int x``) is bad input, not a crash."""
        try:
            return super().construct_object(node, deep=deep)
        except (YamlRejected, yaml.YAMLError):
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError):
            what = node.tag.rsplit(":", 1)[-1]
            text = node.value if isinstance(node, yaml.ScalarNode) else ""
            shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "..."
            raise YamlRejected(f"cannot read {shown} as {what} at line {node.start_mark.line + 1}, "
                               f"column {node.start_mark.column + 1}") from None

    def construct_yaml_int(self, node):
        """Integers beyond the float range are refused here: every number in a patch is
        compared with float bounds somewhere, and such an int cannot become a float."""
        value = super().construct_yaml_int(node)
        if abs(value) > sys.float_info.max:
            raise YamlRejected(f"number too large ({len(node.value)} digits) at line "
                               f"{node.start_mark.line + 1}, column {node.start_mark.column + 1}")
        return value

    def construct_mapping(self, node, deep=False):
        """Refuse a key written twice in the same mapping (at any level). Keys brought in
        by a merge (``<<: *base``) may be overridden, as YAML intends."""
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                    continue     # merges are flattened below; unhashable keys fail there too
                key = self.construct_object(key_node)
                try:
                    earlier = first.setdefault(key, key_node)
                except TypeError:
                    continue
                if earlier is not key_node:
                    raise YamlRejected(
                        f"duplicate key '{key_node.value}' at line {key_node.start_mark.line + 1}"
                        f" (first at line {earlier.start_mark.line + 1})")
        return super().construct_mapping(node, deep=deep)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def load(text: str | bytes):
    if len(text) > MAX_BYTES:
        raise YamlRejected(f"file is {len(text) // 1024} KiB; a patch is at most {MAX_BYTES // 1024} KiB")
    try:
        data = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except YamlRejected:
        raise
    except yaml.constructor.ConstructorError as e:
        problem = (getattr(e, "problem", "") or str(e)).strip()
        if "constructor for the tag" in problem:
            raise YamlRejected(f"unsupported YAML tag ({problem}); patches hold plain data only")\
                from None
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if "unhashable key" in problem:
            raise YamlRejected(f"a list or mapping used as a key{where}; keys are plain names")\
                from None
        raise YamlRejected(f"cannot read the YAML{where}: {problem}") from None
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
