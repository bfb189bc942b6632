# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""pacer: goal, trigger, poll, assist and sweep scheduling for every paced collector
(the pacer room; the contract and the model are at the top of pacer.pxd).

The arithmetic is Go's GOGC rule for the goal and Go 1.5-1.17's trigger controller
(cons = allocation rate over scan rate, runway = cons * expected scan work), exactly as
the collectors computed it before they shared this file.
"""
from libc.stdint cimport int64_t, INT64_MAX

# The trigger's bounds: the cycle starts between 60% and 95% of the way from the last
# marked heap to the goal (Go 1.5-1.17's lower bound 0.6; 0.7 overran the goal in most
# steady-state cycles here).
cdef double TRIGGER_MIN_FRACTION = 0.6
cdef double TRIGGER_MAX_FRACTION = 0.95


cdef void pacer_init(Pacer* p, int gogc) noexcept nogil:
    p.gogc = gogc
    p.trigger_model = TRIGGER_AT_GOAL
    pacer_set_goal(p, 0)
    p.last_marked_bytes = 0

cdef void pacer_use_runway(Pacer* p, double utilization, bint deterministic) noexcept nogil:
    p.trigger_model = TRIGGER_RUNWAY
    p.utilization = utilization
    p.deterministic = deterministic
    # before any cycle: no live heap measured yet; start at the lower trigger bound
    if p.gogc >= 0:
        p.heap_trigger = <int64_t>(p.heap_goal * TRIGGER_MIN_FRACTION)

cdef void pacer_set_goal(Pacer* p, int64_t marked_bytes) noexcept nogil:
    cdef int64_t goal
    p.last_marked_bytes = marked_bytes
    if p.gogc < 0:
        p.heap_goal = INT64_MAX
        p.heap_trigger = INT64_MAX
        return
    goal = marked_bytes + marked_bytes * p.gogc // 100
    if goal < (<int64_t>4 << 20) * p.gogc // 100:
        goal = (<int64_t>4 << 20) * p.gogc // 100
    p.heap_goal = goal
    p.heap_trigger = goal

cdef void pacer_mark_start(Pacer* p, int64_t alloc_bytes, int64_t in_use, int64_t mut_cpu_ns,
                           int64_t bg_cpu_ns, int64_t assist_ns) noexcept nogil:
    p.mark_start_alloc_bytes = alloc_bytes
    p.mark_start_mut_cpu = mut_cpu_ns
    p.mark_start_bg_cpu = bg_cpu_ns
    p.mark_start_assist_ns = assist_ns
    if not p.have_cons and p.expected_scan == 0:
        p.expected_scan = in_use

# Go's trigger: start early enough that, at the target utilization, marking ends at the
# goal.  runway = cons * (1 - u) / u * expected scan work, where cons is the mutator's
# allocation rate over the marker's scan rate (per CPU second) measured last cycle.
cdef void pacer_update_trigger(Pacer* p, int64_t live, int64_t scan_work, bint forced,
                               int64_t alloc_bytes, int64_t mut_cpu_ns, int64_t bg_cpu_ns,
                               int64_t assist_ns) noexcept nogil:
    cdef int64_t alloc_during = alloc_bytes - p.mark_start_alloc_bytes
    cdef int64_t assist = assist_ns - p.mark_start_assist_ns
    cdef int64_t mut_cpu, gc_cpu, lo, hi, trigger
    cdef double cons_new = -1.0, runway
    if not forced and scan_work > 0:
        if p.deterministic:
            # bytes allocated per byte of scan work, at the configured pace
            cons_new = <double>alloc_during / scan_work
        else:
            mut_cpu = mut_cpu_ns - p.mark_start_mut_cpu - assist
            gc_cpu = bg_cpu_ns - p.mark_start_bg_cpu + assist
            if mut_cpu > 0 and gc_cpu > 0:
                cons_new = (<double>alloc_during / mut_cpu) / (<double>scan_work / gc_cpu)
                cons_new *= (1.0 - p.utilization) / p.utilization
        if cons_new >= 0:
            # smooth over two cycles, so one odd cycle does not swing the trigger
            p.cons = cons_new if not p.have_cons else 0.5 * (p.cons + cons_new)
            p.have_cons = 1
    if scan_work > 0:
        p.expected_scan = scan_work
    if p.gogc < 0:
        return
    lo = live + <int64_t>((p.heap_goal - live) * TRIGGER_MIN_FRACTION)
    hi = live + <int64_t>((p.heap_goal - live) * TRIGGER_MAX_FRACTION)
    if p.have_cons:
        runway = p.cons * p.expected_scan
        trigger = p.heap_goal - <int64_t>runway if runway < p.heap_goal else 0
    else:
        trigger = lo
    if trigger < lo:
        trigger = lo
    if trigger > hi:
        trigger = hi
    p.heap_trigger = trigger

cdef int64_t pacer_next_poll_bytes(Pacer* p, int64_t alloc_bytes, int64_t in_use, int64_t cap) noexcept nogil:
    cdef int64_t room
    if p.gogc < 0:
        room = INT64_MAX - alloc_bytes
    else:
        room = p.heap_trigger - in_use
        if room < 0:
            room = 0
    if cap > 0 and room > cap:
        room = cap
    return alloc_bytes + room

cdef double pacer_assist_work(Pacer* p, int64_t allocated, int64_t done, int64_t heap_left,
                              int64_t poll_bytes) noexcept nogil:
    cdef int64_t remaining_work = p.expected_scan - done
    if remaining_work < p.expected_scan // 10:
        remaining_work = p.expected_scan // 10     # marking ran past its estimate: keep helping
    if heap_left <= poll_bytes:
        return -1.0                                # at the goal: the mutator must not outrun
    return <double>allocated * remaining_work / heap_left

cdef int64_t pacer_sweep_spans_per_poll(Pacer* p, int64_t pages, int64_t in_use, int64_t poll_bytes) noexcept nogil:
    cdef int64_t room = p.heap_trigger - in_use if p.gogc >= 0 else 16 * poll_bytes
    if room < poll_bytes:
        room = poll_bytes
    return 1 + pages * poll_bytes // room
