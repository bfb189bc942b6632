"""Shared body of the pyperf family scripts (bench_trees.py, bench_churn.py, ...).

Each script names its workloads with their parameters (and smaller ones for
--smallest); this runs every available collector on each under pyperf, one benchmark
per (workload, collector), whose values are the native run's wall seconds.  pyperf's own
options apply (-o FILE, --fast, --rigorous, -p N ...); --smallest shrinks the workloads
and takes a single value (pyperf's --debug-single-value), for the smoke test.
"""
import sys

import pyperf

from gcbench import registry
from gcbench.runs.config import make_config
from gcbench.runs.runner import run_config


# Workloads that cannot say when their objects die refuse malloc, which frees on drop.
MALLOC_REFUSED = {"graph-mutate": "pointers rewritten at random: only a tracing collector knows when a node dies",
                  "python-heap": "cycles and shared objects"}


def collectors_to_compare():
    """Every available collector, tricolor with each real barrier."""
    out = []
    for name, entry in registry.collectors().items():
        if not entry.available:
            continue
        if name == "tricolor":
            out += [(name, {"barrier": b}) for b in ("dijkstra", "yuasa", "hybrid")]
        else:
            out.append((name, {}))
    return out


def bench_config(loops, config):
    total = 0.0
    for _ in range(loops):
        total += run_config(config)["wall_s"]
    return total


def main(family, workloads, small_workloads, heap="512M", nogc_heap="4G"):
    smallest = "--smallest" in sys.argv
    if smallest:
        if "--worker" not in sys.argv and "--debug-single-value" not in sys.argv:
            sys.argv.append("--debug-single-value")
        workloads = small_workloads
        heap, nogc_heap = "128M", "1G"

    def forward(cmd, args):
        # pyperf re-runs this script in worker processes: they must shrink alike
        if args.smallest:
            cmd.append("--smallest")

    runner = pyperf.Runner(add_cmdline_args=forward)
    runner.argparser.add_argument("--smallest", action="store_true",
                                  help="smallest workloads and a single value (smoke test)")
    runner.metadata["gcbench_family"] = family
    for workload, params in workloads:
        for collector, opts in collectors_to_compare():
            if collector == "malloc" and workload in MALLOC_REFUSED:
                print(f"skipping malloc on {workload}: {MALLOC_REFUSED[workload]}", file=sys.stderr)
                continue
            if collector == "malloc" and workload == "churn":
                params_here = dict(params, mutate_fraction=0)     # malloc needs unshared members
            else:
                params_here = params
            try:
                config = make_config(collector, workload, params_here, opts, seed=1,
                                     heap=nogc_heap if collector == "nogc" else heap, gogc=100)
            except Exception as exc:       # a workload unknown to this build, say
                print(f"skipping {collector} on {workload}: {exc}", file=sys.stderr)
                continue
            name = f"{workload}/{collector}" + "".join(f"/{k}={v}" for k, v in opts.items())
            runner.bench_time_func(name, bench_config, config,
                                   metadata={"collector": collector, "workload": workload})
