"""The screen's size in pixels, read before the window opens (no dearpygui: it has no monitor
query, and its viewport must be given a size when it is created).

Linux/X11 (XWayland included): Xlib through ctypes, else ``xdpyinfo``; Windows: user32.
None when it cannot be told (the caller then picks a size that fits common laptops).
An X screen spanning several monitors reports their union; the window manager then
keeps the window on one of them.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import sys


def screen_size() -> tuple[int, int] | None:
    if sys.platform.startswith("win"):
        try:
            u = ctypes.windll.user32
            u.SetProcessDPIAware()
            return int(u.GetSystemMetrics(0)), int(u.GetSystemMetrics(1))
        except Exception:
            return None
    if os.environ.get("DISPLAY"):
        return _xlib() or _xdpyinfo()
    return None


def _xlib() -> tuple[int, int] | None:
    name = ctypes.util.find_library("X11")
    if not name:
        return None
    try:
        x = ctypes.CDLL(name)
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultScreen.argtypes = [ctypes.c_void_p]
        x.XDisplayWidth.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        d = x.XOpenDisplay(None)
        if not d:
            return None
        try:
            s = x.XDefaultScreen(d)
            size = int(x.XDisplayWidth(d, s)), int(x.XDisplayHeight(d, s))
        finally:
            x.XCloseDisplay(d)
        return size if size[0] > 0 and size[1] > 0 else None
    except (OSError, AttributeError):
        return None


def _xdpyinfo() -> tuple[int, int] | None:
    exe = shutil.which("xdpyinfo")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_xdpyinfo(out)


def parse_xdpyinfo(text: str) -> tuple[int, int] | None:
    m = re.search(r"dimensions:\s+(\d+)x(\d+) pixels", text)
    return (int(m.group(1)), int(m.group(2))) if m else None
