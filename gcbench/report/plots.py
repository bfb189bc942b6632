"""Charts of pause times, MMU, throughput, time-space trade-off, request latency and LBO.

`render(results, out_dir, kinds=None, fmt="png")` draws each kind for each workload (with
its parameters) found in `results` (a list of single-run result dictionaries, as
`gcbench.io.store.load_results` returns) and returns the paths written.  A kind whose data
is absent is skipped with a one-line message, never an error.  This module only draws:
it sees results through gcbench.io.view (series, groups, samples) and takes figures from
gcbench.metrics; it reads no results file.

Conventions shared by every chart, so that a reader can move between them:
- a *series* is one collector with its options (and GOGC when the results vary it); its
  colour and marker are fixed for the whole set of results by io.view's `SeriesStyles`, so a
  collector has the same colour in every chart and in the report;
- the title names the chart, the workload and its parameters (wrapped, never clipped);
- durations are in milliseconds, on a log scale when they span a decade or more (pauses
  do: 10 µs to 100 ms), else on a linear scale from zero;
- a chart that compares configurations shows each series at one heap size (see
  `representatives`); the time-space chart is the one that shows the heap-size sweep;
- pause figures use every pause measured for a configuration (`pause_samples_ns`), run
  times every pyperf value (`run_times_s`); percentiles and MMU come from gcbench.metrics;
- figures use constrained layout and put the series legend outside the axes.
Matplotlib is used through `Figure` objects with the Agg canvas: no pyplot, no display,
no global state.
"""
import os
import sys
import textwrap
from collections import OrderedDict

import numpy as np

from .. import metrics
from ..io.view import (SeriesStyles, completed, group_results, min_heap_bytes, pause_samples_ns,
                       representatives, run_times_s)
from ..io.atomic import atomic_path
from ..units import format_bytes

KINDS = ("pauses", "timeline", "mmu", "throughput", "time-space", "latency")
FORMATS = ("png", "svg", "pdf")

PAUSE_KIND_MARKERS = {"stw-collect": "o", "mark-start": "^", "mark-termination": "v",
                      "full-gc": "s"}
# generational plans: CPython's generations (refcount) and nursery/mature (gencopy, sticky)
GENERATION_KINDS = ("gen0", "gen1", "gen2", "young", "increment", "minor", "major")
PAUSE_KIND_MARKERS.update(zip(GENERATION_KINDS, ("o", "D", "s", "o", "P", "x", "*")))
HEAP_IN_USE_COLOUR = "#333333"
HEAP_GOAL_COLOUR = "#888888"
PNG_DPI = 110
MAX_TIMELINE_PANELS = 8


def _count(n, noun):
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _log(message):
    print(f"gcbench: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------
# Figures

def _figure(width, height):
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), layout="constrained")


def _suptitle(fig, text):
    width_chars = int(fig.get_figwidth() * 9.5)
    fig.suptitle(textwrap.fill(text, width=width_chars), fontsize=12)


def _log_duration_axis(axis, lo=None, hi=None, room=1000):
    """Log scale in ms with plain numbers (0.01, 0.1, 1, 10).  When the data span less than
    `room` (three decades by default, fewer on short axes), ticks at 2 and 5 times each
    power of ten are labelled too (more under one decade), so that a narrow range still
    has readable labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    if lo is None or hi is None:
        lo, hi = axis.get_view_interval()
    span = hi / lo if lo > 0 else float("inf")
    subs = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0) if span < 6 else (1.0, 2.0, 5.0) if span < room else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 1.0))
    axis.set_minor_formatter(NullFormatter())


def _nice_125(value, down):
    """The nearest 1, 2 or 5 x 10^k below (down) or above `value`."""
    exp = np.floor(np.log10(value))
    steps = [m * 10.0 ** e for e in (exp - 1, exp, exp + 1) for m in (1, 2, 5)]
    return max(v for v in steps if v <= value * (1 + 1e-9)) if down else min(v for v in steps if v >= value * (1 - 1e-9))


def _duration_axis(ax, which, lo, hi, what, room=1000, pad=1.0):
    """Put durations (ms) on `ax`'s x or y axis: log-scaled when they span a decade or
    more, else linear from zero (a log scale over a narrow range only distorts).  `pad`
    widens a log range by that factor on each side.  Sets the axis label with its unit."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    set_scale = ax.set_xscale if which == "x" else ax.set_yscale
    set_lim = ax.set_xlim if which == "x" else ax.set_ylim
    set_label = ax.set_xlabel if which == "x" else ax.set_ylabel
    if lo > 0 and hi / lo >= 10:
        set_scale("log")
        lo, hi = lo / pad, hi * pad
        if hi / lo < room:
            # end on labelled ticks (1, 2, 5 x 10^k) so both ends of the data are read off
            lo, hi = _nice_125(lo, down=True), _nice_125(hi, down=False)
        set_lim(lo, hi)
        _log_duration_axis(axis, lo, hi, room)
        set_label(f"{what} (ms, log scale)")
        return True
    set_lim(0, hi * 1.08 if hi > 0 else 1.0)
    set_label(f"{what} (ms)")
    return False


