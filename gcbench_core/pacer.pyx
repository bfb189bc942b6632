# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""pacer: goal, trigger, poll, assist, sweep and CPU-limiter scheduling for every paced
collector (the pacer room; the contract and the model are at the top of pacer.pxd).

TRIGGER_AT_GOAL is Go's GOGC rule with the stop-the-world trigger at the goal.
TRIGGER_RUNWAY is Go 1.18+'s pacer (proposal 44167, runtime/mgcpacer.go): the goal counts
the scannable roots, the trigger comes from the cons/mark model with Go's bounds and is
compared with heapLive, the goal is capped by the memory limit (mgcpacer.go's
memoryLimitHeapGoal), and the GC CPU limiter (mgclimit.go) turns assists off while its
bucket is full.
"""
from libc.stdint cimport int64_t, INT64_MAX

cdef int64_t MIB = 1 << 20
# The trigger's bounds, as fractions of the way from heap_marked to the goal (Go:
# triggerRatioDen 64, minTriggerRatioNum 45 (0.7), maxTriggerRatioNum 61 (0.95)).
cdef double TRIGGER_MIN_FRACTION = 0.7
cdef double TRIGGER_MAX_FRACTION = 0.95
# For goals above this the trigger may go up to goal - this (Go's defaultHeapMinimum).
cdef int64_t HEAP_MINIMUM = 4 << 20
# The memory-limit goal keeps this share of the limit free (Go 1.21: 3%).
cdef double LIMIT_HEADROOM = 0.03
# Go's limiter bucket holds 1 CPU-second per P; gcbench's runs last about a second where a
# Go service runs for hours, so the bucket is scaled down to keep the same 50% cap over
# windows of 100 ms.
cdef int64_t LIMITER_BUCKET_NS = 10_000_000
# Minimum remaining scan work in an assist's ratio (Go: 1000).
cdef int64_t MIN_SCAN_REMAINING = 1000


cdef void pacer_init(Pacer* p, int gogc, int64_t memory_limit, int procs) noexcept nogil:
    p.gogc = gogc
    p.trigger_model = TRIGGER_AT_GOAL
    p.memory_limit = memory_limit if memory_limit > 0 else INT64_MAX
    p.arena_bytes = INT64_MAX
    p.overhead = 1.0
    set_workers(p, procs if procs > 0 else 1)
    pacer_set_goal(p, 0)
    p.last_marked_bytes = 0

# Go's gcControllerState.startCycle: dedicated workers = round(procs * 25%), dropped by one
# when that misses the goal by more than 30%; the rest is a fractional goal per P.
cdef void set_workers(Pacer* p, int procs) noexcept nogil:
    cdef double total = procs * 0.25
    cdef int dedicated = <int>(total + 0.5)
    cdef double error
    error = dedicated / total - 1.0
    if error < -0.3 or error > 0.3:
        if dedicated > total:
            dedicated -= 1
    p.dedicated_workers = dedicated
    p.fractional_goal = (total - dedicated) / procs
    p.procs = procs

cdef void pacer_use_runway(Pacer* p, double utilization, bint deterministic,
                           int64_t arena_bytes, bint limiter) noexcept nogil:
    p.trigger_model = TRIGGER_RUNWAY
    p.utilization = utilization
    p.deterministic = deterministic
    p.arena_bytes = arena_bytes if p.gogc >= 0 else INT64_MAX
    # the limiter reads clocks: a deterministic (incremental) run goes without it
    p.limiter_enabled = limiter and not deterministic
    p.bucket_capacity = LIMITER_BUCKET_NS * p.procs
    pacer_set_goal(p, 0)
    set_trigger(p)

cdef inline int64_t limit_goal(Pacer* p) noexcept nogil:
    cdef int64_t limit = p.memory_limit
    if p.trigger_model == TRIGGER_RUNWAY and p.arena_bytes < limit:
        limit = p.arena_bytes
    if limit == INT64_MAX:
        return INT64_MAX
    return <int64_t>(limit * (1.0 - LIMIT_HEADROOM) / p.overhead)

cdef inline int64_t arena_goal(Pacer* p) noexcept nogil:
    if p.arena_bytes == INT64_MAX:
        return INT64_MAX
    return <int64_t>(p.arena_bytes * (1.0 - LIMIT_HEADROOM) / p.overhead)

cdef int64_t pacer_heap_live(Pacer* p, int64_t alloc_bytes) noexcept nogil:
    return p.last_marked_bytes + alloc_bytes - p.live_base_alloc

cdef void pacer_set_goal(Pacer* p, int64_t marked_bytes) noexcept nogil:
    cdef int64_t goal, mem_goal, scannable
    p.last_marked_bytes = marked_bytes
    mem_goal = limit_goal(p)
    if p.gogc < 0:
        goal = INT64_MAX
    else:
        scannable = marked_bytes + (p.roots_bytes if p.trigger_model == TRIGGER_RUNWAY else 0)
        goal = marked_bytes + scannable * p.gogc // 100
        if goal < (<int64_t>4 << 20) * p.gogc // 100:
            goal = (<int64_t>4 << 20) * p.gogc // 100
    if mem_goal < goal:
        goal = mem_goal if mem_goal > marked_bytes else marked_bytes
    p.heap_goal = goal
    p.heap_trigger = goal
    p.cycle_goal = goal

cdef void pacer_mark_start(Pacer* p, int64_t alloc_bytes, int64_t now_ns, int64_t mut_cpu_ns,
                           int64_t bg_cpu_ns, int64_t assist_ns, double overhead) noexcept nogil:
    p.mark_start_alloc_bytes = alloc_bytes
    p.mark_start_ns = now_ns
    p.mark_start_mut_cpu = mut_cpu_ns
    p.mark_start_bg_cpu = bg_cpu_ns
    p.mark_start_assist_ns = assist_ns
    p.triggered = pacer_heap_live(p, alloc_bytes)
    p.cycle_goal = p.heap_goal
    if overhead >= 1.0:
        p.overhead = overhead if overhead < 2.0 else 2.0
    if not p.have_cons and p.expected_scan == 0:
        p.expected_scan = p.triggered

# Go's trigger(): goal - runway, bounded below by 70% of the way from heap_marked to the
# goal and above by 95% (or goal - 4 MiB when that is higher).
cdef void set_trigger(Pacer* p) noexcept nogil:
    cdef int64_t goal = p.heap_goal, marked = p.last_marked_bytes
    cdef int64_t lo, hi, trigger
    cdef double runway
    if goal == INT64_MAX:
        p.heap_trigger = INT64_MAX
        return
    if marked >= goal:
        p.heap_trigger = goal
        return
    lo = marked + <int64_t>((goal - marked) * TRIGGER_MIN_FRACTION)
    hi = marked + <int64_t>((goal - marked) * TRIGGER_MAX_FRACTION)
    if goal > HEAP_MINIMUM and goal - HEAP_MINIMUM > hi:
        hi = goal - HEAP_MINIMUM
    if hi < lo:
        hi = lo
    if p.have_cons:
        runway = p.cons * (1.0 - p.utilization) / p.utilization * (p.expected_scan + p.roots_bytes)
        trigger = goal - <int64_t>runway if runway < goal else lo
    else:
        trigger = lo
    if trigger < lo:
        trigger = lo
    if trigger > hi:
        trigger = hi
    p.heap_trigger = trigger

cdef void pacer_update_trigger(Pacer* p, int64_t live, int64_t scan_work, bint forced,
                               int64_t alloc_bytes, int64_t now_ns, int64_t mut_cpu_ns,
                               int64_t bg_cpu_ns, int64_t assist_ns) noexcept nogil:
    cdef int64_t alloc_during = alloc_bytes - p.mark_start_alloc_bytes
    cdef int64_t assist = assist_ns - p.mark_start_assist_ns
    cdef int64_t bg = bg_cpu_ns - p.mark_start_bg_cpu
    cdef int64_t mut_cpu, gc_cpu, budget, wall = now_ns - p.mark_start_ns
    cdef double cons_new = -1.0
    cdef int i
    # the worker's CPU this cycle: up to the dedicated + fractional share of the Ps over the
    # cycle's wall time is Go's dedicated/fractional marking, the rest its idle marking
    if bg > 0:
        budget = <int64_t>((p.dedicated_workers + p.fractional_goal * p.procs) * wall)
        if bg > budget:
            p.worker_gc_cpu_ns += budget
            p.idle_mark_cpu_ns += bg - budget
        else:
            p.worker_gc_cpu_ns += bg
    if not forced and scan_work > 0:
        if p.deterministic:
            # bytes allocated per byte of scan work, at the goal utilization
            cons_new = <double>alloc_during / scan_work * p.utilization / (1.0 - p.utilization)
        else:
            # Go's currentConsMark: (allocation / mutator CPU) / (scan work / GC CPU)
            mut_cpu = mut_cpu_ns - p.mark_start_mut_cpu - assist
            gc_cpu = bg + assist
            if mut_cpu > 0 and gc_cpu > 0:
                cons_new = (<double>alloc_during / mut_cpu) / (<double>scan_work / gc_cpu)
        if cons_new >= 0:
            # the max of this cycle's and the last CONS_HISTORY (Go 1.19+: a noisy estimate
            # errs towards starting earlier, not towards assists)
            p.cons = cons_new
            for i in range(CONS_HISTORY):
                if p.have_cons and p.cons_history[i] > p.cons:
                    p.cons = p.cons_history[i]
            for i in range(CONS_HISTORY - 1):
                p.cons_history[i] = p.cons_history[i + 1]
            p.cons_history[CONS_HISTORY - 1] = cons_new
            p.have_cons = 1
    if scan_work > 0:
        p.expected_scan = scan_work
    p.live_base_alloc = alloc_bytes
    # what the next split and cons/mark measure from, should no mark start come first (a
    # full collection follows a concurrent cycle)
    p.mark_start_alloc_bytes = alloc_bytes
    p.mark_start_ns = now_ns
    p.mark_start_mut_cpu = mut_cpu_ns
    p.mark_start_bg_cpu = bg_cpu_ns
    p.mark_start_assist_ns = assist_ns
    set_trigger(p)

cdef bint pacer_should_start(Pacer* p, int64_t alloc_bytes) noexcept nogil:
    cdef int64_t live = pacer_heap_live(p, alloc_bytes)
    if live < p.heap_trigger:
        return False
    # The limiter also holds the next cycle back while its bucket is more than half full
    # (gcbench's addition: Go's pauses are tens of microseconds, gcbench's back-to-back
    # cycles' pauses and sweeps alone can pass 50%), unless the arena is near full.
    if p.limiter_enabled and p.bucket_fill * 2 >= p.bucket_capacity and live < arena_goal(p):
        return False
    return True

cdef int64_t pacer_next_poll_bytes(Pacer* p, int64_t alloc_bytes, int64_t in_use, int64_t cap) noexcept nogil:
    cdef int64_t room
    if p.heap_trigger == INT64_MAX:
        room = INT64_MAX - alloc_bytes
    else:
        if p.trigger_model == TRIGGER_RUNWAY:
            room = p.heap_trigger - pacer_heap_live(p, alloc_bytes)
        else:
            room = p.heap_trigger - in_use
        if room < 0:
            room = 0
    if cap > 0 and room > cap:
        room = cap
    return alloc_bytes + room

# Go's revise(): assistWorkPerByte = remaining scan work / heap remaining before the goal.
# When marking has done more than expected the heap is growing: the remaining work is
# taken at its worst case (everything live at the trigger).
cdef double pacer_assist_work(Pacer* p, int64_t allocated, int64_t done, int64_t alloc_bytes,
                              int64_t poll_bytes) noexcept nogil:
    cdef int64_t expected = p.expected_scan + p.roots_bytes
    cdef int64_t remaining, heap_left, live = pacer_heap_live(p, alloc_bytes)
    # limiting: no assists, the heap may pass a soft goal (GOGC, GOMEMLIMIT), but not the
    # arena, which is a hard one (past it comes a full stop-the-world collection)
    if p.limiting and live < arena_goal(p):
        return 0.0
    heap_left = p.cycle_goal - live
    if heap_left <= poll_bytes:
        return -1.0                                # at the goal: the mutator must not outrun
    if done > expected:
        expected = p.triggered + p.roots_bytes
    remaining = expected - done
    if remaining < MIN_SCAN_REMAINING:
        remaining = MIN_SCAN_REMAINING
    return <double>allocated * remaining / heap_left

cdef int64_t pacer_sweep_spans_per_poll(Pacer* p, int64_t pages, int64_t in_use, int64_t poll_bytes) noexcept nogil:
    cdef int64_t room
    if p.heap_trigger == INT64_MAX:
        room = 16 * poll_bytes
    elif p.trigger_model == TRIGGER_RUNWAY:
        room = p.heap_trigger - p.last_marked_bytes
    else:
        room = p.heap_trigger - in_use
    if room < poll_bytes:
        room = poll_bytes
    return 1 + pages * poll_bytes // room

cdef int64_t pacer_gc_cpu_ns(Pacer* p, int64_t stw_ns, int64_t assist_ns) noexcept nogil:
    return stw_ns * p.procs + assist_ns + p.worker_gc_cpu_ns

# Go's gcCPULimiterState.accumulate over the mutator's P: the bucket fills by GC time and
# drains by mutator time; full, it limits until it drains.
cdef void pacer_limiter_update(Pacer* p, int64_t now_ns, int64_t gc_ns) noexcept nogil:
    cdef int64_t window = now_ns - p.limiter_last_ns
    cdef int64_t gc = gc_ns - p.limiter_last_gc_ns
    cdef int64_t change
    if p.limiter_last_ns == 0:
        p.limiter_last_ns = now_ns
        p.limiter_last_gc_ns = gc_ns
        return
    if window <= 0:
        return
    if gc > window:
        gc = window
    if p.limiting:
        p.limiter_limited_ns += window
    p.limiter_last_ns = now_ns
    p.limiter_last_gc_ns = gc_ns
    if not p.limiter_enabled:
        return
    change = gc - (window - gc)
    if change > 0 and p.bucket_capacity - p.bucket_fill <= change:
        p.limiter_overflow_ns += change - (p.bucket_capacity - p.bucket_fill)
        p.bucket_fill = p.bucket_capacity
        p.limiting = 1
        return
    if change < 0 and p.bucket_fill <= -change:
        p.bucket_fill = 0
    else:
        p.bucket_fill += change
    if change != 0:
        p.limiting = 0
