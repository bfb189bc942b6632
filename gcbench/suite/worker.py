"""One suite configuration under pyperf: `python -m gcbench.suite.worker SPEC.json [pyperf options]`.

`gcbench suite` starts this once per configuration.  SPEC.json holds the benchmark name,
the run configuration (RunConfig.to_json), the metadata, pyperf's settings, where to write
the run file and where to write an error.  Started without --worker (the pyperf "main"
process) it:

1. runs the configuration once and writes the full result dictionary to the run file (the
   recorded run: its pauses become the pause benchmark, its events the charts); a run
   that fails writes a failure record there instead (io.store.write_failure) and exits
   with code 3 (4 when the collector or workload refuses the combination: "applicable":
   false), before any worker is spawned;
2. hands over to pyperf.Runner, which spawns worker processes (this module again, with
   --worker) for calibration, warm-ups and values, and writes the throughput benchmark
   to the file given with -o.  An exception in a worker is written to the spec's error
   file (io.store.write_worker_error) before pyperf reports the worker failed, so the
   suite reads why from there.

Each pyperf value is the wall time of one native run as the kernel measures it
(run.runner.run_config's wall_s: from the workload's first operation to its last, GC
included), summed over pyperf's loops.  Heap creation and reading results are not timed:
they are the harness's cost, not the collector's.  This module formats nothing.
"""
import json
import sys

EXIT_RUN_FAILED = 3
EXIT_NOT_APPLICABLE = 4


def time_runs(loops, config, error_file):
    from gcbench.errors import RunError, UsageError
    from gcbench.io.store import write_worker_error
    from gcbench.runs.runner import run_config
    total = 0.0
    try:
        for _ in range(loops):
            total += run_config(config)["wall_s"]
    except (RunError, UsageError) as exc:
        write_worker_error(error_file, str(exc))
        raise
    except Exception as exc:
        write_worker_error(error_file, f"{type(exc).__name__}: {exc}")
        raise
    return total


def recorded_run(spec, config):
    """Run once and write the run file; returns 0 or the exit code of a failure."""
    from gcbench.errors import RunError, UsageError
    from gcbench.io.store import dump_run, write_failure
    from gcbench.runs.runner import run_config
    try:
        result = run_config(config)
    except (RunError, UsageError) as exc:
        # a UsageError here is a combination the collector or workload refuses (the suite
        # file was validated): the configuration does not apply, it did not fail
        applies = isinstance(exc, RunError)
        write_failure(spec["run_file"], spec["name"], config.identity(), exc, applicable=applies,
                      kind=exc.kind if applies else "usage")
        print(f"{spec['name']}: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED if applies else EXIT_NOT_APPLICABLE
    result["name"] = spec["name"]
    dump_run(spec["run_file"], result, "run file")
    return 0


def main(argv=None):
    from gcbench.runs.children import die_with_parent
    # pyperf's main process and each of its workers: none outlives its parent, so a
    # killed suite leaves no worker running
    die_with_parent()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: python -m gcbench.suite.worker SPEC.json [pyperf options]", file=sys.stderr)
        return 2
    spec_path = argv[0]
    with open(spec_path) as f:
        spec = json.load(f)

    import pyperf
    from gcbench.errors import UsageError
    from gcbench.io.store import write_failure
    from gcbench.runs.config import IDENTITY_KEYS, RunConfig
    try:
        config = RunConfig.from_json(spec["config"])
    except UsageError as exc:
        # validated by the suite; refused here only by what this process lacks
        write_failure(spec["run_file"], spec["name"], {k: spec["config"][k] for k in IDENTITY_KEYS},
                      exc, applicable=False, kind="usage")
        print(f"{spec['name']}: {exc}", file=sys.stderr)
        return EXIT_NOT_APPLICABLE
    settings = spec.get("settings", {})
    runner = pyperf.Runner(
        processes=settings.get("processes"), values=settings.get("values"),
        warmups=settings.get("warmups", 1), min_time=settings.get("min_time", 0.1),
        loops=settings.get("loops", 0),
        # the workers re-run this module with the same spec (pyperf puts the python first)
        program_args=("-m", "gcbench.suite.worker", spec_path))
    runner.argparser.add_argument("spec_path")
    args = runner.parse_args([*argv[1:], spec_path])
    if not args.worker:
        code = recorded_run(spec, config)
        if code:
            return code
    runner.bench_time_func(spec["name"], time_runs, config, spec["error_file"], metadata=spec["metadata"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
