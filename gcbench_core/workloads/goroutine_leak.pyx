# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""goroutine-leak: a server whose request goroutines sometimes block forever (Go's
forgotten goroutines), over the goroutine stacks room (gcbench_core/goroutines.pyx).

Each request starts a goroutine (`go handle(req)`): it allocates its request state (a
request object pointing to `objects - 1` children, `payload` bytes each) and a channel (an
object of one slot) in its stack frame of `stack_slots` slots, and parks waiting for the
reply on the channel.  `in_flight` goroutines wait for a reply at once, and as many for
their response to be written: when a request's place in the ring comes round again, the
goroutine waiting there for its reply is resumed, receives it (an object stored into the
channel), takes its first child out of the request into its stack, moves the request
into a new response object (the stack slot cleared: a pointer that lived only in the
stack now lives only in the heap) and parks again, waiting for the write; one round later
it is resumed and returns: its objects die.  (Those moves are what a collector that scans
a resumed goroutine's stack late, or a parked one's never again, gets wrong: the tests
remove such a scan and the verifier names the freed object.)  A fraction `leak` of the
goroutines leak as Go's do most often: the caller gave up (a timeout), so the send of the
response blocks forever on a channel nobody receives from.  They stay parked, and their
stacks keep the response, the request state, the channel and the reply alive
(`objects` + 3 objects each).  At the end the in-flight goroutines finish, so the
goroutines left are exactly the leaked ones.

What it shows (as a Go user sees it in runtime.NumGoroutine and the heap profile): the
goroutine count, the live heap and the stack-scan work grow together, sampled at
`samples` points (`goroutine_samples`, with runtime/metrics names).  Stop-the-world
collectors scan every parked stack in their pause, so their pauses grow with the leak;
tricolor scans parked stacks concurrently, so only its stack-scan work grows.

Death is known: a finished goroutine drops its request state and channel (mut_drop,
recursive), so malloc frees them; refcount frees them at the drop.  Traces cannot say
park and resume: `gcbench record` refuses this workload.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, free
from gcbench_core.heap cimport HeapState, ManagedHeap, run_kernel, gcb_now_ns, gcb_load_i64
from gcbench_core.mutator cimport (mut_alloc, mut_store, mut_store_null, mut_load, mut_clear, mut_drop,
                                   mut_payload)
from gcbench_core.goroutines cimport goroutines_open, go_start, go_park, go_resume, go_exit
from gcbench_core.rng cimport Rng, rng_seed, rng_double

NAME = "goroutine-leak"
DESCRIPTION = ("requests each run in a goroutine that parks for its reply; a fraction `leak` "
               "block forever and keep their stacks and state: goroutines, live heap and stack scans grow")
PARAMS = (
    {"name": "requests", "type": "int", "default": 100000, "min": 0, "max": 10_000_000,
     "help": "requests served, one goroutine each"},
    {"name": "leak", "type": "float", "default": 0.05, "min": 0.0, "max": 1.0,
     "help": "fraction of goroutines that block forever sending on a channel nobody receives from"},
    {"name": "in_flight", "type": "int", "default": 64, "min": 1, "max": 1_000_000,
     "help": "goroutines waiting for their reply at once (concurrent requests)"},
    {"name": "objects", "type": "int", "default": 4, "min": 1, "max": 1024,
     "help": "objects of request state per goroutine (a request object and its children)"},
    {"name": "payload", "type": "int", "default": 64, "min": 0, "max": 65536,
     "help": "payload bytes of each request-state object"},
    {"name": "stack_slots", "type": "int", "default": 8, "min": 5, "max": 64,
     "help": "root slots of a goroutine's stack (K): what a stack scan reads per goroutine"},
    {"name": "samples", "type": "int", "default": 8, "min": 2, "max": 1000,
     "help": "points at which goroutines, live heap and stack-scan work are sampled"},
)
RESULT_KEYS = ("goroutines", "leaked_goroutines", "goroutine_samples")
RECORD_REFUSAL = ("goroutine-leak parks and resumes goroutines, which the trace format cannot "
                  "express; record another workload")

