# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""server: request-shaped work with a per-request buffer, optionally from a Pool.

`requests` requests are served by `workers` workers that run interleaved on the mutator
thread.  A request has two steps: start (take a request buffer, fill it, build the
request's small objects) and finish (read everything back into a checksum, keep
`cache_keep` of its small objects in a long-lived cache, give back the buffer).  The
loop starts the next request when it has arrived and a worker is idle, and otherwise
finishes the oldest request in flight; so up to `workers` requests are in flight at once,
and a pause that stops one stops all of them, as on one P with several goroutines.

  buffer:   one object of `buffer_bytes` (header included, as Go's make([]byte, n) is
            n bytes), filled in full; with pool=true it comes from a sync.Pool-style
            Pool (gcbench_core/pool.pyx) and goes back at the end of the request;
            otherwise it is allocated per request and dropped.
  request:  one object with `small_objects` pointer slots, each to a small object of
            `small_bytes` payload bytes.
  cache:    a heap array of `cache_objects` slots reached from a global; each request
            overwrites `cache_keep` random entries with its objects (churn: the old
            entries become garbage), so the live set stays near the cache's size.
            A request keeps distinct small objects (a repeated draw takes the next
            one not yet kept), so each small object is in at most one cache entry.

Death is known, so malloc frees: a buffer dies at the end of its request (without a
pool), a request dies with its small objects once the kept ones are moved to the cache
(their request slots nulled), and an overwritten cache entry dies alone (mut_drop).

Latency.  Each request's start and end (monotonic ns) go into preallocated C arrays in
the kernel.  Without `rate`, requests run back to back and a request's latency is
end - start ("simple" latency, as DaCapo reports it); it includes the steps of the other
requests interleaved with it, as a goroutine's includes the time others run on its P.  With `rate` (requests per second),
request i is scheduled at t0 + i * 1e9 / rate; a request that is ahead of its schedule
waits for it (sleeping, then spinning the last stretch), and one that starts late because
a pause delayed it counts the wait: metered latency = end - scheduled start.  With a
rate, wall time (and so throughput figures) include the idle waits for arrivals.
Every random choice comes from the seed and is drawn in request order, so pool=true and
pool=false make the same cache stores.  Without `rate` the whole run is deterministic
(request i runs on worker i % workers) and does not depend on the collector; with `rate`
the interleaving, and so which worker's pool a buffer comes from, follows the clock.

Threads.  `threads=N` (N > 1) serves the requests on N mutator threads (heap.pxd
MutatorThread, started in nogil code as mt-gcbench does; the run's own thread builds the
cache, then waits outside the heap).  Thread t serves requests t, t+N, t+2N, ... with the
workers w = t, t+N, ... (so `workers` >= N; each thread's workers run interleaved on it,
as goroutines on one P), in the same pipeline as above, over its own stack slots.  With
pool=true the pool has one P per thread (the thread's index; stealing happens between
threads); the shared cache is reached from the global and written through the thread's
barrier.  Each thread draws from its own generator (seeded from the seed and its
index), so the cache stores differ from threads=1, and the interleaving of the threads'
stores follows the clock.  No schedule (rate) with threads.  threads=1 is the run above,
figures unchanged.  Collectors that run one mutator thread refuse threads > 1.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t
from libc.string cimport memset
from posix.time cimport nanosleep, timespec
import numpy as np

from libc.stdlib cimport calloc, free
from gcbench_core.heap cimport (HeapState, heap_check_interrupt, ManagedHeap, Object, run_kernel, obj_slots,
                                gcb_now_ns, gcb_cpu_relax, gcb_load_ptr, HEADER_BYTES, MAX_STACK_SLOTS,
                                MutatorThread, mt_run_threads, MAX_MUTATOR_THREADS, MutatorGroup,
                                mt_group_init, mt_group_free, mt_group_figures)
