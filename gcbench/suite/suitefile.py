"""Suite files: a TOML matrix of workloads x collectors x heap sizes x GOGC values x seeds.

    name = "small"                    # required: names the suite and its output
    seeds = [1]                       # default [1]
    heap = ["64M", "2x"]              # sizes, or multiples of the minimum heap (default ["256M"])
    gogc = [100, "off"]               # default [100]
    memlimit = ["off", "64M"]         # GOMEMLIMIT values; default ["off"] (no limit)
    [[collector]]                     # at least one; name = "*" means every available collector
    name = "tricolor"
    opts = { barrier = "hybrid" }
    [[workload]]                      # at least one; name = "*" means every workload
    name = "churn"                    # optional = true: skipped when this build lacks it
    params = { live_objects = 50000 }
    collectors = ["marksweep"]        # optional: only these collectors run it (a
                                      # [[collector]] may likewise name its `workloads`;
                                      # name = "*" leaves out collectors named elsewhere)
    [pyperf]                          # optional: pyperf's processes, values, warmups,
    processes = 6                     # min_time (s) and loops (0 = calibrate)
    [fast]                            # optional: what --fast changes (heap, seeds, gogc,
    heap = ["2x"]                     # pyperf, params per workload name, workloads to
    pyperf = { processes = 1 }        # keep); without it, --fast is pyperf's --fast
    params = { churn = { ops = 100000 } }

The whole file is validated before anything runs: every error names its key path
(`collector[1].opts.barrier: ...`) and is one line.  `load()` returns a Suite whose
`configurations()` are the runs to make, in a stable order: for each workload, heap, GOGC
and seed, every collector, so that a partial suite holds whole rows of a comparison.
Values are validated by the same functions as the command line's (registry.resolve,
run.config); `Configuration.run_config(heap_bytes)` builds its RunConfig with
run.config.make_config.  This module runs nothing.
"""
import hashlib
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import registry
from ..errors import UsageError
from ..runs.config import FIRST_PROBE_HEAP, check_heap_size, check_seed, make_config, parse_memlimit
from ..units import MAX_DIGITS, parse_gogc, parse_size, require_regular_file, short_number

DEFAULT_SUITE = Path(__file__).with_name("default.toml")

MODES = ("fast", "rigorous")
_TOP_KEYS = {"name", "description", "seeds", "heap", "gogc", "memlimit", "collector", "workload", "pyperf", *MODES}
_PYPERF_KEYS = {"processes": int, "values": int, "warmups": int, "min_time": float, "loops": int}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MULTIPLE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[xX]\s*$")
# The largest heap given as a multiple of the minimum heap ("100x"); beyond it a heap is
# better given in bytes (and the machine's memory bounds those).
MAX_HEAP_MULTIPLE = 100


@dataclass(frozen=True)
class HeapSpec:
    """A heap size: fixed bytes, or a multiple of the configuration's minimum heap."""
    text: str
    bytes: int = 0
    multiple: float = 0.0

    @property
    def relative(self):
        return self.multiple > 0


@dataclass
class Configuration:
    """One cell of the matrix."""
    collector: str
    opts: dict            # every option, defaults filled in
    given_opts: dict      # the options the suite file set (they name the configuration)
    workload: str
    params: dict
    given_params: dict
    heap: HeapSpec
    gogc: object          # int or None (off)
    seed: int
    memlimit: object = None   # GOMEMLIMIT in bytes, or None (no limit)

    @property
    def _memlimit_suffix(self):
        return "" if self.memlimit is None else f" memlimit={self.memlimit}"

    @property
    def collector_label(self):
        return self.collector + _brace(self.given_opts)

    @property
    def workload_label(self):
        return self.workload + _brace(self.given_params)

    @property
    def row_label(self):
        """The configuration without its collector: a row of a comparison."""
        gogc = "off" if self.gogc is None else self.gogc
        return f"{self.workload_label} heap={self.heap.text} gogc={gogc} seed={self.seed}{self._memlimit_suffix}"

    @property
    def name(self):
        """The benchmark name: unique within a suite and stable across runs of it."""
        gogc = "off" if self.gogc is None else self.gogc
        return (f"{self.workload_label}/{self.collector_label}/heap={self.heap.text}"
                f"/gogc={gogc}/seed={self.seed}" + self._memlimit_suffix.replace(" ", "/"))

    @property
    def slug(self):
        """A file name for this configuration's run file."""
        safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", self.name).strip("_")
        digest = hashlib.sha1(self.name.encode()).hexdigest()[:8]
        return f"{safe[:100]}-{digest}"

    def minheap_key(self):
        """Configurations sharing a minimum heap: everything but the heap size."""
        key = [self.collector, self.opts, self.workload, self.params, self.seed, self.gogc]
        return _canonical(key if self.memlimit is None else key + [self.memlimit])

    def run_config(self, heap_bytes=None):
        """The RunConfig of this cell in `heap_bytes` (None: the first heap minheap tries)."""
        return make_config(self.collector, self.workload, params=self.given_params,
                           opts=self.given_opts, seed=self.seed,
                           heap=FIRST_PROBE_HEAP if heap_bytes is None else int(heap_bytes),
                           gogc="off" if self.gogc is None else self.gogc, memlimit=self.memlimit)

    def identity(self, heap_bytes=0):
        """The configuration as a failure record holds it (no heap chosen yet: 0)."""
        return {"collector": self.collector, "opts": dict(self.opts), "workload": self.workload,
                "params": dict(self.params), "seed": self.seed, "heap_bytes": int(heap_bytes),
                "gogc": self.gogc, "memlimit": self.memlimit}


