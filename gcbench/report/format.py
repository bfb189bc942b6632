"""Formatting: every line and table gcbench prints, in one place.

What `gcbench run` prints (print_summary), `gcbench list` (print_list), `gcbench record`
and `gcbench minheap` (recorded_line, probe_line, minheap_line) and the comparison table
of `gcbench compare` and a suite's summary (comparison_table, from a report.compare.Table:
long form in 100 columns by default, `wide` for a column group per collector).
Go-style gctrace and memstats lines are report.gotrace's.  This module computes no
figure (they come from the result, gcbench.metrics or report.compare) and reads or
writes no file: callers pass what to format and where to print it.
"""
import csv
import io
import sys

from .. import metrics
from ..units import format_bytes


def _fmt_ms(ns):
    return "-" if ns is None else f"{ns / 1e6:.3f} ms"


def _fmt_us(ns):
    return "-" if ns is None else f"{ns / 1e3:.1f} us"


def print_list(collectors, workloads, out=sys.stdout):
    """`gcbench list`: every collector with its options, every workload with its parameters."""
    print("collectors:", file=out)
    for entry in collectors:
        opts = ", ".join(f"{k}={v.get('default')}" + (f" ({'|'.join(map(str, v['choices']))})" if v.get("choices") else "")
                         for k, v in entry.specs.items())
        state = "" if entry.available else f"  [unavailable: {entry.reason}]"
        print(f"  {entry.name:<12} {entry.description}{state}", file=out)
        if opts:
            print(f"  {'':<12}   options: {opts}", file=out)
    print("workloads:", file=out)
    for entry in workloads:
        print(f"  {entry.name:<15} {entry.description}", file=out)
        specs = entry.specs
        for spec in specs.values():
            name = spec["name"]
            if name.startswith(("min_", "max_")) and f"{name[4:]}_dist" in specs:
                continue          # shown with its distribution below
            if name.endswith("_dist") and f"min_{name[:-5]}" in specs:
                what = name[:-5]
                lo, hi = specs[f"min_{what}"], specs[f"max_{what}"]
                print(f"  {'':<15}   {name}={spec.get('default')} min_{what}={lo.get('default')} "
                      f"max_{what}={hi.get('default')}  {hi.get('help', '').replace('largest ', '', 1)} "
                      f"({'|'.join(spec['choices'])})", file=out)
                continue
            choices = f" ({'|'.join(map(str, spec['choices']))})" if spec.get("choices") else ""
            print(f"  {'':<15}   {name}={spec.get('default')}  {spec.get('help', '')}{choices}", file=out)
    print("distributions: fixed = always (min+max)//2; uniform = every value in [min, max]; "
          "pareto = bounded Pareto, shape 1.16 (mostly near min, a few near max)", file=out)


