"""Writing video: frames to uint8 on the host, the encoder thread, the AAC sound track that
goes with a video, and the choice of H.264 encoder. The engine's own (chunks of a split render,
afx verify) and the output nodes' (nodes/outputs.py), so neither reaches into the other."""
from __future__ import annotations

import functools
import queue
import threading
import time
from fractions import Fraction

import av
import numpy as np
import torch

QUEUE_BATCHES = 4
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
           "veryslow")


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(B, H, W, C) float on any device -> (B, H, W, 3) uint8 on the host, in one transfer."""
    img = image.detach()
    if img.shape[-1] == 1:
        img = img.expand(*img.shape[:-1], 3)
    img = torch.nan_to_num(img[..., :3].float(), nan=0.0).clamp_(0, 1).mul_(255).round_()
    return img.to(torch.uint8).cpu().numpy()


class EncoderThread:
    """Runs ``work(item)`` for each queued item on a worker thread; the queue is bounded so a
    fast renderer waits for a slow encoder instead of piling frames up in memory."""

    def __init__(self, work, name: str):
        self._work = work
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)
        self.error: BaseException | None = None
        self.busy_seconds = 0.0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.error is None:
                t0 = time.perf_counter()
                try:
                    self._work(item)
                except BaseException as e:  # reported on the render thread
                    self.error = e
                self.busy_seconds += time.perf_counter() - t0

    def put(self, item) -> None:
        self._raise()
        self._queue.put(item)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def _raise(self):
        if self.error is not None:
            raise self.error


class AudioTrack:
    """The part of the source audio that goes with the video, encoded to AAC bit by bit as
    the video advances, so the two streams stay interleaved in the file."""

    def __init__(self, container, audio, start: float, duration: float):
        samples = audio.stereo()                      # 5.1, 7.1: a stereo downmix plays anywhere
        a, n = int(round((start - audio.offset) * audio.sr)), int(round(duration * audio.sr))
        clip = samples[:, max(a, 0):max(a, 0) + n]
        if clip.shape[1] < n:                         # shorter than the video: pad with silence
            clip = np.pad(clip, ((0, 0), (0, n - clip.shape[1])))
        self.samples = np.ascontiguousarray(np.clip(clip, -1, 1), dtype=np.float32)
        self.sr = audio.sr
        self.layout = "mono" if self.samples.shape[0] == 1 else "stereo"
        rate = audio.sr if audio.sr in AAC_RATES else 48000
        self.stream = container.add_stream("aac", rate=rate)
        self.stream.layout = self.layout
        self.stream.bit_rate = 192_000
        self.resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=rate)
        self.container = container
        self.done = 0

    def encode_until(self, seconds: float | None) -> None:
        end = self.samples.shape[1] if seconds is None else min(self.samples.shape[1],
                                                                 int(round(seconds * self.sr)))
        step = 1024
        while self.done < end:
            chunk = self.samples[:, self.done:min(end, self.done + step)]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=self.layout)
            frame.sample_rate = self.sr
            frame.pts = self.done
            frame.time_base = Fraction(1, self.sr)
            self.done += chunk.shape[1]
            for rf in self.resampler.resample(frame):
                self._mux(rf)
        if seconds is None:
            for rf in self.resampler.resample(None):
                self._mux(rf)
            for packet in self.stream.encode(None):
                self.container.mux(packet)

    def _mux(self, frame):
        for packet in self.stream.encode(frame):
            self.container.mux(packet)


def pick_codec(choice: str, device: torch.device) -> str:
    if choice != "auto":
        return choice
    if device.type == "cuda" and not nvenc_problem():
        return "h264_nvenc"
    return "libx264"


@functools.lru_cache(maxsize=1)
def nvenc_problem() -> str:
    """'' when an NVENC encoder opens on this machine, else why not. PyAV's wheels list
    h264_nvenc on every machine, but it opens only where the NVIDIA driver's encoder library
    is (seen on an H100 machine without it: avcodec_open2 failed at the first frame)."""
    if "h264_nvenc" not in av.codecs_available:
        return "this PyAV has no h264_nvenc encoder"
    try:
        cc = av.CodecContext.create("h264_nvenc", "w")
        cc.width, cc.height, cc.pix_fmt = 256, 256, "yuv420p"
        cc.time_base = Fraction(1, 30)
        cc.open()
    except (av.error.FFmpegError, ValueError, OSError) as e:
        return f"the NVENC encoder does not open on this machine ({e})"
    return ""
