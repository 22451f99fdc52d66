"""Causal audio analysis: the feature nodes' streaming form, for live input and ``--causal``.

Every analyser here sees only past audio. Samples arrive in blocks of any size
(:meth:`Analyser.push`); the analysis runs on a fixed hop of :data:`HOP_SECONDS` (rounded to
whole samples), each hop over the last window of samples, so the rows it makes depend on the
samples alone, never on how they were cut into blocks (64 or 4096 frames give the same rows).
Row ``k`` describes the audio up to sample ``(k + 1) * hop``: :func:`rows_at` picks, for a
moment ``t``, the last row whose audio ended by ``t``.

Levels are normalised as they go (a running floor and peak per column, in dB), not per track
as the offline analysis does: a live show has no end to look ahead to.

The beat tracker (:class:`BeatTracker`) is ours (afx is MIT; aubio is GPL): tempo from the
autocorrelation of the last seconds of onset strength, weighted towards 120 BPM; the phase
from the onsets at that period; beats predicted forward, so a beat row is flagged when the
predicted beat time is reached, not after the onset that confirms it. A tap tempo overrides
it at once."""
from __future__ import annotations

import math

import numpy as np

HOP_SECONDS = 0.01              # 100 rows a second
WINDOW_SECONDS = 0.046          # the FFT window (2048 samples at 44.1 kHz)
FLOOR_DB = -100.0               # what silence reads (never -inf, never NaN)
PEAK_FALL_DB = 3.0              # dB a second a column's running peak falls back
FLOOR_RISE_DB = 1.0             # dB a second its running floor rises back
MIN_RANGE_DB = 12.0             # a column that moves less than this is not stretched
NAMED_BANDS = (("bass", 30.0, 250.0), ("mid", 250.0, 4000.0), ("treble", 4000.0, math.inf))
DESCRIPTORS = ("rms", "centroid", "rolloff", "flux")
ROLLOFF = 0.85
LIVE_KEEP_SECONDS = 60.0         # rows a live timeline keeps (its picture needs the last one)


def hop_size(sr: int) -> int:
    return max(1, int(round(HOP_SECONDS * sr)))


def window_size(sr: int) -> int:
    return int(2 ** round(math.log2(WINDOW_SECONDS * sr)))


def _db(power) -> np.ndarray:
    return np.maximum(10.0 * np.log10(np.maximum(power, 1e-30)), FLOOR_DB)


class Analyser:
    """Base of the streaming analysers: mono samples in, one row per hop out."""

    names: tuple[str, ...] = ()

    keep: int | None = None      # rows kept (live: the last minute); None: all

    def __init__(self, sr: int):
        self.sr = int(sr)
        self.hop = hop_size(self.sr)
        self.window = window_size(self.sr)
        self._buf = np.zeros(self.window, np.float32)   # the last ``window`` samples
        self._pending = np.zeros(0, np.float32)          # samples not yet a whole hop
        self._store: np.ndarray | None = None      # rows, made on the first (width known)
        self._count = 0                  # rows in the store
        self.first = 0                   # row number of the store's first row

    @property
    def rate(self) -> float:
        """Rows a second."""
        return self.sr / self.hop

    def push(self, samples: np.ndarray) -> int:
        """Feed mono samples (any number); returns how many rows this made."""
        x = np.asarray(samples, np.float32).reshape(-1)
        x = np.where(np.isfinite(x), x, 0.0).astype(np.float32)     # a NaN never gets in
        data = np.concatenate([self._pending, x]) if len(self._pending) else x
        made = 0
        i = 0
        while len(data) - i >= self.hop:
            block = data[i:i + self.hop]
            self._buf = np.concatenate([self._buf[self.hop:], block]) if self.hop < self.window \
                else block[-self.window:].copy()
            self._add(np.asarray(self.step(self._buf), np.float32))
            i += self.hop
            made += 1
        self._pending = data[i:].copy()
        return made

    def step(self, window: np.ndarray) -> np.ndarray:      # pragma: no cover - abstract
        raise NotImplementedError

    def _add(self, row: np.ndarray) -> None:
        if self._store is None:
            self._store = np.zeros((256, len(row)), np.float32)
        if self._count == len(self._store):
            if self.keep is not None and self._count >= 2 * self.keep:   # drop the oldest
                drop = self._count - self.keep
                self._store[:self.keep] = self._store[drop:self._count]
                self._count -= drop
                self.first += drop
            else:                                                        # grow (amortised)
                grown = np.zeros((2 * len(self._store), self._store.shape[1]), np.float32)
                grown[:self._count] = self._store[:self._count]
                self._store = grown
        self._store[self._count] = row
        self._count += 1

    @property
    def made(self) -> int:
        """Rows made since the start."""
        return self.first + self._count

    @property
    def rows(self) -> np.ndarray:
        """The rows kept, ``(K, len(names))`` (all of them, unless ``keep``): row ``i`` here
        is row ``first + i`` since the start. A view: valid until the next push."""
        if self._store is None:
            return np.zeros((0, len(self.names)), np.float32)
        return self._store[:self._count]