def print_summary(result, result_keys=(), out=sys.stdout):
    """`gcbench run`'s summary; `result_keys`: the extra keys the workload declares."""
    s = result["summary"]
    p = s["pause_ns"]
    gogc = "off" if result["gogc"] is None else result["gogc"]
    opts = "".join(f" {k}={v}" for k, v in result["opts"].items())
    print(f"{result['collector']}{opts} on {result['workload']} (seed {result['seed']}, "
          f"heap {format_bytes(result['heap_bytes'])}, GOGC {gogc})", file=out)
    print(f"  cycles       {result['cycles']}", file=out)
    print(f"  pauses       {s['pause_count']}  p50 {_fmt_ms(p['p50'])}  p99 {_fmt_ms(p['p99'])}  "
          f"max {_fmt_ms(p['max'])}", file=out)
    share = s["total_stw_ns"] / 1e9 / result["wall_s"] * 100 if result["wall_s"] else 0
    print(f"  total STW    {_fmt_ms(s['total_stw_ns'])} ({share:.1f}% of {result['wall_s']:.3f} s wall)", file=out)
    print(f"  throughput   {s['ops_per_s'] / 1e6:.1f} M ops/s, {s['alloc_bytes_per_s'] / 1e6:.1f} MB/s allocated, "
          f"{(s['allocs_per_mutator_s'] or 0) / 1e6:.1f} M objects/s of mutator time", file=out)
    print(f"  GC CPU       {result['gc_cpu_fraction'] * 100:.1f}%", file=out)
    print(f"  peak heap    {format_bytes(result['peak_heap_bytes'])} (peak live {format_bytes(result['peak_live_bytes'])})", file=out)
    print(f"  allocated    {result['alloc_count']} objects, {format_bytes(result['alloc_bytes'])}", file=out)
    for key, label in (("request_latency_ns", "latency"), ("metered_latency_ns", "metered")):
        lat = result.get(key)
        if lat:
            print(f"  {label:<12} p50 {_fmt_us(lat['p50'])}  p99 {_fmt_us(lat['p99'])}  "
                  f"p99.9 {_fmt_us(lat['p99.9'])}  max {_fmt_us(lat['max'])} per request", file=out)
    pool = result.get("pool")
    if pool:
        print(f"  pool         {pool['gets']} gets: {pool['hits_private']} private, {pool['hits_shared']} shared, "
              f"{pool['hits_stolen']} stolen, {pool['hits_victim']} victim, {pool['misses']} new; "
              f"{pool['puts']} puts, {pool['dropped']} dropped by cleanup", file=out)
    for key in (k for k in result_keys if k in result and k != "goroutine_samples"):
        print(f"  {key:<12} {_fmt_extra(result[key])}", file=out)
    _print_goroutine_samples(result.get("goroutine_samples"), out)
    _print_generations(result, out)
    if "mark-start" in result.get("pause_kinds", ()):
        print(f"  pacer        {s.get('goal_overruns', 0)} of {result['cycles']} cycles over their goal, "
              f"{s.get('full_gc_fallbacks', 0)} full-gc fallbacks; GOMAXPROCS {result.get('procs')}"
              + (f", GOMEMLIMIT {format_bytes(result['memlimit'])}" if result.get("memlimit") else ""), file=out)
    if result["verified"]:
        print(f"  verified     yes ({result['counters']['verified_cycles']} cycles and the final heap)", file=out)
    touch = result.get("pretouch")
    if touch and touch["bytes"]:
        whole = "the whole arena" if touch["whole_arena"] else f"the first {format_bytes(touch['bytes'])} of the arena"
        print(f"  pretouch     {whole} faulted in before the timed run ({touch['s']:.2f} s, not in the wall time)", file=out)
    elif touch:
        print(f"  pretouch     none: {touch['note']}", file=out)


def _print_goroutine_samples(samples, out):
    """goroutine-leak's samples: goroutines, live heap and stack-scan work growing together."""
    if not samples:
        return
    print("  samples      requests  NumGoroutine  leaked  heap live  last cycle stack scan  "
          "stack scan total (in pauses)", file=out)
    for s in samples:
        print(f"  {'':<12} {s['requests']:>8}  {s['/sched/goroutines:goroutines']:>12}  "
              f"{s['leaked_goroutines']:>6}  {format_bytes(s['/gc/heap/live:bytes']):>9}  "
              f"{format_bytes(s['/gc/scan/stack:bytes']):>21}  {format_bytes(s['stack_scan_bytes_total'])} "
              f"({format_bytes(s['stack_scan_pause_bytes_total'])})", file=out)


def _fmt_extra(value):
    if isinstance(value, list):
        if len(value) <= 8:
            return "[" + ", ".join(map(str, value)) + "]"
        return f"[{', '.join(map(str, value[:3]))}, ..., {value[-1]}] ({len(value)} entries)"
    return str(value)


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


TERMINAL_COLUMNS = 100            # what the default text table and the suite summary fit


def _fit(text, width):
    """`text` cut to `width` characters, with an ellipsis when cut."""
    return text if len(text) <= width else text[:max(width - 3, 0)] + "..."


