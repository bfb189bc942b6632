# cython: language_level=3
#
# verify.pxd: the verifier room (Go's gccheckmark and heap dump checks) and test-only
# corruption.  Its state is HeapState.verifier (VerifierState, heap.pxd): its own bitmap
# over the arena, the trace's entries with parent and slot; no module globals.
#
#   trace     breadth-first from the roots (stack slots, globals, extra roots, numbered
#             in that order) over an append-only list, with its own visited bitmap, so it
#             shares nothing with the plans' marking; a failure names the path from a root.
#   checks    every reachable object lies in an in-use span, at an element boundary, is
#             allocated (index < freeindex or alloc bit set) and has a sane header; with
#             check_marks (end of marking, before sweeping) it is also marked; and
#             alloc_bytes - freed_bytes == the allocated objects of every in-use span.
#   counts    with a reference-counting plan (its verify_plan hook): every count equals
#             the references from roots and heap slots (verify_reference_counts).
#   corrupt   test-only damage at the end of a chosen cycle (ManagedHeap.corrupt_at), so
#             tests can prove that the verifier fails.
# A violation fails the run (heap_fail, ERR_HEAP_CORRUPTION); Ctrl-C stops the trace and
# the accounting walk within 65536 steps (ERR_INTERRUPTED), in a run or outside one.

from libc.stdint cimport int64_t
from gcbench_core.heap cimport HeapState

# Corruptions a test can ask for (ManagedHeap.corrupt_at).
cdef enum:
    CORRUPT_FREE_REACHABLE = 1      # clear the alloc bit of a reachable object
    CORRUPT_ACCOUNTING = 2          # lose 16 bytes from the freed-bytes counter
    CORRUPT_HEADER = 3              # scribble over a reachable object's header

cdef void heap_verify(HeapState* heap, bint check_marks) noexcept nogil
# The end of a cycle (cycle_end): with `marks_intact` and verification or checkmark on,
# verify the marks and measure floating garbage; then apply a corruption that is due;
# then, with verification on, verify allocation state and accounting.
cdef void verify_end_of_cycle(HeapState* heap, bint marks_intact) noexcept nogil
cdef void verifier_free(HeapState* heap) noexcept nogil
# Reference counts (the refcount plan's verify_plan hook): the count of every allocated
# object, a uint32 at counts + ((obj - arena) >> 3) * stride, must equal the references to
# it from the roots and from the slots of every allocated object (live or cyclic garbage),
# and no allocated object may have none (it should have been freed at once).
cdef void verify_reference_counts(HeapState* heap, const char* counts, size_t stride) noexcept nogil
