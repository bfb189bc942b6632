#!/usr/bin/env python
"""How long the default suite takes (issue 6: about five minutes here, at most ten).

    python benchmarks/bench_suite.py            # `gcbench suite` (minutes)
    python benchmarks/bench_suite.py --fast     # `gcbench suite --fast` (seconds)

Runs the default suite into a temporary directory and prints its wall time, the number of
configurations (done, failed, not applicable), the time spent finding minimum heaps and the
mean time per configuration, so the suite's `processes` can be tuned as the matrix grows.
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 300
LIMIT_S = 600


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", "--smallest", dest="fast", action="store_true",
                        help="the --fast variant (--smallest: the same, for the smoke test)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gcbench-bench-suite-") as tmp:
        out = Path(tmp) / "suite.json"
        cmd = [sys.executable, "-m", "gcbench", "suite", "-o", str(out)] + (["--fast"] if args.fast else [])
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        wall = time.monotonic() - start
        status = json.loads((Path(tmp) / "suite.status.json").read_text())
    entries = status["configurations"].values()
    count = {s: sum(1 for e in entries if e.get("status") == s) for s in ("done", "failed", "skipped")}
    config_s = [e["seconds"] for e in entries if e.get("status") == "done"]
    # a progress line longer than 100 columns wraps: read the text with its lines joined
    minheap_s = sum(float(seconds) for seconds in
                    re.findall(r"minimum heap of .*? runs, ([\d.]+) s\)", " ".join(proc.stderr.split())))
    print(f"gcbench suite{' --fast' if args.fast else ''}: exit code {proc.returncode}")
    print(f"  wall time             {wall:.1f} s" + ("" if args.fast else
          f"  (target about {TARGET_S} s, limit {LIMIT_S} s: {'ok' if wall < LIMIT_S else 'OVER'})"))
    print(f"  configurations        {len(status['configurations'])}: {count['done']} done, "
          f"{count['failed']} failed, {count['skipped']} not applicable")
    print(f"  minimum-heap searches {minheap_s:.1f} s")
    if config_s:
        print(f"  per configuration     mean {sum(config_s) / len(config_s):.1f} s, max {max(config_s):.1f} s")
    return 0 if proc.returncode == 0 and wall < LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