def _heap_note(reps):
    """None when every charted run used one heap size, else which series used which."""
    heaps = {r["heap_bytes"] for _, r in reps}
    if len(heaps) < 2:
        return None
    counts = {}
    for _, r in reps:
        counts[r["heap_bytes"]] = counts.get(r["heap_bytes"], 0) + 1
    usual = max(counts, key=lambda h: (counts[h], h))
    others = ", ".join(f"{l}: {format_bytes(r['heap_bytes'])}" for l, r in reps if r["heap_bytes"] != usual)
    return f"heap {format_bytes(usual)} (but {others})"


def _series_legend(fig, styles, labels, extra_handles=(), title=None):
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=styles.colour(l), marker=styles.marker(l), linestyle="-",
                      label=l) for l in labels]
    handles += list(extra_handles)
    ncols = min(len(handles), 3 if max((len(h.get_label()) for h in handles), default=0) > 24 else 4)
    fig.legend(handles=handles, loc="outside lower center", ncols=max(ncols, 1),
               title=title, fontsize=9, frameon=False)


class Skip(Exception):
    """This kind has no data in these results; the message says what is missing."""


def pause_rows_by_kind(label, result):
    """[(row label, pauses in ns)]: one row per generation when a generational run
    (refcount's gen0/gen1/gen2, increment) has several, from the recorded run, whose
    pauses carry their kinds; else one row of every sample."""
    kinds = result.get("pause_kinds") or []
    pauses = result.get("pauses_ns") or []
    if len(set(kinds)) < 2 or len(kinds) != len(pauses) or not set(kinds) & set(GENERATION_KINDS):
        return [(label, pause_samples_ns(result))]
    arr = np.asarray(pauses, dtype=np.float64)
    return [(f"{label} {kind}", arr[np.asarray([k == kind for k in kinds])])
            for kind in dict.fromkeys(k for k in PAUSE_KIND_MARKERS if k in kinds)]


