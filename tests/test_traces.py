"""Traces: record -> replay equality, replayed live sets against a plain-Python
reachability model on random traces, and malformed traces rejected before running."""
import json
import random

import numpy as np
import pytest

from gcbench import registry
from gcbench.io import traces
from gcbench.runs.config import make_config
from gcbench.runs.record import record
from gcbench.runs.runner import run
from conftest import charged_bytes_function, run_cli

RECORD_SMALL = {
    "queue": {"lifetime": 500, "ops": 20000},
    "lru-cache": {"capacity": 500, "keys": 5000, "requests": 20000},
    "growing-slices": {"slices": 300, "max_length": 400},
    "leak": {"requests": 10000, "leak_fraction": 0.05},
    "escape": {"calls": 5000},
    "churn": {"live_objects": 2000, "ops": 30000},
    "binary-trees": {"long_lived_depth": 6, "array_len": 100, "min_depth": 4, "max_depth": 6},
    "python-heap": {"churn_ops": 20000, "modules": "json"},
}


def _variants():
    """(collector, opts) for every collector and every choice of each of its options."""
    out = []
    for name, entry in registry.collectors().items():
        if not entry.available:
            continue
        out.append((name, {}))
        for key, spec in entry.specs.items():
            for choice in spec.get("choices") or ():
                if choice != spec.get("default"):
                    out.append((name, {key: choice}))
    return out


def _id(v):
    return v[0] + "".join(f"-{k}={x}" for k, x in v[1].items())


def _replay(path, collector="marksweep", opts=None, gogc=20, heap="64M", verify=False):
    return run(collector, "trace-replay", params={"path": str(path)}, opts=opts, gogc=gogc,
               heap=heap, verify=verify)


# ---------------------------------------------------------------------------
# record -> replay

@pytest.mark.parametrize("workload", sorted(RECORD_SMALL))
def test_record_replays_to_same_allocations_and_cycles(tmp_path, workload):
    fmt = "binary" if workload != "queue" else "text"
    path = tmp_path / f"t.{'bin' if fmt == 'binary' else 'trace'}"
    # python-heap's live set is this test process's own object graph, which grows with
    # what earlier tests imported and kept: give it room
    heap = "256M" if workload == "python-heap" else "64M"
    original, records, written = record(make_config("marksweep", workload, params=RECORD_SMALL[workload],
                                                    gogc=20, heap=heap), str(path), fmt=None)
    assert written == fmt and len(records) > 0
    replay = _replay(path, heap=heap)
    for key in ("alloc_count", "alloc_bytes", "free_count", "mutator_ops", "cycles"):
        assert replay[key] == original[key], key
    assert ([c["live_bytes"] for c in replay["cycle_log"]]
            == [c["live_bytes"] for c in original["cycle_log"]])


def test_text_and_binary_traces_are_the_same_operations(tmp_path):
    run_cli("record", "-w", "leak", "-p", "requests=3000", "--seed", "7", "-o", tmp_path / "a.trace", check=0)
    proc = run_cli("record", "-w", "leak", "-p", "requests=3000", "--seed", "7", "-o", tmp_path / "a.out",
                   "--format", "binary", check=0)
    assert "(binary)" in proc.stdout
    text = traces.load_trace(str(tmp_path / "a.trace"))
    binary = traces.load_trace(str(tmp_path / "a.out"))
    assert text.format == "text" and binary.format == "binary"
    assert np.array_equal(text.records, binary.records)
    assert (text.roots, text.globals) == (binary.roots, binary.globals)
    # 12 bytes a record: far smaller than the text
    assert (tmp_path / "a.out").stat().st_size == 32 + 12 * len(binary.records)


@pytest.mark.parametrize("variant", [v for v in _variants()], ids=_id)
def test_record_replay_under_every_collector(tmp_path, variant):
    collector, opts = variant
    path = tmp_path / "t.bin"
    params = {"live_objects": 2000, "ops": 30000}
    if registry.collectors()[collector].module.__name__.endswith("malloc"):
        params["mutate_fraction"] = 0      # malloc frees on drop: members must not be shared
    original, _, _ = record(make_config(collector, "churn", params=params, opts=opts, gogc=20, heap="64M"),
                            str(path))
    replay = _replay(path, collector, opts)
    assert replay["alloc_count"] == original["alloc_count"]
    assert replay["alloc_bytes"] == original["alloc_bytes"]


