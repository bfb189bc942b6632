"""Hostile input: every flag and file path of every command, fuzzed with hypothesis.

The contract (README, "Exit codes"): any input either works (exit 0), fails a run that
started (exit 1: heap exhausted), or is refused with ONE line on stderr and exit code 2;
never a traceback, a hang or a crash.

How it works.  The flags are not listed by hand: `command_specs()` walks the argparse
parser of `gcbench.cli`, so a new subcommand or flag is fuzzed as soon as it exists.
Values for a flag come from `value_strategy()`, chosen by the flag's name (paths, sizes,
KEY=VALUE, names...) and mixed with hostile text and numbers.  Files come from
`hostile_files()`: missing, directories, device files, empty, binary, truncated, deeply
nested, and real results with fields damaged.  To teach the fuzzer about a new kind of
value (e.g. a trace file for `gcbench record`), add a case to `value_strategy()` and, for
files, to `hostile_files()`.

Calls run in-process (`gcbench.cli.main(argv)`), with stderr captured and SystemExit
caught, so hundreds of inputs take seconds; a few subprocess checks at the end make sure
the real process behaves the same.  `run` gets small workloads first on the command line
(later flags override earlier ones), and a watchdog sends SIGINT after WATCHDOG_S, so a
fuzzed size that makes a run legitimately long ends it as Ctrl-C would (exit 130), which
must be clean as well.
"""
import contextlib
import copy
import io
import json
import os
import re
import signal
import threading

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import gcbench
from gcbench import cli, registry

from conftest import run_cli

WATCHDOG_S = 4.0
# What a fuzzed run or record starts with (later flags override earlier ones), so that
# a run whose sizes the fuzzer leaves alone is quick: a workload and small parameters.
SMALL_PARAMS = {
    "churn": {"live_objects": 200, "ops": 2000},
    "binary-trees": {"long_lived_depth": 4, "array_len": 100, "min_depth": 2, "max_depth": 6},
    "server": {"requests": 200, "cache_objects": 100},
    "queue": {"lifetime": 200, "ops": 2000},
    "lru-cache": {"capacity": 200, "keys": 2000, "requests": 2000},
    "growing-slices": {"slices": 50, "max_length": 100},
    "leak": {"requests": 2000, "leak_fraction": 0.05},
    "escape": {"calls": 2000},
    "python-heap": {"churn_ops": 2000, "churn_live": 200},
    "graph-mutate": {"nodes": 200, "ops": 2000},
    "python-cycles": {"ops": 2000},
    "mt-gcbench": {"long_lived_depth": 4, "array_len": 100, "min_depth": 2, "max_depth": 6},
    "goroutine-leak": {"requests": 2000},
}


def small_prefix(workload):
    argv = ["-w", workload, "--heap", "256M" if workload == "python-heap" else "8M"]
    for key, value in SMALL_PARAMS.get(workload, {}).items():
        argv += ["--param", f"{key}={value}"]
    return argv


