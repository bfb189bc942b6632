# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# distutils: libraries = gc
# gcbench-build: requires libgc (Debian package libgc-dev); setup.py skips this file without it
"""The kernel of the `boehm` collector (see boehm.py): the Boehm-Demers-Weiser
conservative mark-sweep collector (libgc), allocating the workloads' objects.

Lessons for libgc inside a Python process: GC_set_no_dls(1) before GC_INIT, or every
collection scans every loaded library's data segment (over 1 ms a pause); any thread
that allocates must be registered (GC_allow_register_threads, GC_register_my_thread);
its sweep is lazy, done at allocation, outside the collection events.  Our mutator's
stack slots, globals and extra roots live in ordinary C memory, so they are added as
roots.  libgc has one heap per process: later runs in the same process share it.
"""
from libc.stdint cimport uint32_t, int64_t
from libc.string cimport memset
from gcbench_core.heap cimport (collector_init, HeapState, ManagedHeap, Object, gcb_now_ns, heap_fail,
                                charged_bytes, ERR_HEAP_EXHAUSTED, PAUSE_STW_COLLECT)
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
    void GC_add_roots(void* low, void* high_plus_1)
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

cdef HeapState* current_heap = NULL   # the heap whose run libgc serves now (one per process)
cdef int64_t event_start_ns = 0       # the open collection event's start (0: none)
cdef bint initialised = False

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
    if heap == NULL:
        return
    if event == GC_EVENT_START:
        event_start_ns = cycle_begin(heap, False)
    elif event == GC_EVENT_END and event_start_ns != 0:
        live = in_use_bytes()
        r.heap_after = live
        r.live_bytes = live
        r.live_objects = 0
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

cdef Object* boehm_alloc(HeapState* heap, uint32_t nbytes) noexcept nogil:
    cdef Object* obj
    cdef int64_t in_use
    # stress mode: a full collection before every stress_allocs-th allocation (before,
    # so that the new object, not yet in a root, cannot be freed by it)
    if heap.stress_allocs > 0 and (heap.alloc_count + 1) % heap.stress_allocs == 0:
        GC_gcollect()
    obj = <Object*>GC_MALLOC(nbytes)
    if obj == NULL:
        heap_fail(heap, ERR_HEAP_EXHAUSTED, "heap exhausted: libgc could not allocate within its maximum heap size")
        return NULL
    heap.alloc_count += 1
    heap.alloc_bytes += charged_bytes(heap, nbytes)
    in_use = heap.alloc_bytes - heap.freed_bytes
    if in_use > heap.peak_heap_bytes:
        heap.peak_heap_bytes = in_use
    return obj

cdef void boehm_collect(HeapState* heap) noexcept nogil:
    GC_gcollect()

cdef void boehm_destroy(HeapState* heap) noexcept nogil:
    global current_heap
    if current_heap == heap:
        current_heap = NULL

def attach(ManagedHeap heap, dict opts, str name):
    global current_heap, initialised
    cdef HeapState* h = heap.state
    cdef GC_stack_base base
    if not initialised:
        # One marker thread, as every gcbench collector marks on one thread at a time:
        # the comparison is of algorithms, not of core counts (and the mutator thread's
        # CPU time then holds all of libgc's marking work).
        GC_set_markers_count(1)
        GC_set_no_dls(1)
        GC_INIT()
        GC_allow_register_threads()
        GC_set_on_collection_event(on_event)
        GC_set_oom_fn(on_out_of_memory)
        initialised = True
    if not GC_thread_is_registered():
        if GC_get_stack_base(&base) == 0:
            GC_register_my_thread(&base)
    # The mutator's roots live in the heap record, which libgc does not know about.
    # (Adding the whole record is simplest: its other fields point outside libgc's heap.)
    GC_add_roots(<void*>h, <void*>(<char*>h + sizeof(HeapState)))
    GC_set_max_heap_size(<GC_word>h.pages.arena_bytes)
    GC_set_free_space_divisor(<GC_word>opts["free_space_divisor"])
    collector_init(heap, name)
    current_heap = h
    h.collector.out_of_memory = boehm_collect
    h.collector.collect = boehm_collect
    h.collector.destroy = boehm_destroy
    h.collector.external_alloc = boehm_alloc
