"""Patches made to hurt: files that never end or never open, cycles that explode, YAML nested ten
thousand deep, keys given twice, control characters aimed at the terminal, and patches that
validate but would not run. What a user sees each time: exit code 2, one ``error:`` line per
problem, no traceback, in bounded time and memory."""
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import unicodedata
from pathlib import Path

import pytest

from afxcli import run_afx
from afx_graph import Graph, PatchError, default_registry, load_patch, loads
from afx_graph.patchfile import patch as patch_mod
from afx_graph.patchfile.safe_yaml import MAX_BYTES, MAX_DEPTH

GiB = 1024 ** 3
UNIX = os.name == "posix"


class Result:
    def __init__(self, returncode, stdout, stderr, seconds, peak_rss):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        self.seconds, self.peak_rss = seconds, peak_rss     # peak_rss in bytes, None if unknown

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def afx(*args, cwd=None) -> Result:
    """``afx ARGS`` in this process (tests/afxcli.py): for the answers to bad input."""
    t0 = time.monotonic()
    r = run_afx(*args, cwd=cwd)
    return Result(r.returncode, r.stdout, r.stderr, time.monotonic() - t0, None)


def afx_process(*args, cwd=None, timeout=120) -> Result:
    """Run the installed CLI as a user would, measuring its wall time and peak memory (the
    child's own rusage, so other tests do not count). Killed after ``timeout`` seconds: for
    the patches that could hang a reader or fill its memory."""
    exe = shutil.which("afx") or str(Path(sys.executable).parent / "afx")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as peak_file:
        t0 = time.monotonic()
        # afx runs under a small wrapper process: a child forked from this (large) pytest
        # process would report pytest's memory as its own peak (Linux keeps the high-water
        # mark across exec)
        p = subprocess.Popen([sys.executable, "-c", _WRAPPER, peak_file.name, exe,
                              *map(str, args)], stdout=out, stderr=err, cwd=cwd,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        killer = threading.Timer(timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
        killer.start()
        try:
            p.wait()
        finally:
            killer.cancel()
        seconds = time.monotonic() - t0
        assert seconds < timeout, f"afx {' '.join(map(str, args))} did not finish in {timeout} s"
        out.seek(0)
        err.seek(0)
        text = peak_file.read().strip()
        peak = int(text) * (1 if sys.platform == "darwin" else 1024) if text else None
        return Result(p.returncode, out.read().decode(), err.read().decode(), seconds, peak)


_WRAPPER = """import resource, subprocess, sys
r = subprocess.run(sys.argv[2:])
open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(r.returncode)
"""


def refused(r: Result, n_errors: int = 1) -> None:
    """Exit 2, ``n_errors`` error lines, no traceback, no internal error."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(r.errors) == n_errors, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr


# -- 1. files that are not patch files -----------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "patch.yaml"
    os.mkfifo(fifo)
    r = afx_process("validate", fifo, timeout=60)
    refused(r)
    assert f"error: {fifo}: is a FIFO (named pipe), not a patch file" in r.errors
    with pytest.raises(PatchError, match="FIFO"):
        load_patch(fifo)            # in-process too: stat first, never a blocking open


def test_devices_are_refused_not_read_forever():
    devices = [d for d in ("/dev/zero", "/dev/urandom") if os.path.exists(d)]
    if not devices:
        pytest.skip("no /dev/zero here")
    r = afx_process("validate", *devices, timeout=60)
    refused(r, len(devices))
    assert r.errors == [f"error: {d}: is a character device, not a patch file" for d in devices]
    if r.peak_rss is not None:
        assert r.peak_rss < 1 * GiB


def test_a_file_over_the_cap_is_refused_from_its_size(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(10 * 1024 ** 3)         # claims 10 GiB (sparse: costs no disk)
    r = afx_process("validate", big, timeout=60)
    refused(r)
    assert "a patch is at most 2048 KiB" in r.errors[0]


def test_a_file_that_claims_to_be_small_is_still_read_only_up_to_the_cap(tmp_path, monkeypatch):
    """/proc files say size 0; a file can grow after stat: the read itself stops at the cap."""
    big = tmp_path / "grows.yaml"
    big.write_bytes(b"afx: 1\n#" + b"x" * (MAX_BYTES + 100) + b"\n")
    real_stat = os.stat

    def stat_says_small(path, *a, **kw):
        st = real_stat(path, *a, **kw)
        if str(path) == str(big):
            fields = list(st[:10])
            fields[stat.ST_SIZE] = 10
            return os.stat_result(fields)
        return st
    monkeypatch.setattr(patch_mod.os, "stat", stat_says_small)
    reads = []
    real_read = os.read
    monkeypatch.setattr(patch_mod.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    with pytest.raises(PatchError, match="more than 2048 KiB"):
        load_patch(big)
    assert sum(reads) <= MAX_BYTES + 1


def test_a_folder_and_a_missing_file(tmp_path):
    r = afx("validate", tmp_path, tmp_path / "nope.yaml")
    refused(r, 2)
    assert r.errors == [f"error: {tmp_path}: is a folder, not a patch file",
                        f"error: {tmp_path / 'nope.yaml'}: no such file"]


# -- 2. cycles: reported in time and memory linear in the patch ----------------------------------
def dense_combine_patch(n=30, fan=4) -> str:
    """n math.combine nodes, every input port (a, b, b_value, mix) fed by another node: the
    issue's 4.6 KB patch shape, which has billions of simple cycles."""
    ports = ["a", "b", "b_value", "mix"][:fan]
    lines = ["afx: 1", "settings: {duration: 1}", "nodes:"]
    for i in range(n):
        ins = ", ".join(f"{p}: n{(i + 1 + k * 7) % n}.out" for k, p in enumerate(ports))
        lines.append(f"  n{i}: {{type: math.combine, params: {{op: add}}, inputs: {{{ins}}}}}")
    return "\n".join(lines) + "\n"


def test_a_dense_cycle_is_one_error_found_fast():
    text = dense_combine_patch()
    registry = default_registry()
    tracemalloc.start()
    t0 = time.perf_counter()
    issues = Graph.from_patch(loads(text), registry).validate()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 2.0 and peak < 50 * 1024 ** 2, (seconds, peak)   # measured: 0.05 s, 1 MB
    assert [str(i) for i in issues] == [
        "<patch>: node 'n0' inputs: 30 nodes feed each other in cycles (n0, n1, n10, n11, n12, "
        "n13, n14, n15 and 22 more), e.g. n0 -> n15 -> n0"]


def test_a_dense_cycle_through_the_cli(tmp_path):
    (tmp_path / "dense.yaml").write_text(dense_combine_patch())
    r = afx_process("validate", "dense.yaml", cwd=tmp_path, timeout=120)
    refused(r)
    assert "30 nodes feed each other in cycles" in r.errors[0]
    if r.peak_rss is not None:
        assert r.peak_rss < 1 * GiB, r.peak_rss     # was 5 GB and dying


def test_a_thousand_node_tangle_is_still_linear():
    n = 1000
    lines = ["afx: 1", "nodes:"]
    for i in range(n):
        lines.append(f"  n{i:04d}: {{type: test.add, inputs: {{a: n{(i + 1) % n:04d}.out, "
                     f"b: n{(i * 37 + 5) % n:04d}.out}}}}")
    from afx_graph import Registry
    import fixture_pack
    reg = Registry()
    reg.register_all(fixture_pack.NODES, source="fixture")
    t0 = time.perf_counter()
    issues = Graph.from_patch(loads("\n".join(lines) + "\n"), reg).validate()
    assert time.perf_counter() - t0 < 5.0
    assert len(issues) == 1 and "1000 nodes feed each other in cycles" in str(issues[0])
    assert "and 992 more" in str(issues[0])


def test_thousands_of_broken_links_and_outputs_stay_linear(registry):
    """Error reports and plans grow with the patch, not its square: 3000 links to missing
    nodes (each would cost a "did you mean" search over every node) and 3000 outputs on one
    chain (each would walk the whole chain)."""
    from afx_graph import Plan
    n = 3000
    lines = ["afx: 1", "nodes:"] + [f"  n{i:04d}: {{type: test.add, inputs: {{a: x{i:04d}.out}}}}"
                                    for i in range(n)]
    t0 = time.perf_counter()
    issues = Graph.from_patch(loads("\n".join(lines) + "\n"), registry).validate()
    assert time.perf_counter() - t0 < 5.0        # was ~4 min
    assert len(issues) == n and "did you mean" in str(issues[0])
    lines = ["afx: 1", "nodes:", "  a0000: {type: test.number}"]
    for i in range(1, n):
        lines.append(f"  a{i:04d}: {{type: test.add, inputs: {{a: a{i - 1:04d}.out}}}}")
    for i in range(n):
        lines.append(f"  i{i:04d}: {{type: test.image, inputs: {{level: a{i:04d}.out}}}}")
        lines.append(f"  s{i:04d}: {{type: test.sink, inputs: {{image: i{i:04d}.out}}}}")
    g = Graph.from_patch(loads("\n".join(lines) + "\n"), registry)
    t0 = time.perf_counter()
    plan = Plan(g)
    assert time.perf_counter() - t0 < 5.0        # each output used to walk the whole chain
    assert len(plan.sinks) == n and len(plan.order) == 3 * n


def cycles_of(registry, body):
    g = Graph.from_patch(loads("afx: 1\nnodes:\n" + body), registry)
    return [str(i) for i in g.validate() if "cycle" in i.message]


def test_separate_cycles_are_separate_errors_in_name_order(registry):
    found = cycles_of(registry, "  d: {type: test.add, inputs: {a: c.out}}\n"
                                "  c: {type: test.add, inputs: {a: d.out}}\n"
                                "  a: {type: test.add, inputs: {a: b.out}}\n"
                                "  b: {type: test.add, inputs: {a: a.out, b: a.out}}\n"
                                "  s: {type: test.add, inputs: {a: s.out}}\n")
    assert found == ["<patch>: node 'a' inputs: nodes a -> b -> a form a cycle",
                     "<patch>: node 'c' inputs: nodes c -> d -> c form a cycle",
                     "<patch>: node 's' inputs: nodes s -> s form a cycle"]


def test_a_long_ring_is_shortened(registry):
    """r00 takes its input from r01, ... r19 from r00: data flows r00 -> r19 -> ... -> r00."""
    body = "".join(f"  r{i:02d}: {{type: test.add, inputs: {{a: r{(i + 1) % 20:02d}.out}}}}\n"
                   for i in range(20))
    assert cycles_of(registry, body) == [
        "<patch>: node 'r00' inputs: nodes r00 -> r19 -> r18 -> r17 -> r16 -> r15 -> r14 -> "
        "... (12 more) -> r01 -> r00 form a cycle"]


# -- 3. nesting --------------------------------------------------------------------------------
@pytest.mark.parametrize("levels", [10_000, 100_000])
@pytest.mark.parametrize("opener", ["[", "{a: ", "- "])
def test_deep_nesting_is_refused_quickly(levels, opener):
    text = "afx: 1\nnodes: " + opener * levels
    if opener == "- ":
        text = "afx: 1\nnodes:\n" + opener * levels + "x\n"
    if len(text) > MAX_BYTES:
        text = text[:MAX_BYTES]
    t0 = time.perf_counter()
    with pytest.raises(PatchError, match=f"nested more than {MAX_DEPTH} levels deep"):
        loads(text)
    assert time.perf_counter() - t0 < 1.0           # measured: a few milliseconds


def test_deep_nesting_through_the_cli(tmp_path):
    (tmp_path / "deep.yaml").write_text("afx: 1\nnodes: " + "[" * 10_000 + "\n")
    (tmp_path / "deepmap.yaml").write_text("afx: 1\nnodes: " + "{a: " * 10_000 + "\n")
    r = afx("validate", "deep.yaml", "deepmap.yaml", cwd=tmp_path)
    refused(r, 2)
    assert r.errors[0] == ("error: deep.yaml: patch is nested more than 64 levels deep "
                           "(at line 2, column 72)")


def test_nesting_up_to_the_limit_loads():
    inner = "[" * MAX_DEPTH + "]" * MAX_DEPTH       # with the top mapping: MAX_DEPTH + 1 levels
    p = loads(f"afx: 1\nnodes: {{}}\nmeta: {{deep: {inner[1:-1]}}}\n")
    assert isinstance(p.meta["deep"], list)


# -- 4. duplicate keys -------------------------------------------------------------------------
DUPLICATE_NODES = """\
afx: 1
settings: {duration: 1}
nodes:
  c: {type: field.coords}
  f: {type: cppn, inputs: {coords: c.coords}}
  v: {type: output.video, params: {path: out.mp4}, inputs: {image: f.image}}
nodes:
  only: {type: field.coords}
"""


def test_duplicate_top_level_key_is_refused(tmp_path):
    (tmp_path / "dup.yaml").write_text(DUPLICATE_NODES)
    r = afx("validate", "dup.yaml", cwd=tmp_path)
    refused(r)
    assert r.errors == ["error: dup.yaml: duplicate key 'nodes' at line 7 (first at line 3)"]


@pytest.mark.parametrize("text,message", [
    ("afx: 1\nnodes:\n  a: {type: x}\n  b: {type: y}\n  a: {type: z}\n",
     "duplicate key 'a' at line 5 (first at line 3)"),
    ("afx: 1\nnodes:\n  a:\n    type: x\n    params: {seed: 1, seed: 2}\n",
     "duplicate key 'seed' at line 5 (first at line 5)"),
    ("afx: 1\nnodes:\n  a:\n    type: x\n    type: y\n", "duplicate key 'type' at line 5 (first at line 4)"),
    ("afx: 1\nsettings:\n  fps: 10\n  'fps': 20\nnodes: {}\n", "duplicate key 'fps' at line 4"),
    ("afx: 1\nafx: 1\nnodes: {}\n", "duplicate key 'afx' at line 2 (first at line 1)"),
])
def test_duplicate_keys_are_refused_at_every_level(text, message):
    with pytest.raises(PatchError) as e:
        loads(text)
    assert message in str(e.value)


def test_merge_keys_may_still_be_overridden():
    p = loads("afx: 1\nmeta:\n  base: &b {name: x, author: y}\n  mine:\n    <<: *b\n    name: z\n"
              "nodes: {}\n")
    assert p.meta["mine"] == {"name": "z", "author": "y"}


# -- 5. control characters ---------------------------------------------------------------------
HOSTILE = r"""afx: 1
settings: {duration: 1}
nodes:
  "bad\e]0;owned\aid": {type: field.coords}
  c: {type: "field.coords\u202e"}
  f:
    type: cppn
    params: {"seed\nerror: all fine": 1}
    inputs: {coords: "c\0.coords"}
  v: {type: output.video, params: {path: out.mp4}, inputs: {image: f.image}}
"""

UNSAFE = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def test_control_characters_are_escaped_in_error_lines(tmp_path):
    (tmp_path / "evil.yaml").write_text(HOSTILE)
    r = afx("validate", "evil.yaml", cwd=tmp_path)
    refused(r, 4)
    raw = [ch for ch in r.stderr if ch != "\n" and unicodedata.category(ch) in UNSAFE]
    assert raw == []
    assert r.stderr.splitlines() == r.errors + ["1 of 1 patch invalid"]
    joined = "\n".join(r.errors)
    assert "node 'bad\\x1b]0;owned\\x07id'" in joined
    assert "unknown node type 'field.coords\\u202e'" in joined
    assert "params.seed\\nerror: all fine: unknown param" in joined
    assert "'c\\x00.coords' is not of the form node.port" in joined


def test_escaping_covers_every_error_line():
    from afx_graph.errors import AfxError, Issue, escape_controls
    assert escape_controls("plain text, é, 日本") == "plain text, é, 日本"
    assert escape_controls("a\x1b[2Jb\r\n\t\x00\x7f\x85\u2028\u200b\u2066\U000e0041") == (
        "a\\x1b[2Jb\\r\\n\\t\\x00\\x7f\\x85\\u2028\\u200b\\u2066\\U000e0041")
    assert str(Issue("m\n", "f\x1b", "n\u202e", "p\x00")) == "f\\x1b: node 'n\\u202e' p\\x00: m\\n"
    assert AfxError("line one\nline two").lines == ["line one\\nline two"]
    assert PatchError([Issue("a\nb"), Issue("c")]).lines == ["a\\nb", "c"]


# -- 6. whatever run refuses, validate refuses, in the same words ---------------------------------
RUN_REFUSES = {
    "empty": "afx: 1\nnodes: {}\n",
    "no_output": "afx: 1\nsettings: {duration: 1}\nnodes:\n  c: {type: field.coords}\n",
    "no_length": "afx: 1\nnodes:\n  c: {type: field.coords}\n  f: {type: cppn, inputs: {coords: c.coords}}\n"
                 "  v: {type: output.video, params: {path: out.mp4}, inputs: {image: f.image}}\n",
}


@pytest.mark.parametrize("name", sorted(RUN_REFUSES))
def test_validate_refuses_what_run_refuses(name, tmp_path):
    (tmp_path / "p.yaml").write_text(RUN_REFUSES[name])
    ran = afx("run", "p.yaml", "--size", "64x36", "--quiet", cwd=tmp_path)
    checked = afx("validate", "p.yaml", cwd=tmp_path)
    refused(ran)
    refused(checked)
    assert checked.errors == ran.errors
    assert list(tmp_path.iterdir()) == [tmp_path / "p.yaml"]     # run wrote nothing


def test_an_empty_patch_says_so(tmp_path):
    (tmp_path / "p.yaml").write_text(RUN_REFUSES["empty"])
    r = afx("validate", "p.yaml", cwd=tmp_path)
    assert r.errors == ["error: p.yaml: the patch has no output node (add output.video or "
                        "output.frames)"]


# -- numbers no float can hold --------------------------------------------------------------------
def test_an_integer_beyond_the_float_range_is_bad_input(tmp_path):
    (tmp_path / "big.yaml").write_text("afx: 1\nsettings: {fps: " + "9" * 400 + "}\nnodes: {}\n")
    r = afx("validate", "big.yaml", cwd=tmp_path)
    refused(r)
    assert r.errors == ["error: big.yaml: number too large (400 digits) at line 2, column 17"]
    with pytest.raises(PatchError, match="as int"):        # past Python's 4300-digit limit
        loads("afx: 1\nnodes: {a: " + "9" * 5000 + "}\n")
