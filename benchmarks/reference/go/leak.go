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
	"encoding/json"
	"flag"
	"math/bits"
	"os"
	"reflect"
	"runtime"
	"time"
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

// ---- gcbench objects (the same block in churn.go, leak.go and server.go) ----
// An object is laid out as a gcbench object is (gcbench_core/heap.pxd): a header word
// (slot count | bytes << 32), nslots pointers, then the payload, in one allocation of a
// struct type made with reflect.StructOf per (slots, payload words), so the collector
// sees exactly its pointer words (a pointer-free one is noscan, as Go's []byte is).  The
// payload is rounded up to whole words, which never changes the size class (Go's and
// gcbench's classes are multiples of 8).  The types are made before the run (makeTypes)
// and report() subtracts what was allocated before the run started.

type Obj struct{ header uint64 }

var objTypes = map[uint64]reflect.Type{}
var pointerType = reflect.TypeOf((*Obj)(nil))

func objType(nslots, payload uint32) reflect.Type {
	words := (payload + 7) / 8
	key := uint64(nslots) | uint64(words)<<32
	if t, ok := objTypes[key]; ok {
		return t
	}
	fields := []reflect.StructField{{Name: "H", Type: reflect.TypeOf(uint64(0))}}
	if nslots > 0 {
		fields = append(fields, reflect.StructField{Name: "S", Type: reflect.ArrayOf(int(nslots), pointerType)})
	}
	if words > 0 {
		fields = append(fields, reflect.StructField{Name: "P", Type: reflect.ArrayOf(int(words), reflect.TypeOf(uint64(0)))})
	}
	t := reflect.StructOf(fields)
	objTypes[key] = t
	return t
}

// makeTypes makes every type of slots in [s0, s1] and payload in [p0, p1] before the run.
func makeTypes(s0, s1, p0, p1 uint32) {
	for s := s0; s <= s1; s++ {
		for p := p0; p <= p1; p += 8 {
			objType(s, p)
		}
		objType(s, p1)
	}
}

func alloc(nslots, payload uint32) *Obj {
	o := (*Obj)(reflect.New(objType(nslots, payload)).UnsafePointer())
	o.header = uint64(nslots) | uint64(8+8*nslots+payload)<<32
	return o
}

func (o *Obj) nslots() uint32 { return uint32(o.header) }
func (o *Obj) nbytes() uint32 { return uint32(o.header >> 32) }
func (o *Obj) slots() []*Obj {
	return unsafe.Slice((**Obj)(unsafe.Add(unsafe.Pointer(o), 8)), o.nslots())
}
func (o *Obj) payload() []byte {
	n := o.nslots()
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(o), 8+8*uintptr(n))), o.nbytes()-8-8*n)
}

// ---- xoshiro256** seeded through splitmix64: gcbench_core/rng.pxd, draw for draw ----

type Rng struct{ s0, s1, s2, s3 uint64 }

func splitmix64(x *uint64) uint64 {
	*x += 0x9E3779B97F4A7C15
	z := *x
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func newRng(seed uint64) *Rng {
	x := seed
	return &Rng{splitmix64(&x), splitmix64(&x), splitmix64(&x), splitmix64(&x)}
}

func (r *Rng) next() uint64 {
	result := bits.RotateLeft64(r.s1*5, 7) * 9
	t := r.s1 << 17
	r.s2 ^= r.s0
	r.s3 ^= r.s1
	r.s1 ^= r.s2
	r.s0 ^= r.s3
	r.s2 ^= t
	r.s3 = bits.RotateLeft64(r.s3, 45)
	return result
}

func (r *Rng) below(n uint64) uint64 { hi, _ := bits.Mul64(r.next(), n); return hi }
func (r *Rng) double() float64       { return float64(r.next()>>11) * (1.0 / 9007199254740992.0) }

// uniform: dist.pxd's `uniform` kind, the default of every drawn quantity used here.
func (r *Rng) uniform(lo, hi uint32) uint32 { return lo + uint32(r.below(uint64(hi-lo)+1)) }

// beforeRun holds runtime.MemStats as the run starts (after the types were made).
var beforeRun runtime.MemStats

func startRun() time.Time {
	runtime.ReadMemStats(&beforeRun)
	return time.Now()
}

// report prints the run's runtime.MemStats figures as one JSON line: counters from the
// start of the run (num_gc_before_run: cycles before it, to skip in the gctrace lines).
func report(shape string, start time.Time, extra map[string]interface{}) {
	wall := time.Since(start).Seconds()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out := map[string]interface{}{
		"shape": shape, "runtime": "go", "go_version": runtime.Version(), "wall_s": wall,
		"num_gc": ms.NumGC - beforeRun.NumGC, "num_gc_before_run": beforeRun.NumGC,
		"total_alloc_bytes": ms.TotalAlloc - beforeRun.TotalAlloc, "mallocs": ms.Mallocs - beforeRun.Mallocs,
		"pause_total_ns": ms.PauseTotalNs, "gc_cpu_fraction": ms.GCCPUFraction,
		"heap_sys_bytes": ms.HeapSys, "next_gc_bytes": ms.NextGC, "gomaxprocs": runtime.GOMAXPROCS(0),
	}
	for k, v := range extra {
		out[k] = v
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
