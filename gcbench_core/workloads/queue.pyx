# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""queue: a producer/consumer FIFO in which every message lives exactly `lifetime` steps.

The queue is a ring (one heap array of `lifetime` pointer slots, reached from a global).
Each step the consumer takes the oldest message (loads it, reads its first payload word,
drops it once replaced: mut_drop, with its body chunks) and the producer puts a new one in its place: a message object with a drawn
number of pointer slots, each pointing to a freshly allocated body chunk of drawn size
(a request with its buffers).  So the live set is `lifetime` messages, constant, and
every object dies at the same age: the shape a generational hypothesis does not help
with once `lifetime` exceeds the young generation, and the shape of a server's request
queue or a channel with a fixed backlog.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t
from gcbench_core.heap cimport HeapState, ManagedHeap, Object, run_kernel
from gcbench_core.mutator cimport (mut_alloc, mut_store, mut_load, mut_clear, mut_drop, mut_set_global,
                                   mut_payload)
from gcbench_core.rng cimport Rng, rng_seed
from gcbench_core.dist cimport Dist, dist_set, dist_sample
from gcbench_core.distspec import dist_params, dist_args

NAME = "queue"
DESCRIPTION = "producer/consumer FIFO: every message (with its body chunks) lives exactly `lifetime` steps"
PARAMS = (
    {"name": "lifetime", "type": "int", "default": 10000, "min": 1, "max": 100_000_000,
     "help": "steps a message stays in the queue (the queue's length)"},
    {"name": "ops", "type": "int", "default": 1000000, "min": 0, "max": 10_000_000_000,
     "help": "produce/consume steps"},
    *dist_params("slots", "body chunks (pointer slots)", 0, 4, limit=1024, per="message"),
    *dist_params("payload", "payload bytes", 16, 128),
)

cdef enum:
    R_RING = 0
    R_MSG = 1
    R_BODY = 2
    R_OLD = 3
    G_RING = 0

ctypedef struct Params:
    HeapState* heap
    int64_t lifetime
    int64_t ops
    Dist slots
    Dist payload
    uint64_t seed
    uint64_t checksum                # consumer's reads, so they are not dead code

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef Rng rng
    cdef int64_t step, pos
    cdef uint32_t k, nslots
    cdef Object* old
    rng_seed(&rng, p.seed)
    mut_alloc(heap, R_RING, <uint32_t>p.lifetime, 0)
    mut_set_global(heap, G_RING, R_RING)
    for step in range(p.ops):
        pos = step % p.lifetime
        # consume the message produced `lifetime` steps ago
        old = mut_load(heap, R_OLD, R_RING, <uint32_t>pos)
        if old != NULL:
            if old.nbytes >= 16 + 8 * old.nslots:
                p.checksum += (<uint64_t*>mut_payload(heap, R_OLD))[0]
        # produce a new one in its place
        nslots = dist_sample(&p.slots, &rng)
        mut_alloc(heap, R_MSG, nslots, dist_sample(&p.payload, &rng))
        for k in range(nslots):
            mut_alloc(heap, R_BODY, 0, dist_sample(&p.payload, &rng))
            mut_store(heap, R_MSG, k, R_BODY)
        mut_clear(heap, R_BODY)
        mut_store(heap, R_RING, <uint32_t>pos, R_MSG)
        mut_clear(heap, R_MSG)
        # the consumed message, now out of the ring, dies with its body chunks
        if old != NULL:
            mut_drop(heap, R_OLD, True)

def run(ManagedHeap heap, dict params, uint64_t seed):
    cdef Params p
    p.heap = heap.state
    p.lifetime = params["lifetime"]
    p.ops = params["ops"]
    dist_set(&p.slots, dist_args(params, "slots"))
    dist_set(&p.payload, dist_args(params, "payload"))
    p.seed = seed
    p.checksum = 0
    if p.lifetime > 0xFFFFFFF:
        raise ValueError("lifetime too large for one ring object")
    run_kernel(heap, kernel, &p)
