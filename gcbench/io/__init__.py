"""The io room: every file gcbench reads or writes, in one place.

- atomic: write beside, then rename (no reader ever sees half a file);
- store: run JSON, suite JSON (pyperf), suite status file, failure records, the worker's
  error file, and `load_results` (any results file as a list of single-run results);
- traces: trace files (text and binary) to and from TRACE_DTYPE arrays;
- view: the results view charts and reports share (series labels and colours, groups
  per workload, pause samples, run times, minimum heaps).

This room computes no figure and runs nothing: it imports errors, units and, for traces,
the kernel's trace types, parser and check; never the run, suite or report rooms.
"""
