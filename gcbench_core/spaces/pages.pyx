# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""spaces/pages: the page heap (contract in pages.pxd): mapping, free runs that
coalesce, first-fit reuse, fresh pages from the high-water mark, span records."""
from libc.stdint cimport uint8_t, uint32_t, int32_t, uint64_t, int64_t
from libc.string cimport memset
from gcbench_core.heap cimport (HeapState, Span, SpanList, PAGE_SHIFT, PAGE_SIZE,
                                BITMAP_WORDS_PER_PAGE, NO_SPAN, SPAN_FREE, SPAN_LARGE)

cdef extern from "sys/mman.h" nogil:
    void* mmap(void* addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void* addr, size_t length)
    int madvise(void* addr, size_t length, int advice)
    int PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE, MADV_HUGEPAGE
    void* MAP_FAILED

cdef void* map_zeroed(size_t nbytes) noexcept nogil:
    # Anonymous private mappings are zero-filled and committed only when touched, so
    # a large configured heap costs nothing until it is used.
    cdef void* p = mmap(NULL, nbytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    if p == MAP_FAILED:
        return NULL
    # Transparent huge pages where the kernel allows them: a marker that walks a heap of
    # tens of MiB misses the TLB on nearly every object with 4 KiB pages (Go does the same).
    madvise(p, nbytes, MADV_HUGEPAGE)
    return p

cdef void unmap(void* p, size_t nbytes) noexcept nogil:
    if p != NULL:
        munmap(p, nbytes)

cdef bint pages_init(HeapState* heap, uint32_t npages) noexcept nogil:
    heap.pages.npages = npages
    heap.pages.arena_bytes = <int64_t>npages * PAGE_SIZE
    heap.pages.arena = <char*>map_zeroed(heap.pages.arena_bytes)
    heap.pages.spans = <Span*>map_zeroed(npages * sizeof(Span))
    heap.pages.page_map = <uint32_t*>map_zeroed(npages * sizeof(uint32_t))
    heap.pages.alloc_bits_area = <uint64_t*>map_zeroed(<size_t>npages * BITMAP_WORDS_PER_PAGE * 8)
    heap.pages.mark_bits_area = <uint64_t*>map_zeroed(<size_t>npages * BITMAP_WORDS_PER_PAGE * 8)
    heap.pages.free_runs.head = NO_SPAN
    heap.pages.sweepgen = 2
    return not (heap.pages.arena == NULL or heap.pages.spans == NULL or heap.pages.page_map == NULL
                or heap.pages.alloc_bits_area == NULL or heap.pages.mark_bits_area == NULL)

cdef void pages_free(HeapState* heap) noexcept nogil:
    cdef uint32_t npages = heap.pages.npages
    unmap(heap.pages.arena, heap.pages.arena_bytes)
    unmap(heap.pages.spans, npages * sizeof(Span))
    unmap(heap.pages.page_map, npages * sizeof(uint32_t))
    unmap(heap.pages.alloc_bits_area, <size_t>npages * BITMAP_WORDS_PER_PAGE * 8)
    unmap(heap.pages.mark_bits_area, <size_t>npages * BITMAP_WORDS_PER_PAGE * 8)
    heap.pages.arena = NULL
    heap.pages.spans = NULL
    heap.pages.page_map = NULL
    heap.pages.alloc_bits_area = NULL
    heap.pages.mark_bits_area = NULL

cdef inline void set_page_map(HeapState* heap, uint32_t start, uint32_t npages, bint all_pages) noexcept nogil:
    cdef uint32_t p
    if all_pages:
        for p in range(start, start + npages):
            heap.pages.page_map[p] = start
    else:
        heap.pages.page_map[start] = start
        heap.pages.page_map[start + npages - 1] = start

cdef void free_run_insert(HeapState* heap, uint32_t start, uint32_t npages, bint needzero) noexcept nogil:
    cdef Span* s
    cdef Span* neighbour
    cdef uint32_t left
    # coalesce with the run after
    if start + npages < heap.pages.high_water_page:
        neighbour = &heap.pages.spans[start + npages]
        if neighbour.state == SPAN_FREE and neighbour.npages > 0:
            list_remove(heap, &heap.pages.free_runs, neighbour)
            needzero = needzero or neighbour.needzero
            npages += neighbour.npages
            neighbour.npages = 0
    # coalesce with the run before
    if start > 0:
        left = heap.pages.page_map[start - 1]
        neighbour = &heap.pages.spans[left]
        if neighbour.state == SPAN_FREE and neighbour.npages > 0 and left + neighbour.npages == start:
            list_remove(heap, &heap.pages.free_runs, neighbour)
            needzero = needzero or neighbour.needzero
            npages += neighbour.npages
            heap.pages.spans[start].npages = 0
            start = left
    s = &heap.pages.spans[start]
    s.state = SPAN_FREE
    s.start_page = start
    s.npages = npages
    s.needzero = needzero
    s.base = heap.pages.arena + (<uint64_t>start << PAGE_SHIFT)
    set_page_map(heap, start, npages, False)
    list_push(heap, &heap.pages.free_runs, s)

cdef int64_t page_alloc(HeapState* heap, uint32_t npages) noexcept nogil:
    # First fit over the free runs (few in practice: they coalesce), else fresh pages.
    cdef int32_t id = heap.pages.free_runs.head
    cdef Span* s
    cdef uint32_t rest
    cdef bint needzero
    while id != NO_SPAN:
        s = &heap.pages.spans[id]
        if s.npages >= npages:
            list_remove(heap, &heap.pages.free_runs, s)
            rest = s.npages - npages
            needzero = s.needzero
            s.npages = npages
            s.state = SPAN_LARGE     # taken: the remainder must not coalesce back into it
            if rest > 0:
                heap.pages.spans[id + npages].state = SPAN_FREE
                heap.pages.spans[id + npages].npages = 0
                free_run_insert(heap, id + npages, rest, needzero)
            s.needzero = needzero
            return id
        id = s.next
    if <uint64_t>heap.pages.high_water_page + npages <= heap.pages.npages:
        id = <int32_t>heap.pages.high_water_page
        heap.pages.high_water_page += npages
        heap.pages.spans[id].needzero = 0
        return id
    return -1

cdef void span_release_pages(HeapState* heap, Span* s) noexcept nogil:
    heap.pages.pages_in_use -= s.npages
    s.state = SPAN_FREE
    free_run_insert(heap, s.start_page, s.npages, True)

# Take `npages` for a new span; NULL when the page heap has no room (the callers then
# collect once and look again, since a collection frees slots as well as pages).
cdef Span* span_alloc(HeapState* heap, uint32_t npages, uint8_t state) noexcept nogil:
    cdef int64_t start = page_alloc(heap, npages)
    cdef Span* s
    if start < 0:
        return NULL
    s = &heap.pages.spans[start]
    s.start_page = <uint32_t>start
    s.npages = npages
    s.state = state
    s.base = heap.pages.arena + (<uint64_t>start << PAGE_SHIFT)
    s.alloc_bits = heap.pages.alloc_bits_area + <uint64_t>start * BITMAP_WORDS_PER_PAGE
    s.mark_bits = heap.pages.mark_bits_area + <uint64_t>start * BITMAP_WORDS_PER_PAGE
    memset(s.alloc_bits, 0, npages * BITMAP_WORDS_PER_PAGE * 8)
    memset(s.mark_bits, 0, npages * BITMAP_WORDS_PER_PAGE * 8)
    s.freeindex = 0
    s.alloc_cache = ~(<uint64_t>0)
    s.bump_next = NULL
    s.bump_end = NULL
    s.sweepgen = heap.pages.sweepgen
    s.next = NO_SPAN
    s.prev = NO_SPAN
    set_page_map(heap, <uint32_t>start, npages, True)
    heap.pages.pages_in_use += npages
    if heap.pages.pages_in_use > heap.pages.peak_pages_in_use:
        heap.pages.peak_pages_in_use = heap.pages.pages_in_use
    return s


