"""One suite configuration under pyperf: `python -m gcbench.pyperf_worker SPEC.json [pyperf options]`.

`gcbench suite` starts this once per configuration.  SPEC.json holds the benchmark name,
the run configuration (runner.prepare's dict), the metadata, pyperf's settings and where
to write the run file.  Started without --worker (the pyperf "main" process) it:

1. runs the configuration once and writes the full result dictionary to the run file (the
   recorded run: its pauses become the pause benchmark, its events the charts); a run
   that fails writes {"failed": true, "error": ...} there instead and exits with code 3
   (4 when the collector or workload refuses the combination: "applicable": false),
   before any worker is spawned;
2. hands over to pyperf.Runner, which spawns worker processes (this module again, with
   --worker) for calibration, warm-ups and values, and writes the throughput benchmark
   to the file given with -o.

Each pyperf value is the wall time of one native run as the kernel measures it
(runner.run_prepared's wall_s: from the workload's first operation to its last, GC
included), summed over pyperf's loops.  Heap creation and reading results are not timed:
they are the harness's cost, not the collector's.
"""
import json
import sys

EXIT_RUN_FAILED = 3
EXIT_NOT_APPLICABLE = 4


def time_runs(loops, config):
    from gcbench.runner import run_prepared
    total = 0.0
    for _ in range(loops):
        total += run_prepared(config)["wall_s"]
    return total


def recorded_run(spec):
    """Run once and write the run file; returns 0 or the exit code of a failure."""
    from gcbench.atomic import write_json_atomic
    from gcbench.errors import RunError, UsageError
    from gcbench.runner import run_prepared
    try:
        result = run_prepared(spec["config"])
    except (RunError, UsageError) as exc:
        # a UsageError here is a combination the collector or workload refuses (the suite
        # file was validated): the configuration does not apply, it did not fail
        applies = isinstance(exc, RunError)
        write_json_atomic(spec["run_file"], {"failed": True, "applicable": applies, "error": str(exc),
                                             "error_kind": getattr(exc, "kind", "usage"),
                                             "name": spec["name"], **spec["config"]})
        print(f"{spec['name']}: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED if applies else EXIT_NOT_APPLICABLE
    result["name"] = spec["name"]
    write_json_atomic(spec["run_file"], result)
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: python -m gcbench.pyperf_worker SPEC.json [pyperf options]", file=sys.stderr)
        return 2
    spec_path = argv[0]
    with open(spec_path) as f:
        spec = json.load(f)

    import pyperf
    settings = spec.get("settings", {})
    runner = pyperf.Runner(
        processes=settings.get("processes"), values=settings.get("values"),
        warmups=settings.get("warmups", 1), min_time=settings.get("min_time", 0.1),
        loops=settings.get("loops", 0),
        # the workers re-run this module with the same spec (pyperf puts the python first)
        program_args=("-m", "gcbench.pyperf_worker", spec_path))
    runner.argparser.add_argument("spec_path")
    args = runner.parse_args([*argv[1:], spec_path])
    if not args.worker:
        code = recorded_run(spec)
        if code:
            return code
    runner.bench_time_func(spec["name"], time_runs, spec["config"], metadata=spec["metadata"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