def command_specs():
    """{command: [(option strings, takes a value, choices), ...], positional count}."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    specs = {}
    for name, subparser in sub.choices.items():
        flags, positionals = [], []
        for action in subparser._actions:
            if action.option_strings:
                if "-h" in action.option_strings:
                    continue
                flags.append((action.option_strings, action.nargs != 0, action.choices, action.dest))
            else:
                positionals.append(action.dest)
        specs[name] = (flags, positionals)
    return specs


HOSTILE_TEXT = ["", " ", "-", "--", "-1", "0", "1", "1e400", "9" * 400, "nan", "inf", "-inf",
                "0x10", "1_000", "１２", "\u202e", "a=b=c", "=", "x=", "=1", "None", "null",
                "true", "[]", "{}", "%s%n", "$(echo x)", "../../etc/passwd", "\t\n", "é" * 50,
                "18446744073709551616", "-9223372036854775809", "1.5", "1e3", "off", "OFF"]
HOSTILE_NUMBERS = ["0", "-1", "1", "2", "1.5", "-0", "1e9", "1e400", "nan", "inf", str(1 << 31),
                   str(1 << 32), str(1 << 63), str(1 << 64), str(10 ** 30), "9" * 400, "x", ""]
SIZES = ["0", "1", "64K", "65535", "1M", "8M", "1.5M", "1G", "2T", "1000000T", "1e3M", "-4M",
         "4 M", "4MiB", "4mb", "4Q", "9" * 400 + "T", "0.0001K", "nan"]


def text_values():
    return st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=30),
                     st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8))


def key_value(what):
    """KEY=VALUE for --param/--opt: known keys (so values reach validation) and junk."""
    keys = set()
    for entries in (registry.workloads(), registry.collectors()):
        for entry in entries.values():
            keys.update(entry.specs)
    key = st.one_of(st.sampled_from(sorted(keys)), text_values())
    value = st.one_of(st.sampled_from(HOSTILE_NUMBERS + HOSTILE_TEXT), text_values())
    return st.one_of(st.builds(lambda k, v: f"{k}={v}", key, value), text_values())


def value_strategy(dest, choices, files):
    """Values for the flag whose argparse `dest` is given."""
    if choices:
        known = st.sampled_from(sorted(map(str, choices)))
        return st.one_of(known, known, text_values())
    if dest == "collector":
        return st.one_of(st.sampled_from(sorted(registry.collectors())), text_values())
    if dest == "workload":
        return st.one_of(st.sampled_from(sorted(registry.workloads())), text_values())
    if dest in ("param", "opt"):
        return key_value(dest)
    if dest == "heap":
        return st.one_of(st.sampled_from(SIZES), text_values())
    if dest in ("seed", "gogc", "stress"):
        return st.one_of(st.sampled_from(HOSTILE_NUMBERS), text_values())
    if dest in ("json", "timeline", "output"):
        # never real devices as outputs: a bug there would replace /dev/null for the whole
        # machine (outputs are renamed into place); the FIFO stands for them
        return st.sampled_from(sorted(output_paths(files)))
    if dest in ("result", "trace") or "file" in dest or "path" in dest:
        return st.sampled_from(sorted(files.values()))
    return st.one_of(text_values(), st.sampled_from(sorted(files.values())))


def argv_strategy(command, files):
    flags, positionals = command_specs()[command]

    def one_flag(spec):
        options, takes_value, choices, dest = spec
        option = st.sampled_from(options)
        if not takes_value:
            return option.map(lambda o: [o])
        return st.tuples(option, value_strategy(dest, choices, files)).map(list)

    flag_lists = st.lists(st.sampled_from(flags).flatmap(one_flag), max_size=6) if flags else st.just([])
    pos = st.tuples(*[value_strategy(p, None, files) for p in positionals]).map(list)
    junk = st.lists(text_values(), max_size=2)

    def assemble(parts):
        flag_list, positional, extra, collector, workload = parts
        argv = [command]
        chosen = {item[0] for item in flag_list}
        if command in ("run", "record", "minheap"):
            argv += ["-c", collector]
            # the workload comes from exactly one of --workload / --workload-file / --trace
            if not chosen & {"--trace", "--workload-file"}:
                argv += small_prefix(workload)
            if command == "record":
                argv += ["-o", os.path.join(files["directory"], "fuzz.trace")]
        for item in flag_list:
            argv += item
        return argv + positional + extra

    collectors = st.sampled_from(sorted(registry.collectors()))
    workloads = st.sampled_from(sorted(registry.workloads()))
    return st.tuples(flag_lists, pos, st.one_of(st.just([]), junk), collectors,
                     workloads).map(assemble)


def output_paths(files):
    return [path for name, path in files.items() if not name.startswith("dev_")]


def call_main(argv):
    """(exit code, stdout, stderr) of gcbench.cli.main(argv), in this process."""
    out, err = io.StringIO(), io.StringIO()
    fired = threading.Event()

    def interrupt():
        fired.set()
        os.kill(os.getpid(), signal.SIGINT)

    watchdog = threading.Timer(WATCHDOG_S, interrupt)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            watchdog.start()
            try:
                code = cli.main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
            finally:
                watchdog.cancel()
    except KeyboardInterrupt:
        # the watchdog fired just after main returned
        assert fired.is_set()
        code = 130
    return code, out.getvalue(), err.getvalue()


PROBE_LINE = re.compile(r"^\s+[\d.]+ (B|[KMG]iB) \(\d+ bytes\): (completes|heap exhausted) \(")


def check_outcome(argv, code, stderr):
    assert code in (0, 1, 2, 130), (argv, code, stderr)
    assert "Traceback" not in stderr, (argv, stderr)
    # the CLI turns an unexpected exception into one line; for the fuzzer it is still a bug
    assert "internal error" not in stderr, (argv, stderr)
    if code in (1, 2, 130):
        # (minheap's progress, one line per finished probe, comes before an interrupt)
        lines = [line for line in stderr.strip("\n").split("\n") if not PROBE_LINE.match(line)]
        assert len(lines) == 1 and lines[0].startswith("gcbench"), (argv, code, stderr)


@pytest.fixture(scope="module", autouse=True)
def bounded_address_space():
    # A safety net for the machine: an input path that makes a command read without end
    # (a device, a FIFO) ends in MemoryError here instead of the machine's OOM killer.
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    cap = mapped + (6 << 30)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return hostile_files(tmp_path_factory.mktemp("hostile"))


def hostile_files(tmp):
    """Paths of every kind a file argument may get: name -> path."""
    tmp = str(tmp)
    result = gcbench.run("marksweep", "churn", params={"live_objects": 200, "ops": 3000}, heap="8M")
    paths = {"missing": os.path.join(tmp, "missing.json"),
             "missing_dir": os.path.join(tmp, "no", "such", "dir", "x.json"),
             "directory": tmp,
             "dev_null": "/dev/null",
             "dev_zero": "/dev/zero",
             "nul_in_name": os.path.join(tmp, "a\0b.json"),
             "long_name": os.path.join(tmp, "x" * 300)}

    def write(name, data, mode="w"):
        path = os.path.join(tmp, name)
        with open(path, mode) as f:
            f.write(data)
        paths[name] = path

    paths["fifo"] = os.path.join(tmp, "fifo")
    os.mkfifo(paths["fifo"])
    write("empty.json", "")
    write("binary.json", bytes(range(256)) * 4, "wb")
    write("latin1.json", "\xe9\xff".encode("latin-1"), "wb")
    write("truncated.json", json.dumps(result)[:500])
    write("deep.json", "[" * 100000 + "]" * 100000)
    write("null.json", "null")
    write("list_empty.json", "[]")
    write("list_junk.json", "[1, 2, 3]")
    write("object_empty.json", "{}")
    write("fake.gz", "not gzip")
    write("valid.json", json.dumps(result))
    write("valid_list.json", json.dumps([result, result]))
    # workload files (TOML) and traces
    write("bad.toml", "[[[")
    write("wrong_type.toml", "workload = 5\n")
    write("unknown_workload.toml", 'workload = "nosuch"\n')
    write("huge_param.toml", 'workload = "churn"\n[params]\nlive_objects = 1e400\n')
    write("string_param.toml", 'workload = "churn"\n[params]\nops = "100"\n')
    write("bad_key.toml", 'workload = "churn"\nbogus = 1\n[params]\nnosuch = 1\n')
    write("small.toml", 'workload = "churn"\n[params]\nlive_objects = 100\nops = 1000\n')
    write("trace_junk.trace", "# gcbench trace 1\nalloc 0 1 8\nstore 0 0 0\nbogus 1 2\n")
    write("trace_huge.trace", "# gcbench trace 1\nalloc 0 99999999999 8\n")
    write("trace_roots.trace", "# gcbench trace 1\nalloc 300 1 8\nload 1 2 5\n")
    write("trace_noheader.trace", "alloc 0 1 8\n")
    write("trace_magic.bin", b"GCBTRACE" + bytes(range(64)), "wb")
    try:
        from gcbench.runs.config import make_config
        from gcbench.runs.record import record
        real = os.path.join(tmp, "real.bin")
        record(make_config("marksweep", "churn", params={"live_objects": 50, "ops": 200}, heap="8M"),
               real, fmt=None)
        paths["real.bin"] = real
        with open(real, "rb") as f:
            data = f.read()
        write("trace_truncated.bin", data[: len(data) // 2 + 3], "wb")
    except ImportError:
        pass
    write("pyperf_junk.json", json.dumps({"version": "1.0", "benchmarks": [{"x": 1}]}))
    write("pyperf_nofile.json", json.dumps({"version": "1.0", "benchmarks": []}))
    # real results with one field damaged, each way
    damages = [None, "x", -1, 0, [], {}, [None], ["x"], 1e308, {"p50": "x"}]
    for key in ("pauses_ns", "pause_starts_ns", "wall_s", "cycle_log", "summary", "heap_bytes",
                "collector", "opts", "params", "gogc", "pause_kinds", "workload", "cycles"):
        for i, bad in enumerate(damages):
            damaged = copy.deepcopy(result)
            damaged[key] = bad
            write(f"damaged_{key}_{i}.json", json.dumps(damaged))
    damaged = copy.deepcopy(result)
    for entry in damaged["cycle_log"]:
        entry["live_bytes"] = "lots"
    write("damaged_cycle_entries.json", json.dumps(damaged))
    paths["output_in_file"] = os.path.join(paths["valid.json"], "sub")
    return paths


# GCBENCH_FUZZ_EXAMPLES=2000 GCBENCH_FUZZ_RANDOM=1 for a longer hunt than CI's
FUZZ = settings(max_examples=int(os.environ.get("GCBENCH_FUZZ_EXAMPLES", 60)), deadline=None,
                derandomize=not os.environ.get("GCBENCH_FUZZ_RANDOM"), database=None,
                suppress_health_check=list(HealthCheck))


def fuzz_command(command, files, data):
    argv = data.draw(argv_strategy(command, files))
    code, _, stderr = call_main(argv)
    check_outcome(argv, code, stderr)


@pytest.mark.parametrize("command", sorted(command_specs()))
def test_every_command_is_fuzzed(command, files):
    @FUZZ
    @given(st.data())
    def fuzz(data):
        fuzz_command(command, files, data)
    fuzz()


def test_every_damaged_result_file(files, tmp_path):
    # exhaustively, not by chance: each hostile file through each file-reading command
    for name, path in sorted(files.items()):
        if name.startswith("valid") or name.startswith("output"):
            continue
        for command in ("plot", "report", "compare"):
            if command not in command_specs():
                continue
            argv = [command, path] if command == "compare" else [command, path, "-o", str(tmp_path)]
            if command == "plot":
                argv += ["--kind", "pauses"]
            code, _, stderr = call_main(argv)
            check_outcome(argv, code, stderr)
            assert code in (0, 2), (argv, code, stderr)


@pytest.mark.parametrize("argv, fragment", [
    (["run", "-c", "marksweep", "-w", "churn", "--heap", "9" * 400 + "T"], "heap size"),
    (["run", "-c", "marksweep", "-w", "churn", "--heap", "1000000T"], "exceeds this machine's memory"),
    (["run", "-c", "marksweep", "-w", "churn", "--seed", "-5"], "seed"),
    (["run", "-c", "marksweep", "-w", "churn", "--param", "ops=1e400"], "ops"),
    (["run", "-c", "marksweep", "-w", "churn", "--json", "/no/such/dir/r.json"], "--json"),
    (["run", "-c", "marksweep", "-w", "churn", "--timeline", "/"], "--timeline"),
    (["plot", "/dev/zero"], "/dev/zero"),
    # a FIFO stands for a device (/dev/null): never test with a real one, a regression
    # would replace the machine's device node
    (["run", "-c", "marksweep", "-w", "churn", "--json", "FIFO"], "not a regular file"),
    (["report", "/no/such/file.json"], "no such file"),
    (["run", "-c", "nosuch", "-w", "churn"], "nosuch"),
])
def test_malformed_inputs_in_a_real_process(argv, fragment, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    argv = [str(fifo) if a == "FIFO" else a for a in argv]
    proc = run_cli(*argv, timeout=60)
    assert proc.returncode == 2, (argv, proc.returncode, proc.stderr)
    assert proc.stderr.count("\n") == 1 and fragment in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_sizes_beyond_the_heap_fail_quickly_before_or_without_allocating():
    # more live objects than the heap can hold: heap exhausted (exit 1) in well under a
    # second, not a hang, a crash or the machine's memory
    cases = [("churn", {"live_objects": 134_000_000, "ops": 0}),
             ("churn", {"live_objects": 10_000_000, "ops": 1, "max_payload": 1 << 20,
                        "min_payload": 1 << 20}),
             ("binary-trees", {"array_len": 100_000_000, "long_lived_depth": 2, "max_depth": 4}),
             ("binary-trees", {"long_lived_depth": 24, "max_depth": 4}),
             ("server", {"cache_objects": 50_000_000, "requests": 1}),
             ("server", {"buffer_bytes": 1 << 24, "requests": 10})]
    for workload, params in cases:
        argv = ["run", "-c", "marksweep", "-w", workload, "--heap", "8M"]
        for k, v in params.items():
            argv += ["--param", f"{k}={v}"]
        code, _, stderr = call_main(argv)
        check_outcome(argv, code, stderr)
        assert code == 1 and "heap exhausted" in stderr, (argv, code, stderr)


@pytest.mark.parametrize("collector", ["nogc", "malloc", "boehm"])
def test_every_collector_bounds_a_huge_live_set_by_the_heap(collector):
    entry = registry.collectors().get(collector)
    if entry is None or not entry.available:
        pytest.skip(f"{collector} not available")
    argv = ["run", "-c", collector, "-w", "churn", "--heap", "8M", "--param",
            "live_objects=1000000", "--param", "ops=0", "--param", "mutate_fraction=0"]
    if entry.constraints.one_run_per_process:
        # libgc keeps one heap per process and never shrinks it: after the fuzzing's
        # in-process boehm runs, an 8M limit is below the heap it already holds
        proc = run_cli(*argv)
        # libgc's own "GC Warning: Out of Memory!" (C, on fd 2; in-process it is not captured)
        code = proc.returncode
        stderr = "".join(line for line in proc.stderr.splitlines(True)
                         if not line.startswith("GC Warning:"))
    else:
        code, _, stderr = call_main(argv)
    check_outcome(argv, code, stderr)
    assert code == 1 and "heap exhausted" in stderr, (argv, code, stderr)


def test_every_hostile_file_as_a_workload_file_or_trace(files, tmp_path):
    # exhaustively: each hostile file in each input-file flag of run and record
    specs = command_specs()
    uses = []
    for command in ("run", "record"):
        dests = {spec[3]: spec[0][0] for spec in specs.get(command, ([], []))[0]}
        for dest in ("workload_file", "trace"):
            if dest in dests:
                uses.append((command, dests[dest]))
    assert uses, "no input-file flags found"
    for name, path in sorted(files.items()):
        for command, flag in uses:
            argv = [command, "-c", "marksweep", flag, path, "--heap", "8M"]
            if command == "record":
                argv += ["-o", str(tmp_path / "out.trace")]
            code, _, stderr = call_main(argv)
            check_outcome(argv, code, stderr)


def test_every_hostile_path_as_every_output(files, tmp_path):
    # exhaustively: each hostile path as each output of each command; a refused output
    # leaves no temporary file behind
    valid = files["valid.json"]
    outputs = [["run", "-c", "marksweep"] + small_prefix("churn") + ["--json"],
               ["run", "-c", "marksweep"] + small_prefix("churn") + ["--timeline"],
               ["record", "-c", "marksweep"] + small_prefix("churn") + ["-o"],
               ["plot", valid, "--kind", "pauses", "-o"],
               ["report", valid, "-o"]]
    for name, path in sorted(files.items()):
        if name.startswith("valid") or name.startswith("dev_"):
            continue
        for prefix in outputs:
            if prefix[0] not in command_specs():
                continue
            argv = prefix + [path]
            code, _, stderr = call_main(argv)
            check_outcome(argv, code, stderr)
    leftovers = [n for n in os.listdir(files["directory"]) if ".tmp" in n]
    assert leftovers == []


# ---------------------------------------------------------------- near the limits
# Valid-looking input that sits at the kernel's and the harness's limits: object sizes
# near 2^32 and 1 GiB, huge slot counts, seeds near 2^64, numbers past Python's 4300
# digits, long names, several writers of one file.  Generated, so that the next case of
# each class (issue 13) is found by the fuzzer rather than by a user.

# 8 + 8 * NPTR + SIZE around the 32-bit wrap and the kernel's 1 GiB bound (MAX_OBJECT_BYTES)
NEAR_LIMIT_U32 = [0, 1, 2, 7, 8, 4096, 32760, 32768, 134217726, 134217727, 134217728,
                  (1 << 29) - 1, 1 << 29, 536869888, 536869889, (1 << 30) - 16, (1 << 30) - 8,
                  1 << 30, (1 << 31) - 1, 1 << 31, (1 << 32) - 9, (1 << 32) - 8, (1 << 32) - 1]
TRACE_FUZZ = settings(max_examples=int(os.environ.get("GCBENCH_FUZZ_EXAMPLES", 40)), deadline=None,
                      derandomize=not os.environ.get("GCBENCH_FUZZ_RANDOM"), database=None,
                      suppress_health_check=list(HealthCheck))


def near_limit_numbers():
    return st.one_of(st.sampled_from(NEAR_LIMIT_U32), st.integers(0, (1 << 32) - 1),
                     st.integers(0, 64))


def trace_lines():
    root = st.integers(0, 3)
    return st.one_of(
        st.builds(lambda r, n, s: f"alloc {r} {n} {s}", root, near_limit_numbers(), near_limit_numbers()),
        st.builds(lambda r, n, s: f"store {r} {n} {s}", root, near_limit_numbers(),
                  st.one_of(root.map(str), st.just("-"))),
        st.builds(lambda r, s, n: f"load {r} {s} {n}", root, root, near_limit_numbers()),
        st.builds(lambda r: f"clear {r}", root),
        st.just("gc"),
        st.builds(lambda n: f"tick {n}", st.integers(1, 1000)))


@TRACE_FUZZ
@given(lines=st.lists(trace_lines(), min_size=1, max_size=12),
       collector=st.sampled_from(["nogc", "marksweep", "tricolor", "malloc"]),
       binary=st.booleans())
def test_valid_looking_traces_near_the_size_limits(tmp_path_factory, lines, collector, binary):
    # every such trace is refused in one line (exit 2), fails as a run (heap exhausted,
    # exit 1) or replays: never a crash (a crash here takes the test process down)
    entry = registry.collectors().get(collector)
    if entry is None or not entry.available:
        return
    from gcbench.io.traces import parse_text, write_trace
    from gcbench.errors import UsageError
    tmp = tmp_path_factory.mktemp("traces")
    text = "# gcbench trace 1\nroots 4\n" + "\n".join(lines) + "\n"
    path = tmp / "t.trace"
    path.write_text(text)
    if binary:
        try:
            trace = parse_text(str(path), text.encode())
        except UsageError:
            return
        path = tmp / "t.bin"
        write_trace(str(path), trace.records, "binary")
    for command in (["run", "-c", collector, "--trace", str(path), "--heap", "8M", "--verify"]
                    if entry.constraints.supports_verify else
                    ["run", "-c", collector, "--trace", str(path), "--heap", "8M"],):
        code, _, stderr = call_main(command)
        check_outcome(command, code, stderr)


class Raw(str):
    """A TOML token written as it is (an integer past Python's 4300-digit str() limit)."""


BIG = Raw("9" * 5000)
SUITE_VALUES = {
    "heap": ["8M", "8192K", "2x", "2.0x", "1x", "100x", "101x", "0.5x", "1000000000x", "9" * 400 + "x",
             "9" * 5000, BIG, 9 * 10 ** 40, 1 << 62, "64K", "1T", -1, 0, 1.5, True, [], {}],
    "seeds": [0, 1, (1 << 64) - 1, 1 << 64, -1, int("9" * 100), BIG, "1", 1.0, True],
    "gogc": [0, 100, "off", "OFF", 1_000_000, 1_000_001, -1, "9" * 5000, [], 1.5],
    "param": [0, 1, -1, 1_000, "1_000", "yes", True, 1e400, 1.5, 10 ** 30, int("9" * 100), BIG, "x" * 300, [], {}],
    "workload": ["churn", "server", "binary-trees", "*", "trace-replay", "nosuch", "", 5],
    "fast_workloads": [["churn"], [["churn"]], [{}], [5], ["nosuch"], []],
    "name": ["tiny", "x" * 300, "a/b", "..", "", "ok-name.1"],
}
PARAM_KEYS = ["ops", "live_objects", "min_payload", "max_payload", "cache_keep", "small_objects",
              "rate", "pool", "requests", "path", "min_depth", "max_depth", "modules", "nosuch"]


def toml_value(value):
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "inf" if value == float("inf") else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


@st.composite
def suite_texts(draw):
    pick = lambda key: draw(st.sampled_from(SUITE_VALUES[key]))     # noqa: E731
    params = {k: pick("param") for k in draw(st.lists(st.sampled_from(PARAM_KEYS), max_size=3, unique=True))}
    lines = [f"name = {toml_value(pick('name'))}",
             f"heap = {toml_value(draw(st.lists(st.sampled_from(SUITE_VALUES['heap']), min_size=1, max_size=3)))}",
             f"seeds = {toml_value(draw(st.lists(st.sampled_from(SUITE_VALUES['seeds']), min_size=1, max_size=2)))}",
             f"gogc = {toml_value([pick('gogc')])}",
             "[[collector]]", 'name = "marksweep"',
             "[[workload]]", f"name = {toml_value(pick('workload'))}",
             f"params = {toml_value(params)}"]
    if draw(st.booleans()):
        lines += ["[fast]", f"workloads = {toml_value(pick('fast_workloads'))}"]
    if draw(st.booleans()):
        depth = draw(st.sampled_from([1, 10, 2000]))
        lines.insert(1, "description = " + json.dumps("d") if depth == 1 else
                     "heap = " + "[" * depth + "]" * depth)
    return "\n".join(lines) + "\n"


@FUZZ
@given(text=suite_texts())
def test_suite_files_near_the_limits_are_checked_in_one_line(text):
    # the whole file is checked before anything runs: a Suite, or one UsageError line
    from gcbench.errors import UsageError
    from gcbench.suite import suitefile
    try:
        suite = suitefile.parse(text, "fuzz.toml")
    except UsageError as exc:
        assert "\n" not in str(exc), str(exc)
        return
    for config in suite.configurations():
        assert config.name and len(config.slug) < 200


@FUZZ
@given(sizes=st.lists(st.integers(0, 200_000), min_size=2, max_size=6))
def test_concurrent_writers_of_one_file(tmp_path_factory, sizes):
    # several writers of one output (two suites, a suite and a report): the file is always
    # one writer's whole content, and no temporary file is left
    from gcbench.io.atomic import write_text_atomic
    tmp = tmp_path_factory.mktemp("writers")
    target = tmp / ("o" * 240 + ".json")
    contents = [str(i) * size for i, size in enumerate(sizes)]
    threads = [threading.Thread(target=write_text_atomic, args=(target, c)) for c in contents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_text() in contents
    assert os.listdir(tmp) == [target.name]
