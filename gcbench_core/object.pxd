# cython: language_level=3
#
# object.pxd: the object layout every space and collector shares.  An object starts
# with an 8-byte header (pointer-slot count, requested size in bytes, header included),
# followed by its pointer slots (real addresses of other objects, or NULL), followed by
# its payload.  Collectors reach object layout only through these inline helpers.
# Invariant of a live object: nbytes >= HEADER_BYTES + 8 * nslots (so nbytes > 0: a
# header with nbytes == 0 is a forwarding header, spaces/bump.pxd).

from libc.stdint cimport uint32_t

cdef extern from "string.h" nogil:
    void* memset(void* s, int c, size_t n)

cdef enum:
    HEADER_BYTES = 8

ctypedef struct Object:
    uint32_t nslots                  # pointer slots that follow the header
    uint32_t nbytes                  # requested size, header included

cdef inline Object** obj_slots(Object* obj) noexcept nogil:
    return <Object**>((<char*>obj) + HEADER_BYTES)

# Reused memory holds a dead object's data.  Its pointer slots must be NULL before the
# object can be reached (the collector traces them); its payload is left as it is, as
# malloc leaves it (Go zeroes it: a workload that wants zeroes writes them).
# (Spelled out for small counts: gcc turns a short variable-length loop into `rep stos`,
# whose start-up cost alone doubled the allocation fast path.)
cdef inline void clear_slots(Object* obj, uint32_t nslots) noexcept nogil:
    cdef Object** slots = obj_slots(obj)
    if nslots <= 4:
        if nslots > 0:
            slots[0] = NULL
        if nslots > 1:
            slots[1] = NULL
        if nslots > 2:
            slots[2] = NULL
        if nslots > 3:
            slots[3] = NULL
    else:
        memset(slots, 0, <size_t>nslots * 8)
