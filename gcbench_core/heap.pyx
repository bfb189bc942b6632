# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
#
# heap.pyx: the managed heap (arena, page heap, spans, size classes, bitmaps), the
# shared mechanisms every collector uses (mark from roots, drain, sweep, pacer,
# verify), event recording, and `ManagedHeap`, the Python handle the harness holds.
#
# Invariants (checked by heap_verify):
#   * every object reachable from the roots lies in an in-use span, at an element
#     boundary, is allocated (index < freeindex or alloc bit set) and has a sane header;
#   * alloc_bytes - freed_bytes == sum over in-use spans of allocated objects * elemsize.

from libc.stdint cimport uint8_t, uint32_t, int32_t, uint64_t, int64_t, uintptr_t, INT64_MAX
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memset, memcpy, strncpy, strlen
from libc.stdio cimport snprintf, fprintf, stderr
from libc.stdlib cimport abort

import numpy as np

cdef extern from "sys/mman.h" nogil:
    void* mmap(void* addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void* addr, size_t length)
    int madvise(void* addr, size_t length, int advice)
    int PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE, MADV_HUGEPAGE
    void* MAP_FAILED

# Go's size classes (runtime/sizeclasses.go), from 16 bytes: an object is 8 header
# bytes plus slots, so nothing is smaller than 16.
SIZE_CLASSES = (16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
                240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768,
                896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200,
                3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
                10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576,
                27264, 28672, 32768)

PAUSE_KIND_NAMES = ("stw-collect", "mark-start", "mark-termination", "full-gc")

ERROR_NAMES = {ERR_HEAP_EXHAUSTED: "heap exhausted", ERR_HEAP_CORRUPTION: "heap corruption",
               ERR_INTERRUPTED: "interrupted", ERR_INVALID: "invalid operation",
               ERR_INTERNAL: "internal error"}

# Corruptions a test can ask for (ManagedHeap.corrupt_at), to prove the verifier fails.
cdef enum:
    CORRUPT_FREE_REACHABLE = 1      # clear the alloc bit of a reachable object
    CORRUPT_ACCOUNTING = 2          # lose 16 bytes from the freed-bytes counter
    CORRUPT_HEADER = 3              # scribble over a reachable object's header
CORRUPT_KINDS = {"free-reachable": 1, "accounting": 2, "header": 3}

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


# ---------------------------------------------------------------------------
# Errors

cdef void heap_fail(HeapState* heap, int code, const char* msg) noexcept nogil:
    if heap.error_code == ERR_NONE:
        heap.error_code = code
        strncpy(heap.error_msg, msg, 1023)
        heap.error_msg[1023] = 0
    if heap.in_run:
        gcb_throw(&heap.escape)


# Debug builds (GCB_DEBUG): internal assertions call heap_fail_assert, and the mutator's
# operations call heap_fail_poisoned when they touch a freed object (poisoned by
# sweep_span).  Both are cold: release builds never call them.
cdef void heap_fail_assert(HeapState* heap, const char* what) noexcept nogil:
    cdef char msg[300]
    snprintf(msg, 300, "internal error (debug assertion): %s", what)
    heap_fail(heap, ERR_INTERNAL, msg)

cdef void heap_fail_poisoned(HeapState* heap, Object* obj, const char* operation) noexcept nogil:
    cdef char msg[300]
    snprintf(msg, 300, "heap corruption: the mutator's %s object %p, which is poisoned (freed) "
             "memory: the collector freed an object that was still in use", operation, <void*>obj)
    heap_fail(heap, ERR_HEAP_CORRUPTION, msg)

cdef inline void debug_assert(HeapState* heap, bint ok, const char* what) noexcept nogil:
    # call as `if GCB_DEBUG: debug_assert(...)`, so that release builds do not even
    # evaluate the condition.  It unwinds like heap_fail: only on the mutator's thread.
    if not ok:
        heap_fail_assert(heap, what)


# ---------------------------------------------------------------------------
# Span lists (doubly linked through start pages)

cdef inline void list_push(HeapState* heap, SpanList* lst, Span* s) noexcept nogil:
    cdef int32_t id = <int32_t>s.start_page
    s.prev = NO_SPAN
    s.next = lst.head
    if lst.head != NO_SPAN:
        heap.spans[lst.head].prev = id
    lst.head = id
    lst.count += 1

cdef inline void list_remove(HeapState* heap, SpanList* lst, Span* s) noexcept nogil:
    if GCB_DEBUG:
        debug_assert(heap, lst.count > 0, "list_remove: removing from an empty span list")
        debug_assert(heap, s.prev != NO_SPAN or lst.head == <int32_t>s.start_page,
                     "list_remove: a span without a predecessor is not the head of its list")
        debug_assert(heap, s.next == NO_SPAN or heap.spans[s.next].prev == <int32_t>s.start_page,
                     "list_remove: the next span does not link back")
    if s.prev != NO_SPAN:
        heap.spans[s.prev].next = s.next
    else:
        lst.head = s.next
    if s.next != NO_SPAN:
        heap.spans[s.next].prev = s.prev
    s.next = NO_SPAN
    s.prev = NO_SPAN
    lst.count -= 1

cdef inline Span* list_pop(HeapState* heap, SpanList* lst) noexcept nogil:
    if lst.head == NO_SPAN:
        return NULL
    cdef Span* s = &heap.spans[lst.head]
    list_remove(heap, lst, s)
    return s

cdef inline int swept_index(HeapState* heap) noexcept nogil:
    return (heap.sweepgen >> 1) & 1

cdef inline int unswept_index(HeapState* heap) noexcept nogil:
    return 1 - ((heap.sweepgen >> 1) & 1)


# ---------------------------------------------------------------------------
# Page heap: free runs coalesce with their neighbours; fresh pages come from a bump
# pointer (`high_water_page`) and are known to be zero.

cdef inline void set_page_map(HeapState* heap, uint32_t start, uint32_t npages, bint all_pages) noexcept nogil:
    cdef uint32_t p
    if all_pages:
        for p in range(start, start + npages):
            heap.page_map[p] = start
    else:
        heap.page_map[start] = start
        heap.page_map[start + npages - 1] = start

cdef void free_run_insert(HeapState* heap, uint32_t start, uint32_t npages, bint needzero) noexcept nogil:
    cdef Span* s
    cdef Span* neighbour
    cdef uint32_t left
    # coalesce with the run after
    if start + npages < heap.high_water_page:
        neighbour = &heap.spans[start + npages]
        if neighbour.state == SPAN_FREE and neighbour.npages > 0:
            list_remove(heap, &heap.free_runs, neighbour)
            needzero = needzero or neighbour.needzero
            npages += neighbour.npages
            neighbour.npages = 0
    # coalesce with the run before
    if start > 0:
        left = heap.page_map[start - 1]
        neighbour = &heap.spans[left]
        if neighbour.state == SPAN_FREE and neighbour.npages > 0 and left + neighbour.npages == start:
            list_remove(heap, &heap.free_runs, neighbour)
            needzero = needzero or neighbour.needzero
            npages += neighbour.npages
            heap.spans[start].npages = 0
            start = left
    s = &heap.spans[start]
    s.state = SPAN_FREE
    s.start_page = start
    s.npages = npages
    s.needzero = needzero
    s.base = heap.arena + (<uint64_t>start << PAGE_SHIFT)
    set_page_map(heap, start, npages, False)
    list_push(heap, &heap.free_runs, s)

