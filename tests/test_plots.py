"""Charts, reports and Chrome-trace timelines, from real small runs packed as a suite."""
import base64
import copy
import io
import json
import os
import re
import shlex

import numpy as np
import pytest
import pyperf
from PIL import Image

import gcbench
from gcbench import metrics
from gcbench.io import store as results_mod, view
from gcbench.report import document as report, plots, timeline
from gcbench.errors import RunError, UsageError
from conftest import SMALL_CHURN, params_args, run_cli

# A small time-space sweep: marksweep with GOGC off collects only when the heap is full,
# so the heap size decides how often it collects.  At 256K both collectors fail (heap
# exhausted), as a suite's configurations below the minimum heap do.
SWEEP_HEAPS = ("256K", "512K", "768K", "1M")


def _pyperf_bench(name, values, metadata):
    run = pyperf.Run(values, metadata={**metadata, "name": name, "unit": "second"},
                     collect_metadata=False)
    return pyperf.Benchmark([run])


def make_suite(directory):
    """A pyperf suite as `gcbench suite` writes it (the contract of issue 6), from real runs:
    per configuration a throughput benchmark (seconds per run, 3 runs) and a pause benchmark
    (every pause of those runs), both pointing to the configuration's single-run JSON."""
    os.makedirs(os.path.join(directory, "runs"), exist_ok=True)
    configs = [("nogc", 100, "16M"), ("marksweep", 50, "16M"), ("marksweep", 200, "16M")]
    configs += [("marksweep", "off", h) for h in SWEEP_HEAPS] + [("nogc", "off", "256K")]
    benches = []
    for collector, gogc, heap in configs:
        walls, pauses = [], []
        try:
            for _ in range(3):
                r = gcbench.run(collector, "churn", params=SMALL_CHURN, gogc=gogc, heap=heap)
                walls.append(r["wall_s"])
                pauses += [p / 1e9 for p in r["pauses_ns"]]
        except RunError:
            continue  # below the minimum heap: the suite leaves it out
        name = f"churn-{collector}-gogc{gogc}-{heap}"
        run_file = f"runs/{name}.json"
        with open(os.path.join(directory, run_file), "w") as f:
            json.dump(r, f)
        meta = {"gcbench_run_file": run_file, "collector": collector, "workload": "churn",
                "gogc": gogc, "heap_bytes": r["heap_bytes"], "seed": 1,
                "params": json.dumps(r["params"]), "opts": json.dumps(r["opts"])}
        benches.append(_pyperf_bench(name, walls, {**meta, "gcbench_metric": "throughput"}))
        if pauses:  # pyperf refuses a benchmark without values: nogc has no pause benchmark
            benches.append(_pyperf_bench(name + "-pauses", pauses, {**meta, "gcbench_metric": "pause"}))
    path = os.path.join(directory, "suite.json")
    pyperf.BenchmarkSuite(benches).dump(path, replace=True)
    return path


def with_request_latencies(results):
    """Stand-in for the request-shaped workload (being built elsewhere): the runs with
    request latencies drawn from a seeded lognormal, summarised with gcbench.metrics."""
    out = []
    rng = np.random.default_rng(3)
    for i, r in enumerate(results):
        r = copy.deepcopy(r)
        lat = rng.lognormal(np.log(50_000 * (1 + i)), 0.8, 2000)
        r["request_latencies_ns"] = lat.astype(np.int64).tolist()
        r["request_latency_ns"] = metrics.percentiles(lat)
        out.append(r)
    return out


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return make_suite(str(tmp_path_factory.mktemp("suite")))


@pytest.fixture(scope="module")
def suite_results(suite):
    return with_request_latencies(results_mod.load_results(suite))


def assert_png(path, min_size=(400, 250)):
    assert os.path.getsize(path) > 5000
    with Image.open(path) as img:
        img.load()
        assert img.format == "PNG"
        assert img.size[0] >= min_size[0] and img.size[1] >= min_size[1]
        assert img.size[0] <= 3000 and img.size[1] <= 3000
        # a drawn chart, not a blank canvas: many distinct colours
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
        assert len(colours) > 50


