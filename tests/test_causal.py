"""Causal analysis (settings.analysis: causal, afx run --causal): the features see only past
audio, the same rows whatever the block size, and beats that lock on and land on the beat."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from afxcli import run_afx
from afx_graph import examples
from afx_graph.nodes.causal import BeatTracker, CausalOnsets, CausalSpectrum, rows_at
from media import write_wav

SR = 22050


def clicks(bpm: float, seconds: float, seed: int = 0, sr: int = SR, start: float = 0.3,
           changes: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
    """Kicks on the beat over noise: mono float32 and the true beat times. ``changes``:
    (time, bpm) pairs where the tempo changes."""
    rng = np.random.default_rng(seed)
    y = 0.01 * rng.standard_normal(int(seconds * sr)).astype(np.float32)
    t = np.arange(int(0.05 * sr)) / sr
    kick = (0.9 * np.sin(2 * np.pi * 80 * t) * np.exp(-t * 60)).astype(np.float32)
    times, now, tempo, todo = [], start, bpm, list(changes)
    while now < seconds:
        times.append(now)
        while todo and now >= todo[0][0]:
            tempo = todo.pop(0)[1]
        now += 60.0 / tempo
    for b in times:
        i = int(b * sr)
        y[i:i + len(kick)] += kick[:max(0, len(y) - i)]
    return y, np.array(times)


def fed(analyser, y: np.ndarray, block: int):
    for i in range(0, len(y), block):
        analyser.push(y[i:i + block])
    return analyser.rows


def beat_times(rows: np.ndarray, rate: float) -> np.ndarray:
    """When the beat column fires (row k ends at (k + 1) / rate)."""
    return (np.nonzero(rows[:, 1] == 1.0)[0] + 1) / rate


@pytest.mark.parametrize("make", [lambda: CausalSpectrum(SR, 8), lambda: CausalOnsets(SR)],
                         ids=["spectrum", "onsets"])
def test_the_same_sound_in_any_blocks_gives_the_same_rows(make):
    y, _ = clicks(124, 6, seed=4)
    small, large, odd = fed(make(), y, 64), fed(make(), y, 4096), fed(make(), y, 1000)
    assert small.shape == large.shape == odd.shape and len(small) > 500
    assert np.array_equal(small, large) and np.array_equal(small, odd)


@pytest.mark.parametrize("make", [lambda: CausalSpectrum(SR, 8), lambda: CausalOnsets(SR)],
                         ids=["spectrum", "onsets"])
def test_a_row_never_sees_the_sound_after_it(make):
    y, _ = clicks(110, 6, seed=5)
    other = y.copy()
    cut = int(3.0 * SR)
    other[cut:] = np.random.default_rng(9).standard_normal(len(y) - cut) * 0.5
    a, b = fed(make(), y, 512), fed(make(), other, 512)
    hop = make().hop
    before = cut // hop                     # rows whose audio ended by the cut
    assert np.array_equal(a[:before], b[:before])
    assert not np.array_equal(a[before:], b[before:])


@pytest.mark.parametrize("bpm, seed", [(92, 1), (128, 2), (150, 3), (105, 7)])
def test_beats_lock_within_four_seconds_and_land_on_the_beat(bpm, seed):
    y, truth = clicks(bpm, 16, seed=seed)
    a = CausalOnsets(SR)
    rows = fed(a, y, 256)
    got = beat_times(rows, a.rate)
    after = got[got > 4.0]
    assert len(after) >= int((16 - 4.5) * bpm / 60)       # one flag on every beat
    error = np.array([b - truth[np.argmin(abs(truth - b))] for b in after])
    assert np.percentile(abs(error), 90) <= 0.030, error
    assert abs(rows[-1, 3] - bpm) / bpm < 0.02, rows[-1, 3]


def test_a_tempo_change_is_followed_within_four_seconds():
    y, truth = clicks(120, 20, seed=11, changes=((10.0, 130.0),))
    a = CausalOnsets(SR)
    rows = fed(a, y, 512)
    tempo = rows[:, 3]
    at = lambda s: tempo[int(s * a.rate)]               # noqa: E731
    assert abs(at(9.5) - 120) < 2.5 and abs(at(14.0) - 130) < 2.5, (at(9.5), at(14.0))
    got = beat_times(rows, a.rate)
    late = got[got > 14.0]
    error = np.array([b - truth[np.argmin(abs(truth - b))] for b in late])
    assert np.percentile(abs(error), 90) <= 0.030, error


def test_a_tap_tempo_takes_over_at_once():
    t = BeatTracker(100.0)
    for _ in range(300):
        t.step(0.0)                          # silence: no tempo
    assert t.bpm == 0.0
    for i in range(4):                       # taps every 0.6 s: 100 BPM
        for _ in range(60 if i else 1):
            t.step(0.0)
        t.tap()
    assert abs(t.bpm - 100.0) < 0.5
    fired = [t.step(0.0) for _ in range(61)]
    assert fired.index(True) == 59           # the next beat, one period after the last tap


@pytest.mark.parametrize("signal", ["silence", "dc", "clipping", "nan"])
def test_odd_input_never_gives_nan_or_leaves_the_range(signal):
    n = 5 * SR
    y = {"silence": np.zeros(n), "dc": np.full(n, 0.7),
         "clipping": np.clip(np.sin(np.arange(n) * 0.05) * 40, -1, 1),
         "nan": np.where(np.arange(n) % 1000 == 0, np.nan, 0.3 * np.sin(np.arange(n) * 0.1)),
         }[signal].astype(np.float32)
    for a in (CausalSpectrum(SR, 8), CausalOnsets(SR)):
        rows = fed(a, y, 700)
        assert np.isfinite(rows).all()
        level = rows[:, :-1] if isinstance(a, CausalOnsets) else rows     # tempo is in BPM
        assert level.min() >= -1.0 and level.max() <= 1.0


def test_rows_at_takes_the_last_row_whose_audio_had_arrived():
    rows = np.arange(10, dtype=np.float32)[:, None]       # row k covers audio to (k + 1) / 10
    got = rows_at(rows, 10.0, np.array([0.0, 0.099, 0.1, 0.25, 5.0]))[:, 0]
    assert list(got) == [0.0, 0.0, 0.0, 1.0, 9.0]


# -- afx run --causal ------------------------------------------------------------------------
def patch_with(tmp_path, song: str) -> str:
    data = yaml.safe_load(examples.find("demo").read_text())
    data["nodes"]["music"] = {"type": "audio.file", "params": {"path": song}}
    sink = next(k for k, v in data["nodes"].items() if v["type"] == "output.video")
    image = data["nodes"].pop(sink)["inputs"]["image"]
    data["nodes"]["frames"] = {"type": "output.frames", "params": {"path": "frames"},
                               "inputs": {"image": image}}
    name = f"{song}.yaml"
    (tmp_path / name).write_text(yaml.safe_dump(data))
    return name


def frames_of(folder):
    import av
    out = []
    for p in sorted(folder.glob("*.png")):
        with av.open(str(p)) as c:
            out.append(next(c.decode(video=0)).to_ndarray(format="rgb24"))
    return np.stack(out)


def render(tmp_path, name: str, *extra) -> np.ndarray:
    import shutil
    shutil.rmtree(tmp_path / "frames", ignore_errors=True)
    r = run_afx("run", name, "--size", "64x36", "--fps", "10", "--duration", "6", "--quiet",
                *extra, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return frames_of(tmp_path / "frames")


def test_a_causal_render_is_not_changed_by_the_music_after_each_frame(tmp_path):
    """Two songs alike for 3 s: rendered --causal their first 3 s of frames are the same;
    rendered offline (features normalised over the whole track) they are not."""
    y, _ = clicks(120, 7, seed=2)
    other = y.copy()
    other[int(3.0 * SR):] = clicks(97, 7, seed=8)[0][int(3.0 * SR):] * 0.3
    write_wav(tmp_path / "a.wav", y[None], SR)
    write_wav(tmp_path / "b.wav", other[None], SR)
    a, b = patch_with(tmp_path, "a.wav"), patch_with(tmp_path, "b.wav")
    ca, cb = render(tmp_path, a, "--causal"), render(tmp_path, b, "--causal")
    assert len(ca) == len(cb) == 60
    assert np.array_equal(ca[:30], cb[:30])                  # frames 0..2.9 s
    assert not np.array_equal(ca[30:], cb[30:])
    oa, ob = render(tmp_path, a), render(tmp_path, b)
    assert not np.array_equal(oa[:30], ob[:30])              # offline looks ahead
    assert not np.array_equal(ca, oa)
    assert ca.std() > 5                                      # a picture, not a flat frame


def test_a_bad_analysis_setting_names_the_field(tmp_path):
    data = yaml.safe_load(examples.find("demo").read_text())
    data["settings"]["analysis"] = "psychic"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    r = run_afx("validate", "p.yaml", cwd=tmp_path)
    assert r.returncode == 2
    assert "settings.analysis" in r.stderr and "offline, causal" in r.stderr
