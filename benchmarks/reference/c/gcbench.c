/* gcbench.c: GCBench (Ellis, Kovac, Boehm) in plain C, the shape of gcbench's
 * binary-trees workload (gcbench_core/workloads/binary_trees.pyx) at its defaults.
 *
 * A stretch tree of depth max_depth + 2 is built bottom-up and dropped; a long-lived tree
 * of long_lived_depth (built top-down) and a long-lived array of array_len doubles stay
 * alive; then for each depth d from min_depth to max_depth in steps of 2, 2 *
 * TreeSize(stretch) / TreeSize(d) trees are built top-down (Populate) and as many
 * bottom-up (MakeTree).  A node is 32 bytes as in gcbench: header, two pointer slots and
 * 8 payload bytes; the array is one pointer-free object (GC_MALLOC_ATOMIC on libgc).
 * Arguments (name=value): long_lived_depth, array_len, min_depth, max_depth.
 */
#include "common.h"

typedef uint64_t Node;            /* header, left, right, payload */

static inline Node* new_node(int depth) {
    Node* n = ref_alloc(2, 8);
    *(int*)REF_PAYLOAD(n) = depth;
    return n;
}

static void populate(int depth, Node* node) {
    if (depth <= 0)
        return;
    depth--;
    REF_SLOTS(node)[0] = new_node(depth);
    REF_SLOTS(node)[1] = new_node(depth);
    populate(depth, REF_SLOTS(node)[0]);
    populate(depth, REF_SLOTS(node)[1]);
}

static Node* make_tree(int depth) {
    Node *left, *right, *node;
    if (depth <= 0)
        return new_node(0);
    left = make_tree(depth - 1);
    right = make_tree(depth - 1);
    node = new_node(depth);
    REF_SLOTS(node)[0] = left;
    REF_SLOTS(node)[1] = right;
    return node;
}

static int64_t tree_size(int depth) { return ((int64_t)1 << (depth + 1)) - 1; }

/* Globals, as gcbench's binary-trees keeps its long-lived data in global slots. */
static Node* volatile long_lived_tree;
static uint64_t* volatile long_lived_array;

int main(int argc, char** argv) {
    int long_lived_depth = (int)ref_arg(argc, argv, "long_lived_depth", 16);
    int64_t array_len = ref_arg(argc, argv, "array_len", 500000);
    int min_depth = (int)ref_arg(argc, argv, "min_depth", 4);
    int max_depth = (int)ref_arg(argc, argv, "max_depth", 16);
    int stretch = max_depth + 2, depth;
    int64_t i, iters;
    double* array;
    Node* temp;
    char extra[64];

    ref_start(argc, argv);
    temp = make_tree(stretch);
    ref_free_tree(temp);
    long_lived_tree = new_node(0);
    populate(long_lived_depth, long_lived_tree);
    long_lived_array = ref_alloc(0, (uint32_t)(array_len * 8));
    array = (double*)REF_PAYLOAD(long_lived_array);
    for (i = 0; i < array_len / 2; i++)
        array[i] = 1.0 / (i + 1);
    for (depth = min_depth; depth <= max_depth; depth += 2) {
        iters = 2 * tree_size(stretch) / tree_size(depth);
        for (i = 0; i < iters; i++) {
            temp = new_node(0);
            populate(depth, temp);
            ref_free_tree(temp);
        }
        for (i = 0; i < iters; i++) {
            temp = make_tree(depth);
            ref_free_tree(temp);
        }
    }
    snprintf(extra, sizeof extra, "\"check\": %d",
             array_len <= 1000 || array[1000] == 1.0 / 1001);
    ref_finish("gcbench", extra);
    return 0;
}
