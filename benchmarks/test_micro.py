"""Micro-benchmarks of the kernels (pytest-benchmark):

    pytest benchmarks/ --benchmark-only --benchmark-json=micro.json

Each benchmark times one nogil kernel of gcbench_core.microbench; the figure that matters
(ns per object or per store, timed inside the kernel) is in extra_info, next to the
same-process baseline it should be read against.
"""
import pytest

from gcbench import registry
from gcbench_core import microbench as mb
from gcbench_core.collectors import marksweep, nogc
from gcbench_core.heap import ManagedHeap

N = 1_000_000


def fresh(collector=marksweep, heap_bytes=1 << 30, gogc=None):
    heap = ManagedHeap(heap_bytes, gogc)
    collector.attach(heap, {})
    return heap


def test_alloc_fast_path(benchmark):
    heap = fresh(marksweep, 256 << 20, 100)
    mb.alloc_ns(heap, 4 * N)                       # warm: spans swept and reused
    ns = benchmark(mb.alloc_ns, heap, N)
    benchmark.extra_info.update(ns_per_object=ns, freelist_ns=mb.freelist_pop_ns(N),
                                malloc_ns=mb.malloc_ns(N, 32))


def test_bump_alloc_fast_path(benchmark):
    # semispace's to-space (gencopy's nursery takes the same inline path): a 128 MiB heap
    # whose halves are both touched first, so no page fault is timed; a collection (nothing
    # live: microseconds) every 2 M objects
    from gcbench_core.collectors import semispace
    heap = ManagedHeap(128 << 20, None)
    semispace.attach(heap, {})
    mb.alloc_ns(heap, 6 * N)
    ns = benchmark(mb.alloc_ns, heap, N)
    ns = min([ns] + [mb.alloc_ns(heap, N) for _ in range(5)])
    c_ns = min(mb.bump_loop_ns(N) for _ in range(5))
    ratio = ns / c_ns
    benchmark.extra_info.update(ns_per_object=ns, c_bump_loop_ns=c_ns, ratio=ratio)
    verdict = "PASS" if ratio <= 1.5 else "MISS"
    print(f"\nbump fast path {ns:.2f} ns/object, C bump loop {c_ns:.2f} ns/object: "
          f"ratio {ratio:.2f} {verdict} (target <= 1.5)")


def test_alloc_fresh_arena(benchmark):
    ns = benchmark.pedantic(lambda: mb.alloc_ns(fresh(nogc), N), rounds=3)
    benchmark.extra_info["ns_per_object"] = ns


@pytest.mark.parametrize("shuffled", [False, True], ids=["tree-in-allocation-order", "shuffled-random-graph"])
def test_mark(benchmark, shuffled):
    heap = fresh()
    mb.build_tree(heap, N, shuffled)
    ns = benchmark.pedantic(mb.mark_ns, args=(heap, 1), rounds=3)
    benchmark.extra_info["ns_per_object"] = ns


def test_sweep(benchmark):
    heap = fresh()
    ns = benchmark.pedantic(mb.sweep_ns, args=(heap, N), rounds=3)
    benchmark.extra_info["ns_per_object_freed"] = ns


def test_barrier_fast_path_marking_off(benchmark):
    heap = fresh()
    ns = benchmark(mb.store_ns, heap, 10 * N, True)
    benchmark.extra_info.update(ns_per_store=ns, plain_store_ns=mb.store_ns(heap, 10 * N, False))


@pytest.mark.skipif("tricolor" not in registry.collectors(), reason="no tricolor collector")
@pytest.mark.parametrize("barrier", ["dijkstra", "yuasa", "hybrid"])
def test_barrier_slow_path_marking_on(benchmark, barrier):
    ns = benchmark.pedantic(mb.store_ns_marking, args=(barrier, 10 * N), rounds=3)
    benchmark.extra_info["ns_per_store"] = ns


def test_stack_write_hook_off(benchmark):
    # the stack-slot hook (mutator.pxd mut_set_stack) under a collector that does not
    # count stack slots, against plain stores in the same process
    heap = fresh()
    ns = benchmark(mb.stack_write_ns, heap, 10 * N, True)
    benchmark.extra_info.update(ns_per_write=ns, plain_store_ns=mb.stack_write_ns(heap, 10 * N, False))


def test_pool_get_put(benchmark):
    heap = fresh(marksweep, 64 << 20, 100)
    ns = benchmark(mb.pool_get_put_ns, heap, N)
    benchmark.extra_info["ns_per_get_put"] = ns
