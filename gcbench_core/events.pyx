# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""events: the pause and cycle arrays (the event log's storage; see events.pxd).  The
cycle room (cycle.pyx) decides what goes into a record; this file only stores it."""
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memset


cdef bint events_init(EventLog* log) noexcept nogil:
    log.pauses_cap = 1024
    log.pauses = <PauseRecord*>malloc(log.pauses_cap * sizeof(PauseRecord))
    log.cycles_cap = 256
    log.cycles = <CycleRecord*>malloc(log.cycles_cap * sizeof(CycleRecord))
    log.open_cycle = -1
    return log.pauses != NULL and log.cycles != NULL

cdef void events_free(EventLog* log) noexcept nogil:
    free(log.pauses)
    free(log.cycles)
    log.pauses = NULL
    log.cycles = NULL

cdef void events_add_pause(EventLog* log, int kind, int64_t start_ns, int64_t end_ns, int64_t cycle) noexcept nogil:
    cdef PauseRecord* grown
    if log.npauses == log.pauses_cap:
        grown = <PauseRecord*>realloc(log.pauses, log.pauses_cap * 2 * sizeof(PauseRecord))
        if grown == NULL:
            return
        log.pauses = grown
        log.pauses_cap *= 2
    log.pauses[log.npauses].start_ns = start_ns
    log.pauses[log.npauses].end_ns = end_ns
    log.pauses[log.npauses].kind = kind
    log.pauses[log.npauses].cycle = cycle
    log.pauses[log.npauses].stopping_ns = 0
    log.npauses += 1
    log.stw_ns += end_ns - start_ns

cdef CycleRecord* events_open_cycle(EventLog* log) noexcept nogil:
    cdef CycleRecord* grown
    cdef CycleRecord* cycle
    if log.ncycles == log.cycles_cap:
        grown = <CycleRecord*>realloc(log.cycles, log.cycles_cap * 2 * sizeof(CycleRecord))
        if grown == NULL:
            return NULL
        log.cycles = grown
        log.cycles_cap *= 2
    cycle = &log.cycles[log.ncycles]
    memset(cycle, 0, sizeof(CycleRecord))
    log.open_cycle = log.ncycles
    log.ncycles += 1
    return cycle
