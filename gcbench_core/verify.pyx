# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""verify: the heap verifier and test-only corruption (contract in verify.pxd)."""
from libc.stdint cimport uint32_t, uint64_t, int64_t, uintptr_t
from libc.stdlib cimport realloc, free
from libc.string cimport memset, strlen
from libc.stdio cimport snprintf
from gcbench_core.heap cimport (HeapState, VerifierState, Span, Object, MarkStack, obj_slots,
                                span_of, obj_index, in_arena, heap_fail, heap_sync_current_spans, charged_bytes,
                                bump_charged, bump_objects as bump_objects_of,
                                mark_stack_push, mark_stack_free, gcb_now_ns, gcb_ctz64,
                                heap_interrupt_requested,
                                PAGE_SHIFT, HEADER_BYTES, SPAN_FREE, SPAN_LARGE, MAX_STACK_SLOTS,
                                ERR_NONE, ERR_INTERNAL, ERR_HEAP_CORRUPTION)
from gcbench_core.spaces.pages cimport map_zeroed, unmap, span_release_pages
from gcbench_core.spaces.sizeclass cimport span_allocated_count
from gcbench_core.spaces.bump cimport bump_contains, bump_in_to_space



cdef inline bint object_allocated(Span* s, uint32_t index) noexcept nogil:
    return index < s.freeindex or ((s.alloc_bits[index >> 6] >> (index & 63)) & 1)

cdef inline bint in_bump_region(HeapState* heap, const void* p) noexcept nogil:
    return heap.bump.base != NULL and bump_contains(&heap.bump, p)

# A reachable object in the bump space (copying plans) must lie in the current to-space
# (or nursery) below the cursor, with a sane header: not a forwarding header (a pointer
# to an old copy that was not updated), not poisoned (debug builds poison old copies).
cdef void verify_bump_object(HeapState* heap, Object* obj, const char* where) noexcept nogil:
    cdef char msg[900]
    cdef uintptr_t offset = <uintptr_t>obj - <uintptr_t>heap.bump.to_base
    if not bump_in_to_space(&heap.bump, obj) or (offset & 7) != 0 or <char*>obj >= heap.bump.cursor:
        snprintf(msg, 900, "heap corruption: reachable object %p lies in the bump space outside the objects "
                 "in use (from-space or past the cursor): a stale pointer to an old copy or to a reset nursery (reached by %s)",
                 <void*>obj, where)
        heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
        return
    if obj.nbytes == 0:
        snprintf(msg, 900, "heap corruption: reachable object %p has a forwarding header: a pointer to it "
                 "was not updated when it was copied (reached by %s)", <void*>obj, where)
        heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
        return
    if obj.nbytes > 32768 or obj.nbytes < HEADER_BYTES + 8 * <uint64_t>obj.nslots or \
            <char*>obj + ((obj.nbytes + 7) & ~(<uint32_t>7)) > heap.bump.cursor:
        snprintf(msg, 900, "heap corruption: reachable object %p in the bump space has a damaged header "
                 "(%u slots, %u bytes; reached by %s)", <void*>obj, obj.nslots, obj.nbytes, where)
        heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
        return

# Check that `obj` (found in `where`) is a valid allocated object; fail with a message.
cdef void verify_object(HeapState* heap, Object* obj, const char* where, bint check_marks) noexcept nogil:
    cdef char msg[900]
    cdef Span* s
    cdef uint32_t index
    cdef uintptr_t offset = <uintptr_t>obj - <uintptr_t>heap.pages.arena
    if in_bump_region(heap, obj):
        verify_bump_object(heap, obj, where)
        return
    if not in_arena(heap, obj) or (offset & 7) != 0 or (offset >> PAGE_SHIFT) >= heap.pages.high_water_page:
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
    cdef uint64_t granule = (<uintptr_t>obj - <uintptr_t>heap.pages.arena) >> 3
    cdef uint64_t bit = (<uint64_t>1) << (granule & 63)
    if heap.verifier.bits[granule >> 6] & bit:
        return False
    heap.verifier.bits[granule >> 6] |= bit
    return True

