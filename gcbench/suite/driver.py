"""`gcbench suite`: run every configuration of a suite file under pyperf, losing no work.

Output, for `-o DIR/NAME.json` (default `results/<date-time>/suite.json`):

- `NAME.json`: one pyperf BenchmarkSuite.  Per configuration, a throughput benchmark
  (seconds per native run, timed by pyperf's worker processes) named after the
  configuration; `NAME.pauses.json` beside it: the pause benchmarks (`.../pauses`, every
  stop-the-world pause of the recorded run, in seconds), apart so that pyperf's
  compare_to never averages pauses with run times.  Both carry the configuration as metadata (see
  `benchmark_metadata`), including `gcbench_run_file`.
- `runs/<configuration>.json`: the recorded run's full result dictionary (docs/results.md):
  every pause with its start, every cycle, every counter; charts and the MMU come from it.
- `NAME.status.json`: the suite's state: the minimum heaps found, and every configuration
  finished so far (done or failed, with its error).
- `summary.txt` at the end: the comparison table (gcbench compare) and the failures.
- `.NAME.json.lock`: the output's lock (OutputLock), held while the suite runs.
`runs/`, `summary.txt`, the report and its charts sit beside `suite.json`; for any other
NAME they go to `DIR/NAME/`, so no two suites in one directory share them.

Two suites on one output: the second refuses at once (the lock), whatever the timing.
`--resume` refuses a status file that is damaged, of another suite, or of another matrix
(`matrix_fingerprint`: the suite file or the mode changed), with one line saying how to
start afresh.

No work is lost: after each configuration its run file, then the suite JSON, then the
status file are rewritten atomically (write a temporary file, then rename), so a suite
killed at any moment keeps every configuration that finished, and `--resume` runs only
the others.  A configuration that fails (heap exhausted, a crash) is recorded as failed
and the suite goes on.

Every file goes through the io room's store (run files, suite JSON, status file, failure
records, the workers' error files); the summary table comes from report.compare and
report.format, the report from report.document.  This module measures nothing itself:
the pyperf worker (suite.worker) runs and times the configurations.
"""
import datetime
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from .. import __version__, registry
from ..errors import Interrupted, RunError, UsageError
from ..io import store
from ..io.atomic import write_json_atomic, write_text_atomic
from ..runs.children import run_child
from ..units import check_name_length, format_bytes
from . import suitefile, tasks
from .executor import LocalExecutor

SUITE_FILE_NAME = "suite.json"
RESULTS_DIR = "results"


# ---------------------------------------------------------------- output files

class Output:
    """Where a suite writes: the suite JSON, its status file, its lock, and its own folder
    for the run files, summary, report and charts.  A suite named `suite.json` (the
    default, and `-o DIR`) owns its directory: runs/, summary.txt and the report sit beside
    it.  Any other `D/NAME.json` gets `D/NAME/` for them, so suites written into one
    directory one after the other never overwrite each other's files."""

    def __init__(self, json_path):
        self.json_path = Path(json_path).resolve()
        self.dir = self.json_path.parent
        self.status_path = Path(store.status_path(self.json_path))
        stem = self.json_path.stem
        self.files_dir = self.dir if stem == Path(SUITE_FILE_NAME).stem else self.dir / stem
        self.runs_dir = self.files_dir / "runs"
        self.summary_path = self.files_dir / "summary.txt"
        self.lock_path = self.dir / f".{self.json_path.name[:200]}.lock"
        self.pauses_path = Path(store.pauses_path(self.json_path))

    def run_file(self, config):
        return self.runs_dir / f"{config.slug}.json"

    def relative(self, path):
        return os.path.relpath(path, self.dir)


