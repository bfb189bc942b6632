# cython: language_level=3
#
# spaces/bump.pxd: a bump-pointer space with a copy reserve, for copying collectors
# (MMTk's CopySpace, Whippet's semi-space): one mapped region split into two halves.
#
#   allocation  cursor/limit in the current half ("to-space"): bump the cursor by the
#               object's size rounded up to 8 bytes (inline fast path, bump_alloc);
#               NULL when the half is full (the plan collects, then flips).
#   flip        the halves swap: the full half becomes from-space, the empty one
#               to-space, and the cursor restarts at its base (bump_flip).
#   forwarding  a copied object's old header is overwritten with a forwarding header:
#               nbytes = 0 (impossible for a live object) and nslots = the new copy's
#               offset from the region base in 8-byte granules (regions up to 32 GiB);
#               bump_forward installs it, bump_is_forwarded / bump_forwardee read it,
#               bump_copy evacuates an object once (Cheney's copy step).
# Invariants: base <= to_base <= cursor <= limit = to_base + half_bytes; every object in
# [to_base, cursor) starts at an 8-byte boundary with a valid header; an object of
# from-space is either not copied or forwarded to exactly one copy in to-space.
# Plans: semispace (both halves), gencopy (one half as the nursery); debugcheck exercises it.

from libc.stdint cimport uint32_t, uint64_t, int64_t, uintptr_t
from gcbench_core.object cimport Object, HEADER_BYTES

cdef extern from "string.h" nogil:
    void* memcpy(void* d, const void* s, size_t n)

ctypedef struct BumpSpace:
    char* cursor                     # next free byte of to-space
    char* limit                      # end of to-space
    char* base                       # the region: two halves of half_bytes
    int64_t half_bytes
    char* to_base                    # the half allocation bumps into
    char* from_base                  # the other half (evacuated at the last flip)
    # Objects in to-space and their bytes as the heap charges them (size classes): the
    # heap's allocation counters less these bases (the fast path counts nothing else;
    # the heap moves the bases past large objects; bump_objects/bump_charged in heap.pxd)
    int64_t count_base
    int64_t charge_base
    int64_t flips
    int64_t copied_objects
    int64_t copied_bytes

# Map a region of two halves of `half_bytes` (rounded up to 8 KiB); false on failure.
cdef bint bump_init(BumpSpace* s, int64_t half_bytes) noexcept nogil
cdef void bump_free(BumpSpace* s) noexcept nogil
# Swap the halves: allocation restarts at the base of the other half.
cdef void bump_flip(BumpSpace* s) noexcept nogil

cdef inline Object* bump_alloc(BumpSpace* s, uint32_t nbytes) noexcept nogil:
    cdef char* obj = s.cursor
    cdef uint64_t size = (<uint64_t>nbytes + 7) & ~(<uint64_t>7)
    if <uint64_t>(s.limit - obj) < size:
        return NULL
    s.cursor = obj + size
    return <Object*>obj

cdef inline bint bump_contains(BumpSpace* s, const void* p) noexcept nogil:
    return <uintptr_t>p - <uintptr_t>s.base < <uintptr_t>(2 * s.half_bytes)

cdef inline bint bump_in_to_space(BumpSpace* s, const void* p) noexcept nogil:
    return <uintptr_t>p - <uintptr_t>s.to_base < <uintptr_t>s.half_bytes

cdef inline bint bump_is_forwarded(Object* obj) noexcept nogil:
    return obj.nbytes == 0

cdef inline void bump_forward(BumpSpace* s, Object* old, Object* copy) noexcept nogil:
    old.nslots = <uint32_t>((<uintptr_t>copy - <uintptr_t>s.base) >> 3)
    old.nbytes = 0

cdef inline Object* bump_forwardee(BumpSpace* s, Object* old) noexcept nogil:
    return <Object*>(s.base + (<uint64_t>old.nslots << 3))

# Evacuate `obj` from from-space into to-space (once: a forwarded object gives its copy);
# NULL when to-space is full.  Slots are copied as they are: the caller's scan updates them.
cdef inline Object* bump_copy(BumpSpace* s, Object* obj) noexcept nogil:
    cdef Object* copy
    if bump_is_forwarded(obj):
        return bump_forwardee(s, obj)
    copy = bump_alloc(s, obj.nbytes)
    if copy == NULL:
        return NULL
    memcpy(copy, obj, obj.nbytes)
    bump_forward(s, obj, copy)
    s.copied_objects += 1
    s.copied_bytes += copy.nbytes
    return copy
