#!/usr/bin/env python
"""Steady live sets under replacement and pointer rewriting (churn, graph-mutate) under
every collector, with pyperf.

    python benchmarks/bench_churn.py -o churn.json [--fast | --rigorous]
"""
from _family import main

if __name__ == "__main__":
    main("churn",
         [("churn", {"live_objects": 200000, "ops": 1000000}),
          ("graph-mutate", {})],
         [("churn", {"live_objects": 2000, "ops": 20000}),
          ("graph-mutate", {"nodes": 2000, "ops": 20000})])