from gcbench_core.mutator cimport (Mutator, RunThread, op_alloc, op_store, op_store_null, op_load,
                                   op_clear, op_drop, op_payload, op_stack, op_get_global, mut_alloc,
                                   mut_store, mut_clear, mut_set_global, mt_clear)
from gcbench_core.rng cimport Rng, rng_seed, rng_below
from gcbench_core.pool cimport (Pool, pool_new, pool_destroy, pool_get, pool_put, pool_get_mt,
                                pool_put_mt, pool_stats)

NAME = "server"
DESCRIPTION = ("requests with a per-request buffer (optionally from a sync.Pool-style pool), "
               "small objects and a long-lived cache; reports request latency percentiles")
PARAMS = (
    {"name": "requests", "type": "int", "default": 200000, "min": 1, "max": 10_000_000,
     "help": "requests to serve"},
    {"name": "workers", "type": "int", "default": 4, "min": 1, "max": 64,
     "help": "workers (Go's Ps) serving requests interleaved; each has a request in flight"},
    {"name": "buffer_bytes", "type": "int", "default": 4096, "min": 16, "max": 1 << 24,
     "help": "size of each request's buffer object in bytes"},
    {"name": "small_objects", "type": "int", "default": 8, "min": 0, "max": 1024,
     "help": "small objects allocated per request"},
    {"name": "small_bytes", "type": "int", "default": 32, "min": 0, "max": 4096,
     "help": "payload bytes of each small object"},
    {"name": "cache_objects", "type": "int", "default": 10000, "min": 1, "max": 50_000_000,
     "help": "entries of the long-lived cache"},
    {"name": "cache_keep", "type": "int", "default": 2, "min": 0, "max": 1024,
     "help": "small objects each request stores into random cache entries (at most small_objects)"},
    {"name": "pool", "type": "bool", "default": False,
     "help": "take each request's buffer from a Pool and give it back at the end"},
    {"name": "rate", "type": "float", "default": 0.0, "min": 0.0, "max": 1e9,
     "help": "requests per second on a fixed schedule (0: back to back, else at least 1); adds metered latency"},
    {"name": "threads", "type": "int", "default": 1, "min": 1, "max": 64,
     "help": "mutator threads serving the requests, the workers spread over them (at most "
             "`workers`; no rate); collectors with multi_mutator support it (1: the run's thread)"},
)

# Most latency values the result keeps raw (evenly spaced in request order), for charts.
LATENCY_SAMPLE_CAP = 10000
POOL_RING_CAPACITY = 64              # per worker; a worker has one buffer out at a time

cdef enum:
    R_CACHE = 0
    R_SMALL = 1
    R_WORKER0 = 2                    # worker w: buffer in R_WORKER0 + 2w, request in + 2w + 1
    R_OLD = 2 + 2 * 64               # an overwritten cache entry (after every worker's slots)
    MAX_KEEP = 1024                  # cache_keep's limit (PARAMS)
    G_CACHE = 0
    REQUEST_PAYLOAD = 16             # a request's own fields (id, checksum)
    SPIN_BELOW_NS = 200000           # wait closer than this by spinning, not sleeping
    WAIT_SLICE_NS = 50000000         # longest sleep between Ctrl-C checks
    BIG_BUFFER = 65536               # buffers at least this large check Ctrl-C per request
    THREAD_SEED_STEP = 0x9E3779B9    # thread t's generator: seed + step * (t + 1)

ctypedef struct Params:
    HeapState* heap
    Pool* pool                       # NULL: allocate every buffer
    int64_t requests
    int workers
    uint32_t buffer_payload
    uint32_t small_objects
    uint32_t small_bytes
    int64_t cache_objects
    uint32_t cache_keep
    double interval_ns               # 0: no schedule
    uint64_t seed
    int64_t* start_ns
    int64_t* end_ns
    int64_t* scheduled_ns            # NULL without a schedule
    uint64_t checksum                # the requests' reads go here, so they are not elided