def rows_at(rows: np.ndarray, rate: float, times: np.ndarray, start: float = 0.0,
            first: int = 0) -> np.ndarray:
    """For each time (seconds, on the clock whose 0 is ``start``), the last row whose audio
    had ended by then (row ``k`` covers the audio up to ``(k + 1) / rate``; ``rows`` begins
    at row ``first``); before the first row, zeros."""
    t = (np.asarray(times, np.float64) - start) * rate
    idx = np.floor(t + 1e-9).astype(np.int64) - 1 - first
    out = np.zeros((len(idx), rows.shape[1]), np.float32)
    ok = (idx >= 0) & (len(rows) > 0)
    if len(rows):
        out[ok] = rows[np.minimum(idx[ok], len(rows) - 1)]
    return out


class _Running:
    """A running floor and peak per column (dB), mapped to [-1, 1]."""

    def __init__(self, columns: int, rate: float):
        self.lo = np.full(columns, np.inf, np.float32)
        self.hi = np.full(columns, -np.inf, np.float32)
        self.fall = PEAK_FALL_DB / rate
        self.rise = FLOOR_RISE_DB / rate

    def __call__(self, v: np.ndarray) -> np.ndarray:
        self.hi = np.maximum(np.where(np.isfinite(self.hi), self.hi - self.fall, v), v)
        self.lo = np.minimum(np.where(np.isfinite(self.lo), self.lo + self.rise, v), v)
        span = np.maximum(self.hi - self.lo, MIN_RANGE_DB)
        mid_lo = self.hi - span            # a column that hardly moves sits near its peak
        return np.clip(2.0 * (v - mid_lo) / span - 1.0, -1.0, 1.0)