def default_output(now=None):
    """results/<date-time>/suite.json, its directory created here: two suites started in
    the same second each get their own (mkdir is the test-and-set)."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    n = 1
    while True:
        path = Path(RESULTS_DIR) / (stamp if n == 1 else f"{stamp}-{n}") / SUITE_FILE_NAME
        try:
            path.parent.mkdir(parents=True)
            return path
        except FileExistsError:
            n += 1
        except OSError as exc:
            raise UsageError(f"cannot create {path.parent}: {exc.strerror or exc}") from None


class OutputLock:
    """An exclusive lock on one suite output (flock on `.NAME.json.lock` beside it), held
    for the whole suite: a second suite on the same output refuses at once, naming the
    first's pid; the check that the output is new is made under it.  The kernel drops the
    lock when the process dies, however it dies; the small file stays."""

    def __init__(self, output):
        self.output = output
        self.fd = None

    def __enter__(self):
        import fcntl
        path = self.output.lock_path
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise UsageError(f"cannot create the lock {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            self.fd = None
            raise UsageError(f"{self.output.json_path} is being written by another gcbench suite "
                             f"(pid {holder}); wait for it, or choose another -o") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)            # releases the lock
            self.fd = None
        return False


def output_for(path_text):
    """-o PATH: a .json file, or a directory that will hold suite.json."""
    path = Path(path_text)
    if path.suffix.lower() != ".json":
        path = path / SUITE_FILE_NAME
    return path


def latest_unfinished(suite_name, root=RESULTS_DIR):
    """The newest results/*/suite.json of this suite that has not finished (for --resume)."""
    candidates = []
    for status_path in Path(root).glob("*/*" + store.STATUS_SUFFIX):
        status = store.load_status(status_path)
        if status is not None and status.get("suite") == suite_name and not status.get("finished"):
            json_path = Path(store.suite_json_of_status(status_path))
            candidates.append((status_path.stat().st_mtime, json_path))
    return max(candidates)[1] if candidates else None


# ---------------------------------------------------------------- metadata

def benchmark_metadata(suite, config, heap_bytes, minheap_bytes, run_file_rel, build):
    """The configuration, as pyperf metadata (str, int or float values, never empty)."""
    meta = {
        "gcbench_suite": suite.name,
        "collector": config.collector,
        "opts": json.dumps(config.opts, sort_keys=True),
        "workload": config.workload,
        "params": json.dumps(config.params, sort_keys=True),
        "seed": int(config.seed) if config.seed < 1 << 63 else str(config.seed),
        "heap": config.heap.text,
        "heap_bytes": int(heap_bytes),
        "gogc": "off" if config.gogc is None else int(config.gogc),
        "gcbench_version": build["gcbench_version"],
        "compiler": build["compiler"] or "unknown",
        "cflags": build["cflags"] or "none",
        "gcbench_run_file": run_file_rel,
        # the comparison's row (everything but the collector) and column group
        "configuration": config.row_label,
        "collector_label": config.collector_label,
    }
    if minheap_bytes:
        meta["minheap_bytes"] = int(minheap_bytes)
    return meta


def pause_benchmark(name, pauses_ns, metadata):
    """The pause benchmark: one pyperf run whose values are the recorded run's pauses
    in seconds (None when the run had no pause: pyperf needs a value)."""
    import pyperf
    values = [int(p) / 1e9 for p in pauses_ns]
    if not values or min(values) <= 0:
        return None
    run = pyperf.Run(values, metadata={**metadata, "name": name, "unit": "second",
                                       "gcbench_metric": "pause", "loops": 1})
    return pyperf.Benchmark([run])


# ---------------------------------------------------------------- progress

