"""Plan constraints: what a collector (a plan, in MMTk's words) needs from the heap and
the harness, declared once per collector as the module attribute CONSTRAINTS.

Every part of gcbench that must know a collector's capability reads this record
(`registry.Entry.constraints`); nothing looks up loose module attributes.  MMTk's
`PlanConstraints` and Whippet's `gc-attrs.h` play the same part.

The kernel owns this file: it imports nothing from the harness.
"""
from dataclasses import dataclass

# Which write barrier a plan needs from the mutator's heap and global stores.
BARRIERS = ("none",          # no barrier (stop-the-world, or no collector at all)
            "satb",          # deletion / snapshot at the beginning (Yuasa, Go's hybrid)
            "insertion",     # Dijkstra: shade the new target
            "card",          # generational: mark the card of the written slot
            "object",        # generational: remember the written object once
            "refcount")      # reference counting: every store adjusts counts (stack slots too)


@dataclass(frozen=True)
class PlanConstraints:
    moves_objects: bool = False      # objects may move: pointers are valid only until a safepoint
    barrier: str = "none"            # one of BARRIERS (the plan's default barrier)
    concurrent: bool = False         # marks while the mutator runs (on another thread or interleaved)
    reclaims_exactly: bool = True    # after a full collection exactly the reachable objects remain
    uses_arena: bool = True          # objects live in the managed arena (so --verify can check them)
    one_run_per_process: bool = False  # state outlives a run in the process (libgc's one heap)
    honours_stress: bool = True      # --stress N forces a collection every N allocations
    multi_mutator: bool = False      # runs workloads with several mutator threads (threads=N)

    def __post_init__(self):
        if self.barrier not in BARRIERS:
            raise ValueError(f"barrier {self.barrier!r} is not one of {', '.join(BARRIERS)}")

    @property
    def supports_verify(self):
        """The verifier checks the arena: only plans that allocate in it can be verified."""
        return self.uses_arena

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__dataclass_fields__}