# --- loading -------------------------------------------------------------------------

def test_load_suite_follows_run_files_and_attaches_pyperf_values(suite):
    rs = results_mod.load_results(suite)
    configs = {(r["collector"], r["gogc"], r["heap_bytes"]) for r in rs}
    assert ("nogc", 100, 16 << 20) in configs and ("marksweep", None, 512 << 10) in configs
    # below the minimum heap: failed, the suite left them out
    assert ("nogc", None, 256 << 10) not in configs and ("marksweep", None, 256 << 10) not in configs
    for r in rs:
        assert len(r["throughput_values_s"]) == 3 and all(v > 0 for v in r["throughput_values_s"])
        assert r["suite_metadata"]["gcbench_run_file"].startswith("runs/")
        if r["collector"] == "marksweep":
            # 3 runs of a deterministic workload: 3x the run file's pauses
            assert len(r["pause_values_s"]) == 3 * len(r["pauses_ns"]) > 0
        else:
            assert "pause_values_s" not in r


def test_load_single_and_list(tmp_path):
    r = gcbench.run("marksweep", "churn", params=SMALL_CHURN, heap="16M")
    single = tmp_path / "one.json"
    single.write_text(json.dumps(r))
    assert results_mod.load_results(single)[0]["pauses_ns"] == r["pauses_ns"]
    many = tmp_path / "many.json"
    many.write_text(json.dumps([r, r]))
    assert len(results_mod.load_results(many)) == 2


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{not json", "not a JSON file"),
    ('{"collector": "x"}', "not a gcbench result"),
    ("[1, 2]", "not a gcbench result"),
    ("[]", "empty list"),
])
def test_load_bad_inputs_are_usage_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=message):
        results_mod.load_results(path)


def test_suite_with_missing_run_file_is_a_usage_error(tmp_path):
    bench = _pyperf_bench("x", [0.1], {"gcbench_run_file": "runs/gone.json"})
    path = tmp_path / "suite.json"
    pyperf.BenchmarkSuite([bench]).dump(str(path))
    with pytest.raises(UsageError, match="gone.json: no such file"):
        results_mod.load_results(path)


# --- charts --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", plots.KINDS)
def test_each_kind_renders_a_readable_png(suite_results, tmp_path, kind):
    skipped = []
    paths = plots.render(suite_results, tmp_path, kinds=[kind],
                         on_skip=lambda *a: skipped.append(a))
    assert skipped == []
    assert paths == [str(tmp_path / f"{kind}-churn.png")]
    assert_png(paths[0])


def test_kind_without_data_is_skipped_with_a_message(suite, tmp_path):
    rs = results_mod.load_results(suite)          # no request latencies
    single = [r for r in rs if r["heap_bytes"] == 16 << 20]   # no heap sweep
    skipped = []
    paths = plots.render(single, tmp_path, kinds=["latency", "time-space", "mmu"],
                         on_skip=lambda kind, workload, why: skipped.append((kind, why)))
    assert paths == [str(tmp_path / "mmu-churn.png")]
    assert [k for k, _ in skipped] == ["latency", "time-space"]
    assert "request latencies" in skipped[0][1] and "heap-size sweep" in skipped[1][1]


def test_vector_formats(suite_results, tmp_path):
    svg = plots.render(suite_results, tmp_path, kinds=["pauses"], fmt="svg")[0]
    pdf = plots.render(suite_results, tmp_path, kinds=["mmu"], fmt="pdf")[0]
    assert "<svg" in open(svg).read(2000)
    assert open(pdf, "rb").read(5) == b"%PDF-"


def test_series_colours_are_fixed_and_labels_say_what_varies(suite_results):
    styles = view.SeriesStyles(suite_results)
    assert styles.labels == ["nogc GOGC=100", "marksweep GOGC=50", "marksweep GOGC=200",
                             "marksweep GOGC=off"]
    assert styles.colour("nogc GOGC=100") == "#000000"
    assert len(set(styles.colours.values())) == len(styles.labels)
    again = view.SeriesStyles(list(reversed(suite_results)))
    assert again.colours == styles.colours and again.markers == styles.markers
    # six collectors get six different colours from the palette
    six = [dict(suite_results[0], collector=f"c{i}") for i in range(6)]
    assert len(set(view.SeriesStyles(six).colours.values())) == 6


