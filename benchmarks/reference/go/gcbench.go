// gcbench.go: GCBench (Ellis, Kovac, Boehm) in Go, the shape of gcbench's binary-trees
// workload (gcbench_core/workloads/binary_trees.pyx) at its defaults, for the real Go
// collector to be compared with gcbench's tricolor (benchmarks/fidelity.py).
//
// A stretch tree of depth max_depth + 2 is built bottom-up and dropped; a long-lived tree
// (top-down, long_lived_depth) and an array of array_len float64 stay alive in globals;
// then for each depth d from min_depth to max_depth in steps of 2, 2 * TreeSize(stretch) /
// TreeSize(d) trees are built top-down and as many bottom-up.  A node is 32 bytes as a
// gcbench node is (header word, two pointers, 8 payload bytes); the array is one
// pointer-free object of 8 + 8 * array_len bytes.  Run with GODEBUG=gctrace=1 for the
// per-cycle lines; prints one JSON line of runtime.MemStats figures on stdout.
package main

import (
	"flag"
	"runtime"
)

type Node struct {
	header      uint64
	left, right *Node
	payload     int64
}

func newNode(depth int) *Node { return &Node{header: 2 | 32<<32, payload: int64(depth)} }

func populate(depth int, node *Node) {
	if depth <= 0 {
		return
	}
	depth--
	node.left = newNode(depth)
	node.right = newNode(depth)
	populate(depth, node.left)
	populate(depth, node.right)
}

func makeTree(depth int) *Node {
	if depth <= 0 {
		return newNode(0)
	}
	left := makeTree(depth - 1)
	right := makeTree(depth - 1)
	node := newNode(depth)
	node.left, node.right = left, right
	return node
}

func treeSize(depth int) int64 { return int64(1)<<(depth+1) - 1 }

var longLivedTree *Node
var longLivedArray []float64
var sink *Node

func main() {
	longLivedDepth := flag.Int("long_lived_depth", 16, "depth of the long-lived tree")
	arrayLen := flag.Int("array_len", 500000, "float64s in the long-lived array")
	minDepth := flag.Int("min_depth", 4, "smallest short-lived trees")
	maxDepth := flag.Int("max_depth", 16, "largest short-lived trees")
	flag.Uint64("seed", 1, "unused: GCBench is deterministic (accepted as every reference takes it)")
	flag.Parse()
	stretch := *maxDepth + 2
	start := startRun()
	sink = makeTree(stretch)
	sink = nil
	longLivedTree = newNode(0)
	populate(*longLivedDepth, longLivedTree)
	longLivedArray = make([]float64, *arrayLen+1) // element 0: the gcbench header word
	for i := 0; i < *arrayLen/2; i++ {
		longLivedArray[i+1] = 1.0 / float64(i+1)
	}
	for depth := *minDepth; depth <= *maxDepth; depth += 2 {
		iters := 2 * treeSize(stretch) / treeSize(depth)
		for i := int64(0); i < iters; i++ {
			sink = newNode(0)
			populate(depth, sink)
			sink = nil
		}
		for i := int64(0); i < iters; i++ {
			sink = makeTree(depth)
			sink = nil
		}
	}
	report("gcbench", start, nil)
	runtime.KeepAlive(longLivedTree)
	runtime.KeepAlive(longLivedArray)
}