def _plot_pauses(group, styles):
    reps = representatives(group, styles)
    # (series label, row label, result, pauses in ms): a row per pause kind where a run has several
    samples = [(label, row, r, ns / 1e6) for label, r in reps for row, ns in pause_rows_by_kind(label, r)]
    with_pauses = [(l, row, r, s) for l, row, r, s in samples if s.size]
    without = list(dict.fromkeys(l for l, _, _, s in samples if not s.size))
    if not with_pauses:
        raise Skip("no pauses recorded (only runs without collections)")
    n = len(with_pauses)
    fig = _figure(12, max(4.2, 1.9 + 0.55 * n))
    ax_dist, ax_cdf = fig.subplots(1, 2, width_ratios=(1.25, 1))
    rng = np.random.default_rng(0)  # jitter only; fixed so charts are reproducible
    from matplotlib.lines import Line2D
    marks = (("p50", "-", 2.2), ("p99", "--", 1.6), ("max", ":", 1.6))
    ticklabels = []
    for i, (label, row, r, ms) in enumerate(with_pauses):
        y = n - 1 - i
        colour = styles.colour(label)
        # dense strips get lighter dots, so that the mass of pauses shows as shade
        alpha = float(np.clip(8 / np.sqrt(ms.size), 0.15, 0.8))
        jitter = y + rng.uniform(-0.28, 0.28, ms.size)
        ax_dist.scatter(ms, jitter, s=10, color=colour,
                        alpha=alpha, edgecolors="none", rasterized=ms.size > 2000)
        pct = metrics.percentiles(ms)
        for key, style, width in marks:
            ax_dist.plot([pct[key]] * 2, [y - 0.4, y + 0.4], color="black", linestyle=style,
                         linewidth=width, zorder=4)
        ticklabels.append(f"{row}\n{_count(ms.size, 'pause')}")
        xs = np.sort(ms)
        ax_cdf.step(np.concatenate([[xs[0]], xs]), np.concatenate([[0.0], np.arange(1, xs.size + 1) / xs.size]),
                    where="post", color=colour, linewidth=1.8)
        ax_cdf.plot(xs[-1], 1.0, marker=styles.marker(label), color=colour, markersize=6)
    ax_dist.set_yticks(range(n), ticklabels[::-1], fontsize=9)
    ax_dist.set_ylim(-0.6, n - 0.4)
    every = np.concatenate([s for _, _, _, s in with_pauses])
    for ax in (ax_dist, ax_cdf):
        _duration_axis(ax, "x", every.min(), every.max(), "pause duration", pad=1.25)
        ax.grid(True, which="major", axis="x", alpha=0.3)
    ax_dist.set_title("every pause, with p50 / p99 / max", fontsize=10)
    ax_dist.legend(handles=[Line2D([], [], color="black", linestyle=s, linewidth=w, label=k)
                            for k, s, w in marks], loc="upper left", bbox_to_anchor=(1.0, 1.0),
                   fontsize=8, frameon=False, handlelength=1.8)
    ax_cdf.set_title("cumulative distribution", fontsize=10)
    ax_cdf.set_ylabel("fraction of pauses ≤ duration")
    ax_cdf.set_ylim(0, 1.02)
    ax_cdf.grid(True, which="major", axis="y", alpha=0.3)
    extra = []
    if without:
        extra.append(Line2D([], [], linestyle="none", label="no pauses: " + ", ".join(without)))
    _series_legend(fig, styles, list(dict.fromkeys(l for l, _, _, _ in with_pauses)), extra,
                   title=_heap_note([(l, r) for l, _, r, _ in with_pauses]))
    _suptitle(fig, group.title("Pause times", [r for _, _, r, _ in with_pauses]))
    return fig


def heap_curve(result):
    """Heap in use over time, sampled at each cycle's start and end: (t_s, bytes)."""
    t, heap = [0.0], [0.0]
    for c in result.get("cycle_log") or ():
        t += [c["start_ns"] / 1e9, c["end_ns"] / 1e9]
        heap += [c["heap_before"], c["heap_after"]]
    final = (result.get("counters") or {}).get("heap_in_use_bytes")
    if final is not None:
        t.append(result["wall_s"])
        heap.append(final)
    return np.asarray(t), np.asarray(heap, dtype=np.float64)


def goal_curve(result):
    """The heap goal in force over time (set at the end of each cycle): (t_s, bytes)."""
    t, goal = [], []
    for c in result.get("cycle_log") or ():
        if c.get("goal_bytes", -1) >= 0:
            t.append(c["end_ns"] / 1e9)
            goal.append(c["goal_bytes"])
    if t:
        t.append(max(result["wall_s"], t[-1]))
        goal.append(goal[-1])
    return np.asarray(t), np.asarray(goal, dtype=np.float64)


