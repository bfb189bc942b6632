"""`gcbench compare A.json [B.json ...]`: one table of suites' results.

A row per configuration (workload and parameters, heap, GOGC, seed), a column group per
collector (with its options; when one collector appears in several files, per file too).
In each group: the time per run (pyperf's mean), that time relative to the baseline group
with Student's t-test at 95% on pyperf's values (metrics.t_test, pyperf's own test: "n.s."
when not significant), the pause p50, p99 and max, the MMU at 10 ms and the peak heap of
the recorded run (read from the run file each benchmark names in `gcbench_run_file`).
"""
import csv
import io
import json
import os
from dataclasses import dataclass, field

from . import metrics
from .errors import UsageError

DEFAULT_BASELINE = "marksweep"
FORMATS = ("text", "markdown", "csv")


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


@dataclass
class Table:
    rows: list                    # row labels, in first-seen order
    groups: list                  # column group labels
    cells: dict                   # (row, group) -> Cell
    baseline: str


def _file_tag(path, index, paths):
    name = os.path.basename(path)
    stem = os.path.splitext(name)[0]
    tag = os.path.basename(os.path.dirname(os.path.abspath(path))) if stem == "suite" else stem
    tags = [_simple_tag(p) for p in paths]
    return tag if tags.count(tag) == 1 else f"#{index + 1}"