def wrap_words(text, width, indent=""):
    """`text` wrapped at spaces into lines of at most `width` (a word longer is cut)."""
    import textwrap
    return [_fit(line, width) for line in
            textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=True,
                          break_on_hyphens=False)] or [""]


_LONG_COLUMNS = ("collector",) + COLUMNS


def long_table(table, width=TERMINAL_COLUMNS):
    """The comparison as plain text in long form: per configuration a title line, then one
    row per collector (time, ratio to the baseline, pauses, MMU, peak heap); every line
    fits `width` columns (the collector column is cut with an ellipsis when it must be)."""
    blocks = []
    for row in table.rows:
        lines = [[g] + _cell_texts(table.cells.get((row, g)), g == table.baseline)
                 for g in table.groups if (row, g) in table.cells]
        blocks.append((row, lines))
    every = [line for _, lines in blocks for line in lines] + [list(_LONG_COLUMNS)]
    # a FAILED or n/a cell's error is not in the table (the summary lists failures)
    widths = [max(len(line[i]) for line in every) for i in range(len(_LONG_COLUMNS))]
    indent, gap = 2, 2
    others = sum(widths[1:]) + gap * (len(widths) - 1)
    widths[0] = max(min(widths[0], width - indent - others), 9)

    def fmt_line(cells):
        first = _fit(cells[0], widths[0]).ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:]))
        return _fit((" " * indent + (" " * gap).join([first, *rest])).rstrip(), width)

    header = list(_LONG_COLUMNS)
    header[2] = _fit(f"vs {table.baseline}", widths[2])
    out = [fmt_line(header)]
    for row, lines in blocks:
        out += wrap_words(row, width, indent="    ")
        out += [fmt_line(line) for line in lines]
    for line in _machine_lines(table, "text"):
        out += wrap_words(line, width, indent="      ") if line else [""]
    return "\n".join(out) + "\n"


def wrapped_entries(entries, width=TERMINAL_COLUMNS):
    """`  name: text` lines (a suite's failures), wrapped to `width` columns: the name on
    its own line when the two do not fit on one, the text indented under it."""
    lines = []
    for name, text in entries:
        one = f"  {name}: {text}"
        if len(one) <= width:
            lines.append(one)
            continue
        lines += ["  " + line for line in wrap_words(f"{name}:", width - 2)]
        lines += ["      " + line for line in wrap_words(str(text), width - 6)]
    return lines


def comparison_table(table, fmt="text"):
    """The comparison Table (report.compare) as text (long form, 100 columns), wide
    (today's one row per configuration, a column group per collector), markdown or csv."""
    if fmt == "text":
        return long_table(table)
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
        lines += _machine_lines(table, "markdown")
        return "\n".join(lines) + "\n"

    # wide plain text: a first header line with the group titles over their columns
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
    lines += _machine_lines(table, "text")
    return "\n".join(lines) + "\n"


def _machine_lines(table, fmt):
    """Under the table: which machine each row tag is, when rows are split by machine."""
    machines = getattr(table, "machines", None)
    if not machines:
        return []
    bullet = "- " if fmt == "markdown" else "  "
    out = ["", "rows grouped by machine (ratios only within one CPU model; --across-machines "
               "puts them in one column):"]
    out += [f"{bullet}{tag}: {text}" for tag, text in machines.items()]
    return out


def recorded_line(result, records, path, fmt):
    """`gcbench record`'s one line."""
    return (f"recorded {len(records)} operations of {result['workload']} (seed {result['seed']}: "
            f"{result['alloc_count']} objects, {format_bytes(result['alloc_bytes'])} allocated, "
            f"{result['cycles']} cycles under {result['collector']}) to {path} ({fmt})")


def probe_line(heap_bytes, completed, seconds):
    """One minheap probe (stderr)."""
    outcome = "completes" if completed else "heap exhausted"
    return f"  {format_bytes(heap_bytes):>10} ({heap_bytes} bytes): {outcome} ({seconds:.2f} s)"


