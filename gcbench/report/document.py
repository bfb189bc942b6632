"""A self-contained report of a set of results: report.html (charts embedded as base64 PNG,
inline CSS, no external file) and report.md (charts linked by relative path).

Both hold the comparison table (one row per configuration: run time and throughput,
pause p50/p99/max, total stop-the-world time, MMU at 10 ms, GC CPU fraction, peak heap),
the charts, the machine and software the results came from, and the exact command that
reproduces them.  Every figure comes from `gcbench.metrics` or from the result itself;
nothing is computed here a second time.  Results are seen through the io room's view
(series, groups, samples), the same view the charts (report.plots) use.  It writes the
two report files only; it runs nothing and reads no results file (callers pass results).
"""
import base64
import html
import os
import shlex

from .. import metrics
from ..io import view
from ..io.machine import cpu_model
from ..io.atomic import write_text_atomic
from ..units import format_bytes
from . import compare, plots

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.55em; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em;
          vertical-align: -0.1em; border: 1px solid #0003; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.8em; color: #666; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; font-size: 0.9em; }
dt { font-weight: 600; } dd { margin: 0; font-family: ui-monospace, monospace; }
.note { color: #555; font-size: 0.9em; }
/* the table never overflows the page: names wrap, and a table still too wide scrolls */
.table-box { max-width: 100%; overflow-x: auto; }
td.name { white-space: normal; overflow-wrap: anywhere; min-width: 9em; max-width: 22em; }
"""

COLUMNS = ("workload", "collector", "heap", "GOGC", "run time", "throughput", "pauses",
           "pause p50", "pause p99", "pause max", "total STW", "MMU 10 ms", "GC CPU", "peak heap")


def _ms(ns):
    return "-" if ns is None else f"{ns / 1e6:.3f} ms"


def _pct(fraction):
    return "-" if fraction is None else f"{fraction * 100:.1f}%"


def table_rows(results, styles=None):
    """One row per completed configuration, as (label, {column: text}), in chart order."""
    styles = styles or view.SeriesStyles(results)
    rows = []
    for group in view.group_results(results):
        order = {label: i for i, label in enumerate(styles.labels)}
        for r in sorted(group.results, key=lambda r: (machine_label(r), order[styles.label(r)], r["heap_bytes"])):
            label = styles.label(r)
            times = view.run_times_s(r)
            mean = float(times.mean())
            spread = f" ± {times.std(ddof=1) * 1e3:.2g}" if times.size > 1 else ""
            run_time = f"{mean * 1e3:.1f}{spread} ms"
            pauses = view.pause_samples_ns(r)
            pct = metrics.percentiles(pauses)
            summary = r.get("summary") or {}
            mmu10 = summary.get("mmu_10ms")
            if mmu10 is None and r["wall_s"] * 1e9 > 10_000_000:
                mmu10 = metrics.mmu(r, 10_000_000)[0]
            rows.append((label, {
                "workload": group.workload,
                "collector": label,
                "heap": format_bytes(r["heap_bytes"]),
                "GOGC": "off" if r.get("gogc") is None else str(r.get("gogc")),
                "run time": run_time,
                "throughput": f"{r.get('mutator_ops', 0) / mean / 1e6:.1f} M ops/s" if mean > 0 else "-",
                "pauses": str(int(pauses.size)),
                "pause p50": _ms(pct["p50"]),
                "pause p99": _ms(pct["p99"]),
                "pause max": _ms(pct["max"]),
                "total STW": _ms(summary.get("total_stw_ns", sum(r["pauses_ns"]))),
                "MMU 10 ms": "-" if mmu10 is None else f"{mmu10:.3f}",
                "GC CPU": _pct(r.get("gc_cpu_fraction")),
                "peak heap": format_bytes(r.get("peak_heap_bytes") or 0),
                "request p99": _ms((r.get("request_latency_ns") or {}).get("p99")),
                "machine": machine_label(r),
            }))
    return rows


def columns(results):
    """The table's columns: request latency only when some run recorded requests."""
    if any(isinstance(r.get("request_latency_ns"), dict) for r in results):
        return COLUMNS + ("request p99",) + _machine_column(results)
    return COLUMNS + _machine_column(results)


MACHINE_FIELDS = (("machine_host", "host"), ("machine_cpu_model", "CPU"), ("machine_cores", "cores"),
                  ("machine_kernel", "kernel"), ("machine_gcbench_version", "gcbench"))


def machine_label(result):
    """The machine that measured a suite result: its host and CPU model ("-" when unknown)."""
    meta = result.get("suite_metadata") or {}
    if not meta.get("machine_host"):
        return "-"
    return f"{meta['machine_host']} ({meta.get('machine_cpu_model', 'unknown CPU')})"


def _machine_column(results):
    """A machine column when the results come from more than one machine."""
    return ("machine",) if len({machine_label(r) for r in results}) > 1 else ()


def machines(results):
    """[(name, value)]: every machine that measured the results, as the tasks recorded them."""
    seen = {}
    for r in results:
        meta = r.get("suite_metadata") or {}
        if meta.get("machine_host"):
            key = machine_label(r)
            seen.setdefault(key, ", ".join(f"{name} {meta[k]}" for k, name in MACHINE_FIELDS if k in meta))
    return [(f"machine {i + 1}" if len(seen) > 1 else "measured on", text)
            for i, text in enumerate(seen.values())]


def environment(results):
    """[(name, value)]: the software and machine the results came from."""
    out = []
    for key, name in (("gcbench_version", "gcbench"), ("python", "Python"), ("platform", "platform"),
                      ("machine", "machine"), ("compiler", "compiler"), ("cflags", "CFLAGS")):
        values = sorted({str(r[key]) for r in results if r.get(key) is not None})
        if values:
            out.append((name, " | ".join(values)))
    suite_meta = next((r["suite_metadata"] for r in results if r.get("suite_metadata")), {})
    if suite_meta.get("cpu_model_name"):
        out.append(("CPU", str(suite_meta["cpu_model_name"])))
    else:
        model = cpu_model()
        if model:
            out.append(("CPU", f"{model} (of the machine that wrote this report)"))
    for key, name in (("cpu_count", "CPUs"), ("cpu_affinity", "CPU affinity"),
                      ("perf_version", "pyperf"), ("date", "date")):
        if key in suite_meta:
            out.append((name, str(suite_meta[key])))
    out += machines(results)
    return out


def run_command(result):
    """The `gcbench run` command line that repeats this configuration exactly."""
    args = ["gcbench", "run", "--collector", result["collector"], "--workload", result["workload"]]
    for k, v in (result.get("params") or {}).items():
        args += ["--param", f"{k}={v}"]
    for k, v in (result.get("opts") or {}).items():
        args += ["--opt", f"{k}={v}"]
    args += ["--seed", str(result.get("seed", 1)), "--heap", str(result["heap_bytes"]),
             "--gogc", "off" if result.get("gogc") is None else str(result.get("gogc"))]
    return shlex.join(args)


def reproduce_commands(results, command=None):
    """The command that reproduces the results: the one given, the suite's own (pyperf
    metadata gcbench_command), else one `gcbench run` per configuration."""
    if command:
        return [command if isinstance(command, str) else shlex.join(command)]
    for r in results:
        recorded = (r.get("suite_metadata") or {}).get("gcbench_command")
        if recorded:
            return [str(recorded)]
    seen, out = set(), []
    for r in results:
        line = run_command(r)
        if line not in seen:
            seen.add(line)
            out.append(line)
    return out


def _title(results):
    workloads = sorted({r["workload"] for r in results})
    collectors = sorted({r["collector"] for r in results})
    return f"gcbench: {', '.join(collectors)} on {', '.join(workloads)}"


def previous_report_charts(out_dir):
    """The chart files the report.md already in `out_dir` shows (absolute paths of files
    beside it): what an earlier `gcbench report` there drew, and nothing else."""
    import re
    md = os.path.join(out_dir, "report.md")
    try:
        with open(md, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return set()
    found = set()
    for ref in re.findall(r"^!\[[^\]]*\]\(([^)\s/]+)\)$", text, flags=re.M):
        path = os.path.abspath(os.path.join(out_dir, ref))
        if os.path.splitext(ref)[1].lower() in (".png", ".svg", ".pdf") and os.path.isfile(path):
            found.add(path)
    return found


def write_report(results, out_dir, command=None, charts=None):
    """Write report.html and report.md into `out_dir`; returns their paths.

    `charts`: chart files to show (PNG ones are embedded in the HTML); None draws every
    chart kind as PNG into `out_dir` first.
    """
    os.makedirs(out_dir, exist_ok=True)
    skipped = []
    if charts is None:
        earlier = previous_report_charts(out_dir)
        charts = plots.render_all(results, out_dir,
                                  on_skip=lambda kind, workload, why: skipped.append(f"{kind} ({workload}): {why}"))
        # the charts an earlier report in out_dir drew and this one did not are stale
        drawn = {os.path.abspath(p) for p in charts}
        for stale in earlier - drawn:
            try:
                os.remove(stale)
            except OSError:
                pass
    styles = view.SeriesStyles(results)
    rows = table_rows(results, styles)
    cols = columns(results)
    env = environment(results)
    commands = reproduce_commands(results, command)
    from_suite = any(r.get("pause_values_s") for r in results)
    pause_note = ("Pause figures are over every pause pyperf recorded for a configuration; total STW, "
                  "MMU, GC CPU and peak heap are those of the configuration's recorded run."
                  if from_suite else "Figures are those of each configuration's single run.")
    title = _title(results)
    html_path = os.path.join(out_dir, "report.html")
    md_path = os.path.join(out_dir, "report.md")
    lbo = compare.lbo_groups(results)
    write_text_atomic(html_path, _html(title, cols, rows, styles, charts, env, commands, pause_note, skipped,
                                       lbo=lbo))
    write_text_atomic(md_path, _markdown(title, cols, rows, charts, env, commands, pause_note, skipped, out_dir,
                                         lbo=lbo))
    return html_path, md_path


def _html(title, cols, rows, styles, charts, env, commands, pause_note, skipped, lbo=()):
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(title)}</title>", f"<style>{CSS}</style></head><body>", f"<h1>{e(title)}</h1>"]
    out.append("<h2>Comparison</h2>")
    out.append('<div class="table-box"><table><thead><tr>' + "".join(
        f'<th class="name">{e(c)}</th>' if c in ("workload", "collector") else f"<th>{e(c)}</th>"
        for c in cols) + "</tr></thead><tbody>")
    for label, row in rows:
        cells = []
        for c in cols:
            if c == "collector":
                swatch = f'<span class="swatch" style="background:{styles.colour(label)}"></span>'
                cells.append(f'<td class="name">{swatch}{e(row[c])}</td>')
            elif c == "workload":
                cells.append(f'<td class="name">{e(row[c])}</td>')
            else:
                cells.append(f"<td>{e(row[c])}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    out.append(f'<p class="note">{e(pause_note)} Run time: mean time per run (± one standard '
               f"deviation when several runs were measured); throughput: mutator operations per second "
               f"of that time; MMU 10 ms: the smallest fraction of any 10 ms window left to the mutator.</p>")
    out += _lbo_html(lbo, styles)
    out.append("<h2>Charts</h2>")
    for path in charts:
        name = os.path.basename(path)
        if path.lower().endswith(".png") and os.path.exists(path):
            with open(path, "rb") as f:
                data = base64.b64encode(f.read()).decode("ascii")
            out.append(f'<figure><img alt="{e(name)}" src="data:image/png;base64,{data}">'
                       f"<figcaption>{e(name)}</figcaption></figure>")
        else:
            out.append(f'<p><a href="{e(name)}">{e(name)}</a></p>')
    if skipped:
        out.append('<p class="note">Not drawn: ' + "; ".join(e(s) for s in skipped) + ".</p>")
    out.append("<h2>Reproduce</h2><pre>" + e("\n".join(commands)) + "</pre>")
    out.append("<h2>Machine and software</h2><dl>")
    out += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in env]
    out.append("</dl></body></html>")
    return "\n".join(out) + "\n"


