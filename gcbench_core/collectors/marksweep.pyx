# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""marksweep: stop-the-world mark-sweep (McCarthy 1960, with Go's heap layout).

The plan: when the heap in use reaches the pacer's trigger (= its goal: Go's GOGC rule),
the mutator stops and the heap's one stop-the-world collection (the cycle room's
heap_collect_stw) runs in a single pause of kind stw-collect:
  1. cycle start: the heap's cycle-start hooks (the Pool drops its victim cache);
  2. mark: grey every root, then drain an explicit mark stack (mark-on-push, through a
     prefetch FIFO of `prefetch` objects); with markers=N > 1, N markers drain in
     parallel with work stealing (parmark.pyx: the pausing thread and N-1 helper threads
     parked between collections);
  3. sweep: flip the sweep generation and sweep every span of every space;
  4. the pacer sets the next goal from the bytes that survived.
Invariant: when the pause ends, every allocated object was reachable at its start and
every mark bit is clear.  Spaces: size classes and large objects; no barrier.
"""
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free
from gcbench_core.plan import PlanConstraints
from gcbench_core.heap cimport (HeapState, ManagedHeap, heap_in_use, collector_init, PAUSE_STW_COLLECT,
                                PREFETCH_DEFAULT)
from gcbench_core.cycle cimport heap_collect_stw
from gcbench_core.pacer cimport pacer_next_poll_bytes
from gcbench_core.parmark cimport ParMark, MAX_MARKERS, parmark_new, parmark_free, parmark_stop_threads

NAME = "marksweep"
DESCRIPTION = "stop-the-world mark-sweep: one pause marks from the roots and sweeps the whole heap"
OPTIONS = {
    "markers": {"type": "int", "default": 1, "min": 1, "max": MAX_MARKERS,
                "help": "mark threads in the pause: the pausing thread plus markers-1 helper "
                        "threads, work stealing between them (1: the single-threaded mark)"},
    "prefetch": {"type": "int", "default": PREFETCH_DEFAULT, "choices": (1, 2, 4, 8, 16, 32, 64),
                 "help": "objects the mark loop looks ahead: popped objects wait in a FIFO of "
                         "this depth and are prefetched as they enter it (1: no look-ahead)"},
}
CONSTRAINTS = PlanConstraints(multi_mutator=True)

ctypedef struct MarkSweepState:
    int64_t stress_count

cdef void collect(HeapState* heap, bint forced) noexcept nogil:
    heap_collect_stw(heap, PAUSE_STW_COLLECT, forced)
    heap.next_poll_bytes = pacer_next_poll_bytes(&heap.pacer, heap.alloc_bytes, heap_in_use(heap), 0)

cdef void ms_alloc_hook(HeapState* heap) noexcept nogil:
    cdef MarkSweepState* state = <MarkSweepState*>heap.collector.state
    if heap.stress_allocs > 0:
        # stress mode: a collection every stress_allocs allocations (the hook runs at
        # every allocation: next_poll_bytes stays at the current count)
        state.stress_count += 1
        if state.stress_count >= heap.stress_allocs:
            state.stress_count = 0
            collect(heap, False)
        heap.next_poll_bytes = heap.alloc_bytes
    elif heap_in_use(heap) >= heap.pacer.heap_trigger:
        collect(heap, False)
    else:
        heap.next_poll_bytes = pacer_next_poll_bytes(&heap.pacer, heap.alloc_bytes, heap_in_use(heap), 0)

cdef void ms_collect_forced(HeapState* heap) noexcept nogil:
    collect(heap, True)

cdef void ms_finish(HeapState* heap) noexcept nogil:
    parmark_stop_threads(<ParMark*>heap.par_mark)     # a later collect() restarts them

cdef void ms_destroy(HeapState* heap) noexcept nogil:
    parmark_free(<ParMark*>heap.par_mark)
    heap.par_mark = NULL
    free(heap.collector.state)
    heap.collector.state = NULL

def attach(ManagedHeap heap, dict opts):
    cdef HeapState* h = heap.state
    collector_init(heap, NAME)
    h.collector.state = calloc(1, sizeof(MarkSweepState))
    if h.collector.state == NULL:
        raise MemoryError()
    h.collector.alloc_hook = ms_alloc_hook
    h.collector.out_of_memory = ms_collect_forced
    h.collector.collect = ms_collect_forced
    h.collector.destroy = ms_destroy
    h.collector.finish = ms_finish
    h.prefetch_depth = opts.get("prefetch", PREFETCH_DEFAULT)
    if opts.get("markers", 1) > 1:
        h.par_mark = parmark_new(h, opts["markers"])
        if h.par_mark == NULL:
            raise MemoryError()
    h.next_poll_bytes = 0 if h.stress_allocs > 0 else pacer_next_poll_bytes(&h.pacer, h.alloc_bytes, heap_in_use(h), 0)
