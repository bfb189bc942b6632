// churn.go: gcbench's churn workload (gcbench_core/workloads/churn.pyx) in Go, draw for
// draw from the same seed, for the real Go collector to be compared with gcbench's
// tricolor (benchmarks/fidelity.py).
//
// A ring (one object with live_objects pointer slots, in a global) holds the live set.
// For `ops` steps a random ring entry is replaced by a new object of uniformly drawn
// slots [min_slots, max_slots] and payload [min_payload, max_payload] bytes; with
// probability mutate_fraction a pointer slot of a random member is rewritten to point to
// another member.  Prints one JSON line of runtime.MemStats figures on stdout.
package main

import (
	"flag"
)

var ring *Obj

func main() {
	liveObjects := flag.Int64("live_objects", 100000, "objects in the live ring")
	ops := flag.Int64("ops", 2000000, "replacement steps")
	mutateFraction := flag.Float64("mutate_fraction", 0.1, "probability of a pointer rewrite per step")
	minPayload := flag.Uint("min_payload", 8, "smallest payload")
	maxPayload := flag.Uint("max_payload", 56, "largest payload")
	minSlots := flag.Uint("min_slots", 0, "fewest pointer slots")
	maxSlots := flag.Uint("max_slots", 2, "most pointer slots")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()
	n := uint64(*liveObjects)
	rng := newRng(*seed)
	member := func() *Obj {
		slots := rng.uniform(uint32(*minSlots), uint32(*maxSlots))
		return alloc(slots, rng.uniform(uint32(*minPayload), uint32(*maxPayload)))
	}
	makeTypes(uint32(*minSlots), uint32(*maxSlots), uint32(*minPayload), uint32(*maxPayload))
	objType(uint32(n), 0)
	start := startRun()
	ring = alloc(uint32(n), 0)
	members := ring.slots()
	for i := range members {
		members[i] = member()
	}
	for step := int64(0); step < *ops; step++ {
		fresh := member()
		members[rng.below(n)] = fresh
		if *mutateFraction > 0 && rng.double() < *mutateFraction {
			a := members[rng.below(n)]
			if a.nslots() > 0 {
				b := members[rng.below(n)]
				a.slots()[rng.below(uint64(a.nslots()))] = b
			}
		}
	}
	report("churn", start, nil)
}