def _simple_tag(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    return os.path.basename(os.path.dirname(os.path.abspath(path))) if stem == "suite" else stem


def _load_json(path):
    with open(path) as f:
        return json.load(f)


def load_suite(path):
    """[(row, collector_label, Cell)] from one suite JSON (and its run and status files)."""
    import pyperf
    from .units import require_regular_file
    require_regular_file(path, "suite JSON")
    try:
        suite = pyperf.BenchmarkSuite.load(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError, OSError) as exc:
        # pyperf assumes its own structure: any JSON of another shape fails somewhere inside
        raise UsageError(f"{path}: not a pyperf suite JSON file ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise UsageError(f"{path}: not a pyperf suite JSON file (nested too deeply)") from None
    base_dir = os.path.dirname(os.path.abspath(path))
    by_name = {b.get_name(): b for b in suite.get_benchmarks()}
    out = []
    for name, bench in by_name.items():
        meta = bench.get_metadata()
        if meta.get("gcbench_metric") != "throughput":
            continue
        row = meta.get("configuration", name)
        group = meta.get("collector_label", meta.get("collector", "?"))
        cell = Cell(mean_s=bench.mean(), values=list(bench.get_values()))
        pauses = by_name.get(name + "/pauses")
        run = None
        if meta.get("gcbench_run_file"):
            try:
                run = _load_json(os.path.join(base_dir, meta["gcbench_run_file"]))
            except (OSError, ValueError):
                run = None
        if run is not None and not run.get("failed"):
            cell.pauses_ns = [int(p) for p in run["pauses_ns"]]
            cell.mmu_10ms = metrics.summarize(run)["mmu_10ms"]
            cell.peak_heap_bytes = run["peak_heap_bytes"]
        elif pauses is not None:
            cell.pauses_ns = [round(v * 1e9) for v in pauses.get_values()]
        out.append((row, group, cell))
    # failed configurations are only in the status file
    status_path = os.path.splitext(path)[0] + ".status.json"
    if os.path.exists(status_path):
        try:
            status = _load_json(status_path)
        except ValueError:
            status = {}
        for name, entry in status.get("configurations", {}).items():
            if entry.get("status") in ("failed", "skipped") and entry.get("configuration"):
                out.append((entry["configuration"], entry.get("collector_label", "?"),
                            Cell(failed=entry.get("error", "failed"), applicable=entry["status"] == "failed")))
    return out


def compare_files(paths, baseline=None):
    """Build the comparison Table of one or more suite JSON files."""
    if not paths:
        raise UsageError("give at least one suite JSON file")
    loaded = [load_suite(p) for p in paths]
    # a collector seen in more than one file gets the file's tag
    seen = {}
    for i, entries in enumerate(loaded):
        for _, group, _ in entries:
            seen.setdefault(group, set()).add(i)
    rows, groups, cells = [], [], {}
    for i, entries in enumerate(loaded):
        for row, group, cell in entries:
            label = group if len(seen[group]) == 1 else f"{group} [{_file_tag(paths[i], i, paths)}]"
            if row not in rows:
                rows.append(row)
            if label not in groups:
                groups.append(label)
            cells[(row, label)] = cell
    if not groups:
        raise UsageError(f"no gcbench benchmarks in {', '.join(paths)}")
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
    return Table(rows, groups, cells, base)


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


COLUMNS = ("time", "vs base", "p50", "p99", "max", "MMU 10ms", "peak heap")


def _cell_texts(cell, is_base):
    if cell is None:
        return ["-"] * len(COLUMNS)
    if cell.failed:
        return ["FAILED" if cell.applicable else "n/a"] + ["-"] * (len(COLUMNS) - 1)
    if is_base:
        versus = "base"
    elif cell.relative is None:
        versus = "-"
    else:
        r = cell.relative
        text = f"{r:.2f}x slower" if r >= 1 else f"{1 / r:.2f}x faster"
        versus = text if cell.significant else f"n.s. ({text})"
    p = metrics.percentiles(cell.pauses_ns or [])
    ms = lambda v: "-" if v is None else f"{v / 1e6:.3f} ms"
    return [f"{cell.mean_s * 1e3:.2f} ms", versus, ms(p["p50"]), ms(p["p99"]), ms(p["max"]),
            "-" if cell.mmu_10ms is None else f"{cell.mmu_10ms * 100:.1f}%",
            "-" if cell.peak_heap_bytes is None else f"{cell.peak_heap_bytes / (1 << 20):.1f} MiB"]


def _csv_values(cell, is_base):
    if cell is None:
        return [""] * 9
    if cell.failed:
        return ["failed" if cell.applicable else "not applicable"] + [""] * 8
    p = metrics.percentiles(cell.pauses_ns or [])
    return ["ok", cell.mean_s, "" if cell.relative is None else cell.relative,
            "" if is_base or cell.significant is None else str(bool(cell.significant)).lower(),
            "" if p["p50"] is None else p["p50"] / 1e9, "" if p["p99"] is None else p["p99"] / 1e9,
            "" if p["max"] is None else p["max"] / 1e9,
            "" if cell.mmu_10ms is None else cell.mmu_10ms,
            "" if cell.peak_heap_bytes is None else cell.peak_heap_bytes]


_CSV_COLUMNS = ("status", "time_s", "relative_time", "significant", "pause_p50_s", "pause_p99_s",
                "pause_max_s", "mmu_10ms", "peak_heap_bytes")


def format_table(table, fmt="text"):
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["configuration"] + [f"{g}:{c}" for g in table.groups for c in _CSV_COLUMNS])
        for row in table.rows:
            values = [row]
            for g in table.groups:
                values += _csv_values(table.cells.get((row, g)), g == table.baseline)
            writer.writerow(values)
        return buf.getvalue()

    body = []
    for row in table.rows:
        line = [row]
        for g in table.groups:
            line += _cell_texts(table.cells.get((row, g)), g == table.baseline)
        body.append(line)

    def group_title(g):
        return f"{g} (baseline)" if g == table.baseline else g

    if fmt == "markdown":
        header = ["configuration"] + [f"{group_title(g)}: {c}" for g in table.groups for c in COLUMNS]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(line) + " |" for line in body]
        return "\n".join(lines) + "\n"

    # plain text: a first header line with the group titles over their columns
    sub = ["configuration"] + [c for _ in table.groups for c in COLUMNS]
    widths = [max(len(sub[i]), *(len(line[i]) for line in body)) if body else len(sub[i])
              for i in range(len(sub))]
    n = len(COLUMNS)
    for gi, g in enumerate(table.groups):
        cols = range(1 + gi * n, 1 + (gi + 1) * n)
        span = sum(widths[i] for i in cols) + 2 * (n - 1)
        title = group_title(g)
        if len(title) > span:
            widths[cols[-1]] += len(title) - span
    top = [" " * widths[0]]
    for gi, g in enumerate(table.groups):
        cols = range(1 + gi * n, 1 + (gi + 1) * n)
        span = sum(widths[i] for i in cols) + 2 * (n - 1)
        top.append(group_title(g).center(span, "-"))
    sep = "  |  "
    def fmt_line(cells):
        first = cells[0].ljust(widths[0])
        parts = []
        for gi in range(len(table.groups)):
            cols = range(1 + gi * n, 1 + (gi + 1) * n)
            parts.append("  ".join(cells[i].rjust(widths[i]) for i in cols))
        return sep.join([first, *parts]).rstrip()
    lines = [sep.join(top).rstrip(), fmt_line(sub)]
    lines += [fmt_line(line) for line in body]
    return "\n".join(lines) + "\n"


def main(args):
    if args.format not in FORMATS:
        raise UsageError(f"unknown format {args.format!r}; known: {', '.join(FORMATS)}")
    table = compare_files(args.files, baseline=args.baseline)
    print(format_table(table, args.format), end="")
    return 0
