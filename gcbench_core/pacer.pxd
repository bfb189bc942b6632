# cython: language_level=3
#
# pacer.pxd: the pacer room (Go's mgcpacer.go and mgclimit.go): when the next cycle starts,
# how much the mutator may allocate before it is asked again, how much it assists, and the
# GC CPU limiter.  Its state is the `Pacer` struct, one per heap (HeapState.pacer); its
# functions take only that struct and numbers.
#
#   goal     TRIGGER_AT_GOAL (stop-the-world plans): marked * (1 + GOGC/100), at least
#            4 MiB * GOGC/100.  TRIGGER_RUNWAY (concurrent plans, Go 1.18+, proposal 44167):
#            marked + (marked + scannable roots) * GOGC/100, same floor.  Either way the
#            goal is then the smaller of that and the memory-limit goal (below).  GOGC off:
#            the memory-limit goal alone, or never (INT64_MAX) without a limit.
#   memory   memory_limit (GOMEMLIMIT; INT64_MAX: none) and, for TRIGGER_RUNWAY, the arena:
#   limit    a fixed arena smaller than the GOGC goal is a memory limit too.  What counts
#            against it is pages in use (Go: mapped, not released), so the heap goal is
#            limit * (1 - 3% headroom) / overhead, overhead = pages in use / bytes in use,
#            measured when the heap was last fully swept.
#   heap     heap_live = heap_marked + bytes allocated since the last mark termination (Go's
#   live     heapLive): unswept garbage never counts, where heap in use would.
#   trigger  TRIGGER_AT_GOAL: the goal, compared with heap in use.  TRIGGER_RUNWAY: goal -
#            runway, runway = cons/mark * (1 - u) / u * expected scan work (u = 0.25, Go's
#            gcGoalUtilization); cons/mark = max of this cycle's and the last 4 (Go 1.19+);
#            bounded to [70%, 95%] of the way from heap_marked to the goal (goal - 4 MiB
#            for large heaps), compared with heap_live.
#   polls    next_poll_bytes: the alloc_bytes at which the collector's alloc hook runs again.
#   assists  scan work owed per byte allocated while marking (Go's assistWorkPerByte =
#            remaining scan work / heap left before the goal); at the goal the mutator drains.
#   workers  GOMAXPROCS `procs`: Go's dedicated and fractional mark workers for that many Ps
#            (25% of procs, rounded as Go rounds).  One mutator thread leaves procs - 1 Ps
#            idle; Go runs idle mark workers there, whose time is not GC CPU in Go's sense.
#   limiter  Go's GC CPU limiter: a leaky bucket of GC time (assists and pauses on the
#            mutator's P) minus mutator time, LIMITER_BUCKET_NS x procs; while full, no
#            assists; while more than half full, no new cycle unless the arena is near full
#            (gcbench's addition, see pacer_should_start).  Switched off: never limits.
#   sweeping spans to sweep per poll so that sweeping ends before the next trigger.
# Invariant: heap_marked <= trigger <= goal whenever a goal is set and a cycle has ended.

from libc.stdint cimport int64_t

cdef enum:
    TRIGGER_AT_GOAL = 0
    TRIGGER_RUNWAY = 1

cdef enum:
    CONS_HISTORY = 4                 # cons/mark: the max of this cycle's and the last 4

ctypedef struct Pacer:
    int gogc                         # < 0: off
    int trigger_model                # TRIGGER_AT_GOAL or TRIGGER_RUNWAY
    int64_t heap_goal                # the goal of the next (or current) cycle
    int64_t heap_trigger
    int64_t last_marked_bytes        # heapMarked: what the last cycle found live
    int64_t goal_overruns            # cycles whose heap at mark termination passed their goal
    int64_t memory_limit             # GOMEMLIMIT in bytes (INT64_MAX: none)
    int64_t arena_bytes              # TRIGGER_RUNWAY: the arena, a memory limit too
    int64_t full_gc_fallbacks        # stop-the-world collections because the arena was full
    # --- TRIGGER_RUNWAY only ---
    int deterministic                # cons in bytes per byte of scan work (no clocks)
    int procs                        # GOMAXPROCS
    int dedicated_workers            # Go's dedicatedMarkWorkersNeeded for procs
    double fractional_goal           # Go's fractionalUtilizationGoal (per P)
    double utilization               # gcGoalUtilization (Go: 0.25)
    double cons                      # cons/mark (max of the history)
    double cons_history[CONS_HISTORY]
    int have_cons
    int64_t expected_scan            # scan work expected this cycle (the last cycle's)
    int64_t roots_bytes              # scannable roots (stack, globals, extra roots), bytes
    double overhead                  # pages in use / bytes in use when last fully swept
    int64_t live_base_alloc          # alloc_bytes at the last mark termination
    int64_t triggered                # heap_live when this cycle started
    int64_t cycle_goal               # the goal the cycle under way aims at
    int64_t mark_start_alloc_bytes   # snapshots taken at mark start
    int64_t mark_start_ns
    int64_t mark_start_mut_cpu
    int64_t mark_start_bg_cpu
    int64_t mark_start_assist_ns
    # GC CPU in Go's sense (gctrace's P%, the limiter): assists, dedicated and fractional
    # marking, and pauses x procs; idle marking apart.
    int64_t worker_gc_cpu_ns         # the worker's CPU counted as dedicated/fractional
    int64_t idle_mark_cpu_ns         # the worker's CPU beyond that: Go's idle mark workers
    # --- the GC CPU limiter ---
    int limiter_enabled              # the option: 0 never limits
    int limiting                     # the bucket is full: assists are off
    int64_t bucket_fill
    int64_t bucket_capacity
    int64_t limiter_last_ns          # wall clock of the last update
    int64_t limiter_last_gc_ns       # GC time (Go's sense, mutator side) at the last update
    int64_t limiter_limited_ns       # total time spent limiting
    int64_t limiter_overflow_ns      # GC time the bucket could not hold (Go's overflow)

