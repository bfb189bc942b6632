/* gcb_util.h: the few things Cython cannot spell directly.
 *
 * Only primitives live here (clock, bit operations, atomics, prefetch, signal
 * flag); every algorithm is written in Cython.  Each function is static inline so
 * that it compiles to the single instruction it stands for (the build passes
 * -march=native or -mpopcnt -mbmi so popcount/ctz are not library calls).
 */
#ifndef GCB_UTIL_H
#define GCB_UTIL_H
#include <stdint.h>
#include <time.h>
#include <string.h>
#include <signal.h>
#include <setjmp.h>

/* Debug builds (GCBENCH_DEBUG=1 pip install ., which defines GCBENCH_DEBUG): internal
 * assertions and poisoning of freed objects.  Code tests `if GCB_DEBUG:` in Cython; in a
 * release build the constant is 0 and the compiler removes those blocks entirely. */
#ifdef GCBENCH_DEBUG
#define GCB_DEBUG 1
#else
#define GCB_DEBUG 0
#endif
/* Every byte of a freed object in a debug build.  A header of two such words
 * (nslots = nbytes = 0xDBDBDBDB) is impossible for a live object, whose nbytes is at
 * least 8 + 8 * nslots. */
#define GCB_POISON_BYTE 0xDB
#define GCB_POISON_WORD32 0xDBDBDBDBu

#define GCB_COMPILER_BARRIER() __asm__ __volatile__("" ::: "memory")

/* Monotonic clock in ns; the compiler barriers keep timed work from being moved
 * across the timestamp. */
static inline int64_t gcb_now_ns(void) {
    struct timespec ts;
    GCB_COMPILER_BARRIER();
    clock_gettime(CLOCK_MONOTONIC, &ts);
    GCB_COMPILER_BARRIER();
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CPU time of the calling thread in ns. */
static inline int64_t gcb_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int gcb_ctz64(uint64_t x) { return x ? __builtin_ctzll(x) : 64; }
static inline int gcb_popcount64(uint64_t x) { return __builtin_popcountll(x); }
static inline int gcb_likely(int x) { return __builtin_expect(!!x, 1); }
static inline int gcb_unlikely(int x) { return __builtin_expect(!!x, 0); }
static inline void gcb_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void gcb_prefetch_w(const void *p) { __builtin_prefetch(p, 1, 3); }

/* Atomics.  Mark bits and grey queues are the only memory that the mutator and
 * the background mark worker both write, so they are the only places that need
 * read-modify-write atomics; pointer slots need only single-copy atomic loads
 * and stores (acquire/release so that a published object is seen initialised). */
static inline uint64_t gcb_load_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline uint64_t gcb_fetch_or_u64(uint64_t *p, uint64_t v) { return __atomic_fetch_or(p, v, __ATOMIC_ACQ_REL); }
static inline void *gcb_load_ptr(void *const *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void gcb_store_ptr(void **p, void *v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline int gcb_load_int(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void gcb_store_int(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline int64_t gcb_load_i64(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void gcb_store_i64(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline int64_t gcb_fetch_add_i64(int64_t *p, int64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL); }
/* Sequentially consistent store and load, for the stop-the-world handshake: the
 * requester stores the stop flag and then each thread's poll point; a thread stores
 * its poll point and then loads the flag, so one of the two always sees the other's
 * store.  The relaxed load is the safepoint fast path's (a plain mov on x86). */
static inline void gcb_store_int_sc(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline int gcb_load_int_sc(const int *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void gcb_store_i64_sc(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline int64_t gcb_load_i64_relaxed(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline int gcb_cas_int(int *p, int expected, int v) {
    return __atomic_compare_exchange_n(p, &expected, v, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static inline void gcb_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    GCB_COMPILER_BARRIER();
#endif
}

/* Ctrl-C (or SIGTERM) during a native run: a C handler that only raises a flag; the mutator
 * polls it at its safepoints and unwinds.  (Python's own handler cannot run
 * while the GIL is released.)  The flag is `static`: every extension module that
 * includes this header has its own copy, and only heap.pyx's is ever set.  Other
 * modules must not call gcb_sigint_pending(); they call heap_check_interrupt()
 * (heap.pxd), e.g. in a loop that runs long without mutator operations. */
static volatile sig_atomic_t gcb_sigint_flag = 0;
static struct sigaction gcb_old_sigint, gcb_old_sigterm;
static inline void gcb_on_sigint(int sig) { (void)sig; gcb_sigint_flag = 1; }
/* SIGTERM (kill, a batch system, a supervisor) stops a run as Ctrl-C does: the run unwinds
 * and the command removes what it had not finished writing. */
static inline void gcb_install_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = gcb_on_sigint;
    sigemptyset(&sa.sa_mask);
    gcb_sigint_flag = 0;
    sigaction(SIGINT, &sa, &gcb_old_sigint);
    sigaction(SIGTERM, &sa, &gcb_old_sigterm);
}
static inline void gcb_restore_sigint(void) {
    sigaction(SIGINT, &gcb_old_sigint, NULL);
    sigaction(SIGTERM, &gcb_old_sigterm, NULL);
}
static inline int gcb_sigint_pending(void) { return gcb_sigint_flag != 0; }

/* Failure unwinding: a run's entry point calls the workload through
 * gcb_call_protected; heap_fail() records the error and gcb_throw()s back to it.
 * Only nogil C frames (no Python references, no held locks) lie in between. */
typedef struct { jmp_buf buf; } gcb_escape;
typedef void (*gcb_fn)(void *);
static inline int gcb_call_protected(gcb_escape *env, gcb_fn fn, void *arg) {
    if (setjmp(env->buf) == 0) {
        fn(arg);
        return 0;
    }
    return 1;
}
static inline void gcb_throw(gcb_escape *env) { longjmp(env->buf, 1); }

/* The mutator thread running on this OS thread (NULL: the run's own thread, mutator 0).
 * `static`, so per extension module: only heap.pyx sets and reads it (heap_fail unwinds
 * a mutator thread to its own entry point, never to another thread's). */
static __thread void *gcb_tls_mutator = NULL;
static inline void *gcb_current_mutator(void) { return gcb_tls_mutator; }
static inline void gcb_set_current_mutator(void *m) { gcb_tls_mutator = m; }

#endif
