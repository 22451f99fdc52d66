"""Sinks: MP4 video with the source audio, and PNG frame sequences.

Both write to a temporary name beside the target and rename at the end, so a failed or
interrupted render never leaves a half-written file at the final path, and both refuse to
replace an existing file unless the render was started with ``--force``. Encoding runs in a
worker thread fed through a bounded queue: rendering and encoding overlap, and no more than a
few batches of frames are ever held in memory.
"""
from __future__ import annotations

import shutil
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from afx_graph import AUDIO, IMAGE, In, Out, Param, node
from afx_graph.sharing import embedded
from afx_graph.media import files
from afx_graph.errors import NodeInputError
from afx_graph.media.png import text_chunk, write_png
from afx_graph.media.video import PRESETS, AudioTrack, EncoderThread, nvenc_problem, pick_codec, to_uint8


@node("output.video", category="Output", rate="frame", sink=True)
class VideoOut:
    """Video file (MP4)

    H.264 yuv420p with the source audio as AAC. Plays in browsers and QuickTime (index at the front of the file). Odd sizes are padded by
    one pixel, as yuv420p needs even sizes. The file carries its patch (afx extract)."""

    image = In(IMAGE)
    audio = In(AUDIO, optional=True, doc="muxed into the file (the part the video covers)")
    path = Param(str, "out/video.mp4", kind="output", doc="where to write the MP4")
    crf = Param(int, 18, min=0, max=51, linkable=False,
                doc="quality: lower is better and larger (18 looks lossless)")
    preset = Param(str, "medium", choices=PRESETS, doc="x264 speed/size trade-off")
    codec = Param(str, "auto", choices=("auto", "libx264", "h264_nvenc"),
                  doc="auto: NVENC on a CUDA machine that has it, else libx264")

    def begin(self, ctx):
        self._out = self._encoder = None
        self._created: list[Path] = []          # folders this render made (removed on failure)

    def process(self, ctx, image, audio, path, crf, preset, codec):
        if self._out is None:
            self._open(ctx, image, audio, Path(path), crf, preset, codec)
        frames = to_uint8(image)
        if frames.shape[0] == 1 and ctx.batch > 1:   # a still image: repeat it
            frames = np.repeat(frames, ctx.batch, axis=0)
        with files.writing(self._final):
            self._encoder.put(frames)
        return {}

    def _open(self, ctx, image, audio, path, crf, preset, codec):
        files.check_target(path, overwrite=ctx.overwrite)
        name = pick_codec(codec, ctx.device)
        if name == "h264_nvenc" and ctx.device.type != "cuda":
            raise NodeInputError(f"the h264_nvenc encoder needs an NVIDIA GPU, and this render "
                                 f"runs on {ctx.device.type} (use codec auto or libx264)",
                                 field="codec")
        if name == "h264_nvenc" and nvenc_problem():
            raise NodeInputError(f"{nvenc_problem()}; use codec auto or libx264", field="codec")
        with files.writing(path):
            self._created = files.make_folders(path.parent)
            files.remove_stale_partials(path)
            self._final, self._tmp = path, files.partial_path(path)
            # use_metadata_tags: the mp4 muxer writes a custom key (the patch) only with it
            self._container = av.open(str(self._tmp), "w", format="mp4",
                                      options={"movflags": "+faststart+use_metadata_tags"})
            text = embedded.text_for(ctx)
            if text is not None:
                self._container.metadata[embedded.KEY] = text
        self._out = path          # from here on, abort() removes the partial file
        h, w = image.shape[1], image.shape[2]
        self._pad = (h % 2, w % 2)
        rate = Fraction(ctx.fps).limit_denominator(1001)
        try:
            stream = self._container.add_stream(name, rate=rate)
        except (av.error.FFmpegError, ValueError) as e:
            if codec != "auto":
                raise NodeInputError(f"video encoder {name} cannot be used here ({e})",
                                     field="codec") from None
            name, stream = "libx264", self._container.add_stream("libx264", rate=rate)
        stream.width, stream.height = w + self._pad[1], h + self._pad[0]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / rate
        if name == "libx264":
            stream.options = {"crf": str(crf), "preset": preset}
        else:
            stream.options = {"cq": str(crf), "preset": "p5"}
        self._stream, self._rate = stream, rate
        self._duration = (ctx.total_frames or 0) / ctx.fps
        self._audio = AudioTrack(self._container, audio, ctx.settings.start, self._duration) \
            if audio is not None else None
        self._written = 0
        self._encoder = EncoderThread(self._encode, "afx-video-encoder")

    def _encode(self, frames: np.ndarray) -> None:
        if any(self._pad):
            frames = np.pad(frames, ((0, 0), (0, self._pad[0]), (0, self._pad[1]), (0, 0)),
                            mode="edge")
        for f in frames:
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = self._written
            vf.time_base = 1 / self._rate
            self._written += 1
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
        if self._audio is not None:
            self._audio.encode_until(self._written / float(self._rate))

    def finish(self, ctx):
        if self._out is None:
            return {}
        t0 = time.perf_counter()
        with files.writing(self._final):
            self._encoder.close()
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            if self._audio is not None:
                self._audio.encode_until(None)
            self._container.close()
            files.commit_file(self._tmp, self._final, overwrite=ctx.overwrite)
        self._out = None
        return {"path": str(self._final), "frames": self._written,
                "encode_seconds": self._encoder.busy_seconds,
                "wait_seconds": time.perf_counter() - t0}

    def abort(self, ctx):
        if self._out is None:
            files.remove_created_folders(self._created)
            return
        encoder = getattr(self, "_encoder", None)
        try:
            if encoder is not None:
                encoder.close()
        except BaseException:
            pass
        try:
            self._container.close()
        except Exception:
            pass
        try:
            self._tmp.unlink(missing_ok=True)
        except OSError:
            pass
        files.remove_created_folders(self._created)
        self._out = None


