# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""cycle: the heap-owned collection cycle and the one stop-the-world collection
(contract in cycle.pxd).

Event times are on the run's clock, which leaves out verification (--verify): every
recorded start and end is the monotonic time minus the verification time so far, as the
run's wall time leaves it out, so pauses stay inside the run and MMU does not change
with --verify.  (Verification runs after a cycle's last pause, never inside one.)"""
from libc.stdint cimport int64_t, INT64_MAX
from gcbench_core.heap cimport (HeapState, CycleRecord, gcb_now_ns, gcb_thread_cpu_ns, heap_fail, gcb_load_i64,
                                heap_in_use, heap_mark_roots, heap_drain, heap_flip, heap_sweep_all,
                                ERR_INTERNAL, MAX_STACK_SLOTS, heap_stop_world, heap_start_world)
from gcbench_core.events cimport events_open_cycle, events_add_pause
from gcbench_core.pacer cimport pacer_set_goal, pacer_update_trigger, pacer_gc_cpu_ns, TRIGGER_RUNWAY
from gcbench_core.verify cimport verify_end_of_cycle
from gcbench_core.parmark cimport ParMark, parmark_mark


cdef int64_t cycle_begin(HeapState* heap, bint forced) noexcept nogil:
    cdef int64_t heap_before = heap_in_use(heap)
    cdef CycleRecord* cycle = events_open_cycle(&heap.events)
    cdef int64_t t0
    if cycle == NULL:
        heap_fail(heap, ERR_INTERNAL, "out of memory for the cycle log")
        return gcb_now_ns()
    t0 = gcb_now_ns()
    if heap.mt.request_ns != 0:
        t0 = heap.mt.request_ns      # mutator threads: the pause began with the stop request
    cycle.start_ns = t0 - heap.verifier.verify_ns
    cycle.heap_before = heap_before
    cycle.forced = forced
    heap.goroutines.cycle_scan_slots0 = gcb_load_i64(&heap.goroutines.scan_slots)
    heap.goroutines.cycle_scan_pause_slots0 = gcb_load_i64(&heap.goroutines.scan_pause_slots)
    if heap.cycle_start_hook != NULL:
        heap.cycle_start_hook(heap)
    return t0

cdef void cycle_pause(HeapState* heap, int kind, int64_t t0, int64_t t1) noexcept nogil:
    cdef int64_t n = heap.events.npauses
    events_add_pause(&heap.events, kind, t0 - heap.verifier.verify_ns, t1 - heap.verifier.verify_ns,
                     heap.events.ncycles)
    if heap.mt.request_ns != 0 and t0 == heap.mt.request_ns and heap.events.npauses > n:
        # the pause of a stop-the-world handshake: its time to safepoint
        heap.events.pauses[n].stopping_ns = heap.mt.stopping_ns

# Scannable roots in bytes (Go's stack and globals scan work in the goal).
cdef inline int64_t roots_bytes(HeapState* heap) noexcept nogil:
    cdef int64_t n = heap.roots.nstack + heap.roots.nglobals + heap.mt.count * MAX_STACK_SLOTS
    cdef int i
    for i in range(heap.roots.nextra_roots):
        n += heap.roots.extra_roots[i].count
    return n * 8

cdef int64_t cycle_end(HeapState* heap, int kind, int64_t t0, CycleResult* r) noexcept nogil:
    cdef CycleRecord* cycle
    cdef int64_t t1
    cdef int64_t cycle_goal = heap.pacer.cycle_goal
    if r.paced:
        if heap.pacer.trigger_model == TRIGGER_RUNWAY:
            heap.pacer.roots_bytes = roots_bytes(heap)
            if cycle_goal != INT64_MAX and r.heap_after > cycle_goal:
                heap.pacer.goal_overruns += 1
        pacer_set_goal(&heap.pacer, r.live_bytes)
        if heap.pacer.trigger_model == TRIGGER_RUNWAY:
            pacer_update_trigger(&heap.pacer, r.live_bytes, r.scan_work, r.forced, heap.alloc_bytes,
                                 gcb_now_ns(), gcb_thread_cpu_ns(), heap.background_cpu_ns,
                                 heap.assist_ns)
    else:
        heap.pacer.last_marked_bytes = r.live_bytes
    if r.live_bytes > heap.peak_live_bytes:
        heap.peak_live_bytes = r.live_bytes
    t1 = gcb_now_ns()
    cycle_pause(heap, kind, t0, t1)
    if heap.events.open_cycle < 0:
        return t1
    cycle = &heap.events.cycles[heap.events.open_cycle]
    heap.events.open_cycle = -1
    cycle.end_ns = t1 - heap.verifier.verify_ns
    cycle.heap_after = r.heap_after
    cycle.live_bytes = r.live_bytes
    cycle.live_objects = r.live_objects
    cycle.goal_bytes = heap.pacer.heap_goal if r.paced and heap.pacer.gogc >= 0 else -1
    cycle.mark_ns = r.mark_ns
    cycle.sweep_ns = t1 - r.sweep_start_ns if r.sweep_start_ns > 0 else 0
    cycle.forced = r.forced
    cycle.cycle_goal_bytes = cycle_goal if r.paced and cycle_goal != INT64_MAX else -1
    cycle.gc_cpu_ns = pacer_gc_cpu_ns(&heap.pacer, heap.events.stw_ns, heap.assist_ns)
    cycle.stack_scan_bytes = (gcb_load_i64(&heap.goroutines.scan_slots) - heap.goroutines.cycle_scan_slots0) * 8
    cycle.stack_scan_pause_bytes = (gcb_load_i64(&heap.goroutines.scan_pause_slots)
                                    - heap.goroutines.cycle_scan_pause_slots0) * 8
    verify_end_of_cycle(heap, r.marks_intact)
    return t1

cdef void heap_collect_stw(HeapState* heap, int kind, bint forced) noexcept nogil:
    cdef CycleResult r
    cdef int64_t t0
    cdef int64_t cpu0, mark_cpu = 0, helper_objects = 0
    cdef ParMark* pm = <ParMark*>heap.par_mark
    heap_stop_world(heap)                # mutator threads: the handshake (else nothing)
    t0 = cycle_begin(heap, forced)
    cpu0 = gcb_thread_cpu_ns()
    if pm != NULL:
        # markers=N: the pausing thread and N-1 parked helpers (parmark.pyx)
        heap.marked_objects_total += parmark_mark(heap, pm, &mark_cpu, &helper_objects)
    else:
        heap_mark_roots(heap, heap.mark_stack, True)
        heap.marked_objects_total += heap_drain(heap, heap.mark_stack)
        mark_cpu = gcb_thread_cpu_ns() - cpu0
    cycle_note_marking(heap, pm.nmarkers if pm != NULL else 1, mark_cpu, helper_objects)
    r.sweep_start_ns = gcb_now_ns()
    r.mark_ns = r.sweep_start_ns - t0
    heap_flip(heap)
    heap_sweep_all(heap)
    r.live_bytes = heap_in_use(heap)
    r.heap_after = r.live_bytes
    r.live_objects = heap.alloc_count - heap.freed_count
    r.scan_work = 0
    r.forced = forced
    r.paced = True
    r.marks_intact = False
    cycle_end(heap, kind, t0, &r)
    heap_start_world(heap)

cdef void cycle_note_generation(HeapState* heap, int kind, int64_t young_bytes, int64_t survived_bytes) noexcept nogil:
    cdef CycleRecord* cycle
    if heap.events.open_cycle < 0:
        return
    cycle = &heap.events.cycles[heap.events.open_cycle]
    cycle.kind = kind
    cycle.young_bytes = young_bytes
    cycle.survived_bytes = survived_bytes

cdef void cycle_note_marking(HeapState* heap, int markers, int64_t cpu_ns, int64_t helper_objects) noexcept nogil:
    cdef CycleRecord* cycle
    if heap.events.open_cycle < 0:
        return
    cycle = &heap.events.cycles[heap.events.open_cycle]
    cycle.markers = markers
    cycle.mark_cpu_ns = cpu_ns
    cycle.mark_helper_objects = helper_objects

cdef void cycle_note_termination(HeapState* heap, int64_t marked_objects) noexcept nogil:
    if heap.events.open_cycle >= 0:
        heap.events.cycles[heap.events.open_cycle].termination_marked_objects = marked_objects
