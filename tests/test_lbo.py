"""Lower-bound overhead (LBO): distilled costs from a run's counters, the minimum over
every collector and heap size, `gcbench compare --lbo`, and the report's table and chart."""
import csv
import io

import gcbench
from gcbench import metrics
from conftest import FAST_SUITE, SMALL_TREES, run_cli

SUITE = """
name = "lbo"
seeds = [1]
heap = ["24M", "64M"]
gogc = [100]
[[collector]]
name = "marksweep"
[[collector]]
name = "nogc"
[[workload]]
name = "binary-trees"
params = { long_lived_depth = 10, array_len = 10000, max_depth = 12 }
""" + FAST_SUITE


def test_distilled_cost_takes_out_what_gc_costs():
    r = gcbench.run("marksweep", "binary-trees", params=SMALL_TREES, heap="16M")
    c = r["counters"]
    wall, cpu, distilled = metrics.lbo_costs(r)
    gc_s = (c["stw_ns"] + c["sweep_ns"] + c["assist_ns"]) / 1e9
    assert r["cycles"] > 0 and gc_s > 0
    assert wall == r["wall_s"] and cpu == wall
    assert abs(distilled - (wall - gc_s)) < 1e-9
    # scaled to another time per run (pyperf's mean) in proportion
    assert abs(metrics.lbo_costs(r, 2 * wall)[2] - 2 * distilled) < 1e-9
    t = gcbench.run("tricolor", "binary-trees", heap="24M",
                    params={"long_lived_depth": 12, "array_len": 10000, "min_depth": 4, "max_depth": 14})
    wall, cpu, distilled = metrics.lbo_costs(t)
    assert cpu == wall + t["counters"]["background_cpu_ns"] / 1e9 > wall


def test_lbo_is_against_the_minimum_distilled_cost():
    mdc, key, lbos = metrics.lower_bound_overheads({"a": (2.0, 3.0, 1.0), "b": (1.5, 1.5, 1.5)})
    assert (mdc, key) == (1.0, "a")
    assert lbos == {"a": (1.0, 2.0), "b": (0.5, 0.5)}


def test_compare_lbo_and_the_report_chart(tmp_path):
    suite = tmp_path / "lbo.toml"
    suite.write_text(SUITE)
    out = tmp_path / "out" / "suite.json"
    run_cli("suite", suite, "-o", out, "--fast", check=0)
    text = run_cli("compare", "--lbo", out, check=0).stdout
    assert "MDC" in text and "LBO wall" in text and "LBO CPU" in text
    assert max(map(len, text.splitlines())) <= 100, text       # fits a 100-column terminal
    rows = list(csv.DictReader(io.StringIO(run_cli("compare", "--lbo", out, "--format", "csv", check=0).stdout)))
    assert {(r["collector"], r["heap"]) for r in rows} == {(c, h) for c in ("marksweep", "nogc") for h in ("24M", "64M")}
    # the MDC is a configuration's distilled cost, so no LBO is below zero and one is zero
    assert all(float(r["lbo_wall"]) >= 0 and float(r["lbo_cpu"]) >= 0 for r in rows)
    assert min(float(r["distilled_s"]) for r in rows) == float(rows[0]["mdc_s"])
    report = tmp_path / "report"
    run_cli("report", out, "-o", report, check=0)
    assert (report / "lbo-binary-trees.png").stat().st_size > 0
    md = (report / "report.md").read_text()
    assert "## Lower-bound overhead" in md and "lbo-binary-trees.png" in md
