"""``afx live PATCH``: play a patch as the sound arrives, on a show window (no editor)."""
from __future__ import annotations

import sys
import time

from afx_graph.commands.options import number, parse_size, whole
from afx_graph.errors import AfxError, escape_controls
from afx_graph.graph import Graph
from afx_graph.registry import default_registry
from afx_graph.settings import MAX_FPS
from afx_graph.sharing.opening import load_patch

HELP = "play a patch live from a microphone, a line-in or its own music, on a show window"


def register(sub) -> None:
    p = sub.add_parser("live", help=HELP, description=HELP + ". The feature nodes analyse the "
                       "sound as it arrives (only past audio: afx run --causal renders the same "
                       "way from a file). Keys: T or Space tap tempo, F full screen, O overlay, "
                       "L latency test, Q or Esc quit.")
    p.add_argument("patch", metavar="PATCH")
    p.add_argument("--input", nargs="?", const="default", metavar="DEVICE",
                   help="capture this input (afx devices lists them; no value: the default) "
                        "in place of the patch's audio file or synth")
    p.add_argument("--screen", type=whole("--screen", 0, 16), default=0,
                   metavar="N", help="open on monitor N (0: the first)")
    p.add_argument("--fullscreen", action="store_true")
    p.add_argument("--size", type=parse_size, metavar="WxH",
                   help="frame size (default: the patch's)")
    p.add_argument("--fps", type=number("--fps", 1, MAX_FPS), metavar="N")
    p.add_argument("--offset", type=number("--offset", -200, 500, unit="ms"),
                   default=0.0, metavar="MS",
                   help="milliseconds the pictures wait for the sound (a room whose speakers "
                        "are late); negative: beats are shown that much early")
    p.add_argument("--no-sound", action="store_true",
                   help="do not play a patch's file or synth through the speakers")
    p.add_argument("--seconds", type=number("--seconds", 0, 86400, above=True), metavar="S",
                   help="stop after this long")
    p.add_argument("--headless", action="store_true",
                   help="no window: print the overlay's figures once a second (a benchmark, "
                        "a test, a machine with no display)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    p.set_defaults(func=run)


def run(args) -> int:
    from afx_graph.run.live import LiveShow
    graph = Graph.from_patch(load_patch(args.patch), default_registry())
    offset = args.offset / 1000.0
    show = LiveShow(graph, input=args.input, size=args.size, fps=args.fps, device=args.device,
                    precision=args.precision, sound=not args.no_sound, offset=offset)
    stop_at = None if args.seconds is None else time.perf_counter() + args.seconds
    if args.headless:
        return _headless(show, stop_at)
    try:
        from afx_graph.ui.show import ShowWindow
        window = ShowWindow(show, size=args.size or (1280, 720), fullscreen=args.fullscreen,
                            screen=args.screen)
    except Exception as e:      # noqa: BLE001 (Dear PyGui raises plain Exceptions)
        show.close()
        raise AfxError(f"cannot open the show window ({e}); --headless plays without one")
    try:
        while window.step():
            if stop_at is not None and time.perf_counter() >= stop_at:
                break
    finally:
        window.close()
    _summary(show)
    return 0


def _headless(show, stop_at) -> int:
    last = time.perf_counter()
    try:
        while stop_at is None or time.perf_counter() < stop_at:
            show.next_frame(wait=0.05)
            if time.perf_counter() - last >= 1.0:
                last = time.perf_counter()
                _status(show)
            if show.ended:
                break
    finally:
        show.close()
    _summary(show)
    return 0


def _status(show) -> None:
    p50, p95 = show.latency()
    lat = "" if p50 is None else f"  latency {p50 * 1000:.0f} ms (p95 {p95 * 1000:.0f})"
    print(f"{show.clock:7.1f} s  frame {show.last}  level {show.level:.2f}  "
          f"tempo {show.tempo():.1f}{lat}", flush=True)
    for w in show.warnings:
        print(f"warning: {escape_controls(w)}", file=sys.stderr, flush=True)


def _summary(show) -> None:
    p50, p95 = show.latency()
    lat = "no latency measured" if p50 is None else \
        f"latency p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    print(f"shown {show.shown} frames over {show.clock:.1f} s of sound; {lat}; "
          f"input overflows {show.overflows}", flush=True)
