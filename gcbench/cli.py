"""The `gcbench` command: parse the command line, call the rooms, print what they return.

Exit codes: 0 success, 1 a run failed (heap exhausted, heap corruption), 2 bad input,
130 interrupted.  Errors are one line on stderr, never a traceback.

Each command builds its run configuration with run.config.make_config, runs through the
run or suite room, reads and writes files through the io room and prints through
report.format.  This module formats no result and validates no value itself.
"""
import argparse
import os
import sys

from . import __version__, registry
from .errors import Interrupted, RunError, UsageError
from .units import check_output_file, parse_key_values


def one_line(text):
    """`text` with control and line-break characters escaped, so that an error message
    quoting hostile input is still one line."""
    import unicodedata
    return "".join(repr(ch)[1:-1] if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
                   for ch in str(text))


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # one line, exit code 2 (argparse's default prints the usage as well)
        self.exit(2, f"{self.prog}: error: {one_line(message + _registry_hint(message))}\n")


def _choices_hint(message):
    """For a missing --collector or --workload: the names to choose from."""
    if "required" not in message:
        return ""
    hints = []
    if "--collector" in message:
        names = [e.name for e in registry.collectors().values() if e.available]
        hints.append(f"collectors: {', '.join(names)}")
    if "--workload" in message:
        hints.append(f"workloads: {', '.join(registry.workloads())}")
    return f" ({'; '.join(hints)}; see `gcbench list`)" if hints else ""


def _registry_hint(message):
    try:
        return _choices_hint(message)
    except Exception:         # uncompiled kernels: the bare message, not a traceback
        return ""


def _add_run_config(p, workload_file=False, collector_default=None,
                    heap_help="heap (arena) size: bytes, or a number with K, M, G (default 256M)"):
    """The flags that say what to run: run, record and minheap share them.  With
    workload_file the workload may come from --workload-file instead of --workload; with
    collector_default the collector is optional (and -o is left to the command's output)."""
    if collector_default is None:
        p.add_argument("--collector", "-c", required=True, metavar="NAME",
                       help="collector to run (see `gcbench list`)")
    else:
        p.add_argument("--collector", "-c", default=collector_default, metavar="NAME",
                       help=f"collector to run (see `gcbench list`; default {collector_default})")
    p.add_argument("--workload", "-w", required=not workload_file, metavar="NAME",
                   help="workload to run (see `gcbench list`)")
    if workload_file:
        p.add_argument("--workload-file", metavar="FILE.toml",
                       help="take the workload, its parameters and optionally the seed from a "
                            "TOML file (see gcbench/runs/workload_file.py); --param values override "
                            "the file's")
    p.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                   help="workload parameter; repeat for several (defaults in `gcbench list`)")
    p.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                   help="collector option, e.g. barrier=hybrid; repeat for several")
    if collector_default is None:
        # -o names the output in every command; `-o KEY=VALUE` (an option) is the old
        # spelling of --opt, kept for a release with a deprecation message (_take_dash_o)
        p.add_argument("-o", dest="dash_o", action="append", default=[], metavar="FILE",
                       help="the output file (run: as --json); -o KEY=VALUE, the old "
                            "spelling of --opt, still works and is deprecated")
    p.add_argument("--seed", default=None, metavar="N",
                   help="seed of every random choice the workload makes (default 1)")
    p.add_argument("--heap", default="256M", metavar="SIZE",
                   help=heap_help)
    p.add_argument("--gogc", default="100", metavar="N|off",
                   help="GOGC: next heap goal = live * (1 + N/100); 'off' collects only "
                        "when the heap is full (default 100)")
    p.add_argument("--memlimit", default=None, metavar="SIZE",
                   help="GOMEMLIMIT: a soft memory limit (bytes, or a number with K, M, G): the heap "
                        "goal is at most what fits under it (with GOGC off, the only goal); the GC "
                        "CPU limiter keeps collection near 50%% of CPU when it is too small")
    p.add_argument("--procs", default=None, metavar="N",
                   help="GOMAXPROCS: the number of Ps; sets the mark workers' utilization as Go "
                        "computes it for N Ps and shows as `N P` in --gctrace (default: this "
                        "machine's cores)")