@dataclass
class Suite:
    name: str
    path: str
    description: str = ""
    seeds: list = field(default_factory=lambda: [1])
    heaps: list = field(default_factory=list)
    gogcs: list = field(default_factory=lambda: [100])
    memlimits: list = field(default_factory=lambda: [None])
    collectors: list = field(default_factory=list)    # [(name, opts, given_opts)]
    workloads: list = field(default_factory=list)     # [(name, params, given_params)]
    pyperf: dict = field(default_factory=dict)
    modes: dict = field(default_factory=dict)         # "fast"/"rigorous" -> replacements
    optional_workloads: set = field(default_factory=set)  # declared optional, absent here
    # pairs a file restricts: ("workload", name) -> collectors that run it (a [[workload]]
    # table's `collectors` key)
    restrict: dict = field(default_factory=dict)

    def pair_allowed(self, cname, wname):
        return (wname in self.restrict.get(("collector", cname), {wname})
                and cname in self.restrict.get(("workload", wname), {cname}))
    # per collector entry (name, canonical opts): (workload names or None, heap texts or
    # None) it is limited to (a [[collector]] table's `workloads` and `heap` keys)
    collector_limits: dict = field(default_factory=dict)

    def configurations(self):
        out = []
        for wname, params, given_params in self.workloads:
            for heap in self.heaps:
                for gogc in self.gogcs:
                    for memlimit in self.memlimits:
                        for seed in self.seeds:
                            for cname, opts, given_opts in self.collectors:
                                if not (self.pair_allowed(cname, wname)
                                        and self._collector_runs(cname, opts, wname, heap)):
                                    continue
                                out.append(Configuration(cname, opts, given_opts, wname, params,
                                                         given_params, heap, gogc, seed, memlimit))
        return out

    def _collector_runs(self, cname, opts, wname, heap):
        workloads, heaps = self.collector_limits.get((cname, _canonical(opts)), (None, None))
        # heap limits that name none of this run's heap sizes (--fast's "2x") do not apply
        heaps_apply = heaps is not None and bool(heaps & {h.text for h in self.heaps})
        return (workloads is None or wname in workloads) and (not heaps_apply or heap.text in heaps)

    def for_mode(self, mode):
        """The suite as --fast or --rigorous runs it: (suite, pass pyperf's own flag).
        With a [fast] / [rigorous] table its replacements apply and pyperf's settings are
        the suite's; without one, pyperf's --fast / --rigorous scales the workers."""
        if mode is None:
            return self, False
        if mode not in self.modes:
            return self, True
        over = self.modes[mode]
        suite = replace(self, heaps=over.get("heaps", self.heaps), seeds=over.get("seeds", self.seeds),
                        gogcs=over.get("gogcs", self.gogcs), pyperf={**self.pyperf, **over["pyperf"]},
                        modes={})
        workloads = []
        for name, params, given in self.workloads:
            if "workloads" in over and name not in over["workloads"]:
                continue
            if name in over["params"]:
                given = {**given, **over["params"][name]}
                params = registry.resolve(registry.get_workload(name), given, "parameter")
            workloads.append((name, params, given))
        suite.workloads = workloads
        return suite, False


def _brace(values):
    if not values:
        return ""
    return "(" + ",".join(f"{k}={_short(v)}" for k, v in sorted(values.items())) + ")"