cdef enum:
    WINDOW = 16                      # the goroutine frame: stack slots [WINDOW, WINDOW + K)
    F_REQ = WINDOW                   # the request object (children in its slots)
    F_CHAN = WINDOW + 1              # the channel: one slot, where the reply lands
    F_TMP = WINDOW + 2               # an object under construction
    F_RESP = WINDOW + 3              # the response (carries the request)
    F_KEEP = WINDOW + 4              # the child the handler took out of the request
    LEAK_STREAM = 0x9E3779B97F4A7C15 # the leak decisions' own random stream (seed ^ this)

# (The leak decisions are drawn in the order goroutines get their replies; every request
# gets one, the last ones after the loop, so there are `requests` draws: count_leaks
# counts them ahead, to size the goroutine stacks room.)

# One sample: what runtime.NumGoroutine, the heap profile and runtime/metrics would show.
ctypedef struct Sample:
    int64_t requests
    int64_t goroutines
    int64_t leaked
    int64_t live_bytes               # marked live by the last cycle (/gc/heap/live)
    int64_t heap_in_use_bytes
    int64_t last_cycle_stack_bytes   # /gc/scan/stack: the last completed cycle's
    int64_t stack_scan_bytes_total
    int64_t stack_scan_pause_bytes_total
    int64_t cycles
    int64_t time_ns

ctypedef struct Params:
    HeapState* heap
    int64_t requests
    double leak
    int64_t in_flight
    uint32_t objects
    uint32_t payload
    uint64_t seed
    int64_t* ring                    # per in-flight place: the goroutine waiting there for its reply, -1: none
    int64_t* writing                 # per in-flight place: the goroutine waiting for its write, -1: none
    int64_t leaked
    Rng leak_rng                     # the leak decisions' own stream (seed ^ LEAK_STREAM)
    int nsamples
    Sample* samples
    int taken

cdef int64_t count_leaks(uint64_t seed, int64_t requests, double leak) noexcept nogil:
    cdef Rng rng
    cdef int64_t n = 0, r
    rng_seed(&rng, seed ^ LEAK_STREAM)
    for r in range(requests):
        if rng_double(&rng) < leak:
            n += 1
    return n

cdef void take_sample(Params* p, int64_t requests) noexcept nogil:
    cdef HeapState* heap = p.heap
    cdef Sample* s = &p.samples[p.taken]
    p.taken += 1
    s.requests = requests
    s.goroutines = heap.goroutines.live
    s.leaked = p.leaked
    s.live_bytes = heap.pacer.last_marked_bytes
    s.heap_in_use_bytes = heap.alloc_bytes - heap.freed_bytes
    s.last_cycle_stack_bytes = 0
    if heap.events.ncycles > 0 and heap.events.open_cycle != heap.events.ncycles - 1:
        s.last_cycle_stack_bytes = heap.events.cycles[heap.events.ncycles - 1].stack_scan_bytes
    elif heap.events.ncycles > 1:
        s.last_cycle_stack_bytes = heap.events.cycles[heap.events.ncycles - 2].stack_scan_bytes
    s.stack_scan_bytes_total = gcb_load_i64(&heap.goroutines.scan_slots) * 8
    s.stack_scan_pause_bytes_total = heap.goroutines.scan_pause_slots * 8
    s.cycles = heap.events.ncycles
    s.time_ns = gcb_now_ns() - heap.run_start_ns

# The goroutine waiting in `place` for its reply gets it, builds its response and parks
# again, waiting for the write.
cdef void reply(Params* p, int64_t place) noexcept nogil:
    cdef HeapState* heap = p.heap
    go_resume(heap, p.ring[place])
    mut_alloc(heap, F_TMP, 0, p.payload)         # the reply ...
    mut_store(heap, F_CHAN, 0, F_TMP)            # ... received on the channel
    mut_clear(heap, F_TMP)
    if p.objects > 1:
        mut_load(heap, F_KEEP, F_REQ, 0)         # the first child, out of the request:
        mut_store_null(heap, F_REQ, 0)           # only the stack holds it now
    mut_alloc(heap, F_RESP, 1, p.payload)        # the response carries the request:
    mut_store(heap, F_RESP, 0, F_REQ)
    mut_clear(heap, F_REQ)                       # only the (new) response holds it now
    go_park(heap)                                # sends the response (waits for the write)
    if rng_double(&p.leak_rng) < p.leak:
        p.leaked += 1                            # nobody will ever receive it
    else:
        p.writing[place] = p.ring[place]
    p.ring[place] = -1

