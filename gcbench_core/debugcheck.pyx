# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""debugcheck: deliberate mutator and heap bugs, so that tests can prove the debug build
catches them (GCBENCH_DEBUG=1 pip install .).  Not a workload: nothing registers it.

  use_after_free(heap)  the mutator keeps a pointer the collector cannot see (a missed
                        root), a collection frees that object, the mutator stores into
                        it: a debug build fails the run ("poisoned (freed) object").
  mark_free_slot(heap)  a mark bit is set on a slot that was never allocated (a marker
                        bug): a debug build's sweep fails the run (debug assertion).

  alloc_unchecked(heap, nslots, payload)   one allocation straight into the kernel's
                        entry (heap_alloc), past every harness check: sizes whose sum
                        8 + 8 * nslots + payload wraps in 32 bits or passes 1 GiB must be
                        refused by the kernel itself (any build).

  stale_pointer_bug(heap)  on a moving heap (semispace with --stress 1: every allocation
                        collects and moves every object), the mutator keeps an object's
                        address in a C local across an allocation and puts it back into a
                        stack slot (the bug mutator.pxd forbids): a debug build poisons
                        the old copies, so the next store into it fails the run.

In a release build none of use_after_free, mark_free_slot and stale_pointer_bug is detected (that is the point of the debug build); do not
call them there, the first writes to freed memory.

  bump_space_check(heap, half_bytes, n)   exercises the bump-pointer space (spaces/bump)
                        on its own, without a plan: fill to-space to its limit, build a chain
                        of n objects, flip, evacuate the chain Cheney-style (copy the root,
                        then scan to-space copying each slot's target once) and report
                        what happened, for tests to check (any build).
"""
from libc.stdint cimport uint32_t
from gcbench_core.heap cimport (HeapState, ManagedHeap, Object, Span, run_kernel, span_of,
                                obj_index, GCB_DEBUG)
from gcbench_core.mutator cimport mut_alloc, mut_store, mut_store_null, mut_clear, mut_gc
from gcbench_core.spaces.bump cimport (BumpSpace, bump_init, bump_free, bump_alloc, bump_flip, bump_copy,
                                       bump_is_forwarded, bump_forwardee, bump_in_to_space)
from gcbench_core.heap cimport obj_slots

DEBUG_BUILD = bool(GCB_DEBUG)

cdef void use_after_free_kernel(void* arg) noexcept nogil:
    cdef HeapState* heap = <HeapState*>arg
    cdef Object* stale
    mut_alloc(heap, 0, 1, 8)            # parent, a root
    mut_alloc(heap, 1, 0, 8)            # child
    mut_store(heap, 0, 0, 1)
    stale = heap.roots.stack[1]               # held where the collector cannot see it
    mut_clear(heap, 1)
    mut_store_null(heap, 0, 0)          # the child is now unreachable
    mut_gc(heap)                        # ... and freed
    heap.roots.stack[1] = stale
    mut_store(heap, 0, 0, 1)            # storing a freed object: caught in debug builds

cdef void mark_free_slot_kernel(void* arg) noexcept nogil:
    cdef HeapState* heap = <HeapState*>arg
    cdef Span* s
    cdef uint32_t i
    mut_alloc(heap, 0, 0, 8)
    s = span_of(heap, heap.roots.stack[0])
    i = obj_index(s, heap.roots.stack[0]) + 1     # the next slot: not allocated yet
    s.mark_bits[i >> 6] |= (<uint64_t>1) << (i & 63)
    mut_gc(heap)

cdef void stale_pointer_kernel(void* arg) noexcept nogil:
    cdef HeapState* heap = <HeapState*>arg
    cdef Object* cached
    mut_alloc(heap, 0, 1, 8)            # an object, rooted in stack slot 0
    cached = heap.roots.stack[0]        # the bug: its address kept in a C local ...
    mut_alloc(heap, 1, 0, 8)            # ... across an allocation, which collects and moves it
    heap.roots.stack[2] = cached        # the stale address goes back into the program
    mut_store(heap, 2, 0, 1)            # storing into the old copy: caught in debug builds

from libc.stdint cimport uint32_t, uint64_t, int64_t

ctypedef struct AllocArgs:
    HeapState* heap
    uint32_t nslots
    uint32_t payload

cdef void alloc_unchecked_kernel(void* arg) noexcept nogil:
    cdef AllocArgs* a = <AllocArgs*>arg
    mut_alloc(a.heap, 0, a.nslots, a.payload)
    if a.nslots > 0:
        mut_store_null(a.heap, 0, a.nslots - 1)     # the last slot: inside the object?

def alloc_unchecked(ManagedHeap heap, uint32_t nslots, uint32_t payload):
    cdef AllocArgs a
    a.heap = heap.state
    a.nslots = nslots
    a.payload = payload
    run_kernel(heap, alloc_unchecked_kernel, &a)

def stale_pointer_bug(ManagedHeap heap):
    run_kernel(heap, stale_pointer_kernel, heap.state)

def use_after_free(ManagedHeap heap):
    run_kernel(heap, use_after_free_kernel, heap.state)

def mark_free_slot(ManagedHeap heap):
    run_kernel(heap, mark_free_slot_kernel, heap.state)


def bump_space_check(ManagedHeap heap, int64_t half_bytes, int64_t n):
    """Allocate, forward and flip in heap's bump space; a dict of what was observed."""
    cdef BumpSpace* s = &heap.state.bump
    cdef Object* obj
    cdef Object* prev = NULL
    cdef Object* root = NULL
    cdef Object* copy
    cdef Object* again
    cdef char* scan
    cdef int64_t i, filled = 0, chain_bytes = 0, in_to_space = 0, forwarded = 0, order_ok = 1
    cdef int64_t same_copy = 0
    if s.base != NULL:
        bump_free(s)
    if not bump_init(s, half_bytes):
        raise MemoryError("cannot map the bump space")
    # 1. fill to-space with 24-byte objects (one slot) until bump_alloc refuses
    while bump_alloc(s, 24) != NULL:
        filled += 1
    out = {"half_bytes": s.half_bytes, "filled_24_byte_objects": filled,
           "bytes_left": s.limit - s.cursor}
    # 2. the other half: a chain of n objects (one slot, 8-byte id), last to first
    bump_flip(s)
    for i in range(n):
        obj = bump_alloc(s, 24)
        if obj == NULL:
            raise ValueError("n objects do not fit in half_bytes")
        obj.nslots = 1
        obj.nbytes = 24
        obj_slots(obj)[0] = prev
        (<int64_t*>(obj_slots(obj) + 1))[0] = n - 1 - i
        chain_bytes += 24
        prev = obj
    root = prev
    # 3. flip and evacuate: copy the root, then scan to-space (Cheney)
    bump_flip(s)
    copy = bump_copy(s, root)
    again = bump_copy(s, root)
    same_copy = copy == again and bump_is_forwarded(root) and bump_forwardee(s, root) == copy
    scan = <char*>copy
    while scan < s.cursor:
        obj = <Object*>scan
        if obj_slots(obj)[0] != NULL:
            obj_slots(obj)[0] = bump_copy(s, obj_slots(obj)[0])
        scan += (obj.nbytes + 7) & ~7
    # 4. walk the copied chain
    obj = copy
    i = 0
    while obj != NULL:
        in_to_space += bump_in_to_space(s, obj)
        if (<int64_t*>(obj_slots(obj) + 1))[0] != i:
            order_ok = 0
        obj = obj_slots(obj)[0]
        i += 1
    # every old object is forwarded (the chain's old copies lie in from-space)
    obj = <Object*>s.from_base
    while <char*>obj < s.from_base + chain_bytes:
        forwarded += bump_is_forwarded(obj)
        obj = <Object*>((<char*>obj) + 24)
    out.update({"chain_length": i, "chain_in_to_space": in_to_space, "chain_order_kept": bool(order_ok),
                "old_copies_forwarded": forwarded, "copy_once": bool(same_copy),
                "to_space_used": s.cursor - s.to_base, "chain_bytes": chain_bytes,
                "copied_objects": s.copied_objects, "copied_bytes": s.copied_bytes, "flips": s.flips})
    bump_free(s)
    return out
