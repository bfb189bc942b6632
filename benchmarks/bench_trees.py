#!/usr/bin/env python
"""The GCBench shape (binary-trees) under every collector, with pyperf.

    python benchmarks/bench_trees.py -o trees.json [--fast | --rigorous]
    python -m pyperf stats trees.json
"""
from _family import main

if __name__ == "__main__":
    main("trees",
         [("binary-trees", {})],
         [("binary-trees", {"long_lived_depth": 8, "array_len": 1000, "min_depth": 4, "max_depth": 8})])
