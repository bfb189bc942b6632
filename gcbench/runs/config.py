"""The run configuration: what one run is, validated once.

`make_config(...)` is the one function that builds a `RunConfig`: the collector and
workload by name (registry), their options and parameters resolved against the declared
specs (registry.resolve), the seed, the heap size (parse_size, check_heap_size), GOGC,
and the run's checking modes (verify, stress, checkmark).  The command line, the runner,
suite files, workload files, the pyperf worker and minheap all build their
configurations through it, and pass RunConfig values on; nothing else validates a seed,
a heap size or a parameter.  GOMAXPROCS (`procs`, default the machine's cores) and
GOMEMLIMIT (`memlimit`, bytes or None) are validated here too.

`RunConfig.identity()` is the configuration as every result and failure record holds it
(collector, opts, workload, params, seed, heap_bytes, gogc, procs, memlimit).  This
module runs nothing.
"""
import dataclasses
import os

from .. import registry
from ..errors import UsageError
from ..units import MAX_DIGITS, parse_gogc, parse_size, short_number

DEFAULT_HEAP = "256M"
MIN_HEAP_BYTES = 64 * 1024
FIRST_PROBE_HEAP = 64 << 20      # minheap's first probe when no heap is given
SEED_LIMIT = 1 << 64
STRESS_LIMIT = 1 << 62
# Refuse heaps the machine cannot back, before mapping anything.
MAX_HEAP_FRACTION_OF_RAM = 0.9


IDENTITY_KEYS = ("collector", "opts", "workload", "params", "seed", "heap_bytes", "gogc", "procs", "memlimit")
MAX_PROCS = 1024


@dataclasses.dataclass(frozen=True)
class RunConfig:
    collector: str
    opts: dict
    workload: str
    params: dict
    seed: int
    heap_bytes: int
    gogc: object            # int, or None for off
    verify: bool = False
    stress: int = 0
    checkmark: bool = False
    procs: int = 1          # GOMAXPROCS
    memlimit: object = None  # GOMEMLIMIT in bytes, or None for none

    def identity(self):
        """The configuration as results record it (docs/results.md), in that key order."""
        return {"collector": self.collector, "opts": dict(self.opts), "workload": self.workload,
                "params": dict(self.params), "seed": self.seed, "heap_bytes": self.heap_bytes,
                "gogc": self.gogc, "procs": self.procs, "memlimit": self.memlimit}

    def to_json(self):
        """identity() plus the checking modes (the pyperf worker's spec)."""
        return {**self.identity(), "verify": self.verify, "stress": self.stress,
                "checkmark": self.checkmark}

    @classmethod
    def from_json(cls, data):
        """A configuration written by to_json, validated again (it crossed a process)."""
        return make_config(data["collector"], data["workload"], params=data["params"],
                           opts=data["opts"], seed=data["seed"], heap=data["heap_bytes"],
                           gogc="off" if data["gogc"] is None else data["gogc"],
                           verify=data.get("verify", False), stress=data.get("stress", 0),
                           checkmark=data.get("checkmark", False), procs=data.get("procs"),
                           memlimit=data.get("memlimit"))

    def with_heap(self, heap_bytes):
        """The same configuration in another heap (minheap's probes: page multiples
        between MIN_HEAP_BYTES and the machine's limit)."""
        return dataclasses.replace(self, heap_bytes=int(heap_bytes))


def physical_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_heap_size(heap_bytes):
    ram = physical_memory()
    if ram and heap_bytes > ram * MAX_HEAP_FRACTION_OF_RAM:
        raise UsageError(f"heap size {heap_bytes} bytes exceeds this machine's memory "
                         f"({ram} bytes); choose a smaller --heap")
    if heap_bytes < MIN_HEAP_BYTES:
        raise UsageError(f"heap size {heap_bytes} bytes is too small (at least 64K)")


def check_seed(seed):
    """An integer seed in [0, 2**64); the message is for the caller to place."""
    if seed < 0 or seed >= SEED_LIMIT:
        raise UsageError(f"{short_number(seed)} is out of range [0, 2**64)")
    return seed


def parse_seed(value):
    """--seed: an integer (also as text) in [0, 2**64); None is the default, 1."""
    if value is None:            # no --seed given
        return 1
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if len(str(value)) > MAX_DIGITS:
                raise ValueError
            value = int(str(value))
        except ValueError:
            raise UsageError(f"malformed seed {short_number(value)}: expected a non-negative integer") from None
    try:
        return check_seed(value)
    except UsageError as exc:
        raise UsageError(f"seed {exc}") from None


def parse_stress(value):
    """--stress N: a non-negative number of allocations between forced collections (0: off)."""
    if value is None or value is False:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if len(str(value)) > MAX_DIGITS:
                raise ValueError
            value = int(str(value).strip())
        except ValueError:
            raise UsageError(f"malformed --stress {value!r}: expected a non-negative integer "
                             "(allocations between forced collections; 0 is off)") from None
    if value < 0 or value >= STRESS_LIMIT:
        raise UsageError(f"--stress must be in [0, 2**62), got {short_number(value)}")
    return value


def default_procs():
    """GOMAXPROCS's default: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def parse_procs(value):
    """--procs N (GOMAXPROCS): an integer in [1, 1024]; None is the machine's cores."""
    if value is None:
        return default_procs()
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise UsageError(f"malformed --procs {value!r}: expected a positive integer (GOMAXPROCS)") from None
    if not 1 <= value <= MAX_PROCS:
        raise UsageError(f"--procs must be in [1, {MAX_PROCS}], got {value}")
    return value


def parse_memlimit(value):
    """--memlimit SIZE (GOMEMLIMIT): bytes, or a number with K, M, G; None or 'off': none."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("off", "none", "")):
        return None
    limit = parse_size(value, "memory limit")
    if limit < MIN_HEAP_BYTES:
        raise UsageError(f"memory limit {limit} bytes is too small (at least 64K)")
    return limit


def make_config(collector, workload, params=None, opts=None, seed=1, heap=DEFAULT_HEAP, gogc=100,
                verify=False, stress=0, checkmark=False, procs=None, memlimit=None):
    """The validated RunConfig; bad input raises UsageError (one line)."""
    centry = registry.get_collector(collector)
    wentry = registry.get_workload(workload)
    seed = parse_seed(seed)
    heap_bytes = parse_size(heap, "heap size")
    check_heap_size(heap_bytes)
    resolved_opts = registry.resolve(centry, opts, "option")
    resolved_params = registry.resolve(wentry, params, "parameter")
    gogc = parse_gogc(gogc)
    stress = parse_stress(stress)
    if verify and not centry.constraints.supports_verify:
        raise UsageError(f"--verify checks the arena heap; collector {centry.name!r} allocates outside it")
    threads = resolved_params.get("threads", 1)
    if isinstance(threads, int) and threads > 1 and not centry.constraints.multi_mutator:
        supported = ", ".join(e.name for e in registry.collectors().values()
                             if e.available and e.constraints.multi_mutator)
        raise UsageError(f"collector {centry.name!r} runs one mutator thread; threads={threads} "
                         f"needs one of: {supported}")
    return RunConfig(collector=centry.name, opts=resolved_opts, workload=wentry.name,
                     params=resolved_params, seed=seed, heap_bytes=heap_bytes, gogc=gogc,
                     verify=bool(verify), stress=stress, checkmark=bool(checkmark),
                     procs=parse_procs(procs), memlimit=parse_memlimit(memlimit))
