"""gcbench_core: the compiled kernels of gcbench (heap, mutator, collectors, workloads)."""
