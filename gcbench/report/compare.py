"""The comparison of suites: one Table of configurations x collectors.

A row per configuration (workload and parameters, heap, GOGC, seed), a column group per
collector (with its options; when one collector appears in several files, per file too).
In each cell: the time per run (pyperf's mean), that time relative to the baseline group
with Student's t-test at 95% on pyperf's values (metrics.t_test, pyperf's own test),
the pauses, the MMU at 10 ms and the peak heap of the recorded run (its run file).
Suites are read through the io room's store (the same pairing of throughput and pause
benchmarks as every reader); the table is printed by report.format.  This module
builds the table only: it formats nothing and writes nothing.
"""
import os
from dataclasses import dataclass, field

from .. import metrics, registry
from ..errors import UsageError
from ..io import store, view

DEFAULT_BASELINE = "marksweep"
FORMATS = ("text", "wide", "markdown", "csv")


@dataclass
class Cell:
    mean_s: float = None
    values: list = field(default_factory=list)
    pauses_ns: list = None
    mmu_10ms: float = None
    peak_heap_bytes: int = None
    failed: str = None            # the error of a configuration that failed or does not apply
    applicable: bool = True
    relative: float = None        # mean / baseline mean
    significant: bool = None
    host: str = None              # the machine that measured it (metadata machine_host)
    cpu_model: str = None         # its CPU model (machine_cpu_model, else pyperf's cpu_model_name)


@dataclass
class Table:
    rows: list                    # row labels, in first-seen order
    groups: list                  # column group labels
    cells: dict                   # (row, group) -> Cell
    baseline: str
    machines: dict = None         # row tag -> machine description, when rows are split by machine
    across_machines: bool = False  # ratios were allowed across CPU models
    notes: list = field(default_factory=list)   # what could not be read, and where it was looked for


def _file_tag(path, index, paths):
    name = os.path.basename(path)
    stem = os.path.splitext(name)[0]
    tag = os.path.basename(os.path.dirname(os.path.abspath(path))) if stem == "suite" else stem
    tags = [_simple_tag(p) for p in paths]
    return tag if tags.count(tag) == 1 else f"#{index + 1}"