cdef inline int buf_reg(int w) noexcept nogil:
    return R_WORKER0 + 2 * w

cdef inline int req_reg(int w) noexcept nogil:
    return R_WORKER0 + 2 * w + 1

# The run's clock: monotonic time without the verification time so far (--verify), so
# that request latencies and the schedule leave verification out, as every event does.
cdef inline int64_t run_now(HeapState* heap) noexcept nogil:
    return gcb_now_ns() - heap.verifier.verify_ns

cdef void wait_until(HeapState* heap, int64_t when_ns) noexcept nogil:
    # Sleep in slices of at most WAIT_SLICE_NS and check for Ctrl-C between them: a slow
    # schedule (a low rate) must still stop within a second when interrupted.
    cdef timespec ts
    cdef int64_t left = when_ns - run_now(heap)
    while left > SPIN_BELOW_NS:
        left -= SPIN_BELOW_NS // 2
        if left > WAIT_SLICE_NS:
            left = WAIT_SLICE_NS
        ts.tv_sec = left // 1000000000
        ts.tv_nsec = left % 1000000000
        nanosleep(&ts, NULL)
        heap_check_interrupt(heap)
        left = when_ns - run_now(heap)
    while run_now(heap) < when_ns:
        gcb_cpu_relax()

# The requests' steps are written once over the fused Mutator (mutator.pxd): compiled for
# the run's own thread (threads=1) and for a mutator thread.  Worker w's stack slots hold
# its request; `P` is the pool's P (the worker on the run's thread, the thread's index on
# a thread).

cdef inline void pool_take(Mutator m, Pool* pool, int P, int r) noexcept nogil:
    if Mutator is RunThread:
        pool_get(pool, P, r)
    else:
        pool_get_mt(pool, m, P, r)

cdef inline void pool_give_back(Mutator m, Pool* pool, int P, int r) noexcept nogil:
    if Mutator is RunThread:
        pool_put(pool, P, r)
    else:
        pool_put_mt(pool, m, P, r)

cdef inline void start_request(Mutator m, Params* p, int w, int P, int64_t index) noexcept nogil:
    cdef uint32_t k
    if p.pool != NULL:
        pool_take(m, p.pool, P, buf_reg(w))
    else:
        op_alloc(m, buf_reg(w), 0, p.buffer_payload)
    # read the request into the buffer: every byte is written (up to 16 MiB and only a
    # few mutator operations per request, so check for Ctrl-C here, not only at polls;
    # a thread polls at its operations)
    memset(op_payload(m, buf_reg(w)), <int>(index & 0xFF), p.buffer_payload)
    if Mutator is RunThread:
        if p.buffer_payload >= BIG_BUFFER:
            heap_check_interrupt(m)
    op_alloc(m, req_reg(w), p.small_objects, REQUEST_PAYLOAD)
    (<int64_t*>op_payload(m, req_reg(w)))[0] = index
    for k in range(p.small_objects):
        op_alloc(m, R_SMALL, 0, p.small_bytes)
        if p.small_bytes > 0:
            memset(op_payload(m, R_SMALL), <int>((index + k) & 0xFF), p.small_bytes)
        op_store(m, req_reg(w), k, R_SMALL)
    op_clear(m, R_SMALL)

