"""The Dask executor: each suite job (a configuration, a minimum-heap search) is one task
on a Dask distributed cluster (`gcbench suite --dask ADDRESS`).

- ADDRESS is a scheduler (`tcp://host:8786`), or `local[:N]`: a LocalCluster of N
  single-threaded worker processes on this machine (default 2), each with the resource
  bench=1.
- One measurement per machine: every task asks for the resource `bench` (1), which a
  worker declares with `--resources bench=1`; the client keeps no more tasks in flight
  than the cluster has bench slots, so a task handed to a worker is one it runs now.
- Faults: a task whose worker died (KilledWorker) is submitted once more, and the
  outcome notes why; dying a second time it is lost, with the reason.  The LocalCluster's
  scheduler gives up on a task at its worker's first death (allowed-failures 0), so the
  one retry is the client's; an external scheduler retries by its own setting first.
- A scheduler that cannot be reached, or a missing `distributed`, is a UsageError (one
  line, exit 2) raised by connect(), before anything runs.
- close(cancel=True) (Ctrl-C) cancels the tasks not finished and shuts a LocalCluster
  down (its workers and their pyperf processes die with it).
The tasks run suite.tasks' functions, which return plain data: the client writes every
file (suite.driver).
"""
import collections
import logging
import re
import signal
import uuid

from ..errors import UsageError
from .executor import Outcome

BENCH_RESOURCE = "bench"
DEFAULT_LOCAL_WORKERS = 2
CONNECT_TIMEOUT_S = 10
_LOCAL = re.compile(r"^local(?::(\d+))?$")


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise UsageError("--dask needs the distributed package: pip install 'gcbench[dask]'") from None
    return distributed


def parse_address(text):
    """('local', N) or ('remote', address); a UsageError for anything else."""
    text = (text or "").strip()
    match = _LOCAL.match(text)
    if match:
        n = int(match.group(1) or DEFAULT_LOCAL_WORKERS)
        if not 1 <= n <= 256:
            raise UsageError(f"--dask {text}: the number of local workers must be 1 to 256")
        return "local", n
    if not text or any(c.isspace() for c in text):
        raise UsageError(f"--dask {text!r}: expected a scheduler address (tcp://host:8786) or local[:N]")
    return "remote", text


class DaskExecutor:
    def __init__(self, client, cluster, description):
        self.client = client
        self.cluster = cluster
        self.description = description
        self.running = 0
        self.notes = []               # said once when the suite starts
        self.on_running = None        # called with `running` when it changes (the progress bar)
        self._futures = []
        self._closed = False

    @classmethod
    def connect(cls, address_text):
        kind, value = parse_address(address_text)
        distributed = _import_distributed()
        import dask
        if kind == "local":
            # the worker processes start with SIGINT ignored (inherited): Ctrl-C at the
            # terminal reaches the whole process group, and only the client acts on it
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                    cluster = distributed.LocalCluster(
                        n_workers=value, threads_per_worker=1, processes=True,
                        resources={BENCH_RESOURCE: 1}, dashboard_address=":0",
                        silence_logs=logging.CRITICAL)
            finally:
                signal.signal(signal.SIGINT, previous)
            try:
                client = distributed.Client(cluster, set_as_default=False)
            except BaseException:
                cluster.close()
                raise
            return cls(client, cluster, f"dask local:{value}")
        try:
            client = distributed.Client(value, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
        except (OSError, ValueError, TypeError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise UsageError(f"cannot reach the Dask scheduler at {value}: {reason}") from None
        executor = cls(client, None, f"dask {value}")
        if not executor.has_bench_workers():
            executor.notes.append(f"no worker of {value} has the resource {BENCH_RESOURCE} yet: the tasks "
                                  f"wait for one (dask worker {value} --nthreads 1 --resources {BENCH_RESOURCE}=1)")
        return executor

    def slots(self):
        """The cluster's bench slots now (at least 1: workers may join later)."""
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        return max(1, sum(int(w.get("resources", {}).get(BENCH_RESOURCE, 0)) for w in workers.values()))

    def has_bench_workers(self):
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        return any(w.get("resources", {}).get(BENCH_RESOURCE, 0) for w in workers.values())

    def run(self, jobs):
        from distributed import as_completed
        from distributed.scheduler import KilledWorker
        pending = collections.deque(jobs)
        in_flight = {}
        finished = as_completed(loop=self.client.loop)

        def submit(job, retried):
            key, function, args = job
            future = self.client.submit(function, *args, key=task_key(key),
                                        resources={BENCH_RESOURCE: 1}, pure=False)
            in_flight[future] = (job, retried)
            self._futures.append(future)
            finished.add(future)

        def fill():
            limit = self.slots()
            while pending and len(in_flight) < limit:
                submit(pending.popleft(), None)
            self._set_running(len(in_flight))

        fill()
        for future in finished:
            job, retried = in_flight.pop(future)
            self._futures.remove(future)
            key = job[0]
            if future.status == "finished":
                value = future.result()
                future.release()
                fill()
                yield Outcome(key, value, retried=retried)
                continue
            exc = future.exception()
            future.release()
            reason = _reason(exc)
            if isinstance(exc, KilledWorker) and retried is None:
                submit(job, f"retried after its worker died: {reason}")
                fill()
                continue
            fill()
            yield Outcome(key, lost=reason if retried is None else f"{reason} (after it was {retried})",
                          retried=retried)
        self._set_running(0)

    def _set_running(self, count):
        if count != self.running and self.on_running is not None:
            self.on_running(count)
        self.running = count

    def close(self, cancel=False):
        if self._closed:
            return
        self._closed = True
        try:
            if cancel and self._futures:
                self.client.cancel(self._futures, force=True)
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def task_key(job_key):
    """A Dask key naming the job (a configuration's name, a search's key) and unique to
    this submission: a retry gets a new key."""
    return f"gcbench-{re.sub(r'[^A-Za-z0-9_.=-]+', '_', str(job_key)).strip('_')[:120]}-{uuid.uuid4().hex[:12]}"


def _reason(exc):
    from distributed.scheduler import KilledWorker
    if isinstance(exc, KilledWorker):
        worker = getattr(exc.last_worker, "address", "?")
        return f"the worker {worker} died during the task"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
