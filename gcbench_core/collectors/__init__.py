"""Collectors: one module per algorithm, each exposing NAME, DESCRIPTION, OPTIONS and
attach(heap, opts), which fills the heap's Collector record (see heap.pxd)."""