def _plot_timeline(group, styles):
    reps = representatives(group, styles)
    if not reps:
        raise Skip("no completed runs")
    if not any(r["pauses_ns"] or r.get("cycle_log") for _, r in reps):
        raise Skip("no pauses or cycles recorded")
    shown = reps[:MAX_TIMELINE_PANELS]
    if len(reps) > len(shown):
        _log(f"timeline: {group.workload}: showing the first {len(shown)} of {len(reps)} series")
    n = len(shown)
    fig = _figure(12, max(4.8, 1.6 + 2.1 * n))
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    from matplotlib.lines import Line2D
    all_pauses = np.concatenate([np.asarray(r["pauses_ns"], dtype=np.float64) for _, r in shown]) / 1e6
    kinds_seen = []
    heap_axes = []
    arena_shown = False
    stopping_shown = False
    mib = float(1 << 20)
    for ax, (label, r) in zip(axes, shown):
        colour = styles.colour(label)
        starts = np.asarray(r["pause_starts_ns"], dtype=np.float64) / 1e9
        durs = np.asarray(r["pauses_ns"], dtype=np.float64) / 1e6
        kinds = r.get("pause_kinds") or ["stw-collect"] * len(durs)
        hx = ax.twinx()
        heap_axes.append(hx)
        t, heap = heap_curve(r)
        hx.plot(t, heap / mib, color=HEAP_IN_USE_COLOUR, linewidth=1.0, zorder=1)
        gt, goal = goal_curve(r)
        if gt.size:
            hx.step(gt, goal / mib, where="post", color=HEAP_GOAL_COLOUR, linestyle="--", linewidth=1.0)
        if r.get("gogc") is None and r.get("cycle_log"):
            # GOGC off: a cycle starts when the heap is full, so the arena is the limit
            hx.axhline(r["heap_bytes"] / mib, color=HEAP_GOAL_COLOUR, linestyle=":", linewidth=1.2)
            arena_shown = True
        hx.set_ylabel("heap (MiB)")
        hx.set_ylim(bottom=0)
        for kind in sorted(set(kinds)):
            sel = np.asarray([k == kind for k in kinds])
            if kind not in kinds_seen:
                kinds_seen.append(kind)
            ax.scatter(starts[sel], durs[sel], marker=PAUSE_KIND_MARKERS.get(kind, "o"), s=22,
                       color=colour, edgecolors="black", linewidths=0.4, zorder=3)
        stops = np.asarray(r.get("pause_stopping_ns") or [], dtype=np.float64) / 1e6
        if stops.size == durs.size and stops.size and stops.max() > 0:
            # the stopping part of each pause (time to safepoint), under its pause's mark
            ax.scatter(starts[stops > 0], stops[stops > 0], marker="_", s=40, color=colour, zorder=3)
            stopping_shown = True
        # the pause axis in front of the heap axis, so marks are drawn over the curve
        ax.set_zorder(hx.get_zorder() + 1)
        ax.patch.set_visible(False)
        if all_pauses.size:
            _duration_axis(ax, "y", all_pauses.min(), all_pauses.max(), "pause", room=80, pad=1.5)
        else:
            ax.set_ylim(0, 1)
            ax.set_ylabel("pause (ms)")
        suffix = "" if len({x["heap_bytes"] for _, x in shown}) == 1 else f" (heap {format_bytes(r['heap_bytes'])})"
        ncycles = len(r.get("cycle_log") or [])
        note = (f"{_count(len(durs), 'pause')}, {_count(ncycles, 'cycle')}" if len(durs) else "no pauses")
        ax.set_title(f"{label}{suffix}: {note}", fontsize=10, loc="left", color=colour)
        ax.grid(True, which="major", axis="y", alpha=0.3)
    # every panel on the same time axis, wide enough for the longest run
    axes[0].set_xlim(0, max(r["wall_s"] for _, r in shown) * 1.01)
    axes[-1].set_xlabel("time since the run started (s)")
    extra = [Line2D([], [], color=HEAP_IN_USE_COLOUR, linewidth=1.0, label="heap in use (at cycle start/end)"),
             Line2D([], [], color=HEAP_GOAL_COLOUR, linestyle="--", linewidth=1.0, label="heap goal")]
    if arena_shown:
        extra.append(Line2D([], [], color=HEAP_GOAL_COLOUR, linestyle=":", linewidth=1.2,
                            label="heap size (GOGC off: collects when full)"))
    extra += [Line2D([], [], linestyle="none", marker=PAUSE_KIND_MARKERS.get(k, "o"), color="#BBBBBB",
                     markeredgecolor="black", label=f"pause: {k}") for k in kinds_seen]
    if stopping_shown:
        extra.append(Line2D([], [], linestyle="none", marker="_", color="#555555",
                            label="its stopping part (time to safepoint)"))
    _series_legend(fig, styles, [l for l, _ in shown], extra)
    _suptitle(fig, group.title("Timeline of pauses and heap", [r for _, r in shown]))
    return fig


def mmu_windows_ns(reps):
    """Log-spaced windows from half the shortest longest-pause (where the first curve
    leaves zero) to the longest run."""
    longest = [max(r["pauses_ns"]) for _, r in reps if r["pauses_ns"]]
    wall = max(int(r["wall_s"] * 1e9) for _, r in reps)
    lo = max(1_000, int(min(longest) / 2)) if longest else 1_000_000
    hi = max(wall, lo * 10)
    return np.unique(np.round(np.logspace(np.log10(lo), np.log10(hi), 48)).astype(np.int64))


