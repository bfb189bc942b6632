"""The run room: one configuration, one native run, one result dictionary.

- config: `RunConfig`, the one validated run configuration, and `make_config`, the one
  function that builds it (seed, size, GOGC, stress and parameter validation);
- runner: run a RunConfig in the kernel and turn its counters into the result;
- record: a run with operation recording on, written as a trace;
- minheap: the smallest heap a configuration completes in (bisection over runs);
- workload_file: a workload and its parameters from a TOML file.

This room imports the registry, metrics and the io room; never the suite or report rooms,
and it prints nothing.

`gcbench.run(...)` is this package called as a function (the package is callable, so
`gcbench.run` is both the room and the run function the README shows).
"""
import sys as _sys
import types as _types


def run(*args, **kwargs):
    """See gcbench.run.runner.run."""
    from .runner import run as _run
    return _run(*args, **kwargs)


class _CallableRoom(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        return run(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableRoom
