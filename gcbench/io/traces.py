"""Operation trace files: read into TRACE_DTYPE arrays, written from them.

Text format: the grammar is in gcbench_core/tracetext.pyx, whose C parser is the only
text parser (and whose writer formats every line).  Binary format (long traces): a
32-byte little-endian header,
    magic b"GCBTRACE", uint32 version (1), uint32 record size (12), uint32 roots,
    uint32 globals, uint64 record count,
then fixed-size records of gcbench_core.heap.TRACE_DTYPE: uint8 op, uint8 a, uint8 b,
uint8 flags, uint32 x, uint32 y, with op codes TRACE_OPS and
    alloc: a=R x=NPTR y=SIZE   store: a=R x=SLOT b=S (flags=1: null)   load: a=R b=S x=SLOT
    clear: a=R   gc   gset: a=G b=R   gget: a=R b=G   tick: x=N
    drop: a=R (flags=1: with everything it owned alone).

`load_trace(path)` reads and validates a trace (the kernel's check_trace: unknown
operation, root, global or slot out of range, store or load through a null root); an
error names the line (text) or record (binary) and is a UsageError (exit code 2).
The loaded Trace is what the runs room hands the trace-replay workload as data.
This module runs nothing and records nothing (recording is gcbench.runs.record).
"""
import os
import struct

import numpy as np

from ..errors import UsageError
from ..units import require_regular_file
from .atomic import atomic_open

MAGIC = b"GCBTRACE"
_BIN_HEADER = struct.Struct("<8sIIIIQ")
FORMATS = ("text", "binary")


class Trace:
    """A loaded, validated trace: records (TRACE_DTYPE), roots, globals, the number of
    `gc` operations and, for text traces, the line of each record (for messages)."""

    def __init__(self, path, records, roots, nglobals, lines=None, fmt="text"):
        self.path = path
        self.records = records
        self.roots = roots
        self.globals = nglobals
        self.lines = lines
        self.format = fmt
        self.gc_ops = 0

    def where(self, index):
        if self.lines is not None and index < len(self.lines):
            return f"{self.path}:{self.lines[index]}"
        return f"{self.path}: record {index + 1}"

    def as_workload_input(self):
        """What the trace-replay workload takes in place of its `path` parameter."""
        return {"records": self.records, "roots": self.roots, "globals": self.globals}


def parse_text(path, data):
    """A text trace from bytes (the kernel's parser); syntax errors name their line."""
    from gcbench_core.tracetext import TraceSyntaxError, parse
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{path}: neither a binary trace (magic {MAGIC!r}) nor UTF-8 text") from None
    try:
        records, lines, roots, nglobals = parse(data)
    except TraceSyntaxError as exc:
        raise UsageError(f"{path}:{exc.line}: {exc.message}") from None
    return Trace(path, records, roots, nglobals, lines, "text")


def parse_binary(path, data):
    from gcbench_core.heap import TRACE_DTYPE as dtype
    if len(data) < _BIN_HEADER.size:
        raise UsageError(f"{path}: truncated binary trace header ({len(data)} bytes)")
    magic, version, size, roots, nglobals, count = _BIN_HEADER.unpack_from(data)
    if version != 1 or size != dtype.itemsize:
        raise UsageError(f"{path}: unsupported binary trace version {version} (record size {size}); expected version 1")
    if not 1 <= roots <= 256 or not 0 <= nglobals <= 64:
        raise UsageError(f"{path}: header declares {roots} roots and {nglobals} globals; "
                         f"allowed: 1..256 roots, 0..64 globals")
    body = len(data) - _BIN_HEADER.size
    if body != count * size:
        raise UsageError(f"{path}: binary trace holds {body} bytes of records, header says {count} records of {size} bytes")
    records = np.frombuffer(data, dtype=dtype, count=count, offset=_BIN_HEADER.size).copy()
    return Trace(path, records, roots, nglobals, None, "binary")


_cache = {}


def load_trace(path):
    """Read and validate a trace file (text or binary, told apart by the magic); raises
    UsageError with the line (text) or record (binary) of the first problem.  The last
    trace loaded is kept, so a run (or pyperf's repeated runs) does not read it again."""
    from gcbench_core.workloads.trace_replay import check_trace
    require_regular_file(path, "trace")
    try:
        st = os.stat(path)
        key = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
        if key in _cache:
            return _cache[key]
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read trace {path}: {exc.strerror}") from None
    trace = parse_binary(path, data) if data.startswith(MAGIC) else parse_text(path, data)
    index_or_gcs, problem = check_trace(trace.records, trace.roots, trace.globals)
    if problem is not None:
        where = trace.where(index_or_gcs) if trace.records.shape[0] else trace.path
        raise UsageError(f"{where}: {problem}")
    trace.gc_ops = index_or_gcs
    _cache.clear()           # one trace at a time
    _cache[key] = trace
    return trace


def extent(records):
    """(roots, globals) a recorded operation stream needs."""
    from gcbench_core.heap import TRACE_OPS as ops
    op = records["op"]
    root_fields = [records["a"][np.isin(op, [ops[o] for o in ("alloc", "store", "load", "clear", "gget", "drop")])],
                   records["b"][(op == ops["load"]) | (op == ops["gset"])
                                | ((op == ops["store"]) & (records["flags"] == 0))]]
    global_fields = [records["a"][op == ops["gset"]], records["b"][op == ops["gget"]]]
    roots = max([int(f.max()) + 1 for f in root_fields if f.size] + [1])
    nglobals = max([int(f.max()) + 1 for f in global_fields if f.size] + [0])
    return roots, nglobals


def write_text(path, records, roots, nglobals):
    from gcbench_core.tracetext import TEXT_HEADER, format_text
    with atomic_open(path, "wb") as f:
        f.write(f"{TEXT_HEADER}\nroots {roots}\n".encode())
        if nglobals:
            f.write(f"globals {nglobals}\n".encode())
        for start in range(0, len(records), 1 << 20):     # bounded buffers on long traces
            f.write(format_text(records[start:start + (1 << 20)]))


def write_binary(path, records, roots, nglobals):
    from gcbench_core.heap import TRACE_DTYPE as dtype
    with atomic_open(path, "wb") as f:
        f.write(_BIN_HEADER.pack(MAGIC, 1, dtype.itemsize, roots, nglobals, records.shape[0]))
        f.write(np.ascontiguousarray(records, dtype=dtype).tobytes())


def write_trace(path, records, fmt):
    """Write `records` as a `fmt` trace with the roots and globals they use."""
    roots, nglobals = extent(records)
    try:
        # (the writers remove their temporary file on any failure, Ctrl-C included)
        (write_binary if fmt == "binary" else write_text)(path, records, roots, nglobals)
    except OSError as exc:
        raise UsageError(f"cannot write trace {path}: {exc.strerror or exc}") from None


def format_for(path, fmt=None):
    """The format to write: `fmt` if given, else by extension (.bin/.gcbt -> binary)."""
    if fmt:
        if fmt not in FORMATS:
            raise UsageError(f"unknown trace format {fmt!r}; known: {', '.join(FORMATS)}")
        return fmt
    return "binary" if os.path.splitext(path)[1].lower() in (".bin", ".gcbt") else "text"
