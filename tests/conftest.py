import os
import signal
import subprocess
import tempfile
import sys
import time

import pytest

# Runs in the tests do not fault their arena in ahead (gcbench.runs.runner.pretouch_arena):
# hundreds of small runs would each touch up to 4 GiB; tests/test_pretouch.py turns it on.
os.environ.setdefault("GCBENCH_PRETOUCH", "0")

# Small workload settings so the suite stays quick on a 2-core machine.
SMALL_TREES = {"long_lived_depth": 10, "array_len": 10000, "min_depth": 4, "max_depth": 10}
SMALL_CHURN = {"live_objects": 5000, "ops": 250000, "mutate_fraction": 0.3}


# the [fast] table of a suite file for tests: one pyperf process, two values, no warmups
FAST_SUITE = """
[fast]
pyperf = { processes = 1, values = 2, warmups = 0, loops = 1 }
"""


def churn_suite(name, seeds=(1,), heap=("64M",), ops=200000):
    """A small suite file's text: marksweep and nogc on a small churn, with FAST_SUITE."""
    return (f'name = "{name}"\nseeds = {list(seeds)}\nheap = {list(heap)}\n'
            '[[collector]]\nname = "marksweep"\n[[collector]]\nname = "nogc"\n'
            f'[[workload]]\nname = "churn"\nparams = {{ live_objects = 5000, ops = {ops} }}\n'
            + FAST_SUITE)


def write_suite(tmp_path, text, name="suite.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# The directory the tests' gcbench processes run in: `python -m` puts the working directory
# first on sys.path, so it must hold nothing importable.  Not the checkout (it would import
# the uncompiled source tree instead of the installed package), and not the shared temporary
# directory either: a stray `nt.py` there once shadowed the standard library's module in
# every `python -m gcbench` the tests started (CI, session 22).
NEUTRAL_CWD = tempfile.mkdtemp(prefix="gcbench-tests-cwd-")


def run_cli(*args, check=None, timeout=300, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "gcbench", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or NEUTRAL_CWD)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def interrupt(proc, wait_s, signum=signal.SIGINT):
    """Send SIGINT (or `signum`) to a running process: (seconds until it ended, stdout,
    stderr).  Fails the test (killing it) if it still runs after wait_s."""
    assert proc.poll() is None, proc.communicate()
    t0 = time.monotonic()
    proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{signal.Signals(signum).name} did not stop it within {wait_s} s")
    return time.monotonic() - t0, out, err


@pytest.fixture
def cli():
    return run_cli


def params_args(params):
    out = []
    for k, v in params.items():
        out += ["--param", f"{k}={v}"]
    return out


def charged_bytes_function():
    """f(nptr, payload) -> the bytes the arena charges for such an object (its size class,
    or whole pages when large), from the heap's own class table."""
    from gcbench_core.heap import ManagedHeap
    classes = [size for size, _ in ManagedHeap(1 << 20, 100).size_classes()]

    def charged(nptr, payload):
        nbytes = 8 + 8 * nptr + payload
        if nbytes > 32768:
            return (nbytes + 8191) // 8192 * 8192
        return next(c for c in classes if c >= nbytes)
    return charged