class CausalSpectrum(Analyser):
    """The columns of ``features.spectrum`` (bass, mid, treble, band0.., rms, centroid,
    rolloff, flux), each in [-1, 1] against its own running range, smoothed with
    ``attack``/``release`` seconds."""

    def __init__(self, sr: int, bands: int = 8, fmin: float = 30.0, fmax: float = 16000.0,
                 attack: float = 0.0, release: float = 0.15):
        super().__init__(sr)
        fmax = min(float(fmax), sr / 2.0)
        self.names = tuple(n for n, *_ in NAMED_BANDS) + tuple(
            f"band{i}" for i in range(int(bands))) + DESCRIPTORS
        self._win = np.hanning(self.window).astype(np.float32)
        self._scale = (2.0 / self._win.sum()) ** 2
        freqs = np.fft.rfftfreq(self.window, 1.0 / sr).astype(np.float32)
        self.freqs = freqs
        edges = np.geomspace(fmin, fmax, int(bands) + 1)
        w = [((freqs >= lo) & (freqs < min(hi, fmax))) for _, lo, hi in NAMED_BANDS]
        w += [((freqs >= edges[i]) & (freqs < edges[i + 1])) for i in range(int(bands))]
        self.weights = np.stack(w, axis=1).astype(np.float32)
        self._prev_db: np.ndarray | None = None
        self._norm = _Running(len(self.names), self.rate)
        self._up = 1.0 if attack <= 0 else 1.0 - math.exp(-1.0 / (attack * self.rate))
        self._down = 1.0 if release <= 0 else 1.0 - math.exp(-1.0 / (release * self.rate))
        self._smooth: np.ndarray | None = None

    def step(self, window: np.ndarray) -> np.ndarray:
        spec = np.fft.rfft(window * self._win)
        power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32) * self._scale
        total = float(power.sum())
        bands_db = _db(power @ self.weights)
        if total > 1e-20:
            centroid = float((power * self.freqs).sum() / total)
            cum = np.cumsum(power)
            rolloff = float(self.freqs[min(int(np.searchsorted(cum, ROLLOFF * total)),
                                           len(self.freqs) - 1)])
        else:
            centroid = rolloff = 0.0
        n_named = len(NAMED_BANDS)
        flux_db = 0.0
        if self._prev_db is not None:
            flux_db = float(np.maximum(bands_db[n_named:] - self._prev_db, 0.0).mean())
        self._prev_db = bands_db[n_named:]
        octave = lambda f: 10.0 * math.log2(max(f, 20.0) / 20.0)     # noqa: E731 (10 per octave)
        raw = np.concatenate([bands_db, [float(_db(np.mean(window ** 2))), octave(centroid),
                                         octave(rolloff), flux_db]]).astype(np.float32)
        v = self._norm(raw)
        if self._smooth is None:
            self._smooth = v
        else:
            k = np.where(v > self._smooth, self._up, self._down)
            self._smooth = self._smooth + k * (v - self._smooth)
        return self._smooth


class CausalOnsets(Analyser):
    """Onset strength (0..1: spectral flux of log band energies against its running peak),
    then the :class:`BeatTracker`'s beat pulse, beat phase and tempo: the columns of
    ``features.onsets`` plus ``tempo``."""

    names = ("onset", "beat", "beat_phase", "tempo")
    BANDS = 40

    def __init__(self, sr: int, decay: float = 0.25):
        super().__init__(sr)
        self._win = np.hanning(self.window).astype(np.float32)
        freqs = np.fft.rfftfreq(self.window, 1.0 / sr)
        edges = np.geomspace(40.0, min(8000.0, sr / 2.0), self.BANDS + 1)
        self.weights = np.stack([(freqs >= edges[i]) & (freqs < edges[i + 1])
                                 for i in range(self.BANDS)], axis=1).astype(np.float32)
        self._prev: np.ndarray | None = None
        self._peak = 0.0
        self._fall = math.exp(-math.log(2.0) / (4.0 * self.rate))      # the peak halves in 4 s
        self.beats = BeatTracker(self.rate)
        self._pulse_fall = math.exp(-1.0 / (max(decay, 1e-3) * self.rate))
        self._pulse = 0.0

    def step(self, window: np.ndarray) -> np.ndarray:
        spec = np.fft.rfft(window * self._win)
        power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
        db = _db(power @ self.weights)
        flux = 0.0 if self._prev is None else float(np.maximum(db - self._prev, 0.0).mean())
        self._prev = db
        self._peak = max(flux, self._peak * self._fall, 1.0)      # 1 dB: below it, no onset
        strength = flux / self._peak
        beat = self.beats.step(strength)
        self._pulse = 1.0 if beat else self._pulse * self._pulse_fall
        return np.array([strength, self._pulse, self.beats.phase, self.beats.bpm], np.float32)


