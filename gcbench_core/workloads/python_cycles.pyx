# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""python-cycles: the reference cycles real Python programs make, at chosen rates.

Each of `ops` steps builds one structure, of a shape drawn by its rate (the rest are plain
acyclic containers), with CPython's object shapes (header + pointer slots + payload):
  dict      an instance with a __dict__ that holds a bound method of the instance
            (self.callback = self.method): instance -> dict -> method -> instance;
  closure   a recursive inner function: function -> closure tuple -> cell -> function;
  parent    a tree node whose children point back to it: node -> children list ->
            child -> node (each child's `parent` attribute);
  exception an exception kept in a local of the frame that caught it (`except E as e:
            saved = e`): exception -> traceback -> frame -> locals -> exception;
  plain     a list of small atoms (strings, ints): no cycle, freed by its count alone.
With probability `keep_rate` the structure is stored in a ring of `live` long-lived slots
(behind global 0), replacing (and so dropping) an older one; otherwise it is dropped when
the step ends.  Under reference counting the plain structures die at once and the cyclic
ones wait for the cycle detector; under a tracing collector all of them are garbage alike.
Every operation is a mutator.pxd operation, so the workload replays exactly from a trace.
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t
from gcbench_core.heap cimport HeapState, ManagedHeap, run_kernel
from gcbench_core.mutator cimport mut_alloc, mut_store, mut_load, mut_clear, mut_set_global
from gcbench_core.rng cimport Rng, rng_seed, rng_below, rng_double

NAME = "python-cycles"
DESCRIPTION = ("the reference cycles of Python programs (__dict__ with bound methods, closures, "
               "parent/child links, exceptions holding frames) among acyclic temporaries")
PARAMS = (
    {"name": "ops", "type": "int", "default": 1000000, "min": 0, "max": 10_000_000_000,
     "help": "structures built"},
    {"name": "live", "type": "int", "default": 10000, "min": 1, "max": 100_000_000,
     "help": "long-lived ring slots (global 0)"},
    {"name": "keep_rate", "type": "float", "default": 0.05, "min": 0.0, "max": 1.0,
     "help": "fraction of structures kept in the ring"},
    {"name": "dict_rate", "type": "float", "default": 0.3, "min": 0.0, "max": 1.0,
     "help": "fraction of instances whose __dict__ holds a bound method of the instance"},
    {"name": "closure_rate", "type": "float", "default": 0.1, "min": 0.0, "max": 1.0,
     "help": "fraction of recursive closures (function -> cell -> function)"},
    {"name": "parent_rate", "type": "float", "default": 0.1, "min": 0.0, "max": 1.0,
     "help": "fraction of tree nodes with children linking back to their parent"},
    {"name": "exception_rate", "type": "float", "default": 0.05, "min": 0.0, "max": 1.0,
     "help": "fraction of caught exceptions kept in a local of their own frame"},
    {"name": "children", "type": "int", "default": 4, "min": 1, "max": 1000,
     "help": "children per parent node"},
)
RESULT_KEYS = ("cyclic_structures", "acyclic_structures")

cdef enum:
    R_RING = 0
    R_A = 1
    R_B = 2
    R_C = 3
    R_D = 4
    R_ATOM = 5
    G_RING = 0

ctypedef struct Params:
    HeapState* heap
    int64_t ops
    int64_t live
    double keep_rate
    double cut_dict, cut_closure, cut_parent, cut_exception    # cumulative rates
    uint32_t children
    uint64_t seed
    int64_t cyclic
    int64_t acyclic

# stack[r] := a small atom (a str or int: no slots) stored into slot `slot` of stack[into]
cdef inline void atom_into(HeapState* heap, int into, uint32_t slot, uint32_t payload) noexcept nogil:
    mut_alloc(heap, R_ATOM, 0, payload)
    mut_store(heap, into, slot, R_ATOM)

cdef void build_dict_instance(HeapState* heap) noexcept nogil:
    # instance (type, __dict__) -> dict (8 entries) -> bound method (func, self) -> instance
    mut_alloc(heap, R_A, 2, 8)               # the instance (a weakref slot as payload)
    mut_alloc(heap, R_B, 8, 40)              # its __dict__: keys table inline as payload
    mut_store(heap, R_A, 1, R_B)
    atom_into(heap, R_B, 0, 48)              # self.name = "..."
    atom_into(heap, R_B, 1, 16)              # self.count = 1
    mut_alloc(heap, R_C, 2, 16)              # bound method object
    mut_store(heap, R_C, 1, R_A)             # __self__ = instance
    mut_store(heap, R_B, 2, R_C)             # self.callback = self.method

cdef void build_closure(HeapState* heap) noexcept nogil:
    # function (code, globals, closure, defaults) -> closure tuple -> cell -> function
    mut_alloc(heap, R_A, 4, 80)              # the function object
    mut_alloc(heap, R_B, 1, 16)              # __closure__ tuple of one cell
    mut_alloc(heap, R_C, 1, 8)               # the cell holding the function itself
    mut_store(heap, R_A, 2, R_B)
    mut_store(heap, R_B, 0, R_C)
    mut_store(heap, R_C, 0, R_A)
    atom_into(heap, R_A, 0, 120)             # code object, modelled as an atom here

cdef void build_parent(HeapState* heap, uint32_t children) noexcept nogil:
    # node (children, parent, name) -> children list -> child (children, parent) -> node
    cdef uint32_t k
    mut_alloc(heap, R_A, 3, 16)
    mut_alloc(heap, R_B, children, 16)       # the children list
    mut_store(heap, R_A, 0, R_B)
    for k in range(children):
        mut_alloc(heap, R_C, 3, 16)
        mut_store(heap, R_C, 1, R_A)         # child.parent = node
        mut_store(heap, R_B, k, R_C)
    atom_into(heap, R_A, 2, 24)

cdef void build_exception(HeapState* heap) noexcept nogil:
    # exception (args, traceback) -> traceback (frame, next) -> frame (locals, code, back)
    # -> locals dict -> exception
    mut_alloc(heap, R_A, 2, 56)              # the exception
    mut_alloc(heap, R_B, 2, 24)              # traceback
    mut_alloc(heap, R_C, 3, 96)              # frame
    mut_alloc(heap, R_D, 4, 40)              # f_locals
    mut_store(heap, R_A, 1, R_B)
    mut_store(heap, R_B, 0, R_C)
    mut_store(heap, R_C, 0, R_D)
    mut_store(heap, R_D, 0, R_A)             # saved = e
    atom_into(heap, R_A, 0, 40)              # args tuple, an atom here

cdef void build_plain(HeapState* heap) noexcept nogil:
    # a list of four atoms: no cycle
    cdef uint32_t k
    mut_alloc(heap, R_A, 4, 16)
    for k in range(4):
        atom_into(heap, R_A, k, 16 + 8 * k)

cdef void kernel(void* arg) noexcept nogil:
    cdef Params* p = <Params*>arg
    cdef HeapState* heap = p.heap
    cdef Rng rng
    cdef int64_t step
    cdef double u
    rng_seed(&rng, p.seed)
    mut_alloc(heap, R_RING, <uint32_t>p.live, 0)
    mut_set_global(heap, G_RING, R_RING)
    for step in range(p.ops):
        u = rng_double(&rng)
        if u < p.cut_dict:
            build_dict_instance(heap)
            p.cyclic += 1
        elif u < p.cut_closure:
            build_closure(heap)
            p.cyclic += 1
        elif u < p.cut_parent:
            build_parent(heap, p.children)
            p.cyclic += 1
        elif u < p.cut_exception:
            build_exception(heap)
            p.cyclic += 1
        else:
            build_plain(heap)
            p.acyclic += 1
        if rng_double(&rng) < p.keep_rate:
            mut_store(heap, R_RING, <uint32_t>rng_below(&rng, p.live), R_A)
        # the step's locals go out of scope
        mut_clear(heap, R_A)
        mut_clear(heap, R_B)
        mut_clear(heap, R_C)
        mut_clear(heap, R_D)
        mut_clear(heap, R_ATOM)
    mut_clear(heap, R_RING)

def run(ManagedHeap heap, dict params, uint64_t seed):
    cdef Params p
    rates = [params["dict_rate"], params["closure_rate"], params["parent_rate"], params["exception_rate"]]
    if sum(rates) > 1.0 + 1e-9:
        raise ValueError(f"dict_rate + closure_rate + parent_rate + exception_rate = {sum(rates):g} exceeds 1")
    p.heap = heap.state
    p.ops = params["ops"]
    p.live = params["live"]
    p.keep_rate = params["keep_rate"]
    p.cut_dict = rates[0]
    p.cut_closure = p.cut_dict + rates[1]
    p.cut_parent = p.cut_closure + rates[2]
    p.cut_exception = p.cut_parent + rates[3]
    p.children = params["children"]
    p.seed = seed
    p.cyclic = 0
    p.acyclic = 0
    run_kernel(heap, kernel, &p)
    return {"cyclic_structures": int(p.cyclic), "acyclic_structures": int(p.acyclic)}
