"""One module per ``afx`` sub-command; each exposes ``register(subparsers)``.

``afx COMMAND`` imports the module of that command only: ``afx validate`` does not pay for the
benchmark's or the renderer's imports. The other commands stay on the command line as names
with their one line of help (``afx --help``, "invalid choice" messages), from the table below;
tests/test_cli_engine.py checks that each line is the one its module registers."""
from __future__ import annotations

import importlib

# name -> (module, its register function, the help line afx --help shows), in --help's order
COMMANDS = {
    "run": ("run", "register", "render a patch to video (or frames)"),
    "edit": ("edit", "register", "open the node editor (live preview, save, render)"),
    "validate": ("validate", "register", "check patch files without rendering"),
    "nodes": ("info", "register_nodes", "list node types, or describe one"),
    "schema": ("info", "register_schema", "print a JSON Schema of the patch format"),
    "models": ("models", "register", "list the embedding models' weight files (or fetch them)"),
    "bench": ("bench", "register", "measure render speed on this machine"),
    "gallery": ("gallery", "register", "render a contact sheet of example patches"),
    "analyze": ("analyze", "register",
                "how strongly a video's picture follows its music, and its look"),
    "fit": ("fit", "register", "fit a look (a neural field) to your images, for field.look"),
    "verify": ("verify", "register", "compare a patch's frames with its golden frames"),
    "pack": ("pack", "register", "put a patch and the files it reads into one .afxpack file"),
    "unpack": ("pack", "register", "unpack an .afxpack bundle into a new folder"),
    "extract": ("extract", "register", "take the patch out of a render (MP4 or PNG)"),
    "sweep": ("sweep", "register", "render a patch for every combination of parameter values, "
                                   "with a contact sheet and a web page"),
    "batch": ("batch", "register", "render a patch once per song: one video each (an album)"),
    "examples": ("examples", "register", "list the example patches, or copy them into a folder"),
    "live": ("live", "register", "play a patch live from a microphone, a line-in or its own "
                                 "music, on a show window"),
    "devices": ("devices", "register", "list the audio inputs a live patch can capture from "
                                       "(microphones, line-ins, monitors)"),
}


def register(sub, only: str | None = None) -> None:
    """Add every command to ``sub`` (argparse sub-parsers): fully, or only ``only`` fully
    and the others by name and help."""
    wanted = COMMANDS[only][:2] if only in COMMANDS else None
    for name, (module, function, help_line) in COMMANDS.items():
        if name in sub.choices:
            continue                        # registered with another (pack and unpack)
        if only is None or (module, function) == wanted:
            getattr(importlib.import_module(f"{__name__}.{module}"), function)(sub)
        else:
            sub.add_parser(name, help=help_line, add_help=False)
