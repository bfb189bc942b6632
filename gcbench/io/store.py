"""The results store: load and dump of every results file, with one-line errors.

Files (keys of a run in docs/results.md):
- run JSON: one run's result dictionary (`gcbench run --json`, a suite's runs/*.json);
  a configuration that failed or does not apply has a failure record there instead
  (`failure_record`: {"failed": true, "applicable", "error", "error_kind", "name", and the
  configuration}), written only by `write_failure`;
- suite JSON: a pyperf BenchmarkSuite.  Per configuration a throughput benchmark (seconds
  per run) and a pause benchmark (the recorded run's pauses, in seconds), both with the
  metadata `gcbench_run_file` (that configuration's run JSON, relative to the suite JSON)
  and `gcbench_metric`.  `benchmark_role` is the one rule that tells them apart;
  `suite_configurations` pairs them per run file;
- pause file (`NAME.pauses.json` beside `NAME.json`): a second pyperf suite holding the pause
  benchmarks, so that `pyperf compare_to NAME.json` averages run times only; suites written
  before it kept the pause benchmarks in NAME.json, and `suite_benchmarks` reads both layouts;
- status file (`NAME.status.json` beside `NAME.json`): the suite's progress;
- worker error file: a pyperf worker's error for the suite driver (`write_worker_error`,
  `read_worker_error`), so no error is ever recovered from pyperf's output;
- `load_results(path)`: a run JSON, a JSON list of runs or a suite JSON as a list of
  single-run results, each suite run given throughput_values_s, pause_values_s,
  suite_metadata, benchmark_name, min_heap_bytes (when measured) and source.

Every read failure is a UsageError naming the file.  This module computes no figure and
runs nothing.
"""
import gzip
import json
import os

from ..errors import UsageError
from ..units import require_regular_file
from .atomic import atomic_path, write_json_atomic

# keys without which no chart or table can be drawn from a result
REQUIRED_KEYS = ("collector", "opts", "workload", "params", "heap_bytes", "pauses_ns",
                 "pause_starts_ns", "wall_s", "cycle_log", "summary")
MIN_HEAP_KEYS = ("gcbench_min_heap_bytes", "min_heap_bytes", "minheap_bytes")
STATUS_SUFFIX = ".status.json"
PAUSES_SUFFIX = ".pauses.json"


# ---------------------------------------------------------------- plain JSON

