/* common.h: what every C reference program shares (benchmarks/reference/c/).
 *
 * One source per shape, built twice: on libgc (default) and on malloc/free
 * (-DUSE_MALLOC).  An object is laid out as a gcbench object is (gcbench_core/heap.pxd):
 * an 8-byte header, 8 bytes per pointer slot, then the payload, so both sides allocate
 * the same sizes.  On libgc, objects with pointer slots come from GC_MALLOC and
 * pointer-free ones (arrays of scalars, byte buffers) from GC_MALLOC_ATOMIC, as a C
 * programmer writes it; every object is referenced by its start (a payload pointer is
 * only held while its object is reachable), so GC_set_all_interior_pointers(0), which
 * gcbench's boehm sets too: the same libgc configuration on both sides (with libgc's
 * default each object carries an extra byte: a 32-byte node takes 48 bytes).  With
 * malloc every object is freed when the program drops it.
 *
 * Each program prints one JSON line on stdout: wall_s, cpu_s (the process's CPU time over
 * the same interval), collections (GC_get_gc_no; 0 on
 * malloc), heap_size_bytes (libgc's heap at the end; it never shrinks here),
 * peak_in_use_bytes (libgc: the largest heap_size - free_bytes at the end of a
 * collection, what gcbench's boehm records as heap_after; malloc: the largest sum of
 * requested bytes not yet freed), alloc_bytes and alloc_count (requested bytes/objects).
 */
#ifndef REFERENCE_COMMON_H
#define REFERENCE_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef USE_MALLOC
#define REF_RUNTIME "malloc"
#else
#include <gc.h>
#define REF_RUNTIME "libgc"
#endif

typedef struct {
    int64_t alloc_bytes, alloc_count, in_use, peak_in_use, heap_size;
    double start_s, start_cpu_s;
} RefStats;

static RefStats ref_stats;

static double ref_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The process's CPU time (every thread: libgc's marker threads too), which a loaded
 * machine does not inflate as it does the wall time. */
static double ref_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#ifndef USE_MALLOC
/* libgc calls this with its lock held and the world stopped: only the unsynchronised
 * getters may be used here. */
static void ref_on_collection(GC_EventType event) {
    if (event == GC_EVENT_END) {
        int64_t in_use = (int64_t)GC_get_heap_size() - (int64_t)GC_get_free_bytes();
        if (in_use > ref_stats.peak_in_use)
            ref_stats.peak_in_use = in_use;
    }
}
#endif

static void ref_start(int argc, char** argv) {
    (void)argc; (void)argv;
#ifndef USE_MALLOC
    GC_set_all_interior_pointers(0);
    GC_INIT();
    GC_set_on_collection_event(ref_on_collection);
#endif
    ref_stats.start_s = ref_now_s();
    ref_stats.start_cpu_s = ref_cpu_s();
}

/* An object of `nslots` pointer slots (zeroed) and `payload` bytes, with the header set. */
static inline uint64_t* ref_alloc(uint32_t nslots, uint32_t payload) {
    size_t nbytes = 8 + 8 * (size_t)nslots + payload;
    uint64_t* obj;
#ifdef USE_MALLOC
    obj = (uint64_t*)malloc(nbytes);
    if (obj == NULL) { fprintf(stderr, "out of memory\n"); exit(1); }
    memset(obj + 1, 0, 8 * (size_t)nslots);
    ref_stats.in_use += nbytes;
    if (ref_stats.in_use > ref_stats.peak_in_use)
        ref_stats.peak_in_use = ref_stats.in_use;
#else
    obj = (uint64_t*)(nslots ? GC_MALLOC(nbytes) : GC_MALLOC_ATOMIC(nbytes));
    if (obj == NULL) { fprintf(stderr, "out of memory\n"); exit(1); }
#endif
    obj[0] = (uint64_t)nslots | ((uint64_t)nbytes << 32);
    ref_stats.alloc_bytes += nbytes;
    ref_stats.alloc_count += 1;
    return obj;
}

