import subprocess
import sys


def test_engine_never_imports_dearpygui():
    code = ("import sys, afx_graph, afx_graph.engine.executor, afx_graph.cli, afx_graph.commands\n"
            "from afx_graph import default_registry\n"
            "default_registry()\n"
            "bad = sorted(m for m in sys.modules if m.startswith('dearpygui') or m.startswith('afx_graph.ui'))\n"
            "print(bad)\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout
