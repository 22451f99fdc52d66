"""Issue 12, item 5: saving from the editor keeps a patch shareable. The atomic write used
mkstemp, whose 0600 made every patch the editor saved private; now a saved file keeps the mode
of the file it replaces, a new one gets 0666 less the umask, and only the recovery file of
unsaved work stays private."""
from __future__ import annotations

import os
import shutil
import stat

from afx_graph.ui.controller import EditorController


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_save_keeps_the_mode_and_save_as_follows_the_umask(tmp_path, demo):
    patch = tmp_path / "shared.yaml"
    shutil.copy(demo, patch)
    patch.chmod(0o664)                                  # a group-writable shared patch
    c = EditorController(recovery=tmp_path / "rec", autosave_seconds=0)
    c.open(patch)
    c.set_param("field", "seed", 99)
    rec = c.autosave()
    assert rec is not None and mode(rec) == 0o600        # unsaved work stays private
    c.save()
    assert mode(patch) == 0o664 and "seed: 99" in patch.read_text()
    old = os.umask(0o022)
    try:
        c.save(tmp_path / "copy.yaml")
    finally:
        os.umask(old)
    assert mode(tmp_path / "copy.yaml") == 0o644                     # was 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.yaml", "rec", "shared.yaml"]