def read_json(path):
    """The JSON in `path` (gzip when it ends in .gz); regular files only."""
    try:
        # a device or a pipe (/dev/zero, a FIFO) could be read forever: regular files only
        if os.path.exists(path) and not os.path.isdir(path) and not os.path.isfile(path):
            raise UsageError(f"{path}: not a regular file, expected a result JSON file")
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt") as f:
            return json.load(f)
    except UsageError:
        raise
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, expected a result JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise UsageError(f"{path}: not a JSON file ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise UsageError(f"{path}: not a gcbench result (JSON nested too deeply)") from None
    except ValueError as exc:
        # e.g. a NUL byte in the path
        raise UsageError(f"{path!r}: cannot read ({exc})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_json_or_none(path):
    """The JSON in `path`, or None when it is missing or unreadable (the suite's own files,
    read to learn what happened, never to fail on)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- run JSON

def dump_run(path, result, flag="--json", group=None):
    """Write a run's result dictionary; an unwritable path is a UsageError naming `flag`.
    With `group` (atomic.AtomicGroup) the file lands when the group commits."""
    try:
        write_json_atomic(path, result, group=group)
    except OSError as exc:
        raise UsageError(f"cannot write {flag} {path}: {exc.strerror or exc}") from None


def failure_record(name, config, error, applicable=True, kind=None):
    """The run file of a configuration that failed (applicable) or does not apply."""
    record = {"failed": True, "applicable": bool(applicable), "error": str(error)}
    if kind is not None:
        record["error_kind"] = kind
    return {**record, "name": name, **config}


def write_failure(path, name, config, error, applicable=True, kind=None):
    """The one place a failure record is written."""
    write_json_atomic(path, failure_record(name, config, error, applicable, kind))


def check_result(data, where):
    """`data` if it is a single-run result with every REQUIRED_KEYS of its type."""
    if not isinstance(data, dict):
        raise UsageError(f"{where}: not a gcbench result (expected a JSON object)")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise UsageError(f"{where}: not a gcbench result (missing {', '.join(missing)})")
    for key, kind in _REQUIRED_TYPES.items():
        if not _is_kind(data[key], kind):
            raise UsageError(f"{where}: not a gcbench result ({key} is {_describe(data[key])}, "
                             f"expected {kind})")
    if len(data["pauses_ns"]) != len(data["pause_starts_ns"]):
        raise UsageError(f"{where}: not a gcbench result (pauses_ns and pause_starts_ns differ in length)")
    return data


# The type of every required key; charts and tables may assume these.
_REQUIRED_TYPES = {"collector": "a string", "workload": "a string", "opts": "an object",
                   "params": "an object", "heap_bytes": "a positive integer",
                   "pauses_ns": "a list of numbers", "pause_starts_ns": "a list of numbers",
                   "wall_s": "a non-negative number", "cycle_log": "a list of objects",
                   "summary": "an object"}


def _is_number(x):
    # finite and within int64, as every count and nanosecond figure of a real run is
    return isinstance(x, (int, float)) and not isinstance(x, bool) and abs(x) < 2 ** 63


def _is_kind(value, kind):
    if kind == "a string":
        return isinstance(value, str)
    if kind == "an object":
        return isinstance(value, dict)
    if kind == "a positive integer":
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    if kind == "a non-negative number":
        # wall_s: at most 30 years
        return _is_number(value) and 0 <= value < 1e9
    if kind == "a list of numbers":
        return isinstance(value, list) and all(_is_number(x) for x in value)
    if kind == "a list of objects":
        return isinstance(value, list) and all(isinstance(x, dict) for x in value)
    raise AssertionError(kind)


def _describe(value):
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------- suite JSON (pyperf)

def is_pyperf_suite(data):
    return isinstance(data, dict) and isinstance(data.get("benchmarks"), list) and "version" in data


def load_suite(path):
    """The pyperf BenchmarkSuite in `path`."""
    import pyperf
    require_regular_file(path, "suite JSON")
    _refuse_run_json(path)
    try:
        return pyperf.BenchmarkSuite.load(str(path))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError, OSError) as exc:
        # pyperf assumes its own structure: any JSON of another shape fails somewhere inside
        raise UsageError(f"{path}: not a pyperf suite JSON file ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise UsageError(f"{path}: not a pyperf suite JSON file (nested too deeply)") from None


def _refuse_run_json(path):
    """A run's result given where a suite JSON is expected: say so, and what reads it
    (pyperf alone would say "file format version None not supported")."""
    try:
        data = read_json_or_none(path)
    except RecursionError:
        return              # pyperf's loader says what is wrong with it
    if isinstance(data, dict) and "version" not in data and (
            "pauses_ns" in data or data.get("failed") is True):
        raise UsageError(f"{path}: a single run's result (gcbench run --json), not a suite JSON; "
                         f"gcbench compare reads the suite.json of `gcbench suite` "
                         f"(for one run: gcbench report {path}, or gcbench plot {path})")
    if isinstance(data, list) and data and isinstance(data[0], dict) and "pauses_ns" in data[0]:
        raise UsageError(f"{path}: a list of run results, not a suite JSON; gcbench compare reads "
                         f"the suite.json of `gcbench suite` (for runs: gcbench report {path})")


def dump_suite(path, benchmarks):
    """Write `benchmarks` as one pyperf suite, atomically."""
    import pyperf
    with atomic_path(path) as tmp:
        pyperf.BenchmarkSuite(benchmarks).dump(tmp, replace=True)


def pauses_path(suite_json_path):
    """NAME.pauses.json beside NAME.json: the suite's pause benchmarks."""
    return os.path.splitext(str(suite_json_path))[0] + PAUSES_SUFFIX


def suite_benchmarks(path):
    """Every benchmark of the suite in `path`: its own, then those of its pause file
    (NAME.pauses.json) when there is one.  Given the pause file itself, the suite JSON
    beside it is read first."""
    path = str(path)
    if path.endswith(PAUSES_SUFFIX):
        main = path[:-len(PAUSES_SUFFIX)] + ".json"
        if os.path.isfile(main):
            path = main
    benchmarks = list(load_suite(path).get_benchmarks())
    companion = pauses_path(path)
    if os.path.isfile(companion):
        benchmarks += list(load_suite(companion).get_benchmarks())
    return benchmarks


def benchmark_role(bench):
    """"pause" or "throughput": metadata gcbench_metric when present, else a benchmark
    whose name says "pause" is the pause benchmark.  The one rule for every reader."""
    metric = str(bench.get_metadata().get("gcbench_metric", "")).lower()
    if metric:
        return "pause" if "pause" in metric else "throughput"
    return "pause" if "pause" in bench.get_name().lower() else "throughput"


def run_file_of(bench):
    """The benchmark's gcbench_run_file (from its metadata, else its first run's)."""
    run_file = bench.get_metadata().get("gcbench_run_file")
    if not run_file:
        # not common to every run (e.g. one file per worker): take the first run's
        run_file = next((run.get_metadata().get("gcbench_run_file") for run in bench.get_runs()
                         if run.get_metadata().get("gcbench_run_file")), None)
    return run_file


def suite_configurations(suite):
    """[(run_file, {"throughput": bench, "pause": bench})] in the suite's order: the
    gcbench configurations of a pyperf suite, or of a list of benchmarks
    (suite_benchmarks); benchmarks without a run file are not."""
    by_file = {}
    benchmarks = suite if isinstance(suite, list) else suite.get_benchmarks()
    for bench in benchmarks:
        run_file = run_file_of(bench)
        if run_file:
            by_file.setdefault(run_file, {})[benchmark_role(bench)] = bench
    return list(by_file.items())


def resolve_run_file(suite_path, run_file):
    if os.path.isabs(run_file):
        return run_file
    return os.path.join(os.path.dirname(os.path.abspath(suite_path)), run_file)


# ---------------------------------------------------------------- status file

def status_path(suite_json_path):
    """NAME.status.json beside NAME.json."""
    return os.path.splitext(str(suite_json_path))[0] + STATUS_SUFFIX


def suite_json_of_status(path):
    return str(path)[:-len(STATUS_SUFFIX)] + ".json"


def load_status(path):
    """The status file, or None when missing or unreadable."""
    data = read_json_or_none(path)
    return data if isinstance(data, dict) else None


def dump_status(path, status):
    write_json_atomic(path, status)


# ---------------------------------------------------------------- worker error file

def write_worker_error(path, error):
    """A pyperf worker's error (one line) for the suite driver."""
    write_json_atomic(path, {"error": str(error)})


def read_worker_error(path):
    data = read_json_or_none(path)
    return data.get("error") if isinstance(data, dict) else None


# ---------------------------------------------------------------- results of any file

def missing_run_file(suite_path, run_file):
    """The UsageError for a suite whose run file is not where its metadata says."""
    full = resolve_run_file(suite_path, run_file)
    return UsageError(f"{suite_path}: its run file {run_file} is missing (looked for {full}); "
                      f"keep the suite's runs/ directory beside it")


def _suite_results(path):
    configurations = suite_configurations(suite_benchmarks(path))
    if not configurations:
        raise UsageError(f"{path}: pyperf suite without gcbench configurations "
                         f"(no benchmark has the metadata gcbench_run_file)")
    results = []
    for run_file, benches in configurations:
        full = resolve_run_file(path, run_file)
        if not os.path.exists(full):
            raise missing_run_file(path, run_file)
        result = check_result(read_json(full), full)
        throughput = benches.get("throughput")
        pause = benches.get("pause")
        if throughput is not None:
            result["throughput_values_s"] = [float(v) for v in throughput.get_values()]
            result["suite_metadata"] = dict(throughput.get_metadata())
            result["benchmark_name"] = throughput.get_name()
        if pause is not None:
            result["pause_values_s"] = [float(v) for v in pause.get_values()]
            result.setdefault("suite_metadata", dict(pause.get_metadata()))
        metadata = result.get("suite_metadata", {})
        for key in MIN_HEAP_KEYS:
            if key in metadata and "min_heap_bytes" not in result:
                try:
                    result["min_heap_bytes"] = int(float(metadata[key]))
                except (TypeError, ValueError):
                    pass
        result["source"] = os.path.relpath(full)
        results.append(result)
    return results


def load_results(path):
    """The results in `path` as a list of single-run result dictionaries (see above)."""
    path = os.fspath(path)
    data = read_json(path)
    if is_pyperf_suite(data):
        return _suite_results(path)
    if isinstance(data, list):
        if not data:
            raise UsageError(f"{path}: empty list, expected gcbench results")
        for i, item in enumerate(data):
            check_result(item, f"{path}[{i}]")
        return data
    return [check_result(data, path)]
