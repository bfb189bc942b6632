"""Print, as JSON, what a restructuring must not change: for marksweep and incremental
tricolor on every workload at its defaults, the objects allocated, the cycles, and the
live bytes at every cycle.

    python scripts/behaviour_fingerprint.py > before.json
    ... change the code, reinstall ...
    python scripts/behaviour_fingerprint.py > after.json && diff before.json after.json

Concurrent tricolor is left out: its cycle boundaries depend on thread timing; so is
python-heap, whose graph is this interpreter's own (it differs by an object or two from
process to process), and trace-replay, which needs a trace.
"""
import json
import sys

import gcbench
from gcbench import registry

CONFIGS = (("marksweep", {}), ("tricolor", {"mode": "incremental"}))


def fingerprint():
    out = {}
    for workload in registry.workloads():
        if workload in ("trace-replay", "python-heap"):
            continue
        for collector, opts in CONFIGS:
            r = gcbench.run(collector, workload, opts=opts)
            out[f"{collector}{opts or ''}/{workload}"] = {
                "alloc_count": r["alloc_count"],
                "cycles": r["cycles"],
                "live_bytes": [c["live_bytes"] for c in r["cycle_log"]],
            }
    return out


if __name__ == "__main__":
    json.dump(fingerprint(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