def test_charts_cover_all_their_data(suite_results):
    styles = view.SeriesStyles(suite_results)
    group = view.group_results(suite_results)[0]
    reps = view.representatives(group, styles)
    fig = plots._plot_timeline(group, styles)
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert len(panels) == len(reps)
    last_event = max(max(r["wall_s"], *(s / 1e9 for s in r["pause_starts_ns"] or [0])) for _, r in reps)
    assert panels[0].get_xlim()[0] == 0 and panels[0].get_xlim()[1] >= last_event
    longest = max(max(r["pauses_ns"] or [0]) for _, r in reps) / 1e6
    assert all(ax.get_ylim()[1] >= longest for ax in panels)
    fig = plots._plot_pauses(group, styles)
    every = np.concatenate([view.pause_samples_ns(r) for _, r in reps]) / 1e6
    lo, hi = fig.axes[0].get_xlim()
    assert lo <= every.min() and hi >= every.max()


def test_time_space_uses_smallest_completed_heap_or_measured_minimum(suite_results):
    assert view.min_heap_bytes(suite_results) == (512 << 10, False)
    measured = [dict(r, min_heap_bytes=512 << 10) for r in suite_results]
    assert view.min_heap_bytes(measured) == (512 << 10, True)


# --- report --------------------------------------------------------------------------

def test_report_embeds_charts_and_table(suite_results, tmp_path):
    html_path, md_path = report.write_report(suite_results, tmp_path, command="gcbench suite")
    page = open(html_path, encoding="utf-8").read()
    for column in report.COLUMNS + ("request p99",):
        assert f">{column}</th>" in page
    # one row per configuration
    assert page.count("<tr>") == 1 + len(suite_results)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    pngs = sorted(p for p in os.listdir(tmp_path) if p.endswith(".png"))
    assert len(images) == len(pngs) == len(plots.KINDS)
    with Image.open(io.BytesIO(base64.b64decode(images[0]))) as img:
        assert img.size[0] > 400
    assert "<pre>gcbench suite</pre>" in page
    assert "Python" in page and "CFLAGS" in page and suite_results[0]["cflags"] in page
    assert "src=\"http" not in page and "<link" not in page and "<script" not in page
    md = open(md_path, encoding="utf-8").read()
    assert "| workload | collector | heap |" in md and "![pauses-churn.png](pauses-churn.png)" in md


def test_report_command_reproduces_a_run(tmp_path):
    r = gcbench.run("marksweep", "churn", params=SMALL_CHURN, seed=5, heap="8M", gogc=150)
    line = report.reproduce_commands([r])[0]
    args = shlex.split(line)
    assert args[:2] == ["gcbench", "run"]
    out = tmp_path / "again.json"
    run_cli(*args[1:], "--json", out, check=0)
    again = json.loads(out.read_text())
    for key in ("collector", "opts", "workload", "params", "seed", "heap_bytes", "gogc",
                "alloc_count", "alloc_bytes", "cycles"):
        assert again[key] == r[key], key


# --- timeline ------------------------------------------------------------------------

