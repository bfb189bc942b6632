# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Micro-benchmark kernels: each times one mechanism of the heap in a nogil loop and
returns nanoseconds per object (or per store), so benchmarks/ can hold them to account
against baselines run in the same process (a C free list, malloc, a plain store).

Every kernel builds what it measures on a ManagedHeap the caller passes in, with a
collector already attached, so the figures come from the same code the runs use.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t, uintptr_t, INT64_MAX
from libc.stdlib cimport malloc, free, calloc
from libc.string cimport memset
from gcbench_core.heap cimport (HeapState, ManagedHeap, Object, Span, obj_slots, heap_alloc,
                                gcb_now_ns, gcb_store_ptr, heap_in_use)
from gcbench_core.mutator cimport heap_write, mut_set_stack

cdef extern from *:
    """
    static inline void gcb_compiler_barrier(void) { __asm__ __volatile__("" ::: "memory"); }
    """
    void gcb_compiler_barrier() nogil
from gcbench_core.rng cimport Rng, rng_seed, rng_below
from gcbench_core.pool cimport Pool, pool_get, pool_put, pool_new, pool_destroy


# ---------------------------------------------------------------------------
# Baselines

ctypedef struct FreeNode:
    FreeNode* next
    uint64_t header

def freelist_pop_ns(int64_t n, uint32_t node_bytes=32):
    """A plain C free list: pop n nodes (writing a header into each), ns per pop."""
    cdef char* block = <char*>calloc(n, node_bytes)
    cdef FreeNode* head = NULL
    cdef FreeNode* node
    cdef int64_t i, t0, t1
    cdef uint64_t sink = 0
    if block == NULL:
        raise MemoryError()
    with nogil:
        for i in range(n - 1, -1, -1):
            node = <FreeNode*>(block + i * node_bytes)
            node.next = head
            head = node
        t0 = gcb_now_ns()
        while head != NULL:
            node = head
            head = node.next
            node.header = <uint64_t>i       # as an allocator initialises its object
            sink += <uintptr_t>node
        t1 = gcb_now_ns()
    free(block)
    if sink == 0:
        return 0.0
    return (t1 - t0) / <double>n

def bump_loop_ns(int64_t n, uint32_t nslots=2, uint32_t payload=8):
    """A plain C bump allocator over one block: check the limit, bump, write the header,
    clear the pointer slots (what any allocator of traced objects must do); ns per object.
    The baseline of the heap's bump fast path (semispace, gencopy's nursery)."""
    cdef uint32_t nbytes = 8 + 8 * nslots + payload
    cdef uint64_t size = (nbytes + 7) & ~(<uint64_t>7)
    cdef char* block = <char*>calloc(n + 1, size)
    cdef char* cursor
    cdef char* limit
    cdef char* obj
    cdef int64_t i, t0, t1
    cdef uint32_t k
    cdef uint64_t sink = 0
    if block == NULL:
        raise MemoryError()
    cursor = block
    limit = block + (n + 1) * size
    with nogil:
        memset(block, 1, (n + 1) * size)       # touch every page first: no page faults timed
        t0 = gcb_now_ns()
        for i in range(n):
            obj = cursor
            if <uint64_t>(limit - obj) < size:
                break
            cursor = obj + size
            (<uint64_t*>obj)[0] = <uint64_t>nslots | (<uint64_t>nbytes << 32)
            for k in range(nslots):
                (<Object**>(obj + 8))[k] = NULL
            sink += <uintptr_t>obj
        t1 = gcb_now_ns()
    free(block)
    if sink == 0:
        return 0.0
    return (t1 - t0) / <double>n

def malloc_ns(int64_t n, uint32_t nbytes=32):
    """malloc n objects of nbytes (then free them, untimed), ns per malloc."""
    cdef void** ptrs = <void**>malloc(n * sizeof(void*))
    cdef int64_t i, t0, t1
    if ptrs == NULL:
        raise MemoryError()
    with nogil:
        t0 = gcb_now_ns()
        for i in range(n):
            ptrs[i] = malloc(nbytes)
            (<uint64_t*>ptrs[i])[0] = <uint64_t>i
        t1 = gcb_now_ns()
        for i in range(n):
            free(ptrs[i])
    free(ptrs)
    return (t1 - t0) / <double>n


# ---------------------------------------------------------------------------
# The heap

def alloc_ns(ManagedHeap heap, int64_t n, uint32_t nslots=2, uint32_t payload=8):
    """Allocate n objects with heap_alloc (the inline fast path), keeping none: ns per
    object.  Call it twice on a collecting heap to time reused (swept) memory."""
    cdef HeapState* h = heap.state
    cdef int64_t i, t0, t1
    cdef Object* obj
    cdef uint64_t sink = 0
    with nogil:
        t0 = gcb_now_ns()
        for i in range(n):
            obj = heap_alloc(h, nslots, payload)
            sink += <uintptr_t>obj             # as the free-list loop does: no read back
        t1 = gcb_now_ns()
    heap.check_error()
    if sink == 0:
        return 0.0
    return (t1 - t0) / <double>n