def test_issue_example_trace(tmp_path):
    f = tmp_path / "ex.trace"
    f.write_text("# gcbench trace 1\nroots 64\n"
                 "alloc 0 2 16   # a pair\nalloc 1 0 100\nstore 0 0 1\nstore 0 1 -\n"
                 "clear 1\ngc\nload 2 0 0\nclear 0\ngc\nclear 2\ngc\n")
    out = tmp_path / "r.json"
    proc = run_cli("run", "-c", "marksweep", "--trace", f, "--json", out, check=0)
    r = json.loads(out.read_text())
    # after gc 1: the pair (8+16+16=40 -> 48) and the 100-byte object (108 -> 112)
    assert r["gc_live_objects"] == [2, 1, 0]
    assert r["gc_live_bytes"] == [48 + 112, 112, 0]
    assert "gc_live_bytes" in proc.stdout and "[160, 112, 0]" in proc.stdout


# ---------------------------------------------------------------------------
# random traces against a reachability model

def random_trace(seed, nops=3000, roots=8, nglobals=3):
    """A valid random trace (text) and, for each `gc`, the (objects, bytes) a plain-Python
    model says are reachable from the roots and globals at that point."""
    rng = random.Random(seed)
    size_of = charged_bytes_function()
    objects = {}                     # id -> [slot targets], bytes
    sizes = {}
    root = [None] * roots
    glob = [None] * nglobals
    lines = ["# gcbench trace 1", f"roots {roots}", f"globals {nglobals}"]
    expected = []
    next_id = 0

    def reachable():
        seen = set()
        stack = [o for o in root + glob if o is not None]
        while stack:
            o = stack.pop()
            if o in seen:
                continue
            seen.add(o)
            stack.extend(t for t in objects[o] if t is not None)
        return len(seen), sum(sizes[o] for o in seen)

    for _ in range(nops):
        full = [r for r in range(roots) if root[r] is not None]
        with_slots = [r for r in full if objects[root[r]]]
        op = rng.choices(["alloc", "store", "load", "clear", "gset", "gget", "gc", "tick"],
                         [30, 30, 15, 8, 4, 4, 3, 1])[0]
        if op == "alloc":
            r = rng.randrange(roots)
            nptr = rng.choice([0, 1, 2, 3, 8])
            size = rng.choice([0, 8, 24, 100, 1000]) if rng.random() > 0.01 else 40000
            objects[next_id] = [None] * nptr
            sizes[next_id] = size_of(nptr, size)
            root[r] = next_id
            next_id += 1
            lines.append(f"alloc {r} {nptr} {size}")
        elif op == "store" and with_slots:
            r = rng.choice(with_slots)
            slot = rng.randrange(len(objects[root[r]]))
            if rng.random() < 0.15:
                objects[root[r]][slot] = None
                lines.append(f"store {r} {slot} -")
            else:
                s = rng.randrange(roots)
                objects[root[r]][slot] = root[s]
                lines.append(f"store {r} {slot} {s}")
        elif op == "load" and with_slots:
            s = rng.choice(with_slots)
            slot = rng.randrange(len(objects[root[s]]))
            r = rng.randrange(roots)
            root[r] = objects[root[s]][slot]
            lines.append(f"load {r} {s} {slot}")
        elif op == "clear":
            r = rng.randrange(roots)
            root[r] = None
            lines.append(f"clear {r}")
        elif op == "gset":
            g, r = rng.randrange(nglobals), rng.randrange(roots)
            glob[g] = root[r]
            lines.append(f"gset {g} {r}")
        elif op == "gget":
            r, g = rng.randrange(roots), rng.randrange(nglobals)
            root[r] = glob[g]
            lines.append(f"gget {r} {g}")
        elif op == "gc":
            expected.append(reachable())
            lines.append("gc")
        elif op == "tick":
            lines.append(f"tick {rng.randrange(1, 5)}")
    expected.append(reachable())
    lines.append("gc")
    return "\n".join(lines) + "\n", expected


