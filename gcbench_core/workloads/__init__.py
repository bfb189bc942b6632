"""Workloads: one module per workload, each exposing NAME, DESCRIPTION, PARAMS and
run(heap, params, seed), which runs the whole workload natively without the GIL."""
