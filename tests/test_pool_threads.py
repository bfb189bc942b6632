"""The Pool with real Ps (gcbench_core/pool.pyx): the lock-free per-P deques under mutator
threads, stealing between threads, and `server threads=N` (worker threads, one pool P
each) verified under every barrier, overlapping in time, and refused by single-mutator
collectors."""

import pytest

import gcbench
from gcbench import registry
from conftest import run_cli
from test_threads import assert_threads_overlap, threaded_configurations
from test_tricolor import _parallelism

SERVER_THREADS = {"requests": 20000, "workers": 4, "cache_objects": 2000, "threads": 2, "pool": True}


def stress(threads=2, ops=1_000_000, capacity=4, producer_consumer=False, seed=1, put_percent=45,
           min_steals=0):
    from gcbench_core.heap import ManagedHeap
    from gcbench_core.pool import pool_stress
    entry = registry.get_collector("marksweep")
    # large enough that no collection runs (a cleanup drops objects by design), GOGC off
    heap = ManagedHeap(512 << 20, None)
    entry.module.attach(heap, registry.resolve(entry, {}, "option"))
    return pool_stress(heap, threads, ops, capacity, producer_consumer, seed, put_percent, min_steals)


def test_deque_loses_and_duplicates_nothing_under_two_threads():
    """Each thread starts with 8 objects carrying unique ids and puts one of them or gets
    one (own private slot, own deque's head, the other thread's tail) at random, over
    rings of 4.  Afterwards every object is exactly once in a hand or in the pool."""
    for seed in range(1, 4):
        r = stress(seed=seed, put_percent=50)
        check_accounted(r)
        assert r["hits_shared"] > 0, r


def test_deque_owner_and_thief_race_on_a_short_deque():
    """Thread 0 puts 70% of the time and so pops its own deque's head when its hand runs
    empty; thread 1 puts 30%, its own cache runs empty and it steals at thread 0's tail:
    both ends of a ring of 4 meet all the time."""
    stolen = []
    for seed in range(1, 4):
        # until 5,000 steals (at most 50 x ops): the threads overlap only now and then on
        # a loaded machine
        r = stress(ops=1_000_000, seed=seed, put_percent=70, min_steals=5_000)
        check_accounted(r)
        assert r["hits_shared"] > 0 and r["hits_stolen"] > 0, r
        stolen.append(r["hits_stolen"])
    if min(stolen) < 5_000:
        parallelism = _parallelism()
        if parallelism < 1.4:
            pytest.skip(f"machine too loaded for the threads to meet often: two busy processes got "
                        f"{parallelism:.2f} CPUs; steals per run {stolen}")
        pytest.fail(f"the threads rarely met at a deque: steals per run {stolen}")


def check_accounted(r):
    """No object lost or duplicated; the deques were used."""
    assert r["dropped"] == 0                     # no collection ran: nothing left by design
    assert r["kept"] == 16, r
    assert (r["lost"], r["duplicated"], r["bad_ids"], r["corrupt_deques"]) == (0, 0, 0, 0), r


def test_stealing_happens_between_threads():
    # thread 0 puts whenever it holds an object; thread 1 never puts, so its own cache
    # stays empty and every object it gets is stolen from the tail of thread 0's deque
    r = stress(ops=100_000, capacity=64, put_percent=100, min_steals=1_000)
    check_accounted(r)
    assert r["hits_stolen"] > 0, r


@pytest.mark.parametrize("collector, opts", threaded_configurations(),
                         ids=lambda v: v if isinstance(v, str) else ",".join(v.values()) or "-")
def test_server_threads_with_pool_verified_with_checkmark(collector, opts):
    r = gcbench.run(collector, "server", params=SERVER_THREADS, opts=opts, heap="16M", gogc=50,
                    verify=True, checkmark=True)
    assert r["threads"] == 2 and min(r["thread_ops"]) > 0
    assert r["cycles"] >= 2 and r["counters"]["verified_cycles"] == r["cycles"]
    pool = r["pool"]
    assert pool["gets"] == pool["puts"] == SERVER_THREADS["requests"]
    # each thread's P keeps its own buffers: a miss per request in flight, then reuse
    # (the cleanup at each cycle moves the buffers to the victim cache, so a few more)
    assert pool["misses"] < pool["gets"] // 10, pool
    # every request ran: its latency was measured (a request never started has end 0)
    lat = r["request_latency_ns"]
    assert 0 < lat["p50"] <= lat["max"] < r["wall_s"] * 1e9


def test_server_threads_run_at_the_same_time():
    params = dict(SERVER_THREADS, requests=100_000)
    assert_threads_overlap(lambda: gcbench.run("marksweep", "server", params=params, heap="64M"))


def test_server_threads_refused_by_single_mutator_collectors_and_bad_params():
    proc = run_cli("run", "-c", "semispace", "-w", "server", "--param", "threads=2")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "threads=2" in proc.stderr
    for bad in (["--param", "threads=8", "--param", "workers=4"],
                ["--param", "threads=2", "--param", "rate=1000"]):
        proc = run_cli("run", "-c", "marksweep", "-w", "server", *bad)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "threads" in proc.stderr