class BeatTracker:
    """Causal beats from onset strength at ``rate`` rows a second (see the module's text)."""

    HISTORY = 8.0                # seconds of onset strength the tempo is read from
    RECENT = 2.5                 # ... weighted by exp(-age / RECENT): a new tempo wins in ~4 s
    EVERY = 0.25                 # seconds between tempo and phase estimates
    MIN_BPM, MAX_BPM = 60.0, 180.0     # past 180 BPM (drum and bass) beats read at half tempo
    PRIOR_BPM, PRIOR_OCTAVES = 120.0, 1.0
    SWITCH = 1.3                 # how much better a new tempo or phase must score to replace it

    def __init__(self, rate: float):
        self.rate = rate
        self.env = np.zeros(int(self.HISTORY * rate), np.float32)
        self.n = 0                      # rows seen
        self.period: float | None = None    # rows between beats
        self.next_beat: float | None = None     # row index of the next predicted beat
        self.last_beat: float | None = None
        self.tapped: list[int] = []
        self._tap_hold = 0
        self.lead = 0.0                 # rows a beat is flagged early (afx live --offset < 0)
        self._pending: float | None = None      # a new phase seen once, waiting to be seen again

    @property
    def bpm(self) -> float:
        return 0.0 if self.period is None else 60.0 * self.rate / self.period

    @property
    def phase(self) -> float:
        if self.period is None or self.last_beat is None:
            return 0.0
        return float(min(max((self.n - self.last_beat) / self.period, 0.0), 1.0 - 1e-6))

    def tap(self) -> None:
        """A tap now: two or more taps set the period from their spacing and the phase to
        the last; the tracker's own estimate waits a few seconds before it moves again."""
        self.tapped = [t for t in self.tapped if self.n - t < 2.0 * self.rate] + [self.n]
        if len(self.tapped) >= 2:
            self.period = float(np.mean(np.diff(self.tapped)))
            self.last_beat = float(self.n)
            self.next_beat = self.n + self.period
            self._tap_hold = int(4.0 * self.rate)

    def step(self, strength: float) -> bool:
        """One row of onset strength; True when a beat falls on this row."""
        self.env = np.roll(self.env, -1)
        self.env[-1] = strength
        self.n += 1
        if self._tap_hold > 0:
            self._tap_hold -= 1
        elif self.n >= 2 * self.rate and self.n % max(1, int(self.EVERY * self.rate)) == 0:
            self._estimate()
        if self.next_beat is not None and self.n >= self.next_beat - self.lead:
            self.last_beat = self.next_beat
            self.next_beat += self.period
            while self.next_beat - self.lead <= self.n:    # a tempo change left it behind
                self.next_beat += self.period
            return True
        return False

    def _estimate(self) -> None:
        seen = min(self.n, len(self.env))
        x = self.env[-seen:].astype(np.float64)
        x = x - x.mean()
        if not np.any(x):
            return
        x = x * np.exp(-np.arange(seen)[::-1] / (self.RECENT * self.rate))
        lo = int(math.floor(60.0 * self.rate / self.MAX_BPM))
        hi = int(math.ceil(60.0 * self.rate / self.MIN_BPM))
        if seen < 2 * hi:
            hi = seen // 2
        if hi <= lo + 1:
            return
        ac = np.array([np.dot(x[:-lag], x[lag:]) / (seen - lag) for lag in range(lo, hi + 1)])
        lags = np.arange(lo, hi + 1, dtype=np.float64)
        bpm = 60.0 * self.rate / lags
        prior = np.exp(-0.5 * (np.log2(bpm / self.PRIOR_BPM) / self.PRIOR_OCTAVES) ** 2)
        score = np.maximum(ac, 0.0) * prior
        if score.max() <= 0:
            return
        k = int(np.argmax(score))
        if self.period is not None:          # hysteresis: the current tempo holds unless the
            cur = int(np.clip(round(self.period) - lo, 0, len(score) - 1))    # new one is
            if score[k] < self.SWITCH * score[cur]:                             # clearly better
                k = cur
        if 0 < k < len(score) - 1:           # the peak between two lags (a parabola)
            a, b, c = score[k - 1], score[k], score[k + 1]
            d = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        else:
            d = 0.0
        period = float(lags[k] + d)
        if self.period is not None and abs(period - self.period) < 0.04 * self.period:
            period = 0.8 * self.period + 0.2 * period        # steady: small moves only
        self.period = period
        # the phase: the offset whose comb over the history catches the most onset strength
        span = seen
        recent = self.env[-span:] * np.exp(-np.arange(span)[::-1] / (2 * self.RECENT * self.rate))

        def comb(off: float) -> float:
            idx = np.arange(span - 1 - off, -1, -period).round().astype(np.int64)
            return float(recent[idx[idx >= 0]].sum())

        best_off = max(range(int(round(period))), key=comb)
        if self.next_beat is not None:       # the phase holds unless the new one is clearly
            cur = (self.n - 1 - (self.next_beat - period)) % period    # better (no flips to
            if comb(best_off) < self.SWITCH * comb(cur):                 # the off-beat)
                best_off = cur
        last = self.n - 1 - best_off                       # row of the latest comb tooth
        nxt = last + period
        while nxt <= self.n - 1:
            nxt += period
        moved = self.next_beat is not None and abs(nxt - self.next_beat) > 0.15 * period
        if self.next_beat is None or (moved and self._pending is not None and
                                      abs((nxt - self._pending) % period) < 0.15 * period):
            self.next_beat = nxt               # a new phase, found twice running
            self._pending = None
            if self.last_beat is None:
                self.last_beat = last
        elif moved:
            self._pending = nxt
        else:                                   # the same phase: follow it (a phase-locked
            self._pending = None                # loop), so a tempo a hair off does not drift
            self.next_beat += 0.5 * (nxt - self.next_beat)


