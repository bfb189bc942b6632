/* churn.c: gcbench's churn workload (gcbench_core/workloads/churn.pyx) in plain C, draw
 * for draw from the same seed.
 *
 * A ring (one object with live_objects pointer slots, reached from a global) holds the
 * live set.  For `ops` steps a random ring entry is replaced by a new object of uniformly
 * drawn slots [min_slots, max_slots] and payload [min_payload, max_payload] bytes; with
 * probability mutate_fraction a pointer slot of a random member is rewritten to another
 * member.  On malloc the replaced member is freed at once, which is only correct when no
 * slot is ever rewritten: mutate_fraction must then be 0 (exit 2 otherwise), as gcbench's
 * malloc collector refuses the same run.
 * Arguments (name=value): live_objects, ops, mutate_fraction, min_payload, max_payload,
 * min_slots, max_slots, seed.
 */
#include "common.h"

static uint64_t* volatile ring_global;

int main(int argc, char** argv) {
    int64_t n = ref_arg(argc, argv, "live_objects", 100000);
    int64_t ops = ref_arg(argc, argv, "ops", 2000000);
    double mutate_fraction = ref_arg_f(argc, argv, "mutate_fraction", 0.1);
    uint32_t min_payload = (uint32_t)ref_arg(argc, argv, "min_payload", 8);
    uint32_t max_payload = (uint32_t)ref_arg(argc, argv, "max_payload", 56);
    uint32_t min_slots = (uint32_t)ref_arg(argc, argv, "min_slots", 0);
    uint32_t max_slots = (uint32_t)ref_arg(argc, argv, "max_slots", 2);
    uint64_t seed = (uint64_t)ref_arg(argc, argv, "seed", 1);
    uint64_t **members, *fresh, *a, *b;
    uint32_t slots, payload;
    int64_t i, step;
    Rng rng;

#ifdef USE_MALLOC
    if (mutate_fraction > 0) {
        fprintf(stderr, "churn.c: on malloc, mutate_fraction must be 0 (members would be shared)\n");
        return 2;
    }
#endif
    ref_start(argc, argv);
    rng_seed(&rng, seed);
    ring_global = ref_alloc((uint32_t)n, 0);
    members = REF_SLOTS(ring_global);
    for (i = 0; i < n; i++) {
        slots = rng_uniform(&rng, min_slots, max_slots);
        payload = rng_uniform(&rng, min_payload, max_payload);
        members[i] = ref_alloc(slots, payload);
    }
    for (step = 0; step < ops; step++) {
        slots = rng_uniform(&rng, min_slots, max_slots);
        payload = rng_uniform(&rng, min_payload, max_payload);
        fresh = ref_alloc(slots, payload);
        i = (int64_t)rng_below(&rng, (uint64_t)n);
        ref_free(members[i]);
        members[i] = fresh;
        if (mutate_fraction > 0 && rng_double(&rng) < mutate_fraction) {
            a = members[rng_below(&rng, (uint64_t)n)];
            if (REF_NSLOTS(a) > 0) {
                b = members[rng_below(&rng, (uint64_t)n)];
                REF_SLOTS(a)[rng_below(&rng, REF_NSLOTS(a))] = b;
            }
        }
    }
    ref_finish("churn", "");
    return 0;
}