cdef int64_t page_alloc(HeapState* heap, uint32_t npages) noexcept nogil:
    # First fit over the free runs (few in practice: they coalesce), else fresh pages.
    cdef int32_t id = heap.free_runs.head
    cdef Span* s
    cdef uint32_t rest
    cdef bint needzero
    while id != NO_SPAN:
        s = &heap.spans[id]
        if s.npages >= npages:
            list_remove(heap, &heap.free_runs, s)
            rest = s.npages - npages
            needzero = s.needzero
            s.npages = npages
            s.state = SPAN_LARGE     # taken: the remainder must not coalesce back into it
            if rest > 0:
                heap.spans[id + npages].state = SPAN_FREE
                heap.spans[id + npages].npages = 0
                free_run_insert(heap, id + npages, rest, needzero)
            s.needzero = needzero
            return id
        id = s.next
    if <uint64_t>heap.high_water_page + npages <= heap.npages:
        id = <int32_t>heap.high_water_page
        heap.high_water_page += npages
        heap.spans[id].needzero = 0
        return id
    return -1

cdef void span_release_pages(HeapState* heap, Span* s) noexcept nogil:
    heap.pages_in_use -= s.npages
    s.state = SPAN_FREE
    free_run_insert(heap, s.start_page, s.npages, True)

# Take `npages` for a new span; NULL when the page heap has no room (the callers then
# collect once and look again, since a collection frees slots as well as pages).
cdef Span* span_alloc(HeapState* heap, uint32_t npages, uint8_t state) noexcept nogil:
    cdef int64_t start = page_alloc(heap, npages)
    cdef Span* s
    if start < 0:
        return NULL
    s = &heap.spans[start]
    s.start_page = <uint32_t>start
    s.npages = npages
    s.state = state
    s.base = heap.arena + (<uint64_t>start << PAGE_SHIFT)
    s.alloc_bits = heap.alloc_bits_area + <uint64_t>start * BITMAP_WORDS_PER_PAGE
    s.mark_bits = heap.mark_bits_area + <uint64_t>start * BITMAP_WORDS_PER_PAGE
    memset(s.alloc_bits, 0, npages * BITMAP_WORDS_PER_PAGE * 8)
    memset(s.mark_bits, 0, npages * BITMAP_WORDS_PER_PAGE * 8)
    s.freeindex = 0
    s.alloc_cache = ~(<uint64_t>0)
    s.bump_next = NULL
    s.bump_end = NULL
    s.sweepgen = heap.sweepgen
    s.next = NO_SPAN
    s.prev = NO_SPAN
    set_page_map(heap, <uint32_t>start, npages, True)
    heap.pages_in_use += npages
    if heap.pages_in_use > heap.peak_pages_in_use:
        heap.peak_pages_in_use = heap.pages_in_use
    return s


# ---------------------------------------------------------------------------
# Allocation slow path (Go's nextFree + mcentral.cacheSpan)

# The free bits of word `w` of a small span, with the bits past nelems cleared.
cdef inline uint64_t cache_word(Span* s, uint32_t w) noexcept nogil:
    cdef uint64_t free_bits = ~s.alloc_bits[w]
    cdef uint32_t first = w << 6
    if first + 64 > s.nelems:
        free_bits &= ((<uint64_t>1) << (s.nelems - first)) - 1
    return free_bits

# Claim the next free index of `s` at or after freeindex, keeping alloc_cache in step
# (Go's nextFreeIndex); nelems when the span is full.  Everything below freeindex is
# allocated, so a word whose cache runs out is skipped to the next word boundary.
cdef uint32_t span_take(Span* s) noexcept nogil:
    cdef int bit
    cdef uint32_t index
    while s.alloc_cache == 0:
        if (s.freeindex & 63) != 0:
            s.freeindex = (s.freeindex + 64) & ~(<uint32_t>63)
        if s.freeindex >= s.nelems:
            s.freeindex = s.nelems
            return s.nelems
        s.alloc_cache = cache_word(s, s.freeindex >> 6)
        if s.alloc_cache == 0:
            s.freeindex += 64
    bit = gcb_ctz64(s.alloc_cache)
    index = s.freeindex + bit
    s.alloc_cache = (s.alloc_cache >> bit) >> 1
    s.freeindex = index + 1
    return index

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

# Bump runs shorter than this are not worth the slow-path trip that sets them up.
cdef enum:
    MIN_BUMP_RUN = 8

# After span_take: if the objects from freeindex on are free for a while, hand them out
# by bumping (whole free words at a time: a fresh or emptied span is one run).
cdef inline void span_set_run(HeapState* heap, Span* s) noexcept nogil:
    cdef uint32_t start = s.freeindex, i = s.freeindex, avail, room
    cdef uint64_t free_bits
    while i < s.nelems:
        room = 64 - (i & 63)
        free_bits = cache_word(s, i >> 6) >> (i & 63)
        avail = <uint32_t>gcb_ctz64(~free_bits)           # free objects in a row from i
        if avail >= room:
            i += room
        else:
            i += avail
            break
    if i > s.nelems:
        i = s.nelems
    if i - start >= MIN_BUMP_RUN:
        s.bump_next = s.base + <uint64_t>start * s.elemsize
        s.bump_end = s.base + <uint64_t>i * s.elemsize
        heap.alloc_count += i - start
        heap.alloc_bytes += <int64_t>(i - start) * s.elemsize

cdef void heap_sync_current_spans(HeapState* heap) noexcept nogil:
    cdef int c
    for c in range(1, heap.nclasses):
        span_sync(heap, heap.current[c])

cdef int64_t heap_in_use_exact(HeapState* heap, int64_t* objects) noexcept nogil:
    heap_sync_current_spans(heap)
    objects[0] = heap.alloc_count - heap.freed_count
    return heap.alloc_bytes - heap.freed_bytes

cdef inline void put_swept(HeapState* heap, Span* s) noexcept nogil:
    # A swept small span goes to the partial or full list of the current generation.
    cdef int g = swept_index(heap)
    if s.freeindex < s.nelems:
        list_push(heap, &heap.partial[s.sizeclass][g], s)
    else:
        list_push(heap, &heap.full[s.sizeclass][g], s)

# Sweep results
cdef enum:
    SWEPT_FREED = 0
    SWEPT_FULL = 1
    SWEPT_PARTIAL = 2

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

# Debug builds: fill every object this sweep frees (allocated, but not marked) with
# GCB_POISON_BYTE, so that a mutator still holding one fails at its next access instead
# of reading stale data; and check that every marked object was allocated.
cdef void sweep_debug_poison(HeapState* heap, Span* s) noexcept nogil:
    cdef uint32_t nwords = (s.nelems + 63) >> 6, w, i
    cdef uint64_t allocated, freed, valid
    for w in range(nwords):
        if (w + 1) * 64 <= s.freeindex:
            allocated = ~(<uint64_t>0)
        elif w * 64 < s.freeindex:
            allocated = s.alloc_bits[w] | ((<uint64_t>1 << (s.freeindex & 63)) - 1)
        else:
            allocated = s.alloc_bits[w]
        valid = ~(<uint64_t>0) if (w + 1) * 64 <= s.nelems else ((<uint64_t>1 << (s.nelems & 63)) - 1)
        allocated &= valid
        debug_assert(heap, (s.mark_bits[w] & ~allocated) == 0,
                     "sweep: a marked object was never allocated (marking reached a free slot)")
        freed = allocated & ~s.mark_bits[w]
        while freed != 0:
            i = w * 64 + <uint32_t>gcb_ctz64(freed)
            freed &= freed - 1
            memset(s.base + <uint64_t>i * s.elemsize, GCB_POISON_BYTE, s.elemsize)

