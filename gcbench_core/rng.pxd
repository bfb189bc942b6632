# cython: language_level=3
#
# rng.pxd: xoshiro256** seeded through splitmix64 (Blackman & Vigna).  Workloads draw
# every random choice from one of these, so that a seed fixes the whole operation
# stream whatever the collector does.

from libc.stdint cimport uint64_t, uint32_t

cdef extern from *:
    ctypedef unsigned long long uint128_t "unsigned __int128"

ctypedef struct Rng:
    uint64_t s0, s1, s2, s3

cdef inline uint64_t splitmix64(uint64_t* x) noexcept nogil:
    x[0] += <uint64_t>0x9E3779B97F4A7C15
    cdef uint64_t z = x[0]
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EB
    return z ^ (z >> 31)

cdef inline void rng_seed(Rng* rng, uint64_t seed) noexcept nogil:
    cdef uint64_t x = seed
    rng.s0 = splitmix64(&x)
    rng.s1 = splitmix64(&x)
    rng.s2 = splitmix64(&x)
    rng.s3 = splitmix64(&x)

cdef inline uint64_t rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))

cdef inline uint64_t rng_next(Rng* rng) noexcept nogil:
    cdef uint64_t result = rotl(rng.s1 * 5, 7) * 9
    cdef uint64_t t = rng.s1 << 17
    rng.s2 ^= rng.s0
    rng.s3 ^= rng.s1
    rng.s1 ^= rng.s2
    rng.s0 ^= rng.s3
    rng.s2 ^= t
    rng.s3 = rotl(rng.s3, 45)
    return result

# Uniform in [0, n) (Lemire's multiply-shift; the tiny bias is irrelevant here).
cdef inline uint64_t rng_below(Rng* rng, uint64_t n) noexcept nogil:
    return <uint64_t>((<uint128_t>rng_next(rng) * n) >> 64)

# Uniform in [0, 1).
cdef inline double rng_double(Rng* rng) noexcept nogil:
    return (rng_next(rng) >> 11) * (1.0 / 9007199254740992.0)
