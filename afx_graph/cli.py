"""The ``afx`` command line (DESIGN.md section 5).

Exit codes: 0 done; 2 bad input (patch, audio, arguments) with ``error:`` lines naming the
file, node and field; 1 an internal fault; 130 interrupted. No traceback unless ``--debug``.
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback

from .errors import AfxError, NodeCrash

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors are bad input too: exit 2, one line
        self.print_usage(sys.stderr)
        raise AfxError(message)


def build_parser() -> argparse.ArgumentParser:
    from . import commands

    p = _Parser(prog="afx", description="Node-graph tool for audio-reactive neural visuals.")
    p.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for register in commands.ALL:
        register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except AfxError as e:
        for line in e.lines:
            print(f"error: {line}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except NodeCrash as e:
        print(f"internal error: {e} (run with --debug for the traceback)", file=sys.stderr)
        if debug:
            traceback.print_exception(e.cause)
        return EXIT_INTERNAL
    except Exception as e:  # an internal fault: say so briefly, trace only on request
        print(f"internal error: {type(e).__name__}: {e} (run with --debug for the traceback)",
              file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
