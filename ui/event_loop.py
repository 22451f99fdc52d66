"""The event loop of ``afx edit``: draw a frame, run the callbacks it queued, bring the window
up to date, then sleep what is left of the frame's time.

Dear PyGui runs with manual callback management: its callbacks are queued while a frame is
drawn and run here, on the UI thread, after it. A callback takes up to three arguments
(sender, app_data, user_data); :func:`call` passes as many as it declares, as Dear PyGui's
own runner does, and an exception in one is reported without taking the editor down.
"""
from __future__ import annotations

import functools
import time
import traceback

import dearpygui.dearpygui as dpg

FRAME_SECONDS = 1 / 60          # UI frame rate while the user works,
PLAY_FRAME_SECONDS = 1 / 30     # while the preview plays on its own,
IDLE_FRAME_SECONDS = 1 / 20     # and while nothing happens (leaves the CPU to the preview)
SLOW_FRAME = 0.025              # a frame this slow to draw means software OpenGL
QUIET_AFTER = 1.0               # seconds without input before the loop slows down


def arity(fn) -> int:
    """How many of (sender, app_data, user_data) a callback takes."""
    if isinstance(fn, functools.partial):
        return max(0, arity(fn.func) - len(fn.args))
    code = getattr(fn, "__code__", None)
    if code is None:
        return 3                # a builtin or a callable object: give it everything
    if code.co_flags & 0x04:    # *args
        return 3
    return code.co_argcount - (1 if hasattr(fn, "__self__") else 0)


def call(fn, sender=None, app_data=None, user_data=None) -> None:
    fn(*(sender, app_data, user_data)[:arity(fn)])


def dispatch(jobs, on_error) -> bool:
    """Run the queued callbacks; returns whether there were any."""
    for job in jobs or ():
        fn = job[0]
        if fn is None:
            continue
        try:
            call(fn, *job[1:4])
        except Exception as e:       # a bug in a callback must not take the editor down
            on_error(e)
    return bool(jobs)


def report(app, e: Exception) -> None:
    """An exception inside the editor: kept for tests, printed, shown, the work autosaved."""
    app.callback_errors.append(traceback.format_exc())
    traceback.print_exc()
    app.status(f"internal error: {type(e).__name__}: {e}", "error")
    try:
        app.controller.autosave()
    except Exception:
        pass


def frame_time(since_input: float, playing: bool, cost: float) -> float:
    """How long to sleep after a frame that took ``cost`` seconds to draw."""
    frame = (FRAME_SECONDS if since_input < QUIET_AFTER else
             PLAY_FRAME_SECONDS if playing else IDLE_FRAME_SECONDS)
    spare = frame - cost
    if cost > SLOW_FRAME and since_input >= QUIET_AFTER:
        spare = max(spare, cost)        # software GL: leave at least half the CPU to the preview
    return max(0.0, spare)


def run(app) -> int:
    """Frames until the user quits; the work is autosaved if anything goes wrong."""
    app.running = True
    last_input, last_mouse = 0.0, None
    try:
        while app.running and dpg.is_dearpygui_running():
            t0 = time.perf_counter()
            ran = app.step(1)
            mouse = dpg.get_mouse_pos(local=False)
            if (mouse != last_mouse or ran or dpg.is_mouse_button_down(0)
                    or dpg.is_mouse_button_down(1) or dpg.is_mouse_button_down(2)):
                last_input, last_mouse = t0, mouse
            spare = frame_time(t0 - last_input, app.worker.clock.playing, time.perf_counter() - t0)
            if spare > 0:
                time.sleep(spare)
    except BaseException:
        app.controller.autosave()          # never lose work to a crash
        raise
    finally:
        app.shutdown()
    return 0