def build_parser():
    parser = _Parser(prog="gcbench", description=(
        "A garbage-collector laboratory: real collectors compiled with Cython, run under "
        "seeded workloads, with pause times, throughput and heap cost measured in the kernel."))
    parser.add_argument("--version", action="version", version=f"gcbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("list", help="list collectors and workloads with their options and defaults",
                   description="List every collector (with its --opt options) and every workload "
                               "(with its --param parameters and their defaults).")

    p = sub.add_parser("run", help="run one workload under one collector and print a summary",
                       description="Run one workload under one collector and print a summary: "
                                   "cycles, pauses, total STW time, throughput, GC CPU fraction, "
                                   "peak heap.")
    _add_run_config(p, workload_file=True)
    p.add_argument("--trace", metavar="FILE",
                   help="replay an operation trace (text or binary, see `gcbench record`) instead "
                        "of a workload; the result adds gc_live_objects and gc_live_bytes")
    p.add_argument("--verify", action="store_true",
                   help="check the whole heap after every cycle (reachable objects allocated and "
                        "intact, accounting balanced); a violation fails the run with exit code 1")
    p.add_argument("--stress", default="0", metavar="N",
                   help="stress mode (as MMTk's stress factor): force a collection every N "
                        "allocations (a concurrent collector starts a cycle), so that barrier and "
                        "root bugs show up in small runs; collectors that never collect (nogc, malloc) "
                        "ignore it; 0 (default) is off")
    p.add_argument("--checkmark", action="store_true",
                   help="after every concurrent mark, re-mark from the roots with the world "
                        "stopped and fail the run (exit 1) if the concurrent mark missed a "
                        "reachable object (Go's GODEBUG=gccheckmark=1); a no-op for collectors "
                        "without concurrent marking (nogc, marksweep, malloc, boehm)")
    p.add_argument("--gctrace", action="store_true",
                   help="print one Go-style gctrace line per cycle to stderr")
    p.add_argument("--memstats", action="store_true",
                   help="print runtime.MemStats-like totals after the run, and the runtime/metrics "
                        "values (/gc/heap/goal:bytes, /gc/heap/live:bytes, /gc/cycles/total:gc-cycles, "
                        "/gc/gomemlimit:bytes, /cpu/classes/gc/total:cpu-seconds, "
                        "/sched/pauses/total/gc:seconds)")
    p.add_argument("--json", "--output", dest="json", metavar="PATH",
                   help="write the full result as JSON to PATH (also -o PATH)")
    p.add_argument("--timeline", metavar="FILE.json",
                   help="write the run's events (pauses by kind, cycles, mark/sweep phases, heap "
                        "counters) as a Chrome trace that Perfetto and chrome://tracing open")

    p = sub.add_parser("record", help="run a workload and write its operation stream as a trace",
                       description="Run a workload with recording on and write every mutator "
                                   "operation (alloc, store, load, clear, gc, gset, gget, tick) as "
                                   "a trace that `gcbench run --trace` replays bit for bit.")
    # (the operation stream does not depend on the collector, hence a default)
    _add_run_config(p, workload_file=True, collector_default="marksweep")
    p.add_argument("--output", "-o", required=True, metavar="FILE",
                   help="trace file to write (binary if it ends in .bin or .gcbt, else text)")
    p.add_argument("--format", choices=("text", "binary"), help="trace format (overrides the extension)")
    p.set_defaults(trace=None)       # run's --trace: record has none

    p = sub.add_parser("suite", help="run a benchmark suite under pyperf (no file: the default suite)",
                       description="Run every configuration of a suite file (TOML: workloads x "
                                   "collectors x heap sizes x GOGC x seeds) in pyperf worker "
                                   "processes and write one pyperf JSON file, a run file per "
                                   "configuration and a summary.  Without FILE, the built-in "
                                   "default suite: every collector on the standard workloads at "
                                   "two heap sizes, under results/<date-time>/.")
    p.add_argument("file", nargs="?", metavar="FILE.toml", help="suite file (default: the built-in suite)")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="suite JSON file, or a directory for suite.json "
                        "(default results/<date-time>/suite.json)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fast", action="store_true",
                      help="rough figures quickly: the suite's [fast] table, else pyperf's --fast")
    mode.add_argument("--rigorous", action="store_true",
                      help="more worker processes: the suite's [rigorous] table, else pyperf's --rigorous")
    p.add_argument("--resume", action="store_true",
                   help="complete an interrupted suite (the file given with -o, else the newest "
                        "unfinished one under results/), running only the configurations it lacks")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run each configuration as a task on a Dask cluster: a scheduler address "
                        "(tcp://host:8786; workers started with --nthreads 1 --resources bench=1) "
                        "or local[:N] for a LocalCluster of N workers here (default 2); "
                        "needs pip install 'gcbench[dask]'")
    p.add_argument("--order-seed", type=int, metavar="N",
                   help="seed of the configurations' random order (default: drawn and recorded "
                        "in the status file and the metadata gcbench_order_seed)")

    p = sub.add_parser("minheap", help="find the smallest heap in which a workload completes",
                       description="Bisect the heap size (to the page) for the smallest heap in "
                                   "which the workload completes under the collector.  The last "
                                   "line of output ends with the size in bytes.")
    _add_run_config(p, heap_help="the first heap size tried: bytes, or a number with K, M, G "
                                 "(default 64M); the search goes down or up from it")
    p.set_defaults(heap="64M")

    p = sub.add_parser("compare", help="compare collectors across suite results in one table",
                       description="One table from suite JSON files: per configuration a row per "
                                   "collector (--wide: a column group per collector): time per run and its ratio to the "
                                   "baseline (t-test at 95 percent, n.s. when not significant), pause "
                                   "p50/p99/max, MMU at 10 ms, peak heap.")
    p.add_argument("files", nargs="+", metavar="FILE.json", help="suite JSON files written by gcbench suite")
    p.add_argument("--baseline", metavar="COLLECTOR",
                   help="collector the others are compared with (default marksweep, else the first)")
    p.add_argument("--format", default="text", choices=("text", "wide", "markdown", "csv"),
                   help="table format: text (default: a row per configuration and collector, "
                        "100 columns), wide (a column group per collector), markdown, csv")
    p.add_argument("--wide", action="store_const", dest="format", const="wide",
                   help="the wide text table: a row per configuration, a column group per collector")
    p.add_argument("--lbo", action="store_true",
                   help="instead: lower-bound overhead (LBO) per collector and heap size, for wall "
                        "and CPU time, against the minimum distilled cost over all collectors")
    p.add_argument("--across-machines", action="store_true",
                   help="results from different CPU models in one row, with ratios between them "
                        "(default: rows are split per machine and ratios stay within one CPU model)")
    _add_plot_commands(sub)
    return parser


