// server.go: gcbench's server workload (gcbench_core/workloads/server.pyx, back to back)
// in Go, draw for draw from the same seed, for the real Go collector to be compared with
// gcbench's tricolor (benchmarks/fidelity.py).
//
// `requests` requests are served by `workers` workers interleaved on one goroutine: start
// the next request while a worker is idle, else finish the oldest in flight, so request
// i runs on worker i % workers.  Start: a buffer of buffer_bytes (make([]byte, n), as
// gcbench's buffer object is n bytes, header included), filled in full; a request object
// with small_objects slots and 16 payload bytes, each slot to a small object of
// small_bytes payload.  Finish: read the buffer (a byte per cache line) and the small
// objects into a checksum, store cache_keep random small objects into random entries of
// the long-lived cache (cache_objects slots, full from the start).  With -pool the buffer
// comes from a sync.Pool and goes back at the end of the request, as gcbench's pool=true.
// Prints one JSON line of runtime.MemStats figures (and pool gets/misses) on stdout.
package main

import (
	"encoding/json"
	"flag"
	"math/bits"
	"os"
	"reflect"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

var cache *Obj
var bufferPool sync.Pool

func main() {
	requests := flag.Int64("requests", 200000, "requests to serve")
	workers := flag.Int("workers", 4, "workers serving requests interleaved")
	bufferBytes := flag.Int("buffer_bytes", 4096, "bytes of each request's buffer")
	smallObjects := flag.Uint("small_objects", 8, "small objects per request")
	smallBytes := flag.Uint("small_bytes", 32, "payload bytes of each small object")
	cacheObjects := flag.Uint64("cache_objects", 10000, "entries of the long-lived cache")
	cacheKeep := flag.Uint("cache_keep", 2, "small objects kept in the cache per request")
	usePool := flag.Bool("pool", false, "take each request's buffer from a sync.Pool")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()
	if *workers < 1 || *workers > 64 || *cacheKeep > *smallObjects {
		os.Stderr.WriteString("server.go: workers must be in [1, 64] and cache_keep <= small_objects\n")
		os.Exit(2)
	}
	rng := newRng(*seed)
	poolGets, poolMisses := 0, 0
	buffers := make([][]byte, *workers)
	boxes := make([]*[]byte, *workers)
	requestsOf := make([]*Obj, *workers)
	var flightRequest [64]int64
	var flightWorker, idleWorker [64]int
	flightHead, flightCount, idleHead, idleCount := 0, 0, 0, *workers
	for w := 0; w < *workers; w++ {
		idleWorker[w] = w
	}
	var checksum uint64
	objType(uint32(*smallObjects), 16)
	objType(0, uint32(*smallBytes))
	objType(uint32(*cacheObjects), 0)
	start := startRun()
	cache = alloc(uint32(*cacheObjects), 0)
	for i := range cache.slots() {
		cache.slots()[i] = alloc(0, uint32(*smallBytes))
	}
	next := int64(0)
	for next < *requests || flightCount > 0 {
		if next < *requests && idleCount > 0 {
			w := idleWorker[idleHead]
			idleHead = (idleHead + 1) % *workers
			idleCount--
			// with the pool, buffers travel as *[]byte (Put of a bare slice would box its
			// header on every call); the box is allocated once per new buffer
			var buf []byte
			if *usePool {
				poolGets++
				if got := bufferPool.Get(); got != nil {
					boxes[w] = got.(*[]byte)
					buf = *boxes[w]
				} else {
					poolMisses++
				}
			}
			if buf == nil {
				buf = make([]byte, *bufferBytes)
			}
			payload := buf[8:]
			for i := range payload {
				payload[i] = byte(next)
			}
			buffers[w] = buf
			request := alloc(uint32(*smallObjects), 16)
			*(*int64)(unsafe.Pointer(&request.payload()[0])) = next
			for k := range request.slots() {
				small := alloc(0, uint32(*smallBytes))
				data := small.payload()
				for i := range data {
					data[i] = byte(next + int64(k))
				}
				request.slots()[k] = small
			}
			requestsOf[w] = request
			flightRequest[(flightHead+flightCount)%*workers] = next
			flightWorker[(flightHead+flightCount)%*workers] = w
			flightCount++
			next++
			continue
		}
		w := flightWorker[flightHead]
		flightHead = (flightHead + 1) % *workers
		flightCount--
		var sum uint64
		payload := buffers[w][8:]
		for i := 0; i < len(payload); i += 64 {
			sum += uint64(payload[i])
		}
		request := requestsOf[w]
		for _, small := range request.slots() {
			for _, c := range small.payload() {
				sum += uint64(c)
			}
		}
		*(*uint64)(unsafe.Pointer(&request.payload()[8])) = sum
		checksum += sum
		for k := uint(0); k < *cacheKeep; k++ {
			small := request.slots()[rng.below(uint64(*smallObjects))]
			cache.slots()[rng.below(*cacheObjects)] = small
		}
		requestsOf[w] = nil
		if *usePool {
			if boxes[w] == nil {
				boxes[w] = new([]byte)
			}
			*boxes[w] = buffers[w]
			bufferPool.Put(boxes[w])
			boxes[w] = nil
		}
		buffers[w] = nil
		idleWorker[(idleHead+idleCount)%*workers] = w
		idleCount++
	}
	report("server", start, map[string]interface{}{
		"pool": *usePool, "pool_gets": poolGets, "pool_misses": poolMisses, "checksum": checksum})
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
