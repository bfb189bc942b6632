# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# distutils: libraries = gc
# gcbench-build: requires libgc (Debian package libgc-dev); setup.py skips this file without it
"""The kernel of the `boehm` collector (see boehm.py): the Boehm-Demers-Weiser
conservative mark-sweep collector (libgc), allocating the workloads' objects.

libgc is used as a C program uses it (benchmarks/reference/c/ is that program, and
benchmarks/fidelity.py compares the two): objects with pointer slots come from
GC_MALLOC, pointer-free ones (arrays of scalars, byte buffers) from GC_MALLOC_ATOMIC,
which libgc neither scans nor counts fully towards its collection threshold.  gcbench
objects are referenced only by their start (slots and roots hold object starts; a
payload pointer lives only while its object is rooted), so GC_set_all_interior_pointers(0):
no extra byte per object, a 32-byte object stays in the 32-byte class.

Roots.  The mutator's stack slots, globals and extra root ranges (a Pool's slots, added
while a run goes on) live in ordinary C memory: a push-other-roots callback pushes
exactly those ranges at each collection, then chains to libgc's own (thread stacks).

Lessons for libgc inside a Python process: GC_set_no_dls(1) before GC_INIT, or every
collection scans every loaded library's data segment (over 1 ms a pause); any thread
that allocates must be registered (GC_allow_register_threads, GC_register_my_thread);
its sweep is lazy, done at allocation, outside the collection events, so at the end
event the mark bits are still those of the collection: live objects and bytes are
counted from them (GC_enumerate_reachable_objects_inner).  libgc has one heap per
process: later runs in the same process share it.
"""
from libc.stdint cimport uint32_t, int64_t
from libc.string cimport memset
from gcbench_core.heap cimport (collector_init, HeapState, ManagedHeap, Object, gcb_now_ns, heap_fail,
                                charged_bytes, ERR_HEAP_EXHAUSTED, PAUSE_STW_COLLECT, MAX_STACK_SLOTS, MAX_GLOBALS)
from gcbench_core.cycle cimport CycleResult, cycle_begin, cycle_end

cdef extern from "gc.h" nogil:
    ctypedef unsigned long GC_word
    ctypedef enum GC_EventType:
        GC_EVENT_START
        GC_EVENT_END
    ctypedef void (*GC_on_collection_event_proc)(GC_EventType) noexcept nogil
    ctypedef void* (*GC_oom_func)(size_t) noexcept nogil
    struct GC_stack_base:
        pass
    void GC_INIT()
    void* GC_MALLOC(size_t n)
    size_t GC_size(const void* p)
    void GC_gcollect()
    void GC_set_no_dls(int)
    void GC_set_max_heap_size(GC_word)
    void GC_set_free_space_divisor(GC_word)
    void GC_allow_register_threads()
    int GC_thread_is_registered()
    int GC_get_stack_base(GC_stack_base*)
    int GC_register_my_thread(const GC_stack_base*)
    void GC_set_on_collection_event(GC_on_collection_event_proc)
    void GC_set_oom_fn(GC_oom_func)
    GC_word GC_get_gc_no()
    void GC_set_markers_count(unsigned)
    size_t GC_get_heap_size()
    size_t GC_get_free_bytes()
    void GC_get_heap_usage_safe(GC_word* heap_size, GC_word* free_bytes, GC_word* unmapped_bytes,
                                GC_word* bytes_since_gc, GC_word* total_bytes)
    void GC_set_dont_precollect(int)
    void* GC_MALLOC_ATOMIC(size_t n)
    void GC_set_all_interior_pointers(int)
    ctypedef void (*GC_warn_proc)(char* msg, GC_word arg) noexcept nogil
    void GC_set_warn_proc(GC_warn_proc)
    void GC_ignore_warn_proc(char* msg, GC_word arg)

cdef extern from "gc/gc_mark.h" nogil:
    ctypedef void (*GC_push_other_roots_proc)() noexcept nogil
    void GC_set_push_other_roots(GC_push_other_roots_proc)
    GC_push_other_roots_proc GC_get_push_other_roots()
    void GC_push_all(void* bottom, void* top)
    ctypedef void (*GC_reachable_object_proc)(void* obj, size_t nbytes, void* client_data) noexcept nogil
    void GC_enumerate_reachable_objects_inner(GC_reachable_object_proc, void* client_data)

ctypedef struct MarkedCount:
    int64_t objects
    int64_t bytes

cdef HeapState* current_heap = NULL   # the heap whose run libgc serves now (one per process)
cdef int64_t event_start_ns = 0       # the open collection event's start (0: none)
cdef bint initialised = False
cdef GC_push_other_roots_proc libgc_push_other_roots = NULL

cdef void push_mutator_roots() noexcept nogil:
    # libgc's mark phase, world stopped: the current run's roots, then libgc's own
    cdef HeapState* heap = current_heap
    cdef int i
    if heap != NULL:
        GC_push_all(<void*>heap.roots.stack, <void*>(heap.roots.stack + MAX_STACK_SLOTS))
        GC_push_all(<void*>heap.roots.globals, <void*>(heap.roots.globals + MAX_GLOBALS))
        for i in range(heap.roots.nextra_roots):
            if heap.roots.extra_roots[i].count > 0:
                GC_push_all(<void*>heap.roots.extra_roots[i].slots,
                            <void*>(heap.roots.extra_roots[i].slots + heap.roots.extra_roots[i].count))
    if libgc_push_other_roots != NULL:
        libgc_push_other_roots()

