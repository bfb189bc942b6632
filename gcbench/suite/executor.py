"""Where a suite's tasks run: the executor seam between the driver and the machines.

An executor takes jobs (key, function, arguments) and yields, as each ends, an Outcome:
the function's return value, or why it was lost (the machine running it died twice, an
exception outside the task), and a note when it was retried.  The functions are
suite.tasks' (a configuration under pyperf, a minimum-heap search): they return plain
data and write no result, so the driver writes every file in one code path whichever
executor ran them.

- LocalExecutor: one job at a time in this process, in the order given.
- suite.dask.DaskExecutor: one Dask task per job on a distributed cluster.

`running` is how many jobs are under way, and `on_running` (when set) is called with it
whenever it changes (the progress bar); `close(cancel=True)` drops what has not started.
"""
from dataclasses import dataclass


@dataclass
class Outcome:
    key: str
    value: object = None          # the task's return value (None when lost)
    lost: str = None              # why the task did not return
    retried: str = None           # why it ran a second time


class LocalExecutor:
    description = "local"

    def __init__(self):
        self.running = 0
        self.on_running = None

    def _set_running(self, count):
        self.running = count
        if self.on_running is not None:
            self.on_running(count)

    def run(self, jobs):
        for key, function, args in jobs:
            self._set_running(1)
            try:
                value = function(*args)
            finally:
                self._set_running(0)
            yield Outcome(key, value)

    def close(self, cancel=False):
        pass