def _simple_tag(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    return os.path.basename(os.path.dirname(os.path.abspath(path))) if stem == "suite" else stem


def load_suite(path, notes=None):
    """[(row, collector_label, Cell)] from one suite JSON (and its pause, run and status
    files); a run file that is missing is named in `notes` (its MMU and peak heap are then
    unknown)."""
    out = []
    missing = []
    for run_file, benches in store.suite_configurations(store.suite_benchmarks(path)):
        bench = benches.get("throughput")
        if bench is None:
            continue
        meta = bench.get_metadata()
        row = meta.get("configuration", bench.get_name())
        group = meta.get("collector_label", meta.get("collector", "?"))
        cell = Cell(mean_s=bench.mean(), values=list(bench.get_values()),
                    host=_text(meta.get("machine_host") or meta.get("hostname")),
                    cpu_model=_text(meta.get("machine_cpu_model") or meta.get("cpu_model_name")))
        pauses = benches.get("pause")
        full = store.resolve_run_file(path, run_file)
        run = store.read_json_or_none(full)
        if run is None and not os.path.exists(full):
            missing.append(full)
        if isinstance(run, dict) and not run.get("failed"):
            cell.pauses_ns = [int(p) for p in run["pauses_ns"]]
            cell.mmu_10ms = metrics.summarize(run)["mmu_10ms"]
            cell.peak_heap_bytes = run["peak_heap_bytes"]
        elif pauses is not None:
            cell.pauses_ns = [round(v * 1e9) for v in pauses.get_values()]
        out.append((row, group, cell))
    if missing and notes is not None:
        where = os.path.dirname(missing[0])
        notes.append(f"{path}: {len(missing)} of its run files are missing (looked in {where}/, "
                     f"e.g. {os.path.basename(missing[0])}): MMU and peak heap show '-'; keep "
                     f"the suite's runs/ directory beside it")
    # failed configurations are only in the status file
    status = store.load_status(store.status_path(path)) or {}
    for name, entry in status.get("configurations", {}).items():
        if entry.get("status") in ("failed", "skipped") and entry.get("configuration"):
            out.append((entry["configuration"], entry.get("collector_label", "?"),
                        Cell(failed=entry.get("error", "failed"), applicable=entry["status"] == "failed")))
    return out


def _text(value):
    return None if value is None or str(value).strip() == "" else str(value).strip()


def machine_tags(loaded):
    """{cpu model: "m1", ...} when the cells come from more than one CPU model, else {}.
    A failed cell (no metadata) belongs to no machine."""
    models = []
    for entries in loaded:
        for _, _, cell in entries:
            if not cell.failed:
                model = cell.cpu_model or "unknown CPU"
                if model not in models:
                    models.append(model)
    return {m: f"m{i + 1}" for i, m in enumerate(models)} if len(models) > 1 else {}


def _machine_legend(loaded, tags):
    hosts = {}
    for entries in loaded:
        for _, _, cell in entries:
            if not cell.failed:
                hosts.setdefault(tags[cell.cpu_model or "unknown CPU"], set()).add(cell.host or "unknown host")
    return {tag: f"{model} (host {', '.join(sorted(hosts.get(tag, ())))})" for model, tag in tags.items()}


def compare_files(paths, baseline=None, across_machines=False):
    """Build the comparison Table of one or more suite JSON files.

    Results measured on more than one CPU model are grouped by machine: each row is split
    per CPU model (its label ends in [m1], [m2], ...; Table.machines says which machine is
    which), so a ratio never compares times from two CPU models.  across_machines=True
    keeps the rows whole and puts such ratios in one column anyway."""
    if not paths:
        raise UsageError("give at least one suite JSON file")
    notes = []
    loaded = [load_suite(p, notes) for p in paths]
    tags = {} if across_machines else machine_tags(loaded)

    def machine_of(cell):
        return tags.get(cell.cpu_model or "unknown CPU") if tags and not cell.failed else None

    # a collector seen in more than one file (on one machine) gets the file's tag
    seen = {}
    for i, entries in enumerate(loaded):
        for _, group, cell in entries:
            seen.setdefault((group, machine_of(cell)), set()).add(i)
    rows, groups, cells = [], [], {}
    for i, entries in enumerate(loaded):
        for row, group, cell in entries:
            tag = machine_of(cell)
            label = group if len(seen[(group, tag)]) == 1 else f"{group} [{_file_tag(paths[i], i, paths)}]"
            if tag is not None:
                row = f"{row} [{tag}]"
            if row not in rows:
                rows.append(row)
            if label not in groups:
                groups.append(label)
            cells[(row, label)] = cell
    if not groups:
        raise UsageError(f"no gcbench benchmarks in {', '.join(paths)}")
    if tags:
        # grouped by machine: the rows of one machine together
        order = {row: i for i, row in enumerate(rows)}
        rows.sort(key=lambda r: (r.rsplit(" [m", 1)[-1] if " [m" in r else "", order[r]))
    base = _choose_baseline(groups, baseline)
    groups.remove(base)
    groups.insert(0, base)          # the baseline's group first, the others as they came
    for row in rows:
        ref = cells.get((row, base))
        for group in groups:
            cell = cells.get((row, group))
            if cell is None or cell.failed or ref is None or ref.failed or not ref.mean_s:
                continue
            cell.relative = cell.mean_s / ref.mean_s
            cell.significant = metrics.t_test(cell.values, ref.values)[0] if group != base else None
    return Table(rows, groups, cells, base, machines=_machine_legend(loaded, tags) if tags else None,
                 across_machines=across_machines, notes=notes)


def _choose_baseline(groups, wanted):
    if wanted is None:
        for group in groups:
            if group == DEFAULT_BASELINE or group.startswith(DEFAULT_BASELINE + " ["):
                return group
        return groups[0]
    if wanted in groups:
        return wanted
    for group in groups:
        if group.split("(")[0].split(" [")[0] == wanted:
            return group
    raise UsageError(f"baseline {wanted!r} is not among the collectors compared: {', '.join(groups)}")


def pacer_fallbacks(path):
    """[(row, collector_label, cycles, full_gc_fallbacks, goal_overruns)] of the concurrent
    collectors' runs in one suite JSON: the stop-the-world collections forced because the
    arena filled before a concurrent cycle finished, and the cycles that ended over their
    goal (the pacer's misses)."""
    suite = store.load_suite(path)
    out = []
    for run_file, benches in store.suite_configurations(suite):
        bench = benches.get("throughput")
        if bench is None:
            continue
        meta = bench.get_metadata()
        try:
            concurrent = registry.get_collector(meta.get("collector", "")).constraints.concurrent
        except UsageError:
            continue
        run = store.read_json_or_none(store.resolve_run_file(path, run_file))
        if not concurrent or not isinstance(run, dict) or run.get("failed"):
            continue
        counters = run.get("counters", {})
        if "full_gc_fallbacks" not in counters:
            continue
        out.append((meta.get("configuration", bench.get_name()),
                    meta.get("collector_label", meta.get("collector", "?")), int(run["cycles"]),
                    int(counters["full_gc_fallbacks"]), int(counters.get("goal_overruns", 0))))
    return out
# ---------------------------------------------------------------------------
# Lower-bound overhead (gcbench compare --lbo; the report's LBO table and chart)

@dataclass
class LboEntry:
    collector: str                # series label (io.view)
    heap: str                     # as the suite named it ("1.5x"), else the size
    heap_factor: float            # multiple of the collector's minimum heap, or None
    heap_bytes: int
    wall_s: float                 # cost: time per run (pyperf's mean in a suite)
    cpu_s: float
    distilled_s: float
    lbo_wall: float
    lbo_cpu: float


@dataclass
class LboGroup:
    title: str                    # workload (parameters)
    slug: str
    mdc_s: float                  # minimum distilled cost over every collector and heap
    mdc_from: str                 # which configuration it is
    entries: list


def lbo_groups(results):
    """LBO for every configuration of `results` (single-run results, e.g. a suite's
    through io.store.load_results), one LboGroup per workload with its parameters; the
    cost of a configuration is its mean time per run (view.run_times_s).  Configurations
    that failed or do not apply have no cost and are left out."""
    styles = view.SeriesStyles(results)
    out = []
    for group in view.group_results(results):
        done = [r for r in group.results if view.completed(r) and r.get("counters")]
        costs = {}
        for i, r in enumerate(done):
            costs[i] = metrics.lbo_costs(r, float(view.run_times_s(r).mean()))
        mdc, mdc_key, lbos = metrics.lower_bound_overheads(costs)
        if mdc is None:
            continue
        entries = [LboEntry(styles.label(r), view.heap_label(r), view.heap_factor(r), r["heap_bytes"],
                            *costs[i], *lbos[i]) for i, r in enumerate(done)]
        order = {label: n for n, label in enumerate(styles.labels)}
        entries.sort(key=lambda e: (order[e.collector], e.heap_bytes))
        best = done[mdc_key]
        title = f"{group.workload} ({', '.join(f'{k}={v}' for k, v in group.params.items())})"
        out.append(LboGroup(title, group.slug, mdc, f"{styles.label(best)} at heap {view.heap_label(best)}",
                            entries))
    return out


def lbo_files(paths):
    """lbo_groups of the results in suite (or result) JSON files."""
    if not paths:
        raise UsageError("give at least one suite JSON file")
    results = []
    for path in paths:
        results += store.load_results(path)
    groups = lbo_groups(results)
    if not groups:
        raise UsageError(f"no completed runs with counters in {', '.join(paths)}")
    return groups
