"""Recording: run a workload with operation recording on and write its trace.

The kernel records every mutator operation while the workload runs; afterwards the
records are written as a text or binary trace (io.traces) that `gcbench run --trace`
replays bit for bit.  This module prints nothing.
"""
from ..errors import UsageError
from ..io import traces
from ..units import check_output_file
from .runner import run_config


def record(config, path, fmt=None):
    """Run `config` (a RunConfig) recording, write the trace to `path`.

    Returns (result, records, fmt): the run's result dict, the recorded operations and
    the format written."""
    threads = config.params.get("threads", 1)
    if isinstance(threads, int) and threads > 1:
        raise UsageError(f"gcbench record runs one mutator thread: threads={threads} would leave the "
                         "threads' operations out of the trace (a trace is one operation stream)")
    fmt = traces.format_for(path, fmt)
    check_output_file(path, "trace output")
    holder = {}

    def start(heap):
        holder["heap"] = heap
        heap.start_recording()

    result = run_config(config, on_heap=start)
    records = holder["heap"].recorded_trace()
    traces.write_trace(path, records, fmt)
    return result, records, fmt
