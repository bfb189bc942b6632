# cython: language_level=3
#
# dist.pxd: named, seeded distributions of object sizes and pointer-slot counts, shared
# by every workload (inline, nogil).  A Dist draws integers in [lo, hi]:
#
#   fixed    always (lo + hi) // 2: the same mean as `uniform`, with no variance;
#   uniform  lo + rng_below(hi - lo + 1): one draw, exactly what churn has always done;
#   pareto   a bounded Pareto (Pareto type I truncated to [lo + 1, hi + 1], minus 1) with
#            shape DIST_PARETO_ALPHA = 1.16, the "80/20" exponent: most draws are near lo,
#            a few are near hi, as object sizes in real heaps are.  Inverse-CDF sampling,
#            one uniform draw:  x = L * (1 - u * (1 - (L/H)^a))^(-1/a).
#
# The Python side (gcbench_core/distspec.py) names the kinds and builds the parameters.

from libc.stdint cimport uint32_t, uint64_t
from libc.math cimport pow, floor
from gcbench_core.rng cimport Rng, rng_below, rng_double

cdef enum:
    DIST_FIXED = 0
    DIST_UNIFORM = 1
    DIST_PARETO = 2

ctypedef struct Dist:
    int kind
    uint32_t lo
    uint32_t hi
    double pareto_ratio              # 1 - (L/H)^alpha, precomputed by dist_init
    double pareto_inv_alpha          # -1/alpha

cdef inline void dist_init(Dist* d, int kind, uint32_t lo, uint32_t hi) noexcept nogil:
    cdef double alpha = 1.16          # DIST_PARETO_ALPHA (see the top of this file)
    d.kind = kind
    d.lo = lo
    d.hi = hi
    d.pareto_inv_alpha = -1.0 / alpha
    d.pareto_ratio = 1.0 - pow((lo + 1.0) / (hi + 1.0), alpha)

cdef inline uint32_t dist_sample(Dist* d, Rng* rng) noexcept nogil:
    cdef double x
    if d.kind == DIST_UNIFORM:
        return d.lo + <uint32_t>rng_below(rng, <uint64_t>(d.hi - d.lo) + 1)
    if d.kind == DIST_FIXED:
        return d.lo + (d.hi - d.lo) // 2
    # bounded Pareto on [lo + 1, hi + 1], shifted down by one so that lo may be 0
    x = (d.lo + 1.0) * pow(1.0 - rng_double(rng) * d.pareto_ratio, d.pareto_inv_alpha)
    x = floor(x) - 1.0
    if x < d.lo:
        return d.lo
    if x > d.hi:
        return d.hi
    return <uint32_t>x

# With the GIL, from distspec.dist_args(params, what): (kind, lo, hi).
cdef inline int dist_set(Dist* d, tuple args) except -1:
    kind, lo, hi = args
    dist_init(d, kind, lo, hi)
    return 0