def _markdown(title, cols, rows, charts, env, commands, pause_note, skipped, out_dir, lbo=()):
    def cell(text):
        return str(text).replace("|", "\\|")
    out = [f"# {title}", "", "## Comparison", "",
           "| " + " | ".join(cols) + " |",
           "| " + " | ".join("---" if c in ("workload", "collector") else "---:" for c in cols) + " |"]
    out += ["| " + " | ".join(cell(row[c]) for c in cols) + " |" for _, row in rows]
    out += ["", pause_note, ""]
    out += _lbo_markdown(lbo)
    out += ["## Charts", ""]
    for path in charts:
        rel = os.path.relpath(path, out_dir)
        out += [f"![{os.path.basename(path)}]({rel})", ""]
    if skipped:
        out += ["Not drawn: " + "; ".join(skipped) + ".", ""]
    out += ["## Reproduce", "", "```sh", *commands, "```", "", "## Machine and software", ""]
    out += [f"- {k}: `{v}`" for k, v in env]
    return "\n".join(out) + "\n"


LBO_NOTE = ("Lower-bound overhead (LBO; Cai, Blackburn, Bond and Maas, ISPASS 2022): a configuration's "
            "cost over the workload's minimum distilled cost (MDC), less one.  The distilled cost is the "
            "cost less what is explicitly attributable to GC (pauses, sweeping and assists on the mutator "
            "thread, background marking CPU); the MDC is its minimum over every collector and heap size, "
            "nogc included.  Wall: time per run; CPU: plus the background mark worker's CPU time.")


