"""Nothing crashes, nothing is lost (issue 13): one regression test per class of defect.

 1. sizes the kernel cannot represent (8 + 8*NPTR + SIZE past 32 bits, or past 1 GiB) are
    refused by the kernel's own allocation entry, by trace checking and by parameters;
 2. trace checking costs memory in proportion to the trace, not to the slots it declares;
 3. two suites on one output: the second refuses (a lock); suites written one after the
    other into one directory keep their own run files; temporary names are unique;
 4. a closed stdout costs no requested file;
 5. --resume refuses damaged status files and a changed matrix, in one line;
 6. Ctrl-C during verification and during trace loading stops within a second;
 7. interrupted writes leave no partial or temporary file;
 8. children (minheap's probes, pyperf's processes) die with their parent;
 9. every rate, size and count has a range the kernel honours;
10. no traceback on numbers past Python's 4300-digit limit, deep TOML, odd types, long names;
11. suites are checked before they run (cross-parameter rules, traces, heaps, types);
12. the smaller ones (a directory as a trace, modules= side effects, plot --baseline).
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import NEUTRAL_CWD, interrupt, run_cli

STOP_WITHIN_S = 1.0


def one_line_exit(proc, code):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def python(script, timeout=120, **kwargs):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                          text=True, timeout=timeout, cwd=NEUTRAL_CWD, **kwargs)


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------- 1. sizes

def test_the_kernel_refuses_objects_it_cannot_represent():
    # straight into heap_alloc, past every harness check: the size wraps in 32 bits
    # (536869889 slots: 8 + 8 * n = 2^32 - 8184) or passes 1 GiB; a store into the last
    # slot would land outside a 0-byte object (SIGSEGV) without the kernel's bound
    for nslots, payload in ((536869889, 0), (1, 0xFFFFFFFF), (0, 1 << 30), (0xFFFFFFFF, 0xFFFFFFFF)):
        proc = python(f"""
            from gcbench_core.heap import ManagedHeap, HeapError
            from gcbench_core import debugcheck
            from gcbench_core.collectors import nogc
            heap = ManagedHeap(16 << 20, 100)
            nogc.attach(heap, {{}})
            try:
                debugcheck.alloc_unchecked(heap, {nslots}, {payload})
            except HeapError as exc:
                print(exc.kind, "|", exc)
        """)
        assert proc.returncode == 0, (nslots, payload, proc.returncode, proc.stderr)
        assert proc.stdout.startswith("invalid operation |") and "1 GiB" in proc.stdout, proc.stdout
    # the largest object there is still allocates (in a heap that holds it)
    proc = python("""
        from gcbench_core.heap import ManagedHeap
        from gcbench_core import debugcheck
        from gcbench_core.collectors import nogc
        heap = ManagedHeap(1100 << 20, 100)
        nogc.attach(heap, {})
        debugcheck.alloc_unchecked(heap, 1000, (1 << 30) - 8 - 8000)
        print(heap.counters()["alloc_count"])
    """)
    assert proc.returncode == 0 and proc.stdout.strip() == "1", (proc.stdout, proc.stderr)


def test_a_trace_whose_object_size_wraps_is_refused(tmp_path):
    trace = write(tmp_path / "oob.trace", """\
        # gcbench trace 1
        roots 2
        alloc 0 536869889 0
        alloc 1 0 8
        store 0 536869888 1
    """)
    for command in (["run", "-c", "nogc", "--heap", "16M", "--trace", trace],
                    ["minheap", "-c", "marksweep", "-w", "trace-replay", "-p", f"path={trace}"]):
        err = one_line_exit(run_cli(*command, timeout=120), 2)
        assert "oob.trace:3" in err and "object too large" in err, err
    # the same in binary form (the records are checked, not the text)
    run_cli("record", "-w", "churn", "-p", "live_objects=10", "-p", "ops=10", "-o", tmp_path / "r.bin", check=0)
    data = bytearray((tmp_path / "r.bin").read_bytes())
    data[32 + 4:32 + 8] = (536869889).to_bytes(4, "little")      # the first alloc's NPTR
    (tmp_path / "bad.bin").write_bytes(bytes(data))
    err = one_line_exit(run_cli("run", "-c", "nogc", "--trace", tmp_path / "bad.bin"), 2)
    assert "record 1" in err and "object too large" in err


# ---------------------------------------------------------------- 2. proportional checking

def test_trace_checking_memory_follows_the_trace_not_its_declared_slots(tmp_path):
    # 100 M declared slots (800 MB as a flat shadow array) in a 70-byte trace: checking
    # must fit in 200 MB of address space beyond what Python already has
    trace = write(tmp_path / "wide.trace", """\
        # gcbench trace 1
        roots 2
        alloc 0 100000000 0
        alloc 1 0 8
        store 0 99999999 1
        load 1 0 99999999
        load 1 0 5
    """)
    proc = python(f"""
        import resource
        from gcbench.io.traces import load_trace
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * 4096
        resource.setrlimit(resource.RLIMIT_AS, (mapped + (200 << 20), resource.RLIM_INFINITY))
        t = load_trace({str(trace)!r})
        print(len(t.records))
    """)
    assert proc.returncode == 0 and proc.stdout.strip() == "5", proc.stderr
    # and a load of a slot never stored reads null, as before
    err = one_line_exit(run_cli("run", "-c", "nogc", "--trace", write(tmp_path / "n.trace", """\
        # gcbench trace 1
        roots 2
        alloc 0 4 0
        load 1 0 3
        store 1 0 0
    """)), 2)
    assert "n.trace:5" in err and "null root 1" in err


# ---------------------------------------------------------------- 3. shared outputs

SUITE = """\
name = "tiny"
heap = ["16M"]
[[collector]]
name = "marksweep"
[[workload]]
name = "churn"
params = {{ live_objects = 500, ops = {ops} }}
[pyperf]
processes = 1
values = 1
warmups = 0
loops = 1
"""


def test_a_second_suite_on_a_locked_output_refuses(tmp_path):
    from gcbench.suite.driver import Output, OutputLock
    suite_file = tmp_path / "s.toml"
    suite_file.write_text(SUITE.format(ops=1000))
    out = tmp_path / "o" / "suite.json"
    out.parent.mkdir()
    with OutputLock(Output(out)):          # another suite writing this output
        err = one_line_exit(run_cli("suite", suite_file, "-o", out), 2)
    assert "being written by another gcbench suite" in err and f"pid {os.getpid()}" in err
    assert not out.exists() and not (out.parent / "runs").exists()
    run_cli("suite", suite_file, "-o", out, check=0)       # the lock is gone with its holder


def test_two_suites_started_together_never_both_write(tmp_path):
    suite_file = tmp_path / "s.toml"
    suite_file.write_text(SUITE.format(ops=200000))
    out = tmp_path / "same.json"
    procs = [subprocess.Popen([sys.executable, "-m", "gcbench", "suite", str(suite_file), "-o", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=NEUTRAL_CWD) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "being written by another" in loser or "already exists" in loser, loser
    assert loser.count("\n") == 1
    status = json.loads((tmp_path / "same.status.json").read_text())
    assert status["finished"] and len(status["configurations"]) == 1


def test_suites_one_after_the_other_in_one_directory_keep_their_files(tmp_path):
    import pyperf
    suite_file = tmp_path / "s.toml"
    suite_file.write_text(SUITE.format(ops=1000))
    d = tmp_path / "d"
    for name in ("a", "b"):
        run_cli("suite", suite_file, "-o", d / f"{name}.json", check=0)
    for name in ("a", "b"):
        bench = pyperf.BenchmarkSuite.load(str(d / f"{name}.json")).get_benchmarks()[0]
        run_file = bench.get_metadata()["gcbench_run_file"]
        assert run_file.startswith(f"{name}/runs/"), run_file
        assert (d / run_file).exists() and (d / name / "summary.txt").exists()
        assert (d / name / "report.html").exists()
    assert not (d / "runs").exists() and not (d / "summary.txt").exists()


def test_temporary_names_are_unique_and_short_enough(tmp_path):
    from gcbench.io.atomic import temporary_name, write_json_atomic
    target = tmp_path / ("x" * 250 + ".json")
    names = {temporary_name(target) for _ in range(100)}
    assert len(names) == 100
    assert all(len(os.path.basename(n).encode()) <= 255 for n in names)
    # concurrent writers of one file: the last rename wins whole, no temporary is left
    payloads = [{"writer": i, "data": list(range(i * 1000))} for i in range(8)]
    threads = [threading.Thread(target=write_json_atomic, args=(target, p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads(target.read_text()) in payloads
    assert os.listdir(tmp_path) == [target.name]


# ---------------------------------------------------------------- 4. closed stdout

def test_a_closed_stdout_costs_no_output_file(tmp_path):
    result = tmp_path / "r.json"
    script = (f"{sys.executable} -m gcbench run -c marksweep -w churn -p live_objects=1000 "
              f"-p ops=20000 --memstats --json {result} --timeline {tmp_path / 't.json'} | true; "
              "echo ${PIPESTATUS[0]}")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=NEUTRAL_CWD)
    assert proc.stdout.strip() == "0", (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert json.loads(result.read_text())["alloc_count"] > 0
    assert (tmp_path / "t.json").exists()


def test_a_suite_whose_stdout_closes_finishes_every_configuration(tmp_path):
    suite_file = tmp_path / "s.toml"
    suite_file.write_text(SUITE.format(ops=1000).replace('heap = ["16M"]', 'heap = ["16M", "32M"]'))
    out = tmp_path / "o.json"
    script = (f"{sys.executable} -m gcbench suite {suite_file} -o {out} 2>&1 | head -1 >/dev/null; "
              "echo ${PIPESTATUS[0]}")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=NEUTRAL_CWD)
    assert proc.stdout.strip() == "0", proc.stdout
    status = json.loads((tmp_path / "o.status.json").read_text())
    assert status["finished"] and len(status["configurations"]) == 2


# ---------------------------------------------------------------- 5. resume

def test_resume_refuses_damaged_status_and_a_changed_matrix(tmp_path):
    suite_file = tmp_path / "s.toml"
    suite_file.write_text(SUITE.format(ops=1000))
    out = tmp_path / "o.json"
    run_cli("suite", suite_file, "-o", out, check=0)
    status_path = tmp_path / "o.status.json"
    good = status_path.read_text()
    # the suite file changed (ops), or another mode: refused, with how to start afresh
    suite_file.write_text(SUITE.format(ops=2000))
    err = one_line_exit(run_cli("suite", suite_file, "-o", out, "--resume"), 2)
    assert "another matrix" in err and "another -o" in err
    suite_file.write_text(SUITE.format(ops=1000))
    err = one_line_exit(run_cli("suite", suite_file, "-o", out, "--resume", "--fast"), 2)
    assert "another matrix" in err
    # damaged status files
    for damage in ("[]", '{"suite": "tiny", "configurations": []}', '{"suite": "tiny", "minheap": 5}', "{"):
        status_path.write_text(damage)
        one_line_exit(run_cli("suite", suite_file, "-o", out, "--resume"), 2)
    status_path.unlink()
    status_path.mkdir()
    one_line_exit(run_cli("suite", suite_file, "-o", out, "--resume"), 2)
    status_path.rmdir()
    # a truncated suite JSON
    status_path.write_text(good)
    out.write_text(out.read_text()[:100])
    one_line_exit(run_cli("suite", suite_file, "-o", out, "--resume"), 2)


# ---------------------------------------------------------------- 6. Ctrl-C

def _interrupt_when_ready(script, tmp_path, delay_s=0.3):
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=str(tmp_path))
    assert proc.stdout.readline().strip() == "ready", proc.communicate()
    time.sleep(delay_s)
    return interrupt(proc, 30)


def test_ctrl_c_stops_the_verifier_within_a_second(tmp_path):
    # the verifier runs again and again over 3 M live objects; SIGINT must end it (the C
    # handler swallows the signal, so without the verifier's own check it would never end)
    elapsed, out, err = _interrupt_when_ready("""
        import gcbench
        from gcbench_core.heap import HeapError
        held = {}
        gcbench.run("nogc", "churn", heap="1G", params=dict(live_objects=3_000_000, ops=0,
                    mutate_fraction=0), on_heap=lambda h: held.setdefault("heap", h))
        print("ready", flush=True)
        try:
            while True:
                held["heap"].verify()
        except HeapError as exc:
            print(exc.kind)
    """, tmp_path)
    assert out.strip() == "interrupted", (out, err)
    assert elapsed < STOP_WITHIN_S, elapsed


def test_ctrl_c_stops_trace_loading_within_a_second(tmp_path):
    # about 700 MB of text trace: long lines of ticks, so the records stay few
    line = b"tick 1" + b" " * 4090 + b"\n"
    with open(tmp_path / "big.trace", "wb") as f:
        f.write(b"# gcbench trace 1\nroots 1\n")
        block = line * 4096
        for _ in range(40):
            f.write(block)
    elapsed, out, err = _interrupt_when_ready(f"""
        import sys
        from gcbench import cli
        print("ready", flush=True)
        sys.exit(cli.main(["run", "-c", "nogc", "--trace", {str(tmp_path / 'big.trace')!r},
                           "--json", {str(tmp_path / 'r.json')!r}]))
    """, tmp_path, delay_s=0.5)
    assert err == "gcbench: interrupted\n", err
    assert elapsed < STOP_WITHIN_S, elapsed
    assert sorted(os.listdir(tmp_path)) == ["big.trace"]


def test_sigint_in_a_verified_run_leaves_no_file(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "gcbench", "run", "-c", "marksweep", "-w", "churn",
                             "-p", "live_objects=2000000", "-p", "ops=100000000", "--heap", "1G",
                             "--verify", "--json", str(tmp_path / "r.json"),
                             "--timeline", str(tmp_path / "t.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(tmp_path))
    time.sleep(3)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err == "gcbench: interrupted\n", (proc.returncode, err)
    assert time.monotonic() - t0 < STOP_WITHIN_S
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- 7. partial files

def test_a_failed_group_of_writes_leaves_nothing(tmp_path):
    from gcbench.io.atomic import AtomicGroup, write_json_atomic, write_text_atomic
    with pytest.raises(KeyboardInterrupt):
        with AtomicGroup() as group:
            write_json_atomic(tmp_path / "r.json", {"a": 1}, group=group)
            write_text_atomic(tmp_path / "t.json", "{}", group=group)
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []
    with AtomicGroup() as group:
        write_json_atomic(tmp_path / "r.json", {"a": 1}, group=group)
        assert os.listdir(tmp_path) != ["r.json"]          # not yet in place
    assert os.listdir(tmp_path) == ["r.json"]


def test_an_interrupted_chart_leaves_no_temporary(tmp_path, monkeypatch):
    import gcbench
    from gcbench.report import plots
    from matplotlib.figure import Figure
    result = gcbench.run("marksweep", "churn", params={"live_objects": 5000, "ops": 250000}, heap="8M")
    assert result["pauses_ns"]
    real = Figure.savefig

    def interrupted(self, fname, *args, **kwargs):
        real(self, fname, *args, **kwargs)
        raise KeyboardInterrupt
    monkeypatch.setattr(Figure, "savefig", interrupted)
    with pytest.raises(KeyboardInterrupt):
        plots.render([result], str(tmp_path), kinds=["pauses"])
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- 8. orphans

def _descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for_descendants(proc, count, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _descendants(proc.pid)
        if len(found) >= count:
            return found
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pytest.fail(f"fewer than {count} child processes appeared")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_minheap_probes_die_with_it(sig):
    proc = subprocess.Popen([sys.executable, "-m", "gcbench", "minheap", "-c", "marksweep", "-w", "churn",
                             "-p", "ops=10000000000"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=NEUTRAL_CWD)
    probes = _wait_for_descendants(proc, 1)
    proc.send_signal(sig)
    proc.wait(timeout=10)
    time.sleep(1.0)
    assert not [p for p in probes if _alive(p)], probes


def test_a_killed_suite_leaves_no_pyperf_process(tmp_path):
    suite_file = tmp_path / "s.toml"
    suite_file.write_text(SUITE.format(ops=10_000_000_000).replace("processes = 1", "processes = 2"))
    proc = subprocess.Popen([sys.executable, "-m", "gcbench", "suite", str(suite_file), "-o",
                             str(tmp_path / "o.json")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=NEUTRAL_CWD)
    # the recorded run is long (ops=1e10): pyperf's main process is running it
    tree = _wait_for_descendants(proc, 1)
    proc.kill()
    proc.wait(timeout=10)
    time.sleep(1.0)
    assert not [p for p in tree if _alive(p)], tree


# ---------------------------------------------------------------- 9. ranges

def test_every_numeric_parameter_has_a_range():
    from gcbench import registry
    for entry in registry.workloads().values():
        for name, spec in entry.specs.items():
            if spec.get("type") in ("int", "float"):
                assert spec.get("min") is not None and spec.get("max") is not None, (entry.name, name)


@pytest.mark.parametrize("rate", ["1e-300", "1e-9", "0.5"])
def test_a_schedule_the_kernel_cannot_keep_is_refused(rate):
    err = one_line_exit(run_cli("run", "-c", "marksweep", "-w", "server", "-p", f"rate={rate}",
                                "-p", "requests=10"), 2)
    assert "rate" in err and "at least 1" in err


def test_the_largest_ring_fits_the_largest_object():
    err = one_line_exit(run_cli("run", "-c", "nogc", "-w", "churn", "-p", "live_objects=200000000"), 2)
    assert "live_objects" in err and "out of range" in err


# ---------------------------------------------------------------- 10. tracebacks

def test_numbers_past_the_digit_limit_are_one_line(tmp_path):
    big = "9" * 5000
    one_line_exit(run_cli("run", "-c", "marksweep", "-w", "churn", "--heap", big), 2)
    one_line_exit(run_cli("run", "-c", "marksweep", "-w", "churn", "--seed", big), 2)
    one_line_exit(run_cli("run", "-c", "marksweep", "-w", "churn", "-p", f"ops={big}"), 2)
    for body in (f'workload = "churn"\nseed = {big}\n', f'workload = "churn"\n[params]\nops = {big}\n',
                 f'workload = "churn"\nseed = {"9" * 100}\n'):
        (tmp_path / "w.toml").write_text(body)
        one_line_exit(run_cli("run", "-c", "marksweep", "--workload-file", tmp_path / "w.toml"), 2)
    base = SUITE.format(ops=1000)
    for replacement in (f'heap = ["{big}"]', f'heap = ["{big}x"]', f"heap = [{big}]",
                        f'heap = ["{"9" * 400}x"]', f"seeds = [{big}]\nheap = [\"16M\"]",
                        f"seeds = [{'9' * 100}]\nheap = [\"16M\"]"):
        (tmp_path / "s.toml").write_text(base.replace('heap = ["16M"]', replacement))
        one_line_exit(run_cli("suite", tmp_path / "s.toml", "-o", tmp_path / "o.json"), 2)
        assert not (tmp_path / "o.json").exists()


def test_odd_suite_shapes_are_one_line(tmp_path):
    base = SUITE.format(ops=1000)
    for text in (base.replace('heap = ["16M"]', "heap = " + "[" * 2000 + "]" * 2000),
                 base + '[fast]\nworkloads = [["churn"]]\n',
                 base + "[fast]\nworkloads = [{}]\n"):
        (tmp_path / "s.toml").write_text(text)
        one_line_exit(run_cli("suite", tmp_path / "s.toml", "-o", tmp_path / "o.json"), 2)


@pytest.mark.parametrize("length", [200, 245, 250, 255, 300])
def test_long_output_names_are_written_or_refused_in_one_line(tmp_path, length):
    suite_file = tmp_path / "s.toml"
    suite_file.write_text(SUITE.format(ops=1000))
    name = "n" * (length - 5) + ".json"
    proc = run_cli("suite", suite_file, "-o", tmp_path / name)
    if proc.returncode != 0:
        one_line_exit(proc, 2)
    proc = run_cli("run", "-c", "marksweep", "-w", "churn", "-p", "ops=1000", "--json", tmp_path / name,
                   "--timeline", tmp_path / ("t" + name[1:]))
    if proc.returncode != 0:
        one_line_exit(proc, 2)
    assert not [n for n in os.listdir(tmp_path) if ".tmp" in n]


def test_out_of_memory_while_loading_is_one_line(tmp_path):
    line = b"alloc 0 1 8\n"
    (tmp_path / "t.trace").write_bytes(b"# gcbench trace 1\nroots 1\n" + line * 3_000_000)
    proc = subprocess.run(["bash", "-c", f"ulimit -v 700000; exec {sys.executable} -m gcbench run -c nogc "
                           f"--trace {tmp_path / 't.trace'}"], capture_output=True, text=True,
                          timeout=120, cwd=NEUTRAL_CWD)
    if proc.returncode != 0:
        assert proc.returncode in (1, 2) and proc.stderr.count("\n") == 1, proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr


# ---------------------------------------------------------------- 11. suites checked first

@pytest.mark.parametrize("change, fragment", [
    ('params = { live_objects = 500, ops = 1000, min_payload = 90, max_payload = 10 }', "min_payload"),
    ('params = { live_objects = 500, ops = "1_000" }', "expected an integer"),
    ('params = { live_objects = 500, ops = 1000, mutate_fraction = "0.5" }', "expected a number"),
])
def test_suites_are_checked_before_they_run(tmp_path, change, fragment):
    text = SUITE.format(ops=1000).replace("params = { live_objects = 500, ops = 1000 }", change)
    (tmp_path / "s.toml").write_text(text)
    err = one_line_exit(run_cli("suite", tmp_path / "s.toml", "-o", tmp_path / "o.json"), 2)
    assert fragment in err, err
    assert os.listdir(tmp_path) == ["s.toml"]


@pytest.mark.parametrize("workload, fragment", [
    ('name = "server"\nparams = { cache_keep = 9, small_objects = 2 }', "cache_keep"),
    ('name = "server"\nparams = { pool = "yes" }', "true or false"),
    ('name = "trace-replay"\nparams = { path = "missing.trace" }', "missing.trace"),
])
def test_suite_workload_rules_are_checked_first(tmp_path, workload, fragment):
    text = SUITE.format(ops=1000)
    text = text.replace('name = "churn"\nparams = { live_objects = 500, ops = 1000 }', workload)
    (tmp_path / "s.toml").write_text(text)
    err = one_line_exit(run_cli("suite", tmp_path / "s.toml", "-o", tmp_path / "o.json"), 2)
    assert fragment in err, err


@pytest.mark.parametrize("heaps, fragment", [('["8M", "8192K"]', "duplicate"), ('["2x", "2.0x"]', "duplicate"),
                                             ('["1000000000x"]', "out of range")])
def test_suite_heaps_are_checked(tmp_path, heaps, fragment):
    (tmp_path / "s.toml").write_text(SUITE.format(ops=1000).replace('["16M"]', heaps))
    err = one_line_exit(run_cli("suite", tmp_path / "s.toml", "-o", tmp_path / "o.json"), 2)
    assert fragment in err, err


def test_a_relative_trace_in_a_suite_is_the_suite_files_neighbour(tmp_path):
    run_cli("record", "-w", "churn", "-p", "live_objects=50", "-p", "ops=300", "-o", tmp_path / "t.trace", check=0)
    text = SUITE.format(ops=1000).replace('name = "churn"\nparams = { live_objects = 500, ops = 1000 }',
                                          'name = "trace-replay"\nparams = { path = "t.trace" }')
    (tmp_path / "s.toml").write_text(text)
    run_cli("suite", tmp_path / "s.toml", "-o", tmp_path / "o.json", check=0, cwd=NEUTRAL_CWD)
    status = json.loads((tmp_path / "o.status.json").read_text())
    assert [s["status"] for s in status["configurations"].values()] == ["done"]


# ---------------------------------------------------------------- 12. smaller ones

def test_a_directory_as_a_trace_says_so(tmp_path):
    err = one_line_exit(run_cli("run", "-c", "nogc", "--trace", tmp_path), 2)
    assert "is a directory" in err


@pytest.mark.parametrize("module", ["this", "idlelib.idle", "antigravity", "numpy"])
def test_python_heap_refuses_modules_with_side_effects(module):
    err = one_line_exit(run_cli("run", "-c", "marksweep", "-w", "python-heap", "-p", f"modules={module}"), 2)
    assert "modules" in err and module in err


def test_plot_with_an_unknown_baseline_is_not_a_damaged_result(tmp_path):
    import gcbench
    result = gcbench.run("marksweep", "churn", params={"live_objects": 200, "ops": 3000}, heap="8M")
    (tmp_path / "r.json").write_text(json.dumps(result))
    err = one_line_exit(run_cli("plot", tmp_path / "r.json", "--baseline", "zgc", "--kind", "throughput"), 2)
    assert "damaged" not in err and "zgc" in err


def test_boehm_heap_exhausted_is_one_line():
    from gcbench import registry
    entry = registry.collectors().get("boehm")
    if entry is None or not entry.available:
        pytest.skip("boehm not available")
    err = one_line_exit(run_cli("run", "-c", "boehm", "-w", "binary-trees", "--heap", "8M"), 1)
    assert "heap exhausted" in err and "GC Warning" not in err
