"""The performance view (issue 12): the preview alone, filling the window without distortion."""
from __future__ import annotations

import pytest

from afx_graph.ui.performance import letterbox


@pytest.mark.parametrize("frame, area", [((512, 288), (1366, 768)), ((512, 288), (1920, 1080)),
                                         ((512, 512), (1366, 768)), ((288, 512), (1920, 1080)),
                                         ((512, 219), (1280, 1024))])
def test_letterbox_fills_one_side_keeps_the_aspect_and_centres(frame, area):
    x, y, w, h = letterbox(*frame, *area)
    assert 0 <= x and 0 <= y and x + w <= area[0] and y + h <= area[1]
    assert w == area[0] or h == area[1]                                # fills one side
    assert abs(w / h - frame[0] / frame[1]) < 0.01                     # no distortion
    assert abs(x - (area[0] - w - x)) <= 1 and abs(y - (area[1] - h - y)) <= 1   # centred
