"""Reading results back: a single run's JSON, a list of them, or a pyperf suite.

`load_results(path)` always returns a list of single-run result dictionaries (the keys of
docs/results.md), so that charts and reports need one code path:

- a single-run JSON (`gcbench run --json`): `[result]`;
- a JSON list of single-run results: that list;
- a pyperf BenchmarkSuite JSON written by `gcbench suite`: one result per configuration.
  Every configuration has a throughput benchmark (values: seconds per run) and a pause
  benchmark (values: individual pause durations in seconds); both carry the metadata key
  `gcbench_run_file`, the path (relative to the suite file's directory) of that
  configuration's full single-run JSON.  The run file is loaded and given:
    `throughput_values_s`  the throughput benchmark's values (every pyperf run), for spread;
    `pause_values_s`       the pause benchmark's values (every pause pyperf recorded);
    `suite_metadata`       the throughput benchmark's metadata (pyperf's and gcbench's);
    `min_heap_bytes`       from metadata `gcbench_min_heap_bytes` / `min_heap_bytes` /
                           `minheap_bytes` when the suite measured the minimum heap.
  Which benchmark is which: metadata `gcbench_metric` ("throughput" or "pause") when
  present, else a benchmark whose name contains "pause" is the pause benchmark.

Every failure is a UsageError with one line naming the file.
"""
import gzip
import json
import os

from .errors import UsageError

# keys without which no chart or table can be drawn from a result
REQUIRED_KEYS = ("collector", "opts", "workload", "params", "heap_bytes", "pauses_ns",
                 "pause_starts_ns", "wall_s", "cycle_log", "summary")
MIN_HEAP_KEYS = ("gcbench_min_heap_bytes", "min_heap_bytes", "minheap_bytes")


def _read_json(path):
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


def _check_result(data, where):
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


def _is_pyperf_suite(data):
    return isinstance(data, dict) and isinstance(data.get("benchmarks"), list) and "version" in data


def _benchmark_role(bench, metadata):
    metric = str(metadata.get("gcbench_metric", "")).lower()
    if metric:
        return "pause" if "pause" in metric else "throughput"
    return "pause" if "pause" in bench.get_name().lower() else "throughput"


def _load_pyperf_suite(path):
    import pyperf
    try:
        suite = pyperf.BenchmarkSuite.load(str(path))
    except Exception as exc:  # pyperf raises ValueError/KeyError/TypeError on malformed files
        raise UsageError(f"{path}: not a readable pyperf suite ({type(exc).__name__}: {exc})") from None
    base = os.path.dirname(os.path.abspath(path))
    by_file = {}  # run file -> {"throughput": bench, "pause": bench}
    order = []
    for bench in suite.get_benchmarks():
        metadata = bench.get_metadata()
        run_file = metadata.get("gcbench_run_file")
        if not run_file:
            # not common to every run (e.g. one file per worker): take the first run's
            run_file = next((run.get_metadata().get("gcbench_run_file") for run in bench.get_runs()
                             if run.get_metadata().get("gcbench_run_file")), None)
        if not run_file:
            continue
        if run_file not in by_file:
            by_file[run_file] = {}
            order.append(run_file)
        by_file[run_file][_benchmark_role(bench, metadata)] = bench
    if not order:
        raise UsageError(f"{path}: pyperf suite without gcbench configurations "
                         f"(no benchmark has the metadata gcbench_run_file)")
    results = []
    for run_file in order:
        full = run_file if os.path.isabs(run_file) else os.path.join(base, run_file)
        result = _check_result(_read_json(full), full)
        benches = by_file[run_file]
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
    data = _read_json(path)
    if _is_pyperf_suite(data):
        return _load_pyperf_suite(path)
    if isinstance(data, list):
        if not data:
            raise UsageError(f"{path}: empty list, expected gcbench results")
        for i, item in enumerate(data):
            _check_result(item, f"{path}[{i}]")
        return data
    return [_check_result(data, path)]
