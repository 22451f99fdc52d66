"""``afx batch PATCH SONG... -o DIR``: one video per song (an album), each ``afx run PATCH
--audio SONG``, in this process or over Ray (one task per song).

Videos already in DIR are kept, not rendered again: an album is long, and a rerun after a
crash or Ctrl+C goes on where it stopped; nothing is ever overwritten without ``--force``
(which renders them all again)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from afx_graph.run import drive
from afx_graph.media import files
from afx_graph.errors import AfxError, escape_controls
from afx_graph.run.jobs import Job, JobResult
from afx_graph.run.render import audio_sources, set_output, typed_path
from afx_graph.commands.options import RAY_JOBS_HELP, add_render_options


def register(sub) -> None:
    p = sub.add_parser(
        "batch", help="render a patch once per song: one video each (an album)",
        description="Render PATCH with each SONG as its audio (afx run PATCH --audio SONG) "
                    "into DIR/<song name>.mp4. Videos already there are kept, so a rerun goes "
                    "on where a stopped batch left off; --force renders them again.")
    p.add_argument("patch", metavar="PATCH")
    p.add_argument("songs", nargs="+", metavar="SONG", help="audio files, one video each")
    p.add_argument("-o", "--output", metavar="DIR", required=True,
                   help="the folder the videos go to (made if missing)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override a parameter in every video (repeatable)")
    add_render_options(p, ray=RAY_JOBS_HELP, duration=True,
                             force="render every song again, replacing its video")
    p.set_defaults(func=run)


def video_names(songs: list[str]) -> list[str]:
    """``<stem>.mp4`` per song (a control or invisible character in it as ``_``); a stem met
    again (or differing only in case, which some file systems do not tell apart) gets ``-2``,
    ``-3``... in the order the songs were given."""
    taken, names = set(), []
    for song in songs:
        stem = "".join(ch if escape_controls(ch) == ch else "_"      # no control characters
                       for ch in Path(song).stem.lstrip(".")) or "song"
        name, k = f"{stem}.mp4", 1
        while name.casefold() in taken:
            k += 1
            name = f"{stem}-{k}.mp4"
        taken.add(name.casefold())
        names.append(name)
    return names


def song_graph(base, args, song: str):
    try:
        g = drive.apply_run_options(base, args, audio=song, sets=args.sets)
    except AfxError as e:
        if e.issue.field == "--audio":
            raise AfxError(e.issue.message, file=e.issue.file, field="SONG") from None
        raise
    return g


def run(args) -> int:
    from afx_graph.sharing.bundle import opened_bundle
    drive.check_ray(args.ray)
    with opened_bundle(args.patch) as args.patch:
        return batch(args)


def batch(args) -> int:
    base = drive.load_base(args.patch, audio_given=True)
    sources = audio_sources(base)
    if len(sources) != 1:
        has = f"{len(sources)} ({', '.join(sources)})" if sources else "none"
        raise AfxError(f"afx batch feeds each SONG into the patch's audio source, and the "
                       f"patch has {has}; give it one (an audio.file or audio.synth node)",
                       file=base.file, field="SONG")
    songs, seen = [], set()
    for song in args.songs:
        real = os.path.realpath(typed_path(song, "SONG"))
        if real in seen:
            print(f"warning: {escape_controls(song)} is given twice; it is rendered once",
                  file=sys.stderr)
            continue
        seen.add(real)
        songs.append(song)
    graphs = [song_graph(base, args, s) for s in songs]   # every song checked before any work
    for g in graphs:
        drive.check_graph(g)
    try:
        set_output(graphs[0].copy(), os.path.join(os.getcwd(), "song.mp4"))
    except AfxError as e:
        raise AfxError(e.issue.message.replace("-o needs", "afx batch needs"),
                       file=base.file, field="output") from None
    out = drive.output_folder(args.output)
    targets = [out / name for name in video_names(songs)]
    for t in targets:
        problem = files.target_problem(t, folder=False)
        if problem:
            raise AfxError(f"cannot write {t}: {problem}", field="-o")
    files.make_folders(out)
    say = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    n = len(songs)
    jobs, kept = [], []
    for i, (song, g, t) in enumerate(zip(songs, graphs, targets), 1):
        files.remove_stale_partials(t)
        if os.path.lexists(t) and not args.force:
            kept.append(i)
            say(f"song {i}/{n} {escape_controls(song)}: {escape_controls(str(t))} is already "
                "there, kept (--force renders it again)")
            continue
        jobs.append(Job(key=str(i), patch=drive.patch_text(g), base_dir=str(g.base_dir),
                        kind="video", options=drive.job_options(args)))
    fps = {str(i): g.render_settings().fps for i, g in enumerate(graphs, 1)}
    results: list[JobResult] = []
    t0 = time.perf_counter()

    def done(job: Job, result: JobResult) -> None:
        i = int(job.key)
        song, target = escape_controls(songs[i - 1]), targets[i - 1]
        results.append(result)
        if result.error is None:
            try:
                drive.write_result(result, target, overwrite=args.force)
            except AfxError as e:
                result.error = e.issue.message
        if result.error is None:
            say(f"song {i}/{n} {song}: wrote {escape_controls(str(target))}: {result.frames} "
                f"frames, {result.frames / fps[job.key]:.2f} s of video in "
                f"{result.seconds:.1f} s")
        else:
            text = drive.job_error(result, job.base_dir, args.patch)
            print(f"{'internal error' if result.internal else 'error'}: song {i}/{n} {song}: "
                  f"{escape_controls(text)}", file=sys.stderr, flush=True)

    drive.run_jobs(args, jobs, done)
    failed = sum(r.error is not None for r in results)
    if not args.quiet:
        where = "ray" if args.ray is not None else "in-process"
        print(f"batch of {n} song{'s' * (n != 1)} in {time.perf_counter() - t0:.1f} s "
              f"({where}): {len(results) - failed} rendered, {len(kept)} kept, {failed} failed")
    return drive.exit_code(results)
