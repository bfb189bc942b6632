"""Check-mark mode (Go's GODEBUG=gccheckmark=1): after every concurrent mark, re-mark from
the roots with the world stopped; a reachable object the concurrent mark missed fails the
run, naming the object and its path from a root."""
import pytest

import gcbench
from gcbench.errors import RunError

GRAPH = {"nodes": 10000, "ops": 200000}


@pytest.mark.parametrize("mode", ["incremental", "concurrent"])
@pytest.mark.parametrize("barrier", ["dijkstra", "yuasa", "hybrid"])
def test_checkmark_passes_with_every_real_barrier(barrier, mode):
    r = gcbench.run("tricolor", "graph-mutate", params=GRAPH, opts={"barrier": barrier, "mode": mode},
                    heap="64M", gogc=20, checkmark=True)
    assert r["cycles"] >= 1


def test_checkmark_names_the_path_to_a_missed_object():
    with pytest.raises(RunError) as info:
        gcbench.run("tricolor", "graph-mutate", params=GRAPH, opts={"barrier": "none", "mode": "incremental"},
                    heap="64M", gogc=20, checkmark=True)
    message = str(info.value)
    assert "unmarked at the end of marking" in message
    assert "path from a root:" in message
    path = message.split("path from a root:")[1]
    assert path.strip().split()[0] in ("stack", "global", "extra")   # starts at a root
    assert path.count("->") >= 1 and "[slot" in path                  # through heap slots


def test_checkmark_is_not_verification():
    # checkmark alone does not turn on the per-cycle heap verifier (verified stays false)
    r = gcbench.run("tricolor", "churn", params={"live_objects": 5000, "ops": 100000},
                    heap="64M", gogc=25, checkmark=True)
    assert r["verified"] is False
