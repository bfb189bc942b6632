"""The bump-pointer space (gcbench_core/spaces/bump): allocation to the limit, forwarding
and flip, through debugcheck.bump_space_check (no plan allocates there yet)."""
from gcbench_core import debugcheck
from gcbench_core.heap import ManagedHeap


def test_bump_space_allocates_forwards_and_flips():
    heap = ManagedHeap(1 << 20, 100)
    n = 1000
    out = debugcheck.bump_space_check(heap, 64 << 10, n)
    assert out["half_bytes"] == 64 << 10
    # bumping fills a half exactly: no 24-byte object fits in what is left
    assert out["filled_24_byte_objects"] == (64 << 10) // 24
    assert 0 <= out["bytes_left"] < 24
    # the evacuated chain is whole, in order, in to-space, and packed at its base
    assert out["chain_length"] == n
    assert out["chain_in_to_space"] == n
    assert out["chain_order_kept"]
    assert out["to_space_used"] == out["chain_bytes"] == 24 * n
    # every old copy holds a forwarding header; copying a forwarded object gives its copy
    assert out["old_copies_forwarded"] == n
    assert out["copy_once"]
    assert out["copied_objects"] == n and out["copied_bytes"] == 24 * n
    assert out["flips"] == 2


def test_bump_space_refuses_a_chain_larger_than_a_half():
    import pytest
    heap = ManagedHeap(1 << 20, 100)
    with pytest.raises(ValueError):
        debugcheck.bump_space_check(heap, 8 << 10, 1000)