cdef void count_marked(void* obj, size_t nbytes, void* client_data) noexcept nogil:
    cdef MarkedCount* count = <MarkedCount*>client_data
    count.objects += 1
    count.bytes += <int64_t>nbytes

cdef int64_t in_use_bytes() noexcept nogil:
    # Called inside a collection event, with libgc's allocation lock held: the
    # unsynchronised getters are the right ones (GC_get_heap_usage_safe would deadlock).
    return <int64_t>GC_get_heap_size() - <int64_t>GC_get_free_bytes()

# libgc calls this with the world stopped around each collection: its events are the
# heap's cycle (begin at GC_EVENT_START, the pause and the end at GC_EVENT_END).  libgc
# paces itself (free_space_divisor), so the heap's pacer sets no goal.
cdef void on_event(GC_EventType event) noexcept nogil:
    global event_start_ns
    cdef HeapState* heap = current_heap
    cdef CycleResult r
    cdef int64_t live
    cdef MarkedCount marked
    if heap == NULL:
        return
    if event == GC_EVENT_START:
        if heap.alloc_bytes - heap.freed_bytes > heap.peak_heap_bytes:
            heap.peak_heap_bytes = heap.alloc_bytes - heap.freed_bytes
        event_start_ns = cycle_begin(heap, False)
    elif event == GC_EVENT_END and event_start_ns != 0:
        live = in_use_bytes()
        # the mark bits of this collection (sweeping is lazy): objects and bytes marked
        marked.objects = 0
        marked.bytes = 0
        GC_enumerate_reachable_objects_inner(count_marked, &marked)
        r.heap_after = live
        r.live_bytes = marked.bytes
        r.live_objects = marked.objects
        r.mark_ns = gcb_now_ns() - event_start_ns
        r.sweep_start_ns = 0                # libgc sweeps lazily, at allocation
        r.scan_work = 0
        r.forced = False
        r.paced = False
        r.marks_intact = False
        # libgc frees lazily and does not say what: bytes in use now are what it kept
        if heap.alloc_bytes - live > heap.freed_bytes:
            heap.freed_bytes = heap.alloc_bytes - live
        cycle_end(heap, PAUSE_STW_COLLECT, event_start_ns, &r)
        event_start_ns = 0

cdef void* on_out_of_memory(size_t nbytes) noexcept nogil:
    return NULL

# Per allocation only what native GCBench's allocation does besides GC_MALLOC (the stress
# test aside): the counts.  The heap's peak is taken where in use is largest, when a
# collection starts (on_event) and when the run ends (heap_run), not per allocation.
cdef Object* boehm_alloc(HeapState* heap, uint32_t nbytes, uint32_t nslots) noexcept nogil:
    cdef Object* obj
    # stress mode: a full collection before every stress_allocs-th allocation (before,
    # so that the new object, not yet in a root, cannot be freed by it)
    if heap.stress_allocs > 0 and (heap.alloc_count + 1) % heap.stress_allocs == 0:
        GC_gcollect()
    # GC_MALLOC clears the object (its slots start NULL); pointer-free objects are atomic
    obj = <Object*>(GC_MALLOC(nbytes) if nslots > 0 else GC_MALLOC_ATOMIC(nbytes))
    if obj == NULL:
        heap_fail(heap, ERR_HEAP_EXHAUSTED, "heap exhausted: libgc could not allocate within its maximum heap size")
        return NULL
    heap.alloc_count += 1
    heap.alloc_bytes += (heap.sizeclass.size_to_charge8[(nbytes + 7) >> 3] if nbytes <= 1024
                         else charged_bytes(heap, nbytes))
    return obj

cdef void boehm_collect(HeapState* heap) noexcept nogil:
    GC_gcollect()

cdef void boehm_destroy(HeapState* heap) noexcept nogil:
    global current_heap
    if current_heap == heap:
        current_heap = NULL

def attach(ManagedHeap heap, dict opts, str name):
    global current_heap, initialised, libgc_push_other_roots
    cdef HeapState* h = heap.state
    cdef GC_stack_base base
    if not initialised:
        # One marker thread, as every gcbench collector marks on one thread at a time:
        # the comparison is of algorithms, not of core counts (and the mutator thread's
        # CPU time then holds all of libgc's marking work).
        GC_set_markers_count(1)
        GC_set_no_dls(1)
        GC_set_all_interior_pointers(0)
        GC_INIT()
        # libgc's warnings ("GC Warning: Out of Memory! ...") would be a second line under
        # gcbench's own: the failure is reported by on_out_of_memory, once
        GC_set_warn_proc(<GC_warn_proc>GC_ignore_warn_proc)
        libgc_push_other_roots = GC_get_push_other_roots()
        GC_set_push_other_roots(push_mutator_roots)
        GC_allow_register_threads()
        GC_set_on_collection_event(on_event)
        GC_set_oom_fn(on_out_of_memory)
        initialised = True
    if not GC_thread_is_registered():
        if GC_get_stack_base(&base) == 0:
            GC_register_my_thread(&base)
    GC_set_max_heap_size(<GC_word>h.pages.arena_bytes)
    GC_set_free_space_divisor(<GC_word>opts["free_space_divisor"])
    collector_init(heap, name)
    current_heap = h
    h.collector.out_of_memory = boehm_collect
    h.collector.collect = boehm_collect
    h.collector.destroy = boehm_destroy
    h.collector.external_alloc = boehm_alloc
