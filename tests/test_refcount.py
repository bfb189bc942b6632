"""refcount: CPython's reference counting and cycle detector.

The model-based programs of test_properties, replayed with the live objects recorded after
every operation, against a reference model that counts references plainly in Python:
after every operation the kernel holds at least the reachable objects and at most what
pure reference counting would still hold (acyclic garbage is gone at once); with
`cycles=off` (gc.disable()) exactly that; after every `gc`, exactly the reachable set
(test_properties).  Then the detector's own rules, on small hand-written traces.
"""
import pytest
from hypothesis import HealthCheck, given, settings

import gcbench
from gcbench_core.collectors import refcount
from gcbench_core.heap import HeapError
from test_properties import programs, to_trace

MODES = ("generational", "incremental", "off")


def refcount_model(text):
    """Per trace record: (objects reachable from the roots, objects pure reference counting
    still holds).  `gc` frees everything unreachable, as gc.collect() does."""
    objects, counts = {}, {}
    roots, glob = [], []
    out = []
    next_id = 0

    def incref(o):
        if o is not None:
            counts[o] += 1

    def decref(o):
        work = [o] if o is not None else []
        while work:
            x = work.pop()
            counts[x] -= 1
            if counts[x] == 0:
                work.extend(c for c in objects.pop(x) if c is not None)
                del counts[x]

    def assign(container, index, value):
        incref(value)
        old = container[index]
        container[index] = value
        decref(old)

    def reachable():
        seen, todo = set(), [o for o in roots + glob if o is not None]
        while todo:
            o = todo.pop()
            if o not in seen:
                seen.add(o)
                todo.extend(t for t in objects[o] if t is not None)
        return seen

    for raw in text.splitlines():
        words = raw.split("#")[0].split()
        if not words:
            continue
        op, args = words[0], words[1:]
        if op == "roots":
            roots = [None] * int(args[0])
            continue
        if op == "globals":
            glob = [None] * int(args[0])
            continue
        if op == "alloc":
            r, nptr = int(args[0]), int(args[1])
            objects[next_id] = [None] * nptr
            counts[next_id] = 0
            assign(roots, r, next_id)
            next_id += 1
        elif op == "store":
            r, slot = int(args[0]), int(args[1])
            assign(objects[roots[r]], slot, None if args[2] == "-" else roots[int(args[2])])
        elif op == "load":
            r, s, slot = map(int, args)
            assign(roots, r, objects[roots[s]][slot])
        elif op == "clear":
            assign(roots, int(args[0]), None)
        elif op == "gset":
            assign(glob, int(args[0]), roots[int(args[1])])
        elif op == "gget":
            assign(roots, int(args[0]), glob[int(args[1])])
        elif op == "gc":
            live = reachable()
            for o in [o for o in objects if o not in live]:
                del objects[o], counts[o]
            for o in counts:
                counts[o] = 0
            for o in roots + glob + [t for slots in objects.values() for t in slots]:
                if o is not None:
                    counts[o] += 1
        out.append((len(reachable()), len(objects)))
    return out


def replay_every_op(tmp_path, text, **opts):
    path = tmp_path / "program.trace"
    path.write_text(text)
    r = gcbench.run("refcount", "trace-replay", params={"path": str(path), "live_every_op": True},
                    opts=opts, heap="16M", verify=True)
    return r


@pytest.mark.parametrize("cycles", MODES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=programs)
def test_acyclic_garbage_is_gone_after_every_operation(tmp_path, cycles, program):
    text = to_trace(program)
    # a tiny young threshold, so that automatic collections run in mid-program
    r = replay_every_op(tmp_path, text, cycles=cycles, threshold0=2)
    model = refcount_model(text)
    got = r["op_live_objects"]
    assert len(got) == len(model)
    for i, (live, (reachable, counted)) in enumerate(zip(got, model)):
        assert reachable <= live <= counted, (i, live, reachable, counted)
        if cycles == "off":
            assert live == counted, (i, live, counted)


TRACE_HEAD = "# gcbench trace 1\nroots 8\n"


def test_acyclic_garbage_is_freed_at_the_operation_that_drops_it(tmp_path):
    # a chain 0 -> 1 -> 2 held by root 0 only: clearing root 0 frees all three at once
    text = TRACE_HEAD + ("alloc 0 1 16\nalloc 1 1 16\nalloc 2 0 16\nstore 1 0 2\nstore 0 0 1\n"
                         "clear 1\nclear 2\nclear 0\n")
    live = replay_every_op(tmp_path, text, cycles="off")["op_live_objects"]
    assert live == [1, 2, 3, 3, 3, 3, 3, 0]


def test_a_long_chain_is_freed_without_recursion(tmp_path):
    # a list of 200000 nodes held by global 0; dropping it frees every node in one
    # operation, through the trashcan worklist rather than the C stack
    n = 200_000
    text = TRACE_HEAD + "globals 1\nalloc 0 1 16\ngset 0 0\n" + (
        "alloc 1 1 16\nstore 1 0 0\ngset 0 1\ngget 0 0\nclear 1\n" * (n - 1)) + "clear 0\ngset 0 0\n"
    live = replay_every_op(tmp_path, text, cycles="off")["op_live_objects"]
    assert live[-2] == n
    assert live[-1] == 0


