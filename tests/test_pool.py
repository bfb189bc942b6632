"""The sync.Pool-style Pool (Go 1.13+ semantics, step by step) and the `server` workload.

Every semantic test runs under each collector that calls the heap's cycle-start hook:
marksweep now, tricolor as soon as it is in the registry.
"""
import json
import random

import pytest

import gcbench
from gcbench import registry
from conftest import run_cli

POOL_COLLECTORS = ["marksweep", "tricolor"]
SMALL_SERVER = {"requests": 20000, "workers": 4, "cache_objects": 2000}


def _collector_or_skip(name):
    table = registry.collectors()
    if name not in table or not table[name].available:
        pytest.skip(f"collector {name} is not available here")
    return table[name]


@pytest.fixture(params=POOL_COLLECTORS)
def collector(request):
    return _collector_or_skip(request.param).name


def make_tester(collector, workers=4, capacity=16, verify=True):
    from gcbench_core.heap import ManagedHeap
    from gcbench_core.pool import PoolTester
    entry = registry.get_collector(collector)
    # GOGC off: only the test's collect() runs a cycle
    heap = ManagedHeap(16 << 20, None, verify=verify)
    entry.module.attach(heap, registry.resolve(entry, {}, "option"))
    return heap, PoolTester(heap, workers, capacity)


def live_objects(heap):
    return heap.live_after_full_gc()[0]


def test_put_fills_private_then_head_of_shared_and_get_takes_them_in_go_order(collector):
    heap, pool = make_tester(collector, workers=2)
    a, b, c = pool.alloc(), pool.alloc(), pool.alloc()
    for x in (a, b, c):
        pool.put(0, x)
    state = pool.contents()
    assert state["private"] == [a, None]
    assert state["shared"] == [[b, c], []]          # tail .. head: c was pushed last
    assert pool.get(0) == (a, "private")
    assert pool.get(0) == (c, "shared")             # the owner pops its head
    assert pool.get(0) == (b, "shared")
    new_id, source = pool.get(0)
    assert source == "new" and new_id not in (a, b, c)
    s = pool.stats()
    assert (s["gets"], s["puts"], s["hits_private"], s["hits_shared"], s["misses"]) == (4, 3, 1, 2, 1)


def test_steal_from_the_tail_starting_at_the_next_worker_and_wrapping(collector):
    heap, pool = make_tester(collector, workers=4)
    queues = {}
    for w in (0, 1, 3):                             # worker 2 owns nothing
        ids = [pool.alloc() for _ in range(3)]
        for x in ids:
            pool.put(w, x)
        queues[w] = ids                             # ids[0] private, ids[1:] shared tail..head
    # worker 2 steals from 3 first, then wraps to 0, then 1; always the oldest (tail) first
    order = [pool.get(2) for _ in range(6)]
    assert order == [(queues[3][1], "stolen"), (queues[3][2], "stolen"),
                     (queues[0][1], "stolen"), (queues[0][2], "stolen"),
                     (queues[1][1], "stolen"), (queues[1][2], "stolen")]
    # other workers' private slots are never stolen: the next Get is a miss
    assert pool.get(2)[1] == "new"
    assert pool.contents()["private"] == [queues[0][0], queues[1][0], None, queues[3][0]]
    assert pool.stats()["hits_stolen"] == 6


def test_put_never_taken_survives_one_collection_in_the_victim_cache(collector):
    heap, pool = make_tester(collector, workers=2)
    a = pool.alloc()
    pool.put(0, a)
    assert live_objects(heap) == 1
    pool.collect()
    state = pool.contents()
    assert state["private"] == [None, None] and state["victim_private"] == [a, None]
    assert live_objects(heap) == 1                  # held by the victim cache: reachable
    heap.verify()
    assert pool.get(0) == (a, "victim")
    assert pool.stats()["hits_victim"] == 1
    pool.collect()
    assert live_objects(heap) == 1                  # in the hand now, not the pool
    assert pool.stats()["dropped"] == 0