cdef inline void finish_request(Mutator m, Rng* rng, Params* p, int w, int P,
                                uint64_t* checksum) noexcept nogil:
    cdef uint64_t sum = 0
    cdef uint32_t k, i, j, pick, entry
    cdef uint32_t kept[MAX_KEEP]
    cdef Object* request = op_stack(m, req_reg(w))
    cdef Object* small
    cdef unsigned char* data
    # touch: read the buffer (one byte per cache line) and every small object
    data = <unsigned char*>op_payload(m, buf_reg(w))
    i = 0
    while i < p.buffer_payload:
        sum += data[i]
        i += 64
    for k in range(p.small_objects):
        small = obj_slots(request)[k]
        data = <unsigned char*>(obj_slots(small) + small.nslots)
        for i in range(p.small_bytes):
            sum += data[i]
    (<uint64_t*>op_payload(m, req_reg(w)))[1] = sum
    checksum[0] += sum
    # keep a few in the long-lived cache, replacing what was there
    for k in range(p.cache_keep):
        pick = <uint32_t>rng_below(rng, p.small_objects)
        j = 0
        while j < k:                             # distinct: the next one not yet kept
            if kept[j] == pick:
                pick = (pick + 1) % p.small_objects
                j = 0
            else:
                j += 1
        kept[k] = pick
        entry = <uint32_t>rng_below(rng, p.cache_objects)
        op_load(m, R_SMALL, req_reg(w), pick)
        op_store_null(m, req_reg(w), pick)       # the cache owns it now
        op_load(m, R_OLD, R_CACHE, entry)
        op_store(m, R_CACHE, entry, R_SMALL)
        op_drop(m, R_OLD, False)                 # the entry it replaced is dead
    op_clear(m, R_SMALL)
    op_drop(m, req_reg(w), True)                 # with the small objects it did not keep
    if p.pool != NULL:
        pool_give_back(m, p.pool, P, buf_reg(w))
        op_clear(m, buf_reg(w))
    else:
        op_drop(m, buf_reg(w), False)

# stack[R_CACHE] and global G_CACHE := the long-lived cache, full from the start so that
# the live set is steady.
cdef void build_cache(HeapState* heap, Params* p) noexcept nogil:
    cdef int64_t i
    mut_alloc(heap, R_CACHE, <uint32_t>p.cache_objects, 0)
    mut_set_global(heap, G_CACHE, R_CACHE)
    for i in range(p.cache_objects):
        mut_alloc(heap, R_SMALL, 0, p.small_bytes)
        mut_store(heap, R_CACHE, <uint32_t>i, R_SMALL)
    mut_clear(heap, R_SMALL)

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef Rng rng
    cdef int64_t i, arrival = 0, t0, scheduled, now
    cdef int w
    # requests in flight (oldest first) and idle workers, both FIFO rings of `workers`
    cdef int64_t flight_request[64]
    cdef int flight_worker[64]
    cdef int flight_head = 0, flight_count = 0
    cdef int idle_worker[64]
    cdef int idle_head = 0, idle_count = p.workers
    for w in range(p.workers):
        idle_worker[w] = w
    rng_seed(&rng, p.seed)
    build_cache(heap, p)
    # One step at a time: start the next request when it has arrived and a worker is
    # idle, else finish the oldest request in flight; wait for an arrival only when
    # nothing is in flight.  Back to back (no schedule) this is a pipeline of `workers`
    # requests in which request i runs on worker i % workers.
    t0 = run_now(heap)
    while arrival < p.requests or flight_count > 0:
        if arrival < p.requests and idle_count > 0:
            if p.scheduled_ns != NULL:
                scheduled = t0 + <int64_t>(<double>arrival * p.interval_ns)
                if run_now(heap) < scheduled:
                    if flight_count > 0:
                        finish_oldest(heap, &rng, p, flight_request, flight_worker, &flight_head,
                                      &flight_count, idle_worker, idle_head, &idle_count)
                        continue
                    wait_until(heap, scheduled)
                p.scheduled_ns[arrival] = scheduled
            w = idle_worker[idle_head]
            idle_head = (idle_head + 1) % p.workers
            idle_count -= 1
            p.start_ns[arrival] = run_now(heap)
            start_request(heap, p, w, w, arrival)
            flight_request[(flight_head + flight_count) % p.workers] = arrival
            flight_worker[(flight_head + flight_count) % p.workers] = w
            flight_count += 1
            arrival += 1
        else:
            finish_oldest(heap, &rng, p, flight_request, flight_worker, &flight_head,
                          &flight_count, idle_worker, idle_head, &idle_count)
    mut_clear(heap, R_CACHE)

