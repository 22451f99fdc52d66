"""Errors a user can act on.

Every error caused by input (a patch, an audio file, a command-line argument) is an
``AfxError``: the CLI prints it as one ``error:`` line and exits with code 2. Anything else
is an internal fault (exit 1).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Characters that must not reach a terminal raw: C0/C1 controls (ESC starts escape sequences,
# a newline splits one error into two lines), format characters (bidi overrides such as
# U+202E reorder the text around them, zero-width characters hide), line/paragraph separators,
# and lone surrogates (undecodable file-name bytes).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """``text`` with every control, format (bidi) and separator character written as an
    escape (``\\x1b``, ``\\n``, ``\\u202e``), so text taken from a patch prints as one inert line."""
    if text.isprintable():          # fast path: nothing to do (the usual case)
        return text
    out = []
    for ch in text:
        if ch in _SHORT:
            out.append(_SHORT[ch])
        elif unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class Issue:
    """One problem found in a patch, located by file, node and field."""

    message: str
    file: str | None = None
    node: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        loc = self.file or ""
        parts = []
        if self.node:
            parts.append(f"node '{self.node}'")
        if self.field:
            parts.append(self.field)
        if parts:
            loc = f"{loc}: {' '.join(parts)}" if loc else " ".join(parts)
        return escape_controls(f"{loc}: {self.message}" if loc else self.message)


class AfxError(Exception):
    """An error caused by user input. Exit code 2, one clear line, no traceback."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, node: str | None = None,
                 field: str | None = None):
        self.issue = Issue(message, file, node, field)
        super().__init__(str(self.issue))

    @property
    def lines(self) -> list[str]:
        return [str(self.issue)]


class PatchError(AfxError):
    """A patch that cannot be used; carries every issue found, not only the first."""

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        Exception.__init__(self, "\n".join(str(i) for i in self.issues))
        self.issue = self.issues[0] if self.issues else Issue("invalid patch")

    @property
    def lines(self) -> list[str]:
        return [str(i) for i in self.issues]


class NodeInputError(AfxError):
    """Raised by a node's code when its input is unusable (unreadable audio, empty file...).

    The executor fills in the patch file and node id; the node only names the field.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message, field=field)


class NodeFailure(AfxError):
    """A node failed while rendering because of its input; located by file/node/field."""


class GraphEditError(AfxError):
    """An edit the graph refused (for example a link between incompatible ports)."""


class NodeCrash(RuntimeError):
    """A node's code failed in a way its input does not explain: an internal fault (exit 1).
    Carries the node id so the editor can mark the node that failed."""

    exit_code = 1

    def __init__(self, node: str, type_id: str, cause: BaseException):
        self.node, self.type_id, self.cause = node, type_id, cause
        super().__init__(f"node '{node}' ({type_id}) failed: {type(cause).__name__}: {cause}")