@node("output.frames", category="Output", rate="frame", sink=True)
class FramesOut:
    """PNG frames

    An image sequence (frame_000000.png, ...) written into a folder; each frame carries its
    patch (afx extract)."""

    image = In(IMAGE)
    path = Param(str, "out/frames", kind="output", folder=True,
                 doc="folder to write the PNG files into (created by the render)")
    every = Param(int, 1, min=1, max=10000, linkable=False, doc="keep every n-th frame")

    def begin(self, ctx):
        self._dir = None
        self._created: list[Path] = []

    def process(self, ctx, image, path, every):
        if self._dir is None:
            final = Path(path)
            files.check_target(final, overwrite=ctx.overwrite, folder=True)
            with files.writing(final):
                self._created = files.make_folders(final.parent)
                files.remove_stale_partials(final)
                tmp = files.partial_path(final)
                tmp.mkdir()
            self._final, self._dir = final, tmp
            self._every, self._count = every, 0
            text = embedded.text_for(ctx)        # every frame carries the patch
            self._chunk = text_chunk(embedded.KEY, text) if text is not None else b""
            self._encoder = EncoderThread(self._write, "afx-png-writer")
        frames = to_uint8(image)
        if frames.shape[0] == 1 and ctx.batch > 1:
            frames = np.repeat(frames, ctx.batch, axis=0)
        keep = [(int(i), f) for i, f in zip(ctx.frames, frames) if i % self._every == 0]
        if keep:
            with files.writing(self._final):
                self._encoder.put(keep)
        return {}

    def _write(self, frames) -> None:
        for index, f in frames:
            write_png(self._dir / f"frame_{index:06d}.png", f, self._chunk)
            self._count += 1

    def finish(self, ctx):
        if self._dir is None:
            return {}
        with files.writing(self._final):
            self._encoder.close()
            files.commit_folder(self._dir, self._final, overwrite=ctx.overwrite)
        self._dir = None
        return {"path": str(self._final), "frames": self._count,
                "encode_seconds": self._encoder.busy_seconds}

    def abort(self, ctx):
        if self._dir is not None:
            try:
                self._encoder.close()
            except BaseException:
                pass
            if files.foreign_entry(self._dir) is None:     # only ever our own frames
                shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        files.remove_created_folders(self._created)


NODES = [VideoOut, FramesOut]