def test_put_never_taken_is_freed_by_the_second_collection(collector):
    heap, pool = make_tester(collector, workers=2)
    a, b, c = pool.alloc(), pool.alloc(), pool.alloc()
    for x in (a, b, c):
        pool.put(1, x)
    pool.collect()
    assert live_objects(heap) == 3
    freed_before = heap.counters()["free_count"]
    pool.collect()
    assert live_objects(heap) == 0
    assert heap.counters()["free_count"] - freed_before == 3
    assert pool.stats()["dropped"] == 3
    heap.verify()
    state = pool.contents()
    assert state["victim_private"] == [None, None] and state["victim_shared"] == [[], []]
    assert pool.get(1)[1] == "new"


def test_victim_order_own_private_then_queues_from_own_worker(collector):
    heap, pool = make_tester(collector, workers=3)
    ids = {w: [pool.alloc(), pool.alloc()] for w in range(3)}
    for w in range(3):
        for x in ids[w]:
            pool.put(w, x)                          # private ids[w][0], shared [ids[w][1]]
    pool.collect()
    assert pool.get(1) == (ids[1][0], "victim")     # own victim private
    assert pool.get(1) == (ids[1][1], "victim")     # own victim queue first (its tail)
    assert pool.get(1) == (ids[2][1], "victim")     # then the next worker's, wrapping
    assert pool.get(1) == (ids[0][1], "victim")
    # other workers' victim private slots are not taken (Go checks only its own):
    # this Get misses and marks the victim cache empty
    assert pool.get(1)[1] == "new"
    assert pool.contents()["victim_live"] is False
    assert pool.get(0)[1] == "new"                  # although worker 0's victim private is full
    assert pool.contents()["victim_private"][0] == ids[0][0]
    pool.collect()                                  # ... until the next cleanup drops it
    assert pool.stats()["dropped"] == 2             # workers 0 and 2 victim privates


def test_primary_is_searched_before_the_victim_and_put_goes_to_the_primary(collector):
    heap, pool = make_tester(collector, workers=2)
    old = pool.alloc()
    pool.put(0, old)
    pool.collect()
    fresh = pool.alloc()
    pool.put(1, fresh)
    pool.put(1, pool.alloc())
    assert pool.contents()["private"] == [None, fresh]
    # worker 0: own private empty, own queue empty, steals worker 1's queue before the victim
    assert pool.get(0)[1] == "stolen"
    assert pool.get(0) == (old, "victim")


def test_objects_in_the_pool_are_roots_for_the_verifier_and_collector(collector):
    heap, pool = make_tester(collector, workers=2, capacity=64)
    for w in (0, 1):
        for _ in range(40):
            pool.put(w, pool.alloc())
    pool.collect()
    heap.verify()
    assert live_objects(heap) == 80
    for _ in range(30):
        pool.get(0)
    pool.collect()                                  # the 30 are in the hand, 50 are dropped
    heap.verify()
    assert live_objects(heap) == 30
    assert pool.stats()["dropped"] == 50


def test_two_pools_on_one_heap_are_both_cleaned_and_detach_independently(collector):
    from gcbench_core.pool import PoolTester
    heap, first = make_tester(collector, workers=1)
    second = PoolTester(heap, 2, 4)
    first.put(0, first.alloc())
    second.put(1, second.alloc())
    first.collect()
    assert first.contents()["victim_private"] == [1] and second.contents()["victim_private"] == [None, 1]
    assert live_objects(heap) == 2
    held = second.alloc()
    second.put(0, held)
    first.close()                                   # its victim object becomes garbage now
    heap.collect()                                  # second: drops object 1, `held` -> victim
    assert second.contents()["victim_private"] == [held, None]
    assert live_objects(heap) == 1
    heap.collect()
    assert live_objects(heap) == 0 and second.stats()["dropped"] == 2


def test_full_shared_ring_refuses_the_put():
    heap, pool = make_tester("marksweep", workers=1, capacity=2)
    for _ in range(4):
        pool.put(0, pool.alloc())
    s = pool.stats()
    assert s["puts"] == 4 and s["overflowed"] == 1
    pool.collect()
    assert live_objects(heap) == 3


