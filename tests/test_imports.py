import subprocess
import sys


def test_a_render_imports_neither_the_editor_nor_librosa(tmp_path):
    """A render of the demo (audio, spectrum, onsets and beats, a field, the encoder) loads no
    editor module, and none of librosa, scipy.signal or numba: nodes/rhythm.py computes
    librosa's onset strength and tempo without their 2.3 s of imports."""
    code = ("import sys\n"
            "from afx_graph.cli import main\n"
            "from afx_graph import default_registry, examples\n"
            "default_registry()\n"
            "assert main(['run', str(examples.find('demo')), '-o', 'v.mp4', '--size', '32x18',"
            " '--duration', '0.5', '--quiet']) == 0\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dearpygui', 'librosa', "
            "'numba') or m.startswith(('afx_graph.ui', 'scipy.signal')))\n"
            "print(bad)\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr + r.stdout
    assert (tmp_path / "v.mp4").stat().st_size > 0


def test_a_command_imports_only_its_own_module():
    """``afx validate`` starts without the benchmark's, the sweep's or the renderer's split
    driver modules (and without scipy.signal: the feature nodes load it when they run)."""
    code = ("import sys\n"
            "from afx_graph.cli import main\n"
            "from afx_graph import examples\n"
            "assert main(['validate', str(examples.find('demo'))]) == 0\n"
            "loaded = sorted(m for m in sys.modules if m.startswith('afx_graph.commands.'))\n"
            "print(loaded)\n"
            "assert loaded == ['afx_graph.commands.validate'], loaded\n"
            "assert 'scipy.signal' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout


def test_every_command_is_listed_with_the_help_its_module_gives():
    """The table ``afx --help`` lists (without importing the commands) says what each
    command's module says."""
    import argparse

    from afx_graph import commands
    from afx_graph.cli import build_parser
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    real = {a.dest: a.help for a in sub._choices_actions}
    table = {name: line for name, (_, _, line) in commands.COMMANDS.items()}
    assert real == table
