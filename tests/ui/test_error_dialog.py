"""Where a patch that cannot be opened is wrong (no display): file, line, message."""
from __future__ import annotations

import pytest

from afx_graph import AfxError, load_patch
from afx_graph.ui.error_dialog import describe

CASES = {
    "syntax.yaml": (b"afx: 1\nnodes:\n  a:\n    type: field.coords\n    params: {scale: 2\n"
                    b"  b:\n    type: cppn\n", 6, "not valid YAML"),
    "duplicate.yaml": (b"afx: 1\nnodes:\n  a: {type: field.coords}\n  a: {type: cppn}\n", 4,
                       "duplicate key 'a'"),
    "newer.yaml": (b"# from the future\nafx: 99\nnodes: {}\n", 2, "newer than this afx"),
    "garbage.yaml": (b"\x00\xff\xfe\x89PNG", None, "not a text file"),
    "list.yaml": (b"- a\n- b\n", None, "a patch is a mapping"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_file_line_and_message(tmp_path, name):
    data, line, words = CASES[name]
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(AfxError) as e:
        load_patch(p)
    d = describe(p, e.value)
    assert d.file == str(p) and d.line == line and words in d.messages[0]


def test_a_missing_file(tmp_path):
    p = tmp_path / "gone.yaml"
    with pytest.raises(AfxError) as e:
        load_patch(p)
    d = describe(p, e.value)
    assert (d.file, d.line, d.messages) == (str(p), None, ["no such file"])