def test_run_timeline_matches_pauses(tmp_path):
    trace_path, result_path = tmp_path / "trace.json", tmp_path / "r.json"
    run_cli("run", "-c", "marksweep", "-w", "churn", *params_args(SMALL_CHURN), "--heap", "4M",
            "--timeline", trace_path, "--json", result_path, check=0)
    r = json.loads(result_path.read_text())
    trace = json.loads(trace_path.read_text())
    events = trace["traceEvents"]
    assert isinstance(events, list)
    pauses = [e for e in events if e.get("cat") == "gc,pause"]
    assert len(pauses) == len(r["pauses_ns"]) > 0
    by_start = sorted(pauses, key=lambda e: e["ts"])
    assert [round(e["dur"] * 1000) for e in by_start] == r["pauses_ns"]
    assert [round(e["ts"] * 1000) for e in by_start] == r["pause_starts_ns"]
    assert [e["name"] for e in by_start] == r["pause_kinds"]
    for e in events:
        assert e["ph"] in ("X", "C", "M")
        if e["ph"] == "X":
            assert e["dur"] >= 0 and e["ts"] >= 0 and {"pid", "tid", "name"} <= set(e)
    cycles = [e for e in events if e.get("cat") == "gc,cycle"]
    assert len(cycles) == r["cycles"]
    marks = [e for e in events if e.get("name") == "mark"]
    assert len(marks) == r["cycles"]
    # phases stay inside their cycle for a stop-the-world collector
    for mark, cycle in zip(marks, cycles):
        assert cycle["ts"] <= mark["ts"] and mark["ts"] + mark["dur"] <= cycle["ts"] + cycle["dur"] + 1e-6
    heap = [e for e in events if e["ph"] == "C" and e["name"] == "heap in use"]
    assert len(heap) == 2 * r["cycles"] + 2
    # the run span encloses every pause on the mutator track
    run_span = next(e for e in events if e.get("cat") == "run")
    assert all(run_span["ts"] <= p["ts"] and p["ts"] + p["dur"] <= run_span["ts"] + run_span["dur"]
               for p in pauses)


def test_timeline_of_a_run_without_collections():
    r = gcbench.run("nogc", "churn", params=SMALL_CHURN, heap="64M")
    trace = timeline.trace_events(r)
    assert not [e for e in trace["traceEvents"] if e.get("cat") in ("gc,pause", "gc,cycle")]
    assert trace["otherData"]["collector"] == "nogc"


# --- command line --------------------------------------------------------------------

def test_cli_plot_and_report(suite, tmp_path):
    proc = run_cli("plot", suite, "-o", tmp_path / "charts", "--kind", "pauses", "--kind", "mmu", check=0)
    printed = proc.stdout.split()
    assert [os.path.basename(p) for p in printed] == ["pauses-churn.png", "mmu-churn.png"]
    for p in printed:
        assert_png(p)
    proc = run_cli("plot", suite, "-o", tmp_path / "charts", "--kind", "latency", check=0)
    assert proc.stdout == "" and "skipped latency" in proc.stderr
    proc = run_cli("plot", suite, "-o", tmp_path / "charts", "--kind", "throughput",
                   "--baseline", "marksweep GOGC=50", check=0)
    assert proc.stdout.split() == [str(tmp_path / "charts" / "throughput-churn.png")]
    proc = run_cli("plot", suite, "--kind", "throughput", "--baseline", "zgc", check=2)
    assert "baseline 'zgc' is not a series" in proc.stderr and len(proc.stderr.splitlines()) == 1
    proc = run_cli("report", suite, "-o", tmp_path / "rep", check=0)
    assert (tmp_path / "rep" / "report.html").exists() and (tmp_path / "rep" / "report.md").exists()


