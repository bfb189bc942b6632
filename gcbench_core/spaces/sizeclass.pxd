# cython: language_level=3
#
# spaces/sizeclass.pxd: the size-class mark-sweep space (Go's mcentral/mspan; MMTk's
# MarkSweepSpace, Whippet's nofl-space): small objects (up to MAX_SMALL_SIZE) in spans
# of one of Go's size classes, with alloc and mark bitmaps beside the objects.
#
#   allocate  the fast path (heap.pxd heap_alloc) bumps through a bump run or takes the
#             next bit of alloc_cache of the class's current span; this space's slow path
#             (sizeclass_alloc) takes the next free slot (span_take), sets up a bump run
#             over the free objects that follow (span_set_run) and, when the span is
#             full, refills the class: a swept partial span, else sweeping unswept spans
#             of the class (lazy sweep), else a fresh span from the page heap, else the
#             collector's out_of_memory hook and one more try.
#   mark      mark bits are set by the plans (heap.pxd mark_object*); this space only
#             reads them when sweeping.
#   free      sizeclass_free: one object at a time, for plans that know when an object
#             dies (reference counting); the alloc bits and freeindex stay exact.
#   sweep     a span's mark bits become its alloc bits (allocBits = gcmarkBits), freed
#             objects are counted, an empty span returns its pages; swept spans go to the
#             swept partial/full list of their class (sweep generations: heap.pxd).
# Invariants: below freeindex every object is allocated; at or above it, exactly those
# with alloc bits; a current span's bump run is counted as allocated until span_sync
# gives back its unused tail; heap.alloc_bytes - heap.freed_bytes equals the allocated
# objects of every in-use span times their element size (checked by the verifier).

from libc.stdint cimport uint32_t, uint64_t, int64_t
from gcbench_core.heap cimport HeapState, Span, Object, obj_index, gcb_popcount64

# Set up the size classes (Go's runtime/sizeclasses.go from 16 bytes) and empty classes.
cdef void sizeclass_init(HeapState* heap) noexcept nogil
cdef Object* sizeclass_alloc(HeapState* heap, uint32_t nbytes) noexcept nogil
# The same over a mutator thread's allocation cache `current` (heap lock held).
cdef Object* sizeclass_alloc_from(HeapState* heap, Span** current, uint32_t nbytes) noexcept nogil
# Give back (sync, then list) every span of one allocation cache.
cdef void sizeclass_release_cache(HeapState* heap, Span** current) noexcept nogil
# Give back every current span's bump run (counts become exact); these two cover the
# run's own allocation cache and every registered mutator thread's (world stopped).
cdef void sizeclass_sync_current(HeapState* heap) noexcept nogil
# ... and put every current span back on its swept list (before a flip, or to change
# the allocation flags of the spans the fast path takes next).
cdef void sizeclass_release_current(HeapState* heap) noexcept nogil
# Sweep one unswept span (false: none left) / every unswept span.
cdef bint sizeclass_sweep_one(HeapState* heap) noexcept nogil
cdef void sizeclass_sweep_all(HeapState* heap) noexcept nogil
# Free one allocated object now (reference counting: MMTk's explicit free).  Below
# freeindex everything counts as allocated, so a free there first writes those alloc
# bits out and moves freeindex down to the object's word; the slot is reusable at once
# (a full span moves to its partial list, an emptied span that is not current returns
# its pages).  Debug builds poison the object.
cdef void sizeclass_free(HeapState* heap, Object* obj) noexcept nogil

# The free bits of word `w` of a small span, with the bits past nelems cleared.
cdef inline uint64_t cache_word(Span* s, uint32_t w) noexcept nogil:
    cdef uint64_t free_bits = ~s.alloc_bits[w]
    cdef uint32_t first = w << 6
    if first + 64 > s.nelems:
        free_bits &= ((<uint64_t>1) << (s.nelems - first)) - 1
    return free_bits

# Fold a finished or abandoned bump run back into freeindex/alloc_cache: every object
# below the run's next one is allocated.
cdef inline void span_sync(HeapState* heap, Span* s) noexcept nogil:
    cdef uint32_t index, unused
    if s.bump_end == NULL:
        return
    index = obj_index(s, s.bump_next)
    unused = obj_index(s, s.bump_end) - index
    heap.alloc_count -= unused
    heap.alloc_bytes -= <int64_t>unused * s.elemsize
    s.freeindex = index
    s.alloc_cache = (cache_word(s, index >> 6) >> (index & 63)) if index < s.nelems else 0
    s.bump_next = NULL
    s.bump_end = NULL

cdef inline int64_t span_allocated_count(Span* s) noexcept nogil:
    # Objects below freeindex are all allocated; at or above it, those with alloc bits.
    cdef uint32_t nwords = (s.nelems + 63) >> 6
    cdef uint32_t w = s.freeindex >> 6
    cdef int64_t n = s.freeindex
    if w < nwords:
        n += gcb_popcount64(s.alloc_bits[w] & (~(<uint64_t>0) << (s.freeindex & 63)))
        w += 1
        while w < nwords:
            n += gcb_popcount64(s.alloc_bits[w])
            w += 1
    return n