def test_tester_rejects_bad_worker():
    heap, pool = make_tester("marksweep", workers=2)
    with pytest.raises(ValueError):
        pool.get(2)
    with pytest.raises(ValueError):
        pool.put(-1, pool.alloc())


class ModelPool:
    """Go's sync.Pool (1.13+) in a few lines of Python, to compare with the kernel."""

    def __init__(self, workers, capacity):
        self.n, self.cap = workers, capacity
        self.private = [None] * workers
        self.shared = [[] for _ in range(workers)]     # index 0 = tail
        self.vprivate = [None] * workers
        self.vshared = [[] for _ in range(workers)]
        self.victim_live = False

    def put(self, w, x):
        if self.private[w] is None:
            self.private[w] = x
        elif len(self.shared[w]) < self.cap:
            self.shared[w].append(x)

    def get(self, w):
        if self.private[w] is not None:
            x, self.private[w] = self.private[w], None
            return x, "private"
        if self.shared[w]:
            return self.shared[w].pop(), "shared"
        for i in range(self.n):
            q = self.shared[(w + i + 1) % self.n]
            if q:
                return q.pop(0), "stolen"
        if self.victim_live:
            if self.vprivate[w] is not None:
                x, self.vprivate[w] = self.vprivate[w], None
                return x, "victim"
            for i in range(self.n):
                q = self.vshared[(w + i) % self.n]
                if q:
                    return q.pop(0), "victim"
            self.victim_live = False
        return None, "new"

    def cleanup(self):
        self.vprivate, self.vshared = self.private, self.shared
        self.private = [None] * self.n
        self.shared = [[] for _ in range(self.n)]
        self.victim_live = True

    def held(self):
        return ([x for x in self.private + self.vprivate if x is not None]
                + [x for q in self.shared + self.vshared for x in q])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_operations_match_a_model_of_go_pool(collector, seed):
    workers, capacity = 3, 4
    heap, pool = make_tester(collector, workers=workers, capacity=capacity)
    model = ModelPool(workers, capacity)
    rng = random.Random(seed)
    hand = []
    for _ in range(400):
        op = rng.random()
        w = rng.randrange(workers)
        if op < 0.45:
            oid, source = pool.get(w)
            expect, expect_source = model.get(w)
            assert source == expect_source
            if expect is not None:
                assert oid == expect
            hand.append(oid)
        elif op < 0.9:
            x = hand.pop(rng.randrange(len(hand))) if hand else pool.alloc()
            pool.put(w, x)
            model.put(w, x)
        elif op < 0.95 and hand:
            pool.drop(hand.pop(rng.randrange(len(hand))))
        else:
            pool.collect()
            model.cleanup()
            # exactly the hand and what the pool holds are live
            assert live_objects(heap) == len(hand) + len(model.held())
        state = pool.contents()
        assert state["private"] == model.private and state["shared"] == model.shared
    s = pool.stats()
    assert s["gets"] == s["hits_private"] + s["hits_shared"] + s["hits_stolen"] + s["hits_victim"] + s["misses"]
    heap.verify()


# ---------------------------------------------------------------------------
# The server workload

def test_server_pool_cuts_bytes_and_collections(collector):
    runs = {pool: gcbench.run(collector, "server", params=dict(SMALL_SERVER, pool=pool), seed=5, heap="64M")
            for pool in (False, True)}
    plain, pooled = runs[False], runs[True]
    assert pooled["alloc_bytes"] <= 0.2 * plain["alloc_bytes"]
    assert pooled["cycles"] < plain["cycles"]
    p = pooled["pool"]
    assert p["gets"] == p["puts"] == SMALL_SERVER["requests"]
    assert p["gets"] == p["hits_private"] + p["hits_shared"] + p["hits_stolen"] + p["hits_victim"] + p["misses"]
    assert p["misses"] <= 2 * SMALL_SERVER["workers"] * (pooled["cycles"] + 1)
    assert "pool" not in plain