def _short(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _canonical(value):
    import json
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class _Checker:
    """Raises UsageError with the file and key path in front of the message."""

    def __init__(self, source):
        self.source = source

    def fail(self, path, message):
        where = f"{self.source}: {path}: " if path else f"{self.source}: "
        raise UsageError(where + message)

    def table(self, value, path):
        if not isinstance(value, dict):
            self.fail(path, f"expected a table, got {_toml_type(value)}")
        return value

    def array(self, value, path):
        if not isinstance(value, list):
            self.fail(path, f"expected an array, got {_toml_type(value)}")
        if not value:
            self.fail(path, "must not be empty")
        return value

    def unknown_keys(self, table, known, path):
        for key in table:
            if key not in known:
                where = f"{path}.{key}" if path else key
                self.fail(where, f"unknown key; known: {', '.join(sorted(known))}")


def _toml_type(value):
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def load(path):
    """Read and validate a suite file; bad input raises UsageError (one line)."""
    require_regular_file(str(path), "suite file")
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"suite file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read suite file {str(path)!r}: {exc.strerror}") from None
    return parse(text.decode("utf-8", errors="replace"), str(path))


def parse(text, source="<suite>"):
    check = _Checker(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        check.fail("", f"not valid TOML: {exc}")
    except RecursionError:
        check.fail("", "not valid TOML: nested too deeply")
    except ValueError as exc:
        # tomllib's int() of a number over 4300 digits
        check.fail("", f"not valid TOML: {' '.join(str(exc).split())[:120]}")
    except MemoryError:
        check.fail("", "out of memory reading the suite file")
    check.unknown_keys(data, _TOP_KEYS, "")

    if "name" not in data:
        check.fail("name", "missing (every suite has a name)")
    name = data["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        check.fail("name", f"expected a name of letters, digits, '.', '_', '-', got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        check.fail("description", f"expected a string, got {_toml_type(description)}")
    suite = Suite(name=name, path=source, description=description)

    suite.seeds = _seeds(check, data.get("seeds", [1]), "seeds")
    suite.heaps = _heaps(check, data.get("heap", ["256M"]), "heap")
    suite.gogcs = _gogcs(check, data.get("gogc", [100]), "gogc")
    suite.memlimits = _memlimits(check, data.get("memlimit", ["off"]), "memlimit")

    if "collector" not in data:
        check.fail("collector", "missing: add at least one [[collector]] table")
    explicit = {e.get("name") for e in check.array(data["collector"], "collector") if isinstance(e, dict)}
    for i, entry in enumerate(check.array(data["collector"], "collector")):
        entry, limits = _collector_limits(check, entry, f"collector[{i}]")
        entries = _entries(check, entry, f"collector[{i}]", "collector") or []
        if entry.get("name") == "*":
            # every available collector but those the file names in tables of their own
            entries = [e for e in entries if e[0] not in explicit]
        for cname, opts, _ in entries:
            if limits != (None, None):
                suite.collector_limits[(cname, _canonical(opts))] = limits
        suite.collectors += entries
    if not suite.collectors:
        check.fail("collector", "no collector is available")

    _no_duplicates(check, [(n, _canonical(o)) for n, o, _ in suite.collectors], "collector")

    if "workload" not in data:
        check.fail("workload", "missing: add at least one [[workload]] table")
    for i, entry in enumerate(check.array(data["workload"], "workload")):
        entries = _entries(check, entry, f"workload[{i}]", "workload")
        _restriction(check, suite, entry, "workload", "collectors", f"workload[{i}]")
        if entries is None:
            suite.optional_workloads.add(entry["name"])
        else:
            suite.workloads += entries
    if not suite.workloads:
        check.fail("workload", "no workload is available")
    _no_duplicates(check, [(n, _canonical(p)) for n, p, _ in suite.workloads], "workload")
    suite.workloads = [(n, _trace_paths(check, n, p, source), _trace_paths(check, n, g, source))
                       for n, p, g in suite.workloads]

    suite.pyperf = _pyperf_table(check, data.get("pyperf", {}), "pyperf")
    for mode in MODES:
        if mode in data:
            suite.modes[mode] = _mode_table(check, suite, data[mode], mode)
    return suite


def _trace_paths(check, workload, values, source):
    """A trace parameter's file, relative to the suite file's folder (not to wherever
    a worker runs), made absolute and loaded now: a missing or bad trace is refused
    before anything runs."""
    from ..io.traces import load_trace
    entry = registry.get_workload(workload)
    out = dict(values)
    for key, spec in entry.specs.items():
        if spec.get("type") == "trace" and out.get(key):
            base = Path(source).parent if source and not source.startswith("<") else Path.cwd()
            full = str((base / out[key]).resolve()) if "\0" not in out[key] else out[key]
            try:
                load_trace(full)
            except UsageError as exc:
                check.fail(f"workload {workload}.params.{key}", str(exc))
            out[key] = full
    return out


def _restriction(check, suite, entry, kind, key, path):
    """A [[collector]]'s `workloads` or a [[workload]]'s `collectors`: a list of names."""
    if key not in entry:
        return
    names = entry[key]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        check.fail(f"{path}.{key}", f"expected a non-empty list of names, got {names!r}")
    if entry.get("name") == "*":
        check.fail(f"{path}.{key}", "cannot be given with name = \"*\"")
    suite.restrict[(kind, entry["name"])] = set(names)


def _seeds(check, value, path):
    seeds = []
    for i, seed in enumerate(check.array(value, path)):
        if isinstance(seed, bool) or not isinstance(seed, int):
            check.fail(f"{path}[{i}]", f"expected an integer in [0, 2**64), got {short_number(seed)}")
        try:
            check_seed(seed)
        except UsageError as exc:
            check.fail(f"{path}[{i}]", str(exc))
        seeds.append(seed)
    _no_duplicates(check, seeds, path)
    return seeds


def _heaps(check, value, path):
    heaps = [_heap_spec(check, v, f"{path}[{i}]") for i, v in enumerate(check.array(value, path))]
    # the same heap written twice ("8M" and "8192K", "2x" and "2.0x") runs once
    _no_duplicates(check, [(h.bytes, h.multiple) for h in heaps], path)
    return heaps


def _gogcs(check, value, path):
    gogcs = []
    for i, v in enumerate(check.array(value, path)):
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            check.fail(f"{path}[{i}]", f"expected an integer or \"off\", got {short_number(v)}")
        try:
            gogcs.append(parse_gogc(v))
        except UsageError as exc:
            check.fail(f"{path}[{i}]", str(exc))
    _no_duplicates(check, gogcs, path)
    return gogcs


def _memlimits(check, value, path):
    """memlimit: GOMEMLIMIT values, sizes (bytes or with K, M, G) or "off"."""
    limits = []
    for i, v in enumerate(check.array(value, path)):
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            check.fail(f"{path}[{i}]", f"expected a size or \"off\", got {v!r}")
        try:
            limits.append(parse_memlimit(v))
        except UsageError as exc:
            check.fail(f"{path}[{i}]", str(exc))
    _no_duplicates(check, limits, path)
    return limits


def _mode_table(check, suite, table, mode):
    """[fast] / [rigorous]: replacements for heap, seeds, gogc, pyperf settings, and
    parameters per workload name, validated now whichever mode runs."""
    check.table(table, mode)
    check.unknown_keys(table, {"heap", "seeds", "gogc", "pyperf", "params", "workloads"}, mode)
    out = {}
    # workloads: keep only these of the suite's workloads (an optional one absent from
    # this build is simply not there)
    declared = {name for name, _, _ in suite.workloads} | suite.optional_workloads
    if "workloads" in table:
        keep = check.array(table["workloads"], f"{mode}.workloads")
        for i, name in enumerate(keep):
            if not isinstance(name, str):
                check.fail(f"{mode}.workloads[{i}]", f"expected a workload name, got {_toml_type(name)}")
            if name not in declared:
                check.fail(f"{mode}.workloads[{i}]", f"{name!r} is not a workload of this suite")
        out["workloads"] = set(keep)
    if "heap" in table:
        out["heaps"] = _heaps(check, table["heap"], f"{mode}.heap")
    if "seeds" in table:
        out["seeds"] = _seeds(check, table["seeds"], f"{mode}.seeds")
    if "gogc" in table:
        out["gogcs"] = _gogcs(check, table["gogc"], f"{mode}.gogc")
    out["pyperf"] = _pyperf_table(check, table.get("pyperf", {}), f"{mode}.pyperf")
    params = check.table(table.get("params", {}), f"{mode}.params")
    known = registry.workloads()
    out["params"] = {}
    for wname, given in params.items():
        path = f"{mode}.params.{wname}"
        if wname not in declared and wname not in known:
            check.fail(path, f"unknown workload {wname!r}; known: {', '.join(known)}")
        if wname not in known:
            continue        # an optional workload this build lacks
        given = dict(check.table(given, path))
        _resolve(check, known[wname], given, path, "parameter")
        out["params"][wname] = given
    return out


def _no_duplicates(check, values, path):
    seen = set()
    for i, value in enumerate(values):
        if value in seen:
            check.fail(f"{path}[{i}]", "duplicate of an earlier entry")
        seen.add(value)


def _heap_spec(check, value, path):
    if isinstance(value, str):
        m = _MULTIPLE.match(value) if len(value) <= MAX_DIGITS else None
        if m:
            multiple = float(m.group(1))
            if multiple < 1.0:
                check.fail(path, f"{value!r} is below the minimum heap (1x): the workload cannot complete there")
            if multiple > MAX_HEAP_MULTIPLE:
                check.fail(path, f"{value!r} is out of range: multiples of the minimum heap go from 1x "
                                 f"to {MAX_HEAP_MULTIPLE}x")
            return HeapSpec(text=value.strip().lower(), multiple=multiple)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        check.fail(path, f"expected a size (\"64M\") or a multiple of the minimum heap (\"2x\"), got {short_number(value)}")
    try:
        nbytes = parse_size(value, "heap size")
    except UsageError as exc:
        check.fail(path, f"{exc}, or a multiple of the minimum heap such as \"2x\"")
    try:
        check_heap_size(nbytes)
    except UsageError as exc:
        check.fail(path, str(exc))
    return HeapSpec(text=str(value).strip(), bytes=nbytes)


def _values(check, entry, key, path):
    given = check.table(entry.get(key, {}), f"{path}.{key}")
    return dict(given)


def _resolve(check, reg_entry, given, path, what):
    """registry.resolve, with the file in front of its key paths."""
    try:
        # TOML types as the workload files take them: "1_000" is not an int, "yes" not a bool
        return registry.resolve(reg_entry, given, what, where=path, toml_types=True)
    except UsageError as exc:
        check.fail("", str(exc))


# What differs between [[collector]] and [[workload]] entries.
_KINDS = {
    "collector": ("opts", "option", registry.collectors, "options"),
    "workload": ("params", "parameter", registry.workloads, "parameters"),
}


def _collector_limits(check, entry, path):
    """A [[collector]] table without its `workloads` and `heap` keys, and those limits:
    (workload names or None, heap texts or None).  The collector then runs only those
    workloads, at those of the suite's heap sizes (a new collector joining the default
    suite with a few configurations)."""
    if not isinstance(entry, dict):
        return entry, (None, None)
    rest = {k: v for k, v in entry.items() if k not in ("workloads", "heap")}
    workloads = heaps = None
    if "workloads" in entry:
        workloads = check.array(entry["workloads"], f"{path}.workloads")
        for j, w in enumerate(workloads):
            if not isinstance(w, str):
                check.fail(f"{path}.workloads[{j}]", f"expected a workload name, got {w!r}")
        workloads = set(workloads)
    if "heap" in entry:
        heaps = {h.text for h in _heaps(check, entry["heap"], f"{path}.heap")}
    return rest, (workloads, heaps)


def _entries(check, entry, path, kind):
    """The (name, resolved values, given values) an entry stands for: one, every available
    one for name = "*", or None when it is optional and this build lacks it."""
    values_key, what, table_of, plural = _KINDS[kind]
    check.table(entry, path)
    check.unknown_keys(entry, {"name", values_key, "optional", "workloads" if kind == "collector" else "collectors"}, path)
    name = entry.get("name")
    if not isinstance(name, str):
        check.fail(f"{path}.name", "missing or not a string")
    optional = entry.get("optional", False)
    if not isinstance(optional, bool):
        check.fail(f"{path}.optional", f"expected true or false, got {optional!r}")
    given = _values(check, entry, values_key, path)
    table = table_of()
    if name == "*":
        if given:
            check.fail(f"{path}.{values_key}", f"{plural} cannot be given with name = \"*\" (every {kind})")
        return [(n, registry.resolve(e, {}, what), {}) for n, e in table.items() if e.available]
    if optional and (name not in table or not table[name].available):
        return None     # this build lacks it: the suite runs without it
    if name not in table:
        check.fail(f"{path}.name", f"unknown {kind} {name!r}; known: {', '.join(table)}")
    if not table[name].available:
        check.fail(f"{path}.name", f"{kind} {name!r} is unavailable: {table[name].reason}")
    return [(name, _resolve(check, table[name], given, f"{path}.{values_key}", what), given)]


def _pyperf_table(check, table, path):
    check.table(table, path)
    check.unknown_keys(table, set(_PYPERF_KEYS), path)
    out = {}
    for key, value in table.items():
        kind = _PYPERF_KEYS[key]
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                check.fail(f"{path}.{key}", f"expected an integer, got {short_number(value)}")
            low = 0 if key in ("warmups", "loops") else 1
            if not low <= value <= 1000:
                check.fail(f"{path}.{key}", f"{short_number(value)} is out of range [{low}, 1000]")
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 60:
                check.fail(f"{path}.{key}", f"expected a number of seconds in (0, 60], got {short_number(value)}")
            value = float(value)
        out[key] = value
    return out
