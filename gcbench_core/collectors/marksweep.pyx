# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""marksweep: stop-the-world mark-sweep (McCarthy 1960, with Go's heap layout).

Algorithm.  When the heap reaches the pacer's goal, the mutator stops and the whole
collection runs in one pause:
  1. cycle start: run the heap's cycle-start hook (the Pool drops its victim cache);
  2. mark: grey every root (stack slots, globals, extra roots), then pop grey objects
     from an explicit mark stack and mark-and-push their white children (never
     recursion; marking on push so an object enters the stack at most once);
  3. sweep: flip the sweep generation and sweep every span, making the mark bits the
     alloc bits (Go's allocBits = gcmarkBits) and returning empty spans' pages;
  4. set the next goal from the bytes that survived: goal = live * (1 + GOGC/100).
Invariant: when the pause ends, every allocated object was reachable at its start and
every mark bit is clear.  The pause (kind stw-collect) is timed around steps 1-4.
"""
from libc.stdint cimport int64_t, INT64_MAX
from gcbench_core.plan import PlanConstraints
from libc.stdlib cimport calloc, free
from gcbench_core.heap cimport (collector_noop, collector_never_collects, HeapState, ManagedHeap, MarkStack, CycleRecord, gcb_now_ns,
                                heap_in_use, heap_mark_roots, heap_drain, heap_flip,
                                heap_sweep_all, heap_set_goal, heap_record_pause,
                                heap_new_cycle, heap_cycle_done, mark_stack_free,
                                PAUSE_STW_COLLECT)

NAME = "marksweep"
DESCRIPTION = "stop-the-world mark-sweep: one pause marks from the roots and sweeps the whole heap"
OPTIONS = {}
CONSTRAINTS = PlanConstraints()

ctypedef struct MarkSweepState:
    MarkStack mark_stack
    int64_t stress_count

cdef void collect_now(HeapState* heap, bint forced) noexcept nogil:
    cdef MarkSweepState* state = <MarkSweepState*>heap.collector.state
    cdef int64_t start_ns, mark_end_ns, end_ns, live
    cdef int64_t heap_before = heap_in_use(heap)
    cdef CycleRecord* cycle = heap_new_cycle(heap)
    start_ns = gcb_now_ns()
    if heap.cycle_start_hook != NULL:
        heap.cycle_start_hook(heap)
    heap_mark_roots(heap, &state.mark_stack, True)
    heap.marked_objects_total += heap_drain(heap, &state.mark_stack)
    mark_end_ns = gcb_now_ns()
    heap_flip(heap)
    heap_sweep_all(heap)
    live = heap_in_use(heap)
    heap_set_goal(heap, live)
    if heap.gogc < 0:
        heap.next_poll_bytes = INT64_MAX
    else:
        heap.next_poll_bytes = heap.alloc_bytes + (heap.heap_trigger - live)
    end_ns = gcb_now_ns()
    heap_record_pause(heap, PAUSE_STW_COLLECT, start_ns, end_ns)
    cycle.start_ns = start_ns
    cycle.end_ns = end_ns
    cycle.heap_before = heap_before
    cycle.heap_after = live
    cycle.live_bytes = live
    cycle.live_objects = heap.alloc_count - heap.freed_count
    cycle.goal_bytes = heap.heap_goal if heap.gogc >= 0 else -1
    cycle.mark_ns = mark_end_ns - start_ns
    cycle.sweep_ns = end_ns - mark_end_ns
    cycle.forced = forced
    heap_cycle_done(heap, cycle)

cdef void ms_alloc_hook(HeapState* heap) noexcept nogil:
    cdef MarkSweepState* state = <MarkSweepState*>heap.collector.state
    if heap.stress_allocs > 0:
        # stress mode: a collection every stress_allocs allocations (the hook runs at
        # every allocation: next_poll_bytes stays at the current count)
        state.stress_count += 1
        if state.stress_count >= heap.stress_allocs:
            state.stress_count = 0
            collect_now(heap, False)
        heap.next_poll_bytes = heap.alloc_bytes
        return
    if heap_in_use(heap) >= heap.heap_trigger:
        collect_now(heap, False)
    elif heap.gogc < 0:
        heap.next_poll_bytes = INT64_MAX
    else:
        heap.next_poll_bytes = heap.alloc_bytes + (heap.heap_trigger - heap_in_use(heap))

cdef void ms_collect_forced(HeapState* heap) noexcept nogil:
    collect_now(heap, True)

cdef void ms_destroy(HeapState* heap) noexcept nogil:
    cdef MarkSweepState* state = <MarkSweepState*>heap.collector.state
    if state != NULL:
        mark_stack_free(&state.mark_stack)
        free(state)
        heap.collector.state = NULL

def attach(ManagedHeap heap, dict opts):
    cdef HeapState* h = heap.state
    cdef MarkSweepState* state = <MarkSweepState*>calloc(1, sizeof(MarkSweepState))
    if state == NULL:
        raise MemoryError()
    h.collector.state = state
    h.collector.name = b"marksweep"
    h.collector.alloc_hook = ms_alloc_hook
    h.collector.out_of_memory = ms_collect_forced
    h.collector.collect = ms_collect_forced
    h.collector.finish = collector_noop
    h.collector.destroy = ms_destroy
    h.next_poll_bytes = 0 if h.stress_allocs > 0 else h.heap_trigger
