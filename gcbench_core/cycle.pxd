# cython: language_level=3
#
# cycle.pxd: the collection cycle, owned by the heap (Go's gcStart / gcMarkTermination
# bookkeeping).  Every plan's cycle goes through these three calls, so the cycle log,
# the pauses, the cycle-start hooks, the pacer and the verifier are the same for all:
#
#   cycle_begin(heap, forced)   opens the CycleRecord (start time, heap before) and runs
#                               the cycle-start hooks (the Pool's cleanup); returns the
#                               start time, which is the start of the cycle's first pause.
#   cycle_pause(heap, kind, t0, t1)   records a pause of the open cycle.
#   cycle_end(heap, kind, t0, result) inside the cycle's last pause (begun at t0): asks
#                               the pacer for the next goal (and trigger), takes the end
#                               time, records the pause, fills the record from `result`,
#                               then (outside the pause) verifies the marks if intact,
#                               applies test-only corruption and verifies the heap.
#   heap_collect_stw(heap, kind, forced)   the one stop-the-world collection: begin, mark
#                               from every root and drain (with heap.par_mark's markers
#                               when the plan set one: markers=N), flip, sweep everything, end;
#                               one pause of `kind`.  After it, the heap in use is exactly
#                               the reachable objects.
# Invariants: one cycle is open at a time; a plan never writes a CycleRecord field nor
# calls a cycle hook itself; pause time never includes verification.

from libc.stdint cimport int64_t
from gcbench_core.heap cimport HeapState

# What a plan measured over a cycle, for cycle_end.
ctypedef struct CycleResult:
    int64_t heap_after               # heap in use at the end of marking (after sweep for STW)
    int64_t live_bytes               # bytes found live: the pacer's marked bytes
    int64_t live_objects
    int64_t mark_ns                  # wall time of marking
    int64_t sweep_start_ns           # > 0: sweeping ran inside the last pause from this time
    int64_t scan_work                # scan work of the cycle (TRIGGER_RUNWAY pacing; 0: none)
    bint forced                      # finished for runtime.GC() or out of memory
    bint paced                       # the heap's pacer sets the next goal (not libgc's)
    bint marks_intact                # the mark bits are this cycle's (nothing swept yet)

cdef int64_t cycle_begin(HeapState* heap, bint forced) noexcept nogil
cdef void cycle_pause(HeapState* heap, int kind, int64_t t0, int64_t t1) noexcept nogil
cdef int64_t cycle_end(HeapState* heap, int kind, int64_t t0, CycleResult* result) noexcept nogil
cdef void heap_collect_stw(HeapState* heap, int kind, bint forced) noexcept nogil
# Generational plans: the open cycle's kind (CYCLE_MINOR / CYCLE_MAJOR / CYCLE_FULL) and
# its young-generation figures (bytes allocated young since the last cycle, bytes of
# them that survived); called before cycle_end.
cdef void cycle_note_generation(HeapState* heap, int kind, int64_t young_bytes, int64_t survived_bytes) noexcept nogil
# The open cycle's marking figures: how many markers marked, their summed thread CPU over
# the mark phase, the objects marked by markers other than the first; called before
# cycle_end (heap_collect_stw calls it; tricolor for its concurrent mark).
cdef void cycle_note_marking(HeapState* heap, int markers, int64_t cpu_ns, int64_t helper_objects) noexcept nogil
# The open cycle's objects marked inside its mark-termination pause (concurrent plans).
cdef void cycle_note_termination(HeapState* heap, int64_t marked_objects) noexcept nogil
