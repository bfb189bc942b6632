"""The results view: how a set of single-run results is seen by charts and reports.

Series (a collector with the options that vary, plus GOGC when it varies) with their
fixed colour and marker (`SeriesStyles`), groups per workload and parameters
(`group_results`), the one run per series a comparison shows (`representatives`), and
the samples behind every figure (`pause_samples_ns`, `run_times_s`, `min_heap_bytes`).
Charts (report.plots) and the report (report.document) read results only through this
view, so a collector has the same name and colour everywhere.  This module draws nothing
and writes nothing.
"""
import json
import re
from collections import OrderedDict

import numpy as np

from ..units import format_bytes

# Okabe-Ito (colour-blind safe) without yellow, then a few tab10 colours; black and grey
# are kept for the no-collection reference (nogc), which every other series is read against.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
           "#8C564B", "#BCBD22", "#17BECF", "#9467BD")
REFERENCE_COLOURS = ("#000000", "#7F7F7F")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*", "<", ">")


def _gogc_text(gogc):
    return "off" if gogc is None else str(gogc)


def _natural_key(text):
    """'GOGC=50' before 'GOGC=100': digits compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", text) if part]


class SeriesStyles:
    """Series labels and their fixed colour and marker, for one set of results.

    A label is the collector name, plus the options that vary between results of that
    collector, plus GOGC when the results use more than one GOGC value.  Colours go to
    labels in sorted order (nogc first, in black), so the same set of results always
    gets the same colours, in every chart and in the report.
    """

    def __init__(self, results):
        self._varying_opts = {}
        by_collector = {}
        for r in results:
            by_collector.setdefault(r["collector"], []).append(r.get("opts") or {})
        for collector, opts_list in by_collector.items():
            keys = sorted({k for o in opts_list for k in o})
            self._varying_opts[collector] = [
                k for k in keys if len({json.dumps(o.get(k), sort_keys=True) for o in opts_list}) > 1]
        self._gogc_varies = len({r.get("gogc") for r in results}) > 1
        labels = sorted({self.label(r) for r in results},
                        key=lambda s: (not s.startswith("nogc"), _natural_key(s)))
        self.colours, self.markers = {}, {}
        refs, others = 0, 0
        for i, label in enumerate(labels):
            if label.startswith("nogc") and refs < len(REFERENCE_COLOURS):
                self.colours[label] = REFERENCE_COLOURS[refs]
                refs += 1
            else:
                self.colours[label] = PALETTE[others % len(PALETTE)]
                others += 1
            self.markers[label] = MARKERS[i % len(MARKERS)]
        self.labels = labels

    def label(self, result):
        parts = [result["collector"]]
        opts = result.get("opts") or {}
        parts += [f"{k}={opts.get(k)}" for k in self._varying_opts.get(result["collector"], ())]
        if self._gogc_varies:
            parts.append(f"GOGC={_gogc_text(result.get('gogc'))}")
        return " ".join(parts)

    def colour(self, label):
        return self.colours[label]

    def marker(self, label):
        return self.markers[label]


# ---------------------------------------------------------------------------
# Groups: one chart per workload with its parameters

def _params_text(params):
    return ", ".join(f"{k}={v}" for k, v in (params or {}).items())


class Group:
    """The results of one workload with one set of parameters."""

    def __init__(self, workload, params, results, slug):
        self.workload = workload
        self.params = params
        self.results = results
        self.slug = slug

    def title(self, what, results=None):
        """'What: workload (params); seed, heap, GOGC when the charted runs share them'."""
        results = results if results is not None else self.results
        context = []
        seeds = {r.get("seed") for r in results}
        if len(seeds) == 1:
            context.append(f"seed {seeds.pop()}")
        heaps = {r["heap_bytes"] for r in results}
        if len(heaps) == 1:
            context.append(f"heap {format_bytes(heaps.pop())}")
        gogcs = {r.get("gogc") for r in results}
        if len(gogcs) == 1:
            context.append(f"GOGC {_gogc_text(gogcs.pop())}")
        text = f"{what}: {self.workload} ({_params_text(self.params)})"
        if context:
            # non-breaking spaces: a wrapped title never splits "seed 1" or "heap 64.0 MiB"
            text += "; " + ", ".join(c.replace(" ", "\u00a0") for c in context)
        return text


def group_results(results):
    groups = OrderedDict()
    for r in results:
        key = (r["workload"], json.dumps(r.get("params") or {}, sort_keys=True))
        groups.setdefault(key, []).append(r)
    out = []
    names_seen = {}
    for (workload, _), rs in groups.items():
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", workload).strip("-") or "workload"
        n = names_seen.get(base, 0) + 1
        names_seen[base] = n
        slug = base if n == 1 else f"{base}-{n}"
        out.append(Group(workload, rs[0].get("params") or {}, rs, slug))
    return out


def completed(result):
    """A run that finished (not a failure record)."""
    return not result.get("failed") and not result.get("error")


def representatives(group, styles):
    """One run per series for the charts that compare single configurations.

    When a suite swept heap sizes, every series is shown at the largest heap size that all
    series ran at (the least collection-bound common setting), else at its own largest.
    Returns [(label, result)] in the fixed series order.
    """
    by_label = OrderedDict()
    for r in group.results:
        if completed(r):
            by_label.setdefault(styles.label(r), []).append(r)
    if not by_label:
        return []
    common = set.intersection(*({r["heap_bytes"] for r in rs} for rs in by_label.values()))
    out = []
    for label in styles.labels:
        rs = by_label.get(label)
        if not rs:
            continue
        heap = max(common) if common else max(r["heap_bytes"] for r in rs)
        out.append((label, next(r for r in rs if r["heap_bytes"] == heap)))
    return out


def pause_samples_ns(result):
    """Every pause measured for this configuration, in ns: the pyperf pause benchmark's
    values when a suite recorded them (all of its runs), else the single run's pauses."""
    values = result.get("pause_values_s")
    if values and result.get("pauses_ns"):
        arr = np.asarray(values, dtype=np.float64) * 1e9
        arr = arr[arr > 0]
        if arr.size:
            return arr
    return np.asarray(result.get("pauses_ns") or [], dtype=np.float64)


def run_times_s(result):
    """Seconds per run: pyperf's values for a suite, else the single run's wall time."""
    values = result.get("throughput_values_s")
    if values:
        return np.asarray(values, dtype=np.float64)
    return np.asarray([result["wall_s"]], dtype=np.float64)


def min_heap_bytes(results):
    """The minimum heap for a group: measured (suite metadata) when known, else the
    smallest heap size at which a run completed."""
    measured = [r["min_heap_bytes"] for r in results if r.get("min_heap_bytes")]
    if measured:
        return min(measured), True
    done = [r["heap_bytes"] for r in results if completed(r)]
    return (min(done), False) if done else (None, False)


def heap_label(result):
    """The heap size as the suite named it ("1.5x": relative to that collector's minimum
    heap), else its size."""
    label = (result.get("suite_metadata") or {}).get("heap")
    return str(label) if label else format_bytes(result["heap_bytes"])


def heap_factor(result):
    """The heap size as a multiple of the collector's minimum heap, when known; else None."""
    label = heap_label(result)
    if label.endswith("x"):
        try:
            return float(label[:-1])
        except ValueError:
            pass
    if result.get("min_heap_bytes"):
        return result["heap_bytes"] / result["min_heap_bytes"]
    return None
