# cython: language_level=3
#
# spaces/pages.pxd: the page heap (Go's mheap) that the size-class and large-object
# spaces take their spans from, and the doubly linked span lists both spaces keep.
#
#   pages    one arena of 8 KiB pages, mapped zeroed; fresh pages come from a bump
#            pointer (high_water_page) and are known to be zero; freed runs coalesce
#            with their neighbours and are reused first fit (few in practice).
#   spans    a span is described by the Span record of its first page; page_map maps
#            every page of an in-use span (the first and last page of a free run) to
#            that first page; its bitmaps sit at BITMAP_WORDS_PER_PAGE * start_page.
#   lists    linked through start pages (NO_SPAN at the ends); swept and unswept halves
#            indexed by the sweep generation (swept_index / unswept_index).
# Invariants: a page is in exactly one span or free run; pages_in_use counts the pages
# of in-use spans; a free run's needzero says whether it may hold old data.

from libc.stdint cimport uint8_t, uint32_t, int32_t, int64_t
from gcbench_core.heap cimport (HeapState, Span, SpanList, NO_SPAN, GCB_DEBUG, debug_assert)

# Map `nbytes` of zeroed, lazily committed memory (huge pages where allowed); NULL on failure.
cdef void* map_zeroed(size_t nbytes) noexcept nogil
cdef void unmap(void* p, size_t nbytes) noexcept nogil
# Map the arena, span records, page map and bitmaps of `npages` pages; false on failure.
cdef bint pages_init(HeapState* heap, uint32_t npages) noexcept nogil
cdef void pages_free(HeapState* heap) noexcept nogil
# Take `npages` for a new span in `state` (bitmaps cleared); NULL when the page heap is full.
cdef Span* span_alloc(HeapState* heap, uint32_t npages, uint8_t state) noexcept nogil
# Give an in-use span's pages back to the page heap.
cdef void span_release_pages(HeapState* heap, Span* s) noexcept nogil

cdef inline void list_push(HeapState* heap, SpanList* lst, Span* s) noexcept nogil:
    cdef int32_t id = <int32_t>s.start_page
    s.prev = NO_SPAN
    s.next = lst.head
    if lst.head != NO_SPAN:
        heap.pages.spans[lst.head].prev = id
    lst.head = id
    lst.count += 1

cdef inline void list_remove(HeapState* heap, SpanList* lst, Span* s) noexcept nogil:
    if GCB_DEBUG:
        debug_assert(heap, lst.count > 0, "list_remove: removing from an empty span list")
        debug_assert(heap, s.prev != NO_SPAN or lst.head == <int32_t>s.start_page,
                     "list_remove: a span without a predecessor is not the head of its list")
        debug_assert(heap, s.next == NO_SPAN or heap.pages.spans[s.next].prev == <int32_t>s.start_page,
                     "list_remove: the next span does not link back")
    if s.prev != NO_SPAN:
        heap.pages.spans[s.prev].next = s.next
    else:
        lst.head = s.next
    if s.next != NO_SPAN:
        heap.pages.spans[s.next].prev = s.prev
    s.next = NO_SPAN
    s.prev = NO_SPAN
    lst.count -= 1

cdef inline Span* list_pop(HeapState* heap, SpanList* lst) noexcept nogil:
    if lst.head == NO_SPAN:
        return NULL
    cdef Span* s = &heap.pages.spans[lst.head]
    list_remove(heap, lst, s)
    return s

cdef inline int swept_index(HeapState* heap) noexcept nogil:
    return (heap.pages.sweepgen >> 1) & 1

cdef inline int unswept_index(HeapState* heap) noexcept nogil:
    return 1 - ((heap.pages.sweepgen >> 1) & 1)