cdef inline void finish_oldest(HeapState* heap, Rng* rng, Params* p, int64_t* flight_request,
                               int* flight_worker, int* flight_head, int* flight_count,
                               int* idle_worker, int idle_head, int* idle_count) noexcept nogil:
    cdef int w = flight_worker[flight_head[0]]
    cdef int64_t index = flight_request[flight_head[0]]
    flight_head[0] = (flight_head[0] + 1) % p.workers
    flight_count[0] -= 1
    finish_request(heap, rng, p, w, w, &p.checksum)
    p.end_ns[index] = run_now(heap)
    idle_worker[(idle_head + idle_count[0]) % p.workers] = w
    idle_count[0] += 1


# ---------------------------------------------------------------------------
# The same requests on mutator threads (threads > 1): the mt_* operations over each
# thread's own stack slots; the pool's P is the thread's index.

ctypedef struct ThreadServer:
    MutatorThread* m
    Params* p
    int index                        # this thread: requests index, index + nthreads, ...
    int nthreads
    int nworkers                     # this thread's workers (its requests in flight)
    uint64_t checksum

cdef void thread_kernel(void* arg) noexcept nogil:
    cdef ThreadServer* t = <ThreadServer*>arg
    cdef MutatorThread* m = t.m
    cdef Params* p = t.p
    cdef HeapState* heap = p.heap
    cdef Rng rng
    cdef int64_t count, started = 0, finished = 0, index
    rng_seed(&rng, p.seed + <uint64_t>THREAD_SEED_STEP * <uint64_t>(t.index + 1))
    op_get_global(m, R_CACHE, G_CACHE)
    count = (p.requests - t.index + t.nthreads - 1) // t.nthreads
    # the pipeline of the single-threaded kernel: local request j on local worker
    # j % nworkers, at most nworkers in flight, finished oldest first
    while finished < count:
        if started < count and started - finished < t.nworkers:
            index = t.index + started * t.nthreads
            p.start_ns[index] = run_now(heap)
            start_request(m, p, <int>(started % t.nworkers), t.index, index)
            started += 1
        else:
            index = t.index + finished * t.nthreads
            finish_request(m, &rng, p, <int>(finished % t.nworkers), t.index, &t.checksum)
            p.end_ns[index] = run_now(heap)
            finished += 1
    mt_clear(m, R_CACHE)

ctypedef struct ThreadedRun:
    Params* p
    MutatorGroup group

cdef void threaded_kernel(void* arg) noexcept nogil:
    cdef ThreadedRun* run = <ThreadedRun*>arg
    cdef Params* p = run.p
    cdef HeapState* heap = p.heap
    build_cache(heap, p)                 # on the run's own thread, before the threads start
    mut_clear(heap, R_CACHE)             # they reach it through the global
    mt_run_threads(heap, run.group.n, run.group.threads, thread_kernel, run.group.args)

cdef dict run_threads(ManagedHeap heap, Params* p, int nthreads):
    cdef ThreadedRun run
    cdef ThreadServer* servers
    cdef int i
    run.p = p
    mt_group_init(&run.group, nthreads)
    servers = <ThreadServer*>calloc(nthreads, sizeof(ThreadServer))
    try:
        if servers == NULL:
            raise MemoryError()
        for i in range(nthreads):
            servers[i].m = &run.group.threads[i]
            servers[i].p = p
            servers[i].index = i
            servers[i].nthreads = nthreads
            servers[i].nworkers = (p.workers - i + nthreads - 1) // nthreads
            run.group.args[i] = &servers[i]
        run_kernel(heap, threaded_kernel, &run)
        return mt_group_figures(&run.group)
    finally:
        mt_group_free(&run.group)
        free(servers)


