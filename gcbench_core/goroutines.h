/* goroutines.h: the one atomic the goroutine stacks room needs beyond gcb_util.h: a
 * compare-and-swap on a goroutine's status word (Go's casgstatus), sequentially consistent. */
#ifndef GCBENCH_GOROUTINES_H
#define GCBENCH_GOROUTINES_H
static inline int gcb_cas_status(int *p, int expected, int desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
static inline int gcb_load_status(const int *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void gcb_store_status(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline unsigned gcb_load_gen(const unsigned *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void gcb_store_gen(unsigned *p, unsigned v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
#endif