@pytest.mark.parametrize("args", [
    ("plot", "{dir}/missing.json"),
    ("plot", "{dir}/notjson.json"),
    ("plot", "{dir}/notresult.json"),
    ("plot", "{dir}/notjson.json", "--kind", "histogram"),
    ("plot", "{dir}/notjson.json", "--format", "gif"),
    ("report", "{dir}/missing.json"),
    ("report", "{dir}/notresult.json"),
    ("run", "-c", "nogc", "-w", "churn", "--timeline", "{dir}/no/such/dir/t.json"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, args):
    (tmp_path / "notjson.json").write_text("this is not json")
    (tmp_path / "notresult.json").write_text('{"hello": 1}')
    proc = run_cli(*[a.format(dir=tmp_path) for a in args])
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_timeline_phases_of_a_concurrent_cycle_stay_in_order_and_clipped():
    # a cycle as a concurrent collector logs it: mark-start and mark-termination pauses,
    # marking between them, sweeping after; the second cycle starts before sweep_ns is over
    result = {
        "collector": "tricolor", "workload": "churn", "opts": {}, "params": {}, "seed": 1,
        "heap_bytes": 1 << 24, "gogc": 100, "wall_s": 0.010,
        "pauses_ns": [20_000, 30_000, 25_000, 35_000],
        "pause_starts_ns": [1_000_000, 3_000_000, 4_000_000, 6_000_000],
        "pause_kinds": ["mark-start", "mark-termination", "mark-start", "mark-termination"],
        "pause_cycles": [1, 1, 2, 2],
        "cycle_log": [
            {"start_ns": 1_000_000, "end_ns": 3_030_000, "heap_before": 4 << 20, "heap_after": 2 << 20,
             "live_bytes": 1 << 20, "goal_bytes": 8 << 20, "mark_ns": 2_000_000, "sweep_ns": 5_000_000},
            {"start_ns": 4_000_000, "end_ns": 6_035_000, "heap_before": 5 << 20, "heap_after": 2 << 20,
             "live_bytes": 1 << 20, "goal_bytes": 8 << 20, "mark_ns": 1_500_000, "sweep_ns": 100_000}],
        "counters": {"heap_in_use_bytes": 3 << 20, "assist_ns": 12_345},
    }
    events = timeline.trace_events(result)["traceEvents"]
    phases = [(e["name"], e["ts"], e["dur"]) for e in events if e.get("cat") == "gc,phase"]
    assert phases == [("concurrent mark", 1000.0, 2000.0), ("sweep", 3000.0, 1000.0),
                      ("concurrent mark", 4000.0, 1500.0), ("sweep", 5500.0, 100.0)]
    assert [e["name"] for e in events if e.get("cat") == "gc,pause"] == result["pause_kinds"]
    goal = [e for e in events if e["ph"] == "C" and e["name"] == "heap goal"]
    assert [g["args"]["bytes"] for g in goal] == [8 << 20, 8 << 20]
    run_span = next(e for e in events if e.get("cat") == "run")
    assert run_span["args"]["assist_ns"] == 12_345


def test_cli_unwritable_output_is_one_line_exit_2(tmp_path):
    r = gcbench.run("marksweep", "churn", params=SMALL_CHURN, heap="16M")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(r))
    for args in (("plot", path, "-o", path / "charts"), ("report", path, "-o", path)):
        proc = run_cli(*args, check=2)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


# --- charts of real runs: a server's latencies, a --verify run's timeline ---------------

def test_latency_chart_of_real_server_runs(tmp_path):
    """The latency chart on `server` results (not made-up latencies): one line per
    collector through exactly the percentiles each result reports."""
    params = {"requests": 20000, "cache_objects": 5000}
    results = [gcbench.run(c, "server", params=params, heap="16M", gogc=50) for c in ("marksweep", "tricolor")]
    for r in results:
        assert r["request_latency_ns"]["p99"] > r["request_latency_ns"]["p50"] > 0
    styles = view.SeriesStyles(results)
    (group,) = view.group_results(results)
    fig = plots._plot_latency(group, styles)
    lines = [line for line in fig.axes[0].get_lines() if len(line.get_ydata())]
    assert len(lines) == 2
    for line, r in zip(lines, results):
        want = [r["request_latency_ns"][k] / 1e6 for k in plots.LATENCY_KEYS if r["request_latency_ns"].get(k)]
        assert np.allclose(line.get_ydata(), want)
    (path,) = plots.render(results, tmp_path, kinds=["latency"])
    assert Image.open(path).size[0] > 500


def test_timeline_of_a_verify_run_shows_every_pause(tmp_path):
    r = gcbench.run("marksweep", "churn", params=SMALL_CHURN, heap="8M", gogc=50, verify=True)
    assert r["verify_s"] > 0 and len(r["pauses_ns"]) > 5
    styles = view.SeriesStyles([r])
    (group,) = view.group_results([r])
    fig = plots._plot_timeline(group, styles)
    ax = [a for a in fig.axes if a.get_title(loc="left")][0]
    lo, hi = ax.get_xlim()
    starts = np.asarray(r["pause_starts_ns"]) / 1e9
    assert lo <= starts.min() and (starts + np.asarray(r["pauses_ns"]) / 1e9).max() <= hi
