"""Render... (Ctrl+R): the output file, its size, frame rate, start and length, its quality,
and a queue of renders that run one after another on a thread of their own while the editing
goes on. Each render is a snapshot of the patch as it was queued, rendered by the code path
of ``afx run`` (:func:`~afx_graph.run.render.render_graph`)."""
from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import dearpygui.dearpygui as dpg

from afx_graph import AfxError, NodeCrash
from afx_graph.run.render import RunOptions, render_graph

from afx_graph.ui.panels import center
from afx_graph.ui.theme import ERROR, MUTED, OK

RENDER = "afx.render"
QUEUE = f"{RENDER}.queue"
TEXT_INPUTS = {f"{RENDER}.{k}" for k in ("out", "size", "fps", "start", "duration")}
W, H = 560, 420
# quality: (label, crf, preset) set on the patch's video output; None keeps the patch's own
QUALITIES = {"as the patch": None, "draft (crf 28, veryfast)": (28, "veryfast"),
             "high (crf 18, slow)": (18, "slow"), "master (crf 12, slower)": (12, "slower")}


@dataclass
class Job:
    """One render in the queue."""
    label: str
    graph: object                      # the patch as it was queued
    opts: RunOptions
    state: str = "queued"              # queued | rendering | done | failed | stopped
    progress: tuple = (0, 1, 0.0)      # (frames done, total, fps)
    message: str = ""
    outputs: list = field(default_factory=list)