def _sample(values):
    """At most LATENCY_SAMPLE_CAP values, evenly spaced in request order; and the stride."""
    stride = max(1, -(-len(values) // LATENCY_SAMPLE_CAP))
    return values[::stride].tolist(), stride


# The slowest schedule: one request a second (a lower rate would put the schedule's
# nanoseconds past int64 and wait years; 0 means back to back).
MIN_RATE = 1.0


def check_params(params):
    """What no single range says (the harness calls it before anything runs; run() again):
    (parameter, message) or None."""
    if 0 < params["rate"] < MIN_RATE:
        return "rate", (f"{params['rate']!r} requests per second is too slow a schedule; "
                        f"0 (back to back) or at least {MIN_RATE:g}")
    if params["cache_keep"] > params["small_objects"]:
        return "cache_keep", (f"{params['cache_keep']} exceeds small_objects ({params['small_objects']}): "
                              "a request keeps some of its own small objects")
    if R_WORKER0 + 2 * params["workers"] > MAX_STACK_SLOTS:
        return "workers", f"too many workers for {MAX_STACK_SLOTS} stack slots"
    threads = params.get("threads", 1)
    if threads > params["workers"]:
        return "threads", f"{threads} threads need at least as many workers (workers={params['workers']})"
    if threads > 1 and params["rate"] > 0:
        return "threads", "a schedule (rate) runs on one thread; use threads=1 with rate"
    return None


def run(ManagedHeap heap, dict params, uint64_t seed):
    cdef Params p
    cdef int64_t[::1] start_view, end_view, sched_view
    if params["pool"] and heap.state.count_stack:
        raise ValueError("the pool moves objects into stack slots outside the mutator's counted "
                         "stores, so a reference-counting collector cannot run it; use pool=false")
    problem = check_params(params)
    if problem is not None:
        raise ValueError(f"{problem[0]}: {problem[1]}")
    n = params["requests"]
    starts = np.zeros(n, dtype=np.int64)
    ends = np.zeros(n, dtype=np.int64)
    start_view = starts
    end_view = ends
    p.heap = heap.state
    p.pool = NULL
    p.requests = n
    p.workers = params["workers"]
    p.buffer_payload = params["buffer_bytes"] - HEADER_BYTES
    p.small_objects = params["small_objects"]
    p.small_bytes = params["small_bytes"]
    p.cache_objects = params["cache_objects"]
    p.cache_keep = params["cache_keep"]
    p.seed = seed
    p.checksum = 0
    p.start_ns = &start_view[0]
    p.end_ns = &end_view[0]
    p.scheduled_ns = NULL
    p.interval_ns = 0
    scheduled = None
    if params["rate"] > 0:
        p.interval_ns = 1e9 / params["rate"]
        scheduled = np.zeros(n, dtype=np.int64)
        sched_view = scheduled
        p.scheduled_ns = &sched_view[0]
    extra = {}
    nthreads = params.get("threads", 1)
    if params["pool"]:
        # one P per worker on the run's thread, one P per thread with threads
        p.pool = pool_new(heap, p.workers if nthreads == 1 else nthreads, POOL_RING_CAPACITY,
                          0, p.buffer_payload)
    try:
        if nthreads > 1:
            extra.update(run_threads(heap, &p, nthreads))
        else:
            run_kernel(heap, kernel, &p)
    finally:
        if p.pool != NULL:
            extra["pool"] = pool_stats(p.pool)
            pool_destroy(p.pool)
            p.pool = NULL
    latencies = ends - starts
    # raw values: the harness turns each distribution into percentiles (its one definition)
    extra["distributions"] = {"request_latency_ns": latencies}
    extra["request_latencies_ns"], extra["request_latency_sample_every"] = _sample(latencies)
    if scheduled is not None:
        metered = ends - scheduled
        extra["distributions"]["metered_latency_ns"] = metered
        extra["metered_latencies_ns"], _ = _sample(metered)
    return extra
