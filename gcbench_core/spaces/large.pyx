# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""spaces/large: the large-object space (contract in large.pxd)."""
from libc.stdint cimport uint32_t, int64_t
from libc.string cimport memset
from libc.stdio cimport snprintf
from gcbench_core.heap cimport (HeapState, Span, Object, heap_fail, span_of, debug_assert, clear_slots, mark_object_atomic,
                                PAGE_SIZE, PAGE_SHIFT, HEADER_BYTES, SPAN_LARGE, ERR_HEAP_EXHAUSTED,
                                GCB_DEBUG, GCB_POISON_BYTE)
from gcbench_core.spaces.pages cimport (list_push, list_pop, list_remove, swept_index, unswept_index,
                                        span_alloc, span_release_pages)


cdef Object* large_alloc(HeapState* heap, uint32_t nbytes) noexcept nogil:
    cdef uint32_t npages = (nbytes + PAGE_SIZE - 1) >> PAGE_SHIFT
    cdef char msg[256]
    cdef Object* obj
    cdef Span* s = span_alloc(heap, npages, SPAN_LARGE)
    if s == NULL:
        heap.collector.out_of_memory(heap)
        s = span_alloc(heap, npages, SPAN_LARGE)
    if s == NULL:
        snprintf(msg, 256, "heap exhausted: cannot allocate %u bytes; heap size %lld bytes, %lld bytes live after a full collection",
                 nbytes, <long long>heap.pages.arena_bytes, <long long>(heap.alloc_bytes - heap.freed_bytes))
        heap_fail(heap, ERR_HEAP_EXHAUSTED, msg)
        return NULL
    s.sizeclass = 0
    s.elemsize = npages * PAGE_SIZE
    s.nelems = 1
    s.divmul = 0
    s.freeindex = 1
    s.alloc_cache = 0
    list_push(heap, &heap.los.lists[swept_index(heap)], s)
    obj = <Object*>s.base
    if s.needzero:
        clear_slots(obj, (nbytes - HEADER_BYTES) // 8)
    heap.alloc_count += 1
    heap.alloc_bytes += s.elemsize
    if heap.allocate_black:
        mark_object_atomic(heap, obj)
    return obj

# Sweep one large span that is on no list.
cdef void sweep_large_span(HeapState* heap, Span* s) noexcept nogil:
    cdef int64_t in_use = heap.alloc_bytes - heap.freed_bytes
    if in_use > heap.peak_heap_bytes:
        heap.peak_heap_bytes = in_use
    if GCB_DEBUG:
        debug_assert(heap, s.sweepgen == heap.pages.sweepgen - 2, "sweep_span: span does not need sweeping (sweepgen)")
        debug_assert(heap, heap.freed_bytes <= heap.alloc_bytes, "sweep_span: freed more bytes than allocated")
    s.sweepgen = heap.pages.sweepgen
    if s.mark_bits[0] & 1:
        s.mark_bits[0] = 0
        list_push(heap, &heap.los.lists[swept_index(heap)], s)
        return
    if GCB_DEBUG:
        memset(s.base, GCB_POISON_BYTE, min((<Object*>s.base).nbytes, s.elemsize))
    heap.freed_count += 1
    heap.freed_bytes += s.elemsize
    span_release_pages(heap, s)

cdef bint large_sweep_one(HeapState* heap) noexcept nogil:
    cdef Span* s = list_pop(heap, &heap.los.lists[unswept_index(heap)])
    if s == NULL:
        return False
    sweep_large_span(heap, s)
    return True

cdef void large_sweep_all(HeapState* heap) noexcept nogil:
    cdef int u = unswept_index(heap)
    cdef Span* s
    while True:
        s = list_pop(heap, &heap.los.lists[u])
        if s == NULL:
            break
        sweep_large_span(heap, s)

# Explicit free (reference counting): the span is on the swept list (nothing flips).
cdef void large_free(HeapState* heap, Object* obj) noexcept nogil:
    cdef Span* s = span_of(heap, obj)
    cdef int64_t in_use = heap.alloc_bytes - heap.freed_bytes
    if in_use > heap.peak_heap_bytes:
        heap.peak_heap_bytes = in_use
    list_remove(heap, &heap.los.lists[swept_index(heap)], s)
    if GCB_DEBUG:
        memset(s.base, GCB_POISON_BYTE, min(obj.nbytes, s.elemsize))
    heap.freed_count += 1
    heap.freed_bytes += s.elemsize
    span_release_pages(heap, s)