class RenderDialog:
    def __init__(self, app):
        self.app = app
        self.jobs: list[Job] = []
        self.thread: threading.Thread | None = None
        self.cancel = False
        self._lock = threading.Lock()
        self._shown_rows: tuple = ()
        self._reported: set[int] = set()
        with dpg.window(tag=RENDER, label="Render", show=False, width=W, height=H, no_collapse=True):
            dpg.add_text("Renders the whole patch with the music, like `afx run`. Renders wait "
                         "in a queue and run while you edit.", color=MUTED, wrap=W - 20)
            with dpg.group(horizontal=True):
                dpg.add_text("output  ")
                dpg.add_input_text(tag=f"{RENDER}.out", width=W - 140)
                dpg.add_button(label="...", width=28, callback=lambda: self.app.dialogs.show_render())
            with dpg.group(horizontal=True):
                dpg.add_text("size    ")
                dpg.add_input_intx(tag=f"{RENDER}.size", size=2, width=150, default_value=[640, 360, 0, 0])
                dpg.add_text("fps")
                dpg.add_input_float(tag=f"{RENDER}.fps", width=80, step=0, format="%.3g",
                                    default_value=30.0)
            with dpg.group(horizontal=True):
                dpg.add_text("from    ")
                dpg.add_input_float(tag=f"{RENDER}.start", width=80, step=0, format="%.2f",
                                    default_value=0.0)
                dpg.add_text("s   length")
                dpg.add_input_float(tag=f"{RENDER}.duration", width=80, step=0, format="%.2f",
                                    default_value=0.0)
                dpg.add_text("s (0: to the end)", color=MUTED)
            with dpg.group(horizontal=True):
                dpg.add_text("quality ")
                dpg.add_combo(list(QUALITIES), tag=f"{RENDER}.quality", width=230,
                              default_value="as the patch")
                dpg.add_checkbox(label="overwrite", tag=f"{RENDER}.force")
            with dpg.group(horizontal=True):
                dpg.add_button(label="Render", tag=f"{RENDER}.go", width=100, callback=lambda: self.start())
                dpg.bind_item_theme(f"{RENDER}.go", "afx.theme.accent_button")
                dpg.add_button(label="Stop", tag=f"{RENDER}.stop", width=100, callback=lambda: self.stop(),
                               enabled=False)
                dpg.add_button(label="Clear finished", width=110, callback=lambda: self.clear_finished())
                dpg.add_button(label="Close", width=80,
                               callback=lambda: dpg.configure_item(RENDER, show=False))
            dpg.add_progress_bar(tag=f"{RENDER}.bar", width=-1, default_value=0.0, overlay="")
            dpg.add_text("", tag=f"{RENDER}.msg", wrap=W - 20)
            dpg.add_text("Queue", color=MUTED)
            dpg.add_child_window(tag=QUEUE, height=-1, border=True)

    # -- the form ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def current(self) -> Job | None:
        return next((j for j in self.jobs if j.state == "rendering"), None)

    @property
    def last(self) -> Job | None:
        return self.jobs[-1] if self.jobs else None

    # what the last render gave (the tests' and the status bar's view of it)
    result = property(lambda self: self._last_of("done"))
    error = property(lambda self: self._last_of("failed"))
    stopped = property(lambda self: self._last_of("stopped"))

    def _last_of(self, state: str) -> str | None:
        j = self.last
        return j.message if j is not None and j.state == state else None

    def default_output(self) -> str:
        """The patch's own output path, where `afx run` would write it from here."""
        g = self.app.controller.graph
        outs = [(nid, name) for nid, n in g.nodes.items() if n.spec and n.spec.sink
                for name, p in n.spec.params.items() if p.kind == "output"]
        if len(outs) != 1:
            return ""
        nid, name = outs[0]
        value = g.nodes[nid].param(name)
        return str(Path(value) if Path(value).is_absolute() else Path.cwd() / value)

    def show(self) -> None:
        s = self.app.controller.graph.settings
        size = s.get("size") if isinstance(s.get("size"), list) and len(s["size"]) == 2 else [640, 360]
        dpg.set_value(f"{RENDER}.out", self.default_output())
        dpg.set_value(f"{RENDER}.size", [int(size[0]), int(size[1]), 0, 0])
        dpg.set_value(f"{RENDER}.fps", float(s.get("fps") or 30))
        dpg.set_value(f"{RENDER}.start", 0.0)
        dpg.set_value(f"{RENDER}.duration", float(s.get("duration") or 0.0))
        center(RENDER, W, H)
        dpg.configure_item(RENDER, show=True)

    def options(self, output: str | None = None, force: bool | None = None) -> RunOptions:
        """The form as `afx run` options (``output``/``force`` given: instead of the form's)."""
        out = output if output is not None else dpg.get_value(f"{RENDER}.out").strip()
        force = bool(dpg.get_value(f"{RENDER}.force")) if force is None else force
        w, h = (int(v) for v in dpg.get_value(f"{RENDER}.size")[:2])
        fps = float(dpg.get_value(f"{RENDER}.fps"))
        start = float(dpg.get_value(f"{RENDER}.start"))
        duration = float(dpg.get_value(f"{RENDER}.duration"))
        s = self.app.controller.graph.settings
        opts = RunOptions(output=out or None, force=force)
        if [w, h] != list(s.get("size") or [640, 360]):
            opts.size = (w, h)
        if fps != float(s.get("fps") or 30):
            opts.fps = fps
        if start > 0:
            opts.start = start
        if duration > 0 and duration != float(s.get("duration") or 0):
            opts.duration = duration
        quality = QUALITIES.get(dpg.get_value(f"{RENDER}.quality"))
        video = [nid for nid, n in self.app.controller.graph.nodes.items() if n.type == "output.video"]
        if quality is not None and len(video) == 1:
            opts.sets = [f"{video[0]}.crf={quality[0]}", f"{video[0]}.preset={quality[1]}"]
        return opts

    # -- the queue --------------------------------------------------------------------------
    def start(self, output: str | None = None, force: bool | None = None) -> bool:
        """Queue a render of the patch as it is now (it starts at once when none runs)."""
        graph = self.app.controller.graph.copy()      # the render's own snapshot
        graph.path = self.app.controller.graph.path
        opts = self.options(output, force)
        label = Path(opts.output).name if opts.output else "the patch's outputs"
        size = f"{opts.size[0]}x{opts.size[1]}" if opts.size else "x".join(
            map(str, graph.settings.get("size") or [640, 360]))
        job = Job(f"{label}  {size}", graph, opts)
        with self._lock:
            self.jobs.append(job)
        dpg.set_value(f"{RENDER}.msg", "queued" if self.busy else "preparing...")
        dpg.configure_item(f"{RENDER}.msg", color=MUTED)
        if not self.busy:
            self.thread = threading.Thread(target=self._work, name="afx-render", daemon=True)
            self.thread.start()
        return True

    def _work(self) -> None:
        while True:
            with self._lock:
                job = next((j for j in self.jobs if j.state == "queued"), None)
                if job is None:
                    return
                job.state = "rendering"
            self.cancel = False
            self._render(job)

    def _render(self, job: Job) -> None:
        def progress(p):
            job.progress = (p.done, p.total, p.fps)
        try:
            stats, outputs = render_graph(job.graph, job.opts, on_progress=progress,
                                          should_stop=lambda: self.cancel)
            job.outputs = outputs
            job.message = (f"wrote {', '.join(str(p) for p in outputs)}: {stats.frames} frames "
                           f"in {stats.elapsed:.1f} s ({stats.fps:.1f} fps)")
            job.state = "done"
        except KeyboardInterrupt:           # Stop: what the user asked for, not a failure
            job.message, job.state = "render stopped; nothing was written", "stopped"
        except AfxError as e:
            job.message, job.state = "\n".join(e.lines), "failed"
        except NodeCrash as e:
            job.message, job.state = f"internal error: {e}", "failed"
        except Exception as e:              # the editor (and the work in it) goes on
            traceback.print_exc()
            job.message, job.state = f"internal error: {type(e).__name__}: {e}", "failed"

    def stop(self) -> None:
        """Stop the render that runs (the queued ones stay)."""
        self.cancel = True

    def remove(self, index: int) -> None:
        with self._lock:
            if 0 <= index < len(self.jobs) and self.jobs[index].state == "queued":
                del self.jobs[index]

    def clear_finished(self) -> None:
        with self._lock:
            self.jobs = [j for j in self.jobs if j.state in ("queued", "rendering")]

    def wait(self, timeout: float = 120.0) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    # -- each UI frame ----------------------------------------------------------------------
    def update(self) -> None:
        job = self.current or self.last
        if job is None:
            return
        done, total, fps = job.progress
        dpg.set_value(f"{RENDER}.bar", done / max(total, 1))
        dpg.configure_item(f"{RENDER}.bar", overlay=f"{done}/{total} frames  {fps:.1f} fps")
        dpg.configure_item(f"{RENDER}.stop", enabled=self.busy)
        if job.state == "rendering" and done:
            dpg.set_value(f"{RENDER}.msg", "rendering...")
        self._report()
        self._draw_queue()

    def _report(self) -> None:
        """Each finished render, once: its outcome in the dialog and the status bar."""
        for i, job in enumerate(self.jobs):
            if job.state in ("queued", "rendering") or id(job) in self._reported:
                continue
            self._reported.add(id(job))
            color = {"done": OK, "failed": ERROR}.get(job.state, MUTED)
            dpg.set_value(f"{RENDER}.msg", job.message)
            dpg.configure_item(f"{RENDER}.msg", color=color)
            if job.state == "failed":
                self.app.status(f"render failed: {job.message.splitlines()[0]}", "error")
                self.app.controller.autosave()          # nothing lost when something fails
            else:
                self.app.status(job.message, "ok" if job.state == "done" else "info")

    def _draw_queue(self) -> None:
        rows = tuple((j.label, j.state, j.progress[0] * 100 // max(j.progress[1], 1))
                     for j in self.jobs)
        if rows == self._shown_rows:
            return
        self._shown_rows = rows
        dpg.delete_item(QUEUE, children_only=True)
        for i, (label, state, pct) in enumerate(rows):
            with dpg.group(horizontal=True, parent=QUEUE):
                color = {"done": OK, "failed": ERROR, "rendering": (230, 200, 90)}.get(state, MUTED)
                dpg.add_text(f"{state}{f' {pct}%' if state == 'rendering' else ''}", color=color)
                dpg.add_text(label)
                if state == "queued":
                    dpg.add_button(label="x", width=22, user_data=i,
                                   callback=lambda s, a, u: self.remove(u))