# Sweep one span that is on no list: the mark bits become the alloc bits.  A span left
# empty returns its pages; otherwise it goes to a swept list, unless `keep` and it has
# room, in which case the caller takes it (SWEPT_PARTIAL).
cdef int sweep_span(HeapState* heap, Span* s, bint keep) noexcept nogil:
    cdef uint32_t nwords, w
    cdef int64_t before, live = 0, freed
    cdef int64_t in_use = heap.alloc_bytes - heap.freed_bytes
    if in_use > heap.peak_heap_bytes:
        heap.peak_heap_bytes = in_use
    if GCB_DEBUG:
        debug_assert(heap, s.sweepgen == heap.sweepgen - 2, "sweep_span: span does not need sweeping (sweepgen)")
        debug_assert(heap, heap.freed_bytes <= heap.alloc_bytes, "sweep_span: freed more bytes than allocated")
    s.sweepgen = heap.sweepgen
    if s.state == SPAN_LARGE:
        if s.mark_bits[0] & 1:
            s.mark_bits[0] = 0
            list_push(heap, &heap.large[swept_index(heap)], s)
            return SWEPT_FULL
        if GCB_DEBUG:
            memset(s.base, GCB_POISON_BYTE, min((<Object*>s.base).nbytes, s.elemsize))
        heap.freed_count += 1
        heap.freed_bytes += s.elemsize
        span_release_pages(heap, s)
        return SWEPT_FREED
    nwords = (s.nelems + 63) >> 6
    before = span_allocated_count(s)
    if GCB_DEBUG:
        debug_assert(heap, s.state == SPAN_SMALL, "sweep_span: sweeping a free span")
        debug_assert(heap, s.elemsize == heap.class_size[s.sizeclass] and s.nelems * s.elemsize <= s.npages * PAGE_SIZE,
                     "sweep_span: span geometry does not match its size class")
        sweep_debug_poison(heap, s)
    for w in range(nwords):
        live += gcb_popcount64(s.mark_bits[w])
        s.alloc_bits[w] = s.mark_bits[w]
        s.mark_bits[w] = 0
    freed = before - live
    if freed > 0:
        s.needzero = 1
        heap.freed_count += freed
        heap.freed_bytes += freed * s.elemsize
    if live == 0:
        span_release_pages(heap, s)
        return SWEPT_FREED
    s.freeindex = 0
    s.alloc_cache = cache_word(s, 0)
    if live == s.nelems:
        s.freeindex = s.nelems
        s.alloc_cache = 0
        list_push(heap, &heap.full[s.sizeclass][swept_index(heap)], s)
        return SWEPT_FULL
    if keep:
        return SWEPT_PARTIAL
    list_push(heap, &heap.partial[s.sizeclass][swept_index(heap)], s)
    return SWEPT_PARTIAL

# Find a span with room for class `c` (Go's mcentral.cacheSpan): a swept partial span,
# else sweep unswept ones of this class, else a fresh span; when the page heap is full,
# collect to completion once and look again from the start.
cdef Span* refill_class(HeapState* heap, uint32_t c) noexcept nogil:
    cdef Span* s = find_span_for_class(heap, c)
    if s == NULL:
        heap.collector.out_of_memory(heap)
        s = find_span_for_class(heap, c)
    return s