# -- live: timelines that grow as the audio arrives -------------------------------------------
class _Feed:
    """One analyser fed from one LiveAudio (its columns are shared by several timelines)."""

    def __init__(self, analyser: Analyser, audio):
        self.analyser, self.audio = analyser, audio
        self.position = 0

    def update(self) -> None:
        self.audio.pull()
        new, self.position = self.audio.since(self.position)
        if len(new):
            self.analyser.push(new)


class LiveTimeline:
    """A timeline whose rows are made as the live audio arrives: sampled at a moment (on the
    audio's clock), it first takes the new audio, then gives the last row whose audio had
    arrived by then (:func:`rows_at`). Looks like a :class:`~afx_graph.types.Timeline` to the
    links that read it (``sample``, ``column``, ``names``, ``dims``, ``values``)."""

    live = True                  # a running thing: the executor does not cache it

    def __init__(self, feed: _Feed, columns: tuple[int, ...] | None = None):
        self.feed = feed
        names = feed.analyser.names
        self.columns = tuple(range(len(names))) if columns is None else columns
        self.names = tuple(names[i] for i in self.columns)
        self.fps = feed.analyser.rate
        self.start = 0.0

    @classmethod
    def of(cls, analyser: Analyser, audio) -> "LiveTimeline":
        analyser.keep = int(LIVE_KEEP_SECONDS * analyser.rate)   # a show runs for hours
        return cls(_Feed(analyser, audio))

    @property
    def dims(self) -> int:
        return len(self.columns)

    @property
    def values(self) -> np.ndarray:
        return self.feed.analyser.rows[:, list(self.columns)]

    def sample(self, times: np.ndarray) -> np.ndarray:
        self.feed.update()
        a = self.feed.analyser
        rows = a.rows
        return rows_at(rows, self.fps, times, first=a.first)[:, list(self.columns)] \
            if len(rows) else np.zeros((len(np.atleast_1d(times)), self.dims), np.float32)

    def column(self, name: str) -> "LiveTimeline":
        return LiveTimeline(self.feed, (self.columns[self.names.index(name)],))

    def take(self, names: tuple[str, ...]) -> "LiveTimeline":
        return LiveTimeline(self.feed, tuple(self.columns[self.names.index(n)] for n in names))
