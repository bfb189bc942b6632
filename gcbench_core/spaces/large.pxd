# cython: language_level=3
#
# spaces/large.pxd: the large-object space (MMTk's LargeObjectSpace, Whippet's
# large-object-space.h): every object above MAX_SMALL_SIZE gets a span of whole pages
# of its own from the page heap; its mark bit is bit 0 of the span's mark bitmap.
#
#   allocate  a span of ceil(nbytes / PAGE_SIZE) pages; when the page heap has none,
#             the collector's out_of_memory hook runs and the allocation tries once more.
#   sweep     a marked span keeps its object (mark bit cleared, back on the swept list);
#             an unmarked one is freed and its pages go back to the page heap.
# Invariants: one object per span, at its base, charged as the span's whole pages
# (elemsize); the space's spans are on lists[swept] or lists[unswept] (heap.pxd).

from libc.stdint cimport uint32_t
from gcbench_core.heap cimport HeapState, Object

# Allocate an object of `nbytes` (> MAX_SMALL_SIZE); NULL (after heap_fail) when exhausted.
cdef Object* large_alloc(HeapState* heap, uint32_t nbytes) noexcept nogil
# Sweep one unswept large object (false: none left) / every one.
cdef bint large_sweep_one(HeapState* heap) noexcept nogil
cdef void large_sweep_all(HeapState* heap) noexcept nogil
# Free one large object now (reference counting): its pages go back to the page heap.
cdef void large_free(HeapState* heap, Object* obj) noexcept nogil
