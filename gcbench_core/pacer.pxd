# cython: language_level=3
#
# pacer.pxd: the pacer room (Go's mgcpacer.go): when the next cycle starts and how much
# the mutator may allocate before it is asked again.  Its state is the `Pacer` struct,
# one per heap (HeapState.pacer); its functions take only that struct and numbers, so a
# later pacer (Go 1.18+'s) replaces this file and pacer.pyx and nothing else.
#
#   goal     (every paced plan)  goal = marked * (1 + GOGC/100), at least 4 MiB * GOGC/100;
#            GOGC < 0: goal = trigger = INT64_MAX (never).
#   trigger  TRIGGER_AT_GOAL (stop-the-world plans): the trigger is the goal.
#            TRIGGER_RUNWAY (concurrent plans, Go 1.5-1.17's model): trigger = goal - runway,
#            runway = cons * expected scan work, bounded to [60%, 95%] of live -> goal;
#            cons = allocation per unit of scan work last cycle (per CPU second of mutator
#            and marker, scaled by (1 - u) / u; bytes per byte when deterministic).
#   polls    next_poll_bytes: the alloc_bytes at which the collector's alloc hook runs
#            again: when the heap in use reaches the trigger, at most `cap` bytes later.
#   assists  bytes of scan work owed per byte allocated while marking (Go's
#            assistWorkPerByte = remaining scan work / heap left before the goal).
#   sweeping spans to sweep per poll so that sweeping ends before the next trigger.
# Invariant: live <= trigger <= goal whenever GOGC >= 0 and a cycle has ended.

from libc.stdint cimport int64_t

cdef enum:
    TRIGGER_AT_GOAL = 0
    TRIGGER_RUNWAY = 1

ctypedef struct Pacer:
    int gogc                         # < 0: off
    int trigger_model                # TRIGGER_AT_GOAL or TRIGGER_RUNWAY
    int64_t heap_goal
    int64_t heap_trigger
    int64_t last_marked_bytes
    int64_t goal_overruns            # cycles in which the heap passed the goal while marking
    # --- TRIGGER_RUNWAY only ---
    int deterministic                # cons in bytes per byte of scan work (no clocks)
    double utilization               # background marking's target share of one core
    double cons                      # allocation per unit of scan work (smoothed)
    int have_cons
    int64_t expected_scan            # scan work expected this cycle (the last cycle's)
    int64_t mark_start_alloc_bytes   # snapshots taken at mark start
    int64_t mark_start_mut_cpu
    int64_t mark_start_bg_cpu
    int64_t mark_start_assist_ns

# Start pacing with GOGC `gogc` (< 0: off); the goal of an empty heap.
cdef void pacer_init(Pacer* p, int gogc) noexcept nogil
# A concurrent plan's trigger model: the first trigger is the lower bound of an empty heap.
cdef void pacer_use_runway(Pacer* p, double utilization, bint deterministic) noexcept nogil
# Goal from the bytes found live (and the trigger, for TRIGGER_AT_GOAL).
cdef void pacer_set_goal(Pacer* p, int64_t marked_bytes) noexcept nogil
# TRIGGER_RUNWAY at mark start: take the snapshots the end of the cycle measures against.
cdef void pacer_mark_start(Pacer* p, int64_t alloc_bytes, int64_t in_use, int64_t mut_cpu_ns,
                           int64_t bg_cpu_ns, int64_t assist_ns) noexcept nogil
# TRIGGER_RUNWAY at the end of a cycle (after pacer_set_goal): measure cons, set the trigger.
cdef void pacer_update_trigger(Pacer* p, int64_t live, int64_t scan_work, bint forced,
                               int64_t alloc_bytes, int64_t mut_cpu_ns, int64_t bg_cpu_ns,
                               int64_t assist_ns) noexcept nogil
# alloc_bytes at which to poll next: when in_use reaches the trigger, at most `cap` bytes
# from now (cap <= 0: no cap).
cdef int64_t pacer_next_poll_bytes(Pacer* p, int64_t alloc_bytes, int64_t in_use, int64_t cap) noexcept nogil
# Scan work the mutator owes for `allocated` bytes (`done` scanned so far this cycle,
# `heap_left` before the goal); < 0: the heap is at the goal, drain everything.
cdef double pacer_assist_work(Pacer* p, int64_t allocated, int64_t done, int64_t heap_left,
                              int64_t poll_bytes) noexcept nogil
# Spans to sweep per poll of `poll_bytes`, so that `pages` of spans are swept before the trigger.
cdef int64_t pacer_sweep_spans_per_poll(Pacer* p, int64_t pages, int64_t in_use, int64_t poll_bytes) noexcept nogil