#define REF_NSLOTS(obj) ((uint32_t)((obj)[0] & 0xFFFFFFFFu))
#define REF_NBYTES(obj) ((uint32_t)((obj)[0] >> 32))
#define REF_SLOTS(obj) ((uint64_t**)((obj) + 1))
#define REF_PAYLOAD(obj) ((char*)((obj) + 1 + REF_NSLOTS(obj)))

/* The program drops `obj` (malloc: free it; libgc: the collector finds out). */
static inline void ref_free(uint64_t* obj) {
#ifdef USE_MALLOC
    ref_stats.in_use -= REF_NBYTES(obj);
    free(obj);
#else
    (void)obj;
#endif
}

/* Drop `obj` and everything reachable from it, which it owned alone. */
__attribute__((unused)) static void ref_free_tree(uint64_t* obj) {
#ifdef USE_MALLOC
    uint32_t i, n;
    if (obj == NULL)
        return;
    n = REF_NSLOTS(obj);
    for (i = 0; i < n; i++)
        ref_free_tree(REF_SLOTS(obj)[i]);
    ref_free(obj);
#else
    (void)obj;
#endif
}

static void ref_finish(const char* shape, const char* extra_json) {
    double wall = ref_now_s() - ref_stats.start_s;
    double cpu = ref_cpu_s() - ref_stats.start_cpu_s;
    long collections = 0;
#ifndef USE_MALLOC
    collections = (long)GC_get_gc_no();
    ref_stats.heap_size = (int64_t)GC_get_heap_size();
#endif
    printf("{\"shape\": \"%s\", \"runtime\": \"%s\", \"wall_s\": %.6f, \"cpu_s\": %.6f, \"collections\": %ld, "
           "\"heap_size_bytes\": %lld, \"peak_in_use_bytes\": %lld, \"alloc_bytes\": %lld, "
           "\"alloc_count\": %lld%s%s}\n",
           shape, REF_RUNTIME, wall, cpu, collections, (long long)ref_stats.heap_size,
           (long long)ref_stats.peak_in_use, (long long)ref_stats.alloc_bytes,
           (long long)ref_stats.alloc_count, extra_json[0] ? ", " : "", extra_json);
}

/* xoshiro256** seeded through splitmix64: gcbench_core/rng.pxd, draw for draw. */
typedef struct { uint64_t s0, s1, s2, s3; } Rng;

static inline uint64_t splitmix64(uint64_t* x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline void rng_seed(Rng* r, uint64_t seed) {
    uint64_t x = seed;
    r->s0 = splitmix64(&x); r->s1 = splitmix64(&x); r->s2 = splitmix64(&x); r->s3 = splitmix64(&x);
}
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static inline uint64_t rng_next(Rng* r) {
    uint64_t result = rotl(r->s1 * 5, 7) * 9, t = r->s1 << 17;
    r->s2 ^= r->s0; r->s3 ^= r->s1; r->s1 ^= r->s2; r->s0 ^= r->s3; r->s2 ^= t;
    r->s3 = rotl(r->s3, 45);
    return result;
}
static inline uint64_t rng_below(Rng* r, uint64_t n) {
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}
static inline double rng_double(Rng* r) {
    return (rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
/* dist.pxd's `uniform`, the default of every drawn quantity the references use. */
static inline uint32_t rng_uniform(Rng* r, uint32_t lo, uint32_t hi) {
    return lo + (uint32_t)rng_below(r, (uint64_t)(hi - lo) + 1);
}

/* Arguments: name=value pairs, integers (or floats via ref_arg_f). */
static long long ref_arg(int argc, char** argv, const char* name, long long dflt) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
            return atoll(argv[i] + n + 1);
    return dflt;
}
__attribute__((unused)) static double ref_arg_f(int argc, char** argv, const char* name, double dflt) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
            return atof(argv[i] + n + 1);
    return dflt;
}
#endif