def build_tree(ManagedHeap heap, int64_t n, bint shuffled, uint64_t seed=1):
    """A complete binary tree of n nodes (2 slots, 8 payload bytes) rooted at global 0.

    In allocation order node i's children are nodes 2i+1 and 2i+2 (breadth-first
    layout); shuffled, the tree's positions are assigned to nodes in a random order, so
    that following a pointer lands anywhere in the heap.  Returns n.
    """
    cdef HeapState* h = heap.state
    cdef Object** nodes = <Object**>malloc(n * sizeof(Object*))
    cdef int64_t* order = <int64_t*>malloc(n * sizeof(int64_t))
    cdef int64_t i, j, tmp
    cdef Rng rng
    if nodes == NULL or order == NULL:
        free(nodes)
        free(order)
        raise MemoryError()
    with nogil:
        for i in range(n):
            nodes[i] = heap_alloc(h, 2, 8)
            order[i] = i
        if shuffled:
            rng_seed(&rng, seed)
            for i in range(n - 1, 0, -1):
                j = <int64_t>rng_below(&rng, i + 1)
                tmp = order[i]
                order[i] = order[j]
                order[j] = tmp
        for i in range(n):
            if 2 * i + 1 < n:
                obj_slots(nodes[order[i]])[0] = nodes[order[2 * i + 1]]
            if 2 * i + 2 < n:
                obj_slots(nodes[order[i]])[1] = nodes[order[2 * i + 2]]
        h.roots.globals[0] = nodes[order[0]]
    free(nodes)
    free(order)
    heap.check_error()
    return n

def mark_ns(ManagedHeap heap, int repeats=3):
    """Force `repeats` collections of what is reachable now; best mark ns per live object."""
    best = float("inf")
    for _ in range(repeats):
        heap.collect()
        cycle = heap.cycles()[-1]
        if cycle["live_objects"]:
            best = min(best, cycle["mark_ns"] / cycle["live_objects"])
    return best

def sweep_ns(ManagedHeap heap, int64_t n, uint32_t nslots=2, uint32_t payload=8):
    """Allocate n unreachable objects, collect: sweep ns per object freed."""
    cdef int64_t freed_before
    alloc_ns(heap, n, nslots, payload)
    freed_before = heap.state.freed_count
    heap.collect()
    cycle = heap.cycles()[-1]
    freed = heap.state.freed_count - freed_before
    return cycle["sweep_ns"] / freed if freed else float("nan")

def store_ns(ManagedHeap heap, int64_t n, bint barrier=True):
    """n pointer stores into one object's slots: through heap_write (the barrier's fast
    path test as the mutator does it) or as plain stores; ns per store.  The barrier is
    whatever heap.barrier_on says: off unless a collector is marking."""
    cdef HeapState* h = heap.state
    cdef Object* holder = heap_alloc(h, 64, 0)
    cdef Object* target = heap_alloc(h, 0, 8)
    cdef Object** slots = obj_slots(holder)
    cdef int64_t i, t0, t1
    with nogil:
        t0 = gcb_now_ns()
        if barrier:
            for i in range(n):
                heap_write(h, slots + (i & 63), target if (i & 1) else NULL)
        else:
            for i in range(n):
                gcb_store_ptr(<void**>(slots + (i & 63)), target if (i & 1) else NULL)
        t1 = gcb_now_ns()
    return (t1 - t0) / <double>n

def stack_write_ns(ManagedHeap heap, int64_t n, bint hooked=True):
    """n stack-slot writes: through mut_set_stack (its test of heap.count_stack, as every
    mutator operation that writes a stack slot does it) or as plain stores; ns per write.
    With a collector that does not count stack slots the test is never taken: the
    difference is the stack-slot hook's cost to every other collector."""
    cdef HeapState* h = heap.state
    cdef Object* target = heap_alloc(h, 0, 8)
    cdef int64_t i, t0, t1
    with nogil:
        t0 = gcb_now_ns()
        if hooked:
            for i in range(n):
                mut_set_stack(h, <int>(i & 255), target if (i & 1) else NULL)
                gcb_compiler_barrier()
        else:
            for i in range(n):
                h.roots.stack[i & 255] = target if (i & 1) else NULL
                gcb_compiler_barrier()
        t1 = gcb_now_ns()
        for i in range(256):
            h.roots.stack[i] = NULL
    return (t1 - t0) / <double>n

def pool_get_put_ns(ManagedHeap heap, int64_t n, int workers=1):
    """n Get/Put pairs on a Pool (the private-slot fast path), ns per pair."""
    cdef Pool* pool = pool_new(heap, workers, 16, 0, 4096)
    cdef HeapState* h = heap.state
    cdef int64_t i, t0, t1
    with nogil:
        t0 = gcb_now_ns()
        for i in range(n):
            pool_get(pool, 0, 0)
            pool_put(pool, 0, 0)
        t1 = gcb_now_ns()
        pool_destroy(pool)
        h.roots.stack[0] = NULL
    return (t1 - t0) / <double>n


def store_ns_marking(str barrier, int64_t n):
    """n stores with marking on (a tricolor cycle held open, incremental mode so that no
    worker finishes it): each store takes the barrier's slow path; ns per store."""
    from gcbench_core.collectors import tricolor
    cdef ManagedHeap heap = ManagedHeap(256 << 20, 100)
    tricolor.attach(heap, {"barrier": barrier, "mode": "incremental", "quantum": 256,
                           "step_ops": 1024, "assist_kib": 64, "utilization": 0.25})
    cdef HeapState* h = heap.state
    cdef Object* keep = heap_alloc(h, 64, 0)
    h.roots.globals[0] = keep
    h.pacer.heap_trigger = 0                        # start a cycle at the next alloc hook
    with nogil:
        h.collector.alloc_hook(h)
    if not h.barrier_on:
        raise RuntimeError("tricolor did not start marking")
    ns = store_ns(heap, n, True)
    with nogil:
        h.collector.finish(h)
    return ns