def minheap_line(config, found, search):
    """`gcbench minheap`'s last line: it ends with the size in bytes."""
    failing = search.largest_failing(found)
    fails = f"; {failing} bytes runs out" if failing else ""
    return (f"minimum heap of {config.workload} under {config.collector}: {format_bytes(found)} "
            f"({len(search.probes)} runs{fails}), bytes: {found}")


def _print_generations(result, out):
    """Copying and generational runs: cycles by kind, copied and promoted bytes, survival."""
    kinds = result["summary"].get("cycle_kinds") or {}
    c = result["counters"]
    if set(kinds) - {"full"}:
        survival = result["summary"].get("minor_survival")
        print("  cycle kinds  " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) +
              (f"; minor survival {survival * 100:.1f}%" if survival is not None else ""), file=out)
    if c.get("copied_objects") or c.get("promoted_bytes"):
        print(f"  copied       {c['copied_objects']} objects, {format_bytes(c['copied_bytes'])}; "
              f"promoted {format_bytes(c['promoted_bytes'])}", file=out)
    if c.get("remset_entries") or c.get("cards_dirtied"):
        print(f"  remembered   {c['remset_entries']} objects logged, {c['cards_dirtied']} cards dirtied, "
              f"{format_bytes(c['card_scan_bytes'])} scanned", file=out)


# ---------------------------------------------------------------------------
# gcbench compare --lbo

LBO_COLUMNS = ("collector", "heap", "time", "CPU", "distilled", "LBO wall", "LBO CPU")


def _lbo_row(e):
    return (e.collector, e.heap, f"{e.wall_s * 1e3:.1f} ms", f"{e.cpu_s * 1e3:.1f} ms",
            f"{e.distilled_s * 1e3:.1f} ms", f"{e.lbo_wall * 100:+.1f}%", f"{e.lbo_cpu * 100:+.1f}%")


def lbo_table(groups, fmt="text"):
    """The LBO of every configuration, per workload (report.compare.lbo_groups)."""
    out = []
    if fmt == "csv":
        import csv
        import io
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(("workload", "mdc_s", "mdc_from", "collector", "heap", "time_s", "cpu_s",
                         "distilled_s", "lbo_wall", "lbo_cpu"))
        for g in groups:
            for e in g.entries:
                writer.writerow((g.title, f"{g.mdc_s:.6f}", g.mdc_from, e.collector, e.heap, f"{e.wall_s:.6f}",
                                 f"{e.cpu_s:.6f}", f"{e.distilled_s:.6f}", f"{e.lbo_wall:.4f}", f"{e.lbo_cpu:.4f}"))
        return buf.getvalue()
    # text wraps at TERMINAL_COLUMNS; markdown leaves the wrapping to its reader
    wrap = ((lambda text, indent="": [text]) if fmt == "markdown"
            else (lambda text, indent="": wrap_words(text, TERMINAL_COLUMNS, indent)))
    out += wrap("Lower-bound overhead (LBO; Cai et al., ISPASS 2022): cost / MDC - 1, where MDC is "
                "the minimum distilled cost (cost less pauses, sweeping, assists and background "
                "marking) over every collector and heap size of the workload")
    for g in groups:
        out.append("")
        out += wrap(f"{g.title}: MDC {g.mdc_s * 1e3:.1f} ms ({g.mdc_from})", "    ")
        rows = [_lbo_row(e) for e in g.entries]
        if fmt == "markdown":
            out.append("")
            out.append("| " + " | ".join(LBO_COLUMNS) + " |")
            out.append("| --- | --- | " + " | ".join("---:" for _ in LBO_COLUMNS[2:]) + " |")
            out += ["| " + " | ".join(r) + " |" for r in rows]
        else:
            widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(LBO_COLUMNS)]
            line = lambda cells: "  " + "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
            out.append(line(LBO_COLUMNS).rstrip())
            out += [line(r).rstrip() for r in rows]
    return "\n".join(out) + "\n"
