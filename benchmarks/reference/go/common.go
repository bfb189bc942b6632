// common.go: what every Go reference program shares, built with each of them
// (go build -o OUT common.go SHAPE.go): gcbench's object layout as Go types, gcbench's
// random number generator draw for draw, and the one-line JSON report of runtime.MemStats.
package main

import (
	"encoding/json"
	"math/bits"
	"os"
	"reflect"
	"runtime"
	"time"
	"unsafe"
)

// ---- gcbench objects ----
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