@pytest.mark.parametrize("variant", [v for v in _variants() if v[0] in registry.exact_collectors()], ids=_id)
def test_random_traces_live_set_matches_model(tmp_path, variant):
    collector, opts = variant
    base = random.SystemRandom().randrange(1 << 30)      # traces the test does not choose
    for k in range(4):
        seed = base + k
        text, expected = random_trace(seed)
        path = tmp_path / f"r{k}.trace"
        path.write_text(text)
        # a small GOGC and heap, so the collector also runs on its own between the gc ops
        r = _replay(path, collector, opts, gogc=5, heap="16M", verify=True)
        got = list(zip(r["gc_live_objects"], r["gc_live_bytes"]))
        assert got == expected, f"trace seed {seed}"


def test_random_trace_binary_roundtrip(tmp_path):
    text, expected = random_trace(12345)
    (tmp_path / "r.trace").write_text(text)
    t = traces.load_trace(str(tmp_path / "r.trace"))
    traces.write_binary(str(tmp_path / "r.bin"), t.records, t.roots, t.globals)
    traces.write_text(str(tmp_path / "r2.trace"), t.records, t.roots, t.globals)
    for name in ("r.bin", "r2.trace"):
        r = _replay(tmp_path / name)
        assert list(zip(r["gc_live_objects"], r["gc_live_bytes"])) == expected


def test_nogc_replay_keeps_everything(tmp_path):
    text, _ = random_trace(7)
    (tmp_path / "r.trace").write_text(text)
    r = _replay(tmp_path / "r.trace", "nogc", heap="256M")
    assert r["gc_live_objects"][-1] == r["alloc_count"]


# ---------------------------------------------------------------------------
# malformed traces: one line, the line number, exit 2, before anything runs

HEAD = "# gcbench trace 1\nroots 4\n"


@pytest.mark.parametrize("body, needle", [
    ("alloc 0 1 8\nfrob 1\n", ":4: unknown operation 'frob'"),
    ("alloc 9 1 8\n", ":3: root 9 out of range (roots 4: 0..3)"),
    ("alloc 300 1 8\n", ":3: root 300 out of range"),
    ("alloc 0 1 8\nstore 0 1 0\n", ":4: slot 1 out of range: the object in root 0 has 1 slot"),
    ("alloc 0 1 8\n\n# comment\nstore 1 0 0\n", ":6: store through null root 1"),
    ("alloc 0 1 8\nload 1 2 0\n", ":4: load through null root 2"),
    ("alloc 0 2 8\nload 1 0 1\nload 2 1 0\n", ":5: load through null root 1"),
    ("alloc 0 0 8\nload 1 0 0\n", ":4: slot 0 out of range: the object in root 0 has 0 slots"),
    ("alloc 0 1\n", ":3: expected `alloc R NPTR SIZE`"),
    ("alloc 0 one 8\n", ":3: pointer-slot count must be an integer"),
    ("alloc 0 1 -8\n", ":3: payload size -8 out of range"),
    ("gset 0 0\n", ":3: global 0 out of range (globals 0; declare them with `globals N`)"),
    ("tick 0\n", ":3: tick count must be at least 1"),
    ("alloc 0 1 8\nroots 8\n", ":4: `roots` must come before the first operation"),
    ("alloc 0 600000000 0\n", ":3: object too large"),
    ("alloc 0 1 8\nalloc 1 0 8\nstore 0 0 1\ndrop 1\n", ":6: drop of root 1: its object is still referenced 1 more time"),
    ("alloc 0 1 8\nalloc 1 0 8\nstore 0 0 1\nclear 1\nload 2 0 0\ndrop 0 all\n",
     ":8: drop 0 all: an object it owns is referenced 1 more time"),
    ("alloc 0 0 8\ndrop 0 every\n", ":4: expected `drop R [all]`"),
    ("drop 7\n", ":3: root 7 out of range"),
])
def test_bad_trace_one_line_with_line_number(tmp_path, body, needle):
    f = tmp_path / "bad.trace"
    f.write_text(HEAD + body)
    proc = run_cli("run", "-c", "marksweep", "--trace", f, check=2)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{f}{needle}" in proc.stderr, proc.stderr


