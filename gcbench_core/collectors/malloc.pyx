# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""malloc: no collector at all; every object comes from the C library's malloc and is
freed with free() the moment the workload drops it (mut_drop).

The baseline of manual memory management: the same operation stream as every other
collector, with the cost of malloc/free in place of allocation plus collection.  Objects
live outside the arena, so there is nothing to mark, sweep or verify, and no pause.  A
workload that never drops what it allocates simply grows; the heap size still bounds the
bytes held (an allocation beyond it ends the run with "heap exhausted").  Freed bytes are
counted in the arena's size-class units (charged_bytes), as are allocated bytes, so that
alloc_bytes compares across collectors and accounting balances.
"""
from libc.stdint cimport uint32_t, int64_t
from gcbench_core.plan import PlanConstraints
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memset
from libc.stdio cimport snprintf
from gcbench_core.heap cimport (collector_init, HeapState, ManagedHeap, Object, MarkStack, obj_slots, charged_bytes, HEADER_BYTES,
                                heap_fail, mark_stack_push, mark_stack_free, ERR_HEAP_EXHAUSTED)

NAME = "malloc"
DESCRIPTION = "no collector: objects from C malloc, freed with free() when the workload drops them"
OPTIONS = {}
# outside the arena; frees only what workloads drop, so a full collection frees nothing
CONSTRAINTS = PlanConstraints(uses_arena=False, reclaims_exactly=False, honours_stress=False)

ctypedef struct MallocState:
    MarkStack free_stack        # objects waiting to be freed by a recursive drop

cdef Object* malloc_alloc(HeapState* heap, uint32_t nbytes, uint32_t nslots) noexcept nogil:
    cdef char msg[200]
    cdef Object* obj
    if heap.alloc_bytes - heap.freed_bytes + nbytes > heap.pages.arena_bytes:
        snprintf(msg, 200, "heap exhausted: malloc would hold more than the heap size of %lld bytes (%lld bytes live)",
                 <long long>heap.pages.arena_bytes, <long long>(heap.alloc_bytes - heap.freed_bytes))
        heap_fail(heap, ERR_HEAP_EXHAUSTED, msg)
        return NULL
    # pointer slots must start NULL, as in the arena (the header is written after)
    obj = <Object*>malloc(nbytes)
    if obj == NULL:
        heap_fail(heap, ERR_HEAP_EXHAUSTED, "heap exhausted: malloc returned NULL")
        return NULL
    memset(obj, 0, HEADER_BYTES + <size_t>nslots * 8)
    heap.alloc_count += 1
    heap.alloc_bytes += charged_bytes(heap, nbytes)
    if heap.alloc_bytes - heap.freed_bytes > heap.peak_heap_bytes:
        heap.peak_heap_bytes = heap.alloc_bytes - heap.freed_bytes
        heap.peak_live_bytes = heap.peak_heap_bytes     # nothing dead is ever kept
    return obj

cdef inline void free_one(HeapState* heap, Object* obj) noexcept nogil:
    heap.freed_count += 1
    heap.freed_bytes += charged_bytes(heap, obj.nbytes)
    free(obj)

# A recursive drop frees everything the object reaches (the workload owns all of it: a
# tree, or a DAG such as leak's chained children), each object once: an object is
# marked (DROP_SEEN, a bit nslots never uses: objects are below 4 GiB) when pushed.
cdef enum:
    DROP_SEEN = 0x80000000

cdef void malloc_drop(HeapState* heap, Object* obj, bint recursive) noexcept nogil:
    cdef MallocState* state = <MallocState*>heap.collector.state
    cdef MarkStack* pending = &state.free_stack
    cdef Object* child
    cdef uint32_t i, nslots
    if not recursive:
        free_one(heap, obj)
        return
    # free the owned graph with an explicit stack (a tree of depth 20 is fine recursively,
    # but a drop must not depend on the shape it is given)
    obj.nslots |= DROP_SEEN
    mark_stack_push(pending, obj)
    while pending.length > 0:
        pending.length -= 1
        obj = pending.items[pending.length]
        nslots = obj.nslots & ~(<uint32_t>DROP_SEEN)
        for i in range(nslots):
            child = obj_slots(obj)[i]
            if child != NULL and not (child.nslots & DROP_SEEN):
                child.nslots |= DROP_SEEN
                mark_stack_push(pending, child)
        free_one(heap, obj)

cdef void malloc_destroy(HeapState* heap) noexcept nogil:
    cdef MallocState* state = <MallocState*>heap.collector.state
    if state != NULL:
        mark_stack_free(&state.free_stack)
        free(state)
        heap.collector.state = NULL

def attach(ManagedHeap heap, dict opts):
    cdef HeapState* h = heap.state
    collector_init(heap, NAME)
    h.collector.state = calloc(1, sizeof(MallocState))
    if h.collector.state == NULL:
        raise MemoryError()
    h.collector.destroy = malloc_destroy
    h.collector.external_alloc = malloc_alloc
    h.collector.drop = malloc_drop
