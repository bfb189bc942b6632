# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""spaces/sizeclass: the size-class mark-sweep space's slow paths (contract in
sizeclass.pxd): size tables, span_take / bump runs, refill with lazy sweeping, sweeping."""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.string cimport memset
from libc.stdio cimport snprintf
from gcbench_core.heap cimport (HeapState, SizeClassSpace, Span, Object, heap_fail, debug_assert, span_of,
                                heap_check_interrupt,
                                size_class_of, mark_object_atomic, clear_slots, gcb_now_ns, gcb_ctz64,
                                MAX_CLASSES, PAGE_SIZE, NO_SPAN, HEADER_BYTES, SPAN_SMALL,
                                ALLOC_CLEAR_SLOTS, ALLOC_BLACK, ERR_HEAP_EXHAUSTED,
                                GCB_DEBUG, GCB_POISON_BYTE)
from gcbench_core.spaces.pages cimport (list_push, list_pop, list_remove, swept_index, unswept_index,
                                        span_alloc, span_release_pages)

# Go's size classes (runtime/sizeclasses.go), from 16 bytes: an object is 8 header
# bytes plus slots, so nothing is smaller than 16.
cdef uint32_t SIZE_CLASSES[66]
SIZE_CLASSES[:] = [16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
                   240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768,
                   896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200,
                   3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
                   10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576,
                   27264, 28672, 32768]

cdef void sizeclass_init(HeapState* heap) noexcept nogil:
    cdef SizeClassSpace* sc = &heap.sizeclass
    cdef int c, n
    cdef uint32_t size, npg
    for c in range(MAX_CLASSES):
        sc.partial[c][0].head = NO_SPAN
        sc.partial[c][1].head = NO_SPAN
        sc.full[c][0].head = NO_SPAN
        sc.full[c][1].head = NO_SPAN
    # npages is the smallest run that wastes at most 1/8 of itself
    sc.nclasses = 66 + 1
    for c in range(1, sc.nclasses):
        size = SIZE_CLASSES[c - 1]
        npg = 1
        while (npg * PAGE_SIZE) % size > (npg * PAGE_SIZE) // 8:
            npg += 1
        sc.class_size[c] = size
        sc.class_npages[c] = npg
        sc.current[c] = &sc.empty_span
    c = 1
    for n in range(129):
        while SIZE_CLASSES[c - 1] < <uint32_t>(n * 8):
            c += 1
        sc.size_to_class8[n] = <uint8_t>c
        sc.size_to_charge8[n] = sc.class_size[c]
    for n in range(249):
        while SIZE_CLASSES[c - 1] < <uint32_t>(1024 + n * 128):
            c += 1
        sc.size_to_class128[n] = <uint8_t>c
    sc.empty_span.nelems = 0
    sc.empty_span.alloc_cache = 0

cdef void sizeclass_sync_current(HeapState* heap) noexcept nogil:
    cdef int c, t
    for c in range(1, heap.sizeclass.nclasses):
        span_sync(heap, heap.sizeclass.current[c])
    for t in range(heap.mt.count):       # the mutator threads' caches (world stopped)
        for c in range(1, heap.sizeclass.nclasses):
            span_sync(heap, heap.mt.list[t].current[c])

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

cdef inline void put_swept(HeapState* heap, Span* s) noexcept nogil:
    # A swept small span goes to the partial or full list of the current generation.
    cdef int g = swept_index(heap)
    if s.freeindex < s.nelems:
        list_push(heap, &heap.sizeclass.partial[s.sizeclass][g], s)
    else:
        list_push(heap, &heap.sizeclass.full[s.sizeclass][g], s)

# Sweep results
cdef enum:
    SWEPT_FREED = 0
    SWEPT_FULL = 1
    SWEPT_PARTIAL = 2

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

# Sweep one small span that is on no list: the mark bits become the alloc bits.  A span left
# empty returns its pages; otherwise it goes to a swept list, unless `keep` and it has
# room, in which case the caller takes it (SWEPT_PARTIAL).
cdef int sweep_span(HeapState* heap, Span* s, bint keep) noexcept nogil:
    cdef uint32_t nwords, w
    cdef int64_t before, live = 0, freed
    cdef int64_t in_use = heap.alloc_bytes - heap.freed_bytes
    if in_use > heap.peak_heap_bytes:
        heap.peak_heap_bytes = in_use
    if GCB_DEBUG:
        debug_assert(heap, s.sweepgen == heap.pages.sweepgen - 2, "sweep_span: span does not need sweeping (sweepgen)")
        debug_assert(heap, heap.freed_bytes <= heap.alloc_bytes, "sweep_span: freed more bytes than allocated")
    s.sweepgen = heap.pages.sweepgen
    nwords = (s.nelems + 63) >> 6
    before = span_allocated_count(s)
    if GCB_DEBUG:
        debug_assert(heap, s.state == SPAN_SMALL, "sweep_span: sweeping a free span")
        debug_assert(heap, s.elemsize == heap.sizeclass.class_size[s.sizeclass] and s.nelems * s.elemsize <= s.npages * PAGE_SIZE,
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
        list_push(heap, &heap.sizeclass.full[s.sizeclass][swept_index(heap)], s)
        return SWEPT_FULL
    if keep:
        return SWEPT_PARTIAL
    list_push(heap, &heap.sizeclass.partial[s.sizeclass][swept_index(heap)], s)
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
    s = list_pop(heap, &heap.sizeclass.partial[c][swept_index(heap)])
    if s != NULL:
        return s
    u = unswept_index(heap)
    if heap.sizeclass.partial[c][u].head != NO_SPAN or heap.sizeclass.full[c][u].head != NO_SPAN:
        t0 = gcb_now_ns()
        while True:
            s = list_pop(heap, &heap.sizeclass.partial[c][u])
            if s == NULL:
                s = list_pop(heap, &heap.sizeclass.full[c][u])
            if s == NULL:
                break
            if sweep_span(heap, s, True) == SWEPT_PARTIAL:
                heap.sweep_ns += gcb_now_ns() - t0
                return s
        heap.sweep_ns += gcb_now_ns() - t0
    s = span_alloc(heap, heap.sizeclass.class_npages[c], SPAN_SMALL)
    if s == NULL:
        return NULL
    s.sizeclass = <uint8_t>c
    s.elemsize = heap.sizeclass.class_size[c]
    s.nelems = (s.npages * PAGE_SIZE) // s.elemsize
    s.divmul = <uint32_t>((<uint64_t>0xFFFFFFFF) // s.elemsize + 1)
    s.alloc_cache = cache_word(s, 0)
    return s

cdef void sizeclass_release_current(HeapState* heap) noexcept nogil:
    cdef int t
    sizeclass_release_cache(heap, heap.sizeclass.current)
    for t in range(heap.mt.count):       # the mutator threads' caches (world stopped)
        sizeclass_release_cache(heap, heap.mt.list[t].current)

cdef void sizeclass_release_cache(HeapState* heap, Span** current) noexcept nogil:
    cdef int c
    cdef Span* s
    for c in range(1, heap.sizeclass.nclasses):
        s = current[c]
        if s != &heap.sizeclass.empty_span:
            span_sync(heap, s)
            put_swept(heap, s)
            current[c] = &heap.sizeclass.empty_span

# The allocation slow path of a small object (Go's nextFree + mcentral.cacheSpan): take
# the next free slot of the class's current span, else refill the class; set up a bump
# run from the slot on.  NULL (after heap_fail) when the heap is exhausted.
cdef Object* sizeclass_alloc(HeapState* heap, uint32_t nbytes) noexcept nogil:
    return sizeclass_alloc_from(heap, heap.sizeclass.current, nbytes)

cdef Object* sizeclass_alloc_from(HeapState* heap, Span** current, uint32_t nbytes) noexcept nogil:
    cdef uint32_t c, index
    cdef Span* s
    cdef Object* obj
    cdef char msg[256]
    c = size_class_of(heap, nbytes)
    s = current[c]
    span_sync(heap, s)
    index = span_take(s)
    while index >= s.nelems:
        if s != &heap.sizeclass.empty_span:
            put_swept(heap, s)
            current[c] = &heap.sizeclass.empty_span
        s = refill_class(heap, c)
        if s == NULL:
            snprintf(msg, 256, "heap exhausted: cannot allocate %u bytes; heap size %lld bytes, %lld bytes live after a full collection",
                     nbytes, <long long>heap.pages.arena_bytes, <long long>(heap.alloc_bytes - heap.freed_bytes))
            heap_fail(heap, ERR_HEAP_EXHAUSTED, msg)
            return NULL
        # the refill may have collected (out of memory) and flipped: re-read
        current[c] = s
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


# One unswept span of any class; false when nothing is left to sweep.
cdef bint sizeclass_sweep_one(HeapState* heap) noexcept nogil:
    cdef int u = unswept_index(heap)
    cdef int c
    cdef Span* s
    for c in range(1, heap.sizeclass.nclasses):
        s = list_pop(heap, &heap.sizeclass.partial[c][u])
        if s == NULL:
            s = list_pop(heap, &heap.sizeclass.full[c][u])
        if s != NULL:
            sweep_span(heap, s, False)
            return True
    return False

cdef void sizeclass_sweep_all(HeapState* heap) noexcept nogil:
    cdef int u = unswept_index(heap)
    cdef int c
    cdef Span* s
    cdef int64_t swept = 0
    for c in range(1, heap.sizeclass.nclasses):
        while True:
            s = list_pop(heap, &heap.sizeclass.partial[c][u])
            if s == NULL:
                s = list_pop(heap, &heap.sizeclass.full[c][u])
            if s == NULL:
                break
            sweep_span(heap, s, False)
            swept += 1
            if (swept & 0xFFF) == 0:
                heap_check_interrupt(heap)   # Ctrl-C between spans of a large heap


# Explicit free (contract in sizeclass.pxd).  The span is either some class's current span
# (its bump run folded in first) or on its class's swept partial/full list: plans that free
# this way never flip or sweep, so a listed span's list is told by freeindex (full spans
# were listed with freeindex == nelems, and only this function lowers it).
cdef void sizeclass_free(HeapState* heap, Object* obj) noexcept nogil:
    cdef Span* s = span_of(heap, obj)
    cdef uint32_t i = obj_index(s, obj), w, nwords
    cdef bint current = heap.sizeclass.current[s.sizeclass] == s
    cdef bint was_full = (not current) and s.freeindex >= s.nelems
    cdef int g = swept_index(heap)
    cdef int64_t in_use = heap.alloc_bytes - heap.freed_bytes
    if in_use > heap.peak_heap_bytes:
        heap.peak_heap_bytes = in_use
    if current:
        span_sync(heap, s)           # a bump run's consumed part is allocated: freeindex covers it now
    if GCB_DEBUG:
        debug_assert(heap, s.state == SPAN_SMALL, "sizeclass_free: not a small span")
        debug_assert(heap, i < s.freeindex or ((s.alloc_bits[i >> 6] >> (i & 63)) & 1),
                     "sizeclass_free: freeing an object that is not allocated")
    if i < s.freeindex:
        # make "below freeindex" explicit, then restart allocation at the object's word
        for w in range(s.freeindex >> 6):
            s.alloc_bits[w] = ~(<uint64_t>0)
        if s.freeindex & 63:
            s.alloc_bits[s.freeindex >> 6] |= ((<uint64_t>1) << (s.freeindex & 63)) - 1
        s.freeindex = i & ~(<uint32_t>63)
        s.alloc_cache = 0
    s.alloc_bits[i >> 6] &= ~((<uint64_t>1) << (i & 63))
    if (i >> 6) == (s.freeindex >> 6) and s.freeindex < s.nelems:
        s.alloc_cache = cache_word(s, i >> 6) >> (s.freeindex & 63)
    s.needzero = 1
    if current:
        s.alloc_flags |= ALLOC_CLEAR_SLOTS
    if GCB_DEBUG:
        memset(obj, GCB_POISON_BYTE, s.elemsize)
    heap.freed_count += 1
    heap.freed_bytes += s.elemsize
    if current:
        return
    if span_allocated_count(s) == 0:
        if was_full:
            list_remove(heap, &heap.sizeclass.full[s.sizeclass][g], s)
        else:
            list_remove(heap, &heap.sizeclass.partial[s.sizeclass][g], s)
        span_release_pages(heap, s)
    elif was_full:
        list_remove(heap, &heap.sizeclass.full[s.sizeclass][g], s)
        list_push(heap, &heap.sizeclass.partial[s.sizeclass][g], s)