cdef Span* find_span_for_class(HeapState* heap, uint32_t c) noexcept nogil:
    cdef Span* s
    cdef int u
    cdef int64_t t0
    s = list_pop(heap, &heap.partial[c][swept_index(heap)])
    if s != NULL:
        return s
    u = unswept_index(heap)
    if heap.partial[c][u].head != NO_SPAN or heap.full[c][u].head != NO_SPAN:
        t0 = gcb_now_ns()
        while True:
            s = list_pop(heap, &heap.partial[c][u])
            if s == NULL:
                s = list_pop(heap, &heap.full[c][u])
            if s == NULL:
                break
            if sweep_span(heap, s, True) == SWEPT_PARTIAL:
                heap.sweep_ns += gcb_now_ns() - t0
                return s
        heap.sweep_ns += gcb_now_ns() - t0
    s = span_alloc(heap, heap.class_npages[c], SPAN_SMALL)
    if s == NULL:
        return NULL
    s.sizeclass = <uint8_t>c
    s.elemsize = heap.class_size[c]
    s.nelems = (s.npages * PAGE_SIZE) // s.elemsize
    s.divmul = <uint32_t>((<uint64_t>0xFFFFFFFF) // s.elemsize + 1)
    s.alloc_cache = cache_word(s, 0)
    return s

cdef void heap_release_current_spans(HeapState* heap) noexcept nogil:
    cdef int c
    cdef Span* s
    for c in range(1, heap.nclasses):
        s = heap.current[c]
        if s != &heap.empty_span:
            span_sync(heap, s)
            put_swept(heap, s)
            heap.current[c] = &heap.empty_span

# Turn allocate-black on or off.  Every current span is released, so that the spans the
# fast path takes from next carry the new ALLOC_BLACK flag.  O(size classes).
cdef void heap_set_allocate_black(HeapState* heap, bint on) noexcept nogil:
    heap.allocate_black = on
    heap_release_current_spans(heap)

cdef Object* heap_alloc_slow(HeapState* heap, uint32_t nbytes, uint32_t nslots) noexcept nogil:
    cdef uint32_t c, index, npages
    cdef Span* s
    cdef Object* obj
    cdef char msg[256]
    if heap.collector.external_alloc != NULL:
        return heap.collector.external_alloc(heap, nbytes, nslots)
    if nbytes > MAX_SMALL_SIZE:
        npages = (nbytes + PAGE_SIZE - 1) >> PAGE_SHIFT
        s = span_alloc(heap, npages, SPAN_LARGE)
        if s == NULL:
            heap.collector.out_of_memory(heap)
            s = span_alloc(heap, npages, SPAN_LARGE)
        if s == NULL:
            snprintf(msg, 256, "heap exhausted: cannot allocate %u bytes; heap size %lld bytes, %lld bytes live after a full collection",
                     nbytes, <long long>heap.arena_bytes, <long long>(heap.alloc_bytes - heap.freed_bytes))
            heap_fail(heap, ERR_HEAP_EXHAUSTED, msg)
            return NULL
        s.sizeclass = 0
        s.elemsize = npages * PAGE_SIZE
        s.nelems = 1
        s.divmul = 0
        s.freeindex = 1
        s.alloc_cache = 0
        list_push(heap, &heap.large[swept_index(heap)], s)
        obj = <Object*>s.base
        if s.needzero:
            clear_slots(obj, (nbytes - HEADER_BYTES) // 8)
    else:
        c = size_class_of(heap, nbytes)
        s = heap.current[c]
        span_sync(heap, s)
        index = span_take(s)
        while index >= s.nelems:
            if s != &heap.empty_span:
                put_swept(heap, s)
                heap.current[c] = &heap.empty_span
            s = refill_class(heap, c)
            if s == NULL:
                snprintf(msg, 256, "heap exhausted: cannot allocate %u bytes; heap size %lld bytes, %lld bytes live after a full collection",
                         nbytes, <long long>heap.arena_bytes, <long long>(heap.alloc_bytes - heap.freed_bytes))
                heap_fail(heap, ERR_HEAP_EXHAUSTED, msg)
                return NULL
            # the refill may have collected (out of memory) and flipped: re-read
            heap.current[c] = s
            s.alloc_flags = (ALLOC_CLEAR_SLOTS if s.needzero else 0) | (ALLOC_BLACK if heap.allocate_black else 0)
            index = span_take(s)
        if GCB_DEBUG:
            debug_assert(heap, s.state == SPAN_SMALL and s.sizeclass == c, "alloc: span of the wrong class")
            debug_assert(heap, not ((s.alloc_bits[index >> 6] >> (index & 63)) & 1),
                         "alloc: handing out a slot whose alloc bit is set (a live object)")
        obj = <Object*>(s.base + <uint64_t>index * s.elemsize)
        if s.needzero:
            clear_slots(obj, (nbytes - HEADER_BYTES) // 8)
        span_set_run(heap, s)
    heap.alloc_count += 1
    heap.alloc_bytes += s.elemsize
    if heap.allocate_black:
        mark_object_atomic(heap, obj)
    return obj


# ---------------------------------------------------------------------------
# Safepoint poll (every poll_interval_ops mutator operations)

cdef void heap_poll_slow(HeapState* heap) noexcept nogil:
    heap.next_poll_ops = heap.mutator_ops + heap.poll_interval_ops
    if gcb_sigint_pending():
        heap_fail(heap, ERR_INTERRUPTED, "interrupted")
    if heap.collector.poll_hook != NULL:
        heap.collector.poll_hook(heap)


cdef void heap_check_interrupt(HeapState* heap) noexcept nogil:
    if gcb_sigint_pending():
        heap_fail(heap, ERR_INTERRUPTED, "interrupted")


# ---------------------------------------------------------------------------
# Marking with the world stopped: mark-on-push, an explicit stack, never recursion.

cdef void mark_stack_grow(MarkStack* stack) noexcept nogil:
    cdef int64_t cap = stack.capacity * 2 if stack.capacity > 0 else 4096
    cdef Object** items = <Object**>realloc(stack.items, cap * sizeof(Object*))
    if items == NULL:
        # Out of C memory for the mark stack: nothing sensible can continue.
        fprintf(stderr, b"gcbench: out of memory growing a mark stack to %lld entries\n", <long long>cap)
        abort()
    stack.items = items
    stack.capacity = cap

cdef void mark_stack_free(MarkStack* stack) noexcept nogil:
    free(stack.items)
    stack.items = NULL
    stack.length = 0
    stack.capacity = 0

cdef inline void mark_slot_value(HeapState* heap, MarkStack* stack, Object* obj) noexcept nogil:
    if obj != NULL and mark_object(heap, obj):
        mark_stack_push(stack, obj)

cdef void heap_mark_stack_roots(HeapState* heap, MarkStack* stack) noexcept nogil:
    cdef int i
    for i in range(heap.nstack):
        mark_slot_value(heap, stack, heap.stack[i])

# Grey every root: the stack slots (unless include_stack is false), the globals and the
# extra root ranges.
cdef void heap_mark_roots(HeapState* heap, MarkStack* stack, bint include_stack) noexcept nogil:
    cdef int i
    cdef int64_t j
    if include_stack:
        heap_mark_stack_roots(heap, stack)
    for i in range(heap.nglobals):
        mark_slot_value(heap, stack, <Object*>gcb_load_ptr(<void**>&heap.globals[i]))
    for i in range(heap.nextra_roots):
        for j in range(heap.extra_roots[i].count):
            mark_slot_value(heap, stack, <Object*>gcb_load_ptr(<void**>&heap.extra_roots[i].slots[j]))

# Scan grey objects until the stack is empty; returns the number scanned.
#
# Objects popped from the mark stack pass through a small FIFO before they are scanned,
# and are prefetched as they enter it (Cher, Hosking & Vijaykumar, ASPLOS 2004; Boehm's
# GC does the same): by the time an object is scanned its header and slots are in cache,
# so a marker walking a shuffled graph waits for several misses at once instead of one
# after another.  Marking happens on push (mark_object), so an object enters the stack once.
cdef int64_t heap_drain(HeapState* heap, MarkStack* stack) noexcept nogil:
    cdef int64_t scanned = 0
    cdef Object* fifo[PREFETCH_DEPTH]
    cdef int head = 0, count = 0
    cdef Object* obj
    cdef Object* child
    cdef Object** slots
    cdef uint32_t i, n
    while True:
        while count < PREFETCH_DEPTH and stack.length > 0:
            stack.length -= 1
            obj = stack.items[stack.length]
            gcb_prefetch(obj)
            fifo[(head + count) & (PREFETCH_DEPTH - 1)] = obj
            count += 1
        if count == 0:
            break
        obj = fifo[head]
        head = (head + 1) & (PREFETCH_DEPTH - 1)
        count -= 1
        scanned += 1
        n = obj.nslots
        slots = obj_slots(obj)
        for i in range(n):
            child = slots[i]
            if child != NULL and mark_object(heap, child):
                mark_stack_push(stack, child)
    return scanned

# ---------------------------------------------------------------------------
# Sweeping

# End of marking: every current span goes back to its list and the sweep generation
# advances, so that every in-use span now needs sweeping.  O(size classes).
cdef void heap_flip(HeapState* heap) noexcept nogil:
    heap_release_current_spans(heap)
    heap.sweepgen += 2

cdef bint heap_sweep_one(HeapState* heap) noexcept nogil:
    # Sweep one unswept span of any class; false when nothing is left to sweep.
    cdef int u = unswept_index(heap)
    cdef int c
    cdef Span* s = list_pop(heap, &heap.large[u])
    if s != NULL:
        sweep_span(heap, s, False)
        return True
    for c in range(1, heap.nclasses):
        s = list_pop(heap, &heap.partial[c][u])
        if s == NULL:
            s = list_pop(heap, &heap.full[c][u])
        if s != NULL:
            sweep_span(heap, s, False)
            return True
    return False

cdef void heap_sweep_all(HeapState* heap) noexcept nogil:
    cdef int u = unswept_index(heap)
    cdef int c
    cdef Span* s
    while True:
        s = list_pop(heap, &heap.large[u])
        if s == NULL:
            break
        sweep_span(heap, s, False)
    for c in range(1, heap.nclasses):
        while True:
            s = list_pop(heap, &heap.partial[c][u])
            if s == NULL:
                s = list_pop(heap, &heap.full[c][u])
            if s == NULL:
                break
            sweep_span(heap, s, False)


# ---------------------------------------------------------------------------
# Pacer: Go's rule, goal = marked * (1 + GOGC/100), at least 4 MiB * GOGC/100.

cdef void heap_set_goal(HeapState* heap, int64_t marked_bytes) noexcept nogil:
    cdef int64_t goal
    heap.last_marked_bytes = marked_bytes
    if marked_bytes > heap.peak_live_bytes:
        heap.peak_live_bytes = marked_bytes
    if heap.gogc < 0:
        heap.heap_goal = INT64_MAX
        heap.heap_trigger = INT64_MAX
        return
    goal = marked_bytes + marked_bytes * heap.gogc // 100
    if goal < (<int64_t>4 << 20) * heap.gogc // 100:
        goal = (<int64_t>4 << 20) * heap.gogc // 100
    heap.heap_goal = goal
    heap.heap_trigger = goal

# ---------------------------------------------------------------------------
# Events

cdef void heap_record_pause(HeapState* heap, int kind, int64_t start_ns, int64_t end_ns) noexcept nogil:
    cdef PauseRecord* grown
    if heap.npauses == heap.pauses_cap:
        grown = <PauseRecord*>realloc(heap.pauses, heap.pauses_cap * 2 * sizeof(PauseRecord))
        if grown == NULL:
            return
        heap.pauses = grown
        heap.pauses_cap *= 2
    heap.pauses[heap.npauses].start_ns = start_ns
    heap.pauses[heap.npauses].end_ns = end_ns
    heap.pauses[heap.npauses].kind = kind
    heap.pauses[heap.npauses].cycle = heap.cycles
    heap.npauses += 1
    heap.gc_stw_ns += end_ns - start_ns

cdef CycleRecord* heap_new_cycle(HeapState* heap) noexcept nogil:
    cdef CycleRecord* grown
    if heap.ncycle_log == heap.cycle_log_cap:
        grown = <CycleRecord*>realloc(heap.cycle_log, heap.cycle_log_cap * 2 * sizeof(CycleRecord))
        if grown == NULL:
            heap_fail(heap, ERR_INTERNAL, "out of memory for the cycle log")
            return NULL
        heap.cycle_log = grown
        heap.cycle_log_cap *= 2
    cdef CycleRecord* cycle = &heap.cycle_log[heap.ncycle_log]
    memset(cycle, 0, sizeof(CycleRecord))
    heap.cycles += 1
    heap.ncycle_log += 1
    return cycle

# A cycle has ended (the world is stopped or the caller owns the heap): verify if
# asked, and apply test-only corruption first so the verifier has something to find.
cdef void heap_cycle_done(HeapState* heap, CycleRecord* cycle) noexcept nogil:
    cdef int64_t t0
    if heap.corrupt_at_cycle > 0 and heap.cycles == heap.corrupt_at_cycle:
        corrupt_heap(heap, heap.corrupt_kind)
    if heap.verify:
        t0 = gcb_now_ns()
        heap_verify(heap, False)
        heap.verify_ns += gcb_now_ns() - t0
        heap.verified_cycles += 1


# ---------------------------------------------------------------------------
# Verifier: an independent trace from the roots with its own bitmap and stack.

cdef inline bint object_allocated(Span* s, uint32_t index) noexcept nogil:
    return index < s.freeindex or ((s.alloc_bits[index >> 6] >> (index & 63)) & 1)

# Check that `obj` (found in `where`) is a valid allocated object; fail with a message.
cdef void verify_object(HeapState* heap, Object* obj, const char* where, bint check_marks) noexcept nogil:
    cdef char msg[900]
    cdef Span* s
    cdef uint32_t index
    cdef uintptr_t offset = <uintptr_t>obj - <uintptr_t>heap.arena
    if not in_arena(heap, obj) or (offset & 7) != 0 or (offset >> PAGE_SHIFT) >= heap.high_water_page:
        snprintf(msg, 900, "heap corruption: %p is not an object address in the arena (reached by %s)", <void*>obj, where)
        heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
        return
    s = span_of(heap, obj)
    if s.state == SPAN_FREE:
        snprintf(msg, 900, "heap corruption: reachable object %p lies in free pages: it was freed while reachable (reached by %s)", <void*>obj, where)
        heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
        return
    index = obj_index(s, obj)
    if <uintptr_t>obj != <uintptr_t>(s.base + <uint64_t>index * s.elemsize) or index >= s.nelems:
        snprintf(msg, 900, "heap corruption: %p is not at an object boundary of its span (element size %u; reached by %s)", <void*>obj, s.elemsize, where)
        heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
        return
    if not object_allocated(s, index):
        snprintf(msg, 900, "heap corruption: reachable object %p (size class %u bytes) was freed (reached by %s)", <void*>obj, s.elemsize, where)
        heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
        return
    if obj.nbytes > s.elemsize or obj.nbytes < HEADER_BYTES + 8 * <uint64_t>obj.nslots:
        snprintf(msg, 900, "heap corruption: reachable object %p has a damaged header (%u slots, %u bytes, element size %u; reached by %s)", <void*>obj, obj.nslots, obj.nbytes, s.elemsize, where)
        heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
        return
    if check_marks and not ((s.mark_bits[index >> 6] >> (index & 63)) & 1):
        snprintf(msg, 900, "heap corruption: reachable object %p is unmarked at the end of marking (the concurrent mark missed it; it would be freed); path from a root: %s", <void*>obj, where)
        heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
        return

cdef inline bint verify_visit(HeapState* heap, Object* obj) noexcept nogil:
    cdef uint64_t granule = (<uintptr_t>obj - <uintptr_t>heap.arena) >> 3
    cdef uint64_t bit = (<uint64_t>1) << (granule & 63)
    if heap.verify_bits[granule >> 6] & bit:
        return False
    heap.verify_bits[granule >> 6] |= bit
    return True

# The verifier's trace is breadth-first over an append-only list of every object it
# reached (heap.verify_stack.items), with each entry's parent entry and slot beside it,
# so that a failure can name the path from a root (as Go's gccheckmark does).  Root
# entries have parent ROOT_ENTRY and, in the slot array, the root's number: stack slots
# first, then globals, then the extra roots in order.
cdef int64_t* verify_parent = NULL
cdef uint32_t* verify_slot = NULL
cdef int64_t verify_capacity = 0
cdef enum:
    ROOT_ENTRY = -1

cdef void describe_root(HeapState* heap, uint32_t number, char* buf, size_t size) noexcept nogil:
    cdef int i
    if number < <uint32_t>heap.nstack:
        snprintf(buf, size, "stack slot %u", number)
        return
    number -= heap.nstack
    if number < <uint32_t>heap.nglobals:
        snprintf(buf, size, "global %u", number)
        return
    number -= heap.nglobals
    for i in range(heap.nextra_roots):
        if number < heap.extra_roots[i].count:
            snprintf(buf, size, "extra root %d[%u]", i, number)
            return
        number -= <uint32_t>heap.extra_roots[i].count
    snprintf(buf, size, "a root")

# "global 0 -> 0x...[slot 1] -> 0x...[slot 0] -> 0x..." for entry `e` (at most 12 hops
# shown: the root end and the object end).
cdef void describe_path(HeapState* heap, int64_t e, char* buf, size_t size) noexcept nogil:
    cdef int64_t chain[12]
    cdef int n = 0, k
    cdef size_t used
    cdef int64_t cur = e
    cdef bint cut = False
    while cur != ROOT_ENTRY:
        if n == 12:
            cut = True
            for k in range(11):
                chain[k] = chain[k + 1]
            n = 11
        chain[n] = cur
        n += 1
        cur = verify_parent[cur]
    # chain[n-1] is the root entry
    describe_root(heap, verify_slot[chain[n - 1]], buf, size)
    used = strlen(buf)
    if cut and used < size:
        snprintf(buf + used, size - used, " -> ...")
        used = strlen(buf)
    for k in range(n - 1, -1, -1):
        if used >= size:
            break
        if k == n - 1:
            snprintf(buf + used, size - used, " -> %p", <void*>heap.verify_stack.items[chain[k]])
        else:
            snprintf(buf + used, size - used, " -> [slot %u] %p", verify_slot[chain[k]],
                     <void*>heap.verify_stack.items[chain[k]])
        used = strlen(buf)

cdef bint verify_record(HeapState* heap, Object* obj, int64_t parent, uint32_t slot) noexcept nogil:
    # append a reached object; false if the verifier ran out of memory (it has failed)
    global verify_parent, verify_slot, verify_capacity
    cdef MarkStack* seen = &heap.verify_stack
    cdef int64_t* parents
    cdef uint32_t* slots
    mark_stack_push(seen, obj)
    if seen.length > verify_capacity:
        parents = <int64_t*>realloc(verify_parent, seen.capacity * sizeof(int64_t))
        slots = <uint32_t*>realloc(verify_slot, seen.capacity * sizeof(uint32_t))
        if parents == NULL or slots == NULL:
            free(parents if parents != NULL else verify_parent)
            verify_parent = NULL
            verify_slot = slots
            verify_capacity = 0
            heap_fail(heap, ERR_INTERNAL, "verifier: out of memory")
            return False
        verify_parent = parents
        verify_slot = slots
        verify_capacity = seen.capacity
    verify_parent[seen.length - 1] = parent
    verify_slot[seen.length - 1] = slot
    return True

# Check the object of entry `e`, just recorded; false once a violation was found (outside
# a run heap_fail returns, and a bad object must not be followed).
cdef bint verify_entry(HeapState* heap, int64_t e, bint check_marks) noexcept nogil:
    cdef char where[320]
    cdef Object* obj = heap.verify_stack.items[e]
    describe_path(heap, e, where, 320)
    verify_object(heap, obj, where, check_marks)
    return heap.error_code == ERR_NONE

# check_marks: also require every reachable object to be marked (end of marking,
# before sweeping).  Otherwise check allocation state and the accounting identity.
cdef void heap_verify(HeapState* heap, bint check_marks) noexcept nogil:
    cdef char msg[400]
    cdef int i
    cdef int64_t j, expected, counted = 0, nbits_words, cursor
    cdef uint32_t p, k, root_number = 0
    cdef Span* s
    cdef Object* obj
    cdef Object* child
    cdef MarkStack* seen = &heap.verify_stack
    heap_sync_current_spans(heap)        # freeindex must be exact: bump runs folded in
    nbits_words = (heap.arena_bytes >> 3) // 64 + 1
    if heap.verify_bits == NULL:
        heap.verify_bits = <uint64_t*>map_zeroed(nbits_words * 8)
        if heap.verify_bits == NULL:
            heap_fail(heap, ERR_INTERNAL, "verifier: out of memory")
            return
    else:
        memset(heap.verify_bits, 0, nbits_words * 8)
    seen.length = 0
    # roots: stack slots, globals, extra roots (numbered in that order)
    for i in range(heap.nstack + heap.nglobals):
        obj = heap.stack[i] if i < heap.nstack else heap.globals[i - heap.nstack]
        if obj != NULL and not verify_root(heap, obj, root_number, check_marks):
            return
        root_number += 1
    for i in range(heap.nextra_roots):
        for j in range(heap.extra_roots[i].count):
            obj = heap.extra_roots[i].slots[j]
            if obj != NULL and not verify_root(heap, obj, root_number, check_marks):
                return
            root_number += 1
    cursor = 0
    while cursor < seen.length:
        obj = seen.items[cursor]
        for k in range(obj.nslots):
            child = obj_slots(obj)[k]
            if child != NULL and (not in_arena(heap, child) or verify_visit(heap, child)):
                if not verify_record(heap, child, cursor, k):
                    return
                if not verify_entry(heap, seen.length - 1, check_marks):
                    return
        cursor += 1
    # accounting: allocated objects in in-use spans == alloc_bytes - freed_bytes
    p = 0
    while p < heap.high_water_page:
        s = &heap.spans[p]
        if s.state == SPAN_FREE:
            p += s.npages if s.npages > 0 else 1
            continue
        if s.state == SPAN_LARGE:
            counted += s.elemsize
        else:
            counted += span_allocated_count(s) * s.elemsize
        p += s.npages
    expected = heap.alloc_bytes - heap.freed_bytes
    if counted != expected:
        snprintf(msg, 400, "heap corruption: accounting does not balance: spans hold %lld bytes of objects, but allocated - freed = %lld - %lld = %lld",
                 <long long>counted, <long long>heap.alloc_bytes, <long long>heap.freed_bytes, <long long>expected)
        heap_fail(heap, ERR_HEAP_CORRUPTION, msg)

cdef bint verify_root(HeapState* heap, Object* obj, uint32_t number, bint check_marks) noexcept nogil:
    if in_arena(heap, obj) and not verify_visit(heap, obj):
        return True
    if not verify_record(heap, obj, ROOT_ENTRY, number):
        return False
    return verify_entry(heap, heap.verify_stack.length - 1, check_marks)

# Test-only damage, so tests can prove the verifier fails (DESIGN invariant 5).
cdef void corrupt_heap(HeapState* heap, int kind) noexcept nogil:
    cdef Object* victim = NULL
    cdef Span* s
    cdef uint32_t index
    cdef int i
    heap_sync_current_spans(heap)
    for i in range(heap.nglobals + heap.nstack):
        victim = heap.globals[i] if i < heap.nglobals else heap.stack[i - heap.nglobals]
        if victim != NULL:
            break
    if kind == CORRUPT_ACCOUNTING:
        heap.freed_bytes += 16
        return
    if victim == NULL:
        return
    # prefer an object one level down, so the damage is not only at a root
    if victim.nslots > 0 and obj_slots(victim)[0] != NULL:
        victim = obj_slots(victim)[0]
    if kind == CORRUPT_FREE_REACHABLE:
        s = span_of(heap, victim)
        if s.state == SPAN_LARGE:
            span_release_pages(heap, s)
            return
        index = obj_index(s, victim)
        # make it look never allocated: below freeindex everything counts as allocated,
        # so move freeindex down to it first
        if index < s.freeindex:
            s.freeindex = index
            s.alloc_cache = 0
        s.alloc_bits[index >> 6] &= ~((<uint64_t>1) << (index & 63))
    elif kind == CORRUPT_HEADER:
        victim.nbytes = 0xFFFFFFF0


# ---------------------------------------------------------------------------
# Operation recording: the slow path of the mutator operations' `heap.trace != NULL`
# test.  Consecutive ticks fold into one record, so a workload's safepoint-only
# operations cost one record per run of them.

cdef void heap_trace_append(HeapState* heap, uint8_t op, uint8_t a, uint8_t b, uint8_t flags,
                            uint32_t x, uint32_t y) noexcept nogil:
    cdef TraceBuffer* buf = heap.trace
    cdef TraceRecord* rec
    cdef TraceRecord* grown
    cdef int64_t cap
    if op == TRACE_TICK and buf.length > 0:
        rec = &buf.records[buf.length - 1]
        if rec.op == TRACE_TICK and rec.x < <uint32_t>0xFFFFFFFF:
            rec.x += 1
            return
    if buf.length == buf.capacity:
        cap = buf.capacity * 2 if buf.capacity > 0 else 65536
        grown = <TraceRecord*>realloc(buf.records, cap * sizeof(TraceRecord))
        if grown == NULL:
            heap_fail(heap, ERR_INTERNAL, "out of memory recording the operation trace")
            return
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


# ---------------------------------------------------------------------------
# Default collector hooks (a heap with no collector attached never collects)

cdef void collector_never_collects(HeapState* heap) noexcept nogil:
    heap.next_poll_bytes = INT64_MAX

cdef void collector_noop(HeapState* heap) noexcept nogil:
    pass

cdef void barrier_noop(HeapState* heap, Object** slot, Object* new_value) noexcept nogil:
    pass


# ---------------------------------------------------------------------------
# The run entry point: calls a workload kernel with unwinding on failure.

ctypedef struct RunCall:
    HeapState* heap
    gcb_fn kernel
    void* arg

cdef void run_trampoline(void* p) noexcept nogil:
    cdef RunCall* call = <RunCall*>p
    call.kernel(call.arg)
    call.heap.collector.finish(call.heap)

cdef int heap_run(HeapState* heap, gcb_fn kernel, void* arg) noexcept nogil:
    cdef RunCall call
    cdef int failed
    cdef int64_t cpu0
    call.heap = heap
    call.kernel = kernel
    call.arg = arg
    heap.in_run = 1
    gcb_install_sigint()
    cpu0 = gcb_thread_cpu_ns()
    heap.run_start_ns = gcb_now_ns()
    failed = gcb_call_protected(&heap.escape, run_trampoline, &call)
    heap.in_run = 0
    heap_sync_current_spans(heap)        # give back what is left of the bump runs
    if failed:
        # the collector may have helper threads: stop them, ignoring further failures
        heap.collector.finish(heap)
    heap.run_end_ns = gcb_now_ns()
    heap.mutator_cpu_ns = gcb_thread_cpu_ns() - cpu0
    gcb_restore_sigint()
    cdef int64_t in_use = heap.alloc_bytes - heap.freed_bytes
    if in_use > heap.peak_heap_bytes:
        heap.peak_heap_bytes = in_use
    return heap.error_code


class HeapError(RuntimeError):
    """A run failed inside the kernel: heap exhausted, heap corruption, interrupted."""
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


PAUSE_DTYPE = np.dtype([("start_ns", np.int64), ("end_ns", np.int64), ("kind", np.int64), ("cycle", np.int64)])
CYCLE_DTYPE = np.dtype([(name, np.int64) for name in (
    "start_ns", "end_ns", "heap_before", "heap_after", "live_bytes", "live_objects",
    "goal_bytes", "mark_ns", "sweep_ns", "forced")])


# One TraceRecord (heap.pxd); the binary trace format stores these after its header.
TRACE_DTYPE = np.dtype([("op", np.uint8), ("a", np.uint8), ("b", np.uint8), ("flags", np.uint8),
                        ("x", np.uint32), ("y", np.uint32)])
assert TRACE_DTYPE.itemsize == sizeof(TraceRecord)
TRACE_OPS = {"alloc": TRACE_ALLOC, "store": TRACE_STORE, "load": TRACE_LOAD, "clear": TRACE_CLEAR,
             "gc": TRACE_GC, "gset": TRACE_GSET, "gget": TRACE_GGET, "tick": TRACE_TICK}


cdef class ManagedHeap:
    """A heap of `heap_bytes` (rounded up to pages) with GOGC `gogc` (None: off).

    The harness builds one per run, lets a collector module attach itself, runs a
    workload module on it, then reads the events with `pauses()`, `cycles()` and
    `counters()`.
    """

    def __cinit__(self, int64_t heap_bytes, gogc=100, bint verify=False, int64_t stress_allocs=0,
                  bint checkmark=False):
        cdef HeapState* heap
        cdef uint32_t npages
        cdef int c, size, n, npg
        self.state = NULL
        if heap_bytes < PAGE_SIZE * 4:
            raise ValueError(f"heap size {heap_bytes} bytes is too small (at least {PAGE_SIZE * 4})")
        if heap_bytes > (<int64_t>PAGE_SIZE) * 0x7FFFFFF0:
            raise ValueError(f"heap size {heap_bytes} bytes is too large")
        heap = <HeapState*>calloc(1, sizeof(HeapState))
        if heap == NULL:
            raise MemoryError()
        self.state = heap
        npages = <uint32_t>((heap_bytes + PAGE_SIZE - 1) // PAGE_SIZE)
        heap.npages = npages
        heap.arena_bytes = <int64_t>npages * PAGE_SIZE
        heap.arena = <char*>map_zeroed(heap.arena_bytes)
        heap.spans = <Span*>map_zeroed(npages * sizeof(Span))
        heap.page_map = <uint32_t*>map_zeroed(npages * sizeof(uint32_t))
        heap.alloc_bits_area = <uint64_t*>map_zeroed(<size_t>npages * BITMAP_WORDS_PER_PAGE * 8)
        heap.mark_bits_area = <uint64_t*>map_zeroed(<size_t>npages * BITMAP_WORDS_PER_PAGE * 8)
        if (heap.arena == NULL or heap.spans == NULL or heap.page_map == NULL
                or heap.alloc_bits_area == NULL or heap.mark_bits_area == NULL):
            raise MemoryError(f"cannot map a heap of {heap.arena_bytes} bytes")
        heap.free_runs.head = NO_SPAN
        for c in range(MAX_CLASSES):
            heap.partial[c][0].head = NO_SPAN
            heap.partial[c][1].head = NO_SPAN
            heap.full[c][0].head = NO_SPAN
            heap.full[c][1].head = NO_SPAN
        heap.large[0].head = NO_SPAN
        heap.large[1].head = NO_SPAN
        heap.sweepgen = 2
        # size classes: npages is the smallest run that wastes at most 1/8 of itself
        heap.nclasses = len(SIZE_CLASSES) + 1
        for c in range(1, heap.nclasses):
            size = SIZE_CLASSES[c - 1]
            npg = 1
            while (npg * PAGE_SIZE) % size > (npg * PAGE_SIZE) // 8:
                npg += 1
            heap.class_size[c] = size
            heap.class_npages[c] = npg
            heap.current[c] = &heap.empty_span
        c = 1
        for n in range(129):
            while SIZE_CLASSES[c - 1] < n * 8:
                c += 1
            heap.size_to_class8[n] = c
        for n in range(249):
            while SIZE_CLASSES[c - 1] < 1024 + n * 128:
                c += 1
            heap.size_to_class128[n] = c
        heap.empty_span.nelems = 0
        heap.empty_span.alloc_cache = 0
        heap.nstack = MAX_STACK_SLOTS
        heap.nglobals = MAX_GLOBALS
        heap.gogc = -1 if gogc is None else int(gogc)
        heap_set_goal(heap, 0)
        heap.last_marked_bytes = 0
        heap.peak_live_bytes = 0
        heap.next_poll_bytes = INT64_MAX
        heap.poll_interval_ops = 4096
        heap.next_poll_ops = heap.poll_interval_ops
        heap.verify = verify
        heap.stress_allocs = stress_allocs
        heap.checkmark = checkmark
        heap.pauses_cap = 1024
        heap.pauses = <PauseRecord*>malloc(heap.pauses_cap * sizeof(PauseRecord))
        heap.cycle_log_cap = 256
        heap.cycle_log = <CycleRecord*>malloc(heap.cycle_log_cap * sizeof(CycleRecord))
        if heap.pauses == NULL or heap.cycle_log == NULL:
            raise MemoryError()
        heap.collector.name = "none"
        heap.collector.alloc_hook = collector_never_collects
        heap.collector.poll_hook = NULL
        heap.collector.out_of_memory = collector_noop
        heap.collector.collect = collector_noop
        heap.collector.write_barrier = barrier_noop
        heap.collector.finish = collector_noop
        heap.collector.destroy = collector_noop
        heap.cycle_start_hook = NULL

    def __dealloc__(self):
        cdef HeapState* heap = self.state
        if heap == NULL:
            return
        # __cinit__ may have failed (MemoryError mapping the arena) before the default
        # hooks were set: destroy is then still NULL
        if heap.collector.destroy != NULL:
            heap.collector.destroy(heap)
        if heap.arena != NULL:
            munmap(heap.arena, heap.arena_bytes)
        if heap.spans != NULL:
            munmap(heap.spans, heap.npages * sizeof(Span))
        if heap.page_map != NULL:
            munmap(heap.page_map, heap.npages * sizeof(uint32_t))
        if heap.alloc_bits_area != NULL:
            munmap(heap.alloc_bits_area, <size_t>heap.npages * BITMAP_WORDS_PER_PAGE * 8)
        if heap.mark_bits_area != NULL:
            munmap(heap.mark_bits_area, <size_t>heap.npages * BITMAP_WORDS_PER_PAGE * 8)
        if heap.verify_bits != NULL:
            munmap(heap.verify_bits, ((heap.arena_bytes >> 3) // 64 + 1) * 8)
        mark_stack_free(&heap.verify_stack)
        if heap.trace != NULL:
            free(heap.trace.records)
            free(heap.trace)
        free(heap.pauses)
        free(heap.cycle_log)
        free(heap)
        self.state = NULL

    @property
    def heap_bytes(self):
        return self.state.arena_bytes

    @property
    def collector_name(self):
        return self.state.collector.name.decode()

    def check_error(self):
        """Raise HeapError if the last run failed."""
        cdef HeapState* heap = self.state
        if heap.error_code != ERR_NONE:
            raise HeapError(ERROR_NAMES.get(heap.error_code, "error"), heap.error_msg.decode(errors="replace"))

    def collect(self):
        """runtime.GC(): a full collection now (outside a run)."""
        cdef HeapState* heap = self.state
        with nogil:
            heap.in_run = 0
            heap.collector.collect(heap)
        self.check_error()

    def verify(self, bint check_marks=False):
        """Run the heap verifier now; raises HeapError on a violation."""
        with nogil:
            heap_verify(self.state, check_marks)
        self.check_error()

    def corrupt_at(self, int cycle, str kind):
        """Test-only: damage the heap at the end of cycle `cycle` (kinds: CORRUPT_KINDS)."""
        self.state.corrupt_at_cycle = cycle
        self.state.corrupt_kind = CORRUPT_KINDS[kind]

    def pauses(self):
        """Every pause as a numpy structured array (start_ns, end_ns, kind, cycle)."""
        cdef HeapState* heap = self.state
        out = np.empty(heap.npauses, dtype=PAUSE_DTYPE)
        if heap.npauses:
            memcpy(<void*><uintptr_t>out.ctypes.data, heap.pauses, heap.npauses * sizeof(PauseRecord))
        return out

    def cycles(self):
        """Every cycle as a numpy structured array (see CYCLE_DTYPE)."""
        cdef HeapState* heap = self.state
        out = np.empty(heap.ncycle_log, dtype=CYCLE_DTYPE)
        if heap.ncycle_log:
            memcpy(<void*><uintptr_t>out.ctypes.data, heap.cycle_log, heap.ncycle_log * sizeof(CycleRecord))
        return out

    def counters(self):
        """The run's counters, MemStats-like where Go has a name for them."""
        cdef HeapState* heap = self.state
        heap_sync_current_spans(heap)
        return {
            "alloc_count": heap.alloc_count,
            "alloc_bytes": heap.alloc_bytes,
            "free_count": heap.freed_count,
            "free_bytes": heap.freed_bytes,
            "heap_in_use_bytes": heap.alloc_bytes - heap.freed_bytes,
            "mutator_ops": heap.mutator_ops,
            "cycles": heap.cycles,
            "peak_heap_bytes": heap.peak_heap_bytes,
            "peak_live_bytes": heap.peak_live_bytes,
            "peak_pages_bytes": heap.peak_pages_in_use * PAGE_SIZE,
            "pages_in_use_bytes": heap.pages_in_use * PAGE_SIZE,
            "heap_goal_bytes": heap.heap_goal if heap.heap_goal != INT64_MAX else None,
            "last_marked_bytes": heap.last_marked_bytes,
            "run_start_ns": heap.run_start_ns,
            "run_end_ns": heap.run_end_ns,
            "mutator_cpu_ns": heap.mutator_cpu_ns,
            "stw_ns": heap.gc_stw_ns,
            "sweep_ns": heap.sweep_ns,
            "assist_ns": heap.assist_ns,
            "background_mark_ns": heap.background_mark_ns,
            "background_cpu_ns": heap.background_cpu_ns,
            "barrier_slow_calls": heap.barrier_slow_calls,
            "barrier_shades": heap.barrier_shades,
            "floating_garbage_bytes": heap.floating_garbage_bytes,
            "goal_overruns": heap.goal_overruns,
            "verify_ns": heap.verify_ns,
            "verified_cycles": heap.verified_cycles,
            "marked_objects": heap.marked_objects_total,
        }

    def live_after_full_gc(self):
        """(objects, bytes) in use: after `collect()` these are exactly the reachable ones."""
        cdef int64_t objects
        cdef int64_t nbytes = heap_in_use_exact(self.state, &objects)
        return objects, nbytes

    def start_recording(self):
        """Record every mutator operation from now on (see `recorded_trace`)."""
        if self.state.trace == NULL:
            self.state.trace = <TraceBuffer*>calloc(1, sizeof(TraceBuffer))
            if self.state.trace == NULL:
                raise MemoryError()

    def recorded_trace(self):
        """The recorded operations as a numpy array of TRACE_DTYPE (a copy)."""
        cdef TraceBuffer* buf = self.state.trace
        out = np.empty(0 if buf == NULL else buf.length, dtype=TRACE_DTYPE)
        if buf != NULL and buf.length:
            memcpy(<void*><uintptr_t>out.ctypes.data, buf.records, buf.length * sizeof(TraceRecord))
        return out

    def size_classes(self):
        """[(size, pages per span)] of every small size class."""
        return [(self.state.class_size[c], self.state.class_npages[c]) for c in range(1, self.state.nclasses)]


cdef int run_kernel(ManagedHeap heap, gcb_fn kernel, void* arg) except -1:
    """Run `kernel(arg)` on `heap` with the GIL released; raise HeapError on failure."""
    cdef HeapState* state = heap.state
    cdef int code
    if state.in_run:
        raise RuntimeError("this heap is already running a workload")
    state.error_code = ERR_NONE
    with nogil:
        code = heap_run(state, kernel, arg)
    if code != ERR_NONE:
        heap.check_error()
    return 0