# The goroutine waiting in `place` for its write returns: its objects die.
cdef void finish(Params* p, int64_t place) noexcept nogil:
    cdef HeapState* heap = p.heap
    go_resume(heap, p.writing[place])
    mut_drop(heap, F_RESP, True)                 # the response, the request, its children
    if heap.roots.stack[F_KEEP] != NULL:
        mut_drop(heap, F_KEEP, True)
    mut_drop(heap, F_CHAN, True)                 # the channel and the reply
    go_exit(heap)
    p.writing[place] = -1

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef int64_t r, place, g, next_sample
    cdef uint32_t c
    cdef int k
    rng_seed(&p.leak_rng, p.seed ^ LEAK_STREAM)
    k = 1
    next_sample = p.requests * k // p.nsamples
    for r in range(p.requests):
        place = r % p.in_flight
        if p.writing[place] >= 0:
            finish(p, place)
        if p.ring[place] >= 0:
            reply(p, place)
        # go handle(r): its request state and channel live in its stack frame
        g = go_start(heap)
        mut_alloc(heap, F_REQ, p.objects - 1, p.payload)
        if p.payload >= 8:
            (<int64_t*>mut_payload(heap, F_REQ))[0] = r
        for c in range(p.objects - 1):
            mut_alloc(heap, F_TMP, 0, p.payload)
            mut_store(heap, F_REQ, c, F_TMP)
        mut_clear(heap, F_TMP)
        mut_alloc(heap, F_CHAN, 1, 0)
        go_park(heap)                            # <-ch: waits for its reply
        p.ring[place] = g
        while r + 1 >= next_sample and k <= p.nsamples:
            take_sample(p, r + 1)
            k += 1
            next_sample = p.requests * k // p.nsamples
    for place in range(p.in_flight):             # the last replies and writes
        if p.writing[place] >= 0:
            finish(p, place)
        if p.ring[place] >= 0:
            reply(p, place)
            if p.writing[place] >= 0:
                finish(p, place)
    take_sample(p, p.requests)                   # after the in-flight ones finished


SAMPLE_FIELDS = ("requests", "/sched/goroutines:goroutines", "leaked_goroutines", "/gc/heap/live:bytes",
                 "heap_in_use_bytes", "/gc/scan/stack:bytes", "stack_scan_bytes_total",
                 "stack_scan_pause_bytes_total", "cycles", "time_s")


def run(ManagedHeap heap, dict params, uint64_t seed):
    cdef Params p
    cdef int64_t i, leaks
    cdef int j
    p.heap = heap.state
    p.requests = params["requests"]
    p.leak = params["leak"]
    p.in_flight = params["in_flight"]
    p.objects = params["objects"]
    p.payload = params["payload"]
    p.seed = seed
    p.leaked = 0
    p.nsamples = params["samples"]
    p.taken = 0
    with nogil:
        leaks = count_leaks(seed, p.requests, p.leak)
    # at most every leaked goroutine, every waiting one and the running one at once
    goroutines_open(heap, params["stack_slots"], WINDOW, leaks + 2 * min(p.in_flight, p.requests) + 1)
    p.ring = <int64_t*>malloc(p.in_flight * sizeof(int64_t))
    p.writing = <int64_t*>malloc(p.in_flight * sizeof(int64_t))
    p.samples = <Sample*>malloc((p.nsamples + 1) * sizeof(Sample))
    if p.ring == NULL or p.writing == NULL or p.samples == NULL:
        free(p.ring)
        free(p.writing)
        free(p.samples)
        raise MemoryError()
    for i in range(p.in_flight):
        p.ring[i] = -1
        p.writing[i] = -1
    try:
        run_kernel(heap, kernel, &p)
        samples = []
        for j in range(p.taken):
            s = p.samples[j]
            samples.append(dict(zip(SAMPLE_FIELDS, (
                s.requests, s.goroutines, s.leaked, s.live_bytes, s.heap_in_use_bytes,
                s.last_cycle_stack_bytes, s.stack_scan_bytes_total, s.stack_scan_pause_bytes_total,
                s.cycles, s.time_ns / 1e9))))
    finally:
        free(p.ring)
        free(p.writing)
        free(p.samples)
    return {"goroutines": heap.state.goroutines.live, "leaked_goroutines": p.leaked,
            "goroutine_samples": samples}
