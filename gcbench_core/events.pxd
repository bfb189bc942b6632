# cython: language_level=3
#
# events.pxd: the event log (Go's gctrace lines and GODEBUG events): one PauseRecord per
# stop-the-world pause and one CycleRecord per collection cycle, in growable arrays that
# ManagedHeap.pauses()/cycles() copy out as numpy arrays (PAUSE_DTYPE, CYCLE_DTYPE).
#
# Only the heap's cycle room (cycle.pyx: cycle_begin / cycle_pause / cycle_end) writes
# here; collectors never touch a record.  Invariants: a pause belongs to the cycle that
# was open (or last opened) when it was recorded (PauseRecord.cycle = cycles so far);
# at most one cycle is open at a time (EventLog.open_cycle, -1 when none).

from libc.stdint cimport int64_t

# Pause kinds (PauseRecord.kind); names in heap.pyx PAUSE_KIND_NAMES.
cdef enum:
    PAUSE_STW_COLLECT = 0            # a whole stop-the-world collection
    PAUSE_MARK_START = 1             # sweep termination + mark setup (Go: STW sweep termination)
    PAUSE_MARK_TERMINATION = 2       # Go: STW mark termination
    PAUSE_FULL_GC = 3                # a forced full collection (runtime.GC(), out of memory)
    # CPython's cycle detector (refcount): a collection of generation 0, 1, 2 (up to
    # 3.13), or 3.14's young collection and incremental collection (young + an increment)
    PAUSE_GEN0 = 4
    PAUSE_GEN1 = 5
    PAUSE_GEN2 = 6
    PAUSE_YOUNG = 7
    PAUSE_INCREMENT = 8
    PAUSE_MINOR = 9                  # generational: a nursery (young-generation) collection
    PAUSE_MAJOR = 10                 # generational: a minor collection followed by a mature one

# Cycle kinds (CycleRecord.kind); names in heap.pyx CYCLE_KIND_NAMES.  Every cycle of a
# non-generational plan is `full` (the zeroed record's value).
cdef enum:
    CYCLE_FULL = 0                   # the whole heap (every non-generational cycle)
    CYCLE_MINOR = 1                  # the young generation only
    CYCLE_MAJOR = 2                  # young and old, started by the pacer (not forced)

ctypedef struct PauseRecord:
    int64_t start_ns
    int64_t end_ns
    int64_t kind
    int64_t cycle
    int64_t stopping_ns              # of the pause, the time to safepoint: from the stop request
                                     # until the last mutator thread stopped (0: one thread)

ctypedef struct CycleRecord:
    int64_t start_ns                 # first stop of the cycle
    int64_t end_ns                   # world restarted after the last stop
    int64_t heap_before              # heap in use when the cycle started
    int64_t heap_after               # heap in use at mark termination (after sweep for STW)
    int64_t live_bytes               # bytes marked live
    int64_t live_objects
    int64_t goal_bytes               # next heap goal set at the end of the cycle
    int64_t mark_ns                  # wall time of marking (concurrent part included)
    int64_t sweep_ns                 # sweeping inside the pause (STW collectors)
    int64_t forced                   # 1: runtime.GC() or out of memory
    int64_t kind                     # CYCLE_FULL, CYCLE_MINOR, CYCLE_MAJOR
    int64_t young_bytes              # generational: bytes allocated young since the last cycle
    int64_t survived_bytes           # generational: of those, bytes that survived (copied or kept)
    int64_t cycle_goal_bytes         # the goal this cycle aimed at (-1: none); gctrace's goal
    int64_t gc_cpu_ns                # GC CPU in Go's sense since the run began, at the end
    int64_t stack_scan_bytes         # goroutine stack slots scanned in the cycle, x 8 (Go's /gc/scan/stack)
    int64_t stack_scan_pause_bytes   # of those, scanned inside the cycle's pauses
    # marking (cycle_note_marking; 0 when the plan does not say): the markers that marked,
    # their summed thread CPU over the mark phase (CPU > mark_ns proves they overlapped),
    # and the objects marked by markers other than the first (the pausing thread, or the
    # first background worker)
    int64_t markers
    int64_t mark_cpu_ns
    int64_t mark_helper_objects
    # concurrent plans: objects marked inside the mark-termination pause, the work the
    # concurrent mark left to it (short pauses need it small; stop-the-world plans mark
    # everything in their one pause and leave it 0)
    int64_t termination_marked_objects

ctypedef struct EventLog:
    PauseRecord* pauses
    int64_t npauses
    int64_t pauses_cap
    CycleRecord* cycles
    int64_t ncycles
    int64_t cycles_cap
    int64_t open_cycle               # index of the cycle under way, -1: none
    int64_t stw_ns                   # total time of all pauses

# Allocate the arrays; false when out of memory.
cdef bint events_init(EventLog* log) noexcept nogil
cdef void events_free(EventLog* log) noexcept nogil
# Append a pause of cycle `cycle` (dropped if the array cannot grow).
cdef void events_add_pause(EventLog* log, int kind, int64_t start_ns, int64_t end_ns, int64_t cycle) noexcept nogil
# Append a zeroed cycle record and make it the open one; NULL when out of memory.
cdef CycleRecord* events_open_cycle(EventLog* log) noexcept nogil
