// leak.go: gcbench's leak workload (gcbench_core/workloads/leak.pyx) in Go, draw for draw
// from the same seed, for the real Go collector to be compared with gcbench's tricolor
// (benchmarks/fidelity.py).
//
// Each request builds a graph: a request object of drawn slots [min_slots, max_slots]
// and payload, each slot holding a child (one slot, drawn payload) chained to the
// previous child; the graph stays in flight in a ring of in_flight entries (a global)
// until replaced.  With probability leak_fraction the request is also pushed on a global
// linked list of leak nodes (two slots: the graph, the previous node) never cleared, so
// the live heap grows.  Prints one JSON line of runtime.MemStats figures on stdout.
package main

import (
	"flag"
	"unsafe"
)

var ring, leaks *Obj

func main() {
	requests := flag.Int64("requests", 500000, "requests served")
	leakFraction := flag.Float64("leak_fraction", 0.01, "probability that a request leaks its graph")
	inFlight := flag.Int64("in_flight", 256, "requests in flight at once")
	minSlots := flag.Uint("min_slots", 2, "fewest children per request")
	maxSlots := flag.Uint("max_slots", 8, "most children per request")
	minPayload := flag.Uint("min_payload", 16, "smallest payload")
	maxPayload := flag.Uint("max_payload", 256, "largest payload")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()
	rng := newRng(*seed)
	leaked := 0
	makeTypes(uint32(*minSlots), uint32(*maxSlots), uint32(*minPayload), uint32(*maxPayload))
	makeTypes(1, 1, uint32(*minPayload), uint32(*maxPayload))
	objType(2, 0)
	objType(uint32(*inFlight), 0)
	start := startRun()
	ring = alloc(uint32(*inFlight), 0)
	for req := int64(0); req < *requests; req++ {
		nslots := rng.uniform(uint32(*minSlots), uint32(*maxSlots))
		request := alloc(nslots, rng.uniform(uint32(*minPayload), uint32(*maxPayload)))
		if request.nbytes() >= 16+8*nslots {
			*(*int64)(unsafe.Pointer(&request.payload()[0])) = req
		}
		var prev *Obj
		for k := uint32(0); k < nslots; k++ {
			child := alloc(1, rng.uniform(uint32(*minPayload), uint32(*maxPayload)))
			if k > 0 {
				child.slots()[0] = prev
			}
			request.slots()[k] = child
			prev = child
		}
		ring.slots()[req%*inFlight] = request
		if rng.double() < *leakFraction {
			leaked++
			node := alloc(2, 0)
			node.slots()[0] = request
			node.slots()[1] = leaks
			leaks = node
		}
	}
	report("leak", start, map[string]interface{}{"leaked_requests": leaked})
}