def _lbo_rows(g):
    return [(e.collector, e.heap, f"{e.wall_s * 1e3:.1f} ms", f"{e.distilled_s * 1e3:.1f} ms",
             f"{e.lbo_wall * 100:+.1f}%", f"{e.lbo_cpu * 100:+.1f}%") for e in g.entries]


LBO_HEADER = ("collector", "heap", "run time", "distilled", "LBO wall", "LBO CPU")


def _lbo_html(groups, styles):
    if not groups:
        return []
    e = html.escape
    out = ["<h2>Lower-bound overhead</h2>", f'<p class="note">{e(LBO_NOTE)}</p>']
    for g in groups:
        out.append(f"<p>{e(g.title)}: MDC {g.mdc_s * 1e3:.1f} ms ({e(g.mdc_from)})</p>")
        out.append('<table class="lbo"><thead><tr class="lbo">' + "".join(
            f'<th class="name">{e(c)}</th>' if i < 2 else f"<th>{e(c)}</th>" for i, c in enumerate(LBO_HEADER))
            + "</tr></thead><tbody>")
        for row in _lbo_rows(g):
            swatch = f'<span class="swatch" style="background:{styles.colour(row[0])}"></span>'
            out.append(f'<tr class="lbo"><td class="name">{swatch}{e(row[0])}</td><td class="name">{e(row[1])}</td>'
                       + "".join(f"<td>{e(c)}</td>" for c in row[2:]) + "</tr>")
        out.append("</tbody></table>")
    return out


def _lbo_markdown(groups):
    if not groups:
        return []
    out = ["## Lower-bound overhead", "", LBO_NOTE, ""]
    for g in groups:
        out += [f"{g.title}: MDC {g.mdc_s * 1e3:.1f} ms ({g.mdc_from})", "",
                "| " + " | ".join(LBO_HEADER) + " |", "| --- | --- | ---: | ---: | ---: | ---: |"]
        out += ["| " + " | ".join(row) + " |" for row in _lbo_rows(g)]
        out.append("")
    return out