def _add_plot_commands(sub):
    from .report.plots import FORMATS, KINDS
    p = sub.add_parser("plot", help="draw charts from a run's JSON or a suite's pyperf JSON",
                       description="Draw charts from RESULT.json (gcbench run --json, or a gcbench "
                                   "suite's pyperf JSON): pause distribution, timeline, MMU curves, "
                                   "throughput, time-space trade-off, request latency.  A kind whose "
                                   "data is absent is skipped with a message.")
    p.add_argument("result", metavar="RESULT.json", help="a run's or a suite's JSON")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="directory for the charts (default: the directory of RESULT.json)")
    p.add_argument("--kind", action="append", choices=KINDS, metavar="KIND",
                   help=f"chart to draw, repeat for several: {', '.join(KINDS)} (default: all)")
    p.add_argument("--format", default="png", choices=FORMATS, help="image format (default png)")
    p.add_argument("--baseline", metavar="SERIES",
                   help="series the throughput chart is relative to (default: nogc if present)")
    p = sub.add_parser("report", help="write report.html and report.md from a run's or a suite's JSON",
                       description="Write a self-contained report.html (charts embedded) and a "
                                   "report.md with the comparison table, the charts, the machine "
                                   "and software versions and the command that reproduces them.")
    p.add_argument("result", metavar="RESULT.json", help="a run's or a suite's JSON")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="directory for the report and its charts (default: the directory of RESULT.json)")


def cmd_list(args):
    from .report import format
    format.print_list(registry.collectors().values(), registry.workloads().values())
    return 0


def _workload_choice(args):
    """(workload, params, seed) from --workload / --workload-file / --trace."""
    from .runs import workload_file
    takes_trace = args.command == "run"
    given = [flag for flag, value in (("--workload", args.workload),
                                      ("--workload-file", args.workload_file),
                                      ("--trace", args.trace)) if value]
    if len(given) != 1:
        options = "--workload, --workload-file" + (", --trace" if takes_trace else "")
        if not given:
            raise UsageError(f"one of {options} is required")
        raise UsageError(f"give only one of {options} (got {' and '.join(given)})")
    params = parse_key_values(args.param, "--param")
    seed = args.seed
    if args.workload_file:
        spec = workload_file.load(args.workload_file)
        workload = spec["workload"]
        params = {**spec["params"], **params}
        if seed is None:
            seed = spec["seed"]
    elif args.trace:
        from .io.traces import load_trace
        if params:
            raise UsageError("--param does not apply to --trace")
        load_trace(args.trace)          # validate before anything runs
        workload = "trace-replay"
        params = {"path": os.path.abspath(args.trace)}
    else:
        workload = args.workload
    return workload, params, seed


