"""Issue 14: one render split in time. Chunks with their pre-roll give the single render's
frames (the demo: a walk counting beats; feedback_trails: fading trails; auto_patterns: a
hysteresis), chunks without it do not; on a local Ray the joined MP4 equals the in-process
render frame for frame, carries the audio once and its patch; a failing chunk fails the
render and leaves nothing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from afx_graph import Graph, default_registry, load_patch
from afx_graph.run import chunks, split
from afx_graph.cli import main as afx_main
from afx_graph.run.jobs import Job, JobResult, LocalRunner
from afx_graph.run.render import RunOptions
from afxcli import run_afx_process
from media import read_video

ROOT = Path(__file__).parents[1]
SPANS = [(0, 25), (25, 50), (50, 75)]


@pytest.fixture(scope="module")
def registry():
    return default_registry()


def renderable(name: str, registry, tmp: Path) -> chunks.Renderable:
    g = Graph.from_patch(load_patch(ROOT / "graphs" / name), registry)
    return chunks.Renderable(g, RunOptions(size=(64, 36), duration=2.5, device="cpu",
                                           out_dir=tmp))


@pytest.mark.parametrize("name", ["demo.yaml", "feedback_trails.yaml", "auto_patterns.yaml"])
def test_chunks_with_their_preroll_are_the_single_render(name, registry, tmp_path):
    r = renderable(name, registry, tmp_path)
    whole = np.concatenate(list(chunks.render_frames(r, 0, 75)))
    split = np.concatenate([np.concatenate(list(chunks.render_frames(
        renderable(name, registry, tmp_path), a, b))) for a, b in SPANS])
    naive = np.concatenate([np.concatenate(list(chunks.render_frames(
        renderable(name, registry, tmp_path), a, b, preroll=False))) for a, b in SPANS])
    assert whole.shape == split.shape == (75, 36, 64, 3)
    # frame-exact up to float rounding that depends on the batch on some CPUs (README):
    # at most one level, on at most 0.1 % of the pixels
    off = np.abs(whole.astype(int) - split.astype(int))
    assert off.max() <= 1 and (off > 0).mean() <= 1e-3, (off.max(), (off > 0).sum())
    # the pre-roll is what makes it so: chunks that start fresh show other pictures
    diff = np.abs(naive.astype(int) - whole.astype(int)).reshape(75, -1).max(axis=1)
    assert diff[25:].max() > 20 and (diff[25:] > 0).sum() >= 5, diff


def test_the_feedback_memory_is_the_time_its_trail_takes_to_fade(registry):
    from afx_graph.nodes.image import Feedback
    s = Feedback.settle({"decay": 0.9}, 30.0, set())
    assert 1.5 < s < 2.5                          # 0.9^n < 0.5/255 after ~59 frames at 30 fps
    assert Feedback.settle({"decay": 0.9}, 30.0, {"decay"}) is None     # driven: remembers all
    assert Feedback.settle({"decay": 1.0}, 30.0, set()) is None
    assert Feedback.settle({"decay": 0.0}, 30.0, set()) == 0.0


def test_a_driven_decay_is_read_over_the_frames_before_the_chunk(registry, tmp_path):
    """feedback_trails drives its trails' decay from a calm/busy state: the pre-roll is
    found from the decay values before the chunk, not from frame 0 (which cost the whole
    render up to the chunk: 21 s for a chunk at 60 s at 320x180 on the 2-core VM; 0.3 s now)."""
    r = renderable("feedback_trails.yaml", registry, tmp_path)
    lead = chunks.fading_lead(r, "trails", 70)
    assert lead is not None and 10 < lead < 70, lead


def test_spans_cover_the_render_without_gaps():
    s = chunks.spans(1000, 30.0, 4)
    assert s[0][0] == 0 and s[-1][1] == 1000 and all(a[1] == b[0] for a, b in zip(s, s[1:]))
    assert len(s) == 8                                  # two per worker
    assert all(b - a >= 60 for a, b in chunks.spans(100, 30.0, 16)[:-1])   # >= 2 s each


class FailingRunner(LocalRunner):
    """Runs the jobs here, but the second one fails as a broken machine would."""

    def run(self, jobs, done):
        for i, job in enumerate(jobs):
            done(job, JobResult(job.key, error="failed after 3 tries: worker died",
                                internal=True) if i == 1 else __import__(
                "afx_graph.run.jobs", fromlist=["run_job"]).run_job(job))


def test_a_chunk_that_fails_fails_the_render_and_leaves_nothing(registry, tmp_path):
    g = Graph.from_patch(load_patch(ROOT / "graphs" / "demo.yaml"), registry)
    out = tmp_path / "out" / "x.mp4"
    opts = RunOptions(output=str(out), size=(64, 36), duration=2.0, device="cpu",
                      out_dir=tmp_path)
    with pytest.raises(RuntimeError, match="worker died"):
        split.render_split(g, opts, FailingRunner(), chunk_seconds=0.5)
    assert not out.exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_chunk_without_ray_is_refused(tmp_path, capsys):
    rc = afx_main(["run", str(ROOT / "graphs" / "demo.yaml"), "--chunk", "2", "-o",
                   str(tmp_path / "x.mp4")])
    assert rc == 2 and "--chunk" in capsys.readouterr().err


# -- on a local Ray ------------------------------------------------------------------------------


@pytest.mark.xdist_group("ray")
@pytest.mark.parametrize("name", ["demo.yaml", "feedback_trails.yaml"])
def test_a_render_split_over_ray_is_the_in_process_render(name, local_ray, tmp_path, capsys):
    patch = ROOT / "graphs" / name
    common = ["--size", "64x36", "--duration", "3", "--set", "video.crf=0", "--quiet"]
    assert afx_main(["run", str(patch), "-o", str(tmp_path / "one.mp4"), *common]) == 0
    assert afx_main(["run", str(patch), "-o", str(tmp_path / "split.mp4"), "--ray",
                     "--chunk", "1", *common]) == 0, capsys.readouterr().err
    one, split = read_video(tmp_path / "one.mp4"), read_video(tmp_path / "split.mp4")
    assert split["frames"].shape == one["frames"].shape == (90, 36, 64, 3)
    assert np.array_equal(split["frames"], one["frames"])       # lossless: the same pictures
    assert split["audio"] is not None and abs(split["audio"]["duration"] - 3.0) < 0.05
    from afx_graph.sharing.embedded import read_text
    assert "feedback" in read_text(tmp_path / "split.mp4")[0] or name == "demo.yaml"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no chunk left


@pytest.mark.xdist_group("ray")
def test_a_task_that_keeps_failing_is_retried_then_reported(local_ray):
    from afx_graph.run.jobs import RayRunner
    got = []
    RayRunner().run([Job("bad", "afx: 1\nnodes: {}\n", "/tmp", kind="nonsense")],
                    lambda job, res: got.append(res))
    [res] = got
    assert res.internal and "3 tries" in res.error


def test_without_ray_installed_the_error_says_how_to_get_it(monkeypatch):
    import sys

    from afx_graph.errors import AfxError
    from afx_graph.run.jobs import RayRunner
    monkeypatch.setitem(sys.modules, "ray", None)          # as if the extra were not installed
    with pytest.raises(AfxError, match=r"pip install 'afx\[cluster\]'"):
        RayRunner("auto")


def test_an_address_nothing_answers_at_is_refused_at_once(tmp_path):
    import time
    t0 = time.monotonic()
    # a process of its own: in this one an earlier test's Ray may still be up, and afx
    # would not try the address at all
    r = run_afx_process("run", ROOT / "graphs" / "demo.yaml", "-o", tmp_path / "x.mp4", "--ray",
                        "127.0.0.1:1", cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and "error: --ray: cannot reach a Ray cluster" in r.stderr
    assert time.monotonic() - t0 < 30           # Ray alone waited over a minute
    assert not (tmp_path / "x.mp4").exists()