CYCLE = "alloc 0 1 16\nalloc 1 1 16\nstore 0 0 1\nstore 1 0 0\nclear 0\nclear 1\n"


def test_cyclic_garbage_waits_for_the_detector(tmp_path):
    text = TRACE_HEAD + CYCLE + "gc\n"
    for cycles in MODES:
        live = replay_every_op(tmp_path, text, cycles=cycles)["op_live_objects"]
        assert live[5] == 2, cycles      # unreachable, but each holds the other's count
        assert live[6] == 0, cycles      # gc.collect() finds them, in every mode


def test_cyclic_garbage_is_freed_by_the_next_collection_of_its_generation(tmp_path):
    # threshold0 = 3: the cycle's two containers count 2; the next two allocations make
    # it 4 > 3, and that gen0 collection frees the cycle (the new ones are held by roots)
    text = TRACE_HEAD + CYCLE + "alloc 2 1 0\nalloc 3 1 0\n"
    r = replay_every_op(tmp_path, text, cycles="generational", threshold0=3)
    live = r["op_live_objects"]
    assert live[5] == 2                  # after the clears: the cycle is still there
    assert live[6] == 3                  # one more container: count 3, not over 3
    assert live[7] == 2                  # count 4 > 3: gen0 ran and freed the cycle
    assert r["pause_kinds"] == ["gen0"]


def test_thresholds_follow_the_presets():
    assert refcount.thresholds({"cycles": "generational", "preset": "auto"}) == (700, 10, 10)
    assert refcount.thresholds({"cycles": "generational", "preset": "3.13"}) == (2000, 10, 10)
    assert refcount.thresholds({"cycles": "incremental", "preset": "auto"})[:2] == (2000, 10)
    assert refcount.thresholds({"cycles": "generational", "preset": "3.12", "threshold0": 5}) == (5, 10, 10)


def test_freeze_moves_everything_to_the_permanent_generation():
    holder = {}
    params = {"ops": 20000, "keep_rate": 1.0, "live": 20000}
    for freeze in (0, 200000):
        gcbench.run("refcount", "python-cycles", heap="64M", opts={"freeze_after_ops": freeze},
                    params=params, on_heap=lambda h: holder.__setitem__(freeze, h))
    thawed = refcount.collection_stats(holder[0])
    frozen = refcount.collection_stats(holder[200000])
    # frozen half-way: the long-lived ring and what it held are never scanned again
    assert frozen["frozen"] > 0
    assert frozen["gen2"]["scanned"] + frozen["gen1"]["scanned"] < thawed["gen2"]["scanned"] + thawed["gen1"]["scanned"]


def test_verifier_catches_a_wrong_count(tmp_path):
    # the recount is independent: a count one too high (a leaked reference) is reported
    holder = {}
    text = TRACE_HEAD + "alloc 0 1 16\nalloc 1 0 16\nstore 0 0 1\n"
    path = tmp_path / "t.trace"
    path.write_text(text)
    gcbench.run("refcount", "trace-replay", params={"path": str(path)}, heap="4M",
                on_heap=lambda h: holder.setdefault("heap", h))
    heap = holder["heap"]
    heap.verify()
    refcount.test_only_add_reference(heap, 1)
    with pytest.raises(HeapError, match="reference count 3, but 2 references"):
        heap.verify()


def load_fidelity_cpython():
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "benchmarks", "fidelity_cpython.py")
    spec = importlib.util.spec_from_file_location("fidelity_cpython", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_collections_per_generation_match_the_running_interpreter():
    # the fixed program shape of benchmarks/fidelity_cpython.py, run in a fresh CPython
    # (timed by gc.callbacks) and in the model with this interpreter's thresholds
    import gc
    fid = load_fidelity_cpython()
    real, _ = fid.real_counting(300000)
    model = fid.model_counting(300000, thresholds=gc.get_threshold())
    for g in fid.GENERATIONS:
        r, m = real[g]["collections"], model[g]["collections"]
        assert r > 0, g
        assert abs(m - r) <= max(0.25 * r, 1), (g, r, m)


def test_pauses_by_generation_in_gctrace_and_the_pause_chart(tmp_path):
    from gcbench.report import gotrace, plots
    r = gcbench.run("refcount", "python-cycles", heap="64M", params={"ops": 60000})
    kinds = set(r["pause_kinds"])
    assert {"gen0", "gen1"} <= kinds
    lines = gotrace.gctrace_lines(r)
    assert {line.rsplit(" ", 1)[1] for line in lines} == kinds
    rows = plots.pause_rows_by_kind("refcount", r)
    assert [row for row, _ in rows] == [f"refcount {k}" for k in ("gen0", "gen1", "gen2") if k in kinds]
    assert sum(len(ns) for _, ns in rows) == len(r["pauses_ns"])
    r["name"] = "refcount"
    paths = plots.render([r], str(tmp_path), kinds=["pauses"])
    assert paths and all(p.endswith(".png") for p in paths)
