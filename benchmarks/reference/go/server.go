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
	"flag"
	"os"
	"sync"
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
