"""The ``afx`` command line (DESIGN.md section 5).

Exit codes: 0 done; 2 bad input (patch, audio, arguments) or the machine's refusal (disk full,
read-only folder, out of memory) with ``error:`` lines naming the file, node and field; 1 an
internal fault; 128 + the signal when interrupted (130 Ctrl+C, 143 SIGTERM, 129 SIGHUP). No
traceback unless ``--debug``.
"""
from __future__ import annotations

# Only what the signal handlers need is imported up front: everything else loads after they
# are installed, so Ctrl+C while afx starts is handled like any other.
import os
import signal
import sys

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser(only: str | None = None):
    """The argument parser: every command in full, or (``only``) that command in full and
    the others by name (only its module is imported)."""
    import argparse

    from afx_graph import commands
    from afx_graph.errors import AfxError

    class _Parser(argparse.ArgumentParser):
        def error(self, message):  # argparse's errors are bad input too: exit 2, one line
            self.print_usage(sys.stderr)
            raise AfxError(message)

    p = _Parser(prog="afx", description="Node-graph tool for audio-reactive neural visuals.")
    p.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    commands.register(sub, only)
    return p


def command_of(argv) -> str | None:
    """The command an ``afx`` command line names (its first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def command_parser(parser, name: str):
    """The sub-parser of the command ``name`` (None if there is none)."""
    import argparse
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


def _options(parser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def check_outputs(parser, args) -> None:
    """Every command's ``-o`` is checked as typed, here, once for all commands
    (paths.typed_output: not empty, not '-', no control characters, ``~`` expanded); each
    command then checks the path on disk for what it writes (a file or a folder)."""
    from afx_graph.media.paths import typed_output

    sub = command_parser(parser, getattr(args, "command", None) or "")
    for action in sub._actions if sub is not None else ():
        if "-o" in action.option_strings:
            value = getattr(args, action.dest, None)
            if isinstance(value, str):
                setattr(args, action.dest, typed_output(value, "-o"))


# What to make smaller when memory runs out, by option; only the options the command has are
# named.
_MEMORY_OPTIONS = (("--size", "a smaller --size"), ("--batch", "a smaller --batch"),
                   ("--duration", "a shorter --duration"), ("--seconds", "a shorter --seconds"))


def memory_advice(argv) -> str:
    """The out-of-memory message for the command line ``argv`` (or a command's name): it
    names only options that command has (afx analyze has --seconds, not --size)."""
    name = argv if isinstance(argv, str) else command_of(argv) or ""
    try:
        sub = command_parser(build_parser(name), name)
    except Exception:         # noqa: BLE001 (a message while memory is short: never fail)
        sub = None
    has = _options(sub) if sub is not None else set()
    tips = [tip for option, tip in _MEMORY_OPTIONS if option in has]
    if not tips:
        return "out of memory"
    tips = tips[0] if len(tips) == 1 else f"{', '.join(tips[:-1])} or {tips[-1]}"
    return f"out of memory; try {tips}"


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl+C: outputs abort and remove their partial files."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):
    for sig in _SIGNALS:            # cleanup runs once, undisturbed by a second signal
        signal.signal(sig, signal.SIG_IGN)
    if _importing(frame):
        # Raising inside an import can cross torch's C++ (pybind11) and abort the process
        # with "terminate called" (seen in CI: Ctrl+C 0.4 s after start). An import writes
        # none of the user's files, so leaving at once loses nothing; the temporary folders
        # in use (a sweep's cell, rendering while its nodes import) are removed first.
        scratch = sys.modules.get("afx_graph.media.scratch")
        if scratch is not None:
            scratch.remove_all()
        os.write(2, f"\ninterrupted ({signal.Signals(signum).name})\n".encode())
        os._exit(128 + int(signum))
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(signum)


def _importing(frame) -> bool:
    """Whether the interrupted code is running a module's import."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


def _install_signal_handlers() -> dict:
    """Handle SIGINT, SIGTERM and SIGHUP alike; returns the handlers to restore."""
    old = {}
    for sig in _SIGNALS:
        try:
            prev = signal.getsignal(sig)
            if prev is not signal.SIG_IGN:       # nohup's choice stands
                signal.signal(sig, _on_signal)
                old[sig] = prev
        except (ValueError, OSError):       # not the main thread (tests calling main())
            break
    return old


def _restore_signal_handlers(old: dict) -> None:
    for sig, handler in old.items():
        try:
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        except (ValueError, OSError):
            pass


def main(argv: list[str] | None = None) -> int:
    """The ``afx`` command (``argv`` None: the process's own arguments, as the entry point
    calls it; given: a call inside a program or a test, whose signal handlers come back)."""
    entry = argv is None
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    handlers = _install_signal_handlers()
    code = 1
    try:
        code = _main(argv, debug)
        return code
    finally:
        if entry:
            _leave_on_signal(handlers, code)
        else:
            _restore_signal_handlers(handlers)


def _leave_on_signal(handlers: dict, code: int) -> None:
    """The command is over (its files written or removed): a signal that lands while the
    interpreter shuts down (torch's and the thread pools' teardown take a moment) ends the
    process with the command's own exit code, not as killed by the signal. Python puts back
    the default action of every signal it handles when it finalises, so from the last exit
    hook on those signals are ignored: the process ends a moment later all the same."""
    import atexit

    def ignore():
        for sig in handlers:
            try:
                signal.signal(sig, signal.SIG_IGN)
            except (ValueError, OSError):
                pass

    def leave(signum, frame):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    for sig in handlers:
        try:
            signal.signal(sig, leave)
        except (ValueError, OSError):
            pass
    atexit.register(ignore)           # registered last: runs first


def _interrupted(e: KeyboardInterrupt) -> int:
    signum = getattr(e, "signum", signal.SIGINT)
    print(f"\ninterrupted ({signal.Signals(signum).name})", file=sys.stderr)
    return 128 + int(signum)


def _main(argv: list[str], debug: bool) -> int:
    try:
        import traceback

        from afx_graph.errors import AfxError, NodeCrash, escape_controls
        from afx_graph.media.files import environment_reason
    except KeyboardInterrupt as e:
        return _interrupted(e)
    try:        # --debug is taken anywhere: `afx run p.yaml --debug` as `afx --debug run ...`
        argv = [a for a in argv if a != "--debug"]
        parser = build_parser(command_of(argv))
        args = parser.parse_args(argv)
        check_outputs(parser, args)
        return int(args.func(args) or 0)
    except AfxError as e:
        for line in e.lines:
            print(f"error: {line}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as e:
        return _interrupted(e)
    except BrokenPipeError:
        return EXIT_OK
    except NodeCrash as e:
        print(f"internal error: {escape_controls(str(e))} (run with --debug for the traceback)",
              file=sys.stderr)
        if debug:
            traceback.print_exception(e.cause)
        return EXIT_INTERNAL
    except MemoryError:
        print(f"error: {memory_advice(argv)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        reason = environment_reason(e)
        if reason is None:
            return _internal(e, debug)
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"error: {escape_controls(where)}{reason}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_BAD_INPUT
    except Exception as e:  # an internal fault: say so briefly, trace only on request
        return _internal(e, debug)


def _internal(e: BaseException, debug: bool) -> int:
    import traceback

    from afx_graph.errors import escape_controls
    print(f"internal error: {type(e).__name__}: {escape_controls(str(e))} (run with --debug for "
          "the traceback)", file=sys.stderr)
    if debug:
        traceback.print_exc()
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