# True the first time `obj` is reached (or when it is outside every space: it is then
# recorded, and verify_object fails it).
cdef inline bint verify_first_visit(HeapState* heap, Object* obj) noexcept nogil:
    cdef uint64_t granule, bit
    if in_arena(heap, obj):
        return verify_visit(heap, obj)
    if in_bump_region(heap, obj) and heap.verifier.bump_bits != NULL:
        granule = (<uintptr_t>obj - <uintptr_t>heap.bump.base) >> 3
        bit = (<uint64_t>1) << (granule & 63)
        if heap.verifier.bump_bits[granule >> 6] & bit:
            return False
        heap.verifier.bump_bits[granule >> 6] |= bit
    return True

# The verifier's trace is breadth-first over an append-only list of every object it
# reached (heap.verifier.seen.items), with each entry's parent entry and slot beside it,
# so that a failure can name the path from a root (as Go's gccheckmark does).  Root
# entries have parent ROOT_ENTRY and, in the slot array, the root's number: stack slots
# first, then globals, then the extra roots in order.  (All in heap.verifier: no globals.)
cdef enum:
    ROOT_ENTRY = -1

cdef void describe_root(HeapState* heap, uint32_t number, char* buf, size_t size) noexcept nogil:
    cdef int i
    if number < <uint32_t>heap.roots.nstack:
        snprintf(buf, size, "stack slot %u", number)
        return
    number -= heap.roots.nstack
    if number < <uint32_t>heap.roots.nglobals:
        snprintf(buf, size, "global %u", number)
        return
    number -= heap.roots.nglobals
    for i in range(heap.roots.nextra_roots):
        if number < heap.roots.extra_roots[i].count and heap.roots.extra_roots[i].slots == heap.goroutines.slots:
            snprintf(buf, size, "parked goroutine %u's stack slot %u", number // <uint32_t>heap.goroutines.k,
                     number % <uint32_t>heap.goroutines.k)
            return
        if number < heap.roots.extra_roots[i].count:
            snprintf(buf, size, "extra root %d[%u]", i, number)
            return
        number -= <uint32_t>heap.roots.extra_roots[i].count
    if number < <uint32_t>(heap.mt.count * MAX_STACK_SLOTS):
        snprintf(buf, size, "thread %d stack slot %u", heap.mt.list[number // MAX_STACK_SLOTS].id,
                 number % MAX_STACK_SLOTS)
        return
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
        cur = heap.verifier.parent[cur]
    # chain[n-1] is the root entry
    describe_root(heap, heap.verifier.slot[chain[n - 1]], buf, size)
    used = strlen(buf)
    if cut and used < size:
        snprintf(buf + used, size - used, " -> ...")
        used = strlen(buf)
    for k in range(n - 1, -1, -1):
        if used >= size:
            break
        if k == n - 1:
            snprintf(buf + used, size - used, " -> %p", <void*>heap.verifier.seen.items[chain[k]])
        else:
            snprintf(buf + used, size - used, " -> [slot %u] %p", heap.verifier.slot[chain[k]],
                     <void*>heap.verifier.seen.items[chain[k]])
        used = strlen(buf)

cdef bint verify_record(HeapState* heap, Object* obj, int64_t parent, uint32_t slot) noexcept nogil:
    # append a reached object; false if the verifier ran out of memory (it has failed)
    cdef VerifierState* v = &heap.verifier
    cdef MarkStack* seen = &heap.verifier.seen
    cdef int64_t* parents
    cdef uint32_t* slots
    mark_stack_push(seen, obj)
    if seen.length > v.capacity:
        parents = <int64_t*>realloc(v.parent, seen.capacity * sizeof(int64_t))
        slots = <uint32_t*>realloc(v.slot, seen.capacity * sizeof(uint32_t))
        if parents == NULL or slots == NULL:
            free(parents if parents != NULL else v.parent)
            v.parent = NULL
            v.slot = slots
            v.capacity = 0
            heap_fail(heap, ERR_INTERNAL, "verifier: out of memory")
            return False
        v.parent = parents
        v.slot = slots
        v.capacity = seen.capacity
    v.parent[seen.length - 1] = parent
    v.slot[seen.length - 1] = slot
    return True

# Check the object of entry `e`, just recorded; false once a violation was found (outside
# a run heap_fail returns, and a bad object must not be followed).
cdef bint verify_entry(HeapState* heap, int64_t e, bint check_marks) noexcept nogil:
    cdef char where[320]
    cdef Object* obj = heap.verifier.seen.items[e]
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
    cdef MarkStack* seen = &heap.verifier.seen
    cdef int64_t bump_counted, bump_objects
    cdef char* scan
    heap_sync_current_spans(heap)        # freeindex must be exact: bump runs folded in
    nbits_words = (heap.pages.arena_bytes >> 3) // 64 + 1
    if heap.verifier.bits == NULL:
        heap.verifier.bits = <uint64_t*>map_zeroed(nbits_words * 8)
        if heap.verifier.bits == NULL:
            heap_fail(heap, ERR_INTERNAL, "verifier: out of memory")
            return
    else:
        memset(heap.verifier.bits, 0, nbits_words * 8)
    if heap.bump.base != NULL:
        nbits_words = ((2 * heap.bump.half_bytes) >> 3) // 64 + 1
        if heap.verifier.bump_bits == NULL:
            heap.verifier.bump_bits = <uint64_t*>map_zeroed(nbits_words * 8)
            if heap.verifier.bump_bits == NULL:
                heap_fail(heap, ERR_INTERNAL, "verifier: out of memory")
                return
            heap.verifier.bump_bits_bytes = nbits_words * 8
        else:
            memset(heap.verifier.bump_bits, 0, nbits_words * 8)
    seen.length = 0
    # roots: stack slots, globals, extra roots (numbered in that order)
    for i in range(heap.roots.nstack + heap.roots.nglobals):
        obj = heap.roots.stack[i] if i < heap.roots.nstack else heap.roots.globals[i - heap.roots.nstack]
        if obj != NULL and not verify_root(heap, obj, root_number, check_marks):
            return
        root_number += 1
    for i in range(heap.roots.nextra_roots):
        for j in range(heap.roots.extra_roots[i].count):
            obj = heap.roots.extra_roots[i].slots[j]
            if obj != NULL and not verify_root(heap, obj, root_number, check_marks):
                return
            root_number += 1
    for i in range(heap.mt.count):       # the mutator threads' stacks (world stopped)
        for j in range(MAX_STACK_SLOTS):
            obj = heap.mt.list[i].stack[j]
            if obj != NULL and not verify_root(heap, obj, root_number, check_marks):
                return
            root_number += 1
    cursor = 0
    while cursor < seen.length:
        if (cursor & 0xFFFF) == 0xFFFF and heap_interrupt_requested(heap):
            return                       # Ctrl-C: within a second on any heap
        obj = seen.items[cursor]
        for k in range(obj.nslots):
            child = obj_slots(obj)[k]
            if child != NULL and verify_first_visit(heap, child):
                if not verify_record(heap, child, cursor, k):
                    return
                if not verify_entry(heap, seen.length - 1, check_marks):
                    return
                if (seen.length & 0xFFFF) == 0 and heap_interrupt_requested(heap):
                    return               # (one object may hold millions of slots)
        cursor += 1
    # accounting: allocated objects in in-use spans == alloc_bytes - freed_bytes
    p = 0
    while p < heap.pages.high_water_page:
        if (p & 0xFFFF) == 0xFFFF and heap_interrupt_requested(heap):
            return
        s = &heap.pages.spans[p]
        if s.state == SPAN_FREE:
            p += s.npages if s.npages > 0 else 1
            continue
        if s.state == SPAN_LARGE:
            counted += s.elemsize
        else:
            counted += span_allocated_count(s) * s.elemsize
        p += s.npages
    if heap.bump.base != NULL:
        # bump objects: walk to-space (every header must be sane) and charge each its class
        bump_counted = 0
        bump_objects = 0
        scan = heap.bump.to_base
        while scan < heap.bump.cursor:
            obj = <Object*>scan
            if obj.nbytes < HEADER_BYTES or obj.nbytes > 32768:
                snprintf(msg, 400, "heap corruption: the bump space holds a damaged header at %p (%u bytes)",
                         <void*>obj, obj.nbytes)
                heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
                return
            bump_counted += charged_bytes(heap, obj.nbytes)
            bump_objects += 1
            scan += (obj.nbytes + 7) & ~(<uint32_t>7)
        if bump_counted != bump_charged(heap) or bump_objects != bump_objects_of(heap):
            snprintf(msg, 400, "heap corruption: the bump space holds %lld objects of %lld bytes, but counts %lld of %lld",
                     <long long>bump_objects, <long long>bump_counted, <long long>bump_objects_of(heap),
                     <long long>bump_charged(heap))
            heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
            return
        counted += bump_counted
    expected = heap.alloc_bytes - heap.freed_bytes
    if counted != expected:
        snprintf(msg, 400, "heap corruption: accounting does not balance: spaces hold %lld bytes of objects, but allocated - freed = %lld - %lld = %lld",
                 <long long>counted, <long long>heap.alloc_bytes, <long long>heap.freed_bytes, <long long>expected)
        heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
        return
    if heap.collector.verify_plan != NULL:
        heap.collector.verify_plan(heap)

cdef bint verify_root(HeapState* heap, Object* obj, uint32_t number, bint check_marks) noexcept nogil:
    if not verify_first_visit(heap, obj):
        return True
    if not verify_record(heap, obj, ROOT_ENTRY, number):
        return False
    return verify_entry(heap, heap.verifier.seen.length - 1, check_marks)

# Test-only damage, so tests can prove the verifier fails (DESIGN invariant 5).
cdef void corrupt_heap(HeapState* heap, int kind) noexcept nogil:
    cdef Object* victim = NULL
    cdef Span* s
    cdef uint32_t index
    cdef int i
    heap_sync_current_spans(heap)
    for i in range(heap.roots.nglobals + heap.roots.nstack):
        victim = heap.roots.globals[i] if i < heap.roots.nglobals else heap.roots.stack[i - heap.roots.nglobals]
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
    if in_bump_region(heap, victim):
        if kind == CORRUPT_FREE_REACHABLE:
            victim.nbytes = 0            # as if it had been copied and its pointer not updated
        elif kind == CORRUPT_HEADER:
            victim.nbytes = 0xFFFFFFF0
        return
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




# Bytes of marked objects that the verifier's trace (just run, heap.verifier.bits) did
# not reach: floating garbage, exactly.
cdef int64_t unreachable_marked_bytes(HeapState* heap) noexcept nogil:
    cdef uint32_t p = 0, w, nwords
    cdef uint64_t bits, granule
    cdef Span* s
    cdef int64_t total = 0
    cdef char* addr
    while p < heap.pages.high_water_page:
        s = &heap.pages.spans[p]
        if s.state == SPAN_FREE:
            p += s.npages if s.npages > 0 else 1
            continue
        nwords = (s.nelems + 63) >> 6
        for w in range(nwords):
            bits = s.mark_bits[w]
            while bits != 0:
                addr = s.base + <uint64_t>(w * 64 + gcb_ctz64(bits)) * s.elemsize
                bits &= bits - 1
                granule = (<uintptr_t>addr - <uintptr_t>heap.pages.arena) >> 3
                if not ((heap.verifier.bits[granule >> 6] >> (granule & 63)) & 1):
                    total += s.elemsize
        p += s.npages
    return total

cdef void verify_end_of_cycle(HeapState* heap, bint marks_intact) noexcept nogil:
    cdef int64_t t0
    if marks_intact and (heap.verify or heap.checkmark):
        # the mark bits are intact (nothing is swept yet): every reachable object must
        # be marked, and what is marked but unreachable is floating garbage
        t0 = gcb_now_ns()
        heap_verify(heap, True)
        heap.verifier.floating_garbage_bytes += unreachable_marked_bytes(heap)
        heap.verifier.verify_ns += gcb_now_ns() - t0
    if heap.verifier.corrupt_at_cycle > 0 and heap.events.ncycles == heap.verifier.corrupt_at_cycle:
        corrupt_heap(heap, heap.verifier.corrupt_kind)
    if heap.verify:
        t0 = gcb_now_ns()
        heap_verify(heap, False)
        heap.verifier.verify_ns += gcb_now_ns() - t0
        heap.verifier.verified_cycles += 1

cdef void verifier_free(HeapState* heap) noexcept nogil:
    cdef VerifierState* v = &heap.verifier
    if v.bits != NULL:
        unmap(v.bits, ((heap.pages.arena_bytes >> 3) // 64 + 1) * 8)
        v.bits = NULL
    if v.bump_bits != NULL:
        unmap(v.bump_bits, v.bump_bits_bytes)
        v.bump_bits = NULL
    mark_stack_free(&v.seen)
    free(v.parent)
    free(v.slot)
    v.parent = NULL
    v.slot = NULL
    v.capacity = 0


# ---------------------------------------------------------------------------
# Reference counts (contract in verify.pxd): an independent recount.

cdef inline uint64_t count_granule(HeapState* heap, const void* obj) noexcept nogil:
    return (<uintptr_t>obj - <uintptr_t>heap.pages.arena) >> 3

# Call fn(obj) for every allocated object of every in-use span: small spans by index
# (allocated: below freeindex or alloc bit set), large spans their one object.
cdef inline Object* span_object(Span* s, uint32_t i) noexcept nogil:
    if s.state == SPAN_LARGE:
        return <Object*>s.base if i == 0 else NULL
    if i < s.freeindex or ((s.alloc_bits[i >> 6] >> (i & 63)) & 1):
        return <Object*>(s.base + <uint64_t>i * s.elemsize)
    return NULL

cdef void add_reference(HeapState* heap, uint32_t* expected, Object* obj) noexcept nogil:
    if obj != NULL and in_arena(heap, obj):
        expected[count_granule(heap, obj)] += 1

cdef void verify_reference_counts(HeapState* heap, const char* counts, size_t stride) noexcept nogil:
    cdef char msg[400]
    cdef uint64_t ngranules = (<uint64_t>heap.pages.high_water_page << PAGE_SHIFT) >> 3
    cdef uint32_t* expected
    cdef uint32_t p, i, k, n, have
    cdef int r
    cdef int64_t j
    cdef Span* s
    cdef Object* obj
    cdef uint64_t g
    cdef int pass_
    if ngranules == 0:
        return
    expected = <uint32_t*>map_zeroed(ngranules * 4)
    if expected == NULL:
        heap_fail(heap, ERR_INTERNAL, "verifier: out of memory for the reference recount")
        return
    for r in range(heap.roots.nstack):
        add_reference(heap, expected, heap.roots.stack[r])
    for r in range(heap.roots.nglobals):
        add_reference(heap, expected, heap.roots.globals[r])
    for r in range(heap.roots.nextra_roots):
        for j in range(heap.roots.extra_roots[r].count):
            add_reference(heap, expected, heap.roots.extra_roots[r].slots[j])
    # every allocated object's slots count, reachable or not (cyclic garbage holds counts)
    for pass_ in range(2):
        p = 0
        while p < heap.pages.high_water_page:
            s = &heap.pages.spans[p]
            if s.state == SPAN_FREE:
                p += s.npages if s.npages > 0 else 1
                continue
            n = s.nelems
            for i in range(n):
                obj = span_object(s, i)
                if obj == NULL:
                    continue
                if pass_ == 0:
                    for k in range(obj.nslots):
                        add_reference(heap, expected, obj_slots(obj)[k])
                    continue
                g = count_granule(heap, obj)
                have = (<const uint32_t*>(counts + g * stride))[0]
                if have != expected[g] or have == 0:
                    if have == 0 and expected[g] == 0:
                        snprintf(msg, 400, "heap corruption: object %p (%u slots, %u bytes) has no references left but was not freed (reference counting must free it at once)",
                                 <void*>obj, obj.nslots, obj.nbytes)
                    else:
                        snprintf(msg, 400, "heap corruption: object %p (%u slots, %u bytes) has reference count %u, but %u references point to it (from roots and heap slots)",
                                 <void*>obj, obj.nslots, obj.nbytes, have, expected[g])
                    unmap(expected, ngranules * 4)
                    heap_fail(heap, ERR_HEAP_CORRUPTION, msg)
                    return
            p += s.npages
    unmap(expected, ngranules * 4)