@pytest.mark.parametrize("text, needle", [
    ("roots 4\nalloc 0 0 0\n", ":1: not a gcbench trace"),
    ("# gcbench trace 1\nalloc 0 0 0\n", ":2: `roots N` must come before the first operation"),
    ("# gcbench trace 1\nroots 0\n", ":2: roots must be at least 1"),
    ("# gcbench trace 1\nroots 999\n", ":2: roots 999 out of range"),
])
def test_bad_trace_header(tmp_path, text, needle):
    f = tmp_path / "bad.trace"
    f.write_text(text)
    proc = run_cli("run", "-c", "marksweep", "--trace", f, check=2)
    assert proc.stderr.count("\n") == 1 and f"{f}{needle}" in proc.stderr, proc.stderr


def test_bad_binary_trace_names_the_record(tmp_path):
    from gcbench_core.heap import TRACE_DTYPE
    good = tmp_path / "g.bin"
    run_cli("record", "-w", "queue", "-p", "ops=100", "-p", "lifetime=10", "-o", good, check=0)
    data = bytearray(good.read_bytes())
    # record 5: make it an unknown operation
    data[32 + 4 * TRACE_DTYPE.itemsize] = 99
    bad = tmp_path / "b.bin"
    bad.write_bytes(bytes(data))
    proc = run_cli("run", "-c", "marksweep", "--trace", bad, check=2)
    assert proc.stderr.count("\n") == 1 and f"{bad}: record 5: unknown operation code 99" in proc.stderr
    # a header that declares too many roots
    import struct
    bad.write_bytes(bytes(data[:16]) + struct.pack("<I", 300) + bytes(data[20:]))
    proc = run_cli("run", "-c", "marksweep", "--trace", bad, check=2)
    assert "header declares 300 roots" in proc.stderr
    # truncated
    bad.write_bytes(bytes(data[:-5]))
    proc = run_cli("run", "-c", "marksweep", "--trace", bad, check=2)
    assert "header says" in proc.stderr


def test_trace_flag_conflicts_and_missing_file(tmp_path):
    proc = run_cli("run", "-c", "marksweep", "--trace", tmp_path / "none", check=2)
    assert "cannot read trace" in proc.stderr
    f = tmp_path / "t.trace"
    f.write_text(HEAD + "gc\n")
    proc = run_cli("run", "-c", "marksweep", "--trace", f, "-w", "queue", check=2)
    assert "only one of" in proc.stderr
    proc = run_cli("run", "-c", "marksweep", "--trace", f, "-p", "x=1", check=2)
    assert "--param does not apply" in proc.stderr


# ---------------------------------------------------------------------------
# the one text parser (gcbench_core.tracetext): layout freedom, and exact errors

def _parse(text):
    from gcbench_core.tracetext import TraceSyntaxError, parse
    try:
        return parse(text.encode())
    except TraceSyntaxError as exc:
        return exc


def test_text_parser_ignores_comments_blanks_tabs_and_crlf():
    text, _ = random_trace(99, nops=2000)
    plain_records, plain_lines, plain_roots, plain_globals = _parse(text)
    # comments, blank lines, tabs, CRLF: the same records, each with its own line
    lines = text.splitlines()
    decorated = [lines[0] + "  ", *lines[1:3], "", "   # a comment"]
    decorated += [f"\t{line}   # op {i}" if i % 3 == 0 else line for i, line in enumerate(lines[3:])]
    expected_lines = [i + 1 for i, line in enumerate(decorated) if i >= 5]
    for variant in ("\n".join(decorated) + "\n", "\r\n".join(decorated)):
        records, lines_, roots, nglobals = _parse(variant)
        assert np.array_equal(records, plain_records)
        assert lines_.tolist() == expected_lines
        assert (roots, nglobals) == (plain_roots, plain_globals) == (8, 3)
    assert plain_lines.tolist() == list(range(4, 4 + len(plain_records)))


