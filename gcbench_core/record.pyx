# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""record: the operation recorder's buffer (the slow path of the mutator operations'
`heap.trace != NULL` test; contract in record.pxd).  The buffer doubles when full;
consecutive ticks fold into one record."""
from libc.stdint cimport uint8_t, uint32_t, int64_t
from libc.stdlib cimport realloc, free


cdef bint record_append(TraceBuffer* buf, uint8_t op, uint8_t a, uint8_t b, uint8_t flags,
                        uint32_t x, uint32_t y) noexcept nogil:
    cdef TraceRecord* rec
    cdef TraceRecord* grown
    cdef int64_t cap
    if op == TRACE_TICK and buf.length > 0:
        rec = &buf.records[buf.length - 1]
        if rec.op == TRACE_TICK and rec.x < <uint32_t>0xFFFFFFFF:
            rec.x += 1
            return True
    if buf.length == buf.capacity:
        cap = buf.capacity * 2 if buf.capacity > 0 else 65536
        grown = <TraceRecord*>realloc(buf.records, cap * sizeof(TraceRecord))
        if grown == NULL:
            return False
        buf.records = grown
        buf.capacity = cap
    rec = &buf.records[buf.length]
    rec.op = op
    rec.a = a
    rec.b = b
    rec.flags = flags
    rec.x = x
    rec.y = y
    buf.length += 1
    return True

cdef void record_free(TraceBuffer* buf) noexcept nogil:
    if buf != NULL:
        free(buf.records)
        free(buf)
