#!/usr/bin/env python
"""Object-lifetime shapes and Go's common memory mistakes (queue, lru-cache,
growing-slices, escape, leak) under every collector, with pyperf.

    python benchmarks/bench_lifetimes.py -o lifetimes.json [--fast | --rigorous]
"""
from _family import main

if __name__ == "__main__":
    main("lifetimes",
         [("queue", {}), ("lru-cache", {}), ("growing-slices", {}), ("escape", {}),
          ("leak", {"requests": 100000})],
         [("queue", {"lifetime": 500, "ops": 10000}),
          ("lru-cache", {"capacity": 500, "keys": 5000, "requests": 10000}),
          ("growing-slices", {"slices": 200, "max_length": 200}),
          ("escape", {"calls": 3000}),
          ("leak", {"requests": 5000})])