# Start pacing with GOGC `gogc` (< 0: off), a memory limit (<= 0: none), GOMAXPROCS `procs`.
cdef void pacer_init(Pacer* p, int gogc, int64_t memory_limit, int procs) noexcept nogil
# A concurrent plan: Go 1.18+'s trigger, the arena as a memory limit, the CPU limiter on/off.
cdef void pacer_use_runway(Pacer* p, double utilization, bint deterministic,
                           int64_t arena_bytes, bint limiter) noexcept nogil
# heapLive: heap_marked + bytes allocated since the last mark termination.
cdef int64_t pacer_heap_live(Pacer* p, int64_t alloc_bytes) noexcept nogil
# Goal from the bytes found live (and the trigger, for TRIGGER_AT_GOAL).
cdef void pacer_set_goal(Pacer* p, int64_t marked_bytes) noexcept nogil
# TRIGGER_RUNWAY at mark start: take the snapshots the end of the cycle measures against;
# `overhead` is pages in use over bytes in use with every span swept (<= 0: unknown).
cdef void pacer_mark_start(Pacer* p, int64_t alloc_bytes, int64_t now_ns, int64_t mut_cpu_ns,
                           int64_t bg_cpu_ns, int64_t assist_ns, double overhead) noexcept nogil
# TRIGGER_RUNWAY at the end of a cycle (after pacer_set_goal): measure cons/mark, split the
# worker's CPU into dedicated/fractional and idle, set the trigger.
cdef void pacer_update_trigger(Pacer* p, int64_t live, int64_t scan_work, bint forced,
                               int64_t alloc_bytes, int64_t now_ns, int64_t mut_cpu_ns,
                               int64_t bg_cpu_ns, int64_t assist_ns) noexcept nogil
# alloc_bytes at which to poll next: when the heap (in use for TRIGGER_AT_GOAL, live for
# TRIGGER_RUNWAY) reaches the trigger, at most `cap` bytes from now (cap <= 0: no cap).
cdef int64_t pacer_next_poll_bytes(Pacer* p, int64_t alloc_bytes, int64_t in_use, int64_t cap) noexcept nogil
# Whether a TRIGGER_RUNWAY cycle should start now.
cdef bint pacer_should_start(Pacer* p, int64_t alloc_bytes) noexcept nogil
# Scan work the mutator owes for `allocated` bytes (`done` scanned so far this cycle);
# < 0: the heap is at the goal, drain everything; 0 while the limiter is limiting.
cdef double pacer_assist_work(Pacer* p, int64_t allocated, int64_t done, int64_t alloc_bytes,
                              int64_t poll_bytes) noexcept nogil
# Spans to sweep per poll of `poll_bytes`, so that `pages` of spans are swept before the trigger.
cdef int64_t pacer_sweep_spans_per_poll(Pacer* p, int64_t pages, int64_t in_use, int64_t poll_bytes) noexcept nogil
# GC CPU in Go's sense so far: assists + counted worker CPU + pauses x procs.
cdef int64_t pacer_gc_cpu_ns(Pacer* p, int64_t stw_ns, int64_t assist_ns) noexcept nogil
# The limiter: account the time since the last update (GC time in Go's sense so far,
# `gc_ns`, and the wall clock `now_ns`); sets p.limiting.
cdef void pacer_limiter_update(Pacer* p, int64_t now_ns, int64_t gc_ns) noexcept nogil
