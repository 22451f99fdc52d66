"""The preview never shows another patch: New and every Open drop the last patch's picture
(and say why nothing shows where the new one cannot render), a patch opens playing, and a
subpatch is previewed and described with the settings of the patch around it."""
from __future__ import annotations

import time

import yaml


def step_until(app, predicate, seconds: float = 60.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.step(1)
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_new_drops_the_last_patchs_picture_at_once(demo_app):
    app = demo_app
    assert app.worker.wait_for(lambda f: True, timeout=90) is not None
    assert step_until(app, lambda: app.panel.last is not None)
    app.new()
    assert app.worker.latest() is None and app.panel.last is None      # at once, not later
    app.step(10)
    assert app.worker.latest() is None and app.panel.last is None
    assert app.worker.duration == 0.0
    assert app.worker.status                                           # says why it is empty


def test_opening_a_patch_that_cannot_preview_says_why_and_shows_no_old_picture(demo_app, tmp_path):
    app = demo_app
    assert app.worker.wait_for(lambda f: True, timeout=90) is not None
    bad = tmp_path / "unknown_type.yaml"
    bad.write_text(yaml.safe_dump({
        "afx": 1, "settings": {"size": [320, 180], "fps": 10, "duration": 2},
        "nodes": {"x": {"type": "no.such_node"},
                  "v": {"type": "output.video", "params": {"path": "o.mp4"},
                        "inputs": {"image": "x.image"}}}}))
    assert app.open(bad)
    assert app.worker.latest() is None and app.panel.last is None
    assert step_until(app, lambda: app.worker.state in ("failed", "nothing"))
    app.step(10)
    assert app.worker.latest() is None and app.panel.last is None
    assert "no.such_node" in app.worker.status or "unknown" in app.worker.status, \
        app.worker.status
    assert app.worker.duration == 0.0                     # not the demo's 12 s


def test_a_missing_song_does_not_keep_the_last_patchs_length(demo_app, tmp_path):
    """The field needs no audio: it previews; the song that is missing gives no length."""
    app = demo_app
    assert app.worker.wait_for(lambda f: True, timeout=90) is not None
    assert app.worker.duration == 12.0                    # the demo's song
    p = tmp_path / "missing_song.yaml"
    p.write_text(yaml.safe_dump({
        "afx": 1, "settings": {"size": [320, 180], "fps": 10, "duration": 2},
        "nodes": {"a": {"type": "audio.file", "params": {"path": "not_here.wav"}},
                  "c": {"type": "field.coords"},
                  "f": {"type": "cppn", "inputs": {"coords": "c.coords"}},
                  "v": {"type": "output.video", "params": {"path": "o.mp4"},
                        "inputs": {"image": "f.image", "audio": "a.audio"}}}}))
    assert app.open(p)
    f = None
    assert step_until(app, lambda: app.worker.latest() is not None, 90)
    f = app.worker.latest()
    assert f.node == "f" and f.duration == 2.0 and app.worker.duration == 2.0


def test_a_patch_opens_playing(app, demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert app.open(demo)
    assert step_until(app, lambda: app.worker.latest() is not None, 90)
    assert step_until(app, lambda: app.worker.clock.playing, 5)
    app.worker.pause()
    assert not app.worker.clock.playing


def test_a_pause_before_the_first_frame_wins(app, demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert app.open(demo)
    app.worker.pause()
    assert step_until(app, lambda: app.worker.latest() is not None, 90)
    app.step(5)
    assert not app.worker.clock.playing


def test_each_node_shows_its_time_per_frame_and_the_slowest_is_tinted(demo_app):
    import dearpygui.dearpygui as dpg
    from afx_graph.ui.cook_times import LAYER
    app = demo_app
    sizes = app.views.sizes()
    app.worker.play()
    assert step_until(app, lambda: app.worker.frames_rendered >= 5, 90)
    app.worker.pause()
    n = -1
    while n != app.worker.frames_rendered:          # a frame in flight when paused lands
        n = app.worker.frames_rendered
        app.step(3)
        time.sleep(0.2)
    app.cook.update(force=True)
    app.step(2)
    ms = app.cook.ms                                    # what the badges show
    assert ms.get("field", 0) > 0 and ms.get("walk", 0) > 0        # run every frame
    assert "music" not in ms and "coords" not in ms     # computed once, before the first frame
    assert ms == {k: v for k, v in app.worker.cook_ms.items() if k in app.views.views}
    drawn = [dpg.get_item_configuration(t)["text"] for t in dpg.get_item_children(LAYER, 2)]
    assert f"{ms['field']:.1f} ms" in drawn, drawn
    after = app.views.sizes()                           # a badge never makes a node bigger
    assert all(after[n][0] <= sizes[n][0] * 1.02 + 1 for n in sizes), (sizes, after)
    views, themes = app.views, app.themes
    assert views.show_hot({"field": 30.0, "coords": 1.0, "walk": 0.5}) == "field"
    assert dpg.get_item_theme(views.views["field"].tag) == themes.hot_node
    assert dpg.get_item_theme(views.views["coords"].tag) != themes.hot_node
    assert views.show_hot({"field": 3.0, "coords": 2.5}) is None     # nothing stands out
    assert dpg.get_item_theme(views.views["field"].tag) != themes.hot_node
    app.cook.show(False)
    app.cook.update(force=True)
    app.step(2)
    assert dpg.get_item_children(LAYER, 2) == []
    app.cook.show(True)
