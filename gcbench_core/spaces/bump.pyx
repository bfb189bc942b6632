# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""spaces/bump: the bump-pointer space's region and flip (contract in bump.pxd; the
allocation, forwarding and copy fast paths are inline there)."""
from libc.stdint cimport int64_t

cdef extern from "sys/mman.h" nogil:
    void* mmap(void* addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void* addr, size_t length)
    int PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE
    void* MAP_FAILED


cdef bint bump_init(BumpSpace* s, int64_t half_bytes) noexcept nogil:
    cdef void* p
    half_bytes = (half_bytes + 8191) & ~(<int64_t>8191)
    if half_bytes <= 0 or half_bytes > (<int64_t>16 << 30):
        return False
    p = mmap(NULL, 2 * half_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    if p == MAP_FAILED:
        return False
    s.base = <char*>p
    s.half_bytes = half_bytes
    s.to_base = s.base
    s.from_base = s.base + half_bytes
    s.cursor = s.to_base
    s.limit = s.to_base + half_bytes
    s.flips = 0
    s.copied_objects = 0
    s.copied_bytes = 0
    return True

cdef void bump_free(BumpSpace* s) noexcept nogil:
    if s.base != NULL:
        munmap(s.base, 2 * s.half_bytes)
    s.base = NULL
    s.cursor = NULL
    s.limit = NULL
    s.to_base = NULL
    s.from_base = NULL

cdef void bump_flip(BumpSpace* s) noexcept nogil:
    cdef char* old_to = s.to_base
    s.to_base = s.from_base
    s.from_base = old_to
    s.cursor = s.to_base
    s.limit = s.to_base + s.half_bytes
    s.flips += 1