DASH_O_DEPRECATED = ("gcbench: warning: -o {value} as a collector option is deprecated and "
                     "will be removed in the next release: use --opt {value} (-o names the "
                     "output file in every command)")


_DEPRECATIONS = []


def _print_deprecations():
    while _DEPRECATIONS:
        print(_DEPRECATIONS.pop(0), file=sys.stderr)


def _take_dash_o(args, output_flag=None):
    """-o values: KEY=VALUE (the old spelling of --opt) joins args.opt with a deprecation
    warning; anything else is the output file, set on `output_flag` (None: the command
    writes no file)."""
    for value in getattr(args, "dash_o", None) or []:
        if "=" in value and not value.lower().endswith((".json", ".json.gz")):
            # said once the command has run: bad input stays one line on stderr
            _DEPRECATIONS.append(DASH_O_DEPRECATED.format(value=one_line(value)))
            args.opt.append(value)
            continue
        if output_flag is None:
            raise UsageError(f"-o {value}: gcbench {args.command} writes no file (a collector "
                             f"option is --opt KEY=VALUE)")
        dest = output_flag.lstrip("-").replace("-", "_")
        if getattr(args, dest) not in (None, value):
            raise UsageError(f"-o {value} and {output_flag} {getattr(args, dest)}: give the "
                             f"output file once")
        setattr(args, dest, value)


def _config(args, workload, params=None, seed=None, **modes):
    """The RunConfig of run, record and minheap: their shared flags plus `modes`."""
    from .runs.config import make_config
    return make_config(args.collector, workload, params=params,
                       opts=parse_key_values(args.opt, "--opt"), seed=seed,
                       heap=args.heap, gogc=args.gogc, procs=args.procs, memlimit=args.memlimit,
                       **modes)


def cmd_run(args):
    from .io import store
    from .report import format, gotrace
    from .runs.runner import run_config
    _take_dash_o(args, "--json")
    if args.timeline:
        check_output_file(args.timeline, "--timeline")
    if args.json:
        check_output_file(args.json, "--json")
        if args.timeline and os.path.abspath(args.timeline) == os.path.abspath(args.json):
            raise UsageError("--json and --timeline name the same file")
    workload, params, seed = _workload_choice(args)
    config = _config(args, workload, params, seed, verify=args.verify, stress=args.stress,
                     checkmark=args.checkmark)
    from .report.progress import RunProgress
    with RunProgress(f"{config.collector} on {config.workload}") as progress:
        result = run_config(config, on_heap=progress.attach)
    if args.gctrace:
        for line in gotrace.gctrace_lines(result):
            print(line, file=sys.stderr)
    format.print_summary(result, registry.get_workload(result["workload"]).result_keys)
    if args.memstats:
        print("memstats:")
        for line in gotrace.format_memstats(gotrace.memstats(result)):
            print(line)
        if result.get("metrics"):
            print("runtime/metrics:")
            for line in gotrace.format_runtime_metrics(result["metrics"]):
                print(line)
    # both files or neither: an interrupt between them leaves nothing half-done
    from .io.atomic import AtomicGroup
    with AtomicGroup() as group:
        if args.json:
            store.dump_run(args.json, result, "--json", group=group)
        if args.timeline:
            from .report.timeline import write_trace
            try:
                write_trace(args.timeline, result, group=group)
            except OSError as exc:
                raise UsageError(f"cannot write --timeline {args.timeline}: {exc.strerror or exc}") from None
    return 0


def _output_dir(args):
    out = args.output or os.path.dirname(os.path.abspath(args.result))
    if "\0" in out:
        raise UsageError(f"-o {out!r}: not a valid directory name (NUL byte)")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"-o {out}: not a directory")
    return out


# load_results checks the keys every chart needs; a file that passes that check but has
# other fields damaged (hand-edited, another version's) must still end in one line, not a
# traceback from deep inside the charts.
_DAMAGED_RESULT_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError,
                          ZeroDivisionError, OverflowError)