class Progress:
    """The suite's progress on stderr: a tqdm bar (finished, running, failed, ETA) when
    stderr is a terminal, else one line per finished configuration."""

    def __init__(self, total, out=sys.stderr, bar=None):
        self.total = total
        self.done = 0
        self.failed = 0
        self.under_way = 0
        self.start = time.monotonic()
        self.config_seconds = []
        self.out = out
        self.bar = None
        if bar is None:
            bar = total > 0 and hasattr(out, "isatty") and out.isatty()
        if bar:
            from tqdm import tqdm
            self.bar = tqdm(total=total, file=out, unit="config", dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")

    def note(self, text, outcome=None):
        # at most 100 columns: a long configuration label wraps under an indent, and its
        # outcome then starts a line of its own
        from gcbench.report.format import TERMINAL_COLUMNS, wrap_words
        one = text if outcome is None else f"{text} {outcome}"
        if len(one) > TERMINAL_COLUMNS:
            lines = wrap_words(text, TERMINAL_COLUMNS, indent="    ")
            if outcome is not None:
                lines += ["    " + line for line in wrap_words(outcome, TERMINAL_COLUMNS - 4, "  ")]
            one = "\n".join(lines)
        text = one
        if self.bar is not None:
            self.bar.write(text, file=self.out)
        else:
            print(text, file=self.out, flush=True)

    def running(self, count):
        self.under_way = count
        if self.bar is not None:
            self.bar.set_postfix_str(f"running {count}, failed {self.failed}")

    def finished(self, label, seconds, outcome, failed=False):
        self.done += 1
        self.failed += bool(failed)
        self.config_seconds.append(seconds)
        if self.bar is not None:
            self.note(f"{label}:", f"{outcome} ({seconds:.1f} s)")
            self.bar.update(1)
            self.running(self.under_way)          # the failed count
            return
        left = self.total - self.done
        elapsed = time.monotonic() - self.start
        # wall time per finished configuration so far: right for parallel workers too
        eta = f", about {_clock(elapsed / self.done * left)} left" if left else ""
        self.note(f"[{self.done}/{self.total}] {label}:",
                  f"{outcome} ({seconds:.1f} s; elapsed {_clock(elapsed)}{eta})")

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


# ---------------------------------------------------------------- worker processes

class _Terminated(Exception):
    pass


class NotApplicable(Exception):
    """The collector or workload refuses this combination (e.g. malloc cannot free churn's
    shared objects): the configuration is skipped, which is not a failure."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def worker_settings(settings, mode, pass_mode_flag, collector):
    """pyperf's settings for one configuration: (settings, pyperf flag or None).

    A collector that must have one run per process (constraints.one_run_per_process, e.g. libgc's one
    heap per process) gets as many worker processes as the values it would have had,
    each with one value of one run and no warm-up; pyperf's --fast/--rigorous scaling is
    then applied here, since pyperf's own would put several values in a process."""
    flag = f"--{mode}" if pass_mode_flag and mode else None
    if not registry.get_collector(collector).constraints.one_run_per_process:
        return dict(settings), flag
    processes = settings.get("processes", PYPERF_DEFAULT_PROCESSES)
    values = settings.get("values", PYPERF_DEFAULT_VALUES)
    if flag == "--fast":          # pyperf's rules (pyperf/_runner.py)
        processes, values = max(processes // 2, 3), max(values * 2 // 3, 2)
    elif flag == "--rigorous":
        processes *= 2
    out = dict(settings, processes=processes * values, values=1, warmups=0, loops=1)
    out.pop("min_time", None)
    return out, None


PYPERF_DEFAULT_PROCESSES = 20     # pyperf.Runner's defaults without a JIT
PYPERF_DEFAULT_VALUES = 3


def run_configuration(spec, work_dir, mode_flag):
    """Run one configuration in a pyperf main process; returns (benchmark or None, error)."""
    import pyperf
    spec_path = Path(work_dir) / "spec.json"
    bench_path = Path(work_dir) / "bench.json"
    error_path = Path(work_dir) / "error.json"
    spec = dict(spec, error_file=str(error_path))
    for p in (spec_path, bench_path, error_path):
        if p.exists():
            p.unlink()
    write_json_atomic(spec_path, spec)
    cmd = [sys.executable, "-m", "gcbench.suite.worker", str(spec_path), "-o", str(bench_path), "--quiet"]
    if mode_flag:
        cmd.append(mode_flag)
    # cwd: a directory without the gcbench sources, so `-m` imports the installed package
    returncode, output, _ = run_child(cmd, cwd=str(work_dir), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
    if returncode == 0 and bench_path.exists():
        return pyperf.Benchmark.load(str(bench_path)), None
    recorded = store.read_json_or_none(spec["run_file"])
    if isinstance(recorded, dict) and recorded.get("failed"):
        if recorded.get("applicable") is False:
            raise NotApplicable(recorded.get("error", "not applicable"))
        return None, recorded.get("error", "failed")
    if returncode < 0:
        return None, f"crashed with signal {-returncode}"
    # a worker that raised wrote why to the error file
    error = store.read_worker_error(error_path)
    if error:
        return None, f"in a pyperf worker: {error}"
    lines = [line for line in (output or "").splitlines() if line.strip()]
    return None, f"pyperf worker failed: {lines[-1].strip() if lines else f'exit code {returncode}'}"


# ---------------------------------------------------------------- the suite

def resolve_heap(config, minheaps):
    """Heap bytes for a configuration: its own, or for an 'Nx' size that multiple of the
    minimum heap found beforehand (`minheaps`, the status file's, filled by
    find_minheaps).  Returns (heap_bytes, minheap_bytes or None); raises RunError or
    NotApplicable when no heap size works."""
    from ..runs.config import check_heap_size
    from ..runs.minheap import PAGE_BYTES
    if not config.heap.relative:
        return config.heap.bytes, None
    entry = minheaps[config.minheap_key()]
    if entry.get("applicable") is False:
        raise NotApplicable(entry["error"])
    if "error" in entry:
        raise RunError("minheap", f"no minimum heap: {entry['error']}")
    minimum = entry["bytes"]
    wanted = max(-(-int(config.heap.multiple * minimum) // PAGE_BYTES) * PAGE_BYTES, minimum)
    try:
        check_heap_size(wanted)
    except UsageError as exc:
        raise RunError("heap", f"{config.heap.text} of the minimum heap ({minimum} bytes): {exc}") from None
    return wanted, minimum


def find_minheaps(todo, minheaps, executor, progress, save_status):
    """Run the minimum-heap searches the configurations in `todo` need and have not got
    yet, as tasks of `executor`; each found (or failed) search goes into `minheaps` and
    the status file at once."""
    searches = {}
    for config in todo:
        key = config.minheap_key()
        if config.heap.relative and key not in minheaps and key not in searches:
            searches[key] = config
    if not searches:
        return
    labels = {key: f"{c.workload_label} under {c.collector_label}" for key, c in searches.items()}
    progress.note(f"finding the minimum heap of {len(searches)} configuration"
                  f"{'s' if len(searches) > 1 else ''} ...")
    jobs = [(key, tasks.minheap_task, (config.run_config().to_json(),)) for key, config in searches.items()]
    for outcome in executor.run(jobs):
        entry = outcome.value if outcome.lost is None else {"error": f"search lost: {outcome.lost}"}
        minheaps[outcome.key] = entry
        save_status()
        label = labels[outcome.key]
        if "bytes" in entry:
            found = entry["bytes"]
            progress.note(f"minimum heap of {label}: {format_bytes(found)} ({found} bytes; "
                          f"{entry.get('probes', '?')} runs, {entry.get('seconds', 0):.1f} s)")
        else:
            progress.note(f"no minimum heap for {label}: {entry['error']}")


def configuration_order(configs, seed):
    """The configurations in the seeded random order they run in (running-ng's
    randomisation: a machine's drift over hours does not line up with one collector)."""
    order = list(range(len(configs)))
    random.Random(seed).shuffle(order)
    return [configs[i] for i in order]


def matrix_fingerprint(suite, configs, mode):
    """A digest of everything that decides what a suite's results mean: every resolved
    configuration (collector and options, workload and parameters, heap, GOGC, seed), the
    mode and pyperf's settings.  --resume refuses an output whose fingerprint differs."""
    matrix = {"suite": suite.name, "mode": mode or "normal", "pyperf": suite.pyperf,
              "configurations": [[c.name, c.collector, c.opts, c.workload, c.params, c.heap.text,
                                  c.gogc, str(c.seed)] for c in configs]}
    text = json.dumps(matrix, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _checked_status(output, suite, fingerprint):
    """The status file of the output to resume, checked: one line for anything that does
    not hold this very matrix (damaged, another suite, a changed file or mode)."""
    fresh = (f"start afresh with another -o, or delete {output.json_path.name}, "
             f"{output.status_path.name} and their files")
    if not output.status_path.exists():
        raise UsageError(f"nothing to resume at {output.json_path}: {output.status_path.name} is missing")
    old = store.load_status(output.status_path)
    if old is None:
        raise UsageError(f"{output.status_path}: not a gcbench status file (damaged or not JSON); {fresh}")
    if old.get("suite") != suite.name:
        raise UsageError(f"{output.json_path} holds suite {old.get('suite')!r}, not {suite.name!r}")
    minheap, configurations = old.get("minheap", {}), old.get("configurations", {})
    if not (isinstance(minheap, dict) and all(isinstance(v, dict) for v in minheap.values())
            and isinstance(configurations, dict)
            and all(isinstance(v, dict) for v in configurations.values())):
        raise UsageError(f"{output.status_path}: damaged status file (minheap and configurations "
                         f"must be tables of tables); {fresh}")
    if old.get("fingerprint") != fingerprint:
        raise UsageError(f"cannot resume {output.json_path}: it was started with another matrix "
                         f"(the suite file, or --fast/--rigorous, changed since; fingerprint "
                         f"{old.get('fingerprint')} here, {fingerprint} now); {fresh}")
    return old


def run_suite(suite, output_path, mode=None, resume=False, command=None, out=None, err=None,
              executor=None, order_seed=None):
    """Run `suite` (a suitefile.Suite) writing to output_path; returns the exit code.
    `executor` runs the tasks (default: this process, suite.executor.LocalExecutor);
    `order_seed` seeds the configurations' random order (default: drawn, or the one of
    the suite being resumed).  The output is locked for the whole suite (OutputLock)."""
    output = Output(output_path)
    # NAME.json, NAME.status.json and the folder NAME/ must all be valid names
    check_name_length(output.json_path, "-o", extra=store.STATUS_SUFFIX[:-len(".json")])
    try:
        output.dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {output.dir}: {exc.strerror or exc}") from None
    with OutputLock(output):
        return _run_suite_locked(suite, output, mode, resume, command,
                                 sys.stdout if out is None else out, sys.stderr if err is None else err,
                                 executor, order_seed)


def _run_suite_locked(suite, output, mode, resume, command, out, err, executor, order_seed):
    import pyperf
    from ..runs.runner import build_info

    executor = executor or LocalExecutor()
    suite, pass_mode_flag = suite.for_mode(mode)
    configs = suite.configurations()
    names = [c.name for c in configs]
    fingerprint = matrix_fingerprint(suite, configs, mode)
    status = {"suite": suite.name, "suite_file": suite.path, "gcbench_version": __version__,
              "command": command or "", "started": datetime.datetime.now().isoformat(timespec="seconds"),
              "mode": mode or "normal", "fingerprint": fingerprint, "finished": False,
              "minheap": {}, "configurations": {}}
    existing = {}
    if resume:
        old = _checked_status(output, suite, fingerprint)
        status.update({k: old[k] for k in ("started", "minheap", "configurations", "order_seed") if k in old})
        if output.json_path.exists():
            for bench in store.suite_benchmarks(str(output.json_path)):
                existing[bench.get_name()] = bench
    elif output.json_path.exists() or output.status_path.exists():
        raise UsageError(f"{output.json_path} already exists: pass --resume to complete it, "
                         f"or choose another -o")
    elif output.files_dir != output.dir and output.files_dir.exists():
        raise UsageError(f"{output.files_dir} already exists (the folder of {output.json_path.name}'s "
                         f"run files and report): choose another -o")
    if order_seed is not None or status.get("order_seed") is None:
        status["order_seed"] = int(order_seed if order_seed is not None else random.SystemRandom().randrange(1 << 32))
    status["executor"] = executor.description
    try:
        output.runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {output.runs_dir}: {exc.strerror or exc}") from None

    # a configuration is done when its benchmark is in the suite JSON (written before the
    # status), failed when the status says so; everything else runs now
    done = {name for name in names if name in existing}
    for name in done:
        status["configurations"].setdefault(name, {"status": "done"})["status"] = "done"
    failed = {name for name, s in status["configurations"].items()
              if s.get("status") in ("failed", "skipped") and name in names}
    todo = [c for c in configuration_order(configs, status["order_seed"])
            if c.name not in done and c.name not in failed]
    settings = suite.pyperf

    progress = Progress(len(todo), err)
    skipped = len(configs) - len(todo)
    progress.note(f"suite {suite.name}: {len(configs)} configurations"
                  + (f", {skipped} already finished" if skipped else "")
                  + f" (order seed {status['order_seed']}; {executor.description}); writing {output.json_path}")
    for note in getattr(executor, "notes", ()):
        progress.note(note)
    build = build_info()
    bench_order = {}
    for name, bench in existing.items():
        base = name[:-len("/pauses")] if name.endswith("/pauses") else name
        bench_order.setdefault(base, []).append(bench)

    def save():
        # run times in NAME.json, pauses in NAME.pauses.json: pyperf's compare_to then
        # averages run times only (a pause is not a run time)
        ordered = []
        for name in names + [n for n in bench_order if n not in names]:
            ordered += bench_order.get(name, [])
        times = [b for b in ordered if store.benchmark_role(b) == "throughput"]
        pauses = [b for b in ordered if store.benchmark_role(b) == "pause"]
        if pauses:
            store.dump_suite(output.pauses_path, pauses)
        if times:
            store.dump_suite(output.json_path, times)
        store.dump_status(output.status_path, status)

    def finish(config, entry, seconds, heap_bytes=0, result=None, lost=None, retried=None):
        """Write what one configuration left (its run file, the suite JSON, the status),
        whichever executor ran it: the one code path for every result file."""
        run_file = output.run_file(config)
        identity = config.identity(heap_bytes)
        if retried:
            entry["retried"] = retried
        if result is not None:
            entry["machine"] = result["machine"]["machine_host"]
            seconds = result.get("seconds", seconds)
        recorded = result and result["run"]
        if lost is not None:
            entry.update(status="failed", error=lost)
            store.write_failure(run_file, config.name, identity, lost, applicable=True, kind="lost")
        elif result is None:
            pass                      # refused or failed before running: entry says so
        elif not result["applicable"]:
            entry.update(status="skipped", error=result["error"])
            store.write_failure(run_file, config.name, identity, result["error"], applicable=False)
        elif result["bench"] is None:
            entry.update(status="failed", error=result["error"])
            if isinstance(recorded, dict) and not recorded.get("failed"):
                store.dump_run(run_file, recorded, "run file")
            else:
                kind = recorded.get("error_kind") if isinstance(recorded, dict) else "crash"
                store.write_failure(run_file, config.name, identity, result["error"], applicable=True, kind=kind)
        else:
            store.dump_run(run_file, recorded, "run file")
            meta = result["metadata"]
            benches = [pyperf.Benchmark.load(io.StringIO(result["bench"]))]
            pauses = pause_benchmark(config.name + "/pauses", recorded["pauses_ns"],
                                     {k: v for k, v in meta.items() if k != "gcbench_metric"})
            if pauses is not None:
                benches.append(pauses)
            bench_order[config.name] = benches
            entry.update(status="done", heap_bytes=heap_bytes, pauses=len(recorded["pauses_ns"]))
        entry["seconds"] = round(seconds, 3)
        status["configurations"][config.name] = entry
        save()
        if entry["status"] == "done":
            b = bench_order[config.name][0]
            outcome = f"{b.mean() * 1e3:.1f} ms +- {b.stdev() * 1e3 if b.get_nvalue() > 1 else 0:.1f} ms per run"
        elif entry["status"] == "skipped":
            outcome = f"not applicable: {entry['error']}"
        else:
            outcome = f"FAILED: {entry['error']}"
        if retried:
            outcome += f" ({retried})"
        progress.finished(config.name, seconds, outcome, failed=entry["status"] == "failed")

    store.dump_status(output.status_path, status)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    tasks_start = time.monotonic()
    try:
        find_minheaps(todo, status["minheap"], executor, progress,
                      lambda: store.dump_status(output.status_path, status))
        jobs, prepared = [], {}
        for config in todo:
            run_file = output.run_file(config)
            entry = {"run_file": output.relative(run_file), "configuration": config.row_label,
                     "collector_label": config.collector_label}
            try:
                heap_bytes, minimum = resolve_heap(config, status["minheap"])
            except NotApplicable as exc:
                entry.update(status="skipped", error=str(exc))
                store.write_failure(run_file, config.name, config.identity(), exc, applicable=False)
                finish(config, entry, 0.0)
                continue
            except RunError as exc:
                entry.update(status="failed", error=str(exc))
                store.write_failure(run_file, config.name, config.identity(), exc, applicable=True,
                                    kind=exc.kind)
                finish(config, entry, 0.0)
                continue
            if minimum:
                entry["minheap_bytes"] = minimum
            meta = benchmark_metadata(suite, config, heap_bytes, minimum, output.relative(run_file), build)
            meta["gcbench_order_seed"] = status["order_seed"]
            config_settings, flag = worker_settings(settings, mode, pass_mode_flag, config.collector)
            spec = {"name": config.name, "config": config.run_config(heap_bytes).to_json(),
                    "metadata": {**meta, "gcbench_metric": "throughput"},
                    "settings": config_settings, "run_file": str(run_file)}
            jobs.append((config.name, tasks.configuration_task, (spec, flag)))
            prepared[config.name] = (config, entry, heap_bytes, time.monotonic())
        executor.on_running = progress.running
        for outcome in executor.run(jobs):
            config, entry, heap_bytes, submitted = prepared[outcome.key]
            finish(config, entry, time.monotonic() - submitted, heap_bytes, result=outcome.value,
                   lost=outcome.lost, retried=outcome.retried)
    except (KeyboardInterrupt, _Terminated):
        executor.close(cancel=True)
        progress.close()
        _remove_stray_temporaries(output)
        store.dump_status(output.status_path, status)
        # finished = done, failed or not applicable: what --resume will count and not rerun
        kept = sum(1 for n, s in status["configurations"].items()
                   if n in names and s.get("status") in ("done", "failed", "skipped"))
        progress.note(f"suite {suite.name} stopped: {output.json_path} keeps the {kept} finished "
                      f"configurations; complete it with: gcbench suite "
                      f"{'' if suite.path == str(suitefile.DEFAULT_SUITE) else suite.path + ' '}"
                      f"-o {output.json_path}{' --' + mode if mode else ''} --resume")
        raise Interrupted("interrupted", "interrupted") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        progress.close()

    status["finished"] = True
    status["ended"] = datetime.datetime.now().isoformat(timespec="seconds")
    # this session's wall time from the first task to the last result (searches included)
    status["tasks_wall_s"] = round(time.monotonic() - tasks_start, 3)
    store.dump_status(output.status_path, status)
    failures = {n: s for n, s in status["configurations"].items() if s.get("status") == "failed" and n in names}
    skipped = {n: s for n, s in status["configurations"].items() if s.get("status") == "skipped" and n in names}
    summary = write_summary(output, suite, failures, skipped, progress)
    _report_and_charts(output, command, err)
    # (every file is written before anything is printed: a closed stdout costs none)
    print(summary, file=out, end="")
    # (a suite in which nothing applied has no suite JSON: its status file says why)
    print(f"results: {output.json_path if output.json_path.exists() else output.status_path}", file=out)
    if (output.files_dir / "report.html").exists():
        print(f"report: {output.files_dir / 'report.html'}", file=out)
    return 1 if failures else 0


def _remove_stray_temporaries(output):
    """Temporary files a killed worker left in this suite's run folder (only this suite
    writes there: it holds the output's lock)."""
    for path in output.runs_dir.glob(".*.tmp"):
        try:
            path.unlink()
        except OSError:
            pass


def write_summary(output, suite, failures, skipped, progress):
    from ..report import compare, format
    # every line fits format.TERMINAL_COLUMNS (the table is in long form, failures wrapped)
    lines = [f"suite {suite.name}: {len(suite.configurations())} configurations, "
             f"{len(failures)} failed" + (f", {len(skipped)} not applicable" if skipped else "")
             + f"; this session ran {progress.done} in {_clock(time.monotonic() - progress.start)}",
             ""]
    if output.json_path.exists():
        try:
            table = compare.compare_files([str(output.json_path)])
            lines += format.comparison_table(table, "text").rstrip("\n").splitlines()
        except UsageError as exc:
            lines.append(f"(no comparison: {exc})")
        lines += _fallback_lines(output.json_path)
    if failures:
        lines += ["", "failed configurations:"]
        lines += format.wrapped_entries((name, s.get("error")) for name, s in failures.items())
    if skipped:
        lines += ["", "configurations that do not apply (the collector or workload refuses them):"]
        lines += format.wrapped_entries((name, s.get("error")) for name, s in skipped.items())
    text = "\n".join(lines) + "\n"
    write_text_atomic(output.summary_path, text)
    return text


def _fallback_lines(json_path):
    """The concurrent collectors' pacer misses: full stop-the-world fallbacks (the arena
    filled before a concurrent cycle finished) and cycles ending over their goal."""
    from ..report import compare
    try:
        rows = compare.pacer_fallbacks(str(json_path))
    except UsageError:
        return []
    if not rows:
        return []
    lines = ["", "concurrent collectors: full-gc fallbacks and cycles over their goal"]
    for row, collector, cycles, fallbacks, overruns in rows:
        lines.append(f"  {row} {collector}: {fallbacks} full-gc fallbacks, "
                     f"{overruns} of {cycles} cycles over their goal")
    return lines


def _report_and_charts(output, command, err):
    """The report (which draws every chart); a failure here is a warning: the suite's
    data is saved."""
    from ..report.document import write_report
    try:
        results = store.load_results(str(output.json_path))
    except Exception as exc:     # the suite's data is saved; a report failure must not hide it
        print(f"gcbench: warning: could not load the results for the report: {exc}", file=err)
        return
    try:
        write_report(results, str(output.files_dir), command=command)
    except Exception as exc:
        print(f"gcbench: warning: report failed: {exc}", file=err)


def main(args):
    """`gcbench suite` (args from the command line parser)."""
    path = args.file or str(suitefile.DEFAULT_SUITE)
    suite = suitefile.load(path)
    mode = "fast" if args.fast else "rigorous" if args.rigorous else None
    if args.output:
        output_path = output_for(args.output)
    elif args.resume:
        output_path = latest_unfinished(suite.name)
        if output_path is None:
            raise UsageError(f"no unfinished run of suite {suite.name!r} under {RESULTS_DIR}/ to resume; "
                             f"give its file with -o")
    else:
        output_path = default_output()
    command = " ".join(["gcbench", "suite", *sys.argv[2:]]) if sys.argv[1:2] == ["suite"] else "gcbench suite"
    order_seed = getattr(args, "order_seed", None)
    if order_seed is not None and not 0 <= order_seed < 1 << 63:
        raise UsageError(f"--order-seed {order_seed}: expected 0 to 2**63-1")
    executor = None
    if getattr(args, "dask", None):
        from .dask import DaskExecutor
        executor = DaskExecutor.connect(args.dask)        # unreachable: exit 2 before anything runs
    try:
        return run_suite(suite, output_path, mode=mode, resume=args.resume, command=command,
                         executor=executor, order_seed=order_seed)
    finally:
        if executor is not None:
            executor.close()