@pytest.mark.parametrize("text, field, value", [
    (HEAD + "alloc 0 1_0 8\n", "x", 10),      # numbers as Python's int() reads them
    (HEAD + "store 0 0 +1\n", "b", 1),
    (HEAD + "alloc 0 -0 8\n", "x", 0),
])
def test_text_parser_reads_numbers_as_int_does(text, field, value):
    records, lines, _, _ = _parse(text)
    assert records[field].tolist() == [value] and lines.tolist() == [3]


@pytest.mark.parametrize("text, line, message", [
    (HEAD + "alloc 0 1\x0b8\n", 3, "expected `alloc R NPTR SIZE`, got 'alloc 0 1'"),  # \v ends a line
    (HEAD + "alloc 0 1\r8\n", 3, "expected `alloc R NPTR SIZE`, got 'alloc 0 1'"),    # so does a lone \r
    (HEAD + "alloc 0 1 8 9\n", 3, "expected `alloc R NPTR SIZE`, got 'alloc 0 1 8 9'"),
    (HEAD + "alloc 0 1 99999999999\n", 3, "payload size 99999999999 out of range [0, 4294967295]"),
    (HEAD + "alloc 0 1__0 8\n", 3, "pointer-slot count must be an integer, got '1__0'"),
    (HEAD + "store 0 - 1\n", 3, "slot must be an integer, got '-'"),
    ("# gcbench trace 1\n", 1, "no `roots N` line"),
    ("# gcbench trace 1\nroots 4\nglobals 65\n", 3, "globals 65 out of range [0, 64]"),
    ("", 1, "not a gcbench trace: the first line must be '# gcbench trace 1'"),
])
def test_text_parser_errors_name_line_and_problem(text, line, message):
    from gcbench_core.tracetext import TraceSyntaxError
    exc = _parse(text)
    assert isinstance(exc, TraceSyntaxError)
    assert (exc.line, exc.message) == (line, message)


# ---------------------------------------------------------------------------
# drops: a workload's knowledge that an object died, recorded and replayed

DROPPING = ("binary-trees", "queue", "lru-cache", "growing-slices", "leak", "escape")


@pytest.mark.parametrize("workload", DROPPING + ("server", "churn"))
def test_recorded_drops_replay_as_frees_under_malloc(tmp_path, workload):
    params = dict(RECORD_SMALL.get(workload, {"requests": 3000}))
    if workload == "churn":
        params["mutate_fraction"] = 0
    path = tmp_path / "t.bin"
    record(make_config("marksweep", workload, params=params, gogc=20, heap="64M"), str(path))
    assert (traces.load_trace(str(path)).records["op"] == traces_ops()["drop"]).any()
    direct = run("malloc", workload, params=params, heap="64M")
    replay = _replay(path, "malloc")
    # the trace carries every drop: malloc frees exactly what it frees running the workload
    for key in ("alloc_count", "free_count", "alloc_bytes", "free_bytes", "peak_heap_bytes"):
        assert replay[key] == direct[key], key
    assert direct["free_count"] > 0
    # and every other collector replays a drop as a clear: the same live sets as recorded
    assert _replay(path, "marksweep", verify=True)["alloc_count"] == direct["alloc_count"]


def traces_ops():
    from gcbench_core.heap import TRACE_OPS
    return TRACE_OPS


def test_drop_text_form_round_trips(tmp_path):
    f = tmp_path / "d.trace"
    f.write_text(HEAD + "alloc 0 2 8\nalloc 1 0 8\nstore 0 0 1\nalloc 1 0 8\nstore 0 1 1\n"
                 "clear 1\nalloc 2 0 16\ndrop 2\ndrop 0 all\n")
    trace = traces.load_trace(str(f))
    out = tmp_path / "d2.trace"
    traces.write_trace(str(out), trace.records, "text")
    assert out.read_text().splitlines()[-2:] == ["drop 2", "drop 0 all"]
    r = _replay(f, "malloc")
    assert r["alloc_count"] == r["free_count"] == 4
