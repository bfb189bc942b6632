"""What the command line says: messages that name the real problem and a next step, one
meaning of -o across the commands (the old `-o KEY=VALUE` deprecated, still working),
progress on a terminal only, and a report that does not keep an earlier report's charts."""
import json
import os
import pty

from conftest import run_cli

SMALL_CHURN = ["-p", "live_objects=2000", "-p", "ops=20000"]


def test_dash_o_names_the_output_file_of_run(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("run", "-c", "marksweep", "-w", "churn", *SMALL_CHURN, "-o", out, check=0)
    assert json.loads(out.read_text())["collector"] == "marksweep"
    assert "deprecated" not in proc.stderr
    # given twice, differently: one line, exit 2
    proc = run_cli("run", "-c", "marksweep", "-w", "churn", *SMALL_CHURN, "-o", out,
                   "--json", tmp_path / "other.json", check=2)
    assert len(proc.stderr.splitlines()) == 1 and "give the output file once" in proc.stderr


def test_dash_o_key_value_is_the_deprecated_opt(tmp_path):
    proc = run_cli("run", "-c", "tricolor", "-w", "churn", *SMALL_CHURN, "-o", "barrier=yuasa", check=0)
    assert "barrier=yuasa" in proc.stdout.splitlines()[0]          # the option took effect
    assert "-o barrier=yuasa as a collector option is deprecated" in proc.stderr
    assert "use --opt barrier=yuasa" in proc.stderr
    proc = run_cli("minheap", "-c", "tricolor", "-w", "churn", *SMALL_CHURN, "-o", "barrier=yuasa", check=0)
    assert "deprecated" in proc.stderr and proc.stdout.strip().split()[-1].isdigit()
    proc = run_cli("minheap", "-c", "marksweep", "-w", "churn", "-o", tmp_path / "x.json", check=2)
    assert "writes no file" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_missing_collector_lists_the_collectors():
    proc = run_cli("run", "-w", "churn", check=2)
    assert len(proc.stderr.splitlines()) == 1
    assert "--collector" in proc.stderr and "marksweep" in proc.stderr and "nogc" in proc.stderr
    assert "gcbench list" in proc.stderr


def test_heap_exhausted_suggests_minheap_and_nogc_speaks_of_bytes_in_use():
    proc = run_cli("run", "-c", "nogc", "-w", "churn", "--heap", "1M", "-p", "live_objects=2000",
                   "-p", "ops=100000", check=1)
    assert "heap exhausted" in proc.stderr and "gcbench minheap -c nogc -w churn" in proc.stderr
    assert "live after a full collection" not in proc.stderr      # nogc never collects
    assert "never collects" in proc.stderr
    proc = run_cli("run", "-c", "marksweep", "-w", "churn", "--heap", "1M",
                   "-p", "live_objects=50000", check=1)
    assert "live after a full collection" in proc.stderr and "--heap" in proc.stderr
    assert "gcbench minheap -c marksweep -w churn" in proc.stderr


def test_compare_on_a_run_json_says_what_it_is(tmp_path):
    out = tmp_path / "r.json"
    run_cli("run", "-c", "marksweep", "-w", "churn", *SMALL_CHURN, "--json", out, check=0)
    proc = run_cli("compare", out, check=2)
    assert len(proc.stderr.splitlines()) == 1
    assert "a single run's result" in proc.stderr and "gcbench report" in proc.stderr
    assert "version None" not in proc.stderr
    # plot --baseline naming no series: the real problem and the series to choose from
    proc = run_cli("plot", out, "--baseline", "nogc", "-o", tmp_path / "charts", check=2)
    assert "damaged" not in proc.stderr and "--baseline one of: marksweep" in proc.stderr


def test_report_removes_the_charts_of_an_earlier_report_only(tmp_path):
    two = tmp_path / "two.json"
    runs = []
    for workload in ("churn", "binary-trees"):
        path = tmp_path / f"{workload}.json"
        extra = SMALL_CHURN if workload == "churn" else ["-p", "max_depth=10", "-p", "long_lived_depth=8"]
        run_cli("run", "-c", "marksweep", "-w", workload, *extra, "--json", path, check=0)
        runs.append(json.loads(path.read_text()))
    two.write_text(json.dumps(runs))
    out = tmp_path / "report"
    run_cli("report", two, "-o", out, check=0)
    assert (out / "mmu-churn.png").exists() and (out / "mmu-binary-trees.png").exists()
    mine = out / "notes-churn.png"          # a file the report did not draw stays
    mine.write_bytes(b"x")
    run_cli("report", tmp_path / "binary-trees.json", "-o", out, check=0)
    assert not (out / "mmu-churn.png").exists()        # the earlier report's, now stale
    assert (out / "mmu-binary-trees.png").exists() and mine.exists()


def _progress_output(stream_is_tty):
    """What RunProgress writes during a ~second-long run, to a pty or to a pipe."""
    from gcbench.report.progress import RunProgress
    from gcbench.runs.runner import run
    if stream_is_tty:
        master, slave = pty.openpty()
        import fcntl, struct, termios
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        stream = os.fdopen(slave, "w")
    else:
        read_end, write_end = os.pipe()
        master, stream = read_end, os.fdopen(write_end, "w")
    with RunProgress("marksweep on churn", stream=stream, delay=0, poll=0.01) as progress:
        run("marksweep", "churn", params={"live_objects": 20000, "ops": 400000}, stress=200,
            on_heap=progress.attach)
    stream.close()
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:            # the pty's other end is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def test_progress_shows_on_a_terminal_only():
    shown = _progress_output(stream_is_tty=True)
    assert "marksweep on churn" in shown and "GC cycles" in shown and "ops" in shown
    assert _progress_output(stream_is_tty=False) == ""
