"""The runs room: one configuration, one native run, one result dictionary.

- config: `RunConfig`, the one validated run configuration, and `make_config`, the one
  function that builds it (seed, size, GOGC, stress and parameter validation);
- runner: run a RunConfig in the kernel and turn its counters into the result
  (`gcbench.run(...)` is `runner.run`);
- record: a run with operation recording on, written as a trace;
- minheap: the smallest heap a configuration completes in (bisection over runs);
- workload_file: a workload and its parameters from a TOML file.

This room imports the registry, metrics and the io room; never the suite or report rooms,
and it prints nothing.
"""