def test_server_is_deterministic_and_verified_with_a_pool():
    a = gcbench.run("marksweep", "server", params=dict(SMALL_SERVER, pool=True), seed=9, heap="64M", verify=True)
    b = gcbench.run("marksweep", "server", params=dict(SMALL_SERVER, pool=True), seed=9, heap="64M")
    assert (a["alloc_count"], a["alloc_bytes"], a["cycles"], a["pool"]) == (b["alloc_count"], b["alloc_bytes"], b["cycles"], b["pool"])
    assert a["verified"] and a["counters"]["verified_cycles"] == a["cycles"] >= 2


def test_server_latency_keys():
    r = gcbench.run("marksweep", "server", params=dict(SMALL_SERVER, requests=30000), seed=1, heap="64M")
    lat = r["request_latency_ns"]
    assert set(lat) == {"p50", "p90", "p99", "p99.9", "max"}
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]
    assert "metered_latency_ns" not in r
    assert r["request_latency_sample_every"] == 3
    assert len(r["request_latencies_ns"]) == 10000
    assert max(r["request_latencies_ns"]) <= lat["max"]


def test_server_rate_adds_metered_latency_from_the_schedule():
    # 2000 requests at 100k/s: about 20 ms of schedule
    r = gcbench.run("marksweep", "server", params=dict(SMALL_SERVER, requests=2000, rate=100000, pool=True),
                    seed=1, heap="64M")
    m, lat = r["metered_latency_ns"], r["request_latency_ns"]
    assert set(m) == {"p50", "p90", "p99", "p99.9", "max"}
    assert m["max"] >= lat["max"] and m["p50"] >= lat["p50"]  # metered includes any wait
    assert r["wall_s"] >= 2000 / 100000 * 0.95           # the schedule was kept
    assert len(r["metered_latencies_ns"]) == 2000


def test_pool_detaches_after_each_run():
    # a pool that stayed attached would use up the heap's 16 extra-root entries
    from gcbench_core.heap import ManagedHeap
    from gcbench_core.collectors import marksweep
    from gcbench_core.workloads import server
    heap = ManagedHeap(32 << 20, 100)
    marksweep.attach(heap, {})
    params = registry.resolve(registry.get_workload("server"),
                              dict(requests=200, cache_objects=100, pool=True), "parameter")
    for seed in range(20):
        server.run(heap, params, seed)
    heap.collect()
    heap.verify()


def test_cli_prints_pool_statistics_only_with_a_pool(tmp_path):
    out = tmp_path / "r.json"
    args = ["run", "-c", "marksweep", "-w", "server", "--heap", "64M", "-p", "requests=5000",
            "-p", "cache_objects=1000"]
    proc = run_cli(*args, "-p", "pool=true", "--json", out, check=0)
    assert "pool " in proc.stdout and "gets" in proc.stdout and "latency" in proc.stdout
    r = json.loads(out.read_text())
    assert r["pool"]["gets"] == 5000
    proc = run_cli(*args, check=0)
    assert "pool " not in proc.stdout and "latency" in proc.stdout


def test_server_bad_parameters_exit_2():
    proc = run_cli("run", "-c", "marksweep", "-w", "server", "-p", "cache_keep=9", "-p", "small_objects=2", check=2)
    assert proc.stderr.count("\n") == 1 and "cache_keep" in proc.stderr
    proc = run_cli("run", "-c", "marksweep", "-w", "server", "-p", "workers=0", check=2)
    assert "out of range" in proc.stderr


def test_boehm_collections_run_the_pool_cleanup():
    # libgc's collection events are the heap's cycle (cycle_begin runs the cleanup there
    # too): a Put object moves to the victim cache at the first collection, is dropped at
    # the second
    _collector_or_skip("boehm")
    heap, tester = make_tester("boehm", workers=1, verify=False)
    oid = tester.alloc()
    tester.put(0, oid)
    tester.collect()
    contents = tester.contents()
    assert contents["private"] == [None] and contents["victim_private"] == [oid]
    tester.collect()
    assert tester.contents()["victim_private"] == [None]
    assert tester.stats()["dropped"] == 1
