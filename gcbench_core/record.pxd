# cython: language_level=3
#
# record.pxd: operation recording (`gcbench record`, gcbench/traces.py).  While a heap
# records (HeapState.trace != NULL), every mutator operation (mutator.pxd's mut_record)
# appends one fixed-size TraceRecord; the binary trace file is these records after a
# header, and TRACE_DTYPE (heap.pyx) is their numpy view.
#
# Invariants: records are in operation order; consecutive ticks fold into one record
# (x counts them), so a replay performs the same mutator operations, hence reaches the
# same safepoints, as the recorded run.

from libc.stdint cimport uint8_t, uint32_t, int64_t

cdef enum:
    TRACE_ALLOC = 1                  # a = R, x = NPTR, y = payload SIZE
    TRACE_STORE = 2                  # slot x of root a := root b (flags & TRACE_NULL: null)
    TRACE_LOAD = 3                   # root a := slot x of root b
    TRACE_CLEAR = 4                  # root a := null
    TRACE_GC = 5                     # runtime.GC()
    TRACE_GSET = 6                   # global a := root b (through the barrier)
    TRACE_GGET = 7                   # root a := global b
    TRACE_TICK = 8                   # x mutator operations without a heap effect (safepoints)
    TRACE_DROP = 9                   # root a := null, and the workload knows its object died
                                     # (flags & TRACE_RECURSIVE: with all it owned alone);
                                     # malloc frees it, every other collector clears the root
    TRACE_NULL = 1                   # flags bit of TRACE_STORE
    TRACE_RECURSIVE = 1              # flags bit of TRACE_DROP

ctypedef struct TraceRecord:
    uint8_t op
    uint8_t a
    uint8_t b
    uint8_t flags
    uint32_t x
    uint32_t y

ctypedef struct TraceBuffer:
    TraceRecord* records
    int64_t length
    int64_t capacity

# Append one operation; false when out of memory (the caller fails the run).
cdef bint record_append(TraceBuffer* buf, uint8_t op, uint8_t a, uint8_t b, uint8_t flags,
                        uint32_t x, uint32_t y) noexcept nogil
cdef void record_free(TraceBuffer* buf) noexcept nogil
