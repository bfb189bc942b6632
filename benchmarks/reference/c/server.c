/* server.c: gcbench's server workload (gcbench_core/workloads/server.pyx, back to back,
 * pool=false) in plain C, draw for draw from the same seed.
 *
 * `requests` requests are served by `workers` workers interleaved on one thread: start the
 * next request while a worker is idle, else finish the oldest in flight, so request i
 * runs on worker i % workers.  Start: a buffer of buffer_bytes (header included; pointer
 * free, GC_MALLOC_ATOMIC) filled in full, and a request object with small_objects slots
 * (and 16 payload bytes) each to a small object of small_bytes payload (pointer free).
 * Finish: read the buffer (a byte per cache line) and the small objects into a checksum,
 * store cache_keep random small objects into random entries of the long-lived cache
 * (cache_objects slots, full from the start), drop the rest.
 * On malloc everything is freed when it dies; a small object may sit in several cache
 * entries, so once its payload has been read its first 8 payload bytes count the
 * references to it (the cache entries holding it, and its request until the end) (small_bytes must then be at least 8; exit 2 otherwise).
 * Arguments (name=value): requests, workers, buffer_bytes, small_objects, small_bytes,
 * cache_objects, cache_keep, seed.
 */
#include "common.h"

static uint64_t* volatile cache_global;

#ifdef USE_MALLOC
static inline int64_t* cache_refs(uint64_t* small) { return (int64_t*)REF_PAYLOAD(small); }
#endif

int main(int argc, char** argv) {
    int64_t requests = ref_arg(argc, argv, "requests", 200000);
    int workers = (int)ref_arg(argc, argv, "workers", 4);
    uint32_t buffer_payload = (uint32_t)ref_arg(argc, argv, "buffer_bytes", 4096) - 8;
    uint32_t small_objects = (uint32_t)ref_arg(argc, argv, "small_objects", 8);
    uint32_t small_bytes = (uint32_t)ref_arg(argc, argv, "small_bytes", 32);
    int64_t cache_objects = ref_arg(argc, argv, "cache_objects", 10000);
    uint32_t cache_keep = (uint32_t)ref_arg(argc, argv, "cache_keep", 2);
    uint64_t seed = (uint64_t)ref_arg(argc, argv, "seed", 1);
    uint64_t *buffer[64], *request[64], **cache, *small, *old;
    int64_t flight_request[64], next = 0, index, i;
    int flight_worker[64], flight_head = 0, flight_count = 0;
    int idle_worker[64], idle_head = 0, idle_count = workers, w;
    uint64_t checksum = 0, sum;
    uint32_t k, j;
    unsigned char* data;
    char extra[64];
    Rng rng;

    if (workers < 1 || workers > 64 || cache_keep > small_objects) {
        fprintf(stderr, "server.c: workers must be in [1, 64] and cache_keep <= small_objects\n");
        return 2;
    }
#ifdef USE_MALLOC
    if (cache_keep > 0 && small_bytes < 8) {
        fprintf(stderr, "server.c: on malloc, small_bytes must be at least 8 (cache reference count)\n");
        return 2;
    }
#endif
    for (w = 0; w < workers; w++)
        idle_worker[w] = w;
    ref_start(argc, argv);
    rng_seed(&rng, seed);
    cache_global = ref_alloc((uint32_t)cache_objects, 0);
    cache = REF_SLOTS(cache_global);
    for (i = 0; i < cache_objects; i++) {
        cache[i] = ref_alloc(0, small_bytes);
#ifdef USE_MALLOC
        *cache_refs(cache[i]) = 1;
#endif
    }
    while (next < requests || flight_count > 0) {
        if (next < requests && idle_count > 0) {
            /* start request `next` on the next idle worker */
            w = idle_worker[idle_head];
            idle_head = (idle_head + 1) % workers;
            idle_count--;
            buffer[w] = ref_alloc(0, buffer_payload);
            memset(REF_PAYLOAD(buffer[w]), (int)(next & 0xFF), buffer_payload);
            request[w] = ref_alloc(small_objects, 16);
            ((int64_t*)REF_PAYLOAD(request[w]))[0] = next;
            for (k = 0; k < small_objects; k++) {
                small = ref_alloc(0, small_bytes);
                memset(REF_PAYLOAD(small), (int)((next + k) & 0xFF), small_bytes);
                REF_SLOTS(request[w])[k] = small;
            }
            flight_request[(flight_head + flight_count) % workers] = next;
            flight_worker[(flight_head + flight_count) % workers] = w;
            flight_count++;
            next++;
            continue;
        }
        /* finish the oldest request in flight */
        w = flight_worker[flight_head];
        index = flight_request[flight_head];
        (void)index;
        flight_head = (flight_head + 1) % workers;
        flight_count--;
        sum = 0;
        data = (unsigned char*)REF_PAYLOAD(buffer[w]);
        for (j = 0; j < buffer_payload; j += 64)
            sum += data[j];
        for (k = 0; k < small_objects; k++) {
            data = (unsigned char*)REF_PAYLOAD(REF_SLOTS(request[w])[k]);
            for (j = 0; j < small_bytes; j++)
                sum += data[j];
#ifdef USE_MALLOC
            *cache_refs(REF_SLOTS(request[w])[k]) = 1;     /* the request's own reference */
#endif
        }
        ((uint64_t*)REF_PAYLOAD(request[w]))[1] = sum;
        checksum += sum;
        for (k = 0; k < cache_keep; k++) {
            small = REF_SLOTS(request[w])[rng_below(&rng, small_objects)];
            i = (int64_t)rng_below(&rng, (uint64_t)cache_objects);
            old = cache[i];
            cache[i] = small;
#ifdef USE_MALLOC
            *cache_refs(small) += 1;
            if (--*cache_refs(old) == 0)
                ref_free(old);
#else
            (void)old;
#endif
        }
#ifdef USE_MALLOC
        for (k = 0; k < small_objects; k++)
            if (--*cache_refs(REF_SLOTS(request[w])[k]) == 0)
                ref_free(REF_SLOTS(request[w])[k]);
#endif
        ref_free(request[w]);
        ref_free(buffer[w]);
        request[w] = buffer[w] = NULL;
        idle_worker[(idle_head + idle_count) % workers] = w;
        idle_count++;
    }
    snprintf(extra, sizeof extra, "\"checksum\": %llu", (unsigned long long)checksum);
    ref_finish("server", extra);
    return 0;
}