def _plot_mmu(group, styles):
    reps = [(l, r) for l, r in representatives(group, styles) if r["wall_s"] > 0]
    if not reps:
        raise Skip("no completed runs")
    windows = mmu_windows_ns(reps)
    fig = _figure(10, 6)
    ax = fig.subplots()
    for label, r in reps:
        own = windows[windows <= max(int(r["wall_s"] * 1e9), windows[0])]
        curve = metrics.mmu_curve(r, own)
        w = np.asarray([c[0] for c in curve], dtype=np.float64) / 1e6
        u = np.asarray([c[1] for c in curve])
        ax.plot(w, u, color=styles.colour(label), marker=styles.marker(label), markersize=4,
                markevery=max(1, len(w) // 12), linewidth=1.8)
    ax.set_xscale("log")
    _log_duration_axis(ax.xaxis, windows[0] / 1e6, windows[-1] / 1e6)
    ax.set_xlabel("window (ms, log scale)")
    ax.set_ylabel("minimum mutator utilization (fraction of the window)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, which="major", alpha=0.3)
    _series_legend(fig, styles, [l for l, _ in reps], title=_heap_note(reps))
    _suptitle(fig, group.title("Minimum mutator utilization", [r for _, r in reps]))
    return fig


def _pick_baseline(labels, baseline):
    if baseline:
        matches = [l for l in labels if l == baseline] or [l for l in labels if l.startswith(baseline)]
        if not matches:
            raise Skip(f"baseline {baseline!r} is not among the series ({', '.join(labels)})")
        return matches[0]
    nogc = [l for l in labels if l.startswith("nogc")]
    return nogc[0] if nogc else labels[0]


def _plot_throughput(group, styles, baseline=None):
    reps = representatives(group, styles)
    if len(reps) < 2:
        raise Skip("a throughput comparison needs at least two series")
    labels = [l for l, _ in reps]
    base = _pick_baseline(labels, baseline)
    times = {l: run_times_s(r) for l, r in reps}
    base_mean = times[base].mean()
    n = len(reps)
    fig = _figure(10, max(3.8, 1.9 + 0.55 * n))
    ax = fig.subplots()
    has_spread = all(times[l].size > 1 for l in labels)
    ticklabels = []
    for i, label in enumerate(labels):
        y = n - 1 - i
        t = times[label]
        rel = base_mean / t.mean()
        # pyperf's spread of this configuration's runs, carried to the ratio's scale
        err = rel * t.std(ddof=1) / t.mean() if has_spread else None
        ax.barh(y, rel, color=styles.colour(label), height=0.6, xerr=err,
                error_kw={"ecolor": "black", "capsize": 4, "linewidth": 1.2})
        spread = f" ± {t.std(ddof=1) * 1e3:.2g} ms" if t.size > 1 else ""
        ticklabels.append(f"{label}\n{rel:.2f}×, {t.mean() * 1e3:.1f} ms{spread} per run")
    ax.set_yticks(range(n), ticklabels[::-1], fontsize=9)
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1.0)
    ax.set_xlabel(f"throughput relative to {base} (× its runs per second; higher is faster)")
    ax.set_xlim(left=0)
    ax.grid(True, axis="x", alpha=0.3)
    from matplotlib.lines import Line2D
    extra = [Line2D([], [], color="black", linestyle="--", linewidth=1.0, label=f"baseline: {base}")]
    if has_spread:
        counts = sorted({times[l].size for l in labels})
        extra.append(Line2D([], [], color="black", marker="|", markersize=10, linestyle="-",
                            label=f"± 1 s.d. of its {'/'.join(map(str, counts))} pyperf runs"))
    else:
        extra.append(Line2D([], [], linestyle="none", label="single runs: no spread measured"))
    _series_legend(fig, styles, labels, extra, title=_heap_note(reps))
    _suptitle(fig, group.title("Throughput", [r for _, r in reps]))
    return fig


def _plot_time_space(group, styles):
    done = [r for r in group.results if completed(r)]
    by_label = OrderedDict()
    for r in done:
        by_label.setdefault(styles.label(r), []).append(r)
    # Each run is placed at its heap size over its own collector's minimum heap (measured
    # for that configuration, else the smallest heap at which its series completed), as
    # MMTk plots do: collectors that need very different heaps stay comparable.
    multiple = {}
    measured = True
    for rs in by_label.values():
        series_min, series_measured = min_heap_bytes(rs)
        measured = measured and series_measured
        for r in rs:
            multiple[id(r)] = r["heap_bytes"] / (r.get("min_heap_bytes") or series_min)
    swept = {l: rs for l, rs in by_label.items() if len({round(multiple[id(r)], 1) for r in rs}) > 1}
    if not swept:
        raise Skip("no heap-size sweep (every series ran at a single heap size)")
    fig = _figure(10, 7.5)
    ax_time, ax_pause = fig.subplots(2, 1, sharex=True)
    # seconds for long runs, milliseconds for short ones: no axis of 0.002, 0.004, ...
    longest = max(float(run_times_s(r).mean()) for rs in swept.values() for r in rs)
    time_scale, time_unit = (1.0, "s") if longest >= 1.0 else (1e3, "ms")
    any_pause = False
    all_p99 = []
    labels = [l for l in styles.labels if l in swept]
    for label in labels:
        rs = sorted(swept[label], key=lambda r: multiple[id(r)])
        x = np.asarray([multiple[id(r)] for r in rs])
        times = [run_times_s(r) for r in rs]
        mean = np.asarray([t.mean() for t in times])
        sd = np.asarray([t.std(ddof=1) if t.size > 1 else 0.0 for t in times])
        kw = dict(color=styles.colour(label), marker=styles.marker(label), markersize=5, linewidth=1.6)
        ax_time.errorbar(x, mean * time_scale, yerr=sd * time_scale if sd.any() else None, capsize=3, **kw)
        p99 = [metrics.percentiles(pause_samples_ns(r))["p99"] for r in rs]
        px = [xi for xi, p in zip(x, p99) if p]
        py = [p / 1e6 for p in p99 if p]
        if py:
            any_pause = True
            all_p99 += py
            ax_pause.plot(px, py, **kw)
    ax_time.set_ylabel(f"run time ({time_unit})")
    ax_time.set_ylim(bottom=0)
    ax_time.grid(True, alpha=0.3)
    ax_time.set_title("time: mean time per run" + (" (± 1 s.d.)" if any(r.get("throughput_values_s") for r in done) else ""),
                      fontsize=10, loc="left")
    if any_pause:
        _duration_axis(ax_pause, "y", min(all_p99), max(all_p99), "p99 pause", pad=1.3)
    else:
        ax_pause.set_ylabel("p99 pause (ms)")
    ax_pause.grid(True, which="major", alpha=0.3)
    ax_pause.set_title("pauses: 99th percentile", fontsize=10, loc="left")
    basis = "measured" if measured else "the smallest heap at which its runs completed"
    ax_pause.set_xlabel(f"heap size (× the collector's own minimum heap: {basis})")
    _series_legend(fig, styles, labels)
    _suptitle(fig, group.title("Time-space trade-off", done))
    return fig


LATENCY_KEYS = ("p50", "p90", "p99", "p99.9", "max")


def _plot_latency(group, styles):
    reps = [(l, r) for l, r in representatives(group, styles)
            if isinstance(r.get("request_latency_ns"), dict)
            and any(r["request_latency_ns"].get(k) for k in LATENCY_KEYS)]
    if not reps:
        raise Skip("no request latencies (the workload does not record requests)")
    fig = _figure(10, 6)
    ax = fig.subplots()
    keys = [k for k in LATENCY_KEYS if any(r["request_latency_ns"].get(k) is not None for _, r in reps)]
    x = np.arange(len(keys))
    values = []
    for label, r in reps:
        lat = r["request_latency_ns"]
        pts = [(i, lat[k] / 1e6) for i, k in enumerate(keys) if lat.get(k)]
        values += [p[1] for p in pts]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=styles.colour(label),
                marker=styles.marker(label), linewidth=1.8, markersize=6)
    ax.set_xticks(x, keys)
    ax.set_xlabel("percentile of request latency")
    _duration_axis(ax, "y", min(values), max(values), "request latency", pad=1.3)
    ax.grid(True, which="major", alpha=0.3)
    # requests run (the raw latencies kept for charts are a sample of them)
    counts = {(r.get("params") or {}).get("requests") or len(r.get("request_latencies_ns") or [])
              for _, r in reps} - {0}
    title = "Request latency" + (f" ({'/'.join(map(str, sorted(counts)))} requests)" if counts else "")
    _series_legend(fig, styles, [l for l, _ in reps], title=_heap_note(reps))
    _suptitle(fig, group.title(title, [r for _, r in reps]))
    return fig


_DRAW = {"pauses": _plot_pauses, "timeline": _plot_timeline, "mmu": _plot_mmu,
         "throughput": _plot_throughput, "time-space": _plot_time_space, "latency": _plot_latency}


def _plot_lbo(group, styles):
    """LBO against heap size: one line per series, wall time solid and CPU time dashed;
    the heap as a multiple of each collector's minimum heap (its size when unknown)."""
    from .compare import lbo_groups
    found = lbo_groups(group.results)
    if not found or len(found[0].entries) < 2:
        raise Skip("LBO needs at least two completed configurations")
    g = found[0]
    factors = all(e.heap_factor is not None for e in g.entries)
    fig = _figure(10, 6)
    ax = fig.subplots()
    labels = []
    for label in styles.labels:
        mine = [e for e in g.entries if e.collector == label]
        if not mine:
            continue
        labels.append(label)
        mine.sort(key=lambda e: e.heap_factor if factors else e.heap_bytes)
        x = [e.heap_factor if factors else e.heap_bytes / 2**20 for e in mine]
        ax.plot(x, [e.lbo_wall * 100 for e in mine], color=styles.colour(label), marker=styles.marker(label),
                linewidth=1.8, markersize=6)
        ax.plot(x, [e.lbo_cpu * 100 for e in mine], color=styles.colour(label), marker=styles.marker(label),
                linewidth=1.2, markersize=4, linestyle="--", fillstyle="none")
    ax.set_xlabel("heap size (× the collector's minimum heap)" if factors else "heap size (MiB)")
    ax.set_ylabel("lower-bound overhead (%): cost / MDC - 1")
    ax.set_ylim(bottom=min(0, ax.get_ylim()[0]))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.grid(True, alpha=0.3)
    from matplotlib.lines import Line2D
    extra = [Line2D([], [], color="black", linewidth=1.8, label="wall time"),
             Line2D([], [], color="black", linewidth=1.2, linestyle="--", label="CPU time"),
             Line2D([], [], linestyle="none", label=f"MDC {g.mdc_s * 1e3:.1f} ms: {g.mdc_from}")]
    _series_legend(fig, styles, labels, extra)
    _suptitle(fig, group.title("Lower-bound overhead against heap size"))
    return fig


KINDS += ("lbo",)
_DRAW["lbo"] = _plot_lbo


def render(results, out_dir, kinds=None, fmt="png", baseline=None, on_skip=None):
    """Draw `kinds` (default: all) for every workload group in `results` into `out_dir`.

    Files are named KIND-WORKLOAD.FMT.  Returns the paths written, in kind order.  A kind
    without data is reported through `on_skip(kind, workload, reason)` (default: one
    line on stderr) and skipped.
    """
    from ..errors import UsageError
    kinds = list(dict.fromkeys(KINDS if not kinds else kinds))  # each kind once, in order
    for kind in kinds:
        if kind not in _DRAW:
            raise UsageError(f"unknown chart kind {kind!r} (choose from {', '.join(KINDS)})")
    if fmt not in FORMATS:
        raise UsageError(f"unknown chart format {fmt!r} (choose from {', '.join(FORMATS)})")
    if not results:
        raise UsageError("no results to plot")
    if on_skip is None:
        def on_skip(kind, workload, reason):
            _log(f"skipped {kind} for {workload}: {reason}")
    os.makedirs(out_dir, exist_ok=True)
    styles = SeriesStyles(results)
    if baseline and not any(l == baseline or l.startswith(baseline) for l in styles.labels):
        raise UsageError(f"baseline {baseline!r} is not a series of these results; give "
                         f"--baseline one of: {', '.join(styles.labels)} (or leave it out)")
    groups = group_results(results)
    paths = []
    for kind in kinds:
        for group in groups:
            path = os.path.join(out_dir, f"{kind}-{group.slug}.{fmt}")
            try:
                if kind == "throughput":
                    fig = _plot_throughput(group, styles, baseline=baseline)
                else:
                    fig = _DRAW[kind](group, styles)
            except Skip as why:
                on_skip(kind, group.workload, str(why))
                continue
            with atomic_path(path, suffix=f".{fmt}") as tmp:    # none left on Ctrl-C
                fig.savefig(tmp, format=fmt, dpi=PNG_DPI)
            paths.append(path)
    return paths


def render_all(results, out_dir, baseline=None, on_skip=None):
    """Every kind, as PNG (what `gcbench suite` and `gcbench report` embed)."""
    return render(results, out_dir, kinds=None, fmt="png", baseline=baseline, on_skip=on_skip)