def _damaged_result(path, exc):
    detail = " ".join(str(exc).split())[:120]
    return UsageError(f"{path}: damaged gcbench result ({type(exc).__name__}: {detail})")


def cmd_plot(args):
    from .io.store import load_results
    from .report.plots import render
    results = load_results(args.result)
    out = _output_dir(args)
    try:
        paths = render(results, out, kinds=args.kind, fmt=args.format, baseline=args.baseline)
    except OSError as exc:
        raise UsageError(f"cannot write charts to {out}: {exc.strerror or exc}") from None
    except UsageError:
        raise               # a bad choice (e.g. --baseline), already one line naming it
    except _DAMAGED_RESULT_ERRORS as exc:
        raise _damaged_result(args.result, exc) from None
    for path in paths:
        print(path)
    return 0


def cmd_report(args):
    from .io.store import load_results
    from .report.document import write_report
    results = load_results(args.result)
    out = _output_dir(args)
    try:
        html_path, md_path = write_report(results, out)
    except OSError as exc:
        raise UsageError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    except UsageError:
        raise
    except _DAMAGED_RESULT_ERRORS as exc:
        raise _damaged_result(args.result, exc) from None
    print(html_path)
    print(md_path)
    return 0



def cmd_record(args):
    check_output_file(args.output, "--output")
    from .report import format
    from .runs.record import record
    workload, params, seed = _workload_choice(args)
    refusal = registry.get_workload(workload).record_refusal
    if refusal:
        raise UsageError(f"cannot record workload {workload!r}: {refusal}")
    config = _config(args, workload, params, seed)
    result, records, fmt = record(config, args.output, fmt=args.format)
    print(format.recorded_line(result, records, args.output, fmt))
    return 0


def cmd_suite(args):
    from .suite import driver
    return driver.main(args)


def cmd_minheap(args):
    from .report import format
    from .runs import minheap
    _take_dash_o(args)
    config = _config(args, args.workload, parse_key_values(args.param, "--param"), args.seed)

    def on_probe(heap_bytes, completed, seconds):
        print(format.probe_line(heap_bytes, completed, seconds), file=sys.stderr, flush=True)

    found, search = minheap.find_min_heap(config, on_probe=on_probe)
    print(format.minheap_line(config, found, search))
    return 0


def cmd_compare(args):
    from .report import compare, format
    if args.format not in compare.FORMATS:
        raise UsageError(f"unknown format {args.format!r}; known: {', '.join(compare.FORMATS)}")
    if args.lbo:
        try:
            groups = compare.lbo_files(args.files)
        except _DAMAGED_RESULT_ERRORS as exc:
            raise _damaged_result(", ".join(args.files), exc) from None
        print(format.lbo_table(groups, args.format), end="")
        return 0
    table = compare.compare_files(args.files, baseline=args.baseline,
                                  across_machines=getattr(args, "across_machines", False))
    for note in table.notes:
        print(f"gcbench: warning: {one_line(note)}", file=sys.stderr)
    print(format.comparison_table(table, args.format), end="")
    return 0


COMMANDS = {"list": cmd_list, "run": cmd_run, "record": cmd_record, "plot": cmd_plot,
            "report": cmd_report, "suite": cmd_suite, "minheap": cmd_minheap, "compare": cmd_compare}


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    import signal
    import threading
    from .io.console import pipe_safe_streams
    # SIGTERM stops a command as Ctrl-C does (native runs: gcb_util.h), so that what it had
    # not finished writing is removed rather than left behind half-written
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        # output to a closed pipe is dropped, never fatal: every requested file is still written
        with pipe_safe_streams():
            return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv=None):
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        code = COMMANDS[args.command](args)
        _print_deprecations()
        return code
    except UsageError as exc:
        _DEPRECATIONS.clear()
        print(f"gcbench: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except Interrupted:
        print("gcbench: interrupted", file=sys.stderr)
        return 130
    except RunError as exc:
        _print_deprecations()
        print(f"gcbench: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gcbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except MemoryError:
        print("gcbench: out of memory (address-space limit or a machine too small for this input)",
              file=sys.stderr)
        return 1
    except RecursionError:
        print("gcbench: error: input nested too deeply", file=sys.stderr)
        return 2
    except Exception as exc:        # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get("GCBENCH_TRACEBACK"):
            raise
        print(f"gcbench: internal error: {type(exc).__name__}: {one_line(' '.join(str(exc).split())[:300])} "
              f"(GCBENCH_TRACEBACK=1 shows where)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
